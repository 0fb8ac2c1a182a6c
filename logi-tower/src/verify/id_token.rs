use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq as _;

use super::claims::Registered;
use super::jws::{Jws, from_json};
use super::{VerifyError, VerifyErrorKind as Kind};
use crate::provider::Jwks;

/// The clock skew logi's SDKs allow when checking `exp`, `iat` and `nbf`.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Verifies ID tokens under logi's shared contract (see the [module docs](crate::verify)).
///
/// Cheap to clone; clones share the key cache.
///
/// ```
/// # async fn run(jwks: logi::provider::Jwks, id_token: &str) -> Result<(), logi::verify::VerifyError> {
/// use logi::verify::{IdTokenChecks, IdTokenVerifier};
///
/// let verifier = IdTokenVerifier::new("https://api.1pass.dev", "logi_0123", jwks);
/// let token = verifier.verify(id_token, &IdTokenChecks::new().nonce("n-0S6_WzA2Mj")).await?;
/// println!("signed in: {}", token.subject());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct IdTokenVerifier {
    issuer: Arc<str>,
    client_id: Arc<str>,
    skew: i64,
    jwks: Jwks,
}

/// What a verification checks besides the provider's rules: the expected nonce, the access token
/// issued with the ID token (for `at_hash`), and the time.
///
/// `Debug` shows which checks are set, never the nonce or the access token.
#[derive(Clone, Copy, Default)]
#[must_use]
pub struct IdTokenChecks<'a> {
    nonce: Nonce<'a>,
    access_token: Option<&'a str>,
    now: Option<i64>,
}

#[derive(Clone, Copy, Default)]
enum Nonce<'a> {
    #[default]
    Unchecked,
    Equal(&'a str),
    AbsentOrEqual(&'a str),
}

impl fmt::Debug for IdTokenChecks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nonce = match self.nonce {
            Nonce::Unchecked => "unchecked",
            Nonce::Equal(_) => "equal to the one sent",
            Nonce::AbsentOrEqual(_) => "absent or equal to the one sent",
        };
        f.debug_struct("IdTokenChecks")
            .field("nonce", &nonce)
            .field(
                "at_hash",
                &self.access_token.map(|_| "[access token redacted]"),
            )
            .field("now", &self.now)
            .finish()
    }
}

impl<'a> IdTokenChecks<'a> {
    /// No nonce, no access token, the current time.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token's `nonce` must be present and equal to `nonce` (a sign-in's ID token).
    pub fn nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Nonce::Equal(nonce);
        self
    }

    /// The token's `nonce`, when present, must equal `nonce` (an ID token from a refresh).
    pub fn nonce_if_present(mut self, nonce: &'a str) -> Self {
        self.nonce = Nonce::AbsentOrEqual(nonce);
        self
    }

    /// The access token issued with the ID token: when the token carries `at_hash`, it must
    /// bind this access token.
    pub fn access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// Checks times against `now` instead of the system clock.
    pub fn at(mut self, now: SystemTime) -> Self {
        self.now = Some(unix(now));
        self
    }
}

