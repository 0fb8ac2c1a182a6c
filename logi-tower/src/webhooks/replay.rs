//! The replay memory: the signatures of accepted deliveries, remembered for the replay window
//! in this process ([`ReplayCache`]) or in the app's coordination, so a replay is refused.
//! Must not touch: the keys, the signature check, the time window's tolerance or the event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::WebhookErrorKind;
use super::signature::{self, MAC_LEN};
use crate::session::store::DynCoordination;

/// Where accepted signatures are remembered: the coordination when there is one (shared by
/// every instance), otherwise this process's [`ReplayCache`].
pub(super) struct ReplayMemory {
    /// The signatures accepted, when there is no coordination.
    local: Mutex<ReplayCache>,
    /// Where the signatures accepted are remembered for every instance, when set.
    coordination: Option<Arc<dyn DynCoordination>>,
}

impl ReplayMemory {
    pub(super) fn new(capacity: usize, coordination: Option<Arc<dyn DynCoordination>>) -> Self {
        Self {
            local: Mutex::new(ReplayCache::new(capacity)),
            coordination,
        }
    }

    /// Whether the memory is shared through a coordination.
    pub(super) fn is_shared(&self) -> bool {
        self.coordination.is_some()
    }

    /// Records an accepted signature for the `window` (the verifier's
    /// [replay window](super::WebhookVerifier::replay_window)), unless it is
    /// already remembered: insert-if-absent in the coordination (`SET NX PX` on Redis), so that
    /// of two instances receiving the same delivery at once, one accepts it.
    ///
    /// logi's MAC covers the body only: the same body and signature under any timestamp is the
    /// same delivery, so the signature alone is the key.
    pub(super) async fn remember(
        &self,
        mac: &[u8; signature::MAC_LEN],
        now: i64,
        window: Duration,
    ) -> Result<Remembered, WebhookErrorKind> {
        let Some(coordination) = &self.coordination else {
            let forget_after =
                now.saturating_add(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
            self.local
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
        let holder = crate::random::random_token(16);
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
    pub(super) async fn forget(&self, mac: &[u8; signature::MAC_LEN], remembered: Remembered) {
        match (remembered, &self.coordination) {
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
                .local
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .forget(mac),
        }
    }
}

/// Where [`ReplayMemory::remember`] recorded a signature.
pub(super) enum Remembered {
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

/// Signatures accepted recently, each with the Unix time after which it is forgotten.
/// Bounded: at capacity, expired entries are swept; if none has expired, the new delivery is
/// refused rather than forgetting one that could then be replayed.
#[derive(Debug)]
pub(crate) struct ReplayCache {
    seen: HashMap<[u8; MAC_LEN], i64>,
    capacity: usize,
}

/// Why a signature was not recorded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Seen before, and not yet forgotten.
    Replayed,
    /// The cache is full of signatures still inside their window.
    Full,
}

impl ReplayCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            seen: HashMap::new(),
            capacity,
        }
    }

    /// Records `mac` until `forget_after`, unless it is already known.
    pub(crate) fn record(
        &mut self,
        mac: [u8; MAC_LEN],
        now: i64,
        forget_after: i64,
    ) -> Result<(), Refused> {
        if let Some(&until) = self.seen.get(&mac)
            && until >= now
        {
            return Err(Refused::Replayed);
        }
        if self.seen.len() >= self.capacity && !self.seen.contains_key(&mac) {
            self.seen.retain(|_, until| *until >= now);
            if self.seen.len() >= self.capacity {
                return Err(Refused::Full);
            }
        }
        self.seen.insert(mac, forget_after);
        Ok(())
    }

    /// Forgets `mac`: its delivery was not acted on, so a redelivery must be accepted.
    pub(crate) fn forget(&mut self, mac: &[u8; MAC_LEN]) {
        self.seen.remove(mac);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_signature_until_it_is_forgotten() {
        let mut cache = ReplayCache::new(10);
        assert_eq!(cache.record([1; MAC_LEN], 100, 400), Ok(()));
        assert_eq!(cache.record([1; MAC_LEN], 399, 700), Err(Refused::Replayed));
        assert_eq!(cache.record([1; MAC_LEN], 400, 700), Err(Refused::Replayed));
        assert_eq!(cache.record([1; MAC_LEN], 401, 701), Ok(()));
    }

    #[test]
    fn is_bounded_and_never_forgets_a_live_signature_to_make_room() {
        let mut cache = ReplayCache::new(2);
        assert_eq!(cache.record([1; MAC_LEN], 100, 200), Ok(()));
        assert_eq!(cache.record([2; MAC_LEN], 100, 400), Ok(()));
        assert_eq!(cache.record([3; MAC_LEN], 150, 450), Err(Refused::Full));
        // [1] expires at 200: room again.
        assert_eq!(cache.record([3; MAC_LEN], 201, 500), Ok(()));
        assert_eq!(cache.seen.len(), 2);
        assert_eq!(cache.record([2; MAC_LEN], 202, 500), Err(Refused::Replayed));
    }
}
