//! Sign users in with logi (1pass) in any tower stack.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod provider;
mod secret;
pub(crate) mod session;
pub mod verify;

pub use provider::{HttpClient, Jwks, ProviderMetadata};
pub use secret::Secret;
pub use verify::{Checks, IdToken, IdTokenVerifier, VerifyError, VerifyErrorKind};

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
