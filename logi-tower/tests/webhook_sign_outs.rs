//! Webhooks that withdraw a user's access end that user's sessions, over real HTTP: a verifier
//! built with `end_sessions(logi.sessions())` in front of an app's webhook route (through the
//! `LogiWebhook` extractor and through `WebhookLayer`), deliveries signed here, browsers that
//! show whether they are still signed in.

#![cfg(all(feature = "testing", feature = "axum", feature = "webhooks"))]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::routing::post;
use axum::{Extension, Router};
use logi::LogiLayer;
use logi::store::{MemoryStore, StoreError};
use logi::testing::TestProvider;
use logi::webhooks::{LogiWebhook, WebhookLayer, WebhookVerifier};
use serde_json::{Value, json};
use support::clock::unix_now;
use support::coordination::{Call, Hook, Hooked};
use support::{App, Browser, start_app, webhook_signing};

const SECRET: &str = "whsec_one_0123456789";
const USER: &str = "user-0001";

/// The test app, with a webhook route behind the extractor and one behind the layer, both
/// ending sessions.
fn routes(logi: &LogiLayer) -> Router {
    let verifier = WebhookVerifier::builder()
        .secret("k1", SECRET)
        .end_sessions(logi.sessions())
        .build()
        .unwrap();
    let layered = Router::new()
        .route(
            "/webhooks/layer",
            post(|LogiWebhook(event): LogiWebhook| async move { event.name().to_owned() }),
        )
        .layer(WebhookLayer::new(verifier.clone()));
    support::routes(logi)
        .route(
            "/webhooks/logi",
            post(|LogiWebhook(event): LogiWebhook| async move { event.name().to_owned() }),
        )
        .layer(Extension(verifier))
        .merge(layered)
}

fn signature(body: &[u8]) -> String {
    webhook_signing::signature(SECRET, "k1", unix_now(), body)
}

/// Delivers `event` to `path`, signed; the status and body.
async fn deliver(app: &App, path: &str, event: &Value) -> (u16, String) {
    let body = event.to_string();
    let response = reqwest::Client::new()
        .post(format!("{}{path}", app.origin))
        .header("x-logi-signature", signature(body.as_bytes()))
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn dashboard(browser: &mut Browser, app: &App) -> u16 {
    browser
        .status_of(&format!("{}/dashboard", app.origin))
        .await
}

/// Each access-withdrawing event ends the user's sessions, through either route; other events
/// and other users leave them alone.
async fn withdrawing_events_end_sessions(app: &App) {
    let mut browser = Browser::new();
    browser.sign_in(app, "/").await;
    assert_eq!(dashboard(&mut browser, app).await, 200);

    // Not access-withdrawing, or about someone else: nothing ends.
    for event in [
        json!({"type": "user.merged", "data": {"sub": USER}}),
        json!({"type": "user.deleted", "data": {"sub": "user-0002"}}),
        json!({"type": "consent.revoked"}),
    ] {
        let (status, body) = deliver(app, "/webhooks/logi", &event).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(dashboard(&mut browser, app).await, 200, "{event}");
    }

    let withdrawing = [
        ("user.deleted", json!({"sub": USER})),
        ("user.unlinked", json!({"data": {"sub": USER}})),
        ("consent.revoked", json!({"user": {"sub": USER}})),
        ("token.revoked", json!({"data": {"sub": USER}})),
        ("user.grants_revoked", json!({"sub": USER})),
    ];
    for (i, (name, who)) in withdrawing.into_iter().enumerate() {
        // Sign-outs end the sessions signed in up to their millisecond.
        tokio::time::sleep(Duration::from_millis(2)).await;
        browser.sign_in(app, "/").await;
        assert_eq!(dashboard(&mut browser, app).await, 200, "{name}");
        let mut event = who;
        event["type"] = name.into();
        event["id"] = format!("evt_{i}").into();
        let path = if i % 2 == 0 {
            "/webhooks/logi"
        } else {
            "/webhooks/layer"
        };
        let (status, body) = deliver(app, path, &event).await;
        assert_eq!((status, body.as_str()), (200, name));
        assert_eq!(
            dashboard(&mut browser, app).await,
            302,
            "{name} ends the session"
        );
    }
}

#[tokio::test]
async fn with_a_memory_store() {
    let app = start_app(
        TestProvider::builder(),
        |b| b.session_store(MemoryStore::new()),
        routes,
    )
    .await;
    withdrawing_events_end_sessions(&app).await;
    assert!(app.logi.sessions().list(USER).await.unwrap().is_empty());
}

#[tokio::test]
async fn with_cookie_sessions() {
    let app = start_app(TestProvider::builder(), |b| b, routes).await;
    withdrawing_events_end_sessions(&app).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn with_a_redis_store() {
    let Some(server) = support::redis_server::RedisServer::start("webhook sign-outs on Redis")
    else {
        return;
    };
    let store = logi::store::RedisStore::connect(&server.url).await.unwrap();
    let app = start_app(TestProvider::builder(), |b| b.session_store(store), routes).await;
    withdrawing_events_end_sessions(&app).await;
}

/// A coordination hook that can be made to fail. The verifier's own records of accepted
/// deliveries (`webhook:` keys) keep working, so that what fails is ending sessions.
#[derive(Clone, Default)]
struct Flaky {
    down: Arc<AtomicBool>,
}

impl Hook for Flaky {
    async fn before(&self, _: Call, keys: &[&str]) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) && keys.iter().any(|key| !key.starts_with("webhook:")) {
            Err(StoreError::unavailable("down for the test"))
        } else {
            Ok(())
        }
    }
}

