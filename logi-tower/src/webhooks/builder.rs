//! [`WebhookVerifierBuilder`]: the verifier's settings, their checks, and the assembly of the
//! key ring and replay memory into a [`WebhookVerifier`].
//! Must not touch: deliveries (verifying them is `verifier.rs`'s), the keys after `build`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::keys::{self, FetchError, FetchKeys, KeyRing, Keys, SECRETS_SETTING};
use super::replay::ReplayMemory;
use super::verifier::WebhookVerifier;
use crate::session::store::DynCoordination;
use crate::store::Coordination;
use crate::{ConfigError, LogiSessions, Secret};

impl WebhookVerifier {
    /// A builder.
    pub fn builder() -> WebhookVerifierBuilder {
        WebhookVerifierBuilder::default()
    }
}

/// Builds a [`WebhookVerifier`]; problems are reported by [`build`](Self::build).
#[must_use]
pub struct WebhookVerifierBuilder {
    keys: Vec<(Option<String>, Secret)>,
    spec_error: Option<ConfigError>,
    tolerance: Duration,
    max_body_bytes: usize,
    replay_capacity: usize,
    fetch: Option<FetchKeys>,
    end_sessions: Option<LogiSessions>,
    coordination: Option<Arc<dyn DynCoordination>>,
    fetch_interval: Duration,
}

impl Default for WebhookVerifierBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            spec_error: None,
            tolerance: WebhookVerifier::DEFAULT_TOLERANCE,
            max_body_bytes: WebhookVerifier::DEFAULT_MAX_BODY_BYTES,
            replay_capacity: WebhookVerifier::DEFAULT_REPLAY_CAPACITY,
            fetch: None,
            end_sessions: None,
            coordination: None,
            fetch_interval: WebhookVerifier::FETCH_INTERVAL,
        }
    }
}

