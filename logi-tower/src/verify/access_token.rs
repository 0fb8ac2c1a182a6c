use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use aws_lc_rs::signature::ParsedPublicKey;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::claims::{Text, numeric_date};
use super::id_token::unix;
use super::jws::{Jws, SigningDigest, Typ, from_json};
use super::{VerifyError, VerifyErrorKind as Kind};
use crate::provider::Jwks;

/// Verifies logi access tokens (RS256 JWTs with `iss, sub, aud, exp, iat, jti, scope`) for
/// APIs and gRPC services.
///
/// Checks, in order: structure (`malformed`), algorithm RS256, before any key is looked up
/// (`bad_signature`; `none` and HMAC algorithms can never pass), `kid` (`missing_kid`), the
/// header's `typ` (`not_an_access_token`, below), the key (`unknown_kid`), signature
/// (`bad_signature`), that the claims are an access token's (`not_an_access_token`, below),
/// `iss` (`iss_mismatch`), `aud` names one of the expected audiences (`aud_mismatch`), `exp`
/// (`missing_claim`, `expired`), `nbf` and `iat` not in the future (`expired`), `sub`
/// (`missing_claim`). Times allow the clock skew (60 s).
///
/// # Access tokens only
///
/// The provider signs other JWTs with the same keys, for the same audience (the client id):
/// ID tokens, which travel in browsers' address bars as `id_token_hint`, and back-channel logout
/// tokens. None of them is a credential for an API, so each is refused with
/// `not_an_access_token`, whatever its audience, on every signal the standards give:
///
/// - the header's `typ` (RFC 7515 §4.1.9, compared without regard to case, `application/`
///   optional) is `at+jwt` (RFC 9068), `JWT`, or absent; any other (`logout+jwt`,
///   `secevent+jwt`, `id_token+jwt`, a non-string...) is refused before any key is looked up;
/// - claims that only ID tokens carry (`nonce`, `at_hash`, `c_hash`, `s_hash`) or only logout
///   tokens carry (`events`, OpenID Connect Back-Channel Logout §2.4) are refused, whatever
///   `typ` says; so is `auth_time` without `scope` (an ID token's shape: access tokens that
///   carry `auth_time` carry their `scope` too);
/// - a token whose `typ` is not `at+jwt` (a logi access token's is `JWT`) must carry what every
///   logi access token carries and an ID token does not: `scope` (possibly empty) and `jti`.
///   With `typ: at+jwt` the provider has said what the token is, and neither is required.
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
        access_token_typ(&jws)?;
        let key = self.jwks.key(kid).await?;
        self.verify_with(&jws, &key, unix(now))
    }

    /// [`verify_at`](Self::verify_at) `now` (in seconds since the Unix epoch) without waiting,
    /// for a token whose signing input's SHA-256 the caller already computed: `None` when the
    /// token's key is not cached (or the cached keys are stale), and only then; the caller then
    /// awaits `verify`, which fetches.
    pub(crate) fn verify_cached(
        &self,
        token: &str,
        signing_digest: SigningDigest,
        now: i64,
    ) -> Option<Result<VerifiedAccessToken, VerifyError>> {
        let jws = match Jws::parse_prehashed(token, signing_digest) {
            Ok(jws) => jws,
            Err(error) => return Some(Err(error)),
        };
        let kid = match jws
            .rs256_kid()
            .and_then(|kid| access_token_typ(&jws).map(|()| kid))
        {
            Ok(kid) => kid,
            Err(error) => return Some(Err(error)),
        };
        let key = self.jwks.cached_key(kid)?;
        Some(self.verify_with(&jws, &key, now))
    }

    /// The checks from the signature on.
    fn verify_with(
        &self,
        jws: &Jws<'_>,
        key: &ParsedPublicKey,
        now: i64,
    ) -> Result<VerifiedAccessToken, VerifyError> {
        jws.verify_signature(key)?;
        let claims: AccessClaims<'_> = from_json(jws.payload()).map_err(|_| {
            VerifyError::new(Kind::Malformed, "payload is not a JSON object of claims")
        })?;
        self.check(claims, jws.typ(), now)
    }

    fn check(
        &self,
        claims: AccessClaims<'_>,
        typ: Typ,
        now: i64,
    ) -> Result<VerifiedAccessToken, VerifyError> {
        claims.is_an_access_token(typ)?;
        let Some(Text(iss)) = claims.iss.filter(|iss| *iss.0 == *self.issuer) else {
            return Err(VerifyError::new(
                Kind::IssMismatch,
                "iss is not the expected issuer",
            ));
        };
        if !claims.aud.name_any_of(&self.audiences) {
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
            Some(Text(sub)) if !sub.is_empty() => sub,
            _ => return Err(VerifyError::new(Kind::MissingClaim, "sub is missing")),
        };
        let scope = claims.scope.as_ref().map_or("", |scope| &scope.0);
        Ok(VerifiedAccessToken {
            issuer: iss.into_owned(),
            subject: sub.into_owned(),
            expires_at: exp,
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
            claims: claims.rest,
        })
    }
}

