//! Procedural macros for [`logi`](https://docs.rs/logi-tower): use them through the `logi` crate,
//! as `#[logi::protected]`.

use proc_macro::TokenStream;

mod args;
mod protected;

/// Requires a signed-in user, and optionally scopes or a check, before a handler runs.
///
/// On an axum handler (an `async fn`), the attribute attaches a guard extractor that runs before
/// the handler's own extractors; the body is untouched. On a tonic service method (an `async fn`
/// taking `&self` and a `tonic::Request<T>`, with or without `#[tonic::async_trait]` on the
/// `impl`), it checks the request's user before the body runs. The checks themselves live in
/// `logi`; [`LogiLayer`](https://docs.rs/logi-tower/latest/logi/struct.LogiLayer.html) must be
/// in front of the route or service.
///
/// ```no_run
/// use logi::LogiUser;
///
/// // Any signed-in user.
/// #[logi::protected]
/// async fn dashboard(user: LogiUser) -> String {
///     format!("hello {}", user.sub())
/// }
///
/// // All of these scopes.
/// #[logi::protected(scopes = ["orders:read", "orders:write"])]
/// async fn edit_order() -> &'static str {
///     "edited"
/// }
///
/// // At least one of these scopes, and a check of your own.
/// #[logi::protected(any_scope = ["admin", "support"], check = verified)]
/// async fn refunds() -> &'static str {
///     "refunds"
/// }
///
/// fn verified(user: &LogiUser) -> bool {
///     user.claims().identity_verified_level >= Some(2)
/// }
/// ```
///
/// # Arguments
/// - `scopes = ["a", "b"]`: every scope listed must have been granted.
/// - `any_scope = ["a", "b"]`: at least one of them must have been granted.
/// - `check = path::to::predicate`: a `fn(&LogiUser) -> bool` the user must pass (after the
///   scopes). `LogiUser` reads logi's standard claims; use
///   [`LogiUser::claims_as`](https://docs.rs/logi-tower/latest/logi/struct.LogiUser.html#method.claims_as)
///   for claims of your own.
/// - `crate = "path"`: where the `logi` crate is, when it is renamed in `Cargo.toml`.
///
/// # Responses
/// Refusals take the shape of the request, as the layer's own do. Nobody signed in: a browser
/// navigation is sent to sign in (302), an API call gets 401 with `WWW-Authenticate: Bearer`, a
/// gRPC call `UNAUTHENTICATED`. Signed in without the scopes, or failing the check: 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` and a JSON body naming the
/// scopes for an API call, a small HTML page for a browser, `PERMISSION_DENIED` for gRPC.
///
/// # With `#[axum::debug_handler]`
/// Both orders work. A handler that takes no arguments needs `#[logi::protected]` above
/// `#[axum::debug_handler]`: below it, `debug_handler` checks a copy of the handler by calling
/// it with as many arguments as it had before the guard was added.
///
/// # tonic
/// Needs `logi`'s `tonic` feature:
///
/// ```no_run
/// # mod pb {
/// #     #[derive(Debug)] pub struct HelloRequest;
/// #     #[derive(Debug)] pub struct HelloReply;
/// #     #[tonic::async_trait]
/// #     pub trait Greeter: Send + Sync + 'static {
/// #         async fn say_hello(&self, request: tonic::Request<HelloRequest>)
/// #             -> Result<tonic::Response<HelloReply>, tonic::Status>;
/// #     }
/// # }
/// use logi::grpc::LogiRequestExt as _;
/// use pb::{Greeter, HelloReply, HelloRequest};
/// use tonic::{Request, Response, Status};
///
/// struct MyGreeter;
///
/// #[tonic::async_trait]
/// impl Greeter for MyGreeter {
///     #[logi::protected(scopes = ["greeter:hello"])]
///     async fn say_hello(
///         &self,
///         request: Request<HelloRequest>,
///     ) -> Result<Response<HelloReply>, Status> {
///         // Only reached by a signed-in user granted `greeter:hello`.
///         let user = request.logi_user();
///         Ok(Response::new(HelloReply))
///     }
/// }
/// ```
///
/// # Misuse
/// Compile errors, pointing at the offending tokens: a function that is not `async`, an unknown
/// or repeated argument, an empty scope list, a scope that is not a string literal (or not a
/// valid scope), use on anything but a function, and an `Option<LogiUser>` parameter (the
/// attribute already requires a signed-in user: take `LogiUser`).
#[proc_macro_attribute]
pub fn protected(attr: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    match protected::expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        // Keep the item, so that the rest of the code (and the IDE) still sees the function.
        Err(error) => {
            let mut tokens = error.into_compile_error();
            tokens.extend(original);
            tokens.into()
        }
    }
}
