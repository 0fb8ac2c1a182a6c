//! [`PendingSignup`]: the app's completion form's view of a pending sign-in, and completing it.

use std::fmt;
use std::sync::Arc;

#[cfg(feature = "axum")]
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
#[cfg(feature = "axum")]
use axum_core::response::{IntoResponse, Response as AxumResponse};
use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, SET_COOKIE};
#[cfg(feature = "axum")]
use http::request::Parts;
use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use serde_json::{Map, Value};

use crate::claims;
use crate::clock::unix_now;
#[cfg(feature = "axum")]
use crate::extract::{LogiRejection, already_signed_in, cross_site, layer_missing_for, refused};
use crate::flow::same_origin;
use crate::session::manager::SaveError;
use crate::state::{Auth, PendingSession, Shared};

/// A sign-in waiting for the app's first-login completion: what the app's completion form needs
/// (see [`first_login`](crate::first_login)). An axum extractor (feature `axum`); on any other
/// tower stack, [`PendingSignup::from_request`].
///
/// It is available only on a pending session. Otherwise it refuses the request like
/// [`LogiUser`](crate::LogiUser) when nobody is signed in (a browser is sent to sign in, an
/// API call gets 401), and with [`AlreadySignedIn`](crate::LogiRejectionKind::AlreadySignedIn)
/// for a user who is signed in already (a browser is sent to `/`). Take `Option<PendingSignup>`
/// to handle those cases yourself.
///
/// A request that changes state (anything but `GET`, `HEAD` and `OPTIONS`) from another site,
/// by `Sec-Fetch-Site` or `Origin`, or that carries neither header (the check `/auth/logout`
/// makes), is refused with
/// [`CrossSite`](crate::LogiRejectionKind::CrossSite) (403) before the handler runs: the app's
/// form handler can create the account first and [`complete`](PendingSignup::complete) after.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::response::{IntoResponse, Response};
/// use logi::first_login::PendingSignup;
///
/// async fn create_account(pending: PendingSignup) -> Response {
///     // The app creates the account of (pending.issuer(), pending.sub()) here.
///     match pending.complete().await {
///         Ok(completed) => completed.into_response(),
///         Err(refused) => refused.into_response(),
///     }
/// }
/// # }
/// ```
///
/// `Debug` shows who signed in, never the session's tokens.
pub struct PendingSignup {
    shared: Arc<Shared>,
    session: Arc<PendingSession>,
    method: Method,
}

impl fmt::Debug for PendingSignup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignup")
            .field("issuer", &self.issuer())
            .field("sub", &self.sub())
            .field("email", &self.email())
            .field("return_to", &self.return_to())
            .finish_non_exhaustive()
    }
}

impl PendingSignup {
    /// The issuer that vouches for the user (`iss`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.session.data.iss
    }

    /// The user's identifier at this client (`sub`): with [`issuer`](Self::issuer), the key of
    /// the account the app creates.
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.session.data.sub
    }

    /// `email`, when the `email` scope was granted.
    #[must_use]
    pub fn email(&self) -> Option<&str> {
        claims::str_claim(self.claims(), "email")
    }

    /// `email_verified`; `false` when absent.
    #[must_use]
    pub fn email_verified(&self) -> bool {
        claims::email_verified(self.claims())
    }

    /// A display name: `name`, else logi's `full_name`, else `preferred_name`.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        claims::display_name(self.claims())
    }

    /// The identity claims (`email`, `name`, `identity_verified_level`, …).
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.session.data.claims
    }

    /// One identity claim as JSON.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }

    /// The scopes granted to this sign-in.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.session.data.scope.split_whitespace()
    }

    /// Where the browser goes once the sign-up is completed: the path it was going to when
    /// the sign-in started.
    #[must_use]
    pub fn return_to(&self) -> &str {
        self.session
            .data
            .pending
            .as_ref()
            .map_or("/", |p| p.return_to.as_str())
    }

    /// Marks the sign-up completed: the session becomes a signed-in one (rewritten in its
    /// cookie, or in the session store), and the answer is a 303 to
    /// [`return_to`](Self::return_to) that carries it. Call it once the app has created what it
    /// needs for the user.
    ///
    /// When another request completed the same session first (a form submitted twice), the
    /// answer is the same redirect, without a cookie: that request's cookie stands. With sealed
    /// cookie sessions the server cannot tell a copy of the pending cookie from the original,
    /// so the form handler may run more than once for one sign-in within the completion
    /// window: create the account idempotently, keyed by [`issuer`](Self::issuer) and
    /// [`sub`](Self::sub).
    ///
    /// # Errors
    /// A [`CompletionError`], answered as a response: the request is not a `POST` (405; a link
    /// must not sign anyone in), or the session could not be written (503 when the store fails,
    /// 500 when it is too large for cookies). The session stays pending. (A cross-site `POST`
    /// never gets here: the extractor refuses it.)
    pub async fn complete(self) -> Result<Completed, CompletionError> {
        if self.method != Method::POST {
            return Err(CompletionError::new(CompletionErrorKind::NotPost));
        }
        let web = self.shared.web();
        let mut data = self.session.data.clone();
        let return_to = match data.pending.take() {
            Some(pending) => pending.return_to,
            None => "/".to_owned(),
        };
        let now = unix_now();
        data.seen = now;
        let set_cookies = match web.sessions.save(&data, &self.session.handle, now).await {
            Ok(cookies) => cookies,
            Err(error) if error.is_conflict() => {
                tracing::debug!("the sign-up was completed by another request first");
                Vec::new()
            }
            Err(error @ SaveError::Cookie(_)) => {
                tracing::error!(%error, "could not store a completed session");
                return Err(CompletionError::new(CompletionErrorKind::Storage(
                    StatusCode::INTERNAL_SERVER_ERROR,
                )));
            }
            Err(error @ SaveError::Store(_)) => {
                tracing::error!(%error, "could not store a completed session");
                return Err(CompletionError::new(CompletionErrorKind::Storage(
                    StatusCode::SERVICE_UNAVAILABLE,
                )));
            }
        };
        tracing::info!(sub = %data.sub, "sign-up completed; signed in");
        Ok(Completed {
            return_to,
            set_cookies,
        })
    }
}

