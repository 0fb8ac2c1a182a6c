//! Discovery and JWKS.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::extract::Provider;
use crate::testing::endpoint::Endpoint;
use crate::testing::respond::json;

/// `GET /.well-known/openid-configuration`.
pub(super) async fn configuration(State(provider): Provider) -> Response {
    let config = &provider.config;
    let url = |endpoint: Endpoint| format!("{}{}", config.base_url, endpoint.path());
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    let mut document = json!({
        "issuer": config.issuer,
        "authorization_endpoint": url(Endpoint::Authorize),
        "token_endpoint": url(Endpoint::Token),
        "userinfo_endpoint": url(Endpoint::Userinfo),
        "jwks_uri": url(Endpoint::Jwks),
        "revocation_endpoint": url(Endpoint::Revoke),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": [
            "openid", "profile:basic", "profile", "email", "phone", "address", "identity:level",
        ],
        "subject_types_supported": ["pairwise"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "jti", "sid", "at_hash",
            "email", "email_verified", "name", "full_name", "preferred_name",
            "identity_verified_level",
        ],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    if config.end_session_endpoint {
        document["end_session_endpoint"] = url(Endpoint::EndSession).into();
    }
    if config.introspection_endpoint {
        document["introspection_endpoint"] = url(Endpoint::Introspection).into();
    }
    json(StatusCode::OK, &document)
}

/// `GET /.well-known/jwks.json`, cacheable for `jwks_max_age`.
pub(super) async fn jwks(State(provider): Provider) -> Response {
    let mut response = json(StatusCode::OK, &provider.jwks());
    let cache_control = format!("public, max-age={}", provider.config.jwks_max_age.as_secs());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&cache_control).expect("digits are a valid header value"),
    );
    response
}
