//! The request kind a refusal is shaped for: a browser navigation, an API call, a gRPC call.
//! Reads only the request's method and headers; imports nothing from the crate.

use http::header::ACCEPT;
use http::{HeaderMap, Method};

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

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Method};

    use crate::reject::kind::RequestKind;

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
}
