//! [`LogiWebhook`]: the axum extractor, finding the verifier (extension or state) or the event
//! [`WebhookLayer`](super::WebhookLayer) verified. Must not touch: how a delivery is verified.

use std::any::Any;

use axum_core::extract::{FromRequest, Request};

use super::{LogiEvent, WebhookError, WebhookErrorKind, WebhookVerifier};

/// A verified logi webhook delivery, for axum handlers. It reads the body, so it comes last
/// among a handler's extractors.
///
/// The verifier is taken from the request's extensions (`.layer(Extension(verifier))`), or is
/// the router's state when that state is a [`WebhookVerifier`]
/// (`Router::new().…​.with_state(verifier)`). Behind [`WebhookLayer`](super::WebhookLayer),
/// the event the layer verified is taken as is. Without any of them, the answer is 500 naming
/// the missing piece.
///
/// A refused delivery is answered with 401 and a short JSON reason; the handler does not run.
///
/// ```
/// use axum::{Router, routing::post};
/// use logi::webhooks::{LogiWebhook, WebhookVerifier};
///
/// async fn receive(LogiWebhook(event): LogiWebhook) -> &'static str {
///     if let Some(sub) = event.access_withdrawn_from() {
///         // Forget what the app keeps about `sub`.
///         let _ = sub;
///     }
///     "ok"
/// }
///
/// # fn main() -> Result<(), logi::ConfigError> {
/// let verifier = WebhookVerifier::builder()
///     .secrets("k1:whsec_an-example-secret-of-enough-length")
///     .build()?;
/// let app: Router = Router::new()
///     .route("/webhooks/logi", post(receive))
///     .with_state(verifier);
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct LogiWebhook(pub LogiEvent);

impl LogiWebhook {
    /// The event.
    #[must_use]
    pub fn into_inner(self) -> LogiEvent {
        self.0
    }
}

impl std::ops::Deref for LogiWebhook {
    type Target = LogiEvent;

    fn deref(&self) -> &LogiEvent {
        &self.0
    }
}

impl<S> FromRequest<S> for LogiWebhook
where
    S: Send + Sync + 'static,
{
    type Rejection = WebhookError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Only the verifier creates a `LogiEvent`: this one was verified by `WebhookLayer`.
        if let Some(event) = request.extensions().get::<LogiEvent>() {
            return Ok(Self(event.clone()));
        }
        let verifier = request
            .extensions()
            .get::<WebhookVerifier>()
            .or_else(|| (state as &dyn Any).downcast_ref::<WebhookVerifier>())
            .cloned();
        let Some(verifier) = verifier else {
            let error = WebhookError::new(WebhookErrorKind::VerifierMissing);
            tracing::error!("{error}");
            return Err(error);
        };
        let (parts, body) = request.into_parts();
        verifier.verify_body(&parts.headers, body).await.map(Self)
    }
}
