//! The code flow end to end, and how a client authenticates at the token endpoint
//! (`client_secret_basic`, `client_secret_post`, `none` with PKCE), refusals included.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use logi::testing::{Endpoint, TestClient, TestProvider, TestUser};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION, WWW_AUTHENTICATE};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn code_flow_with_client_secret_basic() {
    let provider = TestProvider::start().await.unwrap();
    let before = now();
    let response = authorize(&provider, &authorize_params("openid profile:basic email")).await;
    let params = redirect_params(&response);
    let location = header(&response, LOCATION);
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?")),
        "{location}"
    );
    assert_eq!(params["state"], STATE);
    assert_eq!(params["iss"], provider.issuer());

    let response = exchange(&provider, &params["code"]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CACHE_CONTROL), "no-store");
    let tokens = body_json(response).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["scope"], "openid profile:basic email");
    assert!(tokens["refresh_token"].is_string());

    let jwks = provider.jwks();
    let access_token = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    assert!(verify_rs256(&jwks, id_token));
    assert!(verify_rs256(&jwks, access_token));

    let header = jwt_part(id_token, 0);
    assert_eq!(
        header,
        json!({ "alg": "RS256", "kid": provider.current_kid(), "typ": "JWT" })
    );
    let id = claims(id_token);
    assert_eq!(id["iss"], provider.issuer());
    assert_eq!(id["aud"], TestClient::DEFAULT_CLIENT_ID);
    assert_eq!(id["sub"], TestUser::DEFAULT_SUB);
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    let iat = id["iat"].as_u64().unwrap();
    assert!(iat >= before && iat <= now());
    assert_eq!(id["exp"].as_u64().unwrap(), iat + 3600);
    assert!(id["auth_time"].as_u64().unwrap() >= before);
    assert!(id["jti"].is_string());
    assert!(id["sid"].is_string());
    let expected_at_hash = B64.encode(&digest(&SHA256, access_token.as_bytes()).as_ref()[..16]);
    assert_eq!(id["at_hash"], expected_at_hash);
    for identity_claim in [
        "email",
        "email_verified",
        "name",
        "full_name",
        "preferred_name",
    ] {
        assert!(
            id.get(identity_claim).is_none(),
            "{identity_claim} in ID token"
        );
    }

    let access = claims(access_token);
    assert_eq!(access["iss"], provider.issuer());
    assert_eq!(access["sub"], TestUser::DEFAULT_SUB);
    assert_eq!(access["aud"], TestClient::DEFAULT_CLIENT_ID);
    assert_eq!(access["client_id"], TestClient::DEFAULT_CLIENT_ID);
    assert_eq!(access["scope"], "openid profile:basic email");
    assert_eq!(access["sid"], id["sid"]);
    assert_eq!(
        access["exp"].as_u64().unwrap(),
        access["iat"].as_u64().unwrap() + 900
    );
    assert_ne!(access["jti"], id["jti"]);
}

#[tokio::test]
async fn code_flow_with_client_secret_post() {
    let provider = TestProvider::start().await.unwrap();
    let code = code_for(&provider, &authorize_params("openid")).await;
    let response = http()
        .post(provider.url(Endpoint::Token))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
            ("client_id", TestClient::DEFAULT_CLIENT_ID),
            ("client_secret", TestClient::DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens = body_json(response).await;
    assert!(verify_rs256(
        &provider.jwks(),
        tokens["id_token"].as_str().unwrap()
    ));
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded() {
    let secret = "s3cret with spaces:&+";
    let provider = TestProvider::builder()
        .client(TestClient::confidential(
            "logi_00000000000000000000000000000042",
            secret,
            [REDIRECT_URI],
        ))
        .start()
        .await
        .unwrap();
    let mut params = authorize_params("openid");
    set(
        &mut params,
        "client_id",
        Some("logi_00000000000000000000000000000042"),
    );
    let code = code_for(&provider, &params).await;
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let response = http()
        .post(provider.url(Endpoint::Token))
        .basic_auth("logi_00000000000000000000000000000042", Some(encoded))
        .form(&code_exchange(&code))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn public_client_authenticates_with_none() {
    let provider = TestProvider::builder()
        .client(TestClient::public(PUBLIC_ID, [REDIRECT_URI]))
        .start()
        .await
        .unwrap();
    let mut params = authorize_params("openid email");
    set(&mut params, "client_id", Some(PUBLIC_ID));
    let code = code_for(&provider, &params).await;
    let exchange = |form: Vec<(&'static str, String)>| {
        let provider = provider.clone();
        async move {
            http()
                .post(provider.url(Endpoint::Token))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let response = exchange(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", REDIRECT_URI.into()),
        ("code_verifier", VERIFIER.into()),
        ("client_id", PUBLIC_ID.into()),
    ])
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens = body_json(response).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["aud"],
        PUBLIC_ID
    );

    // Public clients rotate refresh tokens too.
    let response = exchange(vec![
        ("grant_type", "refresh_token".into()),
        (
            "refresh_token",
            tokens["refresh_token"].as_str().unwrap().into(),
        ),
        ("client_id", PUBLIC_ID.into()),
    ])
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = exchange(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", PUBLIC_ID.into()),
    ])
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    let response = exchange(vec![
        ("grant_type", "password".into()),
        ("client_id", PUBLIC_ID.into()),
    ])
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
}

#[tokio::test]
async fn token_endpoint_refuses_bad_client_credentials() {
    let provider = TestProvider::start().await.unwrap();
    let form = [("grant_type", "authorization_code"), ("code", "x")];

    // Confidential client without credentials.
    let response = http()
        .post(provider.url(Endpoint::Token))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", TestClient::DEFAULT_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Wrong secret over Basic.
    let response = http()
        .post(provider.url(Endpoint::Token))
        .basic_auth(TestClient::DEFAULT_CLIENT_ID, Some("logi_secret_wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(header(&response, WWW_AUTHENTICATE).starts_with("Basic"));
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Wrong secret in the form.
    let response = http()
        .post(provider.url(Endpoint::Token))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", TestClient::DEFAULT_CLIENT_ID),
            ("client_secret", "logi_secret_wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Unknown client.
    let response = http()
        .post(provider.url(Endpoint::Token))
        .basic_auth("logi_ffffffffffffffffffffffffffffffff", Some("x"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Authenticated, but a grant logi does not have.
    let response = token(&provider, &[("grant_type", "client_credentials")]).await;
    assert_error(response, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
}
