//! [`Logi`]: the service [`LogiLayer`](crate::LogiLayer) wraps around an app.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response};
use tower_service::Service;

use crate::bearer::{self, Presented};
use crate::body::LogiBody;
use crate::flow::{self, Route, unix_now};
use crate::future::{Deferred, ResponseFuture};
use crate::refresh::{self, Failure};
use crate::reject::DEFAULT_RETRY_AFTER;
use crate::session::data::SessionData;
use crate::session::manager::{Handle, Loaded, Sessions};
use crate::session::signout::TokenOwner;
use crate::state::{Auth, CredentialError, Shared, Web};
use crate::user::Principal;
use crate::{VerifiedAccessToken, VerifyError, VerifyErrorKind};

/// How many remembered refreshes one request follows along a session's chain.
const MAX_CHAIN: usize = 4;

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
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
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
                return ResponseFuture::own(Box::pin(async move {
                    flow::backchannel_logout(shared.web(), parts, body).await
                }));
            }
            return ResponseFuture::own(Box::pin(async move {
                flow::handle(shared.web(), route, parts).await
            }));
        }

        // 2. A bearer token, when presented, decides alone: no session, no cookies.
        match bearer::presented(request.headers()) {
            Presented::Nothing => {}
            Presented::Token(token) => {
                let hashed = bearer::key(token);
                if let Some(principal) = shared.token_cache.get(&hashed.key, token, now) {
                    let auth = Auth::new(shared, Some(principal));
                    return self.answer_bearer(request, auth, route_me, now);
                }
                if let Err(why) = bearer::check_token(token) {
                    return self.answer(request, Auth::malformed(shared, why), route_me);
                }
                // A JWT whose signing key is cached is verified right here; the others wait
                // for the provider (a key to fetch, an opaque token to validate).
                let verified = match &shared.opaque {
                    Some(_) if !crate::opaque::is_jwt(token) => None,
                    _ => shared
                        .access_tokens
                        .verify_cached(token, hashed.signing_digest, now),
                };
                let token = token.to_owned();
                if let Some(verified) = verified {
                    let auth = bearer_auth(shared, verified, token, hashed.key, now);
                    return self.answer_bearer(request, auth, route_me, now);
                }
                let key = hashed.key;
                let mut inner = self.take_ready_inner();
                return ResponseFuture::deferred(Box::pin(async move {
                    let auth = verify_bearer(shared, token, key, now).await;
                    let auth = withdrawn_shared(withdrawn_here(auth, now)).await;
                    if route_me {
                        return Deferred::Own(flow::me(&auth, Vec::new()));
                    }
                    request.extensions_mut().insert(auth);
                    Deferred::Inner(inner.call(request).await, Vec::new())
                }));
            }
            Presented::Malformed(why) => {
                return self.answer(request, Auth::malformed(shared, why), route_me);
            }
        }

        let Some(web) = shared.web.as_ref() else {
            request.extensions_mut().insert(Auth::new(shared, None));
            return ResponseFuture::inner(self.inner.call(request), Vec::new());
        };

        // 3. The session: loaded, renewed, refreshed when due. Sessions in a store are loaded
        //    before the inner service is called; sealed cookie sessions are read right here.
        if web.sessions.is_stored() && Sessions::has_cookie(request.headers()) {
            let mut inner = self.take_ready_inner();
            return ResponseFuture::deferred(Box::pin(async move {
                let loaded = shared.web().sessions.load(request.headers(), now).await;
                let (auth, set_cookies) = resolve(shared, loaded, now).await;
                if route_me {
                    return Deferred::Own(flow::me(&auth, set_cookies));
                }
                request.extensions_mut().insert(auth);
                Deferred::Inner(inner.call(request).await, set_cookies)
            }));
        }
        let mut set_cookies = Vec::new();
        let loaded = if web.sessions.is_stored() {
            Loaded::None
        } else {
            web.sessions.load_sealed(request.headers(), now)
        };
        // Sessions ended from the server (back-channel logout, `LogiSessions`) reach sealed
        // cookies through a denylist: the instances' coordination, asked before the service...
        if matches!(loaded, Loaded::Valid { .. }) && web.ending().screens_shared() {
            let mut inner = self.take_ready_inner();
            return ResponseFuture::deferred(Box::pin(async move {
                let loaded = shared.web().ending().screen_shared(loaded).await;
                let (auth, set_cookies) = resolve(shared, loaded, now).await;
                if route_me {
                    return Deferred::Own(flow::me(&auth, set_cookies));
                }
                request.extensions_mut().insert(auth);
                Deferred::Inner(inner.call(request).await, set_cookies)
            }));
        }
        // ... or this process's memory, checked right here.
        let loaded = web.sign_outs.screen(loaded, now);
        let principal = match loaded {
            // Waiting for the app's first-login completion: nobody signed in, nothing refreshed.
            Loaded::Valid { data, handle } if data.pending.is_some() => {
                return self.answer(request, Auth::pending(shared, data, handle), route_me);
            }
            Loaded::Valid { data, handle } if refresh::is_due(&data, now, web.refresh_margin) => {
                if data.rt.is_some() {
                    // Refresh first (shared with concurrent requests), then call the service.
                    let mut inner = self.take_ready_inner();
                    return ResponseFuture::deferred(Box::pin(async move {
                        let (auth, set_cookies) = refreshed(shared, data, handle, now).await;
                        if route_me {
                            return Deferred::Own(flow::me(&auth, set_cookies));
                        }
                        request.extensions_mut().insert(auth);
                        Deferred::Inner(inner.call(request).await, set_cookies)
                    }));
                }
                if data.at_exp > now {
                    // No refresh token: the session lasts as long as its access token.
                    Some(Arc::new(data.into()))
                } else {
                    set_cookies = web.sessions.clear_sealed(handle.chunks);
                    None
                }
            }
            Loaded::Valid { mut data, handle } => {
                if web.sessions.needs_renewal(&data, now) {
                    data.seen = now;
                    set_cookies = save_sealed(web, &data, handle.chunks, now);
                }
                Some(Arc::new(data.into()))
            }
            Loaded::Unusable { chunks } => {
                set_cookies = web.sessions.clear_sealed(chunks);
                None
            }
            Loaded::None | Loaded::Unavailable { .. } => None,
        };
        let auth = Auth::new(shared, principal);
        if route_me {
            return ResponseFuture::ready(flow::me(&auth, set_cookies));
        }
        request.extensions_mut().insert(auth);

        // 4. The app, with the session written back when it changed.
        ResponseFuture::inner(self.inner.call(request), set_cookies)
    }
}

