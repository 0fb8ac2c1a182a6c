//! Opaque bearer tokens: validated by asking the provider, through its introspection endpoint
//! (RFC 7662) when discovery names one, else, only when the app opted in, through userinfo.
//! Decision level: owns asking the provider about a token and the single flight and refusal cache
//! around it; it must not read sessions or render refusals.
//!
//! - Introspection: the answer must say `active: true`; a `token_type`, when given, must be an
//!   access token's (`Bearer`, `access_token`, `urn:ietf:params:oauth:token-type:access_token`;
//!   a refresh token, an ID token, a `DPoP`-bound token are refused, `not_an_access_token`);
//!   `aud` when given, else `client_id`, must name this API (`aud_mismatch`); `iss` when given
//!   must be the issuer; `exp` must not have passed; `sub` must be there.
//! - Userinfo proves the token is live and names its user, but not whom it was issued for: any
//!   access token the provider issued to any of its clients for that user would pass. So, by
//!   default, without an introspection endpoint opaque tokens are refused (`aud_mismatch`),
//!   without asking the provider. An app whose provider's tokens are all meant for it opts in
//!   with [`opaque_tokens_via_userinfo`](crate::LogiLayerBuilder::opaque_tokens_via_userinfo);
//!   even then a userinfo answer that names an `aud` or a `client_id` must name this API.
//!
//! Accepted tokens are remembered by the layer's token cache for [`CACHE_FOR`] at most (never
//! past their `exp`), so a revoked token stops working within that time. Refusals are
//! remembered for a few seconds ([`DEFAULT_REFUSAL_TTL`], configurable with
//! [`opaque_token_refusal_ttl`](crate::LogiLayerBuilder::opaque_token_refusal_ttl)), and the
//! requests that present one token the layer is not sure of share one call to the provider
//! (single flight): a flood of one bad token costs one call per refusal period. A provider that
//! cannot answer is not a refusal: nothing is remembered, and the next request asks again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::bearer::TokenCache;
use crate::provider::{CallError, OidcClient};
use crate::user::Principal;
use crate::verify::VerifiedAccessToken;
use crate::verify::{VerifyError, VerifyErrorKind as Kind};

/// How long an opaque token's validation is trusted before the provider is asked again.
pub(crate) const CACHE_FOR: Duration = Duration::from_secs(60);

/// How long a refused opaque token is refused without asking the provider again, by default.
pub(crate) const DEFAULT_REFUSAL_TTL: Duration = Duration::from_secs(5);

/// The most refusals remembered at once; past it, expired ones are dropped, then all.
const MAX_REFUSALS: usize = 10_000;

/// Claims of an introspection response that describe the answer, not the user.
const PROTOCOL_CLAIMS: [&str; 10] = [
    "active",
    "token_type",
    "jti",
    "iat",
    "nbf",
    "azp",
    "aud",
    "auth_time",
    "acr",
    "amr",
];

/// The `token_type`s of an introspection answer that describe an access token usable as a
/// bearer token (RFC 6749 §7.1, RFC 7662 §2.2, RFC 8693 §3), compared without regard to case.
const ACCESS_TOKEN_TYPES: [&str; 3] = [
    "bearer",
    "access_token",
    "urn:ietf:params:oauth:token-type:access_token",
];

/// Whether a token looks like a JWT (compact JWS): three dot-separated parts.
pub(crate) fn is_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// A token's key in the refusal cache and among the flights: the SHA-256 of the whole token
/// (no token is kept for a refusal).
type Key = [u8; 32];

/// One validation's outcome, shared by every request waiting for it.
type Outcome = Result<VerifiedAccessToken, VerifyError>;

/// What validating opaque tokens needs: the provider's endpoints and client credentials, and
/// the refusals and validations in flight shared by the layer's requests.
pub(crate) struct Opaque {
    pub(crate) client: OidcClient,
    pub(crate) audiences: Vec<String>,
    /// Without an introspection endpoint, userinfo's word is taken (see the module docs).
    via_userinfo: bool,
    refusal_ttl: Duration,
    refusals: Mutex<HashMap<Key, (Instant, VerifyError)>>,
    in_flight: Mutex<HashMap<Key, watch::Receiver<Option<Outcome>>>>,
}

