//! Logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4): verified like an ID
//! token (RS256 against the provider's keys, `iss`, `aud`, `exp`, `iat`), plus the rules of a
//! logout token: the back-channel logout event, `sid` and/or `sub`, no `nonce`, a `jti`.

use serde::Deserialize;
use serde_json::Value;

use super::claims::Registered;
use super::{IdTokenVerifier, VerifyError, VerifyErrorKind};

/// The member of `events` that makes a JWT a logout token.
pub(crate) const BACKCHANNEL_LOGOUT_EVENT: &str =
    "http://schemas.openid.net/event/backchannel-logout";

/// A verified logout token: whose sessions end. At least one of `sub` and `sid` is set.
#[derive(Debug)]
pub(crate) struct LogoutToken {
    pub(crate) sub: Option<String>,
    pub(crate) sid: Option<String>,
    pub(crate) jti: String,
    pub(crate) expires_at: i64,
}

/// Why a logout token was refused. The description is short and holds nothing of the token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    /// The provider's keys could not be had: not the token's fault, worth retrying.
    pub(crate) unavailable: bool,
    pub(crate) description: &'static str,
}

impl Refused {
    fn claims(description: &'static str) -> Self {
        Self {
            unavailable: false,
            description,
        }
    }
}

impl From<VerifyError> for Refused {
    fn from(error: VerifyError) -> Self {
        Self {
            unavailable: error.kind() == VerifyErrorKind::Unavailable,
            description: error.detail(),
        }
    }
}

/// The claims only a logout token has.
#[derive(Deserialize)]
struct LogoutClaims {
    events: Option<Value>,
    jti: Option<Value>,
}

/// Verifies `token` as a logout token for `verifier`'s client, at `now` (Unix seconds).
pub(crate) async fn verify(
    verifier: &IdTokenVerifier,
    token: &str,
    now: i64,
) -> Result<LogoutToken, Refused> {
    let payload = verifier.signed_payload(token).await?;
    check(verifier, &payload, now)
}

fn check(verifier: &IdTokenVerifier, payload: &[u8], now: i64) -> Result<LogoutToken, Refused> {
    let malformed = || Refused::claims("payload is not a JSON object of claims");
    let claims: Registered = serde_json::from_slice(payload).map_err(|_| malformed())?;
    let logout: LogoutClaims = serde_json::from_slice(payload).map_err(|_| malformed())?;
    let (expires_at, _) = verifier.check_issue(&claims, now)?;
    let event = logout
        .events
        .as_ref()
        .ok_or_else(|| Refused::claims("events is missing"))?
        .as_object()
        .ok_or_else(|| Refused::claims("events is not a JSON object"))?
        .get(BACKCHANNEL_LOGOUT_EVENT)
        .ok_or_else(|| Refused::claims("events has no back-channel logout event"))?;
    if !event.is_object() {
        return Err(Refused::claims(
            "the back-channel logout event is not a JSON object",
        ));
    }
    let present = |value: Option<String>| value.filter(|v| !v.is_empty());
    let (sub, sid) = (present(claims.sub), present(claims.sid));
    if sub.is_none() && sid.is_none() {
        return Err(Refused::claims("neither sid nor sub is present"));
    }
    if claims.nonce.is_some() {
        return Err(Refused::claims("a logout token must not carry a nonce"));
    }
    let jti = match logout.jti {
        Some(Value::String(jti)) if !jti.is_empty() => jti,
        _ => return Err(Refused::claims("jti is missing")),
    };
    Ok(LogoutToken {
        sub,
        sid,
        jti,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::Jwks;

    const NOW: i64 = 1_800_000_000;

    fn verifier() -> IdTokenVerifier {
        let jwks = Jwks::from_json(br#"{"keys":[]}"#).unwrap();
        IdTokenVerifier::new("https://issuer.example", "logi_client", jwks)
    }

    fn claims() -> Value {
        json!({
            "iss": "https://issuer.example", "aud": "logi_client", "iat": NOW, "exp": NOW + 120,
            "jti": "jti-1", "sub": "user-1", "sid": "sid-1",
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        })
    }

    fn check_claims(claims: &Value) -> Result<LogoutToken, &'static str> {
        check(&verifier(), claims.to_string().as_bytes(), NOW).map_err(|r| r.description)
    }

    #[test]
    fn a_logout_token_names_whose_sessions_end() {
        let token = check_claims(&claims()).unwrap();
        assert_eq!(token.sub.as_deref(), Some("user-1"));
        assert_eq!(token.sid.as_deref(), Some("sid-1"));
        assert_eq!((token.jti.as_str(), token.expires_at), ("jti-1", NOW + 120));
        let mut sid_only = claims();
        sid_only.as_object_mut().unwrap().remove("sub");
        assert_eq!(check_claims(&sid_only).unwrap().sub, None);
    }

    #[test]
    fn the_rules_of_a_logout_token_are_enforced() {
        let cases: [(&str, Value, &str); 9] = [
            ("events", Value::Null, "events is missing"),
            ("events", json!([]), "events is not a JSON object"),
            (
                "events",
                json!({ "http://schemas.openid.net/event/other": {} }),
                "events has no back-channel logout event",
            ),
            (
                "events",
                json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" }),
                "the back-channel logout event is not a JSON object",
            ),
            (
                "nonce",
                json!("n-1"),
                "a logout token must not carry a nonce",
            ),
            ("jti", Value::Null, "jti is missing"),
            ("jti", json!(""), "jti is missing"),
            ("aud", json!("logi_other"), "aud does not name this client"),
            ("exp", json!(NOW - 61), "the token has expired"),
        ];
        for (name, value, expected) in cases {
            let mut claims = claims();
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value;
            }
            assert_eq!(check_claims(&claims).err(), Some(expected), "{name}");
        }
        let mut anonymous = claims();
        anonymous.as_object_mut().unwrap().remove("sub");
        anonymous["sid"] = json!("");
        assert_eq!(
            check_claims(&anonymous).err(),
            Some("neither sid nor sub is present")
        );
    }
}