pub(crate) fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl IdTokenVerifier {
    /// A verifier for tokens issued by `issuer` to `client_id`, with keys from `jwks`.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, jwks: Jwks) -> Self {
        Self {
            issuer: issuer.into().into(),
            client_id: client_id.into().into(),
            skew: DEFAULT_CLOCK_SKEW.as_secs().cast_signed(),
            jwks,
        }
    }

    /// Sets the clock skew allowed on `exp`, `iat` and `nbf` (default 60 seconds).
    #[must_use]
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.skew = i64::try_from(skew.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// The key cache this verifier uses.
    #[must_use]
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// The issuer tokens must name in `iss`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id tokens must name in `aud`.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Verifies `token` and returns its claims.
    ///
    /// # Errors
    /// The first check that fails, in the contract's order.
    pub async fn verify(
        &self,
        token: &str,
        checks: &IdTokenChecks<'_>,
    ) -> Result<IdToken, VerifyError> {
        let payload = self.signed_payload(token).await?;
        self.check_claims(payload, checks)
    }

    /// The payload of `token` once its structure, algorithm (RS256), `kid` and signature are
    /// checked against the provider's keys; its claims are not checked yet.
    pub(crate) async fn signed_payload(&self, token: &str) -> Result<Vec<u8>, VerifyError> {
        let jws = Jws::parse(token)?;
        let kid = jws.rs256_kid()?;
        let key = self.jwks.key(kid).await?;
        jws.verify_signature(&key)?;
        Ok(jws.into_payload())
    }

    fn check_claims(
        &self,
        payload: Vec<u8>,
        checks: &IdTokenChecks<'_>,
    ) -> Result<IdToken, VerifyError> {
        let claims: Registered = from_json(&payload).map_err(|_| {
            VerifyError::new(Kind::Malformed, "payload is not a JSON object of claims")
        })?;
        let now = checks.now.unwrap_or_else(|| unix(SystemTime::now()));
        let (exp, iat) = self.check_issue(&claims, now)?;
        match (checks.nonce, claims.nonce.as_deref()) {
            (Nonce::Unchecked, _) | (Nonce::AbsentOrEqual(_), None) => {}
            (Nonce::Equal(want) | Nonce::AbsentOrEqual(want), Some(got))
                if bool::from(want.as_bytes().ct_eq(got.as_bytes())) => {}
            _ => {
                return Err(VerifyError::new(
                    Kind::NonceMismatch,
                    "nonce does not match",
                ));
            }
        }
        let sub = match claims.sub {
            Some(sub) if !sub.is_empty() => sub,
            _ => return Err(VerifyError::new(Kind::MissingClaim, "sub is missing")),
        };
        if let (Some(access_token), Some(at_hash)) = (checks.access_token, &claims.at_hash)
            && !bool::from(
                at_hash_of(access_token)
                    .as_bytes()
                    .ct_eq(at_hash.as_bytes()),
            )
        {
            return Err(VerifyError::new(
                Kind::AtHashMismatch,
                "at_hash does not match the access token",
            ));
        }
        Ok(IdToken {
            issuer: Arc::clone(&self.issuer),
            subject: sub.into(),
            audiences: claims.aud.0,
            expires_at: exp,
            issued_at: iat,
            nonce: claims.nonce,
            sid: claims.sid,
            payload: payload.into(),
        })
    }

    /// Checks `iss`, `aud`/`azp`, `exp`, `iat` and `nbf` (in the contract's order) against `now`;
    /// returns `exp` and `iat`.
    pub(crate) fn check_issue(
        &self,
        claims: &Registered,
        now: i64,
    ) -> Result<(i64, i64), VerifyError> {
        if claims.iss.as_deref() != Some(&*self.issuer) {
            return Err(VerifyError::new(
                Kind::IssMismatch,
                "iss is not the expected issuer",
            ));
        }
        check_audience(claims, &self.client_id)?;
        let Some(exp) = claims.exp else {
            return Err(VerifyError::new(Kind::MissingClaim, "exp is missing"));
        };
        if now >= exp.saturating_add(self.skew) {
            return Err(VerifyError::new(Kind::Expired, "the token has expired"));
        }
        let Some(iat) = claims.iat else {
            return Err(VerifyError::new(Kind::MissingClaim, "iat is missing"));
        };
        if iat > now.saturating_add(self.skew) {
            return Err(VerifyError::new(
                Kind::Expired,
                "the token was issued in the future",
            ));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.skew))
        {
            return Err(VerifyError::new(
                Kind::Expired,
                "the token is not valid yet (nbf)",
            ));
        }
        Ok((exp, iat))
    }

    /// The clock skew allowed, in seconds.
    pub(crate) fn clock_skew_secs(&self) -> i64 {
        self.skew
    }
}

/// `aud` must name this client; several audiences need `azp` = client id; any `azp` must be
/// the client id.
pub(crate) fn check_audience(claims: &Registered, client_id: &str) -> Result<(), VerifyError> {
    let aud = &claims.aud.0;
    if !aud.iter().any(|a| a == client_id) {
        return Err(VerifyError::new(
            Kind::AudMismatch,
            "aud does not name this client",
        ));
    }
    match claims.azp.as_deref() {
        Some(azp) if azp != client_id => Err(VerifyError::new(
            Kind::AudMismatch,
            "azp is not this client",
        )),
        None if aud.len() > 1 => Err(VerifyError::new(
            Kind::AudMismatch,
            "several audiences and no azp naming this client",
        )),
        _ => Ok(()),
    }
}

/// `at_hash` of an access token: base64url of the left half of its SHA-256.
pub(crate) fn at_hash_of(access_token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// A verified ID token.
#[derive(Clone)]
pub struct IdToken {
    issuer: Arc<str>,
    subject: Box<str>,
    audiences: Vec<String>,
    expires_at: i64,
    issued_at: i64,
    nonce: Option<String>,
    sid: Option<String>,
    payload: Box<[u8]>,
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdToken")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl IdToken {
    /// `iss`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`: the user's identifier at this client (pairwise in logi: key users on issuer + sub).
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `aud`.
    #[must_use]
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// `exp`, in seconds since the Unix epoch.
    #[must_use]
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// `iat`, in seconds since the Unix epoch.
    #[must_use]
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// `nonce`, when present.
    #[must_use]
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// `sid`, the provider's session id, when present.
    #[must_use]
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// All claims, deserialized into `T` (your own struct, or `serde_json::Value`).
    ///
    /// # Errors
    /// When the claims do not have `T`'s shape.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        from_json(&self.payload)
    }
}