impl Opaque {
    pub(crate) fn new(
        client: OidcClient,
        audiences: Vec<String>,
        via_userinfo: bool,
        refusal_ttl: Duration,
    ) -> Self {
        if client.metadata.introspection_endpoint.is_none() && !via_userinfo {
            tracing::warn!(
                "opaque bearer tokens are refused: the provider has no introspection endpoint, \
                 and userinfo cannot tell whom a token was issued for \
                 (see `LogiLayerBuilder::opaque_tokens_via_userinfo`)"
            );
        }
        Self {
            client,
            audiences,
            via_userinfo,
            refusal_ttl,
            refusals: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The refusal remembered for `key`, if it is still fresh.
    fn refusal(&self, key: &Key) -> Option<VerifyError> {
        let refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        match refusals.get(key) {
            Some((until, error)) if Instant::now() < *until => Some(error.clone()),
            _ => None,
        }
    }

    /// Remembers a refusal (not a provider that could not answer: not the token's fault).
    fn remember(&self, key: Key, error: &VerifyError) {
        if error.kind() == Kind::Unavailable || self.refusal_ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        if refusals.len() >= MAX_REFUSALS {
            refusals.retain(|_, (until, _)| now < *until);
            if refusals.len() >= MAX_REFUSALS {
                refusals.clear();
            }
        }
        refusals.insert(key, (now + self.refusal_ttl, error.clone()));
    }

    /// The longest a request waits for a validation in flight: past the provider calls' timeout.
    fn max_wait(&self) -> Duration {
        self.client.http.timeout() + Duration::from_secs(5)
    }
}

/// What a validation needs from the layer's state, which implements it: this validator, the
/// issuer, and the bearer-token cache a validation fills. This module names no layer type.
pub(crate) trait Owner: Send + Sync + 'static {
    fn opaque(&self) -> Option<&Opaque>;
    fn issuer(&self) -> &str;
    fn token_cache(&self) -> &TokenCache;
}

/// Retires a validation's in-flight entry when dropped: when it finished, and also when its
/// task panicked, so that a later request asks the provider again rather than waiting on a
/// validation that will never end.
struct Flight<S: Owner> {
    shared: Arc<S>,
    key: Key,
}

impl<S: Owner> Drop for Flight<S> {
    fn drop(&mut self) {
        if let Some(opaque) = self.shared.opaque() {
            opaque
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.key);
        }
    }
}

/// Validates an opaque token with the provider (see the module docs): from a refusal
/// remembered, from a validation of the same token in flight, or by asking.
pub(crate) async fn validate<S: Owner>(shared: &Arc<S>, token: &str, now: i64) -> Outcome {
    let opaque = shared
        .opaque()
        .expect("opaque tokens are validated only when enabled");
    let key: Key = digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes");
    if let Some(error) = opaque.refusal(&key) {
        return Err(error);
    }
    let mut rx = {
        let mut in_flight = opaque.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        // Checked again under the lock: a validation may have finished in between (it
        // remembers its refusal before it retires its entry).
        if let Some(error) = opaque.refusal(&key) {
            return Err(error);
        }
        match in_flight.get(&key) {
            Some(rx) => rx.clone(),
            None => {
                let (tx, rx) = watch::channel(None);
                in_flight.insert(key, rx.clone());
                let flight = Flight {
                    shared: Arc::clone(shared),
                    key,
                };
                let token = token.to_owned();
                // A task of its own: a request that goes away does not take the validation
                // (and the requests waiting for it) with it.
                tokio::spawn(async move {
                    let shared = Arc::clone(&flight.shared);
                    let opaque = shared.opaque().expect("enabled");
                    let outcome = ask(opaque, shared.issuer(), &token, now).await;
                    match &outcome {
                        Ok(verified) => {
                            // In the token cache before the flight retires: the next request
                            // finds it there.
                            let bearer = crate::bearer::key(&token);
                            let principal = Principal::from_access_token(verified.clone(), token);
                            shared.token_cache().insert(
                                bearer.key,
                                verified.expires_at,
                                Arc::new(principal),
                                now,
                            );
                        }
                        Err(error) => opaque.remember(key, error),
                    }
                    drop(flight);
                    let _ = tx.send(Some(outcome));
                });
                rx
            }
        }
    };
    match tokio::time::timeout(opaque.max_wait(), rx.wait_for(Option::is_some)).await {
        Ok(Ok(outcome)) => outcome.clone().expect("waited for Some"),
        // The validation ended without an outcome (its task panicked) or took too long.
        _ => Err(VerifyError::new(
            Kind::Unavailable,
            "the provider could not validate the token right now",
        )),
    }
}

