//! The revocation endpoint (RFC 7009).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::client_auth::authenticated_form;
use super::extract::Provider;
use crate::testing::respond::{OAuthError, RequestId, no_store, respond};
use crate::testing::state::ProviderState;

/// `POST /oauth/revoke`: 200 with an empty body, even for unknown tokens.
pub(super) async fn revoke(
    State(provider): Provider,
    request_id: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&request_id, revoke_token(&provider, &headers, &body))
}

fn revoke_token(
    provider: &ProviderState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let (params, client) = authenticated_form(provider, headers, body)?;
    let token = params.require("token")?;
    // `token_type_hint` only speeds up a lookup; both kinds are tried whatever it says.
    let was_refresh_token = provider
        .lock()
        .grants
        .revoke_refresh_token(token, &client.client_id);
    if !was_refresh_token && let Some(claims) = provider.access_token_claims(token) {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if let (Some(jti), Some(client_id)) = (text("jti"), text("client_id"))
            && client_id == client.client_id
        {
            provider.lock().grants.revoke_access_token(jti);
        }
    }
    Ok(no_store(Response::new(Body::empty())))
}
