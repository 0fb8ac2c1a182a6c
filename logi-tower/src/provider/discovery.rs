//! OpenID Connect discovery from the issuer alone.

use std::fmt;

use serde::Deserialize;
use url::Url;

use super::http::{HttpClient, TransportError};

/// logi's production issuer.
pub const DEFAULT_ISSUER: &str = "https://api.1pass.dev";

/// What the provider says about itself (`/.well-known/openid-configuration`).
///
/// Endpoints are read from here, never assumed.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// `issuer`: what tokens carry in `iss`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: Url,
    /// `token_endpoint`.
    pub token_endpoint: Url,
    /// `jwks_uri`.
    pub jwks_uri: Url,
    /// `userinfo_endpoint`.
    pub userinfo_endpoint: Option<Url>,
    /// `revocation_endpoint` (RFC 7009).
    pub revocation_endpoint: Option<Url>,
    /// `end_session_endpoint` (RP-initiated logout).
    pub end_session_endpoint: Option<Url>,
    /// `introspection_endpoint` (RFC 7662).
    pub introspection_endpoint: Option<Url>,
    /// `code_challenge_methods_supported`.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// `token_endpoint_auth_methods_supported`.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `id_token_signing_alg_values_supported`.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
}

/// Discovery failed: the layer cannot start.
#[derive(Debug)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The issuer is not an `https://` URL (or `http://` on a loopback host).
    InsecureIssuer(String),
    /// The discovery document could not be fetched.
    Unreachable(TransportError),
    /// The discovery endpoint answered with an error status.
    Status(u16),
    /// The document is not valid provider metadata.
    InvalidDocument(String),
    /// The document names another issuer than the one configured: refusing to start.
    IssuerMismatch {
        /// The issuer that was configured.
        expected: String,
        /// The issuer the document names.
        found: String,
    },
    /// An endpoint is not `https://` (or loopback `http://` for a loopback issuer).
    InsecureEndpoint(&'static str, String),
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InsecureIssuer(issuer) => write!(
                f,
                "issuer `{issuer}` must be an https:// URL (http:// only on localhost, 127.0.0.1 or [::1])"
            ),
            Self::Unreachable(e) => write!(f, "OpenID discovery failed: {e}"),
            Self::Status(status) => {
                write!(f, "OpenID discovery failed: the provider answered {status}")
            }
            Self::InvalidDocument(e) => write!(f, "OpenID discovery document is invalid: {e}"),
            Self::IssuerMismatch { expected, found } => write!(
                f,
                "OpenID discovery document names issuer `{found}` but `{expected}` is configured; refusing to start"
            ),
            Self::InsecureEndpoint(name, url) => {
                write!(f, "the provider's {name} `{url}` is not https://")
            }
        }
    }
}

impl std::error::Error for DiscoveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unreachable(e) => Some(e),
            _ => None,
        }
    }
}

/// Whether `url` is `https://`, or `http://` on a loopback host.
pub(crate) fn is_secure_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

/// Whether `url`'s host is `localhost`, a 127.0.0.0/8 address or `[::1]`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses and checks an issuer URL.
pub(crate) fn issuer_url(issuer: &str) -> Result<Url, DiscoveryError> {
    let url = Url::parse(issuer).map_err(|_| DiscoveryError::InsecureIssuer(issuer.to_owned()))?;
    if !is_secure_or_loopback(&url) || url.query().is_some() || url.fragment().is_some() {
        return Err(DiscoveryError::InsecureIssuer(issuer.to_owned()));
    }
    Ok(url)
}

impl ProviderMetadata {
    /// Fetches `{issuer}/.well-known/openid-configuration` and checks it.
    ///
    /// `expected_issuer` is what the document (and every token) must name as `iss`; it is
    /// `issuer` itself unless a deployment uses another issuer string (older logi deployments
    /// used the bare string `logi`).
    ///
    /// # Errors
    /// See [`DiscoveryError`].
    pub async fn discover(
        http: &HttpClient,
        issuer: &str,
        expected_issuer: Option<&str>,
    ) -> Result<Self, DiscoveryError> {
        let base = issuer_url(issuer)?;
        let url = Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|e| DiscoveryError::InvalidDocument(e.to_string()))?;
        let response = http.get(url).await.map_err(DiscoveryError::Unreachable)?;
        if !response.status.is_success() {
            return Err(DiscoveryError::Status(response.status.as_u16()));
        }
        let metadata: Self = serde_json::from_slice(&response.body)
            .map_err(|e| DiscoveryError::InvalidDocument(e.to_string()))?;
        let expected = expected_issuer.unwrap_or(issuer);
        if metadata.issuer.trim_end_matches('/') != expected.trim_end_matches('/') {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected.to_owned(),
                found: metadata.issuer,
            });
        }
        metadata.check_endpoints()?;
        Ok(metadata)
    }

    fn check_endpoints(&self) -> Result<(), DiscoveryError> {
        let required = [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", Some(&self.token_endpoint)),
            ("jwks_uri", Some(&self.jwks_uri)),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
            ("end_session_endpoint", self.end_session_endpoint.as_ref()),
            (
                "introspection_endpoint",
                self.introspection_endpoint.as_ref(),
            ),
        ];
        for (name, url) in required {
            if let Some(url) = url
                && !is_secure_or_loopback(url)
            {
                return Err(DiscoveryError::InsecureEndpoint(name, url.to_string()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::discovery::*;

    #[test]
    fn issuer_must_be_https_or_loopback() {
        for ok in [
            "https://api.1pass.dev",
            "http://localhost:8080",
            "http://127.0.0.1:1234/tenant",
            "http://[::1]:99",
        ] {
            assert!(issuer_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.1pass.dev",
            "http://localhost.evil.com",
            "ftp://127.0.0.1",
            "logi",
            "https://api.1pass.dev/?x=1",
            "http://10.0.0.1",
        ] {
            assert!(
                matches!(issuer_url(bad), Err(DiscoveryError::InsecureIssuer(_))),
                "{bad}"
            );
        }
    }
}
