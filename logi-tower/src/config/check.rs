//! The validations: [`LogiLayerBuilder::check`] turns the builder's settings into checked ones
//! (or the [`ConfigError`] naming the setting at fault), without any network call. Reads no
//! environment and opens no store.

use std::borrow::Cow;
use std::time::Duration;

use url::Url;

use super::error::{ConfigError, invalid};
use super::{LogiLayerBuilder, RoutePaths};
use crate::provider::{is_loopback, is_secure_or_loopback};
use crate::session::cookie::SessionKeys;

impl LogiLayerBuilder {
    /// Checks every setting without any network call.
    pub(crate) fn check(self) -> Result<Checked, ConfigError> {
        crate::provider::issuer_url(&self.issuer).map_err(|_| {
            invalid(
                "LOGI_ISSUER",
                "must be an https:// URL (http:// only on localhost, 127.0.0.1 or [::1])",
            )
        })?;
        let client_id = self.client_id.clone().filter(|id| !id.trim().is_empty());
        let mut audiences = self.audiences.clone();
        if audiences.is_empty() {
            audiences.extend(client_id.clone());
        }
        if self.completion_window < Duration::from_secs(1) {
            return Err(invalid("completion_window", "must be at least one second"));
        }
        if self.successor_ttl < Duration::from_secs(1) {
            return Err(invalid(
                "refresh_successor_window",
                "must be at least one second",
            ));
        }
        if self.successor_ttl > self.absolute_timeout {
            return Err(invalid(
                "refresh_successor_window",
                "must not be longer than the absolute_timeout (no session lives longer)",
            ));
        }
        let web = match self.redirect_uri.as_deref() {
            Some(redirect_uri) => {
                let client_id = client_id
                    .clone()
                    .ok_or(ConfigError::Missing("LOGI_CLIENT_ID"))?;
                Some(self.check_web(client_id, redirect_uri)?)
            }
            // No redirect URI: an API that only accepts bearer tokens. That must be asked for
            // with an explicit audience, so that an app that forgot its redirect URI is told so
            // instead of silently serving no sign-in routes.
            None if self.sign_in_hook.is_some() => {
                return Err(invalid(
                    "on_sign_in",
                    "needs the browser sign-in: set LOGI_REDIRECT_URI",
                ));
            }
            None if !self.audiences.is_empty() => None,
            None if client_id.is_some() => {
                return Err(invalid(
                    "LOGI_REDIRECT_URI",
                    "is not set: it is needed to sign users in (an API that only accepts bearer \
                     tokens sets LOGI_AUDIENCE instead)",
                ));
            }
            None => return Err(ConfigError::Missing("LOGI_AUDIENCE")),
        };
        Ok(Checked {
            audiences,
            web,
            builder: self,
        })
    }

