//! Compact JWS parsing and RS256 signature checks.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use super::claims::Text;
use super::{VerifyError, VerifyErrorKind as Kind};

/// The largest token we look at. Real ID and access tokens are a few KiB; anything far larger
/// is refused before decoding so that a hostile header cannot cost us memory.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Headers up to this many decoded bytes are decoded on the stack (real ones are under 100).
const STACK_HEADER_LEN: usize = 256;

/// A compact JWS split into its parts, with header and payload decoded.
pub(crate) struct Jws<'a> {
    header: Header,
    /// `BASE64URL(header) "." BASE64URL(payload)`: the bytes the signature covers.
    signing_input: &'a [u8],
    /// The SHA-256 of `signing_input`, when the caller already computed it.
    signing_digest: Option<Digest>,
    /// The decoded payload followed by the decoded signature: one allocation for both.
    decoded: Vec<u8>,
    payload_len: usize,
}

/// What the header says, read without keeping the header.
#[derive(Clone)]
struct Header {
    /// `alg` is `RS256`.
    rs256: bool,
    kid: Option<Arc<str>>,
    typ: Typ,
}

/// What a JWS header's `typ` says the token is (RFC 7515 §4.1.9: a media type, compared
/// without regard to case, whose `application/` prefix may be left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Typ {
    /// No `typ`.
    Absent,
    /// `JWT`: any JWT; what it is must be told from its claims.
    Jwt,
    /// `at+jwt`: an access token (RFC 9068 §2.1).
    AccessToken,
    /// Anything else: `logout+jwt` (a logout token), `secevent+jwt`, `id_token+jwt`, `JOSE`...
    Other,
}

impl Typ {
    fn of(typ: &str) -> Self {
        let subtype = match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
            _ => typ,
        };
        if subtype.eq_ignore_ascii_case("jwt") {
            Self::Jwt
        } else if subtype.eq_ignore_ascii_case("at+jwt") {
            Self::AccessToken
        } else {
            Self::Other
        }
    }
}

