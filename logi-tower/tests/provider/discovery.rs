//! Discovery and the JWKS: what the provider publishes, key rotation, and minted tokens
//! verifying against the published keys.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use logi::testing::{Endpoint, TestClient, TestProvider};
use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn discovery_names_endpoints_and_capabilities() {
    let provider = TestProvider::start().await.unwrap();
    let base = provider.base_url().to_owned();
    assert_eq!(provider.issuer(), base);
    assert_eq!(base, format!("http://{}", provider.addr()));
    assert!(base.starts_with("http://127.0.0.1:"));

    let response = http().get(provider.discovery_url()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc = body_json(response).await;
    assert_eq!(doc["issuer"], base);
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("userinfo_endpoint", "/oauth/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("end_session_endpoint", "/oauth/logout"),
    ] {
        assert_eq!(doc[field], format!("{base}{path}"), "{field}");
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(doc["subject_types_supported"], json!(["pairwise"]));
    assert_eq!(
        doc["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    for scope in ["openid", "profile:basic", "email", "identity:level"] {
        assert!(
            doc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&scope.into())
        );
    }
    for claim in ["sub", "email", "preferred_name", "full_name", "at_hash"] {
        assert!(
            doc["claims_supported"]
                .as_array()
                .unwrap()
                .contains(&claim.into())
        );
    }
}

#[tokio::test]
async fn issuer_override_and_disabled_end_session() {
    let provider = TestProvider::builder()
        .issuer("logi")
        .end_session_endpoint(false)
        .start()
        .await
        .unwrap();
    assert_eq!(provider.issuer(), "logi");
    let doc = body_json(http().get(provider.discovery_url()).send().await.unwrap()).await;
    assert_eq!(doc["issuer"], "logi");
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/oauth/token", provider.base_url())
    );
    assert!(doc.get("end_session_endpoint").is_none());
    let logout = http()
        .get(provider.url(Endpoint::EndSession))
        .send()
        .await
        .unwrap();
    assert_error(logout, StatusCode::NOT_FOUND, "not_found").await;

    let tokens = sign_in(&provider, "openid").await;
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["iss"], "logi");
}

#[tokio::test]
async fn jwks_publishes_rsa_keys_with_cache_control() {
    let provider = TestProvider::builder()
        .jwks_max_age(Duration::from_secs(120))
        .start()
        .await
        .unwrap();
    let response = http()
        .get(provider.url(Endpoint::Jwks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CACHE_CONTROL), "public, max-age=120");
    let jwks = body_json(response).await;
    assert_eq!(jwks, provider.jwks());
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["kid"], provider.current_kid());
    assert_eq!(key["e"], "AQAB");
    let n = key["n"].as_str().unwrap();
    assert!(!n.contains('=') && !n.contains('+') && !n.contains('/'));
    assert_eq!(B64.decode(n).unwrap().len(), 256);

    let default = TestProvider::start().await.unwrap();
    let response = http()
        .get(default.url(Endpoint::Jwks))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, CACHE_CONTROL), "public, max-age=3600");
}

#[tokio::test]
async fn key_rotation_keeps_old_keys_until_removed() {
    let provider = TestProvider::start().await.unwrap();
    let old_kid = provider.current_kid();
    let old_token = sign_in(&provider, "openid").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let new_kid = provider.rotate_keys();
    assert_ne!(new_kid, old_kid);
    assert_eq!(provider.current_kid(), new_kid);
    let jwks = body_json(
        http()
            .get(provider.url(Endpoint::Jwks))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));

    let new_token = sign_in(&provider, "openid").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jwt_part(&new_token, 0)["kid"], new_kid);
    assert!(verify_rs256(&jwks, &old_token));
    assert!(verify_rs256(&jwks, &new_token));

    provider.remove_key(&old_kid);
    let jwks = provider.jwks();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], new_kid);
    assert!(!verify_rs256(&jwks, &old_token));

    // Removing the only key leaves a fresh signing key, never an empty JWKS.
    provider.remove_key(&new_kid);
    assert_ne!(provider.current_kid(), new_kid);
    assert_eq!(provider.jwks()["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn minted_tokens_verify_against_the_jwks() {
    let provider = TestProvider::start().await.unwrap();
    let jwks = provider.jwks();
    let mut claims_in = provider.id_token_claims(TestClient::DEFAULT_CLIENT_ID, "user-0001");
    for claim in ["iss", "aud", "sub", "iat", "exp", "jti"] {
        assert!(claims_in.get(claim).is_some(), "{claim}");
    }
    claims_in["nonce"] = "abc".into();
    let token = provider.sign_claims(&claims_in);
    assert!(verify_rs256(&jwks, &token));
    assert_eq!(claims(&token), claims_in);
    assert_eq!(
        jwt_part(&token, 0),
        json!({ "alg": "RS256", "kid": provider.current_kid(), "typ": "JWT" })
    );

    let forged_header = json!({ "alg": "HS256", "kid": provider.current_kid() });
    let forged = provider.sign_with_header(&forged_header, &claims_in);
    assert_eq!(jwt_part(&forged, 0), forged_header);
    assert!(!verify_rs256(&jwks, &forged));
    let unknown_kid =
        provider.sign_with_header(&json!({ "alg": "RS256", "kid": "nope" }), &claims_in);
    assert!(!verify_rs256(&jwks, &unknown_kid));
}