/// Asks the provider about an opaque token.
async fn ask(opaque: &Opaque, issuer: &str, token: &str, now: i64) -> Outcome {
    let (client, audiences) = (&opaque.client, &opaque.audiences[..]);
    let unavailable = |error: &CallError| {
        tracing::warn!(%error, "could not validate an opaque token with the provider");
        VerifyError::new(
            Kind::Unavailable,
            "the provider could not validate the token right now",
        )
    };
    let cache_until = now.saturating_add(CACHE_FOR.as_secs().cast_signed());
    if client.metadata.introspection_endpoint.is_some() {
        let answer = client
            .introspect(token)
            .await
            .map_err(|e| unavailable(&e))?;
        return from_introspection(answer, issuer, audiences, now, cache_until);
    }
    if !opaque.via_userinfo {
        return Err(VerifyError::new(
            Kind::AudMismatch,
            "the provider cannot tell whom an opaque token is for (no introspection endpoint)",
        ));
    }
    match client.userinfo(token).await {
        Ok(claims) => from_userinfo(claims, issuer, audiences, cache_until),
        Err(CallError::Status { status, .. }) if status == http::StatusCode::UNAUTHORIZED => Err(
            VerifyError::new(Kind::Inactive, "the provider does not accept the token"),
        ),
        Err(error) => Err(unavailable(&error)),
    }
}

/// Whether an `aud` (a string or an array of strings) or a `client_id` names one of
/// `audiences`.
fn names_any(value: &Value, audiences: &[String]) -> bool {
    let names = |v: &Value| v.as_str().is_some_and(|a| audiences.iter().any(|x| x == a));
    match value {
        Value::Array(values) => values.iter().any(names),
        value => names(value),
    }
}

fn from_introspection(
    mut answer: Map<String, Value>,
    issuer: &str,
    audiences: &[String],
    now: i64,
    cache_until: i64,
) -> Result<VerifiedAccessToken, VerifyError> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(VerifyError::new(
            Kind::Inactive,
            "the provider says the token is not active",
        ));
    }
    match answer.get("token_type") {
        None => {}
        Some(Value::String(typ))
            if ACCESS_TOKEN_TYPES
                .iter()
                .any(|t| typ.eq_ignore_ascii_case(t)) => {}
        Some(_) => {
            return Err(VerifyError::new(
                Kind::NotAnAccessToken,
                "the provider says the token is not a bearer access token",
            ));
        }
    }
    if let Some(iss) = answer.get("iss")
        && iss.as_str() != Some(issuer)
    {
        return Err(VerifyError::new(
            Kind::IssMismatch,
            "iss is not the expected issuer",
        ));
    }
    // The token must be meant for this API: `aud` when present, else the client it was issued to.
    let for_us = match (answer.get("aud"), answer.get("client_id")) {
        (Some(aud), _) => names_any(aud, audiences),
        (None, Some(client_id)) => names_any(client_id, audiences),
        (None, None) => false,
    };
    if !for_us {
        return Err(VerifyError::new(
            Kind::AudMismatch,
            "the token is not meant for this API",
        ));
    }
    let exp = answer.get("exp").and_then(Value::as_i64);
    if exp.is_some_and(|exp| now >= exp) {
        return Err(VerifyError::new(Kind::Expired, "the token has expired"));
    }
    let sub = match answer.remove("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub,
        _ => return Err(VerifyError::new(Kind::MissingClaim, "sub is missing")),
    };
    let scopes = match answer.remove("scope") {
        Some(Value::String(scope)) => scope.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    answer.remove("iss");
    answer.remove("exp");
    answer.retain(|k, _| !PROTOCOL_CLAIMS.contains(&k.as_str()));
    Ok(VerifiedAccessToken {
        issuer: issuer.to_owned(),
        subject: sub,
        expires_at: exp.map_or(cache_until, |exp| exp.min(cache_until)),
        scopes,
        claims: answer,
    })
}