    fn check_web(&self, client_id: String, redirect_uri: &str) -> Result<WebSettings, ConfigError> {
        let redirect_uri = Url::parse(redirect_uri)
            .map_err(|e| invalid("LOGI_REDIRECT_URI", format!("is not a URL ({e})")))?;
        if !is_secure_or_loopback(&redirect_uri) {
            return Err(invalid(
                "LOGI_REDIRECT_URI",
                "must be https://, or http:// on localhost, 127.0.0.1 or [::1]",
            ));
        }
        if redirect_uri.fragment().is_some() {
            return Err(invalid("LOGI_REDIRECT_URI", "must not have a #fragment"));
        }
        let public_url = match &self.public_url {
            Some(u) => {
                let url = Url::parse(u)
                    .map_err(|e| invalid("LOGI_PUBLIC_URL", format!("is not a URL ({e})")))?;
                if !is_secure_or_loopback(&url) {
                    return Err(invalid(
                        "LOGI_PUBLIC_URL",
                        "must be https://, or http:// on localhost, 127.0.0.1 or [::1]",
                    ));
                }
                url
            }
            None => redirect_uri.clone(),
        };
        let development = is_loopback(&redirect_uri) && is_loopback(&public_url);
        let session_keys = match self.session_keys.clone() {
            Some(keys) => keys,
            None if development => {
                tracing::warn!(
                    "LOGI_SESSION_KEY is not set: using a random key for this process (development \
                     on a loopback address only). Sessions will not survive a restart. Set \
                     LOGI_SESSION_KEY to at least 32 random bytes, base64 encoded, before deploying."
                );
                SessionKeys::generate()
            }
            None => return Err(ConfigError::Missing("LOGI_SESSION_KEY")),
        };
        let scopes: Vec<String> = self.scopes.split_whitespace().map(str::to_owned).collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(invalid("LOGI_SCOPES", "must include `openid`"));
        }
        let mut paths = self.paths.clone();
        if self.paths.callback == RoutePaths::default().callback {
            paths.callback = Cow::Owned(redirect_uri.path().to_owned());
        }
        for path in [
            &paths.login,
            &paths.callback,
            &paths.logout,
            &paths.me,
            &paths.challenge,
            &paths.backchannel_logout,
        ] {
            if !path.starts_with('/') {
                return Err(invalid("paths", format!("`{path}` must start with `/`")));
            }
        }
        if let Some(token) = &self.domain_verification {
            let printable = |c: char| c.is_ascii_graphic() || c == ' ';
            if token.is_empty() || token.len() > 512 || !token.chars().all(printable) {
                return Err(invalid(
                    "LOGI_DOMAIN_VERIFICATION",
                    "must be 1 to 512 printable ASCII characters",
                ));
            }
        }
        let post_logout_redirect = match &self.post_logout_redirect {
            Some(u) => Url::parse(u)
                .or_else(|_| public_url.join(u))
                .map_err(|e| invalid("post_logout_redirect", format!("is not a URL ({e})")))?,
            None => public_url
                .join("/")
                .map_err(|e| invalid("LOGI_PUBLIC_URL", e.to_string()))?,
        };
        Ok(WebSettings {
            domain_verification: self.domain_verification.clone(),
            public_origin: public_url.origin().ascii_serialization(),
            redirect_uri,
            client_id,
            scopes,
            session_keys,
            paths,
            post_logout_redirect,
        })
    }
}

/// Settings that passed [`LogiLayerBuilder::check`].
pub(crate) struct Checked {
    pub(crate) builder: LogiLayerBuilder,
    /// The audiences bearer tokens must name.
    pub(crate) audiences: Vec<String>,
    /// The browser sign-in, unless the layer only serves an API.
    pub(crate) web: Option<WebSettings>,
}

/// Checked settings of the browser sign-in.
pub(crate) struct WebSettings {
    pub(crate) domain_verification: Option<String>,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: Url,
    pub(crate) public_origin: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) session_keys: SessionKeys,
    pub(crate) paths: RoutePaths,
    pub(crate) post_logout_redirect: Url,
}

#[cfg(test)]
mod tests {
    use crate::config::check::WebSettings;
    use crate::config::{ConfigError, LogiLayerBuilder};

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn check(pairs: &'static [(&'static str, &'static str)]) -> Result<WebSettings, ConfigError> {
        let checked = LogiLayerBuilder::default()
            .with_vars(vars(pairs))?
            .check()?;
        Ok(checked.web.expect("these settings sign users in"))
    }

    #[test]
    fn a_production_configuration_passes() {
        let c = check(&[
            ("LOGI_CLIENT_ID", "logi_0123"),
            ("LOGI_CLIENT_SECRET", "logi_secret_abc"),
            ("LOGI_REDIRECT_URI", "https://app.example.com/auth/callback"),
            ("LOGI_SESSION_KEY", KEY),
        ])
        .unwrap();
        assert_eq!(c.public_origin, "https://app.example.com");
        assert_eq!(c.scopes, ["openid", "profile:basic", "email"]);
        assert_eq!(c.paths.callback, "/auth/callback");
        assert_eq!(c.post_logout_redirect.as_str(), "https://app.example.com/");
    }