impl<S> Logi<S> {
    /// Calls the inner service with `auth` attached (or answers `/auth/me` with it), with no
    /// session cookie to write: bearer requests never touch the session.
    fn answer<ReqBody, ResBody>(
        &mut self,
        mut request: Request<ReqBody>,
        auth: Auth,
        route_me: bool,
    ) -> ResponseFuture<S::Future>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    {
        if route_me {
            return ResponseFuture::ready(flow::me(&auth, Vec::new()));
        }
        request.extensions_mut().insert(auth);
        ResponseFuture::inner(self.inner.call(request), Vec::new())
    }
}

impl<S> Logi<S> {
    /// [`answer`](Self::answer) for a bearer token's auth, once the token is checked against
    /// the sign-outs (see [`crate::session::signout`]): this process's, right here, or the
    /// coordination's, one round trip before the service is called.
    fn answer_bearer<ReqBody, ResBody>(
        &mut self,
        mut request: Request<ReqBody>,
        auth: Auth,
        route_me: bool,
        now: i64,
    ) -> ResponseFuture<S::Future>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        ReqBody: Send + 'static,
    {
        let shared_check = auth.principal.is_some()
            && auth
                .shared
                .web
                .as_ref()
                .is_some_and(|web| web.ending().screens_tokens_shared());
        if !shared_check {
            return self.answer(request, withdrawn_here(auth, now), route_me);
        }
        let mut inner = self.take_ready_inner();
        ResponseFuture::deferred(Box::pin(async move {
            let auth = withdrawn_shared(auth).await;
            if route_me {
                return Deferred::Own(flow::me(&auth, Vec::new()));
            }
            request.extensions_mut().insert(auth);
            Deferred::Inner(inner.call(request).await, Vec::new())
        }))
    }
}

