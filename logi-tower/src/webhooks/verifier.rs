//! [`WebhookVerifier`]: keys by `kid`, the time window, replay protection, and the optional
//! fetch of new keys.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::HeaderMap;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::watch;

use super::event::LogiEvent;
use super::replay::{Refused, ReplayCache};
use super::signature::{self, MAX_KID_LEN, Signature};
use super::{SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookError, WebhookErrorKind};
use crate::session::store::DynCoordination;
use crate::{ConfigError, Coordination, LogiSessions, Secret};

/// The error a key-fetching hook may return; it is logged, and the delivery refused.
pub type FetchError = Box<dyn std::error::Error + Send + Sync>;

type FetchFuture = Pin<Box<dyn Future<Output = Result<Vec<(String, Secret)>, FetchError>> + Send>>;
type FetchKeys = Arc<dyn Fn(String) -> FetchFuture + Send + Sync>;

/// The environment variable [`WebhookVerifierBuilder::secrets`] is named after in errors.
const SECRETS_SETTING: &str = "LOGI_WEBHOOK_SECRETS";

/// Verifies logi webhook deliveries: `X-Logi-Signature` in both formats, over the exact raw
/// body, within a time window, never twice.
///
/// - Current format `t=<unix>,kid=<kid>,v1=<hex>`: HMAC-SHA256 of the body under the secret of
///   that `kid`. Several keys may be active at once (rotation with a grace period).
/// - Legacy format `sha256=<hex>`: HMAC-SHA256 of the body under a legacy secret, the timestamp
///   in `X-Logi-Timestamp`.
///
/// The timestamp must be within the tolerance (±5 minutes by default) of this server's clock,
/// and a signature is accepted once: it is remembered for
/// [`replay_window`](Self::replay_window) (both tolerances and
/// [`REPLAY_CLOCK_SKEW`](Self::REPLAY_CLOCK_SKEW), 11 minutes by default), longer than any
/// timestamp it came with stays acceptable. With a [`Coordination`] (given with
/// [`coordination`](WebhookVerifierBuilder::coordination), or the one of the layer given to
/// [`end_sessions`](WebhookVerifierBuilder::end_sessions)) that memory is shared by every
/// instance and, on Redis, survives restarts. Comparisons are constant-time (`aws-lc-rs`).
/// Cloning is cheap and clones share keys and replay memory.
///
/// ```
/// use logi::webhooks::WebhookVerifier;
///
/// let verifier = WebhookVerifier::builder()
///     .secret("2026-q3", "whsec_current")
///     .secret("2026-q2", "whsec_previous") // still active during the grace period
///     .legacy_secret("whsec_legacy")
///     .build()?;
/// assert!(format!("{verifier:?}").contains("2026-q3"));
/// assert!(!format!("{verifier:?}").contains("whsec"));
/// # Ok::<(), logi::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: RwLock<Keys>,
    tolerance: Duration,
    max_body_bytes: usize,
    /// The signatures accepted, when there is no coordination.
    replay: Mutex<ReplayCache>,
    /// Where the signatures accepted are remembered for every instance, when set.
    coordination: Option<Arc<dyn DynCoordination>>,
    fetch: Option<FetchKeys>,
    /// When the fetch hook was last called, and the next call (single-flight).
    fetching: Mutex<FetchState>,
    /// The shortest time between two calls of the fetch hook.
    fetch_interval: Duration,
    /// Where the sessions of a user whose access an event withdraws are ended.
    end_sessions: Option<LogiSessions>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, hmac::Key>,
    legacy: Vec<hmac::Key>,
}