    #[test]
    fn the_callback_path_follows_the_redirect_uri() {
        let c = check(&[
            ("LOGI_CLIENT_ID", "logi_0123"),
            (
                "LOGI_REDIRECT_URI",
                "https://app.example.com/auth/1pass/callback",
            ),
            ("LOGI_SESSION_KEY", KEY),
        ])
        .unwrap();
        assert_eq!(c.paths.callback, "/auth/1pass/callback");
    }

    #[test]
    fn unsafe_or_missing_settings_are_refused_clearly() {
        let err = check(&[("LOGI_REDIRECT_URI", "https://a.example/cb")])
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "logi: LOGI_CLIENT_ID is not set");

        let err = check(&[
            ("LOGI_CLIENT_ID", "logi_0123"),
            ("LOGI_REDIRECT_URI", "http://app.example.com/auth/callback"),
            ("LOGI_SESSION_KEY", KEY),
        ])
        .err()
        .unwrap();
        assert!(
            err.to_string()
                .contains("LOGI_REDIRECT_URI must be https://"),
            "{err}"
        );

        let err = check(&[
            ("LOGI_CLIENT_ID", "logi_0123"),
            ("LOGI_REDIRECT_URI", "https://app.example.com/auth/callback"),
        ])
        .err()
        .unwrap();
        assert_eq!(err.to_string(), "logi: LOGI_SESSION_KEY is not set");

        let err = check(&[("LOGI_SESSION_KEY", "c2hvcnQ=")]).err().unwrap();
        assert!(matches!(err, ConfigError::SessionKey(_)), "{err}");

        let err = check(&[
            ("LOGI_ISSUER", "http://api.1pass.dev"),
            ("LOGI_CLIENT_ID", "logi_0123"),
            ("LOGI_REDIRECT_URI", "https://app.example.com/auth/callback"),
            ("LOGI_SESSION_KEY", KEY),
        ])
        .err()
        .unwrap();
        assert!(err.to_string().contains("LOGI_ISSUER"), "{err}");

        let err = check(&[
            ("LOGI_CLIENT_ID", "logi_0123"),
            ("LOGI_REDIRECT_URI", "https://app.example.com/auth/callback"),
            ("LOGI_SESSION_KEY", KEY),
            ("LOGI_SCOPES", "email"),
        ])
        .err()
        .unwrap();
        assert!(err.to_string().contains("openid"), "{err}");
    }

    #[test]
    fn without_a_redirect_uri_the_layer_is_an_api_that_needs_only_an_audience() {
        let checked = LogiLayerBuilder::default()
            .with_vars(vars(&[("LOGI_AUDIENCE", "logi_api, logi_other")]))
            .unwrap()
            .check()
            .unwrap();
        assert!(checked.web.is_none());
        assert_eq!(checked.audiences, ["logi_api", "logi_other"]);
        // A client id alone is a web app that forgot its redirect URI, not an API.
        let err = LogiLayerBuilder::default()
            .with_vars(vars(&[("LOGI_CLIENT_ID", "logi_0123")]))
            .unwrap()
            .check()
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("LOGI_REDIRECT_URI is not set"),
            "{err}"
        );
        let err = LogiLayerBuilder::default().check().err().unwrap();
        assert_eq!(err.to_string(), "logi: LOGI_AUDIENCE is not set");
    }

    #[test]
    fn development_on_loopback_generates_a_session_key() {
        let c = check(&[
            ("LOGI_ISSUER", "http://127.0.0.1:9000"),
            ("LOGI_CLIENT_ID", "logi_0123"),
            ("LOGI_REDIRECT_URI", "http://localhost:3000/auth/callback"),
        ]);
        assert!(c.is_ok());
    }
}
