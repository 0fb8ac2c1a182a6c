//! Random identifiers: state, nonce, PKCE verifiers, session ids, lock holders.
//! Bottom level: imports nothing from the crate; randomness only from aws-lc-rs.

/// `n` random bytes, base64url encoded.
pub(crate) fn random_token(n: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
