//! Bearer tokens: reading `Authorization`, and the cache of verified tokens.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use aws_lc_rs::digest;
use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::user::Principal;

/// Longest token accepted in `Authorization`; real access tokens are 1–2 KiB.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a request's `Authorization` header presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presented<'a> {
    /// No `Authorization` header: the session, if any, decides.
    Nothing,
    /// A bearer token: its characters are checked by [`check_token`] only when it is not found
    /// among the verified tokens (an exact match with a verified token is well-formed).
    Token(&'a str),
    /// An `Authorization` header that cannot be used; the reason is safe to show.
    Malformed(&'static str),
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

/// Verified tokens, keyed by their SHA-256, until they expire; bounded.
///
/// A steady stream of requests with the same token costs a hash and a lookup, not a signature
/// check.
pub(crate) struct TokenCache {
    entries: RwLock<Entries>,
    capacity: usize,
}

pub(crate) type Key = [u8; 32];
/// Token digest → (expiry, principal).
type Entries = HashMap<Key, (i64, Arc<Principal>), BuildHasherDefault<DigestHasher>>;

/// The cache key of a token: its SHA-256.
pub(crate) fn key(token: &str) -> Key {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 turns caching off.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::default()),
            capacity,
        }
    }

    /// The principal of a token (by [`key`]) verified before and not expired at `now`.
    pub(crate) fn get(&self, key: &Key, now: i64) -> Option<Arc<Principal>> {
        if self.capacity == 0 {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((exp, principal)) if now < *exp => Some(Arc::clone(principal)),
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
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert!(matches!(
            presented(&with(&[long.as_bytes()])),
            Presented::Malformed(_)
        ));
    }
}
