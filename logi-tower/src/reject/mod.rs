//! Refusals: what a request that needs a signed-in user gets when it has none, or a user with
//! fewer rights than required. Decides the refusal from the request's resolved credentials
//! (here), by one table (`reason.rs`); `http.rs` and `grpc.rs` only render it. Changes nothing.

mod grpc;
mod http;
mod kind;
mod reason;

use ::http::{HeaderMap, Method, Response, Uri};
use bytes::Bytes;

#[cfg(feature = "tonic")]
pub(crate) use self::grpc::status as grpc_status;
pub(crate) use self::http::{json, json_error, layer_missing, redirect};
pub(crate) use self::kind::RequestKind;
pub(crate) use self::reason::{DEFAULT_RETRY_AFTER, Reason, Refusal};
#[cfg(any(feature = "axum", feature = "tonic"))]
use crate::guard::Denial;
use crate::state::{Auth, CredentialError};
use crate::verify::VerifyErrorKind;

impl Refusal {
    /// Why a request without a usable user is refused: a refused bearer token says why, a
    /// token or session that cannot be checked right now is unavailable, a pending sign-up or
    /// no credentials at all are signed out.
    pub(crate) fn of(auth: &Auth) -> Self {
        match (&auth.credential_error, auth.unavailable) {
            (Some(CredentialError::Invalid(e)), _) if e.kind() == VerifyErrorKind::Unavailable => {
                Self::new(Reason::TokenUncheckable, None)
            }
            (Some(CredentialError::Malformed(why)), _) => {
                Self::new(Reason::MalformedToken, Some((*why).to_owned()))
            }
            (Some(CredentialError::Invalid(e)), _) => {
                Self::new(Reason::InvalidToken, Some(e.to_string()))
            }
            (None, Some(retry_after)) => Self {
                retry_after: Some(retry_after),
                ..Self::new(Reason::SessionUnavailable, None)
            },
            (None, None) => match &auth.pending {
                Some(pending) => Self {
                    completion: Some(pending.path().to_owned()),
                    ..Self::new(Reason::SignupPending, None)
                },
                None => Self::new(Reason::SignedOut, None),
            },
        }
    }

    /// A signed-in user refused by a requirement.
    #[cfg(any(feature = "axum", feature = "tonic"))]
    pub(crate) fn denied(denial: Denial) -> Self {
        Self::forbidden(denial.description(), denial.scope())
    }
}

/// The response for a request that needs a signed-in user and has none, shaped by the request
/// kind and by why there is none.
pub(crate) fn refuse(
    auth: &Auth,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
) -> (Reason, Response<Bytes>) {
    let refusal = Refusal::of(auth);
    let kind = RequestKind::of(method, headers);
    let response = http::render(kind, &refusal, auth.shared.login_path(), uri);
    (refusal.reason, response)
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
    http::render(kind, &Refusal::denied(denial), login_path, uri)
}

#[cfg(test)]
mod tests {
    use ::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
    use ::http::{StatusCode, Uri};

    use ::http::Response;
    use ::http::header::LOCATION;
    use bytes::Bytes;

    #[cfg(feature = "axum")]
    use super::forbidden;
    use super::http::render;
    use super::kind::RequestKind;
    use super::reason::{Challenge, GrpcCode, Reason, Refusal};
    #[cfg(feature = "axum")]
    use crate::guard::Denial;

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// Every reason rendered for an API call, a gRPC call and a navigation: the status, the
    /// challenge, the body and the gRPC code are the table's, and the gRPC code is the one the
    /// HTTP status means (401 is UNAUTHENTICATED, 403 PERMISSION_DENIED, 503 UNAVAILABLE).
    #[test]
    fn http_and_grpc_render_every_reason_from_the_table() {
        let uri = Uri::from_static("/orders?x=1");
        for reason in Reason::ALL {
            let row = reason.row();
            let detail = row
                .description
                .is_none()
                .then(|| "why \"this\" 100% é".to_owned());
            let mut refusal = Refusal::new(reason, detail);
            if reason == Reason::Forbidden {
                refusal.scope = Some("orders:read".into());
            }
            let description = refusal.description().to_owned();
            assert!(!description.is_empty(), "{reason:?}");

            let grpc = match row.status {
                StatusCode::UNAUTHORIZED => GrpcCode::Unauthenticated,
                StatusCode::FORBIDDEN => GrpcCode::PermissionDenied,
                StatusCode::SERVICE_UNAVAILABLE => GrpcCode::Unavailable,
                other => panic!("{reason:?}: a refusal with status {other}"),
            };
            assert_eq!(row.grpc, grpc, "{reason:?}");
            let unavailable = row.status == StatusCode::SERVICE_UNAVAILABLE;

            let api = render(RequestKind::Api, &refusal, Some("/auth/login"), &uri);
            assert_eq!(api.status(), row.status, "{reason:?}");
            let body: serde_json::Value = serde_json::from_slice(api.body()).unwrap();
            assert_eq!(body["error"], row.error, "{reason:?}");
            assert_eq!(
                body["error_description"],
                description.as_str(),
                "{reason:?}"
            );
            let challenge = api
                .headers()
                .get(WWW_AUTHENTICATE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            match row.challenge {
                Challenge::None => assert_eq!(challenge, None, "{reason:?}"),
                Challenge::Bearer => assert_eq!(challenge.as_deref(), Some("Bearer")),
                Challenge::Token(_) | Challenge::InsufficientScope => {
                    let code = row.challenge.error_code().unwrap();
                    assert_eq!(code, row.error, "{reason:?}: challenge and body agree");
                    let challenge = challenge.unwrap();
                    assert!(
                        challenge.starts_with(&format!("Bearer error=\"{code}\"")),
                        "{reason:?}: {challenge}"
                    );
                }
            }
            assert_eq!(api.headers().contains_key(RETRY_AFTER), unavailable);

            let call = render(RequestKind::Grpc, &refusal, Some("/auth/login"), &uri);
            assert_eq!(call.status(), StatusCode::OK, "{reason:?}: trailers-only");
            assert_eq!(call.headers()[CONTENT_TYPE], "application/grpc");
            assert_eq!(
                call.headers()["grpc-status"],
                (grpc as u16).to_string().as_str(),
                "{reason:?}"
            );
            let message = call.headers()["grpc-message"].to_str().unwrap();
            assert_eq!(percent_decode(message), description, "{reason:?}");
            assert_eq!(call.headers().contains_key(RETRY_AFTER), unavailable);
            #[cfg(feature = "tonic")]
            {
                let (code, message) = super::grpc_status(&refusal);
                let code = tonic::Code::from_i32(i32::from(code));
                let expected = match grpc {
                    GrpcCode::Unauthenticated => tonic::Code::Unauthenticated,
                    GrpcCode::PermissionDenied => tonic::Code::PermissionDenied,
                    GrpcCode::Unavailable => tonic::Code::Unavailable,
                };
                assert_eq!(code, expected, "{reason:?}");
                assert_eq!(message, description);
            }

            let page = render(RequestKind::Navigation, &refusal, Some("/auth/login"), &uri);
            assert!(
                page.status() == row.status || page.status() == StatusCode::FOUND,
                "{reason:?}: {}",
                page.status()
            );
        }
    }

    /// The response for a request that needs a signed-in user and has none.
    fn unauthenticated(kind: RequestKind, login_path: Option<&str>, uri: &Uri) -> Response<Bytes> {
        render(
            kind,
            &Refusal::new(Reason::SignedOut, None),
            login_path,
            uri,
        )
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
