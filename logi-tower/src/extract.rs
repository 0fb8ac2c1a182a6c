//! axum extractors: [`LogiUser`], `Option<LogiUser>`, [`AccessToken`], and the guard that
//! `#[logi::protected]` attaches to handlers.
//! Surface: owns reading what the layer attached to a request; it decides nothing that the
//! resolution or `guard` did not already decide.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::guard::{Guard, Invalid};
use crate::pages;
use crate::reject::{Reason, RequestKind, forbidden, layer_missing, refuse};
use crate::state::Auth;
use crate::user::{AccessToken, LogiUser, Principal};

/// Why an extractor refused the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogiRejectionKind {
    /// Nobody is signed in.
    Unauthenticated,
    /// The request presented a bearer token that is malformed or failed verification: 401 with
    /// `WWW-Authenticate: Bearer error="invalid_token"` (or `invalid_request`).
    InvalidToken,
    /// The session's access token has expired and cannot be renewed right now (the provider is
    /// unreachable): 503 with `Retry-After`. The session is kept.
    Unavailable,
    /// [`LogiLayer`](crate::LogiLayer) is not installed in front of the handler: a bug in the
    /// app's wiring, answered with 500.
    LayerMissing,
    /// The user is signed in but lacks the scopes a `#[logi::protected]` handler requires, or
    /// fails its check: 403, with `WWW-Authenticate: Bearer error="insufficient_scope"` naming
    /// the scopes for an API call, a page for a browser, `grpc-status` 7 for gRPC.
    Forbidden,
    /// The user's claims do not deserialize into the claims type the handler asked for (a
    /// `LogiUser<C>` whose `C` requires a claim the user lacks, or has another type): a bug in
    /// the app, answered with 500 naming the type; the details are logged.
    InvalidClaims,
    /// A [`PendingSignup`](crate::first_login::PendingSignup) was asked for, but the user is
    /// signed in already (the sign-up was completed): a browser is sent to `/` (303), an API
    /// call gets 409.
    AlreadySignedIn,
    /// A [`PendingSignup`](crate::first_login::PendingSignup) was asked for by a request that
    /// changes state (not `GET`, `HEAD` or `OPTIONS`) and comes from another site, by
    /// `Sec-Fetch-Site` or `Origin`, or carries neither header: 403, before the handler runs.
    CrossSite,
}

/// The rejection of the logi extractors. As a response it takes the shape the caller
/// understands: a redirect to sign in for a browser, 401 JSON for an API call, `grpc-status`
/// 16 for gRPC, 403 for a signed-in user without the rights a protected handler requires, and
/// 500 naming `LogiLayer` when the layer is missing.
pub struct LogiRejection {
    kind: LogiRejectionKind,
    response: Box<http::Response<Bytes>>,
}

impl LogiRejection {
    /// Why the request was refused.
    #[must_use]
    pub fn kind(&self) -> LogiRejectionKind {
        self.kind
    }

    /// The status of the response this rejection becomes.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }
}

impl fmt::Debug for LogiRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogiRejection")
            .field("kind", &self.kind)
            .field("status", &self.status())
            .finish()
    }
}

impl fmt::Display for LogiRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            LogiRejectionKind::Unauthenticated => f.write_str("sign in required"),
            LogiRejectionKind::InvalidToken => f.write_str("the bearer token was refused"),
            LogiRejectionKind::Unavailable => {
                f.write_str("the session cannot be renewed right now")
            }
            LogiRejectionKind::LayerMissing => f.write_str("`LogiLayer` is not installed"),
            LogiRejectionKind::Forbidden => {
                f.write_str("the signed-in user lacks the rights this resource requires")
            }
            LogiRejectionKind::InvalidClaims => {
                f.write_str("the signed-in user's claims do not fit the requested type")
            }
            LogiRejectionKind::AlreadySignedIn => {
                f.write_str("the user is signed in already; no sign-up is pending")
            }
            LogiRejectionKind::CrossSite => f.write_str("cross-site request refused"),
        }
    }
}

impl std::error::Error for LogiRejection {}

impl IntoResponse for LogiRejection {
    fn into_response(self) -> Response {
        self.response.map(axum_core::body::Body::from)
    }
}

/// The signed-in principal, `Ok(None)` when signed out, `Err` when the layer is missing.
fn principal(parts: &Parts, what: &str) -> Result<Option<Arc<Principal>>, LogiRejection> {
    match parts.extensions.get::<Auth>() {
        Some(auth) => Ok(auth.principal.clone()),
        None => Err(layer_missing_for(what)),
    }
}

/// The rejection of `what` (an extractor, named for the message) without the layer.
pub(crate) fn layer_missing_for(what: &str) -> LogiRejection {
    LogiRejection {
        kind: LogiRejectionKind::LayerMissing,
        response: Box::new(layer_missing(what)),
    }
}

