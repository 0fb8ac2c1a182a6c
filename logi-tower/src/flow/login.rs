//! `GET /auth/login`: start a sign-in.
//!
//! The sign-in's `state`, `nonce`, PKCE verifier and `return_to` (a local path of at most 1024
//! bytes, else `/`) are kept in a transaction cookie of this browser (see [`transaction`]).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};

use super::transaction::{self, Transaction};
use super::{query_param, random_token, return_to, unix_now_ms};
use crate::reject::{json, json_error, redirect};
use crate::session::cookie::RequestCookies;
use crate::state::Web;

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
/// cookie as `/auth/login`'s (see [`transaction`]). Refused cross-site.
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
        created_ms: unix_now_ms(),
        widget,
    };
    let challenge = URL_SAFE_NO_PAD
        .encode(digest::digest(&digest::SHA256, transaction.verifier.as_bytes()).as_ref());
    let cookies = RequestCookies::parse(&parts.headers);
    let cookie = transaction::store(&shared.transactions, &cookies, &transaction);
    (transaction, challenge, cookie)
}
