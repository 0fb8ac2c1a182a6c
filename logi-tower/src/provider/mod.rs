//! Talking to the OpenID provider: discovery, keys, and the HTTP client.
//! Protocol level: owns every network call to the provider; knows no layer, settings, session or
//! request (it must not import `state`, `config`, `flow` or `service`).

mod client;
mod discovery;
mod http;
mod jwks;

pub use self::client::ProviderError;
pub(crate) use self::client::{CallError, ClientAuth, DEFAULT_EXPIRES_IN, OidcClient};
pub use self::discovery::{DEFAULT_ISSUER, DiscoveryError, ProviderMetadata};
pub(crate) use self::discovery::{is_loopback, is_secure_or_loopback, issuer_url};
pub use self::http::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpClient, TransportError, TransportErrorKind,
};
pub use self::jwks::{DEFAULT_MAX_AGE, Jwks, JwksError, MIN_REFETCH_INTERVAL};

impl Jwks {
    /// The key set the provider publishes at `jwks_uri`, fetched on first use through `http`.
    #[must_use]
    pub fn from_provider(http: &HttpClient, metadata: &ProviderMetadata) -> Self {
        Self::remote(http.clone(), metadata.jwks_uri.clone())
    }
}
