//! Receiving logi webhooks: verified, typed events.
//! Beside the layer (feature `webhooks`): owns verifying deliveries and ending sessions through
//! `LogiSessions`; it must not touch the request path of `LogiLayer`.
//!
//! logi signs each delivery with HMAC-SHA256 over the exact body bytes and sends the signature
//! in `X-Logi-Signature`, in one of two formats:
//!
//! - current: `t=<unix>,kid=<kid>,v1=<hex>`, under the secret of that `kid`;
//! - legacy: `sha256=<hex>`, under the legacy secret, with the timestamp in `X-Logi-Timestamp`.
//!
//! A [`WebhookVerifier`] holds the secrets (several at once, keyed by `kid`, for rotation) and
//! accepts a delivery only when its signature matches in constant time, its timestamp is within
//! ±5 minutes, it was not accepted before, its body is at most 1 MiB, and it is a JSON object
//! naming its event in `type` (or `event`). Anything else is answered with 401 and a short JSON
//! reason (`{"error":"bad_signature","error_description":"…"}`), and the handler never runs.
//!
//! Take the event in an axum handler with [`LogiWebhook`], or put [`WebhookLayer`] in front of
//! any tower service:
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{Extension, Router, routing::post};
//! use logi::webhooks::{LogiWebhook, WebhookVerifier};
//!
//! async fn receive(LogiWebhook(event): LogiWebhook) -> String {
//!     if let Some(sub) = event.access_withdrawn_from() {
//!         // Drop `sub`'s data and tokens (their sessions end by themselves with
//!         // `WebhookVerifierBuilder::end_sessions`).
//!     }
//!     event.name().to_owned()
//! }
//!
//! let verifier = WebhookVerifier::builder().secret("k1", "whsec_…").build()?;
//! let app: Router = Router::new()
//!     .route("/webhooks/logi", post(receive))
//!     .layer(Extension(verifier));
//! # }
//! # Ok::<(), logi::ConfigError>(())
//! ```
//!
//! ## Ending sessions
//!
//! Give the verifier [`LogiLayer::sessions`](crate::LogiLayer::sessions) with
//! [`WebhookVerifierBuilder::end_sessions`] and every access-withdrawing event (`user.deleted`,
//! `user.unlinked`, `consent.revoked`, `token.revoked`, `user.grants_revoked`) ends that user's
//! sessions before the handler runs, through the same mechanism as a back-channel logout.
//!
//! ## What the signature does not cover
//!
//! logi's MAC covers the body only, not the timestamp, so the time window alone cannot stop a
//! replay: the verifier also remembers every accepted signature for its
//! [replay window](WebhookVerifier::replay_window) (both tolerances and a clock skew, 11 minutes
//! by default), longer than any timestamp the delivery came with stays acceptable. Give it the
//! app's [`Coordination`](crate::store::Coordination) (Redis) and that memory is shared by every
//! instance and survives restarts: insert-if-absent, so one instance accepts a delivery. A
//! redelivery of the same body with the same key (a retry after your handler failed) is
//! therefore refused inside that window: make handlers succeed once they have seen the event,
//! and treat events as idempotent (past the window, the same body under a new timestamp cannot
//! be told from a new delivery).

mod builder;
mod error;
mod event;
#[cfg(feature = "axum")]
mod extract;
mod keys;
mod layer;
mod replay;
mod signature;
mod verifier;

pub use builder::WebhookVerifierBuilder;
pub use error::{WebhookError, WebhookErrorKind};
pub use event::{EventKind, LogiEvent};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use extract::LogiWebhook;
pub use keys::FetchError;
pub use layer::{Webhook, WebhookBody, WebhookLayer, WebhookResponseFuture};
pub use verifier::WebhookVerifier;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-logi-signature";
/// The timestamp header of the legacy format.
pub const TIMESTAMP_HEADER: &str = "x-logi-timestamp";
