//! Authorization codes: single use, bound to client, redirect URI and verifier, expiring;
//! and what the ID token they buy carries.

use std::time::Duration;

use logi::testing::{Endpoint, TestProvider};
use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn identity_claims_in_id_token_when_enabled() {
    let provider = TestProvider::builder()
        .identity_claims_in_id_token(true)
        .start()
        .await
        .unwrap();
    let tokens = sign_in(&provider, "openid profile email").await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Ada Lovelace");
    assert_eq!(id["full_name"], "Ada Lovelace");
    assert_eq!(id["preferred_name"], "Ada");
}

#[tokio::test]
async fn codes_are_single_use_and_bound_to_client_redirect_and_verifier() {
    let provider = TestProvider::start().await.unwrap();
    let other = register_other_client(&provider);

    let code = code_for(&provider, &authorize_params("openid")).await;
    assert_eq!(exchange(&provider, &code).await.status(), StatusCode::OK);
    assert_invalid_grant(exchange(&provider, &code).await, "code already used").await;
    assert_invalid_grant(exchange(&provider, "no-such-code").await, "code not found").await;

    let code = code_for(&provider, &authorize_params("openid")).await;
    let response = http()
        .post(provider.url(Endpoint::Token))
        .basic_auth(&other.client_id, other.client_secret.as_deref())
        .form(&code_exchange(&code))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let code = code_for(&provider, &authorize_params("openid")).await;
    let response = token(
        &provider,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:3000/auth/callback"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_invalid_grant(response, "redirect_uri mismatch").await;

    for wrong_verifier in [
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
        "too-short",
        "",
    ] {
        let code = code_for(&provider, &authorize_params("openid")).await;
        let response = token(
            &provider,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", wrong_verifier),
            ],
        )
        .await;
        assert_invalid_grant(response, "PKCE verifier mismatch").await;
    }
}

#[tokio::test]
async fn codes_expire() {
    let provider = TestProvider::builder()
        .code_ttl(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let code = code_for(&provider, &authorize_params("openid")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_invalid_grant(exchange(&provider, &code).await, "code expired").await;
}
