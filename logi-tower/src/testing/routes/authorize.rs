//! The authorization endpoint and the interactive sign-in page.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::extract::Provider;
use crate::testing::client::TestClient;
use crate::testing::endpoint::DECISION_PATH;
use crate::testing::grants::Authorization;
use crate::testing::respond::{
    OAuthError, Params, RequestId, escape_html, found, html, respond, with_query,
};
use crate::testing::state::ProviderState;

const PROMPTS: [&str; 4] = ["none", "login", "consent", "select_account"];

/// `GET /oauth/authorize`.
pub(super) async fn authorize(
    State(provider): Provider,
    request_id: RequestId,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    respond(&request_id, authorize_request(&provider, &query))
}

/// `POST /oauth/authorize/decision`: the interactive page's answer.
pub(super) async fn decision(
    State(provider): Provider,
    request_id: RequestId,
    body: Bytes,
) -> Response {
    respond(&request_id, decide(&provider, &body))
}

fn authorize_request(provider: &ProviderState, query: &str) -> Result<Response, OAuthError> {
    let params = Params::parse(query.as_bytes())?;
    // Until the client and its redirect URI are known, errors answer here, never redirect.
    let client = provider
        .client(params.require("client_id")?)
        .ok_or_else(|| {
            OAuthError::new(StatusCode::BAD_REQUEST, "invalid_client", "unknown client")
        })?;
    let redirect_uri = params.require("redirect_uri")?;
    if !client.redirect_uris.iter().any(|uri| uri == redirect_uri) {
        return Err(OAuthError::invalid_request("redirect_uri not registered"));
    }
    let state = params.get("state");
    let refuse = |error: OAuthError| redirect_error(provider, redirect_uri, state, &error);

    let authorization = match validate(&client, redirect_uri, &params) {
        Ok(authorization) => authorization,
        Err(error) => return refuse(error),
    };
    if std::mem::take(&mut provider.lock().deny_next_authorization) {
        return refuse(access_denied());
    }
    let prompt_none = params.get("prompt") == Some("none");
    if provider.config.interactive {
        if prompt_none {
            return refuse(refusal(
                "login_required",
                "the user must sign in interactively",
            ));
        }
        let (pending, users) = {
            let mut store = provider.lock();
            (
                store.grants.park(authorization.clone()),
                store.users.clone(),
            )
        };
        return Ok(sign_in_page(&pending, &authorization, &users));
    }
    let user = {
        let store = provider.lock();
        match &authorization.login_hint {
            Some(hint) => store
                .users
                .iter()
                .find(|user| user.sub == *hint || user.email.as_deref() == Some(hint))
                .map(|user| user.sub.clone()),
            None => store.users.first().map(|user| user.sub.clone()),
        }
    };
    match user {
        Some(sub) => sign_in(provider, authorization, &sub),
        None => refuse(refusal(
            "login_required",
            "no test user matches the request",
        )),
    }
}

