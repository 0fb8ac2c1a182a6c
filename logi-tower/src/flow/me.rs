//! `GET /auth/me`: the signed-in user as JSON, for pages with their own front end.

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderValue, Response, StatusCode};

use crate::layer::Auth;
use crate::reject::{RequestKind, json, json_error, unavailable};

/// The answer for the request's resolved session, with the session's cookies when it changed.
pub(crate) fn me(auth: &Auth, set_cookies: Vec<HeaderValue>) -> Response<Bytes> {
    let mut response = match (&auth.principal, auth.unavailable) {
        (Some(principal), _) => {
            let mut body = serde_json::Map::new();
            body.insert("sub".into(), principal.sub.clone().into());
            body.insert("iss".into(), principal.iss.clone().into());
            for (k, v) in &principal.claims {
                body.entry(k.clone()).or_insert_with(|| v.clone());
            }
            body.insert("scopes".into(), principal.scopes.clone().into());
            json(StatusCode::OK, &body.into())
        }
        (None, Some(retry_after)) => {
            unavailable(RequestKind::Api, retry_after, &auth.shared.paths.login)
        }
        (None, None) => json_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "not signed in",
            Some(HeaderValue::from_static("Bearer")),
        ),
    };
    for cookie in set_cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}
