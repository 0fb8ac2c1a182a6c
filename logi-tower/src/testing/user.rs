//! The people who can sign in at the test provider.

use serde_json::{Map, Value};

/// A user who can sign in at the [`TestProvider`](super::TestProvider).
///
/// `sub` is used as is for every client (logi's is pairwise per client; key users on
/// `(issuer, sub)` either way). Userinfo answers the claims the access token's scopes allow,
/// plus every `extra` claim.
///
/// ```
/// use logi::testing::TestUser;
///
/// let grace = TestUser::new("user-0002").with_claim("team", "compilers");
/// assert_eq!(grace.email, None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TestUser {
    /// The subject identifier.
    pub sub: String,
    /// `email` (scope `email`).
    pub email: Option<String>,
    /// `email_verified` (scope `email`, when there is an email).
    pub email_verified: bool,
    /// `full_name`, also answered as `name` (scope `profile:basic` or `profile`).
    pub full_name: Option<String>,
    /// `preferred_name` (scope `profile:basic` or `profile`).
    pub preferred_name: Option<String>,
    /// `identity_verified_level`, 0–3 (scope `identity:level`).
    pub identity_verified_level: Option<u8>,
    /// More claims, answered by userinfo whatever the scopes.
    pub extra: Map<String, Value>,
}

impl TestUser {
    /// The `sub` of [`TestUser::default()`].
    pub const DEFAULT_SUB: &'static str = "user-0001";

    /// A user with only a `sub`.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            email: None,
            email_verified: false,
            full_name: None,
            preferred_name: None,
            identity_verified_level: None,
            extra: Map::new(),
        }
    }

    /// Adds an extra claim answered by userinfo.
    #[must_use]
    pub fn with_claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The identity claims `scopes` allow (no `sub`, no extra claims).
    pub(crate) fn identity_claims(&self, scopes: &[String]) -> Map<String, Value> {
        let has = |scope: &str| scopes.iter().any(|s| s == scope);
        let mut claims = Map::new();
        if has("profile:basic") || has("profile") {
            if let Some(full_name) = &self.full_name {
                claims.insert("full_name".into(), full_name.clone().into());
                claims.insert("name".into(), full_name.clone().into());
            }
            if let Some(preferred_name) = &self.preferred_name {
                claims.insert("preferred_name".into(), preferred_name.clone().into());
            }
        }
        if has("email")
            && let Some(email) = &self.email
        {
            claims.insert("email".into(), email.clone().into());
            claims.insert("email_verified".into(), self.email_verified.into());
        }
        if has("identity:level")
            && let Some(level) = self.identity_verified_level
        {
            claims.insert("identity_verified_level".into(), level.into());
        }
        claims
    }

    /// What userinfo answers for an access token with `scopes`.
    pub(crate) fn userinfo(&self, scopes: &[String]) -> Map<String, Value> {
        let mut claims = self.extra.clone();
        claims.extend(self.identity_claims(scopes));
        claims.insert("sub".into(), self.sub.clone().into());
        claims
    }

    /// How the interactive sign-in page names the user.
    pub(crate) fn label(&self) -> String {
        let name = self
            .full_name
            .as_deref()
            .or(self.preferred_name.as_deref())
            .unwrap_or(&self.sub);
        match &self.email {
            Some(email) => format!("{name} ({email})"),
            None => name.to_owned(),
        }
    }
}

impl Default for TestUser {
    /// Ada Lovelace: `sub` [`DEFAULT_SUB`](Self::DEFAULT_SUB), verified email
    /// `ada@example.com`, full name "Ada Lovelace", preferred name "Ada".
    fn default() -> Self {
        Self {
            email: Some("ada@example.com".into()),
            email_verified: true,
            full_name: Some("Ada Lovelace".into()),
            preferred_name: Some("Ada".into()),
            ..Self::new(Self::DEFAULT_SUB)
        }
    }
}
