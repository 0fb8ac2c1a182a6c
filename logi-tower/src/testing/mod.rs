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

// Levels, arrows pointing down only (a file imports from its own level or below):
// - bottom: `endpoint` (names, paths, faults), `keys` (signing, randomness, the clock),
//   `respond` (error JSON, response helpers), `client`, `user`, `grants`;
// - `state`: the provider's shared state;
// - `routes`: the HTTP handlers over the state;
// - facade: `server` (accept loop, faults), `provider` and `logout_token` (what tests touch),
//   and `session` (a layer's session, from the outside).
// This file only declares and re-exports.
mod client;
mod endpoint;
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

pub use self::client::TestClient;
pub use self::endpoint::{Endpoint, Fault};
pub use self::logout_token::LogoutTokenBuilder;
pub use self::provider::{TestProvider, TestProviderBuilder};
pub use self::session::{TestSession, advance_refresh_clock};
pub use self::user::TestUser;
