//! What a request gets when it needs a signed-in user and has none, or a user with more rights
//! than the signed-in one: shaped by what sent it.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};

use crate::VerifyErrorKind;
#[cfg(feature = "axum")]
use crate::guard::Denial;
use crate::pages;
use crate::state::{Auth, CredentialError};

/// Who is asking, as far as the response's shape is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// A browser loading a page: send it to sign in.
    Navigation,
    /// A script or API client: 401 with `WWW-Authenticate`.
    Api,
    /// A gRPC client: `grpc-status`.
    Grpc,
}

impl RequestKind {
    pub(crate) fn of(method: &Method, headers: &HeaderMap) -> Self {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if header("content-type").is_some_and(|ct| ct.starts_with("application/grpc")) {
            return Self::Grpc;
        }
        if header("x-requested-with").is_some_and(|v| v.eq_ignore_ascii_case("XMLHttpRequest"))
            || headers.contains_key(http::header::AUTHORIZATION)
        {
            // A caller that sends credentials itself is never redirected.
            return Self::Api;
        }
        if let Some(mode) = header("sec-fetch-mode") {
            return if mode == "navigate" {
                Self::Navigation
            } else {
                Self::Api
            };
        }
        let wants_html = headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html"));
        if wants_html && (method == Method::GET || method == Method::HEAD) {
            Self::Navigation
        } else {
            Self::Api
        }
    }
}

/// Why a request that needs a user was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No credentials.
    Unauthenticated,
    /// A bearer token was presented and refused.
    InvalidToken,
    /// The session or the provider's keys cannot be had right now.
    Unavailable,
}

/// The response for a request that needs a signed-in user and has none, shaped by the request
/// kind and by why there is none.
pub(crate) fn refuse(
    auth: &Auth,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
) -> (Refusal, Response<Bytes>) {
    let kind = RequestKind::of(method, headers);
    let login = auth.shared.login_path();
    match (&auth.credential_error, auth.unavailable) {
        (Some(CredentialError::Invalid(e)), _) if e.kind() == VerifyErrorKind::Unavailable => (
            Refusal::Unavailable,
            unavailable(kind, DEFAULT_RETRY_AFTER, login.unwrap_or("/")),
        ),
        (Some(error), _) => (Refusal::InvalidToken, invalid_token(kind, error)),
        (None, Some(retry_after)) => (
            Refusal::Unavailable,
            unavailable(kind, retry_after, login.unwrap_or("/")),
        ),
        (None, None) => match &auth.pending {
            Some(pending) => (
                Refusal::Unauthenticated,
                incomplete(kind, pending.path(), uri),
            ),
            None => (Refusal::Unauthenticated, unauthenticated(kind, login, uri)),
        },
    }
}

/// The response for a request that needs a signed-in user from a browser whose sign-up is
/// pending: a navigation goes to the app's completion form (signing in again would only come
/// back there), anything else is refused as signed out.
fn incomplete(kind: RequestKind, completion: &str, uri: &Uri) -> Response<Bytes> {
    match kind {
        RequestKind::Navigation if completion.split(['?', '#']).next() == Some(uri.path()) => {
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
            pages::text(StatusCode::INTERNAL_SERVER_ERROR, message)
        }
        RequestKind::Navigation => redirect(StatusCode::FOUND, completion),
        RequestKind::Api => json_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign-up not completed",
            Some(HeaderValue::from_static("Bearer")),
        ),
        RequestKind::Grpc => grpc_error(16, "sign in required"),
    }
}

