//! [`MemoryStore`]: sessions in this process's memory.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use super::coordination::MemoryRecords;
use super::{Coordination, SessionId, SessionStore, StoreError, StoredSession, unix_now};

/// Sessions kept in this process's memory, bounded: for single-process apps and tests.
///
/// When it holds `capacity` sessions, a new one first evicts the expired sessions, then the
/// one closest to its expiry. Sessions do not survive a restart and are not shared between
/// processes: use `RedisStore` (feature `redis`) for that. Cheap to clone: clones share the
/// sessions. It is also a [`Coordination`] for layers within one process (a layer given this
/// store as its session store coordinates through it).
///
/// ```
/// let store = logi::store::MemoryStore::with_capacity(10_000);
/// let layer = logi::LogiLayer::builder().session_store(store.clone());
/// // Later, end every session of a user (from a webhook, an admin page, …):
/// // store.delete_by_sub("user-0001").await?;
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    records: MemoryRecords,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, StoredSession>,
    by_sub: HashMap<String, HashSet<SessionId>>,
    by_sid: HashMap<String, HashSet<SessionId>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.lock().sessions.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryStore {
    /// A store for up to 100 000 sessions.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(100_000)
    }

    /// A store for up to `capacity` sessions (at least 1).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::default(),
            records: MemoryRecords::default(),
            capacity: capacity.max(1),
        }
    }

    /// How many sessions it holds, expired ones not yet evicted included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether it holds no session.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn live(&self, id: &SessionId, now: i64) -> Option<&StoredSession> {
        self.sessions.get(id).filter(|s| s.expires_at() > now)
    }

    fn remove(&mut self, id: &SessionId) -> bool {
        let Some(session) = self.sessions.remove(id) else {
            return false;
        };
        unindex(&mut self.by_sub, session.sub(), id);
        if let Some(sid) = session.sid() {
            unindex(&mut self.by_sid, sid, id);
        }
        true
    }

    fn make_room(&mut self, capacity: usize, now: i64) {
        if self.sessions.len() < capacity {
            return;
        }
        let expired: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.expires_at() <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.remove(id);
        }
        if self.sessions.len() >= capacity {
            let soonest = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.expires_at())
                .map(|(id, _)| id.clone());
            if let Some(id) = soonest {
                tracing::warn!(
                    "the memory session store is full: evicting the session closest to its expiry"
                );
                self.remove(&id);
            }
        }
    }

    fn remove_all(&mut self, ids: Option<HashSet<SessionId>>) -> usize {
        ids.into_iter()
            .flatten()
            .filter(|id| self.remove(id))
            .count()
    }
}

fn unindex(index: &mut HashMap<String, HashSet<SessionId>>, key: &str, id: &SessionId) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, id: &SessionId) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.lock().live(id, unix_now()).cloned())
    }

    async fn save(&self, id: &SessionId, session: &StoredSession) -> Result<(), StoreError> {
        let now = unix_now();
        let mut inner = self.lock();
        let current = inner.live(id, now).map_or(0, StoredSession::version);
        if session.version() != current.saturating_add(1) {
            return Err(StoreError::conflict());
        }
        if !inner.remove(id) {
            inner.make_room(self.capacity, now);
        }
        inner
            .by_sub
            .entry(session.sub().to_owned())
            .or_default()
            .insert(id.clone());
        if let Some(sid) = session.sid() {
            inner
                .by_sid
                .entry(sid.to_owned())
                .or_default()
                .insert(id.clone());
        }
        inner.sessions.insert(id.clone(), session.clone());
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.lock().remove(id);
        Ok(())
    }

    async fn delete_by_sub(&self, sub: &str) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let ids = inner.by_sub.remove(sub);
        Ok(inner.remove_all(ids))
    }

    async fn delete_by_sid(&self, sid: &str) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let ids = inner.by_sid.remove(sid);
        Ok(inner.remove_all(ids))
    }

    async fn list_by_sub(&self, sub: &str) -> Result<Vec<SessionId>, StoreError> {
        let now = unix_now();
        let inner = self.lock();
        Ok(inner
            .by_sub
            .get(sub)
            .into_iter()
            .flatten()
            .filter(|id| inner.live(id, now).is_some())
            .cloned()
            .collect())
    }
}

impl Coordination for MemoryStore {
    async fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.records.insert_if_absent(key, value, ttl)
    }

    async fn insert(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.records.insert(key, value, ttl)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.records.get(key))
    }

    async fn remove_if(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        Ok(self.records.remove_if(key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(version: u64, expires_at: i64, sub: &str) -> StoredSession {
        StoredSession::new(vec![1, 2, 3], version, expires_at, sub, None)
    }

    #[tokio::test]
    async fn a_full_store_evicts_expired_then_the_soonest_to_expire() {
        let store = MemoryStore::with_capacity(2);
        let now = unix_now();
        let (a, b, c) = (
            SessionId::generate(),
            SessionId::generate(),
            SessionId::generate(),
        );
        store.save(&a, &record(1, now + 100, "a")).await.unwrap();
        store.save(&b, &record(1, now + 50, "b")).await.unwrap();
        store.save(&c, &record(1, now + 200, "c")).await.unwrap();
        assert_eq!(store.len(), 2);
        assert!(store.load(&b).await.unwrap().is_none(), "b expired soonest");
        assert!(store.load(&a).await.unwrap().is_some());
        assert!(store.list_by_sub("b").await.unwrap().is_empty());
        // Rewriting a session in place never evicts another.
        store.save(&a, &record(2, now + 100, "a")).await.unwrap();
        assert_eq!(store.len(), 2);
    }
}