/// Refuses a token whose header's `typ` says it is not an access token (see
/// [`AccessTokenVerifier`]).
fn access_token_typ(jws: &Jws<'_>) -> Result<(), VerifyError> {
    match jws.typ() {
        Typ::Absent | Typ::Jwt | Typ::AccessToken => Ok(()),
        Typ::Other => Err(not_an_access_token(
            "the header's typ is not an access token's",
        )),
    }
}

const fn not_an_access_token(detail: &'static str) -> VerifyError {
    VerifyError::new(Kind::NotAnAccessToken, detail)
}

/// A claim that only another kind of token carries.
#[derive(Clone, Copy)]
enum Foreign {
    /// `nonce`, `at_hash`, `c_hash`, `s_hash`: an ID token's.
    IdToken,
    /// `events`: a logout token's (a security event token's).
    LogoutToken,
}

/// An access token's claims, read in one pass: the registered ones typed (strings borrowed from
/// the payload unless they have escapes), protocol claims dropped, everything else kept as the
/// user's claims.
struct AccessClaims<'a> {
    iss: Option<Text<'a>>,
    sub: Option<Text<'a>>,
    aud: Audiences<'a>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    scope: Option<Text<'a>>,
    /// `jti` is there (and not `null`).
    jti: bool,
    /// `auth_time` is there (and not `null`).
    auth_time: bool,
    /// The first claim seen that only another kind of token carries.
    foreign: Option<Foreign>,
    rest: Map<String, Value>,
}