/// Why a request may not use its pending sign-in.
enum NotPending {
    /// The layer is not in front of the handler.
    LayerMissing,
    /// A state-changing request from another site.
    CrossSite,
}

/// The pending sign-in of a request, `Ok(None)` when there is none.
fn pending(
    extensions: &Extensions,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<PendingSignup>, NotPending> {
    let Some(auth) = extensions.get::<Auth>() else {
        return Err(NotPending::LayerMissing);
    };
    let Some(session) = &auth.pending else {
        return Ok(None);
    };
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !same_origin(auth.shared.web(), headers) {
        tracing::warn!("refused a cross-site request to the sign-up completion form");
        return Err(NotPending::CrossSite);
    }
    Ok(Some(PendingSignup {
        shared: Arc::clone(&auth.shared),
        session: Arc::clone(session),
        method: method.clone(),
    }))
}

impl PendingSignup {
    /// The pending sign-in of `request`, for a tower stack without axum's extractors: `None`
    /// when the request has none (nobody is signed in, the user is signed in already, or the
    /// [`LogiLayer`](crate::LogiLayer) is not in front of the service).
    ///
    /// # Errors
    /// A [`CompletionError`] of kind [`CrossSite`](CompletionErrorKind::CrossSite) (403) for a
    /// request that changes state (anything but `GET`, `HEAD` and `OPTIONS`) from another site,
    /// by `Sec-Fetch-Site` or `Origin`, or with neither header: answer it with
    /// [`into_http_response`](CompletionError::into_http_response) and create nothing.
    pub fn from_request<B>(request: &Request<B>) -> Result<Option<Self>, CompletionError> {
        match pending(request.extensions(), request.method(), request.headers()) {
            Ok(pending) => Ok(pending),
            Err(NotPending::LayerMissing) => Ok(None),
            Err(NotPending::CrossSite) => Err(CompletionError::new(CompletionErrorKind::CrossSite)),
        }
    }
}

#[cfg(feature = "axum")]
fn extracted(parts: &Parts) -> Result<Option<PendingSignup>, LogiRejection> {
    pending(&parts.extensions, &parts.method, &parts.headers).map_err(|why| match why {
        NotPending::LayerMissing => layer_missing_for("`PendingSignup`"),
        NotPending::CrossSite => cross_site(),
    })
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> FromRequestParts<S> for PendingSignup {
    type Rejection = LogiRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(pending) = extracted(parts)? {
            return Ok(pending);
        }
        let auth = parts
            .extensions
            .get::<Auth>()
            .expect("checked by `extracted`");
        Err(if auth.principal.is_some() {
            already_signed_in(parts)
        } else {
            refused(parts, auth)
        })
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> OptionalFromRequestParts<S> for PendingSignup {
    type Rejection = LogiRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        extracted(parts)
    }
}

/// A completed sign-up: as a response, a 303 to where the user was going, carrying the
/// signed-in session's cookie. Made by [`PendingSignup::complete`].
#[must_use = "the response carries the signed-in session's cookie"]
pub struct Completed {
    return_to: String,
    set_cookies: Vec<HeaderValue>,
}

impl Completed {
    /// Where the response sends the browser.
    #[must_use]
    pub fn return_to(&self) -> &str {
        &self.return_to
    }

    /// The response, for a tower stack without axum (with axum, it is `IntoResponse`): a 303
    /// to [`return_to`](Self::return_to) with the signed-in session's `Set-Cookie`, in any
    /// body type made from [`Bytes`] (such as `http_body_util::Full<Bytes>`).
    pub fn into_http_response<B: From<Bytes>>(self) -> Response<B> {
        let mut response = crate::reject::redirect(StatusCode::SEE_OTHER, &self.return_to);
        for cookie in self.set_cookies {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        response.map(B::from)
    }
}

impl fmt::Debug for Completed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completed")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "axum")]
impl IntoResponse for Completed {
    fn into_response(self) -> AxumResponse {
        self.into_http_response()
    }
}

/// Why [`PendingSignup::complete`] (or [`PendingSignup::from_request`]) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompletionErrorKind {
    /// The request is not a `POST`: 405.
    NotPost,
    /// The session could not be written: 503 when the store failed (try again), 500 when it
    /// does not fit in cookies.
    Storage(StatusCode),
    /// A request that changes state came from another site: 403 (only from
    /// [`PendingSignup::from_request`]; the axum extractor refuses it itself).
    CrossSite,
}

/// Why [`PendingSignup::complete`] refused; as a response, a short plain-text page with the
/// status of its [`kind`](Self::kind). The session stays pending.
#[derive(Debug)]
pub struct CompletionError {
    kind: CompletionErrorKind,
}

impl CompletionError {
    fn new(kind: CompletionErrorKind) -> Self {
        Self { kind }
    }

    /// Why completion was refused.
    #[must_use]
    pub fn kind(&self) -> CompletionErrorKind {
        self.kind
    }

    /// The status of the response this error becomes.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self.kind {
            CompletionErrorKind::NotPost => StatusCode::METHOD_NOT_ALLOWED,
            CompletionErrorKind::Storage(status) => status,
            CompletionErrorKind::CrossSite => StatusCode::FORBIDDEN,
        }
    }

    /// The response, for a tower stack without axum (with axum, it is `IntoResponse`): a
    /// short `no-store` plain-text page with [`status`](Self::status) (and `Allow: POST` for
    /// a request that is not a `POST`), in any body type made from [`Bytes`].
    pub fn into_http_response<B: From<Bytes>>(self) -> Response<B> {
        let mut response = crate::pages::text(self.status(), self.to_string());
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.kind == CompletionErrorKind::NotPost {
            headers.insert(ALLOW, HeaderValue::from_static("POST"));
        }
        response.map(B::from)
    }
}

