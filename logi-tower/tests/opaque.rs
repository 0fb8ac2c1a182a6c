//! Opaque bearer tokens, validated with the provider: introspection when discovery names it,
//! else userinfo; cached briefly.

#![cfg(all(feature = "testing", feature = "axum"))]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use logi::testing::{Endpoint, Fault, TestClient, TestProvider};
use logi::{LogiLayer, LogiLayerBuilder, LogiUser};
use tokio::net::TcpListener;

const API: &str = TestClient::DEFAULT_CLIENT_ID;

async fn start(introspection: bool) -> (TestProvider, String) {
    start_with(introspection, |b| b).await
}

/// The in-process provider issuing opaque tokens (with an introspection endpoint or not), and
/// an API behind a layer accepting them, configured further by `configure`.
async fn start_with(
    introspection: bool,
    configure: impl FnOnce(LogiLayerBuilder) -> LogiLayerBuilder,
) -> (TestProvider, String) {
    let provider = TestProvider::builder()
        .opaque_access_tokens(true)
        .introspection_endpoint(introspection)
        .start()
        .await
        .unwrap();
    let origin = serve_api(provider.issuer(), configure).await;
    (provider, origin)
}

/// An API on 127.0.0.1 behind a layer for `issuer` accepting opaque tokens; its origin.
async fn serve_api(
    issuer: &str,
    configure: impl FnOnce(LogiLayerBuilder) -> LogiLayerBuilder,
) -> String {
    let builder = LogiLayer::builder()
        .issuer(issuer)
        .audience(API)
        .client_id(API)
        .client_secret(TestClient::DEFAULT_CLIENT_SECRET)
        .opaque_tokens(true);
    let logi = configure(builder).build().await.unwrap();
    let app =
        Router::new()
            .route(
                "/me",
                get(|user: LogiUser| async move {
                    format!("{} [{}]", user.sub(), user.scopes().join(" "))
                }),
            )
            .layer(logi);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

async fn get_me(origin: &str, token: &str) -> (u16, String, Option<String>) {
    let response = reqwest::Client::new()
        .get(format!("{origin}/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), challenge)
}

#[tokio::test]
async fn introspection_validates_opaque_tokens_once_per_cache_period() {
    let (provider, origin) = start(true).await;
    let token = provider.access_token(
        API,
        "user-0001",
        &["openid", "orders:read"],
        Duration::from_secs(600),
    );
    assert!(
        token.starts_with("opq_"),
        "the provider issues opaque tokens"
    );
    for _ in 0..50 {
        assert_eq!(
            get_me(&origin, &token).await.1,
            "user-0001 [openid orders:read]"
        );
    }
    assert_eq!(
        provider.calls(Endpoint::Introspection),
        1,
        "cached after the first answer"
    );
    assert_eq!(provider.calls(Endpoint::Jwks), 0, "no JWT was involved");

    let (status, _, challenge) = get_me(&origin, "opq_not-a-token-the-provider-issued").await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some(
            "Bearer error=\"invalid_token\", error_description=\"inactive: the provider says the token is not active\""
        )
    );

    // Another client's token is not meant for this API.
    let other = provider.access_token(
        "logi_other_client",
        "user-0001",
        &["openid"],
        Duration::from_secs(600),
    );
    assert_eq!(get_me(&origin, &other).await.0, 401);

    // The provider cannot answer: 503, not 401, and the token is not judged.
    provider.set_fault(Endpoint::Introspection, Fault::Status(503));
    let fresh = provider.access_token(API, "user-0002", &["openid"], Duration::from_secs(600));
    let (status, _, _) = get_me(&origin, &fresh).await;
    assert_eq!(status, 503);
    provider.clear_fault(Endpoint::Introspection);
    assert_eq!(get_me(&origin, &fresh).await.0, 200);
}

/// Without introspection, nothing tells whom an opaque token was issued for: userinfo answers
/// for any token of any client of the provider. Refused unless the app opted in, without a call.
#[tokio::test]
async fn without_introspection_opaque_tokens_are_refused_by_default() {
    let (provider, origin) = start(false).await;
    let token = provider.access_token(API, "user-0001", &["openid"], Duration::from_secs(600));
    let other = provider.access_token(
        "logi_other_client",
        "user-0001",
        &["openid"],
        Duration::from_secs(600),
    );
    for token in [&token, &other] {
        let (status, _, challenge) = get_me(&origin, token).await;
        assert_eq!(status, 401);
        assert_eq!(
            challenge.as_deref(),
            Some(
                "Bearer error=\"invalid_token\", error_description=\"aud_mismatch: the provider cannot tell whom an opaque token is for (no introspection endpoint)\""
            )
        );
    }
    assert_eq!(provider.calls(Endpoint::Userinfo), 0, "nothing to ask");
}

#[tokio::test]
async fn userinfo_vouches_for_the_token_when_the_app_opted_in() {
    let (provider, origin) = start_with(false, |b| b.opaque_tokens_via_userinfo(true)).await;
    let token = provider.access_token(
        API,
        "user-0001",
        &["openid", "email"],
        Duration::from_secs(600),
    );
    for _ in 0..20 {
        let (status, body, _) = get_me(&origin, &token).await;
        assert_eq!(status, 200);
        assert_eq!(body, "user-0001 []", "userinfo does not tell the scopes");
    }
    assert_eq!(provider.calls(Endpoint::Userinfo), 1);
    assert_eq!(get_me(&origin, "opq_unknown").await.0, 401);
}

/// `count` requests with `token` at once; their statuses.
async fn at_once(origin: &str, token: &str, count: usize) -> Vec<u16> {
    let requests: Vec<_> = (0..count)
        .map(|_| {
            let (origin, token) = (origin.to_owned(), token.to_owned());
            tokio::spawn(async move { get_me(&origin, &token).await.0 })
        })
        .collect();
    let mut statuses = Vec::with_capacity(count);
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_one_bad_token_costs_one_introspection() {
    // A refusal remembered for longer than the test can take, however slow the machine: what
    // is counted is calls per remembered refusal, not a rate.
    let (provider, origin) = start_with(true, |b| {
        b.opaque_token_refusal_ttl(Duration::from_secs(600))
    })
    .await;
    // Slow enough that every request of the burst arrives while the first call is out.
    provider.set_fault(
        Endpoint::Introspection,
        Fault::Delay(Duration::from_millis(300)),
    );
    let bad = "opq_not-a-token-the-provider-issued";
    assert!(at_once(&origin, bad, 50).await.iter().all(|s| *s == 401));
    provider.clear_fault(Endpoint::Introspection);
    for _ in 0..50 {
        assert_eq!(get_me(&origin, bad).await.0, 401);
    }
    assert_eq!(
        provider.calls(Endpoint::Introspection),
        1,
        "one call for the burst and the requests after it"
    );
    // Another bad token is another question.
    assert_eq!(get_me(&origin, "opq_another-bad-one").await.0, 401);
    assert_eq!(provider.calls(Endpoint::Introspection), 2);
}

#[tokio::test]
async fn a_refusal_is_remembered_for_the_refusal_ttl_only() {
    let ttl = Duration::from_millis(400);
    let (provider, origin) = start_with(true, |b| b.opaque_token_refusal_ttl(ttl)).await;
    let bad = "opq_not-a-token-the-provider-issued";
    let started = std::time::Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_millis(1_300) {
        assert_eq!(get_me(&origin, bad).await.0, 401);
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let calls = provider.calls(Endpoint::Introspection);
    // Each call's refusal is remembered for `ttl` after it: at most one call per `ttl`, however
    // many requests (and however slow the machine).
    let most = u64::try_from(elapsed.as_millis() / ttl.as_millis()).unwrap() + 1;
    assert!(
        (1..=most).contains(&calls),
        "{calls} calls for {rounds} requests in {elapsed:?} of {ttl:?} periods"
    );
    // And forgotten after it: the next request asks again, once.
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(get_me(&origin, bad).await.0, 401);
    assert_eq!(provider.calls(Endpoint::Introspection), calls + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_new_token_make_one_introspection() {
    let (provider, origin) = start(true).await;
    let token = provider.access_token(API, "user-0001", &["openid"], Duration::from_secs(600));
    provider.set_fault(
        Endpoint::Introspection,
        Fault::Delay(Duration::from_millis(300)),
    );
    assert!(at_once(&origin, &token, 50).await.iter().all(|s| *s == 200));
    assert_eq!(provider.calls(Endpoint::Introspection), 1);
    // And the provider's answer is what the cache remembers.
    provider.clear_fault(Endpoint::Introspection);
    assert_eq!(get_me(&origin, &token).await.0, 200);
    assert_eq!(provider.calls(Endpoint::Introspection), 1);
}

/// A provider that is only what these tests need: discovery, an empty key set, and an
/// introspection endpoint answering from `answers` (`{"active": false}` for other tokens),
/// counting its calls.
struct FakeProvider {
    issuer: String,
    calls: Arc<AtomicUsize>,
}

/// What the fake introspection endpoint answers for each token, and its call count.
type FakeState = (
    Arc<HashMap<&'static str, serde_json::Value>>,
    Arc<AtomicUsize>,
);

async fn fake_provider(answers: Vec<(&'static str, serde_json::Value)>) -> FakeProvider {
    use axum::extract::{Form, State};
    use axum::routing::post;
    use serde_json::json;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let discovery = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    });
    let answers: Arc<HashMap<&'static str, serde_json::Value>> =
        Arc::new(answers.into_iter().collect());
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route("/jwks", get(|| async { axum::Json(json!({"keys": []})) }))
        .route(
            "/introspect",
            post(
                |State((answers, calls)): State<FakeState>,
                 Form(form): Form<HashMap<String, String>>| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let token = form.get("token").map_or("", String::as_str);
                    axum::Json(
                        answers
                            .get(token)
                            .cloned()
                            .unwrap_or_else(|| json!({"active": false})),
                    )
                },
            ),
        )
        .with_state((answers, Arc::clone(&calls)));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FakeProvider { issuer, calls }
}

#[tokio::test]
async fn introspection_answers_about_other_tokens_or_other_apis_are_refusals() {
    use serde_json::json;
    let live = |extra: serde_json::Value| {
        let mut answer = json!({"active": true, "sub": "user-0001", "client_id": API,
            "scope": "openid", "exp": 4_000_000_000u64});
        for (k, v) in extra.as_object().unwrap() {
            answer[k] = v.clone();
        }
        answer
    };
    let provider = fake_provider(vec![
        ("opq_access", live(json!({"token_type": "Bearer"}))),
        ("opq_access_untyped", live(json!({}))),
        ("opq_refresh", live(json!({"token_type": "refresh_token"}))),
        (
            "opq_refresh_urn",
            live(json!({"token_type": "urn:ietf:params:oauth:token-type:refresh_token"})),
        ),
        ("opq_dpop", live(json!({"token_type": "DPoP"}))),
        (
            "opq_other_api",
            live(json!({"token_type": "Bearer", "aud": "https://other-api.example"})),
        ),
        (
            "opq_other_client",
            live(json!({"token_type": "Bearer", "client_id": "logi_other_client"})),
        ),
    ])
    .await;
    let origin = serve_api(&provider.issuer, |b| b).await;
    for token in ["opq_access", "opq_access_untyped"] {
        let (status, body, _) = get_me(&origin, token).await;
        assert_eq!(
            (status, body.as_str()),
            (200, "user-0001 [openid]"),
            "{token}"
        );
    }
    for (token, refusal) in [
        ("opq_refresh", "not_an_access_token"),
        ("opq_refresh_urn", "not_an_access_token"),
        ("opq_dpop", "not_an_access_token"),
        ("opq_other_api", "aud_mismatch"),
        ("opq_other_client", "aud_mismatch"),
    ] {
        let (status, _, challenge) = get_me(&origin, token).await;
        assert_eq!(status, 401, "{token}");
        let challenge = challenge.unwrap();
        assert!(
            challenge.starts_with(&format!(
                "Bearer error=\"invalid_token\", error_description=\"{refusal}: "
            )),
            "{token}: {challenge}"
        );
        // Remembered: asked once.
        let before = provider.calls.load(Ordering::SeqCst);
        assert_eq!(get_me(&origin, token).await.0, 401);
        assert_eq!(provider.calls.load(Ordering::SeqCst), before, "{token}");
    }
}

/// A request that goes away while its token is being introspected takes neither the call nor
/// the requests waiting for it along: the next one gets the same answer, without a second call.
#[tokio::test]
async fn an_abandoned_request_does_not_cancel_the_introspection() {
    let (provider, origin) = start(true).await;
    let token = provider.access_token(API, "user-0001", &["openid"], Duration::from_secs(600));
    provider.set_fault(
        Endpoint::Introspection,
        Fault::Delay(Duration::from_millis(400)),
    );
    let gave_up = reqwest::Client::new()
        .get(format!("{origin}/me"))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(gave_up.unwrap_err().is_timeout());
    let (status, body, _) = get_me(&origin, &token).await;
    assert_eq!((status, body.as_str()), (200, "user-0001 [openid]"));
    assert_eq!(provider.calls(Endpoint::Introspection), 1);
}
