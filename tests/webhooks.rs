//! The webhooks example (`cargo run --example webhooks`), over real HTTP on `localhost`: the
//! app is `logi_examples::webhooks::app` configured as the example configures it from
//! `LOGI_WEBHOOK_SECRETS` (its sign-in against the in-process provider), receiving deliveries
//! signed here with aws-lc-rs. Its first-login part is `tests/first_login.rs`.

use std::time::Duration;

use logi_examples::Localhost;
use logi_examples::webhooks::{self, PATH};

use self::clock::unix_now_signed as now;
use self::webhook_signing::{legacy_signature, mac};

#[path = "../logi-tower/tests/support/clock.rs"]
#[allow(dead_code, unreachable_pub)]
mod clock;
#[path = "../logi-tower/tests/support/webhook_signing.rs"]
#[allow(dead_code, unreachable_pub)]
mod webhook_signing;

const CURRENT: &str = "whsec_current_e2e";
const PREVIOUS: &str = "whsec_previous_e2e";
const LEGACY: &str = "whsec_legacy_e2e";

/// The example's app on `localhost:{port}`; its URL.
async fn start(secrets: &str) -> String {
    let localhost = Localhost::bind(0).await.unwrap();
    let port = localhost.port().unwrap();
    let (builder, provider) = logi_examples::development_builder(port).await.unwrap();
    let (app, _directory) = webhooks::build(builder, secrets)
        .await
        .expect("LOGI_WEBHOOK_SECRETS as the example reads it");
    tokio::spawn(async move {
        let _provider = provider; // serves as long as the app
        localhost.serve(app, std::future::pending()).await
    });
    format!("http://localhost:{port}{PATH}")
}

async fn post(url: &str, headers: &[(&str, String)], body: &str) -> (u16, String) {
    let mut request = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_example_answers_verified_deliveries_with_the_event_name() {
    let url = start(&format!("2026-q3:{CURRENT}, 2026-q2:{PREVIOUS}, {LEGACY}")).await;

    let body = r#"{"type":"user.deleted","sub":"user-0001"}"#;
    let signature = format!(
        "t={},kid=2026-q3,v1={}",
        now(),
        mac(CURRENT, body.as_bytes())
    );
    let delivered = post(&url, &[("X-Logi-Signature", signature.clone())], body).await;
    assert_eq!(delivered, (200, "user.deleted".to_owned()));

    // The same delivery again is a replay.
    let (status, reply) = post(&url, &[("X-Logi-Signature", signature)], body).await;
    assert_eq!(status, 401, "{reply}");
    assert!(reply.contains("\"replayed\""), "{reply}");

    // The previous key still works during the grace period; so does the legacy format.
    let body = r#"{"event":"consent.revoked","sub":"user-0002"}"#;
    let signature = format!(
        "t={},kid=2026-q2,v1={}",
        now(),
        mac(PREVIOUS, body.as_bytes())
    );
    let delivered = post(&url, &[("X-Logi-Signature", signature)], body).await;
    assert_eq!(delivered, (200, "consent.revoked".to_owned()));

    let body = r#"{"type":"webhook_key.compromised","kid":"2026-q1"}"#;
    let headers = [
        (
            "X-Logi-Signature",
            legacy_signature(LEGACY, body.as_bytes()),
        ),
        ("X-Logi-Timestamp", now().to_string()),
    ];
    let delivered = post(&url, &headers, body).await;
    assert_eq!(delivered, (200, "webhook_key.compromised".to_owned()));
}

#[tokio::test]
async fn the_example_refuses_anything_else() {
    let url = start(&format!("k1:{CURRENT}")).await;
    let body = r#"{"type":"user.deleted","sub":"user-0001"}"#;
    let wrong_key = format!("t={},kid=k1,v1={}", now(), mac(PREVIOUS, body.as_bytes()));
    for headers in [vec![], vec![("X-Logi-Signature", wrong_key)]] {
        let (status, reply) = post(&url, &headers, body).await;
        assert_eq!(status, 401, "{reply}");
        assert!(!reply.contains("whsec"), "{reply}");
    }
    let elsewhere = url.replace(PATH, "/webhooks/other");
    let signature = format!("t={},kid=k1,v1={}", now(), mac(CURRENT, body.as_bytes()));
    let (status, _) = post(&elsewhere, &[("X-Logi-Signature", signature)], body).await;
    assert_eq!(status, 404);
}

#[test]
fn the_printed_signature_is_one_the_app_accepts() {
    let secret = webhooks::generate_secret();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 64,
        "{secret}"
    );
    assert_ne!(secret, webhooks::generate_secret());
    let body = b"{}";
    assert_eq!(
        webhooks::signature(&secret, "dev", 1_700_000_000, body),
        format!("t=1700000000,kid=dev,v1={}", mac(&secret, body))
    );
}
