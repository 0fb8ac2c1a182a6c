//! Opaque bearer tokens: validated by asking the provider, through its introspection endpoint
//! (RFC 7662) when discovery names one, else through userinfo.
//!
//! Answers are cached briefly ([`CACHE_FOR`], and never past the token's `exp`), so a revoked
//! token stops working within that time.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::VerifiedAccessToken;
use crate::provider::{CallError, OidcClient};
use crate::verify::{VerifyError, VerifyErrorKind as Kind};

/// How long an opaque token's validation is trusted before the provider is asked again.
pub(crate) const CACHE_FOR: Duration = Duration::from_secs(60);

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

/// Whether a token looks like a JWT (compact JWS): three dot-separated parts.
pub(crate) fn is_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// Validates an opaque token with the provider.
pub(crate) async fn validate(
    client: &OidcClient,
    issuer: &str,
    audiences: &[String],
    token: &str,
    now: i64,
) -> Result<VerifiedAccessToken, VerifyError> {
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
    match client.userinfo(token).await {
        Ok(claims) => from_userinfo(claims, issuer, cache_until),
        Err(CallError::Status { status, .. }) if status == http::StatusCode::UNAUTHORIZED => Err(
            VerifyError::new(Kind::Inactive, "the provider does not accept the token"),
        ),
        Err(error) => Err(unavailable(&error)),
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
    if let Some(iss) = answer.get("iss")
        && iss.as_str() != Some(issuer)
    {
        return Err(VerifyError::new(
            Kind::IssMismatch,
            "iss is not the expected issuer",
        ));
    }
    // The token must be meant for this API: `aud` when present, else the client it was issued to.
    let names_us = |v: &Value| v.as_str().is_some_and(|a| audiences.iter().any(|x| x == a));
    let for_us = match (answer.get("aud"), answer.get("client_id")) {
        (Some(Value::Array(auds)), _) => auds.iter().any(names_us),
        (Some(aud), _) => names_us(aud),
        (None, Some(client_id)) => names_us(client_id),
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

/// Userinfo proves the token is live and names the user, but not its scopes or audience.
fn from_userinfo(
    mut claims: Map<String, Value>,
    issuer: &str,
    cache_until: i64,
) -> Result<VerifiedAccessToken, VerifyError> {
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
    fn only_compact_jws_count_as_jwts() {
        assert!(is_jwt("a.b.c"));
        assert!(!is_jwt("opq_0123"));
        assert!(!is_jwt("a.b"));
        assert!(!is_jwt("a.b.c.d.e"));
    }
}