impl WebhookVerifier {
    /// The default tolerance between the delivery's timestamp and this server's clock.
    pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);
    /// The default largest body accepted: 1 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
    /// The default number of recent signatures remembered for replay protection.
    pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;
    /// Added to both tolerances to make the [replay window](Self::replay_window): the clocks of
    /// the instances sharing a coordination (and the coordination's own) may differ this much.
    pub const REPLAY_CLOCK_SKEW: Duration = Duration::from_secs(60);
    /// The default shortest time between two calls of the key-fetching hook
    /// ([`on_unknown_kid`](WebhookVerifierBuilder::on_unknown_kid)), whatever kids deliveries
    /// name: senders choose the `kid`, so the calls they can cause are bounded.
    pub const FETCH_INTERVAL: Duration = Duration::from_secs(60);
    /// How long a fetch may take before the delivery is refused.
    pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

    /// A builder.
    pub fn builder() -> WebhookVerifierBuilder {
        WebhookVerifierBuilder::default()
    }

    /// Adds (or replaces) the key for `kid` while serving: rotation without a restart.
    ///
    /// # Errors
    /// When the `kid` or the secret is unusable (empty, too long, not printable ASCII).
    pub fn add_secret(&self, kid: &str, secret: &Secret) -> Result<(), ConfigError> {
        let key = key(kid, secret)?;
        self.write_keys().by_kid.insert(kid.to_owned(), key);
        Ok(())
    }

    /// Removes the key for `kid` (after `webhook_key.compromised`, or at the end of a grace
    /// period). Whether it was there.
    pub fn remove_secret(&self, kid: &str) -> bool {
        self.write_keys().by_kid.remove(kid).is_some()
    }

    /// The kids of the active keys, sorted.
    #[must_use]
    pub fn key_ids(&self) -> Vec<String> {
        let mut kids: Vec<_> = self.read_keys().by_kid.keys().cloned().collect();
        kids.sort();
        kids
    }

    /// The largest body accepted, in bytes.
    #[must_use]
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// How long an accepted signature is remembered, and so refused: the past tolerance, the
    /// future tolerance and [`REPLAY_CLOCK_SKEW`](Self::REPLAY_CLOCK_SKEW) (11 minutes by
    /// default). A delivery's timestamp can be no more than one tolerance ahead of the clock
    /// when it is first accepted and stays acceptable one tolerance after that, so no timestamp
    /// it was accepted with is acceptable again once it is forgotten.
    ///
    /// logi's MAC covers the body, not the timestamp: after this window the same body and
    /// signature under a new timestamp cannot be told from a new delivery of the same body.
    /// Handlers should still be idempotent (the payload's event id).
    #[must_use]
    pub fn replay_window(&self) -> Duration {
        self.inner
            .tolerance
            .saturating_mul(2)
            .saturating_add(Self::REPLAY_CLOCK_SKEW)
    }

    /// Verifies a delivery whose body has been read.
    ///
    /// # Errors
    /// When anything about the delivery fails: see [`WebhookErrorKind`].
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<LogiEvent, WebhookError> {
        self.verify_at(headers, body, crate::flow::unix_now())
            .await
            .map_err(refused)
    }

    /// Reads a body (up to [`max_body_bytes`](Self::max_body_bytes)) and verifies the delivery.
    pub(crate) async fn verify_body<B>(
        &self,
        headers: &HeaderMap,
        body: B,
    ) -> Result<LogiEvent, WebhookError>
    where
        B: Body,
        B::Error: Into<FetchError>,
    {
        // Refuse what the headers alone refuse before reading up to a mebibyte.
        if let Err(kind) = self.headers(headers, crate::flow::unix_now()) {
            return Err(refused(kind));
        }
        let max = self.inner.max_body_bytes;
        let announced = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if announced.is_some_and(|length| length > max as u64) {
            return Err(refused(WebhookErrorKind::BodyTooLarge));
        }
        let body = match Limited::new(body, max).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => {
                return Err(refused(WebhookErrorKind::BodyTooLarge));
            }
            Err(_) => return Err(refused(WebhookErrorKind::UnreadableBody)),
        };
        self.verify(headers, body).await
    }

    async fn verify_at(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        now: i64,
    ) -> Result<LogiEvent, WebhookErrorKind> {
        if body.len() > self.inner.max_body_bytes {
            return Err(WebhookErrorKind::BodyTooLarge);
        }
        let Headers {
            timestamp,
            kid,
            mac,
        } = self.headers(headers, now)?;
        match kid {
            Some(kid) => self.check_current(kid, &body, &mac).await?,
            None => self.check_legacy(&body, &mac)?,
        }

        let remembered = self.remember(&mac, now).await?;

        let event = LogiEvent::parse(body, kid.map(str::to_owned), timestamp)?;
        if let (Some(sessions), Some(sub)) =
            (&self.inner.end_sessions, event.access_withdrawn_from())
        {
            match sessions.end_all(sub).await {
                Ok(ended) => tracing::info!(
                    sub,
                    ?ended,
                    event = event.name(),
                    "ended the sessions of a user whose access was withdrawn"
                ),
                Err(error) => {
                    tracing::warn!(
                        %error,
                        event = event.name(),
                        "could not end the sessions of a user whose access was withdrawn"
                    );
                    // Forgotten, so that logi's redelivery is accepted and tried again.
                    self.forget(&mac, remembered).await;
                    return Err(WebhookErrorKind::SessionsUnavailable);
                }
            }
        }
        Ok(event)
    }

    /// Records an accepted signature for the [replay window](Self::replay_window), unless it is
    /// already remembered: insert-if-absent in the coordination (`SET NX PX` on Redis), so that
    /// of two instances receiving the same delivery at once, one accepts it.
    ///
    /// logi's MAC covers the body only: the same body and signature under any timestamp is the
    /// same delivery, so the signature alone is the key.
    async fn remember(
        &self,
        mac: &[u8; signature::MAC_LEN],
        now: i64,
    ) -> Result<Remembered, WebhookErrorKind> {
        let window = self.replay_window();
        let Some(coordination) = &self.inner.coordination else {
            let forget_after =
                now.saturating_add(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
            self.inner
                .replay
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(*mac, now, forget_after)
                .map_err(|refused| match refused {
                    Refused::Replayed => WebhookErrorKind::Replayed,
                    Refused::Full => {
                        tracing::warn!(
                            "logi webhook refused: the replay memory is full of recent \
                             deliveries (raise `replay_capacity`)"
                        );
                        WebhookErrorKind::TooManyDeliveries
                    }
                })?;
            return Ok(Remembered::Locally);
        };
        let key = replay_key(mac);
        let holder = crate::flow::random_token(16);
        match coordination
            .insert_if_absent(&key, holder.as_bytes(), window)
            .await
        {
            Ok(true) => Ok(Remembered::Shared { key, holder }),
            Ok(false) => Err(WebhookErrorKind::Replayed),
            Err(error) => {
                // Closed: a delivery that cannot be checked for replay is not accepted.
                tracing::warn!(
                    %error,
                    "logi webhook refused: the coordination holding accepted deliveries failed"
                );
                Err(WebhookErrorKind::ReplayMemoryUnavailable)
            }
        }
    }

    /// Forgets a signature [`remember`](Self::remember) recorded, so that a redelivery is
    /// accepted. Only this delivery's own record is removed.
    async fn forget(&self, mac: &[u8; signature::MAC_LEN], remembered: Remembered) {
        match (remembered, &self.inner.coordination) {
            (Remembered::Shared { key, holder }, Some(coordination)) => {
                if let Err(error) = coordination.remove_if(&key, holder.as_bytes()).await {
                    tracing::warn!(
                        %error,
                        "could not forget a logi webhook delivery: its redelivery will be \
                         refused as replayed until the replay window has passed"
                    );
                }
            }
            _ => self
                .inner
                .replay
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .forget(mac),
        }
    }

    /// The signature headers, parsed, with the timestamp inside the tolerance.
    fn headers<'h>(
        &self,
        headers: &'h HeaderMap,
        now: i64,
    ) -> Result<Headers<'h>, WebhookErrorKind> {
        let value = single(headers, SIGNATURE_HEADER)?.ok_or(WebhookErrorKind::MissingSignature)?;
        let timestamp_header = single(headers, TIMESTAMP_HEADER)?;
        let value = value
            .to_str()
            .map_err(|_| WebhookErrorKind::MalformedSignature)?;
        let parsed = match signature::parse(value)? {
            Signature::Current {
                timestamp,
                kid,
                mac,
            } => Headers {
                timestamp,
                kid: Some(kid),
                mac,
            },
            Signature::Legacy { mac } => Headers {
                timestamp: timestamp_header
                    .ok_or(WebhookErrorKind::MissingTimestamp)?
                    .to_str()
                    .ok()
                    .and_then(signature::parse_timestamp)
                    .ok_or(WebhookErrorKind::MalformedTimestamp)?,
                kid: None,
                mac,
            },
        };
        if parsed.timestamp.abs_diff(now) > self.tolerance_secs().unsigned_abs() {
            return Err(WebhookErrorKind::OutsideTolerance);
        }
        Ok(parsed)
    }

    fn tolerance_secs(&self) -> i64 {
        i64::try_from(self.inner.tolerance.as_secs()).unwrap_or(i64::MAX)
    }

    async fn check_current(
        &self,
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

    fn check_legacy(&self, body: &[u8], mac: &[u8]) -> Result<(), WebhookErrorKind> {
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
    async fn fetch(&self, kid: &str) -> bool {
        let Some((mut next, starts)) = self.next_fetch(kid) else {
            return false;
        };
        if starts > Instant::now() {
            return false;
        }
        let bound = Self::FETCH_TIMEOUT + Duration::from_secs(1);
        matches!(
            tokio::time::timeout(bound, next.wait_for(|done| *done)).await,
            Ok(Ok(_))
        )
    }

    /// The next call of the fetch hook, scheduled or running, or a new one (prompted by `kid`),
    /// with when it starts. `None` without a hook, or outside a Tokio runtime.
    fn next_fetch(&self, kid: &str) -> Option<(watch::Receiver<bool>, Instant)> {
        let hook = Arc::clone(self.inner.fetch.as_ref()?);
        let mut state = self.fetch_state();
        if let Some((next, starts)) = &state.next {
            return Some((next.clone(), *starts));
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let delay = state.last.map_or(Duration::ZERO, |last| {
            (last + self.inner.fetch_interval).saturating_duration_since(Instant::now())
        });
        let starts = Instant::now() + delay;
        let (tx, rx) = watch::channel(false);
        state.next = Some((rx.clone(), starts));
        drop(state);
        let verifier = self.clone();
        let kid = kid.to_owned();
        runtime.spawn(async move {
            // Clears `next` however the task ends, so that a later delivery schedules anew.
            let clear = ClearNext(&verifier);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            verifier.fetch_state().last = Some(Instant::now());
            verifier.call_hook(&*hook, kid).await;
            drop(clear);
            let _ = tx.send(true);
        });
        Some((rx, starts))
    }

    /// Calls the hook, bounded by [`FETCH_TIMEOUT`](Self::FETCH_TIMEOUT), and installs the keys
    /// it answers.
    async fn call_hook(&self, hook: &(dyn Fn(String) -> FetchFuture + Send + Sync), kid: String) {
        tracing::info!(kid, "logi webhook signed by an unknown key: fetching keys");
        let keys = match tokio::time::timeout(Self::FETCH_TIMEOUT, hook(kid)).await {
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
            match self.add_secret(&new_kid, &secret) {
                Ok(()) => installed += 1,
                Err(error) => tracing::warn!(%error, "ignoring a fetched logi webhook key"),
            }
        }
        tracing::info!(installed, "fetched logi webhook keys");
    }

    fn fetch_state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        self.inner
            .fetching
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write_keys(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.read_keys();
        let mut kids: Vec<_> = keys.by_kid.keys().collect();
        kids.sort();
        f.debug_struct("WebhookVerifier")
            .field("kids", &kids)
            .field("legacy_keys", &keys.legacy.len())
            .field("tolerance", &self.inner.tolerance)
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .field("fetches_unknown_kids", &self.inner.fetch.is_some())
            .field("shares_replay_memory", &self.inner.coordination.is_some())
            .field("ends_sessions", &self.inner.end_sessions.is_some())
            .finish_non_exhaustive()
    }
}

/// Logs a refusal (its code only: nothing from the request) and makes it an error.
fn refused(kind: WebhookErrorKind) -> WebhookError {
    tracing::debug!(code = kind.code(), "logi webhook refused");
    WebhookError::new(kind)
}

/// When the fetch hook was last called, and the next call: every delivery that needs one
/// shares it. `next` is cleared by its task when it ends.
#[derive(Default)]
struct FetchState {
    last: Option<Instant>,
    next: Option<(watch::Receiver<bool>, Instant)>,
}

/// Clears [`FetchState::next`] when dropped.
struct ClearNext<'a>(&'a WebhookVerifier);

impl Drop for ClearNext<'_> {
    fn drop(&mut self) {
        self.0.fetch_state().next = None;
    }
}