/// A `typ` that is not a string (which RFC 7515 does not allow) is [`Typ::Other`], not a
/// malformed header: verifiers that ignore `typ` keep ignoring it.
impl<'de> Deserialize<'de> for Typ {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Typ;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Typ, E> {
                Ok(Typ::of(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Typ, E> {
                Ok(Typ::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Typ, E> {
                Ok(Typ::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Typ, E> {
                Ok(Typ::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Typ, E> {
                Ok(Typ::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Typ, E> {
                Ok(Typ::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Typ, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Typ::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Typ, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Typ::Other)
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// Headers up to this long (encoded) are remembered by [`LAST_HEADER`].
const MEMO_HEADER_LEN: usize = 512;

thread_local! {
    /// The last header this thread read (encoded, as in the token) and what it says. Every token
    /// signed with one provider key carries the same header, so most tokens skip decoding and
    /// parsing theirs. A memo of a pure function: the same text always says the same.
    static LAST_HEADER: RefCell<Option<(Box<str>, Header)>> = const { RefCell::new(None) };
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Option<Text<'a>>,
    #[serde(borrow)]
    kid: Option<Text<'a>>,
    #[serde(default)]
    typ: Option<Typ>,
}

/// The SHA-256 of a token's signing input: everything before its last `.` (see
/// [`signing_input`]). Computed once by the layer, for its token cache and for the signature
/// check.
#[derive(Clone, Copy)]
pub(crate) struct SigningDigest(Digest);

/// A token split before its last `.`: the signing input of a compact JWS, and the rest (the
/// `.` and the signature; empty when the token has no `.`).
pub(crate) fn signing_input(token: &str) -> (&str, &str) {
    token.split_at(token.rfind('.').unwrap_or(token.len()))
}

impl SigningDigest {
    /// The SHA-256 of `signing_input`, as [`signing_input`] splits a token.
    pub(crate) fn of(signing_input: &str) -> Self {
        Self(digest::digest(&digest::SHA256, signing_input.as_bytes()))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

const fn malformed(detail: &'static str) -> VerifyError {
    VerifyError::new(Kind::Malformed, detail)
}

impl<'a> Jws<'a> {
    /// Splits and decodes a compact JWS. Only structure is checked here.
    pub(crate) fn parse(token: &'a str) -> Result<Self, VerifyError> {
        Self::parse_inner(token, None)
    }

    /// [`parse`](Self::parse), with the SHA-256 of the token's signing input already computed
    /// (by [`SigningDigest::of`] on the first part of [`signing_input`]).
    pub(crate) fn parse_prehashed(
        token: &'a str,
        signing_digest: SigningDigest,
    ) -> Result<Self, VerifyError> {
        Self::parse_inner(token, Some(signing_digest.0))
    }

    fn parse_inner(token: &'a str, signing_digest: Option<Digest>) -> Result<Self, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("token is too large"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not a compact JWS (three dot-separated parts)"));
        };
        let header = read_header(h)?;
        let mut decoded = Vec::with_capacity(
            base64::decoded_len_estimate(p.len()) + base64::decoded_len_estimate(s.len()),
        );
        URL_SAFE_NO_PAD
            .decode_vec(p, &mut decoded)
            .map_err(|_| malformed("payload is not base64url"))?;
        let payload_len = decoded.len();
        URL_SAFE_NO_PAD
            .decode_vec(s, &mut decoded)
            .map_err(|_| malformed("signature is not base64url"))?;
        let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
        debug_assert!(
            signing_digest.is_none_or(|d| {
                d.as_ref() == digest::digest(&digest::SHA256, signing_input).as_ref()
            }),
            "the signing digest is the SHA-256 of this token's signing input"
        );
        Ok(Self {
            header,
            signing_input,
            signing_digest,
            decoded,
            payload_len,
        })
    }

    /// The decoded payload.
    pub(crate) fn payload(&self) -> &[u8] {
        &self.decoded[..self.payload_len]
    }

    /// The decoded payload, kept.
    pub(crate) fn into_payload(mut self) -> Vec<u8> {
        self.decoded.truncate(self.payload_len);
        self.decoded
    }

    /// The key id the header names, after checking that the algorithm is RS256.
    ///
    /// The algorithm is checked before any key is looked up, so a token with `alg: none` or an
    /// HMAC algorithm never reaches the key cache (nor triggers a JWKS refetch).
    pub(crate) fn rs256_kid(&self) -> Result<&str, VerifyError> {
        if !self.header.rs256 {
            return Err(VerifyError::new(
                Kind::BadSignature,
                "algorithm is not RS256",
            ));
        }
        match self.header.kid.as_deref() {
            Some(kid) if !kid.is_empty() => Ok(kid),
            _ => Err(VerifyError::new(Kind::MissingKid, "header has no kid")),
        }
    }

    /// What the header's `typ` says the token is.
    pub(crate) fn typ(&self) -> Typ {
        self.header.typ
    }

    /// Checks the RS256 signature with `key`.
    pub(crate) fn verify_signature(&self, key: &ParsedPublicKey) -> Result<(), VerifyError> {
        let signature = &self.decoded[self.payload_len..];
        let verified = match &self.signing_digest {
            // The same check as `verify_sig`, without hashing the signing input again.
            Some(digest) => key.verify_digest_sig(digest, signature),
            None => key.verify_sig(self.signing_input, signature),
        };
        verified.map_err(|_| VerifyError::new(Kind::BadSignature, "signature does not verify"))
    }
}

/// `serde_json::from_slice`, faster: JSON that is valid UTF-8 as a whole (as it always is) is
/// read as a `str`, without validating each string again; anything else is read from the bytes,
/// so the outcome is `from_slice`'s either way (it also accepts invalid UTF-8 in ignored strings).
pub(crate) fn from_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// Reads the header, or remembers what the same header said.
fn read_header(h: &str) -> Result<Header, VerifyError> {
    let known = LAST_HEADER.with_borrow(|last| match last {
        Some((text, header)) if **text == *h => Some(header.clone()),
        _ => None,
    });
    if let Some(header) = known {
        return Ok(header);
    }
    let header = parse_header(h)?;
    if h.len() <= MEMO_HEADER_LEN {
        LAST_HEADER.with_borrow_mut(|last| *last = Some((h.into(), header.clone())));
    }
    Ok(header)
}

/// Decodes and reads the header: on the stack when it is small, as it always is.
fn parse_header(h: &str) -> Result<Header, VerifyError> {
    let not_base64 = || malformed("header is not base64url");
    let mut stack = [0u8; STACK_HEADER_LEN];
    let heap;
    let bytes = if base64::decoded_len_estimate(h.len()) <= STACK_HEADER_LEN {
        let len = URL_SAFE_NO_PAD
            .decode_slice(h, &mut stack)
            .map_err(|_| not_base64())?;
        &stack[..len]
    } else {
        heap = URL_SAFE_NO_PAD.decode(h).map_err(|_| not_base64())?;
        &heap[..]
    };
    let raw: RawHeader<'_> =
        from_json(bytes).map_err(|_| malformed("header is not a JSON object"))?;
    Ok(Header {
        rs256: raw.alg.is_some_and(|alg| alg.0 == "RS256"),
        kid: raw.kid.map(|kid| kid.0.into()),
        typ: raw.typ.unwrap_or(Typ::Absent),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn parts_decode_and_errors_keep_their_order() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","kid":"k\u0031","typ":"JWT"}"#),
            b64(r#"{"sub":"u"}"#),
            b64("sig")
        );
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(jws.rs256_kid().unwrap(), "k1");
        assert_eq!(jws.payload(), br#"{"sub":"u"}"#);
        assert_eq!(&jws.decoded[jws.payload_len..], b"sig");
        assert_eq!(jws.into_payload(), br#"{"sub":"u"}"#);
        let (signed, rest) = signing_input(&token);
        assert_eq!(format!("{signed}{rest}"), token);
        assert!(rest.starts_with('.') && !rest[1..].contains('.'));
        assert!(Jws::parse_prehashed(&token, SigningDigest::of(signed)).is_ok());
        assert_eq!(signing_input("opaque"), ("opaque", ""));

        // A large header still decodes (off the stack).
        let long_kid = "k".repeat(2 * STACK_HEADER_LEN);
        let big = format!(
            "{}.{}.{}",
            b64(&format!(r#"{{"alg":"RS256","kid":"{long_kid}"}}"#)),
            b64("{}"),
            b64("s")
        );
        assert_eq!(Jws::parse(&big).unwrap().rs256_kid().unwrap(), long_kid);

        let detail = |t: &str| Jws::parse(t).err().unwrap().to_string();
        assert!(detail("a.b").contains("three"));
        assert!(detail("!.!.!").contains("header is not base64url"));
        assert!(detail(&format!("{}.!.!", b64("[]"))).contains("header is not a JSON"));
        assert!(detail(&format!("{}.!.!", b64("{}"))).contains("payload is not base64url"));
        assert!(detail(&format!("{}.{}.!", b64("{}"), b64("{}"))).contains("signature"));
        let alg = |h: &str| {
            Jws::parse(&format!("{}.{}.{}", b64(h), b64("{}"), b64("s")))
                .unwrap()
                .rs256_kid()
                .unwrap_err()
                .code()
        };
        assert_eq!(alg(r#"{"alg":"none","kid":"k"}"#), "bad_signature");
        assert_eq!(alg(r#"{"kid":"k"}"#), "bad_signature");
        assert_eq!(alg(r#"{"alg":"RS256","kid":""}"#), "missing_kid");
        assert_eq!(alg(r#"{"alg":"RS256"}"#), "missing_kid");

        // The same header text twice reads the same (the second time from the memo); another
        // header is read anew.
        for _ in 0..2 {
            for (kid, alg) in [("k1", "RS256"), ("k2", "none"), ("k1", "RS256")] {
                let h = b64(&format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#));
                let token = format!("{h}.{}.{}", b64("{}"), b64("s"));
                let jws = Jws::parse(&token).unwrap();
                assert_eq!(jws.header.kid.as_deref(), Some(kid));
                assert_eq!(jws.header.rs256, alg == "RS256");
            }
        }

        // Invalid UTF-8 in a string nobody reads is let through, as `from_slice` does.
        let header = [
            &br#"{"alg":"RS256","kid":"k","cty":""#[..],
            b"\xff",
            br#""}"#,
        ]
        .concat();
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(&header),
            b64("{}"),
            b64("s")
        );
        assert_eq!(Jws::parse(&token).unwrap().rs256_kid().unwrap(), "k");
        let kid = [&br#"{"alg":"RS256","kid":""#[..], b"\xff", br#""}"#].concat();
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(&kid),
            b64("{}"),
            b64("s")
        );
        assert_eq!(
            Jws::parse(&token).err().unwrap().detail(),
            "header is not a JSON object"
        );
    }

    #[test]
    fn typ_says_what_the_token_is() {
        let typ = |typ: &str| {
            let h = b64(&format!(r#"{{"alg":"RS256","kid":"k"{typ}}}"#));
            Jws::parse(&format!("{h}.{}.{}", b64("{}"), b64("s")))
                .unwrap()
                .typ()
        };
        assert_eq!(typ(""), Typ::Absent);
        assert_eq!(typ(r#","typ":null"#), Typ::Absent);
        for jwt in ["JWT", "jwt", "application/jwt", "Application/JWT"] {
            assert_eq!(typ(&format!(r#","typ":"{jwt}""#)), Typ::Jwt, "{jwt}");
        }
        for at in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "application/AT+jwt",
        ] {
            assert_eq!(typ(&format!(r#","typ":"{at}""#)), Typ::AccessToken, "{at}");
        }
        for other in [
            r#""logout+jwt""#,
            r#""application/logout+jwt""#,
            r#""secevent+jwt""#,
            r#""id_token""#,
            r#""JOSE""#,
            r#""""#,
            r#""at+jwt ""#,
            r#""application/""#,
            r#""xapplication/at+jwt""#,
            r#""applicatiön/at+jwt""#,
            "7",
            "true",
            r#"["at+jwt"]"#,
            r#"{"t":"at+jwt"}"#,
        ] {
            assert_eq!(typ(&format!(r#","typ":{other}"#)), Typ::Other, "{other}");
        }
    }
}
