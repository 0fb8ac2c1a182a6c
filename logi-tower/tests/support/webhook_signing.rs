//! Webhook deliveries signed as logi signs them: HMAC-SHA256 of the body under a secret, in
//! hex, in the current `X-Logi-Signature` format and in the legacy one. aws-lc-rs and std only,
//! so that any test binary can include it (`#[path]`), the e2e suites too. It signs; it never
//! verifies (that is the code under test).

use std::fmt::Display;

use aws_lc_rs::hmac;

/// The hex HMAC-SHA256 of `body` under `secret`.
pub fn mac(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::sign(&key, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `X-Logi-Signature` in the current format: `t={t},kid={kid},v1={mac}`.
pub fn signature(secret: &str, kid: &str, t: impl Display, body: &[u8]) -> String {
    format!("t={t},kid={kid},v1={}", mac(secret, body))
}

/// `X-Logi-Signature` in the legacy format: `sha256={mac}` (the time goes in
/// `X-Logi-Timestamp`).
pub fn legacy_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", mac(secret, body))
}