impl AccessClaims<'_> {
    /// Whether these claims, under a header with `typ`, are an access token's (see
    /// [`AccessTokenVerifier`]).
    fn is_an_access_token(&self, typ: Typ) -> Result<(), VerifyError> {
        match self.foreign {
            Some(Foreign::LogoutToken) => {
                return Err(not_an_access_token(
                    "a logout token (it carries events), not an access token",
                ));
            }
            Some(Foreign::IdToken) => {
                return Err(not_an_access_token(
                    "an ID token (it carries nonce, at_hash, c_hash or s_hash), not an access token",
                ));
            }
            None => {}
        }
        if self.auth_time && self.scope.is_none() {
            return Err(not_an_access_token(
                "an ID token (auth_time without scope), not an access token",
            ));
        }
        if typ != Typ::AccessToken && (self.scope.is_none() || !self.jti) {
            return Err(not_an_access_token(
                "neither typ at+jwt nor scope and jti: not an access token",
            ));
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for AccessClaims<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = AccessClaims<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AccessClaims<'de>, A::Error> {
                let mut claims = AccessClaims {
                    iss: None,
                    sub: None,
                    aud: Audiences::None,
                    exp: None,
                    iat: None,
                    nbf: None,
                    scope: None,
                    jti: false,
                    auth_time: false,
                    foreign: None,
                    rest: Map::new(),
                };
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    match &*key {
                        "iss" => claims.iss = map.next_value()?,
                        "sub" => claims.sub = map.next_value()?,
                        "aud" => claims.aud = map.next_value()?,
                        "exp" => claims.exp = map.next_value::<Date>()?.0,
                        "iat" => claims.iat = map.next_value::<Date>()?.0,
                        "nbf" => claims.nbf = map.next_value::<Date>()?.0,
                        "scope" => claims.scope = map.next_value()?,
                        "jti" => claims.jti = map.next_value::<Present>()?.0,
                        "auth_time" => claims.auth_time = map.next_value::<Present>()?.0,
                        "nonce" | "at_hash" | "c_hash" | "s_hash" => {
                            map.next_value::<de::IgnoredAny>()?;
                            claims.foreign.get_or_insert(Foreign::IdToken);
                        }
                        "events" => {
                            map.next_value::<de::IgnoredAny>()?;
                            claims.foreign.get_or_insert(Foreign::LogoutToken);
                        }
                        k if PROTOCOL_CLAIMS.contains(&k) => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        _ => {
                            let value = map.next_value()?;
                            claims.rest.insert(key.into_owned(), value);
                        }
                    }
                }
                Ok(claims)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// `aud`: one string or an array of strings, borrowed.
enum Audiences<'a> {
    None,
    One(Text<'a>),
    Many(Vec<Text<'a>>),
}

impl Audiences<'_> {
    /// Whether any of these audiences is one of `expected`.
    fn name_any_of(&self, expected: &[String]) -> bool {
        let expected = |aud: &Text<'_>| expected.iter().any(|e| *e == *aud.0);
        match self {
            Self::None => false,
            Self::One(aud) => expected(aud),
            Self::Many(auds) => auds.iter().any(expected),
        }
    }
}

impl<'de> Deserialize<'de> for Audiences<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Audiences<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Audiences<'de>, E> {
                Ok(Audiences::One(Text(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audiences<'de>, E> {
                Ok(Audiences::One(Text(Cow::Owned(v.to_owned()))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audiences<'de>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                while let Some(aud) = seq.next_element::<Text<'de>>()? {
                    out.push(aud);
                }
                Ok(Audiences::Many(out))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// Whether a claim is there with a value other than `null` (read without keeping it).
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<de::IgnoredAny>::deserialize(deserializer).map(|v| Present(v.is_some()))
    }
}

/// A NumericDate claim, in the single pass above.
struct Date(Option<i64>);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        numeric_date(deserializer).map(Date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> AccessTokenVerifier {
        AccessTokenVerifier::with_audiences(
            "https://i",
            vec!["api".into()],
            Jwks::from_json(br#"{"keys":[]}"#).unwrap(),
        )
    }

    /// Checks claims under `typ: at+jwt`, which requires neither `scope` nor `jti`.
    fn check(json: &str) -> Result<VerifiedAccessToken, VerifyError> {
        check_typed(json, Typ::AccessToken)
    }

    fn check_typed(json: &str, typ: Typ) -> Result<VerifiedAccessToken, VerifyError> {
        verifier().check(serde_json::from_str(json).unwrap(), typ, 1000)
    }

    #[test]
    fn only_access_tokens_pass() {
        let base = r#""iss":"https://i","sub":"u","aud":"api","exp":2000"#;
        let refused = |claims: &str, typ: Typ| {
            let json = format!("{{{base}{claims}}}");
            match check_typed(&json, typ) {
                Err(error) => error.code(),
                Ok(_) => "accepted",
            }
        };
        for typ in [Typ::Absent, Typ::Jwt, Typ::AccessToken] {
            assert_eq!(refused(r#","jti":"j","scope":"a""#, typ), "accepted");
            assert_eq!(refused(r#","jti":"j","scope":"""#, typ), "accepted");
            assert_eq!(
                refused(r#","jti":"j","scope":"a","auth_time":900"#, typ),
                "accepted"
            );
            // What only ID tokens and logout tokens carry, whatever `typ` says.
            for foreign in [
                r#","nonce":"n""#,
                r#","at_hash":"h""#,
                r#","c_hash":"h""#,
                r#","s_hash":"h""#,
                r#","events":{"http://schemas.openid.net/event/backchannel-logout":{}}"#,
                r#","events":null"#,
                r#","auth_time":900"#,
            ] {
                assert_eq!(
                    refused(&format!(r#","jti":"j"{foreign}"#), typ),
                    "not_an_access_token",
                    "{foreign} {typ:?}"
                );
                assert_eq!(
                    refused(&format!(r#","jti":"j","scope":"a"{foreign}"#), typ),
                    if foreign.contains("auth_time") {
                        "accepted"
                    } else {
                        "not_an_access_token"
                    },
                    "{foreign} {typ:?}"
                );
            }
        }
        // Without `typ: at+jwt`, the claims every logi access token carries are required.
        for typ in [Typ::Absent, Typ::Jwt] {
            for missing in [
                "",
                r#","jti":"j""#,
                r#","scope":"a""#,
                r#","jti":null,"scope":"a""#,
            ] {
                assert_eq!(refused(missing, typ), "not_an_access_token", "{missing}");
            }
        }
        assert_eq!(refused("", Typ::AccessToken), "accepted");
        // The refusal comes before the audience: an ID token for another API is still an ID
        // token.
        let id_token = r#"{"iss":"https://i","sub":"u","aud":"other","exp":2000,"nonce":"n"}"#;
        assert_eq!(
            check_typed(id_token, Typ::Jwt).unwrap_err().code(),
            "not_an_access_token"
        );
        assert!(check_typed(r#"{"jti":7}"#, Typ::Jwt).is_err());
    }

    #[test]
    fn registered_claims_are_typed_and_the_rest_kept() {
        let token = check(
            r#"{"iss":"https://i","sub":"u","aud":["x","api"],"exp":2000.5,"iat":999,"jti":"j",
                "scope":"a  b","client_id":"api","sid":"s","team":{"id":7}}"#,
        )
        .unwrap();
        assert_eq!(token.subject(), "u");
        assert_eq!(token.expires_at(), 2000);
        assert_eq!(token.scopes(), ["a", "b"]);
        let mut keys: Vec<&str> = token.claims().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["client_id", "sid", "team"],
            "registered and protocol claims are not the user's"
        );
    }

    #[test]
    fn each_check_has_its_code() {
        let base = r#""iss":"https://i","sub":"u","aud":"api","exp":2000"#;
        let code = |json: String| check(&json).unwrap_err().code();
        assert_eq!(
            code(format!(r#"{{{base},"iss":"https://evil"}}"#)),
            "iss_mismatch"
        );
        assert_eq!(
            code(r#"{"iss":"https://i","sub":"u","aud":"other","exp":2000}"#.into()),
            "aud_mismatch"
        );
        assert_eq!(
            code(r#"{"iss":"https://i","sub":"u","aud":"api"}"#.into()),
            "missing_claim"
        );
        assert_eq!(
            code(r#"{"iss":"https://i","sub":"u","aud":"api","exp":900}"#.into()),
            "expired"
        );
        assert_eq!(code(format!(r#"{{{base},"nbf":1100}}"#)), "expired");
        assert_eq!(
            code(r#"{"iss":"https://i","aud":"api","exp":2000}"#.into()),
            "missing_claim"
        );
        assert!(
            check(&format!(r#"{{{base},"scope":null,"nbf":1030}}"#)).is_ok(),
            "within the skew"
        );
        assert!(serde_json::from_str::<AccessClaims<'_>>(r#"{"exp":"soon"}"#).is_err());
        assert!(serde_json::from_str::<AccessClaims<'_>>(r#"{"aud":null}"#).is_err());
        assert!(serde_json::from_str::<AccessClaims<'_>>(r#"{"aud":[1]}"#).is_err());
        assert!(serde_json::from_str::<AccessClaims<'_>>(r#"{"iss":7}"#).is_err());

        // Invalid UTF-8 is refused where a claim is read, and let through where it is ignored.
        let with = |jti: &[u8], sub: &[u8]| {
            let json = [&br#"{"jti":""#[..], jti, br#"","sub":""#, sub, br#""}"#].concat();
            from_json::<AccessClaims<'_>>(&json).map(|c| c.sub.map(|s| s.0.into_owned()))
        };
        assert_eq!(with(b"\xff", b"u").unwrap().as_deref(), Some("u"));
        assert!(with(b"j", b"\xff").is_err());

        // Escaped strings are read as well as plain ones.
        let escaped = check(
            r#"{"iss":"https:\/\/i","s\u0075b":"\u0075","aud":["a\u0070i"],"exp":2000,
                "scope":"a\tb","te\u0061m":"\"x\""}"#,
        )
        .unwrap();
        assert_eq!(escaped.subject(), "u");
        assert_eq!(escaped.scopes(), ["a", "b"]);
        assert_eq!(escaped.claims()["team"], "\"x\"");
    }
}
