//! `GET /auth/login`: start a sign-in.

use std::borrow::Cow;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::{query_param, random_token, return_to, unix_now};
use crate::layer::Web;
use crate::reject::{json, json_error, redirect};
use crate::session::cookie::{CookieAttributes, SameSite, set_cookie};

/// How long a sign-in may take from start to callback.
pub(super) const TRANSACTION_TTL: i64 = 600;

/// What the callback needs to finish one sign-in, sealed in a per-flow cookie.
#[derive(Serialize, Deserialize)]
pub(super) struct Transaction {
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) verifier: String,
    pub(super) return_to: String,
    pub(super) created: i64,
    /// Started by logi's login widget, which may not pass our nonce to the provider: the ID
    /// token's nonce is then checked only when present (PKCE and state still bind the flow).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) widget: bool,
}

/// The transaction cookie for `state`: one per sign-in, so several tabs can sign in at once.
/// `__Secure-` rather than `__Host-` because it is scoped to the callback path.
pub(super) fn transaction_cookie(state: &str) -> String {
    let digest = digest::digest(&digest::SHA256, state.as_bytes());
    format!(
        "__Secure-logi.tx.{}",
        &URL_SAFE_NO_PAD.encode(digest.as_ref())[..16]
    )
}

pub(super) fn transaction_attributes(shared: &Web, max_age: Duration) -> CookieAttributes {
    CookieAttributes {
        path: Cow::Owned(shared.paths.callback.to_string()),
        secure: true,
        http_only: true,
        // Lax, not Strict: the callback is a cross-site navigation from the provider.
        same_site: SameSite::Lax,
        max_age: Some(max_age),
        domain: None,
    }
}

const PROMPTS: [&str; 4] = ["none", "login", "consent", "select_account"];

pub(super) fn start(shared: &Web, parts: &Parts) -> Response<Bytes> {
    let (transaction, challenge, cookie) = begin(shared, parts, false);
    let mut url = shared.client.metadata.authorization_endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &shared.client.client_id)
            .append_pair("redirect_uri", shared.redirect_uri.as_str())
            .append_pair("scope", &shared.scope)
            .append_pair("state", &transaction.state)
            .append_pair("nonce", &transaction.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(prompt) = query_param(parts, "prompt").filter(|p| PROMPTS.contains(&p.as_str()))
        {
            query.append_pair("prompt", &prompt);
        }
    }
    let mut response = redirect(StatusCode::FOUND, url.as_str());
    response
        .headers_mut()
        .append(http::header::SET_COOKIE, cookie);
    response
}

/// `POST /auth/challenge`: what logi's login widget (an iframe) needs to start a sign-in whose
/// code the normal callback then exchanges: `{state, code_challenge, …}` as JSON. The PKCE
/// verifier stays with the browser in the same sealed, single-use, 10-minute transaction
/// cookie as `/auth/login`'s. Refused cross-site.
pub(super) fn challenge(shared: &Web, parts: &Parts) -> Response<Bytes> {
    if !super::logout::same_origin(shared, &parts.headers) {
        tracing::warn!("refused a cross-site widget challenge request");
        return json_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "cross-site request refused",
            None,
        );
    }
    let (transaction, challenge, cookie) = begin(shared, parts, true);
    let body = serde_json::json!({
        "state": transaction.state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": transaction.nonce,
        "client_id": shared.client.client_id,
        "redirect_uri": shared.redirect_uri.as_str(),
        "scope": shared.scope,
        "authorization_endpoint": shared.client.metadata.authorization_endpoint.as_str(),
    });
    let mut response = json(StatusCode::OK, &body);
    response
        .headers_mut()
        .append(http::header::SET_COOKIE, cookie);
    response
}

/// A new transaction, its PKCE challenge, and the cookie that keeps it.
fn begin(shared: &Web, parts: &Parts, widget: bool) -> (Transaction, String, http::HeaderValue) {
    let return_to = query_param(parts, "return_to");
    let transaction = Transaction {
        state: random_token(32),
        nonce: random_token(32),
        verifier: random_token(32),
        return_to: return_to::sanitize(return_to.as_deref()).to_owned(),
        created: unix_now(),
        widget,
    };
    let challenge = URL_SAFE_NO_PAD
        .encode(digest::digest(&digest::SHA256, transaction.verifier.as_bytes()).as_ref());
    let name = transaction_cookie(&transaction.state);
    let json = serde_json::to_vec(&transaction).expect("a transaction serializes");
    let sealed = shared.transactions.seal(&name, &json);
    let attrs =
        transaction_attributes(shared, Duration::from_secs(TRANSACTION_TTL.cast_unsigned()));
    let mut cookie = set_cookie(&name, &sealed, &attrs);
    cookie.set_sensitive(true);
    (transaction, challenge, cookie)
}