/// `auth` with its bearer token refused when this process's sign-outs withdrew it.
fn withdrawn_here(auth: Auth, now: i64) -> Auth {
    let withdrawn = match (&auth.principal, &auth.shared.web) {
        (Some(principal), Some(web)) if !web.ending().screens_tokens_shared() => web
            .sign_outs
            .token_signed_out(&TokenOwner::of(principal), now),
        _ => false,
    };
    if withdrawn {
        refused_token(auth, WITHDRAWN)
    } else {
        auth
    }
}

/// `auth` with its bearer token refused when the coordination's sign-outs withdrew it, or when
/// the coordination cannot be asked (fail closed: 503).
async fn withdrawn_shared(auth: Auth) -> Auth {
    let checked = match (&auth.principal, &auth.shared.web) {
        (Some(principal), Some(web)) if web.ending().screens_tokens_shared() => {
            web.ending()
                .token_signed_out_shared(&TokenOwner::of(principal))
                .await
        }
        _ => Ok(false),
    };
    match checked {
        Ok(false) => auth,
        Ok(true) => refused_token(auth, WITHDRAWN),
        Err(error) => {
            tracing::warn!(%error, "could not check a bearer token against the sign-outs");
            refused_token(
                auth,
                VerifyError::new(
                    VerifyErrorKind::Unavailable,
                    "the token cannot be checked right now",
                ),
            )
        }
    }
}

/// Why a bearer token issued before its user's sign-out is refused.
const WITHDRAWN: VerifyError = VerifyError::new(
    VerifyErrorKind::Inactive,
    "the token was issued before its user was signed out",
);

fn refused_token(auth: Auth, error: VerifyError) -> Auth {
    let mut refused = Auth::new(auth.shared, None);
    refused.credential_error = Some(CredentialError::Invalid(error));
    refused
}

