//! RS256 signing keys, compact JWS, and the small encodings around them.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SystemRandom, fill};
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// One RSA-2048 key with its `kid`.
pub(crate) struct SigningKey {
    kid: String,
    pair: KeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl SigningKey {
    /// A fresh key with a random `kid`.
    pub(crate) fn generate() -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("aws-lc-rs generates RSA-2048 keys");
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        Self {
            kid: format!("kid_{}", random_hex(8)),
            pair,
            n,
            e,
        }
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub(crate) fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": b64url(&self.n),
            "e": b64url(&self.e),
        })
    }

    /// `header.payload.signature`, signed with RS256 whatever `header` says.
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string()),
            b64url(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("RS256 signing with a valid key succeeds");
        format!("{signing_input}.{}", b64url(&signature))
    }

    /// The header for tokens this key signs.
    pub(crate) fn header(&self) -> Value {
        json!({ "alg": "RS256", "kid": self.kid, "typ": "JWT" })
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        PublicKeyComponents {
            n: &self.n[..],
            e: &self.e[..],
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The claims of a compact RS256 JWS signed by one of `keys`, or `None`.
///
/// Checks the shape, `alg`, `kid` and signature only: the caller checks the claims.
pub(crate) fn verify<'a>(
    keys: impl IntoIterator<Item = &'a SigningKey>,
    token: &str,
) -> Option<Map<String, Value>> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (header, payload) = signing_input.split_once('.')?;
    let header: Map<String, Value> = serde_json::from_slice(&b64url_decode(header)?).ok()?;
    if header.get("alg")?.as_str()? != "RS256" {
        return None;
    }
    let kid = header.get("kid")?.as_str()?;
    let key = keys.into_iter().find(|key| key.kid == kid)?;
    if !key.verifies(signing_input.as_bytes(), &b64url_decode(signature)?) {
        return None;
    }
    serde_json::from_slice(&b64url_decode(payload)?).ok()
}

/// base64url without padding.
pub(crate) fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// OpenID Connect `at_hash`: base64url of the first half of SHA-256(access_token).
pub(crate) fn at_hash(access_token: &str) -> String {
    b64url(&digest(&SHA256, access_token.as_bytes()).as_ref()[..16])
}

/// Whether `verifier` is a well-formed PKCE verifier (RFC 7636: 43–128 unreserved characters)
/// whose S256 transform is `challenge`.
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && b64url(digest(&SHA256, verifier.as_bytes())) == challenge
}

/// `n` random bytes as lowercase hex.
pub(crate) fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes, base64url: an opaque, unguessable token.
pub(crate) fn random_token() -> String {
    b64url(random_bytes(32))
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    fill(&mut bytes).expect("the system random generator is available");
    bytes
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use crate::testing::keys::*;

    #[test]
    fn signs_and_verifies_with_its_own_key_only() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let token = key.sign(&key.header(), &json!({ "sub": "a" }));
        assert_eq!(verify([&key], &token).unwrap()["sub"], "a");
        assert!(verify([&other], &token).is_none());
        let forged = key.sign(&json!({ "alg": "HS256", "kid": key.kid() }), &json!({}));
        assert!(verify([&key], &forged).is_none());
    }

    #[test]
    fn pkce_s256_follows_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