/// When nothing better is known, callers are told to come back after this.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// 401 for a refused bearer token (RFC 6750 §3): `invalid_request` for an unusable header,
/// `invalid_token` for a token that failed verification, with a short description that never
/// echoes the token.
fn invalid_token(kind: RequestKind, error: &CredentialError) -> Response<Bytes> {
    let (code, description) = match error {
        CredentialError::Malformed(why) => ("invalid_request", (*why).to_owned()),
        CredentialError::Invalid(e) => ("invalid_token", e.to_string()),
    };
    if kind == RequestKind::Grpc {
        let mut response = grpc_error(16, "invalid bearer token");
        if let Ok(message) = HeaderValue::try_from(percent_encode(&description)) {
            response.headers_mut().insert("grpc-message", message);
        }
        return response;
    }
    let challenge = format!(
        "Bearer error=\"{code}\", error_description=\"{}\"",
        description.replace(['"', '\\'], "")
    );
    json_error(
        StatusCode::UNAUTHORIZED,
        code,
        &description,
        HeaderValue::try_from(challenge).ok(),
    )
}

/// gRPC's `grpc-message` is percent-encoded.
fn percent_encode(message: &str) -> String {
    message
        .bytes()
        .map(|b| {
            if (0x20..0x7f).contains(&b) && b != b'%' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The response for a request that needs a signed-in user and has none.
pub(crate) fn unauthenticated(
    kind: RequestKind,
    login_path: Option<&str>,
    uri: &Uri,
) -> Response<Bytes> {
    let kind = match (kind, login_path) {
        // An API-only layer has no sign-in page to send a browser to.
        (RequestKind::Navigation, None) => RequestKind::Api,
        (kind, _) => kind,
    };
    match kind {
        RequestKind::Navigation => redirect(
            StatusCode::FOUND,
            &sign_in_again(login_path.unwrap_or("/"), uri),
        ),
        RequestKind::Api => json_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in required",
            Some(HeaderValue::from_static("Bearer")),
        ),
        RequestKind::Grpc => grpc_error(16, "sign in required"),
    }
}

/// The response for a request that needs a signed-in user whose session cannot be refreshed
/// right now (the provider is unreachable and the access token has expired).
pub(crate) fn unavailable(
    kind: RequestKind,
    retry_after: Duration,
    login_path: &str,
) -> Response<Bytes> {
    let mut response = match kind {
        RequestKind::Navigation => pages::ErrorPage {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Temporarily unavailable",
            message: "Your session could not be renewed because the identity provider is not reachable right now. Please try again in a moment.",
            error: None,
            description: None,
            request_id: None,
            retry: login_path,
        }
        .render(),
        RequestKind::Api => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the session cannot be renewed right now; try again later",
            None,
        ),
        RequestKind::Grpc => grpc_error(14, "the session cannot be renewed right now"),
    };
    let secs = retry_after.as_secs().max(1);
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// The response for a signed-in user who lacks the scopes, or fails the check, a resource
/// requires: 403 with RFC 6750's `insufficient_scope` for an API call, a page for a browser
/// (its link signs in again, which picks up newly granted scopes), `grpc-status` 7 for gRPC.
#[cfg(feature = "axum")]
pub(crate) fn forbidden(
    kind: RequestKind,
    denial: Denial,
    login_path: Option<&str>,
    uri: &Uri,
) -> Response<Bytes> {
    let description = denial.description();
    let kind = match (kind, login_path) {
        // An API-only layer has no sign-in page to link to.
        (RequestKind::Navigation, None) => RequestKind::Api,
        (kind, _) => kind,
    };
    match kind {
        RequestKind::Navigation => {
            let retry = sign_in_again(login_path.unwrap_or("/"), uri);
            pages::ErrorPage {
                status: StatusCode::FORBIDDEN,
                title: "Access denied",
                message: "You are signed in, but your account is not allowed to open this page. If you were just granted access, sign in again.",
                error: Some("insufficient_scope"),
                description: Some(&description),
                request_id: None,
                retry: &retry,
            }
            .render()
        }
        RequestKind::Api => {
            let mut body = serde_json::json!({
                "error": "insufficient_scope",
                "error_description": description,
            });
            if let Some(scope) = denial.scope() {
                body["scope"] = scope.into();
            }
            let mut response = json(StatusCode::FORBIDDEN, &body);
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                insufficient_scope(denial.scope().as_deref()),
            );
            response
        }
        RequestKind::Grpc => grpc_error(7, "permission denied"),
    }
}

/// `Bearer error="insufficient_scope", scope="…"` (RFC 6750 section 3).
#[cfg(feature = "axum")]
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

/// A gRPC "trailers-only" error response.
pub(crate) fn grpc_error(code: u8, message: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(u16::from(code)));
    headers.insert("grpc-message", HeaderValue::from_static(message));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: Method, pairs: &[(&'static str, &'static str)]) -> RequestKind {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(*k, HeaderValue::from_static(v));
        }
        RequestKind::of(&method, &headers)
    }

    #[test]
    fn classifies_requests_by_what_sent_them() {
        use RequestKind::*;
        assert_eq!(
            kind(Method::GET, &[("sec-fetch-mode", "navigate")]),
            Navigation
        );
        assert_eq!(
            kind(Method::POST, &[("sec-fetch-mode", "navigate")]),
            Navigation
        );
        assert_eq!(
            kind(
                Method::GET,
                &[("sec-fetch-mode", "cors"), ("accept", "text/html")]
            ),
            Api
        );
        assert_eq!(
            kind(
                Method::GET,
                &[("accept", "text/html,application/xhtml+xml")]
            ),
            Navigation
        );
        assert_eq!(kind(Method::GET, &[("accept", "application/json")]), Api);
        assert_eq!(
            kind(
                Method::GET,
                &[
                    ("accept", "text/html"),
                    ("x-requested-with", "XMLHttpRequest")
                ]
            ),
            Api
        );
        assert_eq!(kind(Method::GET, &[]), Api);
        assert_eq!(
            kind(Method::POST, &[("content-type", "application/grpc+proto")]),
            Grpc
        );
    }

    #[test]
    fn navigation_goes_to_sign_in_with_the_return_path() {
        let uri: Uri = "/orders/7?tab=a&b=c".parse().unwrap();
        let r = unauthenticated(RequestKind::Navigation, Some("/auth/login"), &uri);
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(
            r.headers()[LOCATION],
            "/auth/login?return_to=%2Forders%2F7%3Ftab%3Da%26b%3Dc"
        );
        let r = unauthenticated(RequestKind::Api, Some("/auth/login"), &uri);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        let r = unauthenticated(RequestKind::Grpc, Some("/auth/login"), &uri);
        let r2 = unauthenticated(RequestKind::Navigation, None, &uri);
        assert_eq!(
            r2.status(),
            StatusCode::UNAUTHORIZED,
            "no sign-in page: no redirect"
        );
        assert_eq!(r.headers()["grpc-status"], "16");
    }

    #[test]
    #[cfg(feature = "axum")]
    fn forbidden_names_the_scopes_in_the_callers_shape() {
        let uri: Uri = "/orders?x=1".parse().unwrap();
        let denial = Denial::Scopes(&["orders:read", "orders:write"]);
        let r = forbidden(RequestKind::Api, denial, Some("/auth/login"), &uri);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"Bearer error="insufficient_scope", scope="orders:read orders:write""#
        );
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body["error"], "insufficient_scope");
        assert_eq!(body["scope"], "orders:read orders:write");

        let r = forbidden(RequestKind::Api, Denial::Check, Some("/auth/login"), &uri);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"Bearer error="insufficient_scope""#
        );

        let r = forbidden(RequestKind::Navigation, denial, Some("/auth/login"), &uri);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(
            r.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = std::str::from_utf8(r.body()).unwrap();
        assert!(page.contains("orders:read, orders:write"), "{page}");
        assert!(
            page.contains("/auth/login?return_to=%2Forders%3Fx%3D1"),
            "{page}"
        );

        let r = forbidden(RequestKind::Grpc, denial, Some("/auth/login"), &uri);
        assert_eq!(r.headers()["grpc-status"], "7");
    }
}
