//! [`RequireLoginLayer`]: refuse requests without a signed-in user.
//! Surface: owns the route-level guard; the refusal itself is rendered by `reject`.

use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::LogiBody;
use crate::future::LogiResponseFuture;
use crate::reject::{layer_missing, refuse};
use crate::state::Auth;

/// Refuses requests that carry no signed-in user, in the shape the caller understands: a browser
/// navigation is sent to sign in (and comes back afterwards), an API call gets 401 with
/// `WWW-Authenticate: Bearer`, a gRPC call gets `grpc-status` 16.
///
/// Made by [`LogiLayer::require`](crate::LogiLayer::require). It must sit inside the
/// [`LogiLayer`](crate::LogiLayer); use axum's `route_layer` so that unknown paths stay 404:
///
/// ```no_run
/// # #[cfg(feature = "axum")]
/// # async fn run() -> Result<(), logi::ConfigError> {
/// use axum::{Router, routing::get};
/// use logi::LogiLayer;
///
/// let logi = LogiLayer::from_env().await?;
/// let app: Router = Router::new()
///     .route("/dashboard", get(|| async { "signed in" }))
///     .route_layer(logi.require())
///     .route("/", get(|| async { "public" }))
///     .layer(logi);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct RequireLoginLayer(());

impl RequireLoginLayer {
    pub(crate) const fn new() -> Self {
        Self(())
    }
}

impl<S> Layer<S> for RequireLoginLayer {
    type Service = RequireLogin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireLogin { inner }
    }
}

/// The service made by [`RequireLoginLayer`].
#[derive(Clone, Debug)]
pub struct RequireLogin<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireLogin<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<LogiBody<ResBody>>;
    type Error = S::Error;
    type Future = LogiResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let Some(auth) = request.extensions().get::<Auth>() else {
            return LogiResponseFuture::ready(layer_missing("`RequireLoginLayer`"));
        };
        if auth.principal.is_some() {
            return LogiResponseFuture::inner(self.inner.call(request), Vec::new());
        }
        let (_, response) = refuse(auth, request.method(), request.headers(), request.uri());
        LogiResponseFuture::ready(response)
    }
}
