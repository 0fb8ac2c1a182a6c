//! [`Logi`]: the service [`LogiLayer`](crate::LogiLayer) wraps around an app.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::body::LogiBody;
use crate::flow::{self, Route, unix_now};
use crate::future::ResponseFuture;
use crate::layer::{Auth, Shared};
use crate::session::manager::Loaded;

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
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<LogiBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // 1. The layer's own routes never reach the inner service.
        if let Some(route) = Route::of(&self.shared, request.uri().path()) {
            let shared = Arc::clone(&self.shared);
            let (parts, _body) = request.into_parts();
            return ResponseFuture::own(Box::pin(async move {
                flow::handle(&shared, route, parts).await
            }));
        }

        // 2. Credentials → principal.
        let now = unix_now();
        let mut set_cookies = Vec::new();
        let principal = match self.shared.sessions.load(request.headers(), now) {
            Loaded::Valid { mut data, chunks } => {
                if data.at_exp <= now {
                    // The access token has expired and cannot be renewed here: the session ends.
                    set_cookies = self.shared.sessions.clear(chunks);
                    None
                } else {
                    if self.shared.sessions.needs_renewal(&data, now) {
                        data.seen = now;
                        // The session was stored before at this size, so this cannot fail in
                        // practice; if it did, the old cookie simply stays until it expires.
                        set_cookies = self
                            .shared
                            .sessions
                            .save(&data, chunks, now)
                            .unwrap_or_default();
                    }
                    Some(Arc::new(data.into()))
                }
            }
            Loaded::Unusable { chunks } => {
                set_cookies = self.shared.sessions.clear(chunks);
                None
            }
            Loaded::None => None,
        };
        request.extensions_mut().insert(Auth {
            shared: Arc::clone(&self.shared),
            principal,
        });

        // 3. The app, with the session written back when it changed.
        ResponseFuture::inner(self.inner.call(request), set_cookies)
    }
}
