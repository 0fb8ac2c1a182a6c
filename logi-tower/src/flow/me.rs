//! `GET /auth/me`: the signed-in user as JSON, for pages with their own front end.

use bytes::Bytes;
use http::header::{SET_COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};

use crate::reject::{json, refuse};
use crate::state::Auth;

/// The answer for the request's resolved credentials, with the session's cookies when it
/// changed.
pub(crate) fn me(auth: &Auth, set_cookies: Vec<HeaderValue>) -> Response<Bytes> {
    let mut response = match (&auth.principal, &auth.pending) {
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
        // Signed out until the app completes the sign-up; says where the form is.
        (None, Some(pending)) => {
            let body = serde_json::json!({
                "error": "unauthenticated",
                "error_description": "sign-up not completed",
                "pending": true,
                "completion": pending.path(),
            });
            let mut response = json(StatusCode::UNAUTHORIZED, &body);
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        // Refused as an API call: `/auth/me` is for scripts, never a redirect.
        (None, None) => refuse(auth, &Method::GET, &api_call(), &Uri::from_static("/")).1,
    };
    for cookie in set_cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

fn api_call() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    headers
}
