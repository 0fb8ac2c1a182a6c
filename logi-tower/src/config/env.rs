//! Environment parsing: [`LogiLayerBuilder::with_env`] and every `LOGI_*` variable, including
//! the session store and coordination URLs. Only fills the builder: checks nothing (`check.rs`),
//! opens nothing (the stores connect when the layer is built).

use super::LogiLayerBuilder;
use super::error::{ConfigError, invalid};
use super::{CoordinationChoice, StoreChoice};
use crate::Secret;
use crate::session::cookie::SessionKeys;

impl LogiLayerBuilder {
    /// Reads every `LOGI_*` variable that is set; unset ones keep the builder's values.
    ///
    /// # Errors
    /// When a variable is set to something unusable (e.g. a malformed session key).
    pub fn with_env(self) -> Result<Self, ConfigError> {
        self.with_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    pub(crate) fn with_vars(
        mut self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        if let Some(v) = var("LOGI_ISSUER") {
            self.issuer = v.trim().to_owned();
        }
        if let Some(v) = var("LOGI_EXPECTED_ISSUER") {
            self.expected_issuer = Some(v.trim().to_owned());
        }
        if let Some(v) = var("LOGI_CLIENT_ID") {
            self.client_id = Some(v.trim().to_owned());
        }
        if let Some(v) = var("LOGI_CLIENT_SECRET") {
            self.client_secret = Some(Secret::new(v.trim()));
        }
        if let Some(v) = var("LOGI_REDIRECT_URI") {
            self.redirect_uri = Some(v.trim().to_owned());
        }
        if let Some(v) = var("LOGI_SCOPES") {
            self.scopes = v;
        }
        if let Some(v) = var("LOGI_SESSION_KEY") {
            self.session_keys =
                Some(SessionKeys::from_base64_list(&v).map_err(ConfigError::SessionKey)?);
        }
        if let Some(v) = var("LOGI_AUDIENCE") {
            self.audiences = v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = var("LOGI_OPAQUE_TOKENS") {
            self.opaque_tokens = matches!(v.trim(), "1" | "true" | "yes" | "on");
        }
        if let Some(v) = var("LOGI_OPAQUE_TOKENS_VIA_USERINFO") {
            self.opaque_tokens_via_userinfo = matches!(v.trim(), "1" | "true" | "yes" | "on");
        }
        if let Some(v) = var("LOGI_DOMAIN_VERIFICATION") {
            self.domain_verification = Some(v.trim().to_owned());
        }
        if let Some(v) = var("LOGI_SESSION_STORE") {
            self.session_store = session_store(&v)?;
        }
        if let Some(v) = var("LOGI_COORDINATION") {
            self.coordination = Some(coordination(&v)?);
        }
        if let Some(v) = var("LOGI_PUBLIC_URL") {
            self.public_url = Some(v.trim().to_owned());
        }
        Ok(self)
    }
}

/// Reads `LOGI_SESSION_STORE`: `cookie`, `memory`, or a `redis://` / `rediss://` URL.
fn session_store(value: &str) -> Result<StoreChoice, ConfigError> {
    let value = value.trim();
    let invalid = |reason: &str| invalid("LOGI_SESSION_STORE", reason);
    match value {
        "cookie" | "cookies" => Ok(StoreChoice::Cookies),
        "memory" => Ok(StoreChoice::Memory),
        url if url.starts_with("redis://") || url.starts_with("rediss://") => {
            #[cfg(feature = "redis")]
            return Ok(StoreChoice::Redis(Secret::from(url.to_owned())));
            #[cfg(not(feature = "redis"))]
            return Err(invalid(
                "is a Redis URL, but logi-tower was built without its `redis` feature",
            ));
        }
        _ => Err(invalid("must be `cookie`, `memory` or a redis:// URL")),
    }
}

/// Reads `LOGI_COORDINATION`: a `redis://` / `rediss://` URL.
fn coordination(value: &str) -> Result<CoordinationChoice, ConfigError> {
    let value = value.trim();
    if value.starts_with("redis://") || value.starts_with("rediss://") {
        #[cfg(feature = "redis")]
        return Ok(CoordinationChoice::Redis(Secret::from(value.to_owned())));
    }
    Err(invalid(
        "LOGI_COORDINATION",
        if cfg!(feature = "redis") {
            "must be a redis:// URL"
        } else {
            "needs logi-tower's `redis` feature"
        },
    ))
}

#[cfg(test)]
mod tests {
    use crate::config::LogiLayerBuilder;

    #[test]
    fn the_session_store_comes_from_logi_session_store() {
        let store = |value: &'static str| {
            LogiLayerBuilder::default()
                .with_vars(move |name| (name == "LOGI_SESSION_STORE").then(|| value.to_owned()))
                .map(|b| format!("{:?}", b.session_store))
        };
        assert_eq!(store("memory").unwrap(), "Memory");
        assert_eq!(store("cookie").unwrap(), "Cookies");
        let err = store("postgres://db").unwrap_err().to_string();
        assert!(err.contains("LOGI_SESSION_STORE"), "{err}");
        #[cfg(feature = "redis")]
        assert_eq!(store("redis://:pw@127.0.0.1:6379/").unwrap(), "Redis");
        #[cfg(not(feature = "redis"))]
        assert!(
            store("redis://127.0.0.1/")
                .unwrap_err()
                .to_string()
                .contains("`redis` feature")
        );
    }

    #[test]
    fn the_coordination_comes_from_logi_coordination() {
        let coordination = |value: &'static str| {
            LogiLayerBuilder::default()
                .with_vars(move |name| (name == "LOGI_COORDINATION").then(|| value.to_owned()))
                .map(|b| format!("{:?}", b.coordination))
        };
        let err = coordination("memory").unwrap_err().to_string();
        assert!(err.contains("LOGI_COORDINATION"), "{err}");
        #[cfg(feature = "redis")]
        {
            let debug = coordination("redis://:secretpw@127.0.0.1:6379/").unwrap();
            assert_eq!(
                debug, "Some(Redis)",
                "the URL (and its password) is not shown"
            );
        }
        #[cfg(not(feature = "redis"))]
        assert!(
            coordination("redis://127.0.0.1/")
                .unwrap_err()
                .to_string()
                .contains("`redis` feature")
        );
    }
}
