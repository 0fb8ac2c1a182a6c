#![cfg(feature = "testing")]
//! The in-process logi provider over real HTTP on 127.0.0.1, as a relying party sees it.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use logi::testing::{Endpoint, Fault, TestClient, TestProvider, TestUser};
use reqwest::header::{CACHE_CONTROL, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const REDIRECT_URI: &str = "http://localhost:3000/auth/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const PUBLIC_ID: &str = "logi_0123456789abcdef0123456789abcdef";
/// A state a sloppy client would mangle: spaces, `+`, `&`, `=`, `%`, non-ASCII.
const STATE: &str = "st ate+&=%20é/?#";

fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn body_json(response: Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

fn header(response: &Response, name: impl reqwest::header::AsHeaderName) -> &str {
    response.headers().get(name).unwrap().to_str().unwrap()
}

/// The query of a 302's `Location`.
fn redirect_params(response: &Response) -> HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = url::Url::parse(header(response, LOCATION)).unwrap();
    location.query_pairs().into_owned().collect()
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
}

fn claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// Verifies an RS256 JWT against a JWKS document, the way a relying party does.
fn verify_rs256(jwks: &Value, token: &str) -> bool {
    let header = jwt_part(token, 0);
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == header["kid"])
    else {
        return false;
    };
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let n = B64.decode(key["n"].as_str().unwrap()).unwrap();
    let e = B64.decode(key["e"].as_str().unwrap()).unwrap();
    header["alg"] == "RS256"
        && RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                signing_input.as_bytes(),
                &B64.decode(signature).unwrap(),
            )
            .is_ok()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Authorize parameters of a well-behaved request by the default client.