impl<S: Clone> Logi<S> {
    /// The inner service that was polled ready, leaving a fresh clone in its place (see
    /// tower's "be careful when cloning inner services").
    fn take_ready_inner(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

/// Verifies a bearer token not seen before, and remembers it.
async fn verify_bearer(shared: Arc<Shared>, token: String, key: bearer::Key, now: i64) -> Auth {
    let verified = match &shared.opaque {
        Some(_) if !crate::opaque::is_jwt(&token) => {
            crate::opaque::validate(&shared, &token, now).await
        }
        _ => shared.access_tokens.verify(&token).await,
    };
    bearer_auth(shared, verified, token, key, now)
}

/// The request's auth from a bearer token's verification; a verified token is remembered.
fn bearer_auth(
    shared: Arc<Shared>,
    verified: Result<VerifiedAccessToken, VerifyError>,
    token: String,
    key: bearer::Key,
    now: i64,
) -> Auth {
    match verified {
        Ok(verified) => {
            let expires_at = verified.expires_at;
            let principal = Arc::new(Principal::from_access_token(verified, token));
            shared
                .token_cache
                .insert(key, expires_at, Arc::clone(&principal), now);
            Auth::new(shared, Some(principal))
        }
        Err(error) => {
            tracing::debug!(code = error.code(), "refused a bearer token");
            let mut auth = Auth::new(shared, None);
            auth.credential_error = Some(CredentialError::Invalid(error));
            auth
        }
    }
}

/// The request's auth from a session loaded from a store, and the cookies to write: the same
/// steps as for a sealed cookie session in [`Logi::call`], with the writes awaited.
async fn resolve(shared: Arc<Shared>, loaded: Loaded, now: i64) -> (Auth, Vec<HeaderValue>) {
    let web = shared.web();
    let (principal, set_cookies) = match loaded {
        Loaded::Valid { data, handle } if data.pending.is_some() => {
            return (Auth::pending(shared, data, handle), Vec::new());
        }
        Loaded::Valid { data, handle } if refresh::is_due(&data, now, web.refresh_margin) => {
            if data.rt.is_some() {
                return refreshed(shared, data, handle, now).await;
            }
            if data.at_exp > now {
                (Some(Arc::new(data.into())), Vec::new())
            } else {
                (None, web.sessions.clear(&handle).await)
            }
        }
        Loaded::Valid { mut data, handle } => {
            let mut set_cookies = Vec::new();
            if web.sessions.needs_renewal(&data, now) {
                data.seen = now;
                set_cookies = save(web, &data, &handle, now).await;
            }
            (Some(Arc::new(data.into())), set_cookies)
        }
        Loaded::Unusable { chunks } => (None, web.sessions.clear_sealed(chunks)),
        Loaded::Unavailable { .. } => {
            let mut auth = Auth::new(shared, None);
            auth.unavailable = Some(DEFAULT_RETRY_AFTER);
            return (auth, Vec::new());
        }
        Loaded::None => (None, Vec::new()),
    };
    (Auth::new(shared, principal), set_cookies)
}

/// The request's auth after refreshing its session, and the cookies to write.
async fn refreshed(
    shared: Arc<Shared>,
    mut data: SessionData,
    handle: Handle,
    now: i64,
) -> (Auth, Vec<HeaderValue>) {
    let web = shared.web();
    let started = Instant::now();
    let mut outcome = refresh::refresh(&shared, &data).await;
    // Tokens remembered from an earlier refresh of this session may be due again by now (a
    // request that carried a very old cookie): refresh along the chain, a bounded number of times.
    for _ in 0..MAX_CHAIN {
        match &outcome {
            Ok(tokens) if tokens.finished < started => {
                tokens.apply(&mut data);
                if !refresh::is_due(&data, now, web.refresh_margin) {
                    break;
                }
                outcome = refresh::refresh(&shared, &data).await;
            }
            _ => break,
        }
    }
    let (principal, unavailable, set_cookies) = match outcome {
        Ok(tokens) => {
            tokens.apply(&mut data);
            data.seen = now;
            let cookies = save(web, &data, &handle, now).await;
            (Some(Arc::new(data.into())), None, cookies)
        }
        Err(Failure::Conclusive) => (None, None, web.sessions.clear(&handle).await),
        // The provider is unreachable: keep the session; use it while its token is valid.
        Err(Failure::Transient { .. }) if data.at_exp > now => {
            (Some(Arc::new(data.into())), None, Vec::new())
        }
        Err(Failure::Transient { retry_after }) => (
            None,
            Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER)),
            Vec::new(),
        ),
    };
    let mut auth = Auth::new(shared, principal);
    auth.unavailable = unavailable;
    (auth, set_cookies)
}

/// The session's cookies, sealed; on the (theoretical) failure to seal a session that was
/// stored before, nothing is written and the old cookie stays until it expires.
fn save_sealed(web: &Web, data: &SessionData, chunks: usize, now: i64) -> Vec<HeaderValue> {
    web.sessions
        .save_sealed(data, chunks, now)
        .unwrap_or_else(|error| {
            tracing::error!(%error, "could not write the session back");
            Vec::new()
        })
}

/// Writes the session back where it came from, and returns its cookies. A session another
/// request wrote first keeps that write (this request's copy is as new or older); a store that
/// fails keeps the stored session, which the next request reads again.
async fn save(web: &Web, data: &SessionData, handle: &Handle, now: i64) -> Vec<HeaderValue> {
    match web.sessions.save(data, handle, now).await {
        Ok(cookies) => cookies,
        Err(error) if error.is_conflict() => {
            tracing::debug!("the session was written by another request first");
            Vec::new()
        }
        Err(error) => {
            tracing::error!(%error, "could not write the session back");
            Vec::new()
        }
    }
}
