//! The signed-in user, as handlers see it.
//! Surface: owns `LogiUser`, `AccessToken` and the principal behind them; must not decide who is
//! signed in (the resolution does) nor show a token in `Debug`.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Secret;
use crate::claims::{self, StandardClaims};
use crate::session::data::SessionData;

/// Who is signed in, attached by the layer to each request's extensions.
pub(crate) struct Principal {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) claims: Map<String, Value>,
    pub(crate) scopes: Vec<String>,
    pub(crate) access_token: Secret,
    /// logi's standard claims, read the first time a [`LogiUser`] is made, then shared (by every
    /// request that presents the same cached bearer token).
    pub(crate) standard_claims: OnceLock<Arc<StandardClaims>>,
}

impl From<SessionData> for Principal {
    fn from(data: SessionData) -> Self {
        Self {
            scopes: data.scope.split_whitespace().map(str::to_owned).collect(),
            iss: data.iss,
            sub: data.sub,
            claims: data.claims,
            access_token: Secret::new(data.at),
            standard_claims: OnceLock::new(),
        }
    }
}

impl Principal {
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The principal of a verified bearer token (`raw`, moved into it).
    pub(crate) fn from_access_token(
        token: crate::verify::VerifiedAccessToken,
        raw: String,
    ) -> Self {
        Self {
            iss: token.issuer,
            sub: token.subject,
            claims: token.claims,
            scopes: token.scopes,
            access_token: Secret::new(raw),
            standard_claims: OnceLock::new(),
        }
    }

    /// logi's standard claims, read once.
    fn standard_claims(&self) -> Result<Arc<StandardClaims>, serde_json::Error> {
        if let Some(claims) = self.standard_claims.get() {
            return Ok(Arc::clone(claims));
        }
        let claims = Arc::new(claims::deserialize(self)?);
        Ok(Arc::clone(self.standard_claims.get_or_init(|| claims)))
    }
}

/// The signed-in user, with their identity claims typed as `C`.
///
/// With the `axum` feature it is an extractor: a handler that takes `LogiUser` runs only for a
/// signed-in user (others are sent to sign in, or get 401), and one that takes
/// `Option<LogiUser>` runs for everyone.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use logi::LogiUser;
///
/// async fn dashboard(user: LogiUser) -> String {
///     format!("hello {}", user.sub())
/// }
/// # }
/// ```
///
/// `C` defaults to logi's [`StandardClaims`]. Name your own type to read claims of your own
/// (`sub` and `iss` are among the claims it sees). The claims are deserialized once, when the
/// user is extracted; claims that do not fit `C` are a bug in the app, answered with 500 and
/// logged (see [`LogiRejectionKind::InvalidClaims`](crate::LogiRejectionKind::InvalidClaims)), so
/// make the claims a user may lack `Option`s or `#[serde(default)]`:
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use logi::LogiUser;
///
/// #[derive(serde::Deserialize)]
/// struct Claims {
///     #[serde(default)]
///     identity_verified_level: u8,
///     #[serde(rename = "acme:team")]
///     team: Option<String>,
/// }
///
/// async fn payouts(user: LogiUser<Claims>) -> String {
///     let claims = user.claims();
///     format!("level {} in {:?}", claims.identity_verified_level, claims.team)
/// }
/// # }
/// ```
pub struct LogiUser<C = StandardClaims> {
    principal: Arc<Principal>,
    claims: Arc<C>,
}

impl<C> Clone for LogiUser<C> {
    fn clone(&self) -> Self {
        Self {
            principal: Arc::clone(&self.principal),
            claims: Arc::clone(&self.claims),
        }
    }
}

