//! The webhooks example: an app receiving logi webhooks at `POST /webhooks/logi`, whose
//! [`members`] sign in with logi and join through a first-login form.
//!
//! A verified delivery is answered with 200 and the event's name (and printed); anything else
//! is refused by [`LogiWebhook`]: 401 with `{"error": …, "error_description": …}`. Other methods
//! are 405. An event that withdraws a user's access (`user.deleted`, `consent.revoked`, …) ends
//! that user's sessions before the handler runs ([`verifier`]), and a `user.deleted` event also
//! removes the member it names from the [`Directory`].

use aws_lc_rs::hmac;
use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Router};
use logi::webhooks::{EventKind, LogiWebhook, WebhookVerifier};
use logi::{ConfigError, LogiLayer};

use crate::members::{self, Directory};

/// The path logi delivers to.
pub const PATH: &str = "/webhooks/logi";

/// The key id of the secret generated when `LOGI_WEBHOOK_SECRETS` is not set.
pub const DEVELOPMENT_KID: &str = "dev";

/// The whole example app from a layer builder and `LOGI_WEBHOOK_SECRETS`: members signing in
/// with first-login completion ([`members::with_first_login`]) and webhooks verified by
/// [`verifier`]; also the member directory they share.
///
/// # Errors
/// When the layer cannot be built or the secrets are unusable.
pub async fn build(
    builder: logi::LogiLayerBuilder,
    secrets: &str,
) -> Result<(Router, Directory), ConfigError> {
    let directory = Directory::default();
    let logi = members::with_first_login(builder, &directory)
        .build()
        .await?;
    let verifier = verifier(secrets, &logi)?;
    Ok((app(verifier, directory.clone(), logi), directory))
}

/// The app: webhooks verified with `verifier`, and the members' pages behind `logi` (built
/// with [`members::with_first_login`] over the same `directory`).
pub fn app(verifier: WebhookVerifier, directory: Directory, logi: LogiLayer) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .layer(Extension(verifier))
        .with_state(directory.clone())
        .merge(members::routes(directory))
        .layer(logi)
}

#[allow(clippy::print_stdout)] // printing each event is what the example shows
async fn receive(State(directory): State<Directory>, LogiWebhook(event): LogiWebhook) -> String {
    println!(
        "webhooks: {} (sub {}, key {})",
        event.name(),
        event.sub().unwrap_or("-"),
        event.key_id().unwrap_or("legacy"),
    );
    // The verifier has already ended the sessions of a user whose access is withdrawn.
    if let (EventKind::UserDeleted, Some(sub)) = (event.kind(), event.sub()) {
        let removed = directory.remove_sub(sub);
        tracing::info!(sub, removed, "user.deleted: removed the member");
    }
    event.name().to_owned()
}

/// A verifier for `LOGI_WEBHOOK_SECRETS` (comma-separated `kid:secret` pairs, a bare `secret`
/// being the legacy key) that ends the sessions of `logi`'s users whose access an event
/// withdraws.
///
/// # Errors
/// When the value is empty or an entry is unusable.
pub fn verifier(secrets: &str, logi: &LogiLayer) -> Result<WebhookVerifier, ConfigError> {
    WebhookVerifier::builder()
        .secrets(secrets)
        .end_sessions(logi.sessions())
        .build()
}

/// A random secret for development: `whsec_` and 64 hex digits.
///
/// # Panics
/// When the system's random generator fails.
#[must_use]
pub fn generate_secret() -> String {
    let mut bytes = [0; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random generator");
    format!("whsec_{}", hex(&bytes))
}

/// `X-Logi-Signature` in the current format for `body`, signed at `timestamp` with `secret`
/// under `kid`, as logi sends it.
#[must_use]
pub fn signature(secret: &str, kid: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "t={timestamp},kid={kid},v1={}",
        hex(hmac::sign(&key, body).as_ref())
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