impl fmt::Debug for WebhookVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifierBuilder")
            .field("keys", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifierBuilder {
    /// A signing key of the current format, for deliveries signed with `kid=<kid>`. Add
    /// several during a rotation's grace period.
    pub fn secret(mut self, kid: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.keys.push((Some(kid.into()), secret.into()));
        self
    }

    /// A secret for the legacy format (`sha256=<hex>`, no key id). Several may be added.
    pub fn legacy_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.keys.push((None, secret.into()));
        self
    }

    /// Secrets in the form of `LOGI_WEBHOOK_SECRETS`: comma-separated `kid:secret` pairs, a
    /// bare `secret` being a legacy one. Spaces around entries are ignored. The first `:` ends
    /// the kid, so a legacy secret containing `:` must be given with
    /// [`legacy_secret`](Self::legacy_secret) instead.
    ///
    /// ```
    /// use logi::webhooks::WebhookVerifier;
    ///
    /// let verifier = WebhookVerifier::builder().secrets("k2:s2, k1:s1, legacy").build()?;
    /// assert_eq!(verifier.key_ids(), ["k1", "k2"]);
    /// # Ok::<(), logi::ConfigError>(())
    /// ```
    pub fn secrets(mut self, spec: &str) -> Self {
        for entry in spec.split(',').map(str::trim) {
            if entry.is_empty() {
                self.spec_error.get_or_insert(ConfigError::Invalid {
                    setting: SECRETS_SETTING,
                    reason: "has an empty entry".to_owned(),
                });
                continue;
            }
            self.keys.push(match entry.split_once(':') {
                Some((kid, secret)) => (Some(kid.trim().to_owned()), Secret::new(secret.trim())),
                None => (None, Secret::new(entry)),
            });
        }
        self
    }

    /// The largest difference accepted between a delivery's timestamp and this server's clock,
    /// either way. Default ±5 minutes.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The largest body accepted, in bytes. Default 1 MiB.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// How many recent signatures are remembered for replay protection (32 bytes and a time
    /// each). When all of them are still inside their window, new deliveries are refused with
    /// 503 until one expires. Default 100 000.
    pub fn replay_capacity(mut self, capacity: usize) -> Self {
        self.replay_capacity = capacity;
        self
    }

    /// A hook that fetches the current keys when a delivery names an unknown `kid`: given the
    /// kid that prompted the call, it answers `(kid, secret)` pairs to add. Answer **every
    /// active key**, not only the one asked about: calls are shared by all deliveries waiting
    /// for one, and the kid that prompts a call may be one a sender made up.
    ///
    /// It is called at most once per [`fetch_interval`](Self::fetch_interval) (1 minute by
    /// default), whatever kids deliveries name, one call at a time, with a 10 second timeout, in
    /// a task of its own. A delivery with an unknown kid waits for the call running or due;
    /// within the interval it is refused at once (`unknown_kid`, logi delivers it again later)
    /// and a call is made when the interval ends, so deliveries with made-up kids cannot keep a
    /// newly published key out for longer than that.
    ///
    /// ```
    /// use logi::Secret;
    /// use logi::webhooks::WebhookVerifier;
    ///
    /// let verifier = WebhookVerifier::builder()
    ///     .secret("k1", "s1")
    ///     .on_unknown_kid(|_kid| async move {
    ///         // Ask your secret store for the app's active webhook keys.
    ///         Ok(vec![("k2".to_owned(), Secret::new("fetched"))])
    ///     })
    ///     .build()?;
    /// # Ok::<(), logi::ConfigError>(())
    /// ```
    pub fn on_unknown_kid<F, Fut>(mut self, fetch: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<(String, Secret)>, FetchError>> + Send + 'static,
    {
        self.fetch = Some(Arc::new(move |kid| Box::pin(fetch(kid))));
        self
    }

    /// Ends the sessions of the user an access-withdrawing event names (`user.deleted`,
    /// `user.unlinked`, `consent.revoked`, `token.revoked`, `user.grants_revoked`: see
    /// [`LogiEvent::access_withdrawn_from`](super::LogiEvent::access_withdrawn_from)) before
    /// the delivery reaches the handler, through [`LogiSessions::end_all`]: deleted from a
    /// session store, or signed out through the sign-out denylist for cookie sessions, on every
    /// instance. When they cannot be ended (the store or coordination is unreachable) the
    /// delivery is answered 503 (`sessions_unavailable`) and not remembered, so that logi's
    /// redelivery tries again.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), logi::ConfigError> {
    /// use logi::LogiLayer;
    /// use logi::webhooks::WebhookVerifier;
    ///
    /// let logi = LogiLayer::from_env().await?;
    /// let verifier = WebhookVerifier::builder()
    ///     .secrets("k1:whsec_…")
    ///     .end_sessions(logi.sessions())
    ///     .build()?;
    /// # let _ = verifier; Ok(()) }
    /// ```
    pub fn end_sessions(mut self, sessions: LogiSessions) -> Self {
        self.end_sessions = Some(sessions);
        self
    }

    /// Where accepted signatures are remembered for every instance of the app (a `RedisStore`,
    /// feature `redis`, or your own [`Coordination`]): a delivery accepted by one instance is
    /// then refused as replayed by all of them, and with Redis also after a restart. Default:
    /// the coordination of the layer given to [`end_sessions`](Self::end_sessions), if it has
    /// one; otherwise this process's memory (right for one instance).
    ///
    /// When the coordination fails, deliveries are refused with 503
    /// (`replay_memory_unavailable`), so that logi delivers them again later.
    pub fn coordination(mut self, coordination: impl Coordination) -> Self {
        self.coordination = Some(Arc::new(coordination));
        self
    }

    /// The shortest time between two calls of the
    /// [`on_unknown_kid`](Self::on_unknown_kid) hook. Default
    /// [`FETCH_INTERVAL`](WebhookVerifier::FETCH_INTERVAL), 1 minute.
    pub fn fetch_interval(mut self, interval: Duration) -> Self {
        self.fetch_interval = interval;
        self
    }

    /// Checks the settings and builds the verifier.
    ///
    /// # Errors
    /// No secret and no fetch hook; an empty secret or a malformed `kid`; a `kid` given twice; a
    /// body limit of 0 or a replay capacity of 0; [`end_sessions`](Self::end_sessions) with the
    /// sessions of a layer that does not sign users in.
    pub fn build(self) -> Result<WebhookVerifier, ConfigError> {
        if let Some(error) = self.spec_error {
            return Err(error);
        }
        if self
            .end_sessions
            .as_ref()
            .is_some_and(|s| !s.has_sessions())
        {
            return Err(ConfigError::Invalid {
                setting: "end_sessions",
                reason: "names a LogiLayer that does not sign users in (it has no sessions)"
                    .to_owned(),
            });
        }
        if self.keys.is_empty() && self.fetch.is_none() {
            return Err(ConfigError::Missing(SECRETS_SETTING));
        }
        let invalid = |setting, reason: &str| ConfigError::Invalid {
            setting,
            reason: reason.to_owned(),
        };
        if self.max_body_bytes == 0 {
            return Err(invalid("max_body_bytes", "must be above 0"));
        }
        if self.replay_capacity == 0 {
            return Err(invalid("replay_capacity", "must be above 0"));
        }
        let mut keys = Keys::default();
        for (kid, secret) in &self.keys {
            match kid {
                Some(kid) => {
                    if keys
                        .by_kid
                        .insert(kid.clone(), keys::key(kid, secret)?)
                        .is_some()
                    {
                        return Err(ConfigError::Invalid {
                            setting: SECRETS_SETTING,
                            reason: format!("names the key id `{kid}` twice"),
                        });
                    }
                }
                None => keys.legacy.push(keys::legacy_key(secret)?),
            }
        }
        let coordination = self.coordination.or_else(|| {
            self.end_sessions
                .as_ref()
                .and_then(LogiSessions::coordination)
        });
        Ok(WebhookVerifier::new(
            KeyRing::new(keys, self.fetch, self.fetch_interval),
            ReplayMemory::new(self.replay_capacity, coordination),
            self.tolerance,
            self.max_body_bytes,
            self.end_sessions,
        ))
    }
}
