//! The one HTTP client every call to the provider goes through.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

/// Default limit for one whole call to the provider (connect, send, receive).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit for establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Responses larger than this are refused: discovery documents, key sets and token responses
/// are a few KiB.
const MAX_BODY: usize = 1024 * 1024;

/// The HTTP client used to talk to the provider.
///
/// The default follows no redirects (a redirected token or key request is a misconfiguration
/// or an attack), verifies TLS with the platform's roots through rustls, and bounds every call
/// with [`DEFAULT_TIMEOUT`]. Wrap your own [`reqwest::Client`] with [`HttpClient::from_reqwest`]
/// for a custom CA or a proxy; configure it not to follow redirects.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

/// A call to the provider failed before any HTTP response arrived.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    source: Option<reqwest::Error>,
}

/// How a call to the provider failed before any HTTP response arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The call took longer than its timeout.
    Timeout,
    /// No connection could be made, or it broke before the response was complete.
    Connect,
    /// The response was larger than the limit for provider responses (1 MiB).
    TooLarge,
    /// Anything else (TLS, a malformed response).
    Other,
}

impl TransportError {
    /// How the call failed.
    #[must_use]
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::TooLarge => "got a response over 1 MiB",
            TransportErrorKind::Other => "failed",
        };
        // reqwest's errors name the URL, which never carries a secret here (secrets travel in
        // headers and bodies), so they are safe to show.
        match &self.source {
            Some(source) => write!(f, "request to the provider {what}: {source}"),
            None => write!(f, "request to the provider {what}"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl From<reqwest::Error> for TransportError {
    fn from(source: reqwest::Error) -> Self {
        let kind = if source.is_timeout() {
            TransportErrorKind::Timeout
        } else if source.is_connect() || source.is_request() || source.is_body() {
            TransportErrorKind::Connect
        } else {
            TransportErrorKind::Other
        };
        Self {
            kind,
            source: Some(source),
        }
    }
}

/// A whole response from the provider. `Debug` shows neither its body (a token response's
/// tokens) nor its headers' values.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .finish()
    }
}

impl HttpClient {
    /// The default client: rustls with the platform's roots, no redirects, bounded calls.
    ///
    /// # Panics
    /// When the TLS backend cannot be initialised (no usable root store on the platform).
    #[must_use]
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .timeout(DEFAULT_TIMEOUT)
            .user_agent(concat!("logi-tower/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initialises");
        Self {
            client,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Uses your own client (custom CA, proxy). Each call is still bounded by
    /// [`DEFAULT_TIMEOUT`] unless changed with [`HttpClient::with_timeout`].
    #[must_use]
    pub fn from_reqwest(client: reqwest::Client) -> Self {
        Self {
            client,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the limit for one whole call.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The limit for one whole call.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    pub(crate) async fn get(&self, url: url::Url) -> Result<Response, TransportError> {
        self.send(self.client.get(url)).await
    }

    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, TransportError> {
        let mut response = request
            .timeout(self.timeout)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(TransportError {
                    kind: TransportErrorKind::TooLarge,
                    source: None,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body: body.into(),
        })
    }
}

/// The `max-age` of a `Cache-Control` header, if any; `no-store`/`no-cache` count as zero.
pub(crate) fn cache_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return Some(Duration::ZERO);
            }
            if let Some(secs) = lower.strip_prefix("max-age=")
                && let Ok(secs) = secs.trim_matches('"').parse::<u64>()
            {
                max_age = Some(Duration::from_secs(secs));
            }
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use crate::provider::http::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(http::header::CACHE_CONTROL, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn debug_shows_no_body_and_no_header_value() {
        let response = Response {
            status: StatusCode::OK,
            headers: headers(&["s3cr3t-header"]),
            body: Bytes::from_static(br#"{"access_token":"s3cr3t-token"}"#),
        };
        let debug = format!("{response:?} {response:#?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(
            debug.contains("cache-control") && debug.contains("31 bytes"),
            "{debug}"
        );
    }

    #[test]
    fn reads_max_age() {
        assert_eq!(
            cache_max_age(&headers(&["public, max-age=3600"])),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            cache_max_age(&headers(&["public", "Max-Age=60"])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(cache_max_age(&headers(&["no-store"])), Some(Duration::ZERO));
        assert_eq!(cache_max_age(&headers(&["public"])), None);
        assert_eq!(cache_max_age(&headers(&["max-age=abc"])), None);
        assert_eq!(cache_max_age(&HeaderMap::new()), None);
    }
}