/// The rejection of a request that needs a signed-in user a [`PendingSignup`] does not have:
/// it is signed in already.
///
/// [`PendingSignup`]: crate::first_login::PendingSignup
pub(crate) fn already_signed_in(parts: &Parts) -> LogiRejection {
    let response = match RequestKind::of(&parts.method, &parts.headers) {
        RequestKind::Navigation => crate::reject::redirect(StatusCode::SEE_OTHER, "/"),
        _ => crate::reject::json_error(
            StatusCode::CONFLICT,
            "already_signed_in",
            "the user is signed in already; no sign-up is pending",
            None,
        ),
    };
    LogiRejection {
        kind: LogiRejectionKind::AlreadySignedIn,
        response: Box::new(response),
    }
}

/// The rejection of a cross-site request that would change state.
pub(crate) fn cross_site() -> LogiRejection {
    LogiRejection {
        kind: LogiRejectionKind::CrossSite,
        response: Box::new(pages::text(
            StatusCode::FORBIDDEN,
            "cross-site request refused".into(),
        )),
    }
}

fn required(parts: &Parts, what: &str) -> Result<Arc<Principal>, LogiRejection> {
    if let Some(principal) = principal(parts, what)? {
        return Ok(principal);
    }
    let auth = parts
        .extensions
        .get::<Auth>()
        .expect("checked by `principal`");
    Err(refused(parts, auth))
}

/// The rejection of a request that needs a signed-in user and has none.
pub(crate) fn refused(parts: &Parts, auth: &Auth) -> LogiRejection {
    let (reason, response) = refuse(auth, &parts.method, &parts.headers, &parts.uri);
    let kind = match reason {
        Reason::SignedOut | Reason::SignupPending => LogiRejectionKind::Unauthenticated,
        Reason::MalformedToken | Reason::InvalidToken => LogiRejectionKind::InvalidToken,
        Reason::TokenUncheckable | Reason::SessionUnavailable => LogiRejectionKind::Unavailable,
        Reason::Forbidden => LogiRejectionKind::Forbidden,
    };
    LogiRejection {
        kind,
        response: Box::new(response),
    }
}

/// The user with claims typed as `C`, or 500 naming `C`.
fn typed<C: DeserializeOwned + Send + Sync + 'static>(
    principal: Arc<Principal>,
) -> Result<LogiUser<C>, LogiRejection> {
    LogiUser::new(principal).map_err(|error| invalid_claims::<C>(&Invalid(error)))
}

fn invalid_claims<C>(error: &Invalid) -> LogiRejection {
    let type_name = std::any::type_name::<C>();
    tracing::error!(
        error = %error.0,
        "the signed-in user's claims do not deserialize into `{type_name}`"
    );
    LogiRejection {
        kind: LogiRejectionKind::InvalidClaims,
        response: Box::new(pages::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the signed-in user's claims do not deserialize into `{type_name}` (the server log has the details)"
            ),
        )),
    }
}

impl<S, C> FromRequestParts<S> for LogiUser<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = LogiRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        typed(required(parts, "`LogiUser`")?)
    }
}

impl<S, C> OptionalFromRequestParts<S> for LogiUser<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Send + Sync + 'static,
{
    type Rejection = LogiRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        principal(parts, "`Option<LogiUser>`")?
            .map(typed)
            .transpose()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = LogiRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(parts, "`AccessToken`").map(AccessToken::new)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for crate::LogiSessions {
    type Rejection = LogiRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(&parts.extensions, &parts.headers).ok_or_else(|| LogiRejection {
            kind: LogiRejectionKind::LayerMissing,
            response: Box::new(layer_missing("`LogiSessions`")),
        })
    }
}

/// The guard `#[logi::protected]` puts first among a handler's extractors: refuses the request
/// unless the signed-in user meets `G`'s [`Requirement`](crate::guard::Requirement), before any
/// other extractor runs. Not public API.
pub struct Protected<G>(PhantomData<fn() -> G>);

impl<G> fmt::Debug for Protected<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protected")
    }
}

impl<S: Send + Sync, G: Guard> FromRequestParts<S> for Protected<G> {
    type Rejection = LogiRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let principal = required(parts, "`#[logi::protected]`")?;
        let denial = G::REQUIREMENT
            .denial(&principal)
            .map_err(|error| invalid_claims::<crate::StandardClaims>(&error))?;
        match denial {
            None => Ok(Self(PhantomData)),
            Some(denial) => {
                let auth = parts
                    .extensions
                    .get::<Auth>()
                    .expect("checked by `required`");
                let kind = RequestKind::of(&parts.method, &parts.headers);
                Err(LogiRejection {
                    kind: LogiRejectionKind::Forbidden,
                    response: Box::new(forbidden(
                        kind,
                        denial,
                        auth.shared.login_path(),
                        &parts.uri,
                    )),
                })
            }
        }
    }
}
