//! Sealed cookies: the codec that carries browser sessions and sign-in transactions.
//!
//! - [`SessionKeys`] (`keys.rs`): the application's secrets, newest first, and the AEAD keys
//!   derived from them with HKDF-SHA256.
//! - [`Sealer`] (`sealer.rs`): AES-256-GCM sealing of a cookie value, bound to the cookie's name.
//!   A sealed value is `version (1) || key id (4) || nonce (12) || ciphertext || tag (16)`,
//!   base64url without padding.

#![allow(
    dead_code,
    unused_imports,
    reason = "the session layer that calls this codec is written separately"
)]

mod keys;
mod sealer;

#[allow(
    unreachable_pub,
    reason = "re-exported from the crate root once the session layer is public"
)]
pub use keys::{SessionKeyError, SessionKeyErrorKind, SessionKeys};
pub(crate) use sealer::Sealer;

/// The longest sealed value [`Sealer::open`] reads, in characters.
pub(crate) const MAX_VALUE_LEN: usize = 8 * 3800 - 2;
