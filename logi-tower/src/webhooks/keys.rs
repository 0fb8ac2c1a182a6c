//! The webhook key ring: the keys by `kid` and the legacy keys, their rotation while serving,
//! and the single-flight, rate-limited call of the fetch hook for an unknown `kid`.
//! Must not touch: the time window, the replay memory, the body or the event.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use tokio::sync::watch;

use super::WebhookErrorKind;
use super::signature::MAX_KID_LEN;
use crate::{ConfigError, Secret};

/// The error a key-fetching hook may return; it is logged, and the delivery refused.
pub type FetchError = Box<dyn std::error::Error + Send + Sync>;

type FetchFuture = Pin<Box<dyn Future<Output = Result<Vec<(String, Secret)>, FetchError>> + Send>>;
pub(super) type FetchKeys = Arc<dyn Fn(String) -> FetchFuture + Send + Sync>;

/// The environment variable
/// [`WebhookVerifierBuilder::secrets`](super::WebhookVerifierBuilder::secrets) is named after
/// in errors.
pub(super) const SECRETS_SETTING: &str = "LOGI_WEBHOOK_SECRETS";

/// The default shortest time between two calls of the fetch hook.
pub(super) const FETCH_INTERVAL: Duration = Duration::from_secs(60);
/// How long a fetch may take before the delivery is refused.
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The keys, and how new ones are fetched.
pub(super) struct KeyRing {
    keys: RwLock<Keys>,
    fetch: Option<FetchKeys>,
    /// When the fetch hook was last called, and the next call (single-flight).
    fetching: Mutex<FetchState>,
    /// The shortest time between two calls of the fetch hook.
    fetch_interval: Duration,
}

#[derive(Default)]
pub(super) struct Keys {
    pub(super) by_kid: HashMap<String, hmac::Key>,
    pub(super) legacy: Vec<hmac::Key>,
}

impl KeyRing {
    pub(super) fn new(keys: Keys, fetch: Option<FetchKeys>, fetch_interval: Duration) -> Self {
        Self {
            keys: RwLock::new(keys),
            fetch,
            fetching: Mutex::new(FetchState::default()),
            fetch_interval,
        }
    }

    /// Adds (or replaces) the key for `kid`.
    pub(super) fn add(&self, kid: &str, secret: &Secret) -> Result<(), ConfigError> {
        let key = key(kid, secret)?;
        self.write_keys().by_kid.insert(kid.to_owned(), key);
        Ok(())
    }

    /// Removes the key for `kid`. Whether it was there.
    pub(super) fn remove(&self, kid: &str) -> bool {
        self.write_keys().by_kid.remove(kid).is_some()
    }

    /// The kids of the keys, sorted.
    pub(super) fn ids(&self) -> Vec<String> {
        let mut kids: Vec<_> = self.read_keys().by_kid.keys().cloned().collect();
        kids.sort();
        kids
    }

    /// How many legacy keys there are.
    pub(super) fn legacy_count(&self) -> usize {
        self.read_keys().legacy.len()
    }

    /// Whether a fetch hook is set.
    pub(super) fn fetches(&self) -> bool {
        self.fetch.is_some()
    }

    pub(super) async fn check_current(
        self: &Arc<Self>,
        kid: &str,
        body: &[u8],
        mac: &[u8],
    ) -> Result<(), WebhookErrorKind> {
        if let Some(result) = self.check_kid(kid, body, mac) {
            return result;
        }
        if self.fetch(kid).await
            && let Some(result) = self.check_kid(kid, body, mac)
        {
            return result;
        }
        Err(WebhookErrorKind::UnknownKid)
    }

    /// `None` when no key has that kid.
    fn check_kid(
        &self,
        kid: &str,
        body: &[u8],
        mac: &[u8],
    ) -> Option<Result<(), WebhookErrorKind>> {
        let keys = self.read_keys();
        let key = keys.by_kid.get(kid)?;
        Some(hmac::verify(key, body, mac).map_err(|_| WebhookErrorKind::BadSignature))
    }

    pub(super) fn check_legacy(&self, body: &[u8], mac: &[u8]) -> Result<(), WebhookErrorKind> {
        let keys = self.read_keys();
        if keys.legacy.is_empty() {
            return Err(WebhookErrorKind::UnknownKid);
        }
        // Every legacy key is tried, so the time taken does not say which one matched.
        let matched = keys.legacy.iter().fold(false, |matched, key| {
            hmac::verify(key, body, mac).is_ok() | matched
        });
        if matched {
            Ok(())
        } else {
            Err(WebhookErrorKind::BadSignature)
        }
    }