fn authorize_params(scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", TestClient::DEFAULT_CLIENT_ID.into()),
        ("redirect_uri", REDIRECT_URI.into()),
        ("response_type", "code".into()),
        ("scope", scope.into()),
        ("state", STATE.into()),
        ("nonce", "n-0S6_WzA2Mj".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

fn set(params: &mut Vec<(&'static str, String)>, name: &'static str, value: Option<&str>) {
    params.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        params.push((name, value.into()));
    }
}

async fn authorize(provider: &TestProvider, params: &[(&str, String)]) -> Response {
    http()
        .get(provider.url(Endpoint::Authorize))
        .query(params)
        .send()
        .await
        .unwrap()
}

/// Runs the authorize step and returns the code.
async fn code_for(provider: &TestProvider, params: &[(&str, String)]) -> String {
    let response = authorize(provider, params).await;
    let params = redirect_params(&response);
    assert_eq!(params.get("error"), None, "{params:?}");
    params["code"].clone()
}

/// Token endpoint call authenticated as the default client with HTTP Basic.
async fn token(provider: &TestProvider, form: &[(&str, &str)]) -> Response {
    http()
        .post(provider.url(Endpoint::Token))
        .basic_auth(
            TestClient::DEFAULT_CLIENT_ID,
            Some(TestClient::DEFAULT_CLIENT_SECRET),
        )
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn exchange(provider: &TestProvider, code: &str) -> Response {
    token(
        provider,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// A full code flow by the default client; the token response JSON.
async fn sign_in(provider: &TestProvider, scope: &str) -> Value {
    let code = code_for(provider, &authorize_params(scope)).await;
    let response = exchange(provider, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    body_json(response).await
}

async fn refresh(provider: &TestProvider, refresh_token: &str) -> Response {
    token(
        provider,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", TestClient::DEFAULT_CLIENT_ID),
        ],
    )
    .await
}

async fn refresh_scoped(provider: &TestProvider, refresh_token: &str, scope: &str) -> Response {
    token(
        provider,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ],
    )
    .await
}

async fn userinfo(provider: &TestProvider, access_token: &str) -> Response {
    http()
        .get(provider.url(Endpoint::Userinfo))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

async fn revoke(provider: &TestProvider, token: &str) -> Response {
    http()
        .post(provider.url(Endpoint::Revoke))
        .basic_auth(
            TestClient::DEFAULT_CLIENT_ID,
            Some(TestClient::DEFAULT_CLIENT_SECRET),
        )
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

/// Asserts logi's error JSON (with the response's request id) and returns it.
async fn assert_error(response: Response, status: StatusCode, error: &str) -> Value {
    assert_eq!(response.status(), status);
    let request_id = header(&response, "x-logi-request-id").to_owned();
    let body = body_json(response).await;
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(
        body["error_uri"],
        format!("https://docs.1pass.dev/oauth/errors#{error}")
    );
    assert_eq!(body["request_id"], request_id);
    assert!(body["error_description"].is_string());
    body
}

async fn assert_invalid_grant(response: Response, description: &str) {
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(body["error_description"], description);
}

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
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
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
async fn authorize_refuses_unknown_client_and_unregistered_redirect_without_redirecting() {
    let provider = TestProvider::start().await.unwrap();

    let mut params = authorize_params("openid");
    set(
        &mut params,
        "client_id",
        Some("logi_ffffffffffffffffffffffffffffffff"),
    );
    let response = authorize(&provider, &params).await;
    assert!(response.headers().get(LOCATION).is_none());
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_client").await;

    for unregistered in [
        "http://localhost:3000/auth/callback/",
        "http://localhost:3000/auth/callback?x=1",
        "https://localhost:3000/auth/callback",
        "http://evil.test/auth/callback",
    ] {
        let mut params = authorize_params("openid");
        set(&mut params, "redirect_uri", Some(unregistered));
        let response = authorize(&provider, &params).await;
        assert!(response.headers().get(LOCATION).is_none());
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(body["error_description"], "redirect_uri not registered");
    }
}

#[tokio::test]
async fn authorize_refusals_redirect_back_with_error_and_state() {
    let provider = TestProvider::builder()
        .client(TestClient::default().with_allowed_scopes(["openid", "profile:basic", "email"]))
        .start()
        .await
        .unwrap();
    let cases: [(&str, Option<&str>, &str); 8] = [
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge_method", None, "invalid_request"),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("scope", Some("profile email"), "invalid_scope"),
        ("scope", Some("openid phone"), "invalid_scope"),
        ("prompt", Some("always"), "invalid_request"),
        ("prompt", Some("none login"), "invalid_request"),
    ];
    for (name, value, error) in cases {
        let mut params = authorize_params("openid");
        set(&mut params, name, value);
        let response = authorize(&provider, &params).await;
        let back = redirect_params(&response);
        assert!(header(&response, LOCATION).starts_with(REDIRECT_URI));
        assert_eq!(back["error"], error, "{name}={value:?}");
        assert_eq!(back["state"], STATE);
        assert!(!back["error_description"].is_empty());
        assert!(!back.contains_key("code"));
    }

    for prompt in ["none", "login", "consent select_account"] {
        let mut params = authorize_params("openid profile");
        set(&mut params, "prompt", Some(prompt));
        code_for(&provider, &params).await;
    }

    provider.deny_next_authorization();
    let back = redirect_params(&authorize(&provider, &authorize_params("openid")).await);
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], STATE);
    // Only the next one.
    code_for(&provider, &authorize_params("openid")).await;
}

#[tokio::test]
async fn login_hint_picks_the_user() {
    let provider = TestProvider::builder()
        .user(TestUser::default())
        .user(TestUser {
            email: Some("grace@example.com".into()),
            ..TestUser::new("user-0002")
        })
        .start()
        .await
        .unwrap();
    let mut params = authorize_params("openid");
    set(&mut params, "login_hint", Some("grace@example.com"));
    let code = code_for(&provider, &params).await;
    let tokens = body_json(exchange(&provider, &code).await).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        "user-0002"
    );

    set(&mut params, "login_hint", Some("nobody@example.com"));
    let back = redirect_params(&authorize(&provider, &params).await);
    assert_eq!(back["error"], "login_required");
}

#[tokio::test]
async fn codes_are_single_use_and_bound_to_client_redirect_and_verifier() {
    let provider = TestProvider::start().await.unwrap();
    let other = TestClient::confidential(
        "logi_00000000000000000000000000000002",
        "logi_secret_other",
        [REDIRECT_URI],
    );
    provider.register_client(other.clone());

    let code = code_for(&provider, &authorize_params("openid")).await;
    assert_eq!(exchange(&provider, &code).await.status(), StatusCode::OK);
    assert_invalid_grant(exchange(&provider, &code).await, "code already used").await;
    assert_invalid_grant(exchange(&provider, "no-such-code").await, "code not found").await;

    let code = code_for(&provider, &authorize_params("openid")).await;
    let response = http()
        .post(provider.url(Endpoint::Token))
        .basic_auth(&other.client_id, other.client_secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
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
    let other = TestClient::confidential(
        "logi_00000000000000000000000000000002",
        "logi_secret_other",
        [REDIRECT_URI],
    );
    provider.register_client(other.clone());
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

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let provider = TestProvider::start().await.unwrap();
    let mut seen = std::collections::HashSet::new();
    let responses = [
        http().get(provider.discovery_url()).send().await.unwrap(),
        http()
            .get(provider.url(Endpoint::Jwks))
            .send()
            .await
            .unwrap(),
        authorize(&provider, &authorize_params("openid")).await,
        token(&provider, &[("grant_type", "refresh_token")]).await,
        userinfo(&provider, "x").await,
        revoke(&provider, "x").await,
        http()
            .get(provider.url(Endpoint::EndSession))
            .send()
            .await
            .unwrap(),
        http()
            .get(format!("{}/nope", provider.base_url()))
            .send()
            .await
            .unwrap(),
        http()
            .delete(provider.url(Endpoint::Token))
            .send()
            .await
            .unwrap(),
    ];
    for response in responses {
        let request_id = header(&response, "x-logi-request-id").to_owned();
        let hex = request_id.strip_prefix("req_").unwrap();
        assert!(hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(seen.insert(request_id));
    }
}

#[tokio::test]
async fn counts_calls_per_endpoint() {
    let provider = TestProvider::start().await.unwrap();
    for _ in 0..3 {
        http().get(provider.discovery_url()).send().await.unwrap();
    }
    sign_in(&provider, "openid").await;
    assert_eq!(provider.calls(Endpoint::Discovery), 3);
    assert_eq!(provider.calls(Endpoint::Authorize), 1);
    assert_eq!(provider.calls(Endpoint::Token), 1);
    assert_eq!(provider.calls(Endpoint::Jwks), 0);
    provider.reset_calls();
    for endpoint in Endpoint::ALL {
        assert_eq!(provider.calls(endpoint), 0);
    }
}

#[tokio::test]
async fn injected_faults() {
    let provider = TestProvider::start().await.unwrap();
    let jwks = || async {
        http()
            .get(provider.url(Endpoint::Jwks))
            .timeout(Duration::from_secs(2))
            .send()
            .await
    };

    provider.set_fault(Endpoint::Jwks, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let response = jwks().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::OK);
    let short = http()
        .get(provider.url(Endpoint::Jwks))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(short.unwrap_err().is_timeout());

    provider.set_fault(Endpoint::Jwks, Fault::Status(503));
    let response = jwks().await.unwrap();
    assert!(response.headers().get(RETRY_AFTER).is_none());
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    )
    .await;

    provider.set_fault(Endpoint::Jwks, Fault::Status(429));
    let response = jwks().await.unwrap();
    assert_eq!(header(&response, RETRY_AFTER), "1");
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;

    provider.set_fault(Endpoint::Jwks, Fault::Status(500));
    assert_error(
        jwks().await.unwrap(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
    )
    .await;

    provider.set_fault(Endpoint::Jwks, Fault::DropConnection);
    let error = jwks().await.unwrap_err();
    assert!(error.is_request() && !error.is_timeout(), "{error:?}");
    assert!(error.status().is_none());

    // Other endpoints are unaffected, and clearing restores the endpoint.
    let discovery = http().get(provider.discovery_url()).send().await.unwrap();
    assert_eq!(discovery.status(), StatusCode::OK);
    provider.clear_fault(Endpoint::Jwks);
    assert_eq!(jwks().await.unwrap().status(), StatusCode::OK);

    // Faulted requests count: two delayed, three statuses, one dropped, one normal.
    assert_eq!(provider.calls(Endpoint::Jwks), 7);
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

/// The hidden `request` id of the interactive page.
fn pending_request(page: &str) -> String {
    let marker = r#"name="request" value=""#;
    let start = page.find(marker).unwrap() + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn interactive_sign_in_page_and_decision() {
    let provider = TestProvider::builder()
        .interactive(true)
        .user(TestUser::default())
        .user(TestUser {
            full_name: Some("Grace <Hopper>".into()),
            ..TestUser::new("user-0002")
        })
        .start()
        .await
        .unwrap();
    let page_for = || async {
        let response = authorize(&provider, &authorize_params("openid")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "content-type").starts_with("text/html"));
        response.text().await.unwrap()
    };
    let decide = |form: Vec<(&'static str, String)>| {
        let url = format!("{}/oauth/authorize/decision", provider.base_url());
        async move { http().post(url).form(&form).send().await.unwrap() }
    };

    let page = page_for().await;
    assert!(page.contains(r#"action="/oauth/authorize/decision""#));
    assert!(page.contains(r#"value="user-0001""#) && page.contains("Ada Lovelace"));
    assert!(page.contains(r#"value="user-0002""#) && page.contains("Grace &lt;Hopper&gt;"));
    assert!(page.contains(r#"name="deny""#));
    for external in ["http://", "https://", "<script", "<link"] {
        assert!(!page.contains(external), "{external}");
    }

    let request = pending_request(&page);
    let response = decide(vec![
        ("request", request.clone()),
        ("user", "user-0002".into()),
    ])
    .await;
    let back = redirect_params(&response);
    assert_eq!(back["state"], STATE);
    let tokens = body_json(exchange(&provider, &back["code"]).await).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        "user-0002"
    );

    // The pending request answers once.
    let response = decide(vec![("request", request), ("user", "user-0001".into())]).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let request = pending_request(&page_for().await);
    let back = redirect_params(&decide(vec![("request", request), ("deny", "1".into())]).await);
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], STATE);

    let mut params = authorize_params("openid");
    set(&mut params, "prompt", Some("none"));
    let back = redirect_params(&authorize(&provider, &params).await);
    assert_eq!(back["error"], "login_required");
}

#[tokio::test]
async fn binding_and_shutdown() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<TestProvider>();

    let refused = TestProvider::builder()
        .bind("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);

    let provider = TestProvider::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let url = provider.discovery_url();
    let client = http();
    assert!(client.get(&url).send().await.is_ok());
    let handle = provider.clone();
    provider.shutdown().await;
    assert!(client.get(&url).send().await.is_err());
    // Other handles still answer everything but HTTP.
    assert!(!handle.current_kid().is_empty());

    let dropped = TestProvider::start().await.unwrap();
    let url = dropped.discovery_url();
    drop(dropped);
    let mut stopped = false;
    for _ in 0..50 {
        if http().get(&url).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "the server outlived its last handle");
}
