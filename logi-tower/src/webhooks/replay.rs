//! The signatures seen recently, so that a replayed delivery is refused.

use std::collections::HashMap;

use super::signature::MAC_LEN;

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
