use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{Audience, numeric_date};
use super::id_token::unix;
use super::jws::Jws;
use super::{VerifyError, VerifyErrorKind as Kind};
use crate::provider::Jwks;

/// Verifies logi access tokens (RS256 JWTs with `iss, sub, aud, exp, iat, jti, scope`) for
/// APIs and gRPC services.
///
/// Checks, in order: structure (`malformed`), algorithm RS256, before any key is looked up
/// (`bad_signature`; `none` and HMAC algorithms can never pass), `kid` (`missing_kid`,
/// `unknown_kid`), signature (`bad_signature`), `iss` (`iss_mismatch`), `aud` names one of the
/// expected audiences (`aud_mismatch`), `exp` (`missing_claim`, `expired`), `nbf` and `iat` not
/// in the future (`expired`), `sub` (`missing_claim`). Times allow the clock skew (60 s).
#[derive(Clone, Debug)]
pub struct AccessTokenVerifier {
    issuer: Arc<str>,
    audiences: Arc<[String]>,
    skew: i64,
    jwks: Jwks,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Audience,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// Claims that describe the token rather than the user: not kept among the user's claims.
const PROTOCOL_CLAIMS: [&str; 6] = ["jti", "azp", "auth_time", "acr", "amr", "cnf"];

/// A verified access token.
#[derive(Clone)]
pub struct VerifiedAccessToken {
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) expires_at: i64,
    pub(crate) scopes: Vec<String>,
    pub(crate) claims: Map<String, Value>,
}

impl fmt::Debug for VerifiedAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedAccessToken")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl VerifiedAccessToken {
    /// `sub`.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `iss`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `exp`, in seconds since the Unix epoch.
    #[must_use]
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The scopes of `scope`.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The other claims (`client_id`, `sid`, custom claims).
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

impl AccessTokenVerifier {
    /// A verifier for tokens issued by `issuer` for `audience` (logi: the client id).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, jwks: Jwks) -> Self {
        Self::with_audiences(issuer, vec![audience.into()], jwks)
    }

    /// A verifier accepting tokens for any of `audiences`.
    pub fn with_audiences(issuer: impl Into<String>, audiences: Vec<String>, jwks: Jwks) -> Self {
        Self {
            issuer: issuer.into().into(),
            audiences: audiences.into(),
            skew: super::DEFAULT_CLOCK_SKEW.as_secs().cast_signed(),
            jwks,
        }
    }

    /// Sets the clock skew allowed on `exp`, `nbf` and `iat` (default 60 seconds).
    #[must_use]
    pub fn with_clock_skew(mut self, skew: std::time::Duration) -> Self {
        self.skew = i64::try_from(skew.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Verifies `token` at the current time.
    ///
    /// # Errors
    /// The first check that fails.
    pub async fn verify(&self, token: &str) -> Result<VerifiedAccessToken, VerifyError> {
        self.verify_at(token, SystemTime::now()).await
    }

    /// Verifies `token` as of `now`.
    ///
    /// # Errors
    /// The first check that fails.
    pub async fn verify_at(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedAccessToken, VerifyError> {
        let jws = Jws::parse(token)?;
        let kid = jws.rs256_kid()?;
        let key = self.jwks.key(kid).await?;
        jws.verify_signature(&key)?;
        let claims: Claims = serde_json::from_slice(&jws.payload).map_err(|_| {
            VerifyError::new(Kind::Malformed, "payload is not a JSON object of claims")
        })?;
        self.check(claims, unix(now))
    }

    fn check(&self, claims: Claims, now: i64) -> Result<VerifiedAccessToken, VerifyError> {
        let Some(iss) = claims.iss.filter(|iss| *iss == *self.issuer) else {
            return Err(VerifyError::new(
                Kind::IssMismatch,
                "iss is not the expected issuer",
            ));
        };
        if !claims.aud.0.iter().any(|a| self.audiences.contains(a)) {
            return Err(VerifyError::new(
                Kind::AudMismatch,
                "aud does not name this API",
            ));
        }
        let Some(exp) = claims.exp else {
            return Err(VerifyError::new(Kind::MissingClaim, "exp is missing"));
        };
        if now >= exp.saturating_add(self.skew) {
            return Err(VerifyError::new(Kind::Expired, "the token has expired"));
        }
        let future = |t: Option<i64>| t.is_some_and(|t| t > now.saturating_add(self.skew));
        if future(claims.nbf) || future(claims.iat) {
            return Err(VerifyError::new(
                Kind::Expired,
                "the token is not valid yet",
            ));
        }
        let sub = match claims.sub {
            Some(sub) if !sub.is_empty() => sub,
            _ => return Err(VerifyError::new(Kind::MissingClaim, "sub is missing")),
        };
        let mut rest = claims.rest;
        rest.retain(|k, _| !PROTOCOL_CLAIMS.contains(&k.as_str()));
        Ok(VerifiedAccessToken {
            issuer: iss,
            subject: sub,
            expires_at: exp,
            scopes: claims
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            claims: rest,
        })
    }
}
