use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value};

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
        // One pass into a map: the registered claims are taken out, the rest stay as the
        // user's claims.
        let claims: Map<String, Value> = serde_json::from_slice(&jws.payload).map_err(|_| {
            VerifyError::new(Kind::Malformed, "payload is not a JSON object of claims")
        })?;
        self.check(claims, unix(now))
    }

    fn check(
        &self,
        mut claims: Map<String, Value>,
        now: i64,
    ) -> Result<VerifiedAccessToken, VerifyError> {
        let iss = match claims.remove("iss") {
            Some(Value::String(iss)) if *iss == *self.issuer => iss,
            _ => {
                return Err(VerifyError::new(
                    Kind::IssMismatch,
                    "iss is not the expected issuer",
                ));
            }
        };
        let names_us = |aud: &Value| {
            aud.as_str()
                .is_some_and(|a| self.audiences.iter().any(|x| x == a))
        };
        let aud_ok = match claims.remove("aud") {
            Some(Value::Array(auds)) => auds.iter().any(names_us),
            Some(aud) => names_us(&aud),
            None => false,
        };
        if !aud_ok {
            return Err(VerifyError::new(
                Kind::AudMismatch,
                "aud does not name this API",
            ));
        }
        let Some(exp) = date(claims.remove("exp"))? else {
            return Err(VerifyError::new(Kind::MissingClaim, "exp is missing"));
        };
        if now >= exp.saturating_add(self.skew) {
            return Err(VerifyError::new(Kind::Expired, "the token has expired"));
        }
        let future = |t: Option<i64>| t.is_some_and(|t| t > now.saturating_add(self.skew));
        if future(date(claims.remove("nbf"))?) || future(date(claims.remove("iat"))?) {
            return Err(VerifyError::new(
                Kind::Expired,
                "the token is not valid yet",
            ));
        }
        let sub = match claims.remove("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            _ => return Err(VerifyError::new(Kind::MissingClaim, "sub is missing")),
        };
        let scopes = match claims.remove("scope") {
            Some(Value::String(scope)) => scope.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        claims.retain(|k, _| !PROTOCOL_CLAIMS.contains(&k.as_str()));
        Ok(VerifiedAccessToken {
            issuer: iss,
            subject: sub,
            expires_at: exp,
            scopes,
            claims,
        })
    }
}

/// A NumericDate claim: seconds since the epoch, fractions truncated.
fn date(value: Option<Value>) -> Result<Option<i64>, VerifyError> {
    let malformed = |what| VerifyError::new(Kind::Malformed, what);
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                // Truncation is what RFC 7519's NumericDate allows for fractional seconds.
                #[allow(clippy::cast_possible_truncation)]
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| malformed("a date claim is out of range")),
        Some(_) => Err(malformed("a date claim is not a number")),
    }
}
