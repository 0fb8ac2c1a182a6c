//! The userinfo endpoint.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::extract::Provider;
use crate::testing::respond::{OAuthError, RequestId, json, no_store, respond};
use crate::testing::state::ProviderState;

/// `GET|POST /oauth/userinfo` with `Authorization: Bearer <access token>`.
pub(super) async fn userinfo(
    State(provider): Provider,
    request_id: RequestId,
    headers: HeaderMap,
) -> Response {
    respond(&request_id, claims(&provider, &headers))
}

fn claims(provider: &ProviderState, headers: &HeaderMap) -> Result<Response, OAuthError> {
    let token = bearer(headers).ok_or_else(|| OAuthError::invalid_token("bearer token missing"))?;
    let access = provider
        .verify_access_token(token)
        .map_err(OAuthError::invalid_token)?;
    let body = match provider.user(&access.sub) {
        Some(user) => Value::Object(user.userinfo(&access.scopes)),
        None => json!({ "sub": access.sub }),
    };
    Ok(no_store(json(StatusCode::OK, &body)))
}

/// The token of an `Authorization: Bearer` header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}
