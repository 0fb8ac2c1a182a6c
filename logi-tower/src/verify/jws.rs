//! Compact JWS parsing and RS256 signature checks.

use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::{VerifyError, VerifyErrorKind as Kind};

/// The largest token we look at. Real ID and access tokens are a few KiB; anything far larger
/// is refused before decoding so that a hostile header cannot cost us memory.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A compact JWS split into its parts, with header and payload decoded.
pub(crate) struct Jws<'a> {
    pub(crate) header: Header,
    /// `BASE64URL(header) "." BASE64URL(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'a [u8],
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

#[derive(Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: Option<String>,
    pub(crate) kid: Option<String>,
}

const fn malformed(detail: &'static str) -> VerifyError {
    VerifyError::new(Kind::Malformed, detail)
}

impl<'a> Jws<'a> {
    /// Splits and decodes a compact JWS. Only structure is checked here.
    pub(crate) fn parse(token: &'a str) -> Result<Self, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("token is too large"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not a compact JWS (three dot-separated parts)"));
        };
        let header = decode(h, "header is not base64url")?;
        let header: Header = serde_json::from_slice(&header)
            .map_err(|_| malformed("header is not a JSON object"))?;
        let payload = decode(p, "payload is not base64url")?;
        let signature = decode(s, "signature is not base64url")?;
        Ok(Self {
            header,
            signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
            payload,
            signature,
        })
    }

    /// The key id the header names, after checking that the algorithm is RS256.
    ///
    /// The algorithm is checked before any key is looked up, so a token with `alg: none` or an
    /// HMAC algorithm never reaches the key cache (nor triggers a JWKS refetch).
    pub(crate) fn rs256_kid(&self) -> Result<&str, VerifyError> {
        if self.header.alg.as_deref() != Some("RS256") {
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

    /// Checks the RS256 signature with `key`.
    pub(crate) fn verify_signature(&self, key: &ParsedPublicKey) -> Result<(), VerifyError> {
        key.verify_sig(self.signing_input, &self.signature)
            .map_err(|_| VerifyError::new(Kind::BadSignature, "signature does not verify"))
    }
}

fn decode(part: &str, detail: &'static str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed(detail))
}
