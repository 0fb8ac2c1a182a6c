//! The refusal table: every reason a request that needs a signed-in user is refused, and what
//! each is answered with (HTTP status, RFC 6750 challenge, body, gRPC code), and what varies by
//! case. Imports nothing from the crate: it does not read requests (`mod.rs` does) and renders
//! nothing (`http.rs`, `grpc.rs` do).

use std::time::Duration;

use http::StatusCode;

/// When nothing better is known, callers are told to come back after this.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a request that needs a user was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// No credentials.
    SignedOut,
    /// A browser whose sign-up waits for the app's completion form: signed out meanwhile.
    SignupPending,
    /// The `Authorization` header cannot be used.
    MalformedToken,
    /// A bearer token was presented and failed verification.
    InvalidToken,
    /// A bearer token cannot be checked right now (the provider or the coordination is
    /// unreachable): not judged, come back later.
    TokenUncheckable,
    /// The session cannot be renewed right now (the provider is unreachable and its access token
    /// has expired): the session is kept, come back later.
    SessionUnavailable,
    /// The signed-in user lacks the scopes, or fails the check, the resource requires.
    // Only the axum guard and the tonic check refuse a signed-in user.
    #[cfg_attr(not(any(feature = "axum", feature = "tonic")), allow(dead_code))]
    Forbidden,
}

/// The `WWW-Authenticate` challenge of a refusal (RFC 6750 section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// None: credentials are not what is wrong.
    None,
    /// `Bearer`: credentials are needed (no error code when none were presented).
    Bearer,
    /// `Bearer error="…", error_description="…"`: the presented token is refused.
    Token(&'static str),
    /// `Bearer error="insufficient_scope"`, naming the scopes when there are some.
    InsufficientScope,
}

impl Challenge {
    /// The RFC 6750 error code the challenge carries, if any.
    pub(crate) const fn error_code(self) -> Option<&'static str> {
        match self {
            Self::None | Self::Bearer => None,
            Self::Token(code) => Some(code),
            Self::InsufficientScope => Some("insufficient_scope"),
        }
    }
}

/// A gRPC status code (the subset refusals use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub(crate) enum GrpcCode {
    PermissionDenied = 7,
    Unavailable = 14,
    Unauthenticated = 16,
}

/// What one reason is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) status: StatusCode,
    pub(crate) challenge: Challenge,
    /// The JSON body's `error`.
    pub(crate) error: &'static str,
    /// The JSON body's `error_description` and the gRPC message; `None` where the refusal says
    /// why (a token's verification error, the missing scopes).
    pub(crate) description: Option<&'static str>,
    pub(crate) grpc: GrpcCode,
}

impl Reason {
    /// Every reason, for the tests that walk the table.
    #[cfg(test)]
    pub(crate) const ALL: [Self; 7] = [
        Self::SignedOut,
        Self::SignupPending,
        Self::MalformedToken,
        Self::InvalidToken,
        Self::TokenUncheckable,
        Self::SessionUnavailable,
        Self::Forbidden,
    ];

    /// The table.
    pub(crate) const fn row(self) -> Row {
        use Challenge::{Bearer, InsufficientScope, Token};
        use GrpcCode::{PermissionDenied, Unauthenticated, Unavailable};
        const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
        const UNAVAILABLE: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
        #[rustfmt::skip]
        let (status, challenge, error, description, grpc) = match self {
            Self::SignedOut =>          (UNAUTHORIZED, Bearer, "unauthenticated", Some("sign in required"), Unauthenticated),
            Self::SignupPending =>      (UNAUTHORIZED, Bearer, "unauthenticated", Some("sign-up not completed"), Unauthenticated),
            Self::MalformedToken =>     (UNAUTHORIZED, Token("invalid_request"), "invalid_request", None, Unauthenticated),
            Self::InvalidToken =>       (UNAUTHORIZED, Token("invalid_token"), "invalid_token", None, Unauthenticated),
            Self::TokenUncheckable =>   (UNAVAILABLE, Challenge::None, "temporarily_unavailable", Some("the bearer token cannot be checked right now; try again later"), Unavailable),
            Self::SessionUnavailable => (UNAVAILABLE, Challenge::None, "temporarily_unavailable", Some("the session cannot be renewed right now; try again later"), Unavailable),
            Self::Forbidden =>          (StatusCode::FORBIDDEN, InsufficientScope, "insufficient_scope", None, PermissionDenied),
        };
        Row {
            status,
            challenge,
            error,
            description,
            grpc,
        }
    }
}

/// One refusal: its reason, and what the table leaves to the case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) reason: Reason,
    /// Why, where the row has no description; never echoes a token.
    pub(crate) detail: Option<String>,
    /// The scopes to name in the challenge and the body (`Forbidden`).
    pub(crate) scope: Option<String>,
    /// When to come back (the 503s).
    pub(crate) retry_after: Option<Duration>,
    /// Where a pending sign-up is completed (`SignupPending`).
    pub(crate) completion: Option<String>,
}

impl Refusal {
    /// A refusal for `reason`, with `detail` where the row has no description.
    pub(crate) fn new(reason: Reason, detail: Option<String>) -> Self {
        let retry_after =
            (reason.row().status == StatusCode::SERVICE_UNAVAILABLE).then_some(DEFAULT_RETRY_AFTER);
        Self {
            reason,
            detail,
            scope: None,
            retry_after,
            completion: None,
        }
    }

    /// A signed-in user refused by a requirement: `description` says which, `scope` names the
    /// scopes it needs (if it is about scopes).
    #[cfg(any(feature = "axum", feature = "tonic"))]
    pub(crate) fn forbidden(description: String, scope: Option<String>) -> Self {
        Self {
            scope,
            ..Self::new(Reason::Forbidden, Some(description))
        }
    }

    /// The JSON body's `error_description` and the gRPC message.
    pub(crate) fn description(&self) -> &str {
        self.reason
            .row()
            .description
            .or(self.detail.as_deref())
            .unwrap_or_default()
    }
}
