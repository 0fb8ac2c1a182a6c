//! The token endpoint: authorization code and refresh token grants.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client_auth::authenticated_form;
use super::extract::Provider;
use crate::testing::grants::Issued;
use crate::testing::respond::{OAuthError, RequestId, json, no_store, respond};
use crate::testing::state::ProviderState;

/// `POST /oauth/token`.
pub(super) async fn token(
    State(provider): Provider,
    request_id: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&request_id, grant(&provider, &headers, &body))
}

fn grant(
    provider: &ProviderState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let (params, client) = authenticated_form(provider, headers, body)?;
    let config = &provider.config;
    let (issued, refresh_token) = match params.require("grant_type")? {
        "authorization_code" => provider.lock().grants.redeem_code(
            params.require("code")?,
            &client.client_id,
            params.get("redirect_uri"),
            params.get("code_verifier"),
            config.refresh_token_ttl,
        )?,
        "refresh_token" => {
            let scopes = params
                .get("scope")
                .map(|scope| scope.split_whitespace().map(str::to_owned).collect());
            provider.lock().grants.refresh(
                params.require("refresh_token")?,
                &client.client_id,
                scopes,
                config.refresh_token_ttl,
            )?
        }
        "client_credentials" if client.is_public() => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "a public client may not use client_credentials",
            ));
        }
        _ => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            ));
        }
    };
    Ok(token_response(provider, &issued, &refresh_token))
}

/// Mints the access token (and the ID token, for `openid`) of a grant.
fn token_response(provider: &ProviderState, issued: &Issued, refresh_token: &str) -> Response {
    let ttl = provider.config.access_token_ttl;
    let access_token = provider.access_token(
        &issued.client_id,
        &issued.sub,
        &issued.scopes,
        &issued.sid,
        ttl,
    );
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "refresh_token": refresh_token,
        "scope": issued.scopes.join(" "),
    });
    if issued.scopes.iter().any(|scope| scope == "openid")
        && !std::mem::take(&mut provider.lock().omit_next_id_token)
    {
        body["id_token"] = provider.id_token(issued, &access_token).into();
    }
    no_store(json(StatusCode::OK, &body))
}
