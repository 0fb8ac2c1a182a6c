//! A refused delivery: why ([`WebhookErrorKind`], its code, status and description) and the
//! response it becomes. Must not touch: deciding whether a delivery is refused, or anything
//! from the request (no header, body or key goes into an error).

use std::fmt;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

/// Why a delivery was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookErrorKind {
    /// No `X-Logi-Signature`.
    MissingSignature,
    /// `X-Logi-Signature` or `X-Logi-Timestamp` sent more than once.
    DuplicateHeader,
    /// `X-Logi-Signature` in neither format.
    MalformedSignature,
    /// A legacy signature without `X-Logi-Timestamp`.
    MissingTimestamp,
    /// `X-Logi-Timestamp` is not Unix seconds.
    MalformedTimestamp,
    /// The timestamp is further from this server's clock than the tolerance.
    OutsideTolerance,
    /// No key has the delivery's `kid` (or, for the legacy format, no legacy secret is set),
    /// and none could be fetched.
    UnknownKid,
    /// The signature does not match the body.
    BadSignature,
    /// The signature was accepted before, inside the time window.
    Replayed,
    /// The body is larger than the limit.
    BodyTooLarge,
    /// The body could not be read.
    UnreadableBody,
    /// The verified body is not a JSON object naming its event.
    MalformedPayload,
    /// The replay memory is full of deliveries still inside their window: 503, retry later.
    TooManyDeliveries,
    /// The event withdraws a user's access and the verifier ends their sessions
    /// ([`WebhookVerifierBuilder::end_sessions`](super::WebhookVerifierBuilder::end_sessions)),
    /// but they could not be ended right now: 503, and the delivery is not remembered, so that
    /// its redelivery is tried again.
    SessionsUnavailable,
    /// No [`WebhookVerifier`](super::WebhookVerifier) was found for the extractor: a bug in the
    /// app's wiring, 500.
    VerifierMissing,
    /// The coordination where accepted deliveries are remembered
    /// ([`WebhookVerifierBuilder::coordination`](super::WebhookVerifierBuilder::coordination))
    /// failed, so the delivery cannot be checked for replay: 503, retry later.
    ReplayMemoryUnavailable,
}

impl WebhookErrorKind {
    /// A stable machine code, sent as `error` in the response body.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::DuplicateHeader => "duplicate_header",
            Self::MalformedSignature => "malformed_signature",
            Self::MissingTimestamp => "missing_timestamp",
            Self::MalformedTimestamp => "malformed_timestamp",
            Self::OutsideTolerance => "timestamp_out_of_tolerance",
            Self::UnknownKid => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Replayed => "replayed",
            Self::BodyTooLarge => "body_too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::MalformedPayload => "malformed_payload",
            Self::TooManyDeliveries => "too_many_deliveries",
            Self::SessionsUnavailable => "sessions_unavailable",
            Self::VerifierMissing => "verifier_missing",
            Self::ReplayMemoryUnavailable => "replay_memory_unavailable",
        }
    }

    /// The response status: 401 for every refusal of the delivery, 503 when the replay memory is
    /// full or failing or the user's sessions cannot be ended, 500 when the app forgot the
    /// verifier.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            Self::TooManyDeliveries | Self::SessionsUnavailable | Self::ReplayMemoryUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::VerifierMissing => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::MissingSignature => "X-Logi-Signature is missing",
            Self::DuplicateHeader => "X-Logi-Signature or X-Logi-Timestamp is sent more than once",
            Self::MalformedSignature => "X-Logi-Signature is malformed",
            Self::MissingTimestamp => "X-Logi-Timestamp is missing",
            Self::MalformedTimestamp => "X-Logi-Timestamp is malformed",
            Self::OutsideTolerance => "the timestamp is outside the accepted window",
            Self::UnknownKid => "no key for this signature",
            Self::BadSignature => "the signature does not match the body",
            Self::Replayed => "this delivery was already received",
            Self::BodyTooLarge => "the body is too large",
            Self::UnreadableBody => "the body could not be read",
            Self::MalformedPayload => "the body is not a JSON object naming its event",
            Self::TooManyDeliveries => "too many recent deliveries; retry later",
            Self::SessionsUnavailable => {
                "the user's sessions cannot be ended right now; retry later"
            }
            Self::VerifierMissing => {
                "no WebhookVerifier: is `Extension(verifier)` or `WebhookLayer` installed in front of this route?"
            }
            Self::ReplayMemoryUnavailable => {
                "deliveries cannot be checked for replay right now; retry later"
            }
        }
    }
}

/// A refused delivery. As a response: its [status](WebhookErrorKind::status) and
/// `{"error": code, "error_description": reason}`, never anything from the request.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookError {
    kind: WebhookErrorKind,
}

impl WebhookError {
    pub(crate) fn new(kind: WebhookErrorKind) -> Self {
        Self { kind }
    }

    /// Why the delivery was refused.
    #[must_use]
    pub fn kind(&self) -> WebhookErrorKind {
        self.kind
    }

    /// The status of the response this error becomes.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The response: status and short JSON reason.
    pub(crate) fn response(&self) -> Response<Bytes> {
        let body = serde_json::json!({
            "error": self.kind.code(),
            "error_description": self.kind.description(),
        });
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        response
    }
}

impl fmt::Debug for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookError")
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "logi webhook refused: {}", self.kind.description())
    }
}

impl std::error::Error for WebhookError {}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for WebhookError {
    fn into_response(self) -> axum_core::response::Response {
        self.response().map(axum_core::body::Body::from)
    }
}
