//! A string that never shows itself in `Debug` or `Display`.
//! Bottom level: imports nothing from the crate.

use std::fmt;

/// A secret string (client secret, token) whose `Debug` output is redacted.
///
/// The value is reachable only through [`Secret::expose`], so every place that reads it is
/// easy to find.
///
/// ```
/// use logi::Secret;
///
/// let secret = Secret::new("logi_secret_0123");
/// assert_eq!(format!("{secret:?}"), "Secret(\"[redacted]\")");
/// assert_eq!(secret.expose(), "logi_secret_0123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The secret value itself. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"[redacted]\")")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}