/// Where [`WebhookVerifier::remember`] recorded a signature.
enum Remembered {
    Locally,
    /// In the coordination, under `key`, holding the random `holder`.
    Shared {
        key: String,
        holder: String,
    },
}

/// The coordination key of a signature: a hash, so that keys are short and uniform.
fn replay_key(mac: &[u8; signature::MAC_LEN]) -> String {
    let hash = digest::digest(&digest::SHA256, mac);
    format!("webhook:{}", URL_SAFE_NO_PAD.encode(hash))
}

/// What the signature headers say.
struct Headers<'h> {
    timestamp: i64,
    /// `None` for the legacy format.
    kid: Option<&'h str>,
    mac: [u8; signature::MAC_LEN],
}

/// The one value of a header that must not repeat; `None` when absent.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a http::HeaderValue>, WebhookErrorKind> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(WebhookErrorKind::DuplicateHeader);
    }
    Ok(first)
}

fn key(kid: &str, secret: &Secret) -> Result<hmac::Key, ConfigError> {
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

fn legacy_key(secret: &Secret) -> Result<hmac::Key, ConfigError> {
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
    /// [`LogiEvent::access_withdrawn_from`]) before the delivery reaches the handler, through
    /// [`LogiSessions::end_all`]: deleted from a session store, or signed out through the
    /// sign-out denylist for cookie sessions, on every instance. When they cannot be ended (the
    /// store or coordination is unreachable) the delivery is answered 503
    /// (`sessions_unavailable`) and not remembered, so that logi's redelivery tries again.
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
                    if keys.by_kid.insert(kid.clone(), key(kid, secret)?).is_some() {
                        return Err(ConfigError::Invalid {
                            setting: SECRETS_SETTING,
                            reason: format!("names the key id `{kid}` twice"),
                        });
                    }
                }
                None => keys.legacy.push(legacy_key(secret)?),
            }
        }
        let coordination = self.coordination.or_else(|| {
            self.end_sessions
                .as_ref()
                .and_then(LogiSessions::coordination)
        });
        Ok(WebhookVerifier {
            inner: Arc::new(Inner {
                keys: RwLock::new(keys),
                tolerance: self.tolerance,
                max_body_bytes: self.max_body_bytes,
                replay: Mutex::new(ReplayCache::new(self.replay_capacity)),
                coordination,
                fetch: self.fetch,
                fetching: Mutex::new(FetchState::default()),
                fetch_interval: self.fetch_interval,
                end_sessions: self.end_sessions,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn signed(secret: &str, kid: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let hex: String = hmac::sign(&key, body)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&format!("t={timestamp},kid={kid},v1={hex}")).unwrap(),
        );
        headers
    }

    fn payload(n: usize) -> Bytes {
        Bytes::from(format!(r#"{{"type":"user.deleted","n":{n}}}"#))
    }

    async fn check(
        verifier: &WebhookVerifier,
        timestamp: i64,
        now: i64,
        n: usize,
    ) -> Result<(), WebhookErrorKind> {
        let body = payload(n);
        let headers = signed("s1", "k1", timestamp, &body);
        verifier.verify_at(&headers, body, now).await.map(drop)
    }

    #[tokio::test]
    async fn the_tolerance_is_inclusive_both_ways() {
        let verifier = WebhookVerifier::builder()
            .secret("k1", "s1")
            .build()
            .unwrap();
        assert_eq!(check(&verifier, NOW - 300, NOW, 1).await, Ok(()));
        assert_eq!(check(&verifier, NOW + 300, NOW, 2).await, Ok(()));
        for (skew, n) in [(-301, 3), (301, 4)] {
            assert_eq!(
                check(&verifier, NOW + skew, NOW, n).await,
                Err(WebhookErrorKind::OutsideTolerance)
            );
        }

        let strict = WebhookVerifier::builder()
            .secret("k1", "s1")
            .tolerance(Duration::from_secs(30))
            .build()
            .unwrap();
        assert_eq!(check(&strict, NOW - 30, NOW, 5).await, Ok(()));
        assert_eq!(
            check(&strict, NOW - 31, NOW, 6).await,
            Err(WebhookErrorKind::OutsideTolerance)
        );
    }

    #[tokio::test]
    async fn a_signature_is_remembered_while_its_window_lasts() {
        let verifier = WebhookVerifier::builder()
            .secret("k1", "s1")
            .build()
            .unwrap();
        assert_eq!(verifier.replay_window(), Duration::from_secs(660));
        assert_eq!(check(&verifier, NOW, NOW, 1).await, Ok(()));
        // Replayed with the same timestamp as long as it would be accepted.
        for later in [1, 299, 300] {
            assert_eq!(
                check(&verifier, NOW, NOW + later, 1).await,
                Err(WebhookErrorKind::Replayed),
                "{later}"
            );
        }
        // The MAC does not cover the timestamp: the same body and MAC under any timestamp the
        // clock accepts then (the past and the future edge) is the same delivery, refused for
        // both tolerances and the skew (it used to be forgotten after one tolerance).
        for later in [301, 310, 600, 660] {
            for t in [NOW + later - 300, NOW + later, NOW + later + 300] {
                assert_eq!(
                    check(&verifier, t, NOW + later, 1).await,
                    Err(WebhookErrorKind::Replayed),
                    "{later} {t}"
                );
            }
        }
        assert_eq!(
            check(&verifier, NOW + 661, NOW + 661, 1).await,
            Ok(()),
            "forgotten after the window: the MAC does not cover the timestamp"
        );

        // A delivery dated at the future edge stays acceptable with its own timestamp until
        // two tolerances later, and is remembered past that.
        assert_eq!(check(&verifier, NOW + 300, NOW, 2).await, Ok(()));
        assert_eq!(
            check(&verifier, NOW + 300, NOW + 600, 2).await,
            Err(WebhookErrorKind::Replayed)
        );
        assert_eq!(
            check(&verifier, NOW + 900, NOW + 650, 2).await,
            Err(WebhookErrorKind::Replayed)
        );

        // The window follows the tolerance.
        let strict = WebhookVerifier::builder()
            .secret("k1", "s1")
            .tolerance(Duration::from_secs(30))
            .build()
            .unwrap();
        assert_eq!(strict.replay_window(), Duration::from_secs(120));
        assert_eq!(check(&strict, NOW, NOW, 3).await, Ok(()));
        assert_eq!(
            check(&strict, NOW + 100, NOW + 120, 3).await,
            Err(WebhookErrorKind::Replayed)
        );
        assert_eq!(check(&strict, NOW + 121, NOW + 121, 3).await, Ok(()));
    }

    #[tokio::test]
    async fn keys_rotate_while_serving() {
        let verifier = WebhookVerifier::builder()
            .secret("k1", "s1")
            .build()
            .unwrap();
        verifier.add_secret("k2", &Secret::new("s2")).unwrap();
        let body = payload(1);
        let headers = signed("s2", "k2", NOW, &body);
        assert!(
            verifier
                .verify_at(&headers, body.clone(), NOW)
                .await
                .is_ok()
        );
        assert!(verifier.remove_secret("k1"));
        assert_eq!(verifier.key_ids(), ["k2"]);
        let body = payload(2);
        let headers = signed("s1", "k1", NOW, &body);
        assert_eq!(
            verifier.verify_at(&headers, body, NOW).await.err(),
            Some(WebhookErrorKind::UnknownKid)
        );
    }
}