    /// Has the fetch hook called for an unknown `kid`: waits for the call running or due now
    /// (shared by every delivery that needs one), or, within the fetch interval of the last
    /// call, schedules one for when the interval ends and returns at once. The call runs in a
    /// task of its own, so a delivery that gives up (its sender disconnects) cancels nothing,
    /// and whatever deliveries with made-up kids arrive, keys published before the next allowed
    /// call are installed then. Whether the caller should look for the key again.
    async fn fetch(self: &Arc<Self>, kid: &str) -> bool {
        let Some((mut next, starts)) = self.next_fetch(kid) else {
            return false;
        };
        if starts > Instant::now() {
            return false;
        }
        let bound = FETCH_TIMEOUT + Duration::from_secs(1);
        matches!(
            tokio::time::timeout(bound, next.wait_for(|done| *done)).await,
            Ok(Ok(_))
        )
    }

    /// The next call of the fetch hook, scheduled or running, or a new one (prompted by `kid`),
    /// with when it starts. `None` without a hook, or outside a Tokio runtime.
    fn next_fetch(self: &Arc<Self>, kid: &str) -> Option<(watch::Receiver<bool>, Instant)> {
        let hook = Arc::clone(self.fetch.as_ref()?);
        let mut state = self.fetch_state();
        if let Some((next, starts)) = &state.next {
            return Some((next.clone(), *starts));
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let delay = state.last.map_or(Duration::ZERO, |last| {
            (last + self.fetch_interval).saturating_duration_since(Instant::now())
        });
        let starts = Instant::now() + delay;
        let (tx, rx) = watch::channel(false);
        state.next = Some((rx.clone(), starts));
        drop(state);
        let ring = Arc::clone(self);
        let kid = kid.to_owned();
        runtime.spawn(async move {
            // Clears `next` however the task ends, so that a later delivery schedules anew.
            let clear = ClearNext(&ring);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            ring.fetch_state().last = Some(Instant::now());
            ring.call_hook(&*hook, kid).await;
            drop(clear);
            let _ = tx.send(true);
        });
        Some((rx, starts))
    }

    /// Calls the hook, bounded by [`FETCH_TIMEOUT`], and installs the keys
    /// it answers.
    async fn call_hook(&self, hook: &(dyn Fn(String) -> FetchFuture + Send + Sync), kid: String) {
        tracing::info!(kid, "logi webhook signed by an unknown key: fetching keys");
        let keys = match tokio::time::timeout(FETCH_TIMEOUT, hook(kid)).await {
            Ok(Ok(keys)) => keys,
            Ok(Err(error)) => {
                tracing::warn!(%error, "fetching logi webhook keys failed");
                return;
            }
            Err(_) => {
                tracing::warn!("fetching logi webhook keys timed out");
                return;
            }
        };
        let mut installed = 0;
        for (new_kid, secret) in keys {
            match self.add(&new_kid, &secret) {
                Ok(()) => installed += 1,
                Err(error) => tracing::warn!(%error, "ignoring a fetched logi webhook key"),
            }
        }
        tracing::info!(installed, "fetched logi webhook keys");
    }

    fn fetch_state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        self.fetching.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_keys(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// When the fetch hook was last called, and the next call: every delivery that needs one
/// shares it. `next` is cleared by its task when it ends.
#[derive(Default)]
struct FetchState {
    last: Option<Instant>,
    next: Option<(watch::Receiver<bool>, Instant)>,
}

/// Clears [`FetchState::next`] when dropped.
struct ClearNext<'a>(&'a KeyRing);

impl Drop for ClearNext<'_> {
    fn drop(&mut self) {
        self.0.fetch_state().next = None;
    }
}

pub(super) fn key(kid: &str, secret: &Secret) -> Result<hmac::Key, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        setting: SECRETS_SETTING,
        reason: reason.to_owned(),
    };
    if kid.is_empty()
        || kid.len() > MAX_KID_LEN
        || !kid.bytes().all(|b| b.is_ascii_graphic() && b != b',')
    {
        return Err(invalid(
            "has a key id that is empty, longer than 128 characters, or not printable ASCII",
        ));
    }
    legacy_key(secret)
}

pub(super) fn legacy_key(secret: &Secret) -> Result<hmac::Key, ConfigError> {
    if secret.expose().is_empty() {
        return Err(ConfigError::Invalid {
            setting: SECRETS_SETTING,
            reason: "has an empty secret".to_owned(),
        });
    }
    Ok(hmac::Key::new(
        hmac::HMAC_SHA256,
        secret.expose().as_bytes(),
    ))
}
