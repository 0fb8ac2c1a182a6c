//! axum extractors: [`LogiUser`], `Option<LogiUser>` and [`AccessToken`].

use std::fmt;
use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;

use crate::layer::Auth;
use crate::reject::{Refusal, layer_missing, refuse};
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
}

/// The rejection of the logi extractors. As a response it takes the shape the caller
/// understands: a redirect to sign in for a browser, 401 JSON for an API call, `grpc-status`
/// 16 for gRPC, and 500 naming `LogiLayer` when the layer is missing.
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
        None => Err(LogiRejection {
            kind: LogiRejectionKind::LayerMissing,
            response: Box::new(layer_missing(what)),
        }),
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
    let (refusal, response) = refuse(auth, &parts.method, &parts.headers, &parts.uri);
    let kind = match refusal {
        Refusal::Unauthenticated => LogiRejectionKind::Unauthenticated,
        Refusal::InvalidToken => LogiRejectionKind::InvalidToken,
        Refusal::Unavailable => LogiRejectionKind::Unavailable,
    };
    Err(LogiRejection {
        kind,
        response: Box::new(response),
    })
}

impl<S: Send + Sync> FromRequestParts<S> for LogiUser {
    type Rejection = LogiRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(parts, "`LogiUser`").map(LogiUser::new)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for LogiUser {
    type Rejection = LogiRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(principal(parts, "`Option<LogiUser>`")?.map(LogiUser::new))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = LogiRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(parts, "`AccessToken`").map(AccessToken::new)
    }
}
