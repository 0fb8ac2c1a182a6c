//! `#[logi::protected]`: attaches logi's guard to an axum handler or a tonic service method.
//!
//! The expansion only describes the requirement and calls into `logi::__private`; every decision
//! is made by the library.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::{
    Attribute, FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType, Signature,
    Stmt, Type, parse_quote,
};

use crate::args::Args;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let (args, function) = match (Args::parse(attr), parse_function(item)) {
        (Ok(args), Ok(function)) => (args, function),
        (Err(mut error), Err(other)) => {
            error.combine(other);
            return Err(error);
        }
        (Err(error), _) | (_, Err(error)) => return Err(error),
    };
    if function.sig.receiver().is_some() {
        tonic_method(&args, function)
    } else {
        axum_handler(&args, function)
    }
}

/// The item as a function, or an error pointing at what it is instead.
fn parse_function(item: TokenStream) -> syn::Result<ItemFn> {
    syn::parse2(item.clone()).map_err(|_| {
        syn::Error::new_spanned(
            item_head(item),
            "`#[logi::protected]` goes on an `async fn`: an axum handler, or a method of a tonic service",
        )
    })
}

/// The start of an item, after its attributes and up to its name: `pub struct Orders`.
fn item_head(item: TokenStream) -> TokenStream {
    let mut tokens = item.into_iter().peekable();
    let mut head = TokenStream::new();
    while let Some(token) = tokens.next() {
        match &token {
            TokenTree::Punct(p) if p.as_char() == '#' && head.is_empty() => {
                // An attribute: `#` and its `[...]`.
                tokens.next_if(
                    |t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket),
                );
                continue;
            }
            TokenTree::Group(g) if g.delimiter() != Delimiter::Parenthesis || head.is_empty() => {
                break;
            }
            TokenTree::Punct(p) if matches!(p.as_char(), ';' | '=' | ':' | '<') => break,
            _ => {}
        }
        head.extend([token]);
    }
    head
}

/// An axum handler: a guard type next to the function, and the guard as its first extractor.
fn axum_handler(args: &Args, mut function: ItemFn) -> syn::Result<TokenStream> {
    if function.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            function.sig.fn_token,
            "`#[logi::protected]` handlers must be `async fn`s",
        ));
    }
    reject_optional_user(&function.sig)?;

    let krate = args.krate();
    let requirement = args.requirement();
    let vis = &function.vis;
    let guard = format_ident!("__LogiProtected_{}", function.sig.ident);
    let guard_extractor: Type = parse_quote!(#krate::__private::Protected<#guard>);

    // The guard runs before every other extractor. With `#[axum::debug_handler]` below, a new
    // first parameter lets debug_handler check the guard like any extractor. Otherwise the
    // guard joins the first parameter as a tuple, keeping the number of parameters: a
    // `#[axum::debug_handler]` above has checked a copy of the handler by calling it with that
    // many arguments.
    let debug_handler_below = function.attrs.iter().any(is_debug_handler);
    match function.sig.inputs.first_mut() {
        Some(FnArg::Typed(first)) if !debug_handler_below => {
            let (pat, ty) = (&first.pat, &first.ty);
            *first.pat = parse_quote!((_, #pat));
            *first.ty = parse_quote!((#guard_extractor, #ty));
        }
        _ => function
            .sig
            .inputs
            .insert(0, parse_quote!(_: #guard_extractor)),
    }

    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, missing_docs, unreachable_pub)]
        #vis struct #guard;

        impl #krate::__private::Guard for #guard {
            const REQUIREMENT: #krate::__private::Requirement = #requirement;
        }

        #function
    })
}

fn is_debug_handler(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "debug_handler")
}

/// `Option<LogiUser>` says "signed in or not", the attribute says "signed in": a contradiction.
fn reject_optional_user(sig: &Signature) -> syn::Result<()> {
    for input in &sig.inputs {
        if let FnArg::Typed(arg) = input
            && is_optional_user(&arg.ty)
        {
            return Err(syn::Error::new_spanned(
                &arg.ty,
                "`#[logi::protected]` already requires a signed-in user: take `LogiUser`, not `Option<LogiUser>`",
            ));
        }
    }
    Ok(())
}

fn is_optional_user(ty: &Type) -> bool {
    let Some(option) = last_segment(ty).filter(|s| s.ident == "Option") else {
        return false;
    };
    let PathArguments::AngleBracketed(args) = &option.arguments else {
        return false;
    };
    args.args.iter().any(|arg| {
        matches!(arg, GenericArgument::Type(inner)
            if last_segment(inner).is_some_and(|s| s.ident == "LogiUser"))
    })
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) => path.path.segments.last(),
        _ => None,
    }
}

