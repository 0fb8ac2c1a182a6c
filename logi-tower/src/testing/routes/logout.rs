//! The end-session endpoint (OpenID Connect RP-initiated logout), and the back-channel logout
//! it delivers to the signed-out client.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::Value;

use super::extract::Provider;
use crate::testing::respond::{OAuthError, Params, RequestId, found, html, respond, with_query};
use crate::testing::state::ProviderState;

/// `GET /oauth/logout`.
pub(super) async fn end_session_query(
    State(provider): Provider,
    request_id: RequestId,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    deliver_backchannel_logout(&provider, query.as_bytes()).await;
    respond(&request_id, end_session(&provider, query.as_bytes()))
}

/// `POST /oauth/logout` (form body).
pub(super) async fn end_session_form(
    State(provider): Provider,
    request_id: RequestId,
    body: Bytes,
) -> Response {
    deliver_backchannel_logout(&provider, &body).await;
    respond(&request_id, end_session(&provider, &body))
}

/// How long a client's back-channel logout endpoint has to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// When the request names a valid ID token of a client with a back-channel logout URI, POSTs
/// that client a logout token for the token's `sub` and `sid`, and records the answer's status.
async fn deliver_backchannel_logout(provider: &ProviderState, input: &[u8]) {
    let Ok(params) = Params::parse(input) else {
        return;
    };
    let Some(claims) = params
        .get("id_token_hint")
        .and_then(|hint| provider.own_jwt(hint))
    else {
        return;
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let (Some(sub), Some(sid)) = (text("sub"), text("sid")) else {
        return;
    };
    let Some(client_id) = audience_of(&claims) else {
        return;
    };
    let Some(uri) = provider
        .client(&client_id)
        .and_then(|client| client.backchannel_logout_uri)
    else {
        return;
    };
    let token = provider.logout_token(&client_id, sub, sid);
    let status = match reqwest::Client::new()
        .post(&uri)
        .form(&[("logout_token", token)])
        .timeout(DELIVERY_TIMEOUT)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    };
    provider.lock().backchannel_logouts.push(status);
}

/// Redirects to a `post_logout_redirect_uri` registered for the client named by
/// `id_token_hint` (or `client_id`), or shows a "signed out" page. Tokens are left alone:
/// a relying party revokes them at the revocation endpoint.
fn end_session(provider: &ProviderState, input: &[u8]) -> Result<Response, OAuthError> {
    let params = Params::parse(input)?;
    let hinted_client = match params.get("id_token_hint") {
        Some(hint) => Some(audience(provider, hint).ok_or_else(|| {
            OAuthError::invalid_request("id_token_hint is not an ID token of this provider")
        })?),
        None => None,
    };
    let client_id = match (hinted_client, params.get("client_id")) {
        (Some(hinted), Some(named)) if hinted != named => {
            return Err(OAuthError::invalid_request(
                "client_id does not match id_token_hint",
            ));
        }
        (Some(hinted), _) => Some(hinted),
        (None, named) => named.map(str::to_owned),
    };
    let Some(uri) = params.get("post_logout_redirect_uri") else {
        return Ok(html(SIGNED_OUT_PAGE.to_owned()));
    };
    let client = client_id
        .and_then(|client_id| provider.client(&client_id))
        .ok_or_else(|| {
            OAuthError::invalid_request(
                "post_logout_redirect_uri needs an id_token_hint or client_id",
            )
        })?;
    if !client
        .post_logout_redirect_uris
        .iter()
        .any(|registered| registered == uri)
    {
        return Err(OAuthError::invalid_request(
            "post_logout_redirect_uri not registered",
        ));
    }
    found(&with_query(uri, &[("state", params.get("state"))])?)
}

/// The client an ID token (expired or not) was issued to.
fn audience(provider: &ProviderState, id_token: &str) -> Option<String> {
    audience_of(&provider.own_jwt(id_token)?)
}

/// The client named first in `aud`.
fn audience_of(claims: &serde_json::Map<String, Value>) -> Option<String> {
    let audience = match claims.get("aud")? {
        Value::String(audience) => audience.as_str(),
        Value::Array(audiences) => audiences.first()?.as_str()?,
        _ => return None,
    };
    Some(audience.to_owned())
}

const SIGNED_OUT_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signed out · logi test provider</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}</style>
</head><body>
<h1>Signed out</h1>
<p>You are signed out of the logi test provider.</p>
</body></html>
"#;