/// The checks whose failures go back to the client as a redirect.
fn validate(
    client: &TestClient,
    redirect_uri: &str,
    params: &Params,
) -> Result<Authorization, OAuthError> {
    match params.get("response_type") {
        Some("code") => {}
        None => return Err(OAuthError::invalid_request("response_type missing")),
        Some(_) => {
            return Err(refusal(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    let code_challenge = params
        .get("code_challenge")
        .ok_or_else(|| OAuthError::invalid_request("code_challenge required (PKCE S256)"))?;
    if params.get("code_challenge_method") != Some("S256") {
        return Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        ));
    }
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if code_challenge.len() != 43 || !code_challenge.bytes().all(base64url) {
        return Err(OAuthError::invalid_request(
            "code_challenge must be a base64url SHA-256 digest (43 characters)",
        ));
    }
    if let Some(prompt) = params.get("prompt") {
        let values: Vec<&str> = prompt.split_whitespace().collect();
        let known = values.iter().all(|value| PROMPTS.contains(value));
        if !known || (values.contains(&"none") && values.len() > 1) {
            return Err(OAuthError::invalid_request(
                "prompt must be none, login, consent or select_account",
            ));
        }
    }
    let mut scopes: Vec<String> = Vec::new();
    for scope in params.get("scope").unwrap_or_default().split_whitespace() {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if !scopes.iter().any(|scope| scope == "openid") {
        return Err(OAuthError::invalid_scope("scope must include openid"));
    }
    if let Some(scope) = scopes.iter().find(|scope| !client.allows_scope(scope)) {
        return Err(OAuthError::invalid_scope(format!(
            "scope `{scope}` is not allowed for this client"
        )));
    }
    Ok(Authorization {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: params.get("state").map(str::to_owned),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        login_hint: params.get("login_hint").map(str::to_owned),
    })
}

fn decide(provider: &ProviderState, body: &[u8]) -> Result<Response, OAuthError> {
    let params = Params::parse(body)?;
    let authorization = provider
        .lock()
        .grants
        .unpark(params.require("request")?)
        .ok_or_else(|| {
            OAuthError::invalid_request("authorization request not found, expired or answered")
        })?;
    if params.get("deny").is_some() {
        return redirect_error(
            provider,
            &authorization.redirect_uri,
            authorization.state.as_deref(),
            &access_denied(),
        );
    }
    let sub = params.require("user")?;
    let user = provider
        .user(sub)
        .ok_or_else(|| OAuthError::invalid_request("unknown user"))?;
    sign_in(provider, authorization, &user.sub)
}

/// Signs `sub` in and sends the code back to the client.
fn sign_in(
    provider: &ProviderState,
    authorization: Authorization,
    sub: &str,
) -> Result<Response, OAuthError> {
    let redirect_uri = authorization.redirect_uri.clone();
    let state = authorization.state.clone();
    let code = provider
        .lock()
        .grants
        .sign_in(authorization, sub, provider.config.code_ttl);
    found(&with_query(
        &redirect_uri,
        &[
            ("code", Some(&code)),
            ("state", state.as_deref()),
            ("iss", Some(&provider.config.issuer)),
        ],
    )?)
}

fn redirect_error(
    provider: &ProviderState,
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
) -> Result<Response, OAuthError> {
    found(&with_query(
        redirect_uri,
        &[
            ("error", Some(error.code())),
            ("error_description", Some(error.description())),
            ("state", state),
            ("iss", Some(&provider.config.issuer)),
        ],
    )?)
}

/// An error that only ever travels in a redirect (its status is never sent).
fn refusal(code: &'static str, description: &'static str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, code, description)
}

fn access_denied() -> OAuthError {
    refusal("access_denied", "the user denied the request")
}

fn sign_in_page(
    pending: &str,
    authorization: &Authorization,
    users: &[crate::testing::user::TestUser],
) -> Response {
    let mut buttons = String::new();
    for user in users {
        let _ = write!(
            buttons,
            r#"<button type="submit" name="user" value="{sub}">Continue as {label}</button>"#,
            sub = escape_html(&user.sub),
            label = escape_html(&user.label()),
        );
    }
    html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · logi test provider</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
button{{display:block;width:100%;margin:.5rem 0;padding:.7rem;font-size:1rem;cursor:pointer}}
button[name=deny]{{background:none;border:1px solid #888}}code{{word-break:break-all}}</style>
</head><body>
<h1>Sign in</h1>
<p><code>{client}</code> asks for <code>{scopes}</code>.</p>
<form method="post" action="{action}">
<input type="hidden" name="request" value="{pending}">
{buttons}
<button type="submit" name="deny" value="1">Deny</button>
</form>
<p><small>logi test provider: for tests and local development only.</small></p>
</body></html>
"#,
        client = escape_html(&authorization.client_id),
        scopes = escape_html(&authorization.scopes.join(" ")),
        action = DECISION_PATH,
        pending = escape_html(pending),
    ))
}
