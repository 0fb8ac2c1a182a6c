//! [`WebhookVerifier`]: the walk of one delivery (headers, time window, body limit, signature,
//! replay memory, event, ended sessions), and the verifier's public handles on its keys.
//! Must not touch: how keys are stored or fetched (`keys.rs`), how signatures are remembered
//! (`replay.rs`), the settings' checks (`builder.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::event::LogiEvent;
use super::keys::{self, FetchError, KeyRing};
use super::replay::ReplayMemory;
use super::signature::{self, Signature};
use super::{SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookError, WebhookErrorKind};
use crate::{ConfigError, LogiSessions, Secret};

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
/// timestamp it came with stays acceptable. With a [`Coordination`](crate::store::Coordination)
/// (given with [`coordination`](super::WebhookVerifierBuilder::coordination), or the one of the
/// layer given to [`end_sessions`](super::WebhookVerifierBuilder::end_sessions)) that memory is
/// shared by every instance and, on Redis, survives restarts. Comparisons are constant-time
/// (`aws-lc-rs`). Cloning is cheap and clones share keys and replay memory.
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
    /// Shared with a running fetch of new keys.
    keys: Arc<KeyRing>,
    tolerance: Duration,
    max_body_bytes: usize,
    replay: ReplayMemory,
    /// Where the sessions of a user whose access an event withdraws are ended.
    end_sessions: Option<LogiSessions>,
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
    /// ([`on_unknown_kid`](super::WebhookVerifierBuilder::on_unknown_kid)), whatever kids
    /// deliveries name: senders choose the `kid`, so the calls they can cause are bounded.
    pub const FETCH_INTERVAL: Duration = keys::FETCH_INTERVAL;
    /// How long a fetch may take before the delivery is refused.
    pub const FETCH_TIMEOUT: Duration = keys::FETCH_TIMEOUT;

    /// The verifier [`WebhookVerifierBuilder::build`](super::WebhookVerifierBuilder::build)
    /// checked.
    pub(super) fn new(
        keys: KeyRing,
        replay: ReplayMemory,
        tolerance: Duration,
        max_body_bytes: usize,
        end_sessions: Option<LogiSessions>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys: Arc::new(keys),
                tolerance,
                max_body_bytes,
                replay,
                end_sessions,
            }),
        }
    }

    /// Adds (or replaces) the key for `kid` while serving: rotation without a restart.
    ///
    /// # Errors
    /// When the `kid` or the secret is unusable (empty, too long, not printable ASCII).
    pub fn add_secret(&self, kid: &str, secret: &Secret) -> Result<(), ConfigError> {
        self.inner.keys.add(kid, secret)
    }

    /// Removes the key for `kid` (after `webhook_key.compromised`, or at the end of a grace
    /// period). Whether it was there.
    pub fn remove_secret(&self, kid: &str) -> bool {
        self.inner.keys.remove(kid)
    }

    /// The kids of the active keys, sorted.
    #[must_use]
    pub fn key_ids(&self) -> Vec<String> {
        self.inner.keys.ids()
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
        self.verify_at(headers, body, crate::clock::unix_now())
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
        if let Err(kind) = self.headers(headers, crate::clock::unix_now()) {
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
            Some(kid) => self.inner.keys.check_current(kid, &body, &mac).await?,
            None => self.inner.keys.check_legacy(&body, &mac)?,
        }

        let remembered = self
            .inner
            .replay
            .remember(&mac, now, self.replay_window())
            .await?;

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
                    self.inner.replay.forget(&mac, remembered).await;
                    return Err(WebhookErrorKind::SessionsUnavailable);
                }
            }
        }
        Ok(event)
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
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = &self.inner.keys;
        f.debug_struct("WebhookVerifier")
            .field("kids", &keys.ids())
            .field("legacy_keys", &keys.legacy_count())
            .field("tolerance", &self.inner.tolerance)
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .field("fetches_unknown_kids", &keys.fetches())
            .field("shares_replay_memory", &self.inner.replay.is_shared())
            .field("ends_sessions", &self.inner.end_sessions.is_some())
            .finish_non_exhaustive()
    }
}

/// Logs a refusal (its code only: nothing from the request) and makes it an error.
fn refused(kind: WebhookErrorKind) -> WebhookError {
    tracing::debug!(code = kind.code(), "logi webhook refused");
    WebhookError::new(kind)
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

#[cfg(test)]
mod tests {
    use aws_lc_rs::hmac;
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