impl fmt::Display for CompletionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            CompletionErrorKind::NotPost => "sign-up completion must be a POST",
            CompletionErrorKind::Storage(_) => "the completed session could not be stored",
            CompletionErrorKind::CrossSite => "cross-site request refused",
        })
    }
}

impl std::error::Error for CompletionError {}

#[cfg(feature = "axum")]
impl IntoResponse for CompletionError {
    fn into_response(self) -> AxumResponse {
        self.into_http_response()
    }
}

#[cfg(test)]
mod tests {
    use http::header::LOCATION;

    use super::*;

    #[test]
    fn refusals_have_the_status_they_name() {
        for (kind, status) in [
            (CompletionErrorKind::NotPost, 405),
            (
                CompletionErrorKind::Storage(StatusCode::SERVICE_UNAVAILABLE),
                503,
            ),
            (CompletionErrorKind::CrossSite, 403),
        ] {
            let error = CompletionError::new(kind);
            assert_eq!(error.status().as_u16(), status);
            let response = error.into_http_response::<Bytes>();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        }
        let response =
            CompletionError::new(CompletionErrorKind::NotPost).into_http_response::<Bytes>();
        assert_eq!(response.headers()[ALLOW], "POST");
    }

    #[test]
    fn completed_is_a_303_with_the_cookie() {
        let completed = Completed {
            return_to: "/dashboard?tab=1".into(),
            set_cookies: vec![HeaderValue::from_static("__Host-logi.session=x; Path=/")],
        };
        assert!(!format!("{completed:?}").contains("logi.session"));
        let response = completed.into_http_response::<Bytes>();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/dashboard?tab=1");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert!(response.headers().contains_key(SET_COOKIE));
    }
}
