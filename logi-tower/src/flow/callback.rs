//! `GET /auth/callback`: finish a sign-in.

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::request::Parts;
use http::{Response, StatusCode};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

use super::pages::ErrorPage;
use super::return_to::is_completion_path;
use super::transaction::{self, Transaction};
use super::{query_param, unix_now_ms};
use crate::first_login::{HookFailure, SignIn, SignInDecision, SignInHook};
use crate::provider::{CallError, TransportErrorKind};
use crate::reject::redirect;
use crate::session::cookie::RequestCookies;
use crate::session::data::{Pending, SessionData};
use crate::session::manager::{Handle, SESSION_COOKIE, SaveError};
use crate::state::Web;
use crate::verify::IdTokenChecks;

/// Claims about the protocol rather than the user: not kept as identity claims.
const PROTOCOL_CLAIMS: [&str; 15] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "jti",
    "azp",
    "at_hash",
    "c_hash",
    "auth_time",
    "sid",
    "acr",
    "amr",
];

pub(super) async fn finish(shared: &Web, parts: &Parts) -> Response<Bytes> {
    let state = query_param(parts, "state");
    let cookies = RequestCookies::parse(&parts.headers);
    let found = state
        .as_deref()
        .and_then(|state| transaction::find(&shared.transactions, &cookies, state, unix_now_ms()));
    let Some((slot, tx)) = found else {
        return match query_param(parts, "error") {
            // An error without this browser's transaction: anyone can make that link, so the
            // page repeats nothing of it beyond a registered error code.
            Some(error) => refused_without_transaction(shared, &error),
            None => expired(shared),
        };
    };
    let mut response = complete(
        shared,
        parts,
        state.as_deref().unwrap_or_default(),
        tx,
        &cookies,
    )
    .await;
    // Whatever happened, this sign-in's transaction is spent.
    response
        .headers_mut()
        .append(SET_COOKIE, transaction::delete(slot));
    response
}