/// Userinfo proves the token is live and names the user, but not its scopes, and whom it was
/// issued for only when it says `aud` or `client_id` (which must then name this API); the app
/// opted in to taking its word otherwise.
fn from_userinfo(
    mut claims: Map<String, Value>,
    issuer: &str,
    audiences: &[String],
    cache_until: i64,
) -> Result<VerifiedAccessToken, VerifyError> {
    if let Some(named) = claims.get("aud").or_else(|| claims.get("client_id"))
        && !names_any(named, audiences)
    {
        return Err(VerifyError::new(
            Kind::AudMismatch,
            "the token is not meant for this API",
        ));
    }
    if let Some(iss) = claims.get("iss")
        && iss.as_str() != Some(issuer)
    {
        return Err(VerifyError::new(
            Kind::IssMismatch,
            "iss is not the expected issuer",
        ));
    }
    let sub = match claims.remove("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub,
        _ => return Err(VerifyError::new(Kind::MissingClaim, "sub is missing")),
    };
    Ok(VerifiedAccessToken {
        issuer: issuer.to_owned(),
        subject: sub,
        expires_at: cache_until,
        scopes: Vec::new(),
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn introspection_answers_are_checked() {
        let aud = ["logi_api".to_owned()];
        let ok = json!({"active": true, "iss": "https://i", "sub": "u", "client_id": "logi_api", "scope": "a b", "exp": 2000, "email": "e"});
        let token = from_introspection(answer(ok.clone()), "https://i", &aud, 1000, 1060).unwrap();
        assert_eq!(
            (token.subject(), token.scopes(), token.expires_at()),
            ("u", &["a".to_owned(), "b".to_owned()][..], 1060)
        );
        assert_eq!(token.claims().get("email"), Some(&json!("e")));
        assert!(
            !token.claims().contains_key("client_id") || token.claims()["client_id"] == "logi_api"
        );

        let code = |v: Value| {
            from_introspection(answer(v), "https://i", &aud, 1000, 1060)
                .unwrap_err()
                .code()
        };
        let mut inactive = ok.clone();
        inactive["active"] = json!(false);
        assert_eq!(code(inactive), "inactive");
        assert_eq!(
            code(json!({"active": "true", "sub": "u", "client_id": "logi_api"})),
            "inactive"
        );
        let mut other = ok.clone();
        other["client_id"] = json!("logi_other");
        assert_eq!(code(other), "aud_mismatch");
        let mut iss = ok.clone();
        iss["iss"] = json!("https://evil");
        assert_eq!(code(iss), "iss_mismatch");
        let mut expired = ok.clone();
        expired["exp"] = json!(999);
        assert_eq!(code(expired), "expired");
        let mut nosub = ok;
        nosub.as_object_mut().unwrap().remove("sub");
        assert_eq!(code(nosub), "missing_claim");
    }

    #[test]
    fn introspection_answers_are_about_access_tokens_for_this_api() {
        let aud = ["logi_api".to_owned(), "https://api.example".to_owned()];
        let base = json!({"active": true, "sub": "u", "client_id": "logi_api", "exp": 2000});
        let answer_of = answer;
        let code = |changes: Value| {
            let mut answer = base.clone();
            for (k, v) in changes.as_object().unwrap() {
                if v.is_null() {
                    answer.as_object_mut().unwrap().remove(k);
                } else {
                    answer[k] = v.clone();
                }
            }
            match from_introspection(answer_of(answer), "https://i", &aud, 1000, 1060) {
                Ok(_) => "accepted",
                Err(error) => error.code(),
            }
        };
        for ok in [
            "Bearer",
            "bearer",
            "access_token",
            "urn:ietf:params:oauth:token-type:access_token",
        ] {
            assert_eq!(code(json!({ "token_type": ok })), "accepted", "{ok}");
        }
        assert_eq!(code(json!({})), "accepted", "token_type is optional");
        for not_access in [
            json!("refresh_token"),
            json!("Refresh"),
            json!("urn:ietf:params:oauth:token-type:refresh_token"),
            json!("id_token"),
            json!("DPoP"),
            json!("N_A"),
            json!(""),
            json!(7),
            json!(["Bearer"]),
        ] {
            assert_eq!(
                code(json!({ "token_type": not_access })),
                "not_an_access_token",
                "{not_access}"
            );
        }
        // `aud` when given decides; else `client_id`; one of them is needed.
        assert_eq!(code(json!({"aud": "https://api.example"})), "accepted");
        assert_eq!(
            code(json!({"aud": ["x", "https://api.example"]})),
            "accepted"
        );
        assert_eq!(
            code(json!({"aud": "https://api.example", "client_id": "logi_other"})),
            "accepted",
            "a token another client got for this API"
        );
        assert_eq!(code(json!({"aud": "logi_other"})), "aud_mismatch");
        assert_eq!(code(json!({"aud": ["x", "y"]})), "aud_mismatch");
        assert_eq!(code(json!({"aud": []})), "aud_mismatch");
        assert_eq!(code(json!({"aud": 7})), "aud_mismatch");
        assert_eq!(code(json!({"client_id": "logi_other"})), "aud_mismatch");
        assert_eq!(code(json!({"client_id": null})), "aud_mismatch");
        assert_eq!(code(json!({"active": false})), "inactive");
        assert_eq!(
            code(json!({"active": false, "token_type": "refresh_token"})),
            "inactive"
        );
    }

    #[test]
    fn userinfo_answers_name_no_other_audience() {
        let aud = ["logi_api".to_owned()];
        let code = |v: Value| match from_userinfo(answer(v), "https://i", &aud, 1060) {
            Ok(token) => {
                assert_eq!((token.subject(), token.expires_at()), ("u", 1060));
                assert!(token.scopes().is_empty());
                "accepted"
            }
            Err(error) => error.code(),
        };
        assert_eq!(code(json!({"sub": "u", "email": "e"})), "accepted");
        assert_eq!(code(json!({"sub": "u", "aud": "logi_api"})), "accepted");
        assert_eq!(code(json!({"sub": "u", "aud": ["logi_api"]})), "accepted");
        assert_eq!(
            code(json!({"sub": "u", "client_id": "logi_api"})),
            "accepted"
        );
        assert_eq!(
            code(json!({"sub": "u", "aud": "logi_other"})),
            "aud_mismatch"
        );
        assert_eq!(
            code(json!({"sub": "u", "client_id": "logi_other"})),
            "aud_mismatch"
        );
        assert_eq!(
            code(json!({"sub": "u", "iss": "https://evil"})),
            "iss_mismatch"
        );
        assert_eq!(code(json!({"sub": ""})), "missing_claim");
    }

    #[test]
    fn only_compact_jws_count_as_jwts() {
        assert!(is_jwt("a.b.c"));
        assert!(!is_jwt("opq_0123"));
        assert!(!is_jwt("a.b"));
        assert!(!is_jwt("a.b.c.d.e"));
    }
}
