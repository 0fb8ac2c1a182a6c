//! Opaque bearer tokens, validated with the provider: introspection when discovery names it,
//! else userinfo; cached briefly.

#![cfg(all(feature = "testing", feature = "axum"))]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use logi::testing::{Endpoint, Fault, TestClient, TestProvider};
use logi::{LogiLayer, LogiUser};
use tokio::net::TcpListener;

const API: &str = TestClient::DEFAULT_CLIENT_ID;

async fn start(introspection: bool) -> (TestProvider, String) {
    let provider = TestProvider::builder()
        .opaque_access_tokens(true)
        .introspection_endpoint(introspection)
        .start()
        .await
        .unwrap();
    let logi = LogiLayer::builder()
        .issuer(provider.issuer())
        .audience(API)
        .client_id(API)
        .client_secret(TestClient::DEFAULT_CLIENT_SECRET)
        .opaque_tokens(true)
        .build()
        .await
        .unwrap();
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
    (provider, origin)
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

#[tokio::test]
async fn without_introspection_userinfo_vouches_for_the_token() {
    let (provider, origin) = start(false).await;
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
