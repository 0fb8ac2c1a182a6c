//! Logout tokens (OpenID Connect Back-Channel Logout 1.0), minted by the test provider.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value, json};

use std::sync::Arc;

use super::keys::{now_secs, random_hex};
use super::state::{BACKCHANNEL_LOGOUT_EVENT, ProviderState};

/// A logout token to sign, from [`TestProvider::logout_token`](crate::testing::TestProvider::logout_token): valid by default (`iss`, `aud`,
/// `iat`, `exp` two minutes ahead, a random `jti`, the back-channel logout event), naming
/// whatever [`sub`](Self::sub) and [`sid`](Self::sid) say; every claim can be changed to
/// make it invalid.
///
/// ```
/// use std::time::Duration;
/// use logi::testing::{TestClient, TestProvider};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let provider = TestProvider::start().await?;
/// let token = provider
///     .logout_token(TestClient::DEFAULT_CLIENT_ID)
///     .sub("user-0001")
///     .expires_in(Duration::from_secs(60))
///     .sign();
/// // POST `logout_token={token}` to the app's back-channel logout endpoint.
/// let expired = provider.logout_token(TestClient::DEFAULT_CLIENT_ID).sub("user-0001").expired();
/// assert_ne!(token, expired.sign());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct LogoutTokenBuilder {
    provider: Arc<ProviderState>,
    claims: Map<String, Value>,
}

impl LogoutTokenBuilder {
    pub(crate) fn new(provider: Arc<ProviderState>, client_id: &str) -> Self {
        let now = now_secs();
        let claims = json!({
            "iss": provider.config.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + 120,
            "jti": format!("jti_{}", random_hex(12)),
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        let Value::Object(claims) = claims else {
            unreachable!("a JSON object literal")
        };
        Self { provider, claims }
    }

    /// The user signed out (`sub`).
    #[expect(
        clippy::should_implement_trait,
        reason = "named after the claim, as the other setters are"
    )]
    pub fn sub(self, sub: impl Into<String>) -> Self {
        self.claim("sub", sub.into())
    }

    /// The provider session signed out (`sid`, as in the user's ID token).
    pub fn sid(self, sid: impl Into<String>) -> Self {
        self.claim("sid", sid.into())
    }

    /// The token's id (`jti`; default random): the same `jti` twice is a replay.
    pub fn jti(self, jti: impl Into<String>) -> Self {
        self.claim("jti", jti.into())
    }

    /// `exp` this long after now (default two minutes).
    pub fn expires_in(self, ttl: Duration) -> Self {
        let exp = now_secs().saturating_add(ttl.as_secs());
        self.claim("exp", exp)
    }

    /// Issued ten minutes ago, expired five minutes ago (past any usual clock skew).
    pub fn expired(self) -> Self {
        let now = now_secs();
        self.claim("iat", now.saturating_sub(600))
            .claim("exp", now.saturating_sub(300))
    }

    /// A `nonce`, which a logout token must not carry.
    pub fn nonce(self, nonce: impl Into<String>) -> Self {
        self.claim("nonce", nonce.into())
    }

    /// Replaces the `events` claim.
    pub fn events(self, events: Value) -> Self {
        self.claim("events", events)
    }

    /// Sets any claim (`aud`, `iss`, …).
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim (`events`, `jti`, …).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// The claims as they stand.
    pub fn claims(&self) -> Value {
        Value::Object(self.claims.clone())
    }

    /// The token, signed with the provider's current key (header `{alg: RS256, kid, typ:
    /// logout+jwt}`).
    pub fn sign(&self) -> String {
        let header = json!({
            "alg": "RS256",
            "kid": self.provider.current_key().kid(),
            "typ": "logout+jwt",
        });
        self.provider.sign_with_header(&header, &self.claims())
    }
}

impl fmt::Debug for LogoutTokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutTokenBuilder")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}
