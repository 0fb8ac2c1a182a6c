//! Where the layer learns that a user's access was withdrawn (back-channel logout,
//! `LogiSessions::end_all`, and so the webhooks that end a user's sessions through it), the
//! bearer access tokens of that user (or of that provider session, by their `sid`) issued
//! before are refused too, `401 invalid_token`, through the same denylist and the same
//! coordination; tokens issued after pass.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::time::Duration;

use base64::Engine as _;
use logi::store::MemoryStore;
use logi::testing::{TestClient, TestProvider};
use support::{CLIENT_ID, start_with};

const USER: &str = "user-0001";

/// A real access token of `sub` from the provider, valid for an hour.
fn access_token(provider: &TestProvider, sub: &str) -> String {
    provider.access_token(CLIENT_ID, sub, &["openid"], Duration::from_secs(3600))
}

/// The `sid` claim of an access token.
fn sid_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

/// `GET /api/data` on `origin` with `token`: the status, and the `error` of the challenge.
async fn call(origin: &str, token: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{origin}/api/data"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

async fn assert_passes(origin: &str, token: &str, what: &str) {
    let (status, challenge) = call(origin, token).await;
    assert_eq!(status, 200, "{what} on {origin}: {challenge}");
}

async fn assert_withdrawn(origin: &str, token: &str, what: &str) {
    let (status, challenge) = call(origin, token).await;
    assert_eq!(status, 401, "{what} on {origin}");
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{what} on {origin}: {challenge}"
    );
}

/// Waits into the next second: a sign-out withdraws the tokens whose `iat` (in seconds) is at
/// or before it, so a token issued in the same second is withdrawn too.
async fn next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into_next = Duration::from_millis(1000 - u64::from(now.subsec_millis()) + 20);
    tokio::time::sleep(into_next).await;
}

