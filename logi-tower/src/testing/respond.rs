//! How the provider answers: request ids, logi's error JSON, parameters, and response helpers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::keys::random_hex;

/// The header carrying the request id on every response.
pub(crate) const REQUEST_ID_HEADER: &str = "x-logi-request-id";

/// The id of one request (`req_` + 16 hex), in the response header and in error bodies.
///
/// The server puts it in the request's extensions; handlers extract it.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(String);

impl RequestId {
    pub(crate) fn generate() -> Self {
        Self(format!("req_{}", random_hex(8)))
    }

    pub(crate) fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.0).expect("request ids are ASCII")
    }
}

impl<S: Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate))
    }
}

/// An OAuth error as logi reports it.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: Cow<'static, str>,
    challenge: Option<&'static str>,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub(crate) fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub(crate) fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// A 401 from a bearer-protected endpoint (RFC 6750).
    pub(crate) fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
            .with_challenge(r#"Bearer error="invalid_token""#)
    }

    /// Adds a `WWW-Authenticate` header.
    pub(crate) fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    pub(crate) fn description(&self) -> &str {
        &self.description
    }

    /// logi's error JSON, carrying `request_id`.
    pub(crate) fn into_response(self, request_id: &RequestId) -> Response {
        let body = json!({
            "error": self.code,
            "error_description": self.description,
            "error_uri": format!("https://docs.1pass.dev/oauth/errors#{}", self.code),
            "request_id": request_id.0,
        });
        let mut response = no_store(json(self.status, &body));
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Either answer, the error one as logi's error JSON.
pub(crate) fn respond(request_id: &RequestId, result: Result<Response, OAuthError>) -> Response {
    result.unwrap_or_else(|error| error.into_response(request_id))
}

/// Form or query parameters. Empty values count as absent; a repeated one is refused. `Debug`
/// shows the names only: the values are codes, tokens and secrets.
#[derive(Default)]
pub(crate) struct Params(HashMap<String, String>);

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_tuple("Params").field(&names).finish()
    }
}

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Result<Self, OAuthError> {
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.is_empty() {
                continue;
            }
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{name}` repeated"
                )));
            }
        }
        Ok(Self(params))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(crate) fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} missing")))
    }
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A self-contained HTML page (no external resources).
pub(crate) fn html(body: String) -> Response {
    let mut response = no_store(Response::new(Body::from(body)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

/// A 302 to `location`.
pub(crate) fn found(location: &str) -> Result<Response, OAuthError> {
    let location = HeaderValue::from_str(location)
        .map_err(|_| OAuthError::invalid_request("redirect URI is not a valid header value"))?;
    let mut response = no_store(Response::new(Body::empty()));
    *response.status_mut() = StatusCode::FOUND;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// `uri` with `pairs` appended to its query.
pub(crate) fn with_query(uri: &str, pairs: &[(&str, Option<&str>)]) -> Result<String, OAuthError> {
    let mut url = url::Url::parse(uri)
        .map_err(|_| OAuthError::invalid_request("registered redirect URI is not a valid URL"))?;
    // Only touch the query when there is something to add: `query_pairs_mut` would leave a
    // bare `?` on a URI that has no query.
    if pairs.iter().any(|(_, value)| value.is_some()) {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    Ok(url.into())
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use crate::testing::respond::*;

    #[test]
    fn params_refuse_repeats_and_ignore_empty_values() {
        let params = Params::parse(b"a=1&b=&c=x+y%21").unwrap();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), None);
        assert_eq!(params.get("c"), Some("x y!"));
        let repeated = Params::parse(b"a=1&a=2").unwrap_err();
        assert_eq!(repeated.code(), "invalid_request");
    }

    #[test]
    fn with_query_keeps_the_registered_query() {
        let uri = with_query(
            "https://app.test/cb?x=1",
            &[("code", Some("c")), ("s", None)],
        );
        assert_eq!(uri.unwrap(), "https://app.test/cb?x=1&code=c");
        let uri = with_query("https://app.test/", &[("state", None)]);
        assert_eq!(uri.unwrap(), "https://app.test/");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape_html(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