impl<C> fmt::Debug for LogiUser<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogiUser")
            .field("issuer", &self.principal.iss)
            .field("sub", &self.principal.sub)
            .field("scopes", &self.principal.scopes)
            .finish_non_exhaustive()
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> LogiUser<C> {
    /// The user, with their claims deserialized into `C` (logi's standard claims are read once
    /// per principal and shared).
    pub(crate) fn new(principal: Arc<Principal>) -> Result<Self, serde_json::Error> {
        if TypeId::of::<C>() == TypeId::of::<StandardClaims>() {
            let standard: Arc<dyn Any + Send + Sync> = principal.standard_claims()?;
            if let Ok(claims) = standard.downcast::<C>() {
                return Ok(Self { principal, claims });
            }
        }
        let claims = Arc::new(claims::deserialize(&principal)?);
        Ok(Self { principal, claims })
    }
}

impl<C> LogiUser<C> {
    /// The user's identity claims, typed (deserialized once, when the user was extracted).
    ///
    /// ```
    /// fn verified(user: &logi::LogiUser) -> bool {
    ///     user.claims().identity_verified_level >= Some(2)
    /// }
    /// ```
    #[must_use]
    pub fn claims(&self) -> &C {
        &self.claims
    }

    /// The user's identifier at this client (`sub`). logi's subjects are pairwise: key your
    /// users on [`issuer`](Self::issuer) + `sub`, never on email.
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.principal.sub
    }

    /// The issuer that vouches for the user (`iss`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.principal.iss
    }

    /// `email`, when the `email` scope was granted.
    #[must_use]
    pub fn email(&self) -> Option<&str> {
        self.str_claim("email")
    }

    /// `email_verified`; `false` when absent.
    #[must_use]
    pub fn email_verified(&self) -> bool {
        claims::email_verified(&self.principal.claims)
    }

    /// A display name: `name`, else logi's `full_name`, else `preferred_name`.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        claims::display_name(&self.principal.claims)
    }

    /// The scopes granted to this sign-in.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.principal.scopes
    }

    /// Whether `scope` was granted.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.principal.has_scope(scope)
    }

    /// One identity claim as JSON, e.g. `identity_verified_level`.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.principal.claims.get(name)
    }

    /// Every claim (`sub` and `iss` included) deserialized into another type, on demand.
    ///
    /// # Errors
    /// When the claims do not have `T`'s shape (a missing required field, a wrong type).
    ///
    /// ```
    /// # fn f(user: logi::LogiUser) -> Result<(), serde_json::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Claims {
    ///     sub: String,
    ///     #[serde(default)]
    ///     identity_verified_level: u8,
    /// }
    /// let claims: Claims = user.claims_as()?;
    /// # Ok(()) }
    /// ```
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        claims::deserialize(&self.principal)
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        claims::str_claim(&self.principal.claims, name)
    }
}

/// The signed-in user's current access token, to call other APIs on their behalf.
///
/// `Debug` never shows the token.
#[derive(Clone)]
pub struct AccessToken {
    principal: Arc<Principal>,
}

impl AccessToken {
    pub(crate) fn new(principal: Arc<Principal>) -> Self {
        Self { principal }
    }

    /// The token itself, for an `Authorization: Bearer` header. Never log it.
    #[must_use]
    pub fn secret(&self) -> &str {
        self.principal.access_token.expose()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_claims_are_read_once_per_principal() {
        let principal = Arc::new(Principal {
            iss: "https://issuer.example".into(),
            sub: "user-0001".into(),
            claims: serde_json::json!({ "email": "ada@example.com" })
                .as_object()
                .unwrap()
                .clone(),
            scopes: vec!["openid".into()],
            access_token: Secret::new("at"),
            standard_claims: OnceLock::new(),
        });
        let first: LogiUser = LogiUser::new(Arc::clone(&principal)).unwrap();
        let second: LogiUser = LogiUser::new(Arc::clone(&principal)).unwrap();
        assert!(Arc::ptr_eq(&first.claims, &second.claims));
        assert_eq!(first.claims().email.as_deref(), Some("ada@example.com"));
        assert_eq!(first.claims().sub, "user-0001");

        // Another claims type is read on its own.
        let mine: LogiUser<serde_json::Value> = LogiUser::new(principal).unwrap();
        assert_eq!(mine.claims()["email"], "ada@example.com");
        assert_eq!(mine.claims()["iss"], "https://issuer.example");
    }
}
