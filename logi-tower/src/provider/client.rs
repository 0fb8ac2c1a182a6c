//! Calls to the provider's token, userinfo and revocation endpoints, and logi's error JSON.

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use url::Url;

use super::discovery::ProviderMetadata;
use super::http::{HttpClient, Response, TransportError};
use crate::Secret;

/// logi's error body: `{"error", "error_description", "error_uri", "request_id"}`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderError {
    /// The OAuth error code, e.g. `invalid_grant`.
    #[serde(default)]
    pub error: String,
    /// A human-readable description.
    pub error_description: Option<String>,
    /// A link to logi's documentation of the error.
    pub error_uri: Option<String>,
    /// logi's request id (also in `X-Logi-Request-Id`): quote it when contacting support.
    pub request_id: Option<String>,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// A call to the provider failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// No response: timeout, connection refused or dropped.
    Transport(TransportError),
    /// The provider answered with an error status.
    Status {
        status: StatusCode,
        error: ProviderError,
        retry_after: Option<Duration>,
    },
    /// The provider answered 2xx with something unusable.
    Invalid(&'static str),
}

impl CallError {
    /// Whether trying again later may succeed (no answer, 5xx, 429).
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Self::Invalid(_) => false,
        }
    }

    /// logi's error, when the provider sent one.
    pub(crate) fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            Self::Status { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => e.fmt(f),
            Self::Status { status, error, .. } if error.error.is_empty() => {
                write!(f, "the provider answered {status}")?;
                if let Some(id) = &error.request_id {
                    write!(f, " (request id {id})")?;
                }
                Ok(())
            }
            Self::Status { status, error, .. } => {
                write!(f, "the provider answered {status}: {error}")
            }
            Self::Invalid(what) => write!(f, "the provider's answer is unusable: {what}"),
        }
    }
}

/// Assumed access-token lifetime when a token response has no `expires_in`: short, so the
/// token is refreshed early rather than used past its real expiry.
pub(crate) const DEFAULT_EXPIRES_IN: u64 = 300;

/// A successful token response. Tokens are held as [`Secret`]s.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: Secret,
    pub(crate) expires_in: Option<u64>,
    pub(crate) refresh_token: Option<Secret>,
    pub(crate) id_token: Option<Secret>,
    pub(crate) scope: Option<String>,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// How a confidential client sends its secret to the token endpoint, as the layer's builder
/// chose it ([`TokenAuthMethod`](crate::TokenAuthMethod), mapped in `layer.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// HTTP Basic with the client id and secret.
    SecretBasic,
    /// The client id and secret in the form body.
    SecretPost,
}

/// The relying party's view of the provider: endpoints plus client credentials.
#[derive(Clone, Debug)]
pub(crate) struct OidcClient {
    pub(crate) http: HttpClient,
    pub(crate) metadata: ProviderMetadata,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) auth_method: ClientAuth,
}

impl OidcClient {
    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &Url,
    ) -> Result<TokenResponse, CallError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", code_verifier),
        ];
        self.token_request(&form).await
    }

    /// Spends a refresh token for new tokens.
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, CallError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token_request(&form).await
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, CallError> {
        let request = self.authenticated(self.metadata.token_endpoint.clone(), form);
        self.json(request, "token response").await
    }

    /// Adds client authentication to a form POST.
    fn authenticated(&self, url: Url, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let client = self.http.inner().post(url);
        let mut body: Vec<(&str, &str)> = form.to_vec();
        match (&self.client_secret, self.auth_method) {
            (Some(secret), ClientAuth::SecretBasic) => {
                // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
                let id = form_urlencoded(&self.client_id);
                let secret = form_urlencoded(secret.expose());
                return client.basic_auth(id, Some(secret)).form(&body);
            }
            (Some(secret), ClientAuth::SecretPost) => {
                body.push(("client_id", &self.client_id));
                body.push(("client_secret", secret.expose()));
            }
            (None, _) => body.push(("client_id", &self.client_id)),
        }
        client.form(&body)
    }

    /// The user's claims from the userinfo endpoint.
    pub(crate) async fn userinfo(
        &self,
        access_token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, CallError> {
        let Some(url) = self.metadata.userinfo_endpoint.clone() else {
            return Err(CallError::Invalid("the provider has no userinfo endpoint"));
        };
        let request = self.http.inner().get(url).bearer_auth(access_token);
        self.json(request, "userinfo response").await
    }

    /// Asks the introspection endpoint (RFC 7662) about a token.
    pub(crate) async fn introspect(
        &self,
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, CallError> {
        let Some(url) = self.metadata.introspection_endpoint.clone() else {
            return Err(CallError::Invalid(
                "the provider has no introspection endpoint",
            ));
        };
        let request = self.authenticated(
            url,
            &[("token", token), ("token_type_hint", "access_token")],
        );
        self.json(request, "introspection response").await
    }

    /// Revokes a token (RFC 7009). Does nothing when the provider has no revocation endpoint.
    pub(crate) async fn revoke(&self, token: &str, hint: &str) -> Result<(), CallError> {
        let Some(url) = self.metadata.revocation_endpoint.clone() else {
            return Ok(());
        };
        let request = self.authenticated(url, &[("token", token), ("token_type_hint", hint)]);
        self.send(request).await.map(drop)
    }

    /// Sends `request`; an error status becomes [`CallError::Status`].
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Response, CallError> {
        let response = self
            .http
            .send(request)
            .await
            .map_err(CallError::Transport)?;
        check_status(response)
    }

    /// Sends `request` and reads its JSON body (`what` names it in the error).
    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &'static str,
    ) -> Result<T, CallError> {
        let response = self.send(request).await?;
        serde_json::from_slice(&response.body).map_err(|_| CallError::Invalid(what))
    }
}

fn form_urlencoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Turns an error status into [`CallError::Status`] with logi's error body and request id.
fn check_status(response: Response) -> Result<Response, CallError> {
    if response.status.is_success() {
        return Ok(response);
    }
    let mut error: ProviderError = serde_json::from_slice(&response.body).unwrap_or_default();
    if error.request_id.is_none() {
        error.request_id = response
            .headers
            .get("x-logi-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    let retry_after = response
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Err(CallError::Status {
        status: response.status,
        error,
        retry_after,
    })
}
