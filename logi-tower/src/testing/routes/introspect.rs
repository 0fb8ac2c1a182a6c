//! The introspection endpoint (RFC 7662).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::client_auth::authenticated_form;
use super::extract::Provider;
use crate::testing::respond::{OAuthError, RequestId, json, no_store, respond};
use crate::testing::state::ProviderState;

/// `POST /oauth/introspect`: the token's claims with `active: true`, or only `active: false`
/// for a token that is unknown, expired or revoked. Clients authenticate as at the token
/// endpoint.
pub(super) async fn introspect(
    State(provider): Provider,
    request_id: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&request_id, answer(&provider, &headers, &body))
}

fn answer(
    provider: &ProviderState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let (params, _client) = authenticated_form(provider, headers, body)?;
    let token = params.require("token")?;
    let body = match (
        provider.verify_access_token(token),
        provider.access_token_claims(token),
    ) {
        (Ok(_), Some(mut claims)) => {
            claims.insert("active".into(), Value::Bool(true));
            claims.insert("token_type".into(), "Bearer".into());
            Value::Object(claims)
        }
        _ => json!({ "active": false }),
    };
    Ok(no_store(json(StatusCode::OK, &body)))
}
