//! The gRPC example's service: a greeter whose `SayHello` needs a logi access token granting
//! `greeter:hello`.
//!
//! [`serve`] puts [`LogiLayer`] in front of it with `Server::builder().layer(logi)`; the layer
//! checks the `authorization: Bearer …` metadata and `#[logi::protected]` on the method answers
//! `UNAUTHENTICATED` (no or a refused token) or `PERMISSION_DENIED` (no `greeter:hello`) before
//! the method body runs.
//!
//! The service code in [`pb`] is written by hand, as `tonic-build` would generate it; a real app
//! generates it from a `.proto` file.

pub mod pb;

use logi::LogiLayer;
use logi::grpc::LogiRequestExt as _;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use self::pb::{Greeter, GreeterServer};

/// The scope `SayHello` requires (the attribute below takes literals, so it is spelled there too).
pub const SCOPE: &str = "greeter:hello";

/// The greeter: `SayHello` greets callers whose token grants [`SCOPE`].
#[derive(Debug, Default, Clone, Copy)]
pub struct HelloGreeter;

#[tonic::async_trait]
impl Greeter for HelloGreeter {
    #[logi::protected(scopes = ["greeter:hello"])]
    async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status> {
        // The guard above let a signed-in caller through; the layer put it on the request.
        let user = request
            .logi_user()
            .ok_or_else(|| Status::unauthenticated("sign in required"))?;
        Ok(Response::new(format!(
            "hello {}, from {}",
            request.get_ref(),
            user.sub()
        )))
    }
}

/// Serves [`HelloGreeter`] behind `logi` on `listener` until `shutdown` completes.
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: TcpListener,
    logi: LogiLayer,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .layer(logi)
        .add_service(GreeterServer::new(HelloGreeter))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}
