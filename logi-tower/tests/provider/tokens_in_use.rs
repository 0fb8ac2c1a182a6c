//! Tokens in use: userinfo by scope and its bearer challenges, revocation (RFC 7009),
//! and RP-initiated logout.

use std::time::Duration;

use logi::testing::{Endpoint, TestClient, TestProvider, TestUser};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, WWW_AUTHENTICATE};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn userinfo_answers_what_the_scopes_allow() {
    let provider = TestProvider::start().await.unwrap();
    provider.add_user(TestUser {
        identity_verified_level: Some(2),
        ..TestUser::default().with_claim("team", "analytical-engine")
    });
    let profile = json!({
        "sub": "user-0001", "team": "analytical-engine",
        "full_name": "Ada Lovelace", "name": "Ada Lovelace", "preferred_name": "Ada",
    });
    let cases = [
        (
            "openid",
            json!({ "sub": "user-0001", "team": "analytical-engine" }),
        ),
        ("openid profile:basic", profile.clone()),
        ("openid profile", profile),
        (
            "openid email",
            json!({
                "sub": "user-0001", "team": "analytical-engine",
                "email": "ada@example.com", "email_verified": true,
            }),
        ),
        (
            "openid identity:level",
            json!({ "sub": "user-0001", "team": "analytical-engine", "identity_verified_level": 2 }),
        ),
    ];
    for (scope, expected) in cases {
        let tokens = sign_in(&provider, scope).await;
        let response = userinfo(&provider, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_json(response).await, expected, "{scope}");
    }

    // POST works too, and minted access tokens are accepted.
    let minted = provider.access_token(
        TestClient::DEFAULT_CLIENT_ID,
        "user-0001",
        &["openid", "email"],
        Duration::from_secs(60),
    );
    let response = http()
        .post(provider.url(Endpoint::Userinfo))
        .bearer_auth(&minted)
        .send()
        .await
        .unwrap();
    assert_eq!(body_json(response).await["email"], "ada@example.com");
}

#[tokio::test]
async fn userinfo_refuses_bad_tokens_with_bearer_challenge() {
    let provider = TestProvider::start().await.unwrap();
    let tokens = sign_in(&provider, "openid").await;
    let expired = provider.access_token(
        TestClient::DEFAULT_CLIENT_ID,
        "user-0001",
        &["openid"],
        Duration::ZERO,
    );
    let mut tampered = provider
        .access_token(
            TestClient::DEFAULT_CLIENT_ID,
            "user-0001",
            &["openid"],
            Duration::from_secs(60),
        )
        .into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let foreign = TestProvider::start().await.unwrap().access_token(
        TestClient::DEFAULT_CLIENT_ID,
        "user-0001",
        &["openid"],
        Duration::from_secs(60),
    );

    for bad in [
        Some(tokens["id_token"].as_str().unwrap()),
        Some(expired.as_str()),
        Some(tampered.as_str()),
        Some(foreign.as_str()),
        Some("not-a-jwt"),
        None,
    ] {
        let request = http().get(provider.url(Endpoint::Userinfo));
        let request = match bad {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.unwrap();
        assert_eq!(
            header(&response, WWW_AUTHENTICATE),
            r#"Bearer error="invalid_token""#
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn revocation() {
    let provider = TestProvider::start().await.unwrap();

    let response = revoke(&provider, "never-issued").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().is_empty());

    // Revoking a refresh token revokes its chain.
    let tokens = sign_in(&provider, "openid").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        revoke(&provider, refresh_token).await.status(),
        StatusCode::OK
    );
    assert_error(
        refresh(&provider, refresh_token).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo(&provider, access_token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Revoking an access token revokes only that token.
    let tokens = sign_in(&provider, "openid").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo(&provider, access_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        revoke(&provider, access_token).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        userinfo(&provider, access_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = refresh(&provider, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), StatusCode::OK);

    // Client authentication is required.
    let response = http()
        .post(provider.url(Endpoint::Revoke))
        .form(&[("token", "x"), ("client_id", TestClient::DEFAULT_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn end_session() {
    let provider = TestProvider::start().await.unwrap();
    let tokens = sign_in(&provider, "openid").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let logout = |params: Vec<(&'static str, &str)>| {
        let url = provider.url(Endpoint::EndSession);
        let params: Vec<(&str, String)> = params
            .into_iter()
            .map(|(name, value)| (name, value.to_owned()))
            .collect();
        async move { http().get(url).query(&params).send().await.unwrap() }
    };

    let response = logout(vec![
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", "http://localhost:3000/"),
        ("state", STATE),
    ])
    .await;
    assert!(header(&response, LOCATION).starts_with("http://localhost:3000/?"));
    assert_eq!(redirect_params(&response)["state"], STATE);

    let response = logout(vec![
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", "http://evil.test/"),
        ("state", STATE),
    ])
    .await;
    assert!(response.headers().get(LOCATION).is_none());
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(
        body["error_description"],
        "post_logout_redirect_uri not registered"
    );

    let response = logout(vec![("post_logout_redirect_uri", "http://localhost:3000/")]).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let response = logout(vec![("id_token_hint", id_token)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "content-type").starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("Signed out"));
}
