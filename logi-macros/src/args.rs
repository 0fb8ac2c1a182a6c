//! The arguments of `#[logi::protected(...)]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser as _;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprArray, ExprLit, Lit, LitStr, Path};

/// What the attribute asked for.
#[derive(Default)]
pub(crate) struct Args {
    scopes: Option<Vec<LitStr>>,
    any_scope: Option<Vec<LitStr>>,
    check: Option<Expr>,
    krate: Option<Path>,
}

impl Args {
    pub(crate) fn parse(attr: TokenStream) -> syn::Result<Self> {
        let mut args = Self::default();
        let parser = syn::meta::parser(|meta| args.parse_one(&meta));
        parser.parse2(attr)?;
        Ok(args)
    }

    fn parse_one(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "scopes" => set(meta, &mut self.scopes, scopes),
            "any_scope" => set(meta, &mut self.any_scope, scopes),
            "check" => set(meta, &mut self.check, |meta| meta.value()?.parse()),
            "crate" => set(meta, &mut self.krate, |meta| {
                let path: LitStr = meta.value()?.parse()?;
                path.parse().map_err(|_| {
                    syn::Error::new_spanned(
                        &path,
                        "`crate` names the path of the `logi` crate, e.g. `crate = \"my_logi\"`",
                    )
                })
            }),
            _ => Err(meta.error(
                "unknown argument of `#[logi::protected]`: expected `scopes`, `any_scope`, `check` or `crate`",
            )),
        }
    }

    /// The path of the `logi` crate: `::logi` unless renamed.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => quote!(#path),
            None => quote!(::logi),
        }
    }

    /// The `Requirement` value, as a constant expression.
    pub(crate) fn requirement(&self) -> TokenStream {
        let krate = self.krate();
        let scopes = self.scopes.iter().flatten();
        let any_scope = self.any_scope.iter().flatten();
        let check = match &self.check {
            // Spanned at the user's predicate: a wrong signature is reported there.
            Some(check) => quote_spanned!(check.span()=> #krate::__private::check(#check)),
            None => quote!(::core::option::Option::None),
        };
        quote! {
            #krate::__private::Requirement {
                scopes: &[#(#scopes),*],
                any_scope: &[#(#any_scope),*],
                check: #check,
            }
        }
    }
}

/// Parses one argument into `slot`, refusing a second occurrence.
fn set<T>(
    meta: &ParseNestedMeta<'_>,
    slot: &mut Option<T>,
    parse: impl FnOnce(&ParseNestedMeta<'_>) -> syn::Result<T>,
) -> syn::Result<()> {
    if slot.is_some() {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(meta.error(format!("`{key}` is given twice")));
    }
    *slot = Some(parse(meta)?);
    Ok(())
}

/// `["a", "b"]`: a non-empty list of string literals, each a valid scope.
fn scopes(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<LitStr>> {
    let value: Expr = meta.value()?.parse()?;
    let Expr::Array(ExprArray { elems, .. }) = &value else {
        return Err(syn::Error::new_spanned(
            &value,
            "expected a list of scopes, e.g. `[\"orders:read\"]`",
        ));
    };
    if elems.is_empty() {
        return Err(syn::Error::new_spanned(
            &value,
            "the list of scopes is empty: name at least one scope, or leave the argument out",
        ));
    }
    elems
        .iter()
        .map(|elem| match elem {
            Expr::Lit(ExprLit {
                lit: Lit::Str(scope),
                ..
            }) => {
                check_scope(scope)?;
                Ok(scope.clone())
            }
            _ => Err(syn::Error::new_spanned(
                elem,
                "a scope must be a string literal, e.g. \"orders:read\"",
            )),
        })
        .collect()
}

/// A scope token as RFC 6749 section 3.3 defines it: printable ASCII without space, `"` or `\`.
fn check_scope(scope: &LitStr) -> syn::Result<()> {
    let value = scope.value();
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            scope,
            "not a scope: a scope is one word of printable ASCII, without spaces, `\"` or `\\`",
        ))
    }
}
