//! [`ConfigError`]: what is wrong with a setting, returned when the layer is built. Names the
//! setting (as its environment variable), never a secret's value; knows no other config code.

use std::fmt;

use crate::provider::DiscoveryError;
use crate::session::cookie::SessionKeyError;

/// A setting is missing or unsafe, or the provider could not be discovered.
///
/// Returned when the layer is built, never while serving requests. No variant carries a secret.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is missing (named as its environment variable).
    Missing(&'static str),
    /// A setting has an unusable value; the message says which and why (never the value of a secret).
    Invalid {
        /// The setting, named as its environment variable.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A session key is missing, malformed or too short.
    SessionKey(SessionKeyError),
    /// OpenID discovery failed.
    Discovery(DiscoveryError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(name) => write!(f, "logi: {name} is not set"),
            Self::Invalid { setting, reason } => write!(f, "logi: {setting} {reason}"),
            Self::SessionKey(e) => write!(f, "logi: LOGI_SESSION_KEY: {e}"),
            Self::Discovery(e) => write!(f, "logi: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::SessionKey(e) => Some(e),
            Self::Discovery(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DiscoveryError> for ConfigError {
    fn from(e: DiscoveryError) -> Self {
        Self::Discovery(e)
    }
}

/// [`ConfigError::Invalid`] for `setting`.
pub(crate) fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        reason: reason.into(),
    }
}
