//! Bearer tokens: reading `Authorization`, and the cache of verified tokens.
//! Decision level: owns the header's parsing and the cache; verification is `verify`'s, and
//! what a refusal looks like is `reject`'s.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use http::HeaderMap;
use http::header::AUTHORIZATION;
use subtle::ConstantTimeEq as _;

use crate::user::Principal;
use crate::verify::jws::{self, SigningDigest};

/// Longest token accepted in `Authorization`; real access tokens are 1–2 KiB.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a request's `Authorization` header presents. `Debug` never shows the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presented<'a> {
    /// No `Authorization` header: the session, if any, decides.
    Nothing,
    /// A bearer token: its characters are checked by [`check_token`] only when it is not found
    /// among the verified tokens (an exact match with a verified token is well-formed).
    Token(&'a str),
    /// An `Authorization` header that cannot be used; the reason is safe to show.
    Malformed(&'static str),
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nothing => f.write_str("Nothing"),
            Self::Token(token) => write!(f, "Token([{} bytes, redacted])", token.len()),
            Self::Malformed(why) => f.debug_tuple("Malformed").field(why).finish(),
        }
    }
}

/// Reads the bearer token of a request (RFC 6750 §2.1).
pub(crate) fn presented(headers: &HeaderMap) -> Presented<'_> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::Malformed("several Authorization headers");
    }
    let Ok(value) = value.to_str() else {
        return Presented::Malformed("the Authorization header is not visible ASCII");
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Presented::Malformed("the Authorization header is not `Bearer <token>`");
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Malformed("the Authorization scheme is not Bearer");
    }
    let token = token.trim_matches(' ');
    if token.is_empty() {
        return Presented::Malformed("the bearer token is empty");
    }
    if token.len() > MAX_TOKEN_LEN {
        return Presented::Malformed("the bearer token is too long");
    }
    Presented::Token(token)
}

/// Checks a bearer token's characters: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
/// "+" / "/" ) *"="`.
pub(crate) fn check_token(token: &str) -> Result<(), &'static str> {
    let body = token.trim_end_matches('=');
    // Every byte is looked at, without stopping at the first bad one: tokens are at most
    // `MAX_TOKEN_LEN` long, and a loop without an early exit is vectorized (this runs for every
    // token not found among the verified ones).
    let valid = !body.is_empty() && body.bytes().fold(true, |ok, b| ok & is_b64token_char(b));
    if valid {
        Ok(())
    } else {
        Err("the bearer token has characters a token cannot have")
    }
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`, without branches.
const fn is_b64token_char(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// Verified tokens, keyed by the SHA-256 of their signing input (see [`Key`]), until they
/// expire; bounded.
///
/// A steady stream of requests with the same token costs a hash, a lookup and a comparison, not
/// a signature check.
pub(crate) struct TokenCache {
    entries: RwLock<Entries>,
    capacity: usize,
}

/// The cache key of a token: the SHA-256 of its part before its last `.` (a JWT's signing input;
/// an opaque token without `.` whole; see [`jws::signing_input`]).
///
/// The digest is the one the RS256 signature check needs, so a token seen for the first time is
/// hashed once, not twice. It does not cover the signature: a cached principal is returned only
/// for a token equal to the one it was verified from, compared in constant time.
pub(crate) type Key = [u8; 32];
/// Token digest → (expiry, principal).
type Entries = HashMap<Key, (i64, Arc<Principal>), BuildHasherDefault<DigestHasher>>;

/// A token's cache [`Key`], and the same digest for the signature check.
pub(crate) struct Hashed {
    pub(crate) key: Key,
    pub(crate) signing_digest: SigningDigest,
}

/// Hashes a token for the cache (and the signature check).
pub(crate) fn key(token: &str) -> Hashed {
    let signing_digest = SigningDigest::of(jws::signing_input(token).0);
    Hashed {
        key: signing_digest
            .as_bytes()
            .try_into()
            .expect("SHA-256 is 32 bytes"),
        signing_digest,
    }
}

/// Whether two tokens are equal, in a time that depends only on their lengths.
fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // No early exit: every byte is compared, and the loop is vectorized.
    let diff = a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y));
    a.len() == b.len() && bool::from(diff.ct_eq(&0))
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 turns caching off.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::default()),
            capacity,
        }
    }

    /// The principal of `token` (by its [`key`]) when it was verified before and has not
    /// expired at `now`.
    pub(crate) fn get(&self, key: &Key, token: &str, now: i64) -> Option<Arc<Principal>> {
        if self.capacity == 0 {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((exp, principal))
                if now < *exp && same_token(principal.access_token.expose(), token) =>
            {
                Some(Arc::clone(principal))
            }
            _ => None,
        }
    }

    /// Remembers a verified token (by [`key`]) until `exp`.
    pub(crate) fn insert(&self, key: Key, exp: i64, principal: Arc<Principal>, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, (exp, _)| now < *exp);
            if entries.len() >= self.capacity {
                // Still full of live tokens: start over rather than grow without bound.
                entries.clear();
            }
        }
        entries.insert(key, (exp, principal));
    }
}

/// The keys are SHA-256 digests, already uniformly distributed: their first bytes are a hash.
#[derive(Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        headers
    }

    #[test]
    fn reads_bearer_tokens_and_refuses_malformed_headers() {
        assert_eq!(presented(&HeaderMap::new()), Presented::Nothing);
        assert_eq!(
            presented(&with(&[b"Bearer abc.def-ghi_jk~l+m/n=="])),
            Presented::Token("abc.def-ghi_jk~l+m/n==")
        );
        assert_eq!(presented(&with(&[b"bearer abc"])), Presented::Token("abc"));
        for bad in [&b"Bearer a b"[..], b"Bearer a,b", b"Bearer =="] {
            let headers = with(&[bad]);
            let Presented::Token(token) = presented(&headers) else {
                panic!("{bad:?}")
            };
            assert!(check_token(token).is_err(), "{bad:?}");
        }
        assert!(check_token("abc.def-ghi_jk~l+m/n==").is_ok());
        for bad in [
            &[&b"Bearer a"[..], b"Bearer b"][..],
            &[b"Basic dXNlcjpwYXNz"],
            &[b"Bearer"],
            &[b"Bearer "],
            &["Bearer t\u{f6}ken".as_bytes()],
        ] {
            assert!(
                matches!(presented(&with(bad)), Presented::Malformed(_)),
                "{bad:?}"
            );
        }
        for b in 0..=u8::MAX {
            assert_eq!(
                is_b64token_char(b),
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'),
                "{b:#04x}"
            );
        }
        assert!(same_token("a.b.c", "a.b.c"));
        assert!(!same_token("a.b.c", "a.b.d"));
        assert!(!same_token("a.b.c", "a.b.c."));
        assert!(!same_token("a.b.", "a.b.c"));
        // `Debug` never shows the token.
        let headers = with(&[b"Bearer s3cr3t-t0ken"]);
        let debug = format!("{:?} {:#?}", presented(&headers), presented(&headers));
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("Token("), "{debug}");
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert!(matches!(
            presented(&with(&[long.as_bytes()])),
            Presented::Malformed(_)
        ));
    }
}