/// A tonic service method: the check, first thing in the body.
fn tonic_method(args: &Args, mut function: ItemFn) -> syn::Result<TokenStream> {
    let request = request_parameter(&mut function.sig)?;
    let krate = args.krate();
    let requirement = args.requirement();
    let authorize = quote! {
        const __LOGI_REQUIREMENT: #krate::__private::Requirement = #requirement;
        let __logi_authorized = #krate::__private::grpc_authorize(&#request, &__LOGI_REQUIREMENT);
    };
    let check: Vec<Stmt> = if function.sig.asyncness.is_some() {
        parse_quote! {
            #authorize
            __logi_authorized?;
        }
    } else if returns_boxed_future(&function.sig) {
        // `#[tonic::async_trait]` on the `impl` ran first: the body builds the boxed future.
        parse_quote! {
            #authorize
            if let ::core::result::Result::Err(status) = __logi_authorized {
                return #krate::__private::grpc_refused(status);
            }
        }
    } else {
        return Err(syn::Error::new_spanned(
            function.sig.fn_token,
            "`#[logi::protected]` service methods must be `async fn`s",
        ));
    };
    function.block.stmts.splice(0..0, check);
    Ok(quote!(#function))
}

/// The name of the method's `tonic::Request<T>` parameter (`_` is given one).
fn request_parameter(sig: &mut Signature) -> syn::Result<Ident> {
    let name = &sig.ident;
    let Some(arg) = sig.inputs.iter_mut().find_map(|input| match input {
        FnArg::Typed(arg) => Some(arg),
        FnArg::Receiver(_) => None,
    }) else {
        return Err(syn::Error::new_spanned(
            name,
            "a `#[logi::protected]` method is a tonic service method, taking `request: tonic::Request<T>`",
        ));
    };
    if last_segment(&arg.ty).is_none_or(|s| s.ident != "Request") {
        return Err(syn::Error::new_spanned(
            &arg.ty,
            "a `#[logi::protected]` method is a tonic service method: expected `tonic::Request<T>`",
        ));
    }
    match &*arg.pat {
        Pat::Ident(pat) => Ok(pat.ident.clone()),
        Pat::Wild(_) => {
            let ident = format_ident!("__logi_request");
            *arg.pat = parse_quote!(#ident);
            Ok(ident)
        }
        pat => Err(syn::Error::new_spanned(
            pat,
            "`#[logi::protected]` reads the request: name this parameter, e.g. `request`",
        )),
    }
}

/// `-> Pin<Box<dyn Future<Output = …> + Send + '_>>`, as `async_trait` writes it.
fn returns_boxed_future(sig: &Signature) -> bool {
    match &sig.output {
        ReturnType::Type(_, ty) => last_segment(ty).is_some_and(|s| s.ident == "Pin"),
        ReturnType::Default => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: TokenStream, item: TokenStream) -> String {
        expand(attr, item).unwrap().to_string()
    }

    #[test]
    fn axum_handler_gets_a_guard_joined_to_its_first_extractor() {
        let out = expand_str(
            quote!(scopes = ["orders:read"]),
            quote!(
                async fn orders(user: LogiUser, State(db): State<Db>) -> String {
                    user.sub().into()
                }
            ),
        );
        assert!(out.contains("struct __LogiProtected_orders ;"), "{out}");
        assert!(out.contains(
            "async fn orders ((_ , user) : (:: logi :: __private :: Protected < __LogiProtected_orders > , LogiUser) , State (db) : State < Db >)"
        ), "{out}");
        assert!(out.contains("scopes : & [\"orders:read\"]"), "{out}");
    }

    #[test]
    fn debug_handler_below_or_no_arguments_get_a_new_first_parameter() {
        let out = expand_str(
            quote!(crate = "my_logi"),
            quote!(
                #[axum::debug_handler]
                async fn home(user: LogiUser) {}
            ),
        );
        assert!(out.contains(
            "async fn home (_ : my_logi :: __private :: Protected < __LogiProtected_home > , user : LogiUser)"
        ), "{out}");
        let out = expand_str(
            quote!(),
            quote!(
                async fn home() {}
            ),
        );
        assert!(
            out.contains(
                "async fn home (_ : :: logi :: __private :: Protected < __LogiProtected_home >)"
            ),
            "{out}"
        );
    }

    #[test]
    fn tonic_method_checks_first() {
        let out = expand_str(
            quote!(any_scope = ["a"]),
            quote!(
                async fn hello(&self, _: Request<()>) -> Result<Response<()>, Status> {
                    Ok(Response::new(()))
                }
            ),
        );
        assert!(out.contains("__logi_request : Request < () >"), "{out}");
        assert!(out.contains("grpc_authorize (& __logi_request , & __LOGI_REQUIREMENT) ; __logi_authorized ? ; Ok (Response :: new (()))"), "{out}");
    }

    #[test]
    fn item_head_stops_at_the_name() {
        let head = item_head(quote!(
            #[derive(Debug)]
            pub(crate) struct Orders {
                x: u8,
            }
        ));
        assert_eq!(head.to_string(), "pub (crate) struct Orders");
    }
}
