//! `POST /auth/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0, called by the
//! provider (server to server: no cookies, no CSRF checks) when a user signs out there.
//!
//! The form body's `logout_token` is verified like an ID token (RS256 against the provider's
//! keys, `iss`, `aud` = client id, `iat`, `exp` with the clock skew) and as a logout token
//! (the back-channel logout event, `sid` and/or `sub`, no `nonce`, a `jti` not seen before).
//! Then the sessions of that provider session (`sid`), else of that user (`sub`), end: see
//! [`crate::session::signout`]. Answers: 200 (`Cache-Control: no-store`) when done; 400
//! `invalid_request` with a short reason for a refused request (the token is never echoed);
//! 503 when the sessions cannot be ended right now (the store, coordination or the provider's
//! keys are unreachable), so the provider retries.

use std::time::Duration;

use bytes::{Buf as _, Bytes};
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::Body;

use super::{Route, unix_now};
use crate::reject::json_error;
use crate::session::signout::{Jti, Whose};
use crate::state::Web;
use crate::verify::jws::MAX_TOKEN_LEN;
use crate::verify::logout_token;

/// The largest body read: a logout token at its largest, and room for other parameters.
const MAX_BODY: usize = MAX_TOKEN_LEN + 4 * 1024;

/// How long the body may take to arrive.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the provider is asked to wait before retrying a logout that could not be done.
const RETRY_AFTER_SECS: Duration = Duration::from_secs(5);

/// Answers a back-channel logout request.
pub(crate) async fn receive<B: Body>(web: &Web, parts: Parts, body: B) -> Response<Bytes> {
    if let Some(refused) = Route::BackchannelLogout.refuse_method(&parts.method) {
        return refused;
    }
    if !is_form(&parts.headers) {
        return invalid("the body must be application/x-www-form-urlencoded");
    }
    let body = match tokio::time::timeout(READ_TIMEOUT, read(body, &parts.headers)).await {
        Ok(Ok(body)) => body,
        Ok(Err(why)) => return invalid(why),
        Err(_) => return invalid("the body was not sent in time"),
    };
    let mut tokens = url::form_urlencoded::parse(&body)
        .filter(|(name, _)| name == "logout_token")
        .map(|(_, value)| value);
    let (Some(token), None) = (tokens.next(), tokens.next()) else {
        return invalid("the body must carry one logout_token");
    };

    let now = unix_now();
    let token = match logout_token::verify(&web.verifier, &token, now).await {
        Ok(token) => token,
        Err(refused) if refused.unavailable => {
            tracing::warn!("a back-channel logout waits: the provider's keys cannot be fetched");
            return unavailable("the provider's keys cannot be fetched right now");
        }
        Err(refused) => {
            tracing::info!(
                reason = refused.description,
                "refused a back-channel logout token"
            );
            return invalid(refused.description);
        }
    };
    let whose = match (&token.sid, &token.sub) {
        (Some(sid), _) => Whose::ProviderSession(sid),
        (None, Some(sub)) => Whose::User(sub),
        (None, None) => return invalid("neither sid nor sub is present"),
    };

    // Remembered before acting, so that a replay is refused even while the first is under way;
    // forgotten again when the sessions cannot be ended, so that the provider's retry works.
    let until = token
        .expires_at
        .saturating_add(web.verifier.clock_skew_secs());
    let remembered = match web.ending().remember_jti(&token.jti, until, now).await {
        Ok(Jti::New(remembered)) => remembered,
        Ok(Jti::Replayed) => {
            tracing::warn!("refused a replayed back-channel logout token");
            return invalid("the logout token was already used");
        }
        Err(error) => {
            tracing::warn!(%error, "could not remember a logout token's jti");
            return unavailable("the sessions cannot be ended right now");
        }
    };
    match web.ending().end_sessions(whose).await {
        Ok(ended) => {
            match whose {
                Whose::User(sub) => tracing::info!(sub, ?ended, "back-channel logout of a user"),
                Whose::ProviderSession(_) => {
                    tracing::info!(?ended, "back-channel logout of a provider session");
                }
            }
            let mut response = Response::new(Bytes::new());
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::warn!(%error, "could not end the sessions of a back-channel logout");
            web.ending().forget_jti(remembered).await;
            unavailable("the sessions cannot be ended right now")
        }
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The body, at most [`MAX_BODY`] bytes.
async fn read<B: Body>(body: B, headers: &HeaderMap) -> Result<Vec<u8>, &'static str> {
    const TOO_LARGE: &str = "the body is too large";
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(TOO_LARGE);
    }
    let mut body = std::pin::pin!(body);
    let mut bytes = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
        let Some(frame) = frame else {
            return Ok(bytes);
        };
        let Ok(frame) = frame else {
            return Err("the body could not be read");
        };
        if let Ok(mut data) = frame.into_data() {
            if bytes.len() + data.remaining() > MAX_BODY {
                return Err(TOO_LARGE);
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                bytes.extend_from_slice(chunk);
                let read = chunk.len();
                data.advance(read);
            }
        }
    }
}

/// 400 `invalid_request`, as the specification asks for a refused logout.
fn invalid(description: &str) -> Response<Bytes> {
    json_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        description,
        None,
    )
}

/// 503 `temporarily_unavailable`, with `Retry-After`.
fn unavailable(description: &str) -> Response<Bytes> {
    let mut response = json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        description,
        None,
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS.as_secs()));
    response
}