async fn complete(
    shared: &Web,
    parts: &Parts,
    state: &str,
    tx: Transaction,
    cookies: &RequestCookies<'_>,
) -> Response<Bytes> {
    // Taken before the code is redeemed: a sign-out that lands while the sign-in completes
    // counts as after it, and ends it.
    let now_ms = unix_now_ms();
    let now = now_ms.div_euclid(1000);
    if !bool::from(tx.state.as_bytes().ct_eq(state.as_bytes())) || transaction::expired(&tx, now_ms)
    {
        return expired(shared);
    }
    if query_param(parts, "error").is_some() {
        return provider_refused(shared, parts);
    }
    // RFC 9207: when the provider names itself, it must be the one we sent the user to.
    if let Some(iss) = query_param(parts, "iss")
        && iss != shared.verifier.issuer()
    {
        return failed(
            shared,
            StatusCode::BAD_REQUEST,
            "The sign-in response came from another issuer.",
            None,
        );
    }
    let Some(code) = query_param(parts, "code").filter(|c| !c.is_empty()) else {
        return failed(
            shared,
            StatusCode::BAD_REQUEST,
            "The sign-in response has no authorization code.",
            None,
        );
    };

    let tokens = match shared
        .client
        .exchange_code(&code, &tx.verifier, &shared.redirect_uri)
        .await
    {
        Ok(tokens) => tokens,
        Err(error) => return provider_failed(shared, "exchange the authorization code", &error),
    };
    // Without an ID token there is nothing to verify: refused like one that fails verification.
    let Some(id_token) = tokens.id_token.as_ref() else {
        tracing::warn!(
            code = "missing_id_token",
            "refusing a sign-in: the token response has no ID token"
        );
        return unverified(shared, "missing_id_token");
    };
    let checks = if tx.widget {
        IdTokenChecks::new().nonce_if_present(&tx.nonce)
    } else {
        IdTokenChecks::new().nonce(&tx.nonce)
    }
    .access_token(tokens.access_token.expose());
    let verified = match shared.verifier.verify(id_token.expose(), &checks).await {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(
                code = error.code(),
                "refusing a sign-in: the ID token failed verification"
            );
            if error.kind() == crate::verify::VerifyErrorKind::Unavailable {
                return failed(
                    shared,
                    StatusCode::SERVICE_UNAVAILABLE,
                    UNVERIFIED,
                    Some(error.code()),
                );
            }
            return unverified(shared, error.code());
        }
    };

    let mut claims: Map<String, Value> = verified.claims().unwrap_or_default();
    claims.retain(|k, _| !PROTOCOL_CLAIMS.contains(&k.as_str()));
    if !claims.contains_key("email")
        && !claims.contains_key("name")
        && !claims.contains_key("full_name")
        && let Some(info) = userinfo(shared, tokens.access_token.expose(), verified.subject()).await
    {
        for (k, v) in info {
            if !PROTOCOL_CLAIMS.contains(&k.as_str()) {
                claims.entry(k).or_insert(v);
            }
        }
    }

    let scope = tokens.scope.clone().unwrap_or_else(|| shared.scope.clone());
    let pending = match &shared.sign_in_hook {
        None => None,
        Some(hook) => {
            let sign_in = SignIn::new(
                verified.issuer().to_owned(),
                verified.subject().to_owned(),
                claims.clone(),
                &scope,
                tokens.access_token.clone(),
                id_token.clone(),
            );
            match decide(shared, hook, sign_in, &tx.return_to, now).await {
                Ok(pending) => pending,
                Err(response) => {
                    // No session: the tokens issued for it are not kept either.
                    if let Some(refresh_token) = &tokens.refresh_token
                        && let Err(error) = shared
                            .client
                            .revoke(refresh_token.expose(), "refresh_token")
                            .await
                    {
                        tracing::warn!(%error, "could not revoke the refresh token of a refused sign-in");
                    }
                    return response;
                }
            }
        }
    };

    let session = SessionData {
        iss: verified.issuer().to_owned(),
        sub: verified.subject().to_owned(),
        claims,
        scope,
        at: tokens.access_token.expose().to_owned(),
        at_iat: now,
        at_exp: now.saturating_add(
            i64::try_from(
                tokens
                    .expires_in
                    .unwrap_or(crate::provider::DEFAULT_EXPIRES_IN),
            )
            .unwrap_or(i64::MAX),
        ),
        rt: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
        idt: Some(id_token.expose().to_owned()),
        nonce: Some(tx.nonce),
        psid: verified.sid().map(str::to_owned),
        id: Some(SessionData::new_id()),
        created: now,
        cms: now_ms,
        seen: now,
        pending,
    };
    match &session.pending {
        None => tracing::info!(sub = %session.sub, "signed in"),
        Some(_) => {
            tracing::info!(sub = %session.sub, "signed in; the app's sign-up completion is pending")
        }
    }
    // A new session replaces whatever the browser had: no fixation.
    shared.sessions.discard(&parts.headers).await;
    let previous = cookies.chunk_count(SESSION_COOKIE);
    let cookies = match shared
        .sessions
        .save(&session, &Handle::new(previous), now)
        .await
    {
        Ok(cookies) => cookies,
        Err(error @ SaveError::Cookie(_)) => {
            tracing::error!(%error, "the session is too large for cookies; use a server-side session store");
            return failed(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session could not be stored.",
                None,
            );
        }
        Err(error @ SaveError::Store(_)) => {
            tracing::error!(%error, "could not store a new session");
            return failed(
                shared,
                StatusCode::SERVICE_UNAVAILABLE,
                "The session could not be stored. Please try again in a moment.",
                None,
            );
        }
    };
    let location = session.pending.as_ref().map_or(&tx.return_to, |p| &p.path);
    let mut response = redirect(StatusCode::FOUND, location);
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// The app's decision on a verified sign-in: `None` to sign in, the pending completion, or
/// the error page when the hook fails or answers an unusable path.
async fn decide(
    shared: &Web,
    hook: &SignInHook,
    sign_in: SignIn,
    return_to: &str,
    now: i64,
) -> Result<Option<Pending>, Response<Bytes>> {
    let refused = |status| {
        failed(
            shared,
            status,
            "The sign-in could not be completed. Please try again in a moment.",
            None,
        )
    };
    match hook.run(sign_in).await {
        Ok(SignInDecision::Continue) => Ok(None),
        Ok(SignInDecision::NeedsCompletion { path }) => {
            if !is_completion_path(&shared.paths, &path) {
                tracing::error!(
                    path = %path.escape_debug(),
                    "refusing a sign-in: the on_sign_in hook's completion path must be a local path, not one of the layer's routes"
                );
                return Err(refused(StatusCode::INTERNAL_SERVER_ERROR));
            }
            let window = i64::try_from(shared.completion_window.as_secs()).unwrap_or(i64::MAX);
            Ok(Some(Pending {
                path,
                return_to: return_to.to_owned(),
                until: now.saturating_add(window),
            }))
        }
        Err(HookFailure::Failed(error)) => {
            tracing::error!(%error, "refusing a sign-in: the on_sign_in hook failed");
            Err(refused(StatusCode::SERVICE_UNAVAILABLE))
        }
        Err(HookFailure::Panicked) => {
            tracing::error!("refusing a sign-in: the on_sign_in hook panicked");
            Err(refused(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

/// Identity claims from userinfo; `None` (with a warning) when they cannot be had.
async fn userinfo(shared: &Web, access_token: &str, sub: &str) -> Option<Map<String, Value>> {
    shared.client.metadata.userinfo_endpoint.as_ref()?;
    match shared.client.userinfo(access_token).await {
        Ok(info) if info.get("sub").and_then(Value::as_str) == Some(sub) => Some(info),
        Ok(_) => {
            tracing::warn!("ignoring userinfo: its sub differs from the ID token's");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "could not fetch userinfo; signing in with the ID token's claims");
            None
        }
    }
}

fn expired(shared: &Web) -> Response<Bytes> {
    ErrorPage {
        status: StatusCode::BAD_REQUEST,
        title: "Sign-in expired",
        message: "This sign-in link has expired, was already used, or was started in another browser. Please sign in again.",
        error: None,
        description: None,
        request_id: None,
        retry: &shared.paths.login,
    }
    .render()
}

/// The provider's error response to this browser's own sign-in (its `state` matched): the page
/// shows the provider's error, description and request id, as text.
fn provider_refused(shared: &Web, parts: &Parts) -> Response<Bytes> {
    let error = query_param(parts, "error").unwrap_or_default();
    let description = query_param(parts, "error_description");
    let request_id = query_param(parts, "request_id");
    tracing::info!(error = ?error, request_id = ?request_id, "the provider refused the sign-in");
    let (status, message) = if error == "access_denied" {
        (
            StatusCode::FORBIDDEN,
            "The sign-in was cancelled or denied.",
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            "The identity provider refused the sign-in.",
        )
    };
    ErrorPage {
        status,
        title: "Sign-in failed",
        message,
        error: Some(&error),
        description: description.as_deref(),
        request_id: request_id.as_deref(),
        retry: &shared.paths.login,
    }
    .render()
}

/// The registered error codes of an authorization response: RFC 6749 §4.1.2.1 and OpenID
/// Connect Core §3.1.2.6.
const AUTHORIZATION_ERRORS: [&str; 16] = [
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
];

/// The callback with an `error` but no transaction of this browser: a generic page. It never
/// repeats the link's `error_description` or `request_id`, and shows its `error` only when it is
/// a registered code, so a crafted link cannot put its words on the app's page.
fn refused_without_transaction(shared: &Web, error: &str) -> Response<Bytes> {
    let registered = AUTHORIZATION_ERRORS
        .iter()
        .copied()
        .find(|&code| code == error);
    // Escaped, and cut: the link's author chose it.
    let logged: String = error.chars().take(64).collect();
    tracing::info!(
        error = ?logged,
        "refusing a sign-in response with an error and no transaction of this browser"
    );
    ErrorPage {
        status: if registered == Some("access_denied") {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        },
        title: "Sign-in failed",
        message: "The sign-in did not complete, or was started in another browser. Please sign in again.",
        error: registered,
        description: None,
        request_id: None,
        retry: &shared.paths.login,
    }
    .render()
}

fn provider_failed(shared: &Web, what: &str, error: &CallError) -> Response<Bytes> {
    let provider_error = error.provider_error();
    tracing::warn!(%error, "could not {what}");
    let status = match error {
        CallError::Transport(e) if e.kind() == TransportErrorKind::Timeout => {
            StatusCode::GATEWAY_TIMEOUT
        }
        CallError::Status { status, .. } if status.as_u16() == 503 || status.as_u16() == 429 => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        e if e.is_transient() => StatusCode::BAD_GATEWAY,
        CallError::Status { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    let message = if status == StatusCode::BAD_REQUEST {
        "The identity provider refused the sign-in."
    } else {
        "The identity provider is not reachable right now. Please try again in a moment."
    };
    ErrorPage {
        status,
        title: "Sign-in failed",
        message,
        error: provider_error
            .map(|e| e.error.as_str())
            .filter(|e| !e.is_empty()),
        description: provider_error.and_then(|e| e.error_description.as_deref()),
        request_id: provider_error.and_then(|e| e.request_id.as_deref()),
        retry: &shared.paths.login,
    }
    .render()
}

/// What the page says when the tokens of a sign-in are not acceptable.
const UNVERIFIED: &str = "The sign-in could not be verified.";

/// The page for a token response that cannot be accepted (`code` says why): a bad ID token, or
/// none. 400: the provider's answer, not the app, is at fault.
fn unverified(shared: &Web, code: &str) -> Response<Bytes> {
    failed(shared, StatusCode::BAD_REQUEST, UNVERIFIED, Some(code))
}

fn failed(shared: &Web, status: StatusCode, message: &str, code: Option<&str>) -> Response<Bytes> {
    ErrorPage {
        status,
        title: "Sign-in failed",
        message,
        error: code,
        description: None,
        request_id: None,
        retry: &shared.paths.login,
    }
    .render()
}
