//! An in-process OpenID provider that behaves like logi, for tests and development.
//!
//! [`TestProvider`] serves logi's endpoints over real HTTP/1.1 on a loopback port: discovery,
//! JWKS, authorization (PKCE S256 required), token (authorization code and rotating refresh
//! tokens with reuse detection), userinfo, revocation (RFC 7009) and RP-initiated logout (which
//! delivers a back-channel logout to a client that registered a `backchannel_logout_uri`). It
//! answers with logi's exact error codes, descriptions and JSON shape, counts the calls to every
//! endpoint, and injects faults on demand (a delay, an error status, a dropped connection).
//!
//! It also mints tokens directly ([`TestProvider::sign_claims`],
//! [`TestProvider::access_token`], [`TestProvider::logout_token`]) so a test can present valid, expired or forged tokens to the
//! code under test without running a browser flow.
//!
//! ```
//! use logi::testing::{Endpoint, TestClient, TestProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = TestProvider::start().await?;
//!
//! let discovery: serde_json::Value = serde_json::from_slice(
//!     &reqwest::get(provider.discovery_url()).await?.bytes().await?,
//! )?;
//! assert_eq!(discovery["issuer"], provider.issuer());
//! assert_eq!(provider.calls(Endpoint::Discovery), 1);
//!
//! // A bearer token for the default client, as an API under test would receive it.
//! let token = provider.access_token(
//!     TestClient::DEFAULT_CLIENT_ID,
//!     "user-0001",
//!     &["openid", "email"],
//!     std::time::Duration::from_secs(60),
//! );
//! assert_eq!(token.split('.').count(), 3);
//!
//! provider.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The provider only listens on loopback addresses. It keeps everything in memory and is meant
//! for tests and local development, never for production.

mod client;
mod grants;
mod keys;
mod logout_token;
mod provider;
mod respond;
mod routes;
mod server;
mod session;
mod state;
mod user;

use std::time::Duration;

pub use self::client::TestClient;
pub use self::logout_token::LogoutTokenBuilder;
pub use self::provider::{TestProvider, TestProviderBuilder};
pub use self::session::{TestSession, advance_refresh_clock};
pub use self::user::TestUser;

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

    fn from_path(path: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|endpoint| endpoint.path() == path)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A failure the provider injects on an endpoint, set with [`TestProvider::set_fault`].
///
/// A fault stays until [`TestProvider::clear_fault`]; faulted requests are still counted.
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
