//! The HTTP rendering of a refusal: a browser navigation is sent to sign in (or shown a page),
//! an API call gets the table's status, JSON body and `WWW-Authenticate` challenge, a gRPC call
//! the table's `grpc-status`. Decides nothing (the table in `reason.rs` does); also the small
//! response helpers (redirect, JSON) the layer's own routes answer with.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode, Uri};

use super::grpc;
use super::kind::RequestKind;
use super::reason::{Challenge, Reason, Refusal};
use crate::pages;

/// `refusal` in the shape `kind` understands; with `Retry-After` when it says when to come back.
pub(crate) fn render(
    kind: RequestKind,
    refusal: &Refusal,
    login_path: Option<&str>,
    uri: &Uri,
) -> Response<Bytes> {
    let mut response = match kind {
        RequestKind::Grpc => grpc::response(refusal),
        RequestKind::Navigation => {
            navigation(refusal, login_path, uri).unwrap_or_else(|| api(refusal))
        }
        RequestKind::Api => api(refusal),
    };
    if let Some(retry_after) = refusal.retry_after {
        insert_retry_after(&mut response, retry_after);
    }
    response
}

fn insert_retry_after(response: &mut Response<Bytes>, retry_after: Duration) {
    let secs = retry_after.as_secs().max(1);
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
}

/// What a browser loading a page gets; `None` where it gets what an API call gets (a refused
/// bearer token, or no sign-in page to send it to).
fn navigation(refusal: &Refusal, login_path: Option<&str>, uri: &Uri) -> Option<Response<Bytes>> {
    match (refusal.reason, login_path) {
        (Reason::SignedOut, Some(login_path)) => Some(redirect(
            StatusCode::FOUND,
            &sign_in_again(login_path, uri),
        )),
        (Reason::SignupPending, _) => refusal
            .completion
            .as_deref()
            .map(|completion| incomplete(completion, uri)),
        (Reason::TokenUncheckable | Reason::SessionUnavailable, _) => Some(
            pages::ErrorPage {
                status: refusal.reason.row().status,
                title: "Temporarily unavailable",
                message: "Your session could not be renewed because the identity provider is not reachable right now. Please try again in a moment.",
                error: None,
                description: None,
                request_id: None,
                retry: login_path.unwrap_or("/"),
            }
            .render(),
        ),
        (Reason::Forbidden, Some(login_path)) => {
            let retry = sign_in_again(login_path, uri);
            Some(
                pages::ErrorPage {
                    status: refusal.reason.row().status,
                    title: "Access denied",
                    message: "You are signed in, but your account is not allowed to open this page. If you were just granted access, sign in again.",
                    error: refusal.reason.row().challenge.error_code(),
                    description: Some(refusal.description()),
                    request_id: None,
                    retry: &retry,
                }
                .render(),
            )
        }
        (
            Reason::SignedOut | Reason::Forbidden | Reason::MalformedToken | Reason::InvalidToken,
            _,
        ) => None,
    }
}

/// A navigation from a browser whose sign-up is pending goes to the app's completion form
/// (signing in again would only come back there).
fn incomplete(completion: &str, uri: &Uri) -> Response<Bytes> {
    if completion.split(['?', '#']).next() == Some(uri.path()) {
        // Redirecting would loop: the completion form itself requires a signed-in user.
        let message = format!(
            "the sign-up completion page `{}` requires a signed-in user: take `PendingSignup` there, not `LogiUser`, and keep it out of `require()`",
            uri.path()
        );
        // The path came with the request: a field, escaped, never part of the message.
        tracing::error!(
            path = ?uri.path(),
            "the sign-up completion page requires a signed-in user: take `PendingSignup` there, not `LogiUser`, and keep it out of `require()`"
        );
        return pages::text(StatusCode::INTERNAL_SERVER_ERROR, message);
    }
    redirect(StatusCode::FOUND, completion)
}

/// What an API call gets: the table's status, `{"error", "error_description"}` (and `scope`),
/// and its challenge.
fn api(refusal: &Refusal) -> Response<Bytes> {
    let row = refusal.reason.row();
    let mut body = serde_json::json!({
        "error": row.error,
        "error_description": refusal.description(),
    });
    if let Some(scope) = &refusal.scope {
        body["scope"] = scope.as_str().into();
    }
    let mut response = json(row.status, &body);
    if let Some(challenge) = challenge(refusal) {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    response
}

/// The `WWW-Authenticate` value of `refusal` (RFC 6750 section 3): `invalid_request` or
/// `invalid_token` with a short description that never echoes the token, `insufficient_scope`
/// naming the scopes.
fn challenge(refusal: &Refusal) -> Option<HeaderValue> {
    match refusal.reason.row().challenge {
        Challenge::None => None,
        Challenge::Bearer => Some(HeaderValue::from_static("Bearer")),
        Challenge::Token(code) => HeaderValue::try_from(format!(
            "Bearer error=\"{code}\", error_description=\"{}\"",
            refusal.description().replace(['"', '\\'], "")
        ))
        .ok(),
        Challenge::InsufficientScope => Some(insufficient_scope(refusal.scope.as_deref())),
    }
}

/// `Bearer error="insufficient_scope", scope="…"` (RFC 6750 section 3).
fn insufficient_scope(scope: Option<&str>) -> HeaderValue {
    const PLAIN: &str = "Bearer error=\"insufficient_scope\"";
    scope
        .and_then(|scope| HeaderValue::try_from(format!("{PLAIN}, scope=\"{scope}\"")).ok())
        .unwrap_or_else(|| HeaderValue::from_static(PLAIN))
}

/// The sign-in path, coming back to `uri`.
fn sign_in_again(login_path: &str, uri: &Uri) -> String {
    let return_to = uri.path_and_query().map_or("/", |pq| pq.as_str());
    format!(
        "{login_path}?return_to={}",
        url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
    )
}

/// A redirect that is never cached.
pub(crate) fn redirect(status: StatusCode, location: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        LOCATION,
        HeaderValue::try_from(location).unwrap_or_else(|_| HeaderValue::from_static("/")),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A JSON error body `{"error": code, "error_description": description}`.
pub(crate) fn json_error(
    status: StatusCode,
    code: &str,
    description: &str,
    www_authenticate: Option<HeaderValue>,
) -> Response<Bytes> {
    let body = serde_json::json!({ "error": code, "error_description": description });
    let mut response = json(status, &body);
    if let Some(value) = www_authenticate {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// A JSON response that is never cached.
pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 500 for an extractor or guard used without the layer in front of it.
pub(crate) fn layer_missing(what: &str) -> Response<Bytes> {
    let message = format!(
        "{what} needs the logi layer: is `LogiLayer` installed (with `.layer(logi)`) in front of this route?"
    );
    tracing::error!("{message}");
    pages::text(StatusCode::INTERNAL_SERVER_ERROR, message)
}
