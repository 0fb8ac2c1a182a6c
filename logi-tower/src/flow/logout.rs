//! `POST /auth/logout`: sign out here (the session itself, every copy of its cookie: see
//! [`crate::session::signout`]), revoke the refresh token, and sign out at the provider.

use bytes::Bytes;
use http::header::{RETRY_AFTER, SET_COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::pages;
use super::unix_now;
use crate::reject::{DEFAULT_RETRY_AFTER, redirect};
use crate::session::manager::{Handle, Loaded};
use crate::state::Web;

pub(super) async fn sign_out(shared: &Web, parts: &Parts) -> Response<Bytes> {
    if !same_origin(shared, &parts.headers) {
        tracing::warn!("refused a cross-site sign-out request");
        return pages::text(StatusCode::FORBIDDEN, "cross-site sign-out refused".into());
    }
    let (session, handle) = match shared.sessions.load(&parts.headers, unix_now()).await {
        Loaded::Valid { data, handle } => (Some(data), handle),
        // A store that cannot be reached keeps the session until it expires; the browser's
        // cookie goes all the same.
        Loaded::Unusable { chunks } | Loaded::Unavailable { chunks } => (None, Handle::new(chunks)),
        Loaded::None => (None, Handle::new(0)),
    };
    if let Some(session) = &session {
        // The session itself ends, not only this browser's cookie: every copy is refused from
        // now on, on every instance. Until that is recorded, nothing is undone: the user is
        // told to try again and keeps the session (a copy would otherwise outlive the sign-out).
        if let Err(error) = shared.ending().end_session(session).await {
            tracing::error!(%error, "could not record a sign-out; the session is kept");
            let mut response = pages::text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing out could not be completed right now. Please try again in a moment."
                    .into(),
            );
            response.headers_mut().insert(
                RETRY_AFTER,
                HeaderValue::from(DEFAULT_RETRY_AFTER.as_secs()),
            );
            return response;
        }
        if let Some(refresh_token) = &session.rt
            && let Err(error) = shared.client.revoke(refresh_token, "refresh_token").await
        {
            // The session ends here regardless; the token dies at its expiry.
            tracing::warn!(%error, "could not revoke the refresh token at sign-out");
        }
        tracing::info!(sub = %session.sub, "signed out");
    }

    let location = match (&shared.client.metadata.end_session_endpoint, &session) {
        (Some(end_session), Some(session)) => {
            let mut url = end_session.clone();
            {
                let mut query = url.query_pairs_mut();
                if let Some(id_token) = &session.idt {
                    query.append_pair("id_token_hint", id_token);
                }
                query
                    .append_pair("client_id", &shared.client.client_id)
                    .append_pair(
                        "post_logout_redirect_uri",
                        shared.post_logout_redirect.as_str(),
                    );
            }
            url.to_string()
        }
        _ => shared.post_logout_redirect.to_string(),
    };
    let mut response = redirect(StatusCode::SEE_OTHER, &location);
    for cookie in shared.sessions.clear(&handle).await {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// Whether a state-changing request under cookie authentication comes from this site, the way
/// browsers let a server tell: `Sec-Fetch-Site` when sent (`same-origin`, or `none` for one the
/// user started), else `Origin` (this app's origin). A request with neither is refused too:
/// every browser that runs today's pages sends one of them with a `POST`, so a request without
/// either is not the app's own form or `fetch`, and cannot be told apart from a forged one.
pub(crate) fn same_origin(shared: &Web, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match header("origin") {
        None => false,
        Some(origin) => {
            origin == shared.public_origin
                || (shared.trust_forwarded && forwarded_origin(headers).as_deref() == Some(origin))
        }
    }
}

/// The origin a trusted reverse proxy says the request was made to.
fn forwarded_origin(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("x-forwarded-host")?.split(',').next()?.trim();
    let proto = header("x-forwarded-proto")
        .and_then(|p| p.split(',').next())
        .map_or("https", str::trim);
    Some(format!("{proto}://{host}"))
}
