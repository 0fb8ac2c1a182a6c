//! Refresh tokens: rotation, reuse detection revoking the chain, scope narrowing, expiry.

use std::time::Duration;

use logi::testing::{Endpoint, TestProvider};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};

use crate::helpers::*;

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_chain() {
    let provider = TestProvider::start().await.unwrap();
    let first = sign_in(&provider, "openid email").await;
    let first_id = claims(first["id_token"].as_str().unwrap());
    let first_refresh = first["refresh_token"].as_str().unwrap();

    let response = refresh(&provider, first_refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CACHE_CONTROL), "no-store");
    let second = body_json(response).await;
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(second["expires_in"], 900);
    assert_eq!(second["scope"], "openid email");
    assert_ne!(second["access_token"], first["access_token"]);
    let second_id_token = second["id_token"].as_str().unwrap();
    assert!(verify_rs256(&provider.jwks(), second_id_token));
    let second_id = claims(second_id_token);
    assert_eq!(second_id["sub"], first_id["sub"]);
    assert_eq!(second_id["sid"], first_id["sid"]);
    assert_eq!(second_id["auth_time"], first_id["auth_time"]);
    assert!(second_id.get("nonce").is_none());
    let second_access = second["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo(&provider, second_access).await.status(),
        StatusCode::OK
    );

    let third = body_json(refresh(&provider, second_refresh).await).await;
    let newest_refresh = third["refresh_token"].as_str().unwrap();
    let newest_access = third["access_token"].as_str().unwrap();

    // Replaying a spent token: the chain dies, newest tokens included.
    assert_invalid_grant(
        refresh(&provider, first_refresh).await,
        "refresh token reuse detected; chain revoked",
    )
    .await;
    assert_error(
        refresh(&provider, newest_refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let response = userinfo(&provider, newest_access).await;
    assert_eq!(
        header(&response, WWW_AUTHENTICATE),
        r#"Bearer error="invalid_token""#
    );
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Another sign-in is another chain.
    let other = sign_in(&provider, "openid").await;
    let response = refresh(&provider, other["refresh_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_invalid_grant(
        refresh(&provider, "no-such-token").await,
        "refresh token not found",
    )
    .await;
}

#[tokio::test]
async fn refresh_can_narrow_scope_never_widen_and_stays_with_its_client() {
    let provider = TestProvider::start().await.unwrap();
    let other = register_other_client(&provider);
    let tokens = sign_in(&provider, "openid profile:basic email").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let response = http()
        .post(provider.url(Endpoint::Token))
        .basic_auth(&other.client_id, other.client_secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let response = refresh_scoped(&provider, refresh_token, "openid phone").await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;

    let response = refresh_scoped(&provider, refresh_token, "openid email").await;
    assert_eq!(response.status(), StatusCode::OK);
    let narrowed = body_json(response).await;
    assert_eq!(narrowed["scope"], "openid email");
    assert_eq!(
        claims(narrowed["access_token"].as_str().unwrap())["scope"],
        "openid email"
    );

    // The next refresh without `scope` gets the whole original grant back.
    let again =
        body_json(refresh(&provider, narrowed["refresh_token"].as_str().unwrap()).await).await;
    assert_eq!(again["scope"], "openid profile:basic email");
}

#[tokio::test]
async fn refresh_tokens_expire() {
    let provider = TestProvider::builder()
        .refresh_token_ttl(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let tokens = sign_in(&provider, "openid").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_invalid_grant(
        refresh(&provider, tokens["refresh_token"].as_str().unwrap()).await,
        "refresh token expired",
    )
    .await;
}