/// Sessions that cannot be ended right now: the delivery is 503 and not remembered, so logi's
/// redelivery of the same signed body ends them once the coordination is back.
#[tokio::test]
async fn a_delivery_whose_sessions_cannot_be_ended_is_503_and_retried() {
    let flaky = Flaky::default();
    let configured = flaky.clone();
    let app = start_app(
        TestProvider::builder(),
        |b| b.coordination(Hooked::new(configured)),
        routes,
    )
    .await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    assert_eq!(dashboard(&mut browser, &app).await, 200);

    let event = json!({"type": "user.deleted", "sub": USER});
    let body = event.to_string();
    let signature = signature(body.as_bytes());
    let send = || {
        reqwest::Client::new()
            .post(format!("{}/webhooks/logi", app.origin))
            .header("x-logi-signature", signature.clone())
            .body(body.clone())
            .send()
    };
    flaky.down.store(true, Ordering::SeqCst);
    let reply = send().await.unwrap();
    assert_eq!(reply.status(), 503);
    let refused: Value = reply.json().await.unwrap();
    assert_eq!(refused["error"], "sessions_unavailable");
    flaky.down.store(false, Ordering::SeqCst);
    assert_eq!(
        dashboard(&mut browser, &app).await,
        200,
        "nothing ended yet"
    );

    let reply = send().await.unwrap();
    assert_eq!(reply.status(), 200, "the redelivery is accepted");
    assert_eq!(dashboard(&mut browser, &app).await, 302);
    let replayed = send().await.unwrap();
    assert_eq!(replayed.status(), 401, "and then remembered");
}

/// Two instances of the app whose layers share a coordination on Redis: the verifier built with
/// `end_sessions(logi.sessions())` remembers accepted deliveries there, so a delivery the first
/// instance accepted is refused by the second, and a delivery is accepted once even when both
/// receive it at the same moment.
#[cfg(feature = "redis")]
#[tokio::test]
async fn instances_sharing_a_redis_coordination_accept_a_delivery_once() {
    let Some(server) = support::redis_server::RedisServer::start("webhook replays on Redis") else {
        return;
    };
    let mut instances = Vec::new();
    for _ in 0..2 {
        let coordination = logi::store::RedisStore::connect(&server.url).await.unwrap();
        instances.push(
            start_app(
                TestProvider::builder(),
                |b| b.coordination(coordination),
                routes,
            )
            .await,
        );
    }
    let event = json!({"type": "user.merged", "sub": USER, "id": "evt_1"});
    assert_eq!(
        deliver(&instances[0], "/webhooks/logi", &event).await.0,
        200
    );
    let (status, body) = deliver(&instances[1], "/webhooks/logi", &event).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("replayed"), "{body}");
    let (status, body) = deliver(&instances[1], "/webhooks/layer", &event).await;
    assert_eq!((status, body.contains("replayed")), (401, true), "{body}");

    // The same new delivery to both at once: exactly one accepts it.
    for n in 0..20 {
        let event = json!({"type": "user.merged", "sub": USER, "id": format!("evt_race_{n}")});
        let (a, b) = tokio::join!(
            deliver(&instances[0], "/webhooks/logi", &event),
            deliver(&instances[1], "/webhooks/logi", &event),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 401], "{a:?} {b:?}");
    }
}

/// A verifier that would end the sessions of a layer without any is refused when built.
#[tokio::test]
async fn ending_sessions_needs_a_layer_that_signs_users_in() {
    let provider = TestProvider::start().await.unwrap();
    let api = LogiLayer::builder()
        .issuer(provider.issuer())
        .audience("logi_api")
        .build()
        .await
        .unwrap();
    let error = WebhookVerifier::builder()
        .secret("k1", SECRET)
        .end_sessions(api.sessions())
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("end_sessions"), "{error}");
}