/// POSTs a logout token to `origin`'s back-channel logout endpoint, as the provider would.
async fn back_channel(origin: &str, token: &str) {
    let response = reqwest::Client::new()
        .post(format!("{origin}/auth/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// `end_all` on one instance, with sealed cookie sessions (the in-memory denylist) or a store.
async fn end_all_withdraws_earlier_tokens(
    configure: fn(logi::LogiLayerBuilder) -> logi::LogiLayerBuilder,
) {
    let app = start_with(TestProvider::builder(), configure).await;
    let origin = &app.origin;
    let before = access_token(&app.provider, USER);
    let someone_else = access_token(&app.provider, "user-0002");
    // Verified and cached before the sign-out: the cache does not outlive it.
    assert_passes(origin, &before, "the user's token").await;
    assert_passes(origin, &someone_else, "another user's token").await;

    // Early in a second, so that the next token is minted in the second of the sign-out.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    if now.subsec_millis() > 500 {
        next_second().await;
    }
    app.logi.sessions().end_all(USER).await.unwrap();
    let fresh_copy = access_token(&app.provider, USER);
    assert_withdrawn(origin, &before, "a token issued before end_all").await;
    assert_withdrawn(origin, &fresh_copy, "a token issued in the same second").await;
    assert_passes(origin, &someone_else, "another user's token").await;

    next_second().await;
    let after = access_token(&app.provider, USER);
    assert_passes(origin, &after, "a token issued after end_all").await;
    assert_withdrawn(origin, &before, "a token issued before end_all").await;
}

#[tokio::test]
async fn end_all_with_cookie_sessions() {
    end_all_withdraws_earlier_tokens(|b| b).await;
}

#[tokio::test]
async fn end_all_with_a_session_store() {
    end_all_withdraws_earlier_tokens(|b| b.session_store(MemoryStore::new())).await;
}

/// A back-channel logout naming a provider session withdraws the tokens carrying its `sid`;
/// one naming the user withdraws all of theirs.
#[tokio::test]
async fn back_channel_logout_on_one_instance() {
    let app = start_with(TestProvider::builder(), |b| b).await;
    let origin = &app.origin;
    let in_session = access_token(&app.provider, USER);
    let in_other_session = access_token(&app.provider, USER);
    assert_passes(origin, &in_session, "the token").await;

    let logout = app
        .provider
        .logout_token(CLIENT_ID)
        .sid(sid_of(&in_session))
        .sign();
    back_channel(origin, &logout).await;
    assert_withdrawn(origin, &in_session, "a token of the signed-out sid").await;
    assert_passes(origin, &in_other_session, "a token of another sid").await;

    let logout = app.provider.logout_token(CLIENT_ID).sub(USER).sign();
    back_channel(origin, &logout).await;
    assert_withdrawn(origin, &in_other_session, "a token of the signed-out user").await;
    next_second().await;
    assert_passes(
        origin,
        &access_token(&app.provider, USER),
        "a token issued after",
    )
    .await;
}

/// Two instances (independent layers) sharing one real Redis: the logout the first receives
/// withdraws the token on the second, which verified and cached it before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_channel_logout_across_instances_sharing_redis() {
    let Some(server) = support::redis_server::RedisServer::start("bearer sign-outs on Redis")
    else {
        return;
    };
    let url = server.url.clone();
    let instances = support::start_instances_with(
        TestProvider::builder(),
        2,
        |client: TestClient, _| client,
        |b| {
            let url = url.clone();
            async move { b.coordination(logi::store::RedisStore::connect(&url).await.unwrap()) }
        },
    )
    .await;
    let (first, second) = (&instances.origins[0], &instances.origins[1]);
    let before = access_token(&instances.provider, USER);
    let someone_else = access_token(&instances.provider, "user-0002");
    for origin in [first, second] {
        assert_passes(origin, &before, "the user's token").await;
    }

    let logout = instances.provider.logout_token(CLIENT_ID).sub(USER).sign();
    back_channel(first, &logout).await;
    for origin in [first, second] {
        assert_withdrawn(origin, &before, "a token issued before the logout").await;
        assert_passes(origin, &someone_else, "another user's token").await;
    }
    next_second().await;
    let after = access_token(&instances.provider, USER);
    for origin in [first, second] {
        assert_passes(origin, &after, "a token issued after the logout").await;
    }
}

/// A webhook that withdraws the user's access (delivered to a verifier that ends sessions)
/// withdraws their earlier bearer tokens too.
#[cfg(feature = "webhooks")]
#[tokio::test]
async fn a_withdrawing_webhook() {
    use axum::Extension;
    use axum::routing::post;
    use logi::webhooks::{LogiWebhook, WebhookVerifier};
    use support::clock::unix_now;
    use support::webhook_signing;

    const SECRET: &str = "whsec_one_0123456789";
    let app = support::start_app(
        TestProvider::builder(),
        |b| b,
        |logi| {
            let verifier = WebhookVerifier::builder()
                .secret("k1", SECRET)
                .end_sessions(logi.sessions())
                .build()
                .unwrap();
            support::routes(logi)
                .route(
                    "/webhooks/logi",
                    post(|LogiWebhook(event): LogiWebhook| async move { event.name().to_owned() }),
                )
                .layer(Extension(verifier))
        },
    )
    .await;
    let before = access_token(&app.provider, USER);
    assert_passes(&app.origin, &before, "the user's token").await;

    let body = serde_json::json!({"type": "user.deleted", "id": "evt_1", "data": {"sub": USER}})
        .to_string();
    let signature = webhook_signing::signature(SECRET, "k1", unix_now(), body.as_bytes());
    let delivered = reqwest::Client::new()
        .post(format!("{}/webhooks/logi", app.origin))
        .header("x-logi-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);
    assert_withdrawn(&app.origin, &before, "a token issued before the webhook").await;
    next_second().await;
    let after = access_token(&app.provider, USER);
    assert_passes(&app.origin, &after, "a token issued after the webhook").await;
}

/// When the coordination cannot be asked, a bearer token cannot be checked against the
/// sign-outs: 503 (fail closed, as for cookie sessions), and served again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_coordination_is_503_for_bearer_tokens() {
    let Some((mut server, instances)) =
        support::one_instance_coordinated_on_redis("bearer sign-outs on Redis").await
    else {
        return;
    };
    let origin = &instances.origins[0];
    let token = access_token(&instances.provider, USER);
    assert_passes(origin, &token, "the token").await;

    server.stop();
    assert_eq!(call(origin, &token).await.0, 503);
    server.restart();
    // The connection comes back by itself; bounded wait for it.
    let mut status = 0;
    for _ in 0..50 {
        status = call(origin, &token).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
}
