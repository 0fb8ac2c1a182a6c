//! [`Coordination`]: short-lived records that every instance of an app shares.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{StoreError, StoreFuture};

/// Short-lived records shared by every instance of an app, so that instances agree on what
/// must happen once.
///
/// The layer uses it for:
/// - **refresh across instances**: a lock per session while one instance refreshes its tokens
///   (it expires, so a crashed holder cannot wedge a session), and the successor record the
///   other instances read instead of spending the same refresh token (logi's reuse detection
///   would end the session);
/// - **logout everywhere**: the `jti`s of back-channel logout tokens already seen, the users
///   and provider sessions signed out from the provider (or through
///   [`LogiSessions`](crate::LogiSessions)), and the cookie sessions signed out by their
///   browser, so that sealed cookie sessions issued before, and copies of a signed-out cookie,
///   are refused on every instance, and so are the bearer tokens of a signed-out user issued
///   before. Each request with a cookie session or a bearer token reads these in one
///   [`get_many`](Self::get_many).
///
/// Give one to [`LogiLayerBuilder::coordination`](crate::LogiLayerBuilder::coordination).
/// `RedisStore` (feature `redis`) implements it (a session store on Redis is used for
/// coordination too, with nothing more to configure); [`MemoryStore`](crate::store::MemoryStore)
/// implements it for layers within one process. Without one, each layer coordinates only the
/// requests it serves itself: enough for one instance, not for several.
///
/// Keys are short ASCII strings chosen by the layer; values are opaque bytes (records holding
/// tokens are sealed with the session keys before they reach the store). Implementations must
/// be safe to call concurrently, make [`insert_if_absent`](Self::insert_if_absent) and
/// [`remove_if`](Self::remove_if) atomic, and forget a record once its time to live is over.
pub trait Coordination: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl`, unless `key` holds a record that has not expired;
    /// `true` when it was stored.
    fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores `value` under `key` for `ttl`, replacing any record.
    fn insert(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The record under `key`, unless it has expired.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// The records under `keys`, in order. The default asks for one after the other; stores
    /// that can fetch several at once should.
    fn get_many(
        &self,
        keys: &[&str],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, StoreError>> + Send {
        async move {
            let mut values = Vec::with_capacity(keys.len());
            for key in keys {
                values.push(self.get(key).await?);
            }
            Ok(values)
        }
    }

    /// Removes the record under `key` if it is `value` (a lock only its holder releases);
    /// `true` when it was removed.
    fn remove_if(
        &self,
        key: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// [`Coordination`] with boxed futures, so the layer can hold any implementation.
pub(crate) trait DynCoordination: Send + Sync + 'static {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;
    fn insert<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()>;
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;
    fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> StoreFuture<'a, Vec<Option<Vec<u8>>>>;
    fn remove_if<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, bool>;
}

impl<T: Coordination> DynCoordination for T {
    fn insert_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(Coordination::insert_if_absent(self, key, value, ttl))
    }
    fn insert<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(Coordination::insert(self, key, value, ttl))
    }
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(Coordination::get(self, key))
    }
    fn get_many<'a>(&'a self, keys: &'a [&'a str]) -> StoreFuture<'a, Vec<Option<Vec<u8>>>> {
        Box::pin(Coordination::get_many(self, keys))
    }
    fn remove_if<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, bool> {
        Box::pin(Coordination::remove_if(self, key, value))
    }
}

/// Most records a [`MemoryRecords`] keeps; when full, expired records go first, then inserts
/// fail as unavailable (the layer then treats coordination as failing: closed).
const MAX_RECORDS: usize = 100_000;

/// Records in this process's memory: [`MemoryStore`](crate::store::MemoryStore)'s [`Coordination`].
#[derive(Clone, Default)]
pub(crate) struct MemoryRecords {
    inner: Arc<Mutex<Records>>,
}

/// Each record's value and when it expires.
type Records = HashMap<String, (Vec<u8>, Instant)>;

impl fmt::Debug for MemoryRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRecords").finish_non_exhaustive()
    }
}

impl MemoryRecords {
    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes room for one more record.
    fn room(records: &mut Records, now: Instant) -> bool {
        if records.len() >= MAX_RECORDS {
            records.retain(|_, (_, until)| *until > now);
        }
        records.len() < MAX_RECORDS
    }

    /// Fails when full, rather than answering `false`: that would read as a record already
    /// there (a held lock, a replayed logout token).
    pub(crate) fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut records = self.lock();
        if records.get(key).is_some_and(|(_, until)| *until > now) {
            return Ok(false);
        }
        if !Self::room(&mut records, now) {
            return Err(StoreError::unavailable("too many coordination records"));
        }
        records.insert(key.to_owned(), (value.to_vec(), now + ttl));
        Ok(true)
    }

    pub(crate) fn insert(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut records = self.lock();
        if !records.contains_key(key) && !Self::room(&mut records, now) {
            return Err(StoreError::unavailable("too many coordination records"));
        }
        records.insert(key.to_owned(), (value.to_vec(), now + ttl));
        Ok(())
    }

    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let now = Instant::now();
        self.lock()
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(value, _)| value.clone())
    }

    pub(crate) fn remove_if(&self, key: &str, value: &[u8]) -> bool {
        let now = Instant::now();
        let mut records = self.lock();
        let holds = records
            .get(key)
            .is_some_and(|(v, until)| *until > now && v.as_slice() == value);
        if holds {
            records.remove(key);
        }
        holds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_expire_and_only_their_holder_removes_them() {
        let records = MemoryRecords::default();
        assert!(
            records
                .insert_if_absent("lock", b"a", Duration::from_secs(60))
                .unwrap()
        );
        assert!(
            !records
                .insert_if_absent("lock", b"b", Duration::from_secs(60))
                .unwrap()
        );
        assert!(!records.remove_if("lock", b"b"));
        assert_eq!(records.get("lock").as_deref(), Some(&b"a"[..]));
        assert!(records.remove_if("lock", b"a"));
        assert_eq!(records.get("lock"), None);
        // An expired record counts as absent.
        assert!(
            records
                .insert_if_absent("gone", b"a", Duration::ZERO)
                .unwrap()
        );
        assert_eq!(records.get("gone"), None);
        assert!(
            records
                .insert_if_absent("gone", b"b", Duration::from_secs(60))
                .unwrap()
        );
        records
            .insert("gone", b"c", Duration::from_secs(60))
            .unwrap();
        assert_eq!(records.get("gone").as_deref(), Some(&b"c"[..]));
    }
}
