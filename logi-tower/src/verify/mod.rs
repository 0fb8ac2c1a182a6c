//! Token verification: logi's shared ID-token contract.
//! Protocol level: owns the checks of ID, access and logout tokens; imports only `provider` (for
//! keys), never the layer, sessions or requests.
//!
//! [`IdTokenVerifier`] checks, in this order and with these [error codes](VerifyErrorKind):
//! structure (`malformed`), algorithm RS256 (`bad_signature`), `kid` (`missing_kid`,
//! `unknown_kid`), signature (`bad_signature`), `iss` (`iss_mismatch`), `aud`/`azp`
//! (`aud_mismatch`), `exp` (`expired`), `iat` (`missing_claim`, or `expired` when it is in the
//! future), `nonce` (`nonce_mismatch`), `sub` (`missing_claim`), `at_hash` (`at_hash_mismatch`,
//! only when the access token is given). Times allow a clock skew of 60 seconds by default.

mod access_token;
mod claims;
mod error;
mod id_token;
pub(crate) mod jws;
pub(crate) mod logout_token;

pub use access_token::{AccessTokenVerifier, VerifiedAccessToken};
pub use error::{VerifyError, VerifyErrorKind};
pub use id_token::{DEFAULT_CLOCK_SKEW, IdToken, IdTokenChecks, IdTokenVerifier};

/// The old name of [`IdTokenChecks`].
#[deprecated(note = "renamed to `logi::verify::IdTokenChecks`")]
pub type Checks<'a> = IdTokenChecks<'a>;
