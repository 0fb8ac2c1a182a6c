//! The provider's endpoints and the faults it can inject on them: names and paths only.
//! The bottom of `testing`: it imports nothing from the crate.

use std::time::Duration;

/// The form target of the interactive sign-in page (no [`Endpoint`]: neither counted nor faulted).
pub(crate) const DECISION_PATH: &str = "/oauth/authorize/decision";

/// One of the provider's HTTP endpoints, for call counters and fault injection.
///
/// The interactive sign-in page's own form target (`POST /oauth/authorize/decision`) belongs to
/// no endpoint: it is neither counted nor faulted.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /.well-known/openid-configuration`.
    Discovery,
    /// `GET /.well-known/jwks.json`.
    Jwks,
    /// `GET /oauth/authorize`.
    Authorize,
    /// `POST /oauth/token`.
    Token,
    /// `GET|POST /oauth/userinfo`.
    Userinfo,
    /// `POST /oauth/revoke`.
    Revoke,
    /// `GET|POST /oauth/logout` (the `end_session_endpoint`).
    EndSession,
    /// `POST /oauth/introspect` (RFC 7662), when enabled.
    Introspection,
}

impl Endpoint {
    /// Every endpoint, in declaration order.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Discovery,
        Endpoint::Jwks,
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::Userinfo,
        Endpoint::Revoke,
        Endpoint::EndSession,
        Endpoint::Introspection,
    ];

    /// The endpoint's path on the provider, e.g. `/oauth/token`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Discovery => "/.well-known/openid-configuration",
            Endpoint::Jwks => "/.well-known/jwks.json",
            Endpoint::Authorize => "/oauth/authorize",
            Endpoint::Token => "/oauth/token",
            Endpoint::Userinfo => "/oauth/userinfo",
            Endpoint::Revoke => "/oauth/revoke",
            Endpoint::EndSession => "/oauth/logout",
            Endpoint::Introspection => "/oauth/introspect",
        }
    }

    pub(crate) fn from_path(path: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|endpoint| endpoint.path() == path)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A failure the provider injects on an endpoint, set with
/// [`TestProvider::set_fault`](crate::testing::TestProvider::set_fault).
///
/// A fault stays until
/// [`TestProvider::clear_fault`](crate::testing::TestProvider::clear_fault); faulted requests
/// are still counted.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Answer with this status and logi's error JSON: `temporarily_unavailable` for 429 and 503
    /// (429 also carries `Retry-After: 1`), `server_error` otherwise. A code outside 100–999
    /// answers 500.
    Status(u16),
    /// Close the TCP connection after reading the request, without any HTTP response.
    DropConnection,
}
