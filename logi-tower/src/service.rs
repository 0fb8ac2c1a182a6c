//! [`Logi`]: the service [`LogiLayer`](crate::LogiLayer) wraps around an app.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response};
use tower_service::Service;

use crate::body::LogiBody;
use crate::flow::{self, Route, unix_now};
use crate::future::{Deferred, LogiResponseFuture};
use crate::resolve::{self, Resolution, Resolved};
use crate::state::Shared;

/// The service built by [`LogiLayer`](crate::LogiLayer). See there.
#[derive(Clone)]
pub struct Logi<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for Logi<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logi").finish_non_exhaustive()
    }
}

impl<S> Logi<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Logi<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: http_body::Body + Send + 'static,
{
    type Response = Response<LogiBody<ResBody>>;
    type Error = S::Error;
    type Future = LogiResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let now = unix_now();

        // 1. The layer's own routes never reach the inner service. `/auth/me` is answered once
        //    the credentials are resolved, so it sees the user exactly as a handler would.
        let route = shared
            .web
            .as_ref()
            .and_then(|web| Route::of(web, request.uri().path()));
        let route_me = route == Some(Route::Me);
        let is_read = request.method() == Method::GET || request.method() == Method::HEAD;
        if let Some(route) = route.filter(|r| *r != Route::Me || !is_read) {
            let (parts, body) = request.into_parts();
            if route == Route::BackchannelLogout {
                return LogiResponseFuture::own(Box::pin(async move {
                    flow::backchannel_logout(shared.web(), parts, body).await
                }));
            }
            return LogiResponseFuture::own(Box::pin(async move {
                flow::handle(shared.web(), route, parts).await
            }));
        }

        // 2. The credentials, resolved once: ready now, or after waiting (see `resolve`).
        // 3. One ending: `/auth/me` answered, or the app called with the user attached, and the
        //    session written back when it changed.
        match resolve::resolve(shared, request.headers(), now) {
            Resolution::Ready(resolved) => end(&mut self.inner, request, resolved, route_me).now(),
            Resolution::Pending(pending) => {
                let mut inner = self.take_ready_inner();
                LogiResponseFuture::deferred(Box::pin(async move {
                    let resolved = pending.finish(request.headers()).await;
                    end(&mut inner, request, resolved, route_me).later().await
                }))
            }
        }
    }
}

/// How a resolved request ends: one of the layer's own responses, or the inner service's
/// future with the session cookies to add to its response.
enum Ending<F> {
    Own(Response<Bytes>),
    Inner(F, Vec<HeaderValue>),
}

/// The one ending of a resolution: `/auth/me` answered with the user exactly as a handler sees
/// it, or the inner service called with the user attached; either way with the session's
/// cookies to write.
fn end<S, ReqBody, ResBody>(
    inner: &mut S,
    mut request: Request<ReqBody>,
    resolved: Resolved,
    route_me: bool,
) -> Ending<S::Future>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    let Resolved { auth, set_cookies } = resolved;
    if route_me {
        return Ending::Own(flow::me(&auth, set_cookies));
    }
    request.extensions_mut().insert(auth);
    Ending::Inner(inner.call(request), set_cookies)
}

impl<F: Future> Ending<F> {
    /// The response future, when the credentials were ready.
    fn now(self) -> LogiResponseFuture<F> {
        match self {
            Self::Own(response) => LogiResponseFuture::ready(response),
            Self::Inner(future, set_cookies) => LogiResponseFuture::inner(future, set_cookies),
        }
    }

    /// The response, inside the future that resolved the credentials.
    async fn later(self) -> Deferred<F::Output> {
        match self {
            Self::Own(response) => Deferred::Own(response),
            Self::Inner(future, set_cookies) => Deferred::Inner(future.await, set_cookies),
        }
    }
}

impl<S: Clone> Logi<S> {
    /// The inner service that was polled ready, leaving a fresh clone in its place (see
    /// tower's "be careful when cloning inner services").
    fn take_ready_inner(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}
