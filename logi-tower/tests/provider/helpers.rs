//! What the provider tests share: an HTTP client that does not follow redirects, the default
//! client's authorize and token calls, JWT decoding, and logi's error JSON assertions.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use logi::testing::{Endpoint, TestClient, TestProvider};
use reqwest::header::LOCATION;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

pub(crate) const REDIRECT_URI: &str = "http://localhost:3000/auth/callback";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const PUBLIC_ID: &str = "logi_0123456789abcdef0123456789abcdef";
/// A state a sloppy client would mangle: spaces, `+`, `&`, `=`, `%`, non-ASCII.
pub(crate) const STATE: &str = "st ate+&=%20é/?#";

pub(crate) fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

pub(crate) async fn body_json(response: Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

pub(crate) fn header(response: &Response, name: impl reqwest::header::AsHeaderName) -> &str {
    response.headers().get(name).unwrap().to_str().unwrap()
}

/// The query of a 302's `Location`.
pub(crate) fn redirect_params(response: &Response) -> HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = url::Url::parse(header(response, LOCATION)).unwrap();
    location.query_pairs().into_owned().collect()
}

pub(crate) fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
}

pub(crate) fn claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// Verifies an RS256 JWT against a JWKS document, the way a relying party does.
pub(crate) fn verify_rs256(jwks: &Value, token: &str) -> bool {
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

pub(crate) use crate::clock::unix_now as now;

/// Authorize parameters of a well-behaved request by the default client.
pub(crate) fn authorize_params(scope: &str) -> Vec<(&'static str, String)> {
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

pub(crate) fn set(
    params: &mut Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<&str>,
) {
    params.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        params.push((name, value.into()));
    }
}

pub(crate) async fn authorize(provider: &TestProvider, params: &[(&str, String)]) -> Response {
    http()
        .get(provider.url(Endpoint::Authorize))
        .query(params)
        .send()
        .await
        .unwrap()
}

/// Runs the authorize step and returns the code.
pub(crate) async fn code_for(provider: &TestProvider, params: &[(&str, String)]) -> String {
    let response = authorize(provider, params).await;
    let params = redirect_params(&response);
    assert_eq!(params.get("error"), None, "{params:?}");
    params["code"].clone()
}

/// Token endpoint call authenticated as the default client with HTTP Basic.
pub(crate) async fn token(provider: &TestProvider, form: &[(&str, &str)]) -> Response {
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

pub(crate) async fn exchange(provider: &TestProvider, code: &str) -> Response {
    token(provider, &code_exchange(code)).await
}

/// The form exchanging `code` from [`authorize_params`] (its redirect URI and verifier).
pub(crate) fn code_exchange(code: &str) -> [(&'static str, &str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ]
}

/// Another confidential client with the default client's redirect URI, registered.
pub(crate) fn register_other_client(provider: &TestProvider) -> TestClient {
    let other = TestClient::confidential(
        "logi_00000000000000000000000000000002",
        "logi_secret_other",
        [REDIRECT_URI],
    );
    provider.register_client(other.clone());
    other
}

/// A full code flow by the default client; the token response JSON.
pub(crate) async fn sign_in(provider: &TestProvider, scope: &str) -> Value {
    let code = code_for(provider, &authorize_params(scope)).await;
    let response = exchange(provider, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    body_json(response).await
}

pub(crate) async fn refresh(provider: &TestProvider, refresh_token: &str) -> Response {
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

pub(crate) async fn refresh_scoped(
    provider: &TestProvider,
    refresh_token: &str,
    scope: &str,
) -> Response {
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

pub(crate) async fn userinfo(provider: &TestProvider, access_token: &str) -> Response {
    http()
        .get(provider.url(Endpoint::Userinfo))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn revoke(provider: &TestProvider, token: &str) -> Response {
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
pub(crate) async fn assert_error(response: Response, status: StatusCode, error: &str) -> Value {
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

pub(crate) async fn assert_invalid_grant(response: Response, description: &str) {
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(body["error_description"], description);
}
