//! The relying parties registered with the test provider.

use std::fmt;

/// A relying party registered with the [`TestProvider`](super::TestProvider).
///
/// A client with a secret is confidential (`client_secret_basic` or `client_secret_post`);
/// without one it is public and authenticates with `none`. Redirect URIs match exactly, as
/// logi matches them. `Debug` never shows the secret.
///
/// ```
/// use logi::testing::TestClient;
///
/// let spa = TestClient::public("logi_0123456789abcdef0123456789abcdef", ["http://localhost:5173/callback"])
///     .with_post_logout_redirect_uris(["http://localhost:5173/"])
///     .with_allowed_scopes(["openid", "profile:basic"]);
/// assert!(spa.is_public());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TestClient {
    /// The `client_id` (logi's look like `logi_` + 32 hex characters).
    pub client_id: String,
    /// The secret of a confidential client; `None` makes a public client (auth method `none`).
    pub client_secret: Option<String>,
    /// The registered redirect URIs, compared exactly.
    pub redirect_uris: Vec<String>,
    /// The registered `post_logout_redirect_uri` values for the end-session endpoint.
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes the client may request (`profile` counts as `profile:basic`); `None` allows any.
    pub allowed_scopes: Option<Vec<String>>,
    /// Where the provider POSTs a back-channel logout token when the user signs out at its
    /// end-session endpoint (OpenID Connect Back-Channel Logout 1.0); `None`: no delivery.
    pub backchannel_logout_uri: Option<String>,
}

impl TestClient {
    /// The `client_id` of [`TestClient::default()`].
    pub const DEFAULT_CLIENT_ID: &'static str = "logi_7e57c11e47d0c0de5eed5a17b0a710e5";
    /// The `client_secret` of [`TestClient::default()`].
    pub const DEFAULT_CLIENT_SECRET: &'static str =
        "logi_secret_5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e77e57";
    /// The redirect URIs of [`TestClient::default()`].
    pub const DEFAULT_REDIRECT_URIS: [&'static str; 2] = [
        "http://localhost:3000/auth/callback",
        "http://127.0.0.1:3000/auth/callback",
    ];
    /// The post-logout redirect URIs of [`TestClient::default()`].
    pub const DEFAULT_POST_LOGOUT_REDIRECT_URIS: [&'static str; 2] =
        ["http://localhost:3000/", "http://127.0.0.1:3000/"];

    /// A confidential client, with no post-logout URIs and any scope allowed.
    pub fn confidential<I>(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uris: I,
    ) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self {
            client_id: client_id.into(),
            client_secret: Some(client_secret.into()),
            redirect_uris: strings(redirect_uris),
            post_logout_redirect_uris: Vec::new(),
            allowed_scopes: None,
            backchannel_logout_uri: None,
        }
    }

    /// A public client (auth method `none`), with no post-logout URIs and any scope allowed.
    pub fn public<I>(client_id: impl Into<String>, redirect_uris: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            redirect_uris: strings(redirect_uris),
            post_logout_redirect_uris: Vec::new(),
            allowed_scopes: None,
            backchannel_logout_uri: None,
        }
    }

    /// Registers the client's back-channel logout endpoint: signing out at the provider's
    /// end-session endpoint then POSTs a logout token (`sub` and `sid` of the signed-out
    /// session) there before answering.
    #[must_use]
    pub fn with_backchannel_logout_uri(mut self, uri: impl Into<String>) -> Self {
        self.backchannel_logout_uri = Some(uri.into());
        self
    }

    /// Replaces the registered post-logout redirect URIs.
    #[must_use]
    pub fn with_post_logout_redirect_uris<I>(mut self, uris: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.post_logout_redirect_uris = strings(uris);
        self
    }

    /// Restricts the scopes the client may request.
    #[must_use]
    pub fn with_allowed_scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.allowed_scopes = Some(strings(scopes));
        self
    }

    /// Whether the client is public (no secret, auth method `none`).
    pub fn is_public(&self) -> bool {
        self.client_secret.is_none()
    }

    /// Whether the client may request `scope`.
    pub(crate) fn allows_scope(&self, scope: &str) -> bool {
        let Some(allowed) = &self.allowed_scopes else {
            return true;
        };
        let canonical = |s: &str| if s == "profile" { "profile:basic" } else { s }.to_owned();
        allowed.iter().any(|a| canonical(a) == canonical(scope))
    }
}

impl Default for TestClient {
    /// The confidential client every [`TestProvider`](super::TestProvider) registers unless told
    /// otherwise: [`DEFAULT_CLIENT_ID`](Self::DEFAULT_CLIENT_ID),
    /// [`DEFAULT_CLIENT_SECRET`](Self::DEFAULT_CLIENT_SECRET), redirect URIs
    /// `http://localhost:3000/auth/callback` and `http://127.0.0.1:3000/auth/callback`,
    /// post-logout URIs `http://localhost:3000/` and `http://127.0.0.1:3000/`.
    fn default() -> Self {
        Self::confidential(
            Self::DEFAULT_CLIENT_ID,
            Self::DEFAULT_CLIENT_SECRET,
            Self::DEFAULT_REDIRECT_URIS,
        )
        .with_post_logout_redirect_uris(Self::DEFAULT_POST_LOGOUT_REDIRECT_URIS)
    }
}

impl fmt::Debug for TestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("allowed_scopes", &self.allowed_scopes)
            .field("backchannel_logout_uri", &self.backchannel_logout_uri)
            .finish()
    }
}

fn strings<I>(items: I) -> Vec<String>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    items
        .into_iter()
        .map(|item| item.as_ref().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::testing::client::*;

    #[test]
    fn default_credentials_have_logi_shapes() {
        let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
        let id = TestClient::DEFAULT_CLIENT_ID.strip_prefix("logi_").unwrap();
        assert!(id.len() == 32 && hex(id));
        let secret = TestClient::DEFAULT_CLIENT_SECRET
            .strip_prefix("logi_secret_")
            .unwrap();
        assert!(secret.len() == 64 && hex(secret));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let debug = format!("{:?}", TestClient::default());
        assert!(!debug.contains(TestClient::DEFAULT_CLIENT_SECRET));
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn profile_is_an_alias_of_profile_basic() {
        let client = TestClient::default().with_allowed_scopes(["openid", "profile:basic"]);
        assert!(client.allows_scope("profile"));
        assert!(!client.allows_scope("email"));
    }
}
