//! Where sessions live: in the browser's sealed cookie (the default), or in a server-side
//! [`SessionStore`] such as [`MemoryStore`] or, with the `redis` feature, `RedisStore`.
//! State level: owns the store trait and its implementations; it must not read settings or
//! return configuration errors (`config/store.rs` chooses and opens stores).
//!
//! With a server-side store the session cookie (`__Host-logi.session`) holds only a random
//! 256-bit session id, sealed with the session keys (AES-256-GCM) so that ids can be neither
//! guessed nor forged, and the session itself is handed to the store as a [`StoredSession`]:
//! bytes sealed with the same keys and bound to the id, a version, an expiry, and the `sub` and
//! provider `sid` it belongs to (so that every session of a user can be ended). A store never
//! sees tokens as fields, and a copy of the store's data is of no use without the keys.
//!
//! Every write carries a version: a store writes a session only over the version it replaces,
//! so a request that loaded an older session (a slow request, another instance) cannot
//! overwrite a newer one.
//!
//! ```
//! use logi::LogiLayer;
//! use logi::store::MemoryStore;
//!
//! let builder = LogiLayer::builder().session_store(MemoryStore::new());
//! # let _ = builder;
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

mod coordination;
mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use coordination::Coordination;
pub(crate) use coordination::DynCoordination;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisStore;

/// Storage for server-side sessions, shared by every instance of an app that uses it.
///
/// Give one to [`LogiLayerBuilder::session_store`](crate::LogiLayerBuilder::session_store).
/// The crate has [`MemoryStore`] and, with the `redis` feature, `RedisStore`; implement this
/// trait for another database.
///
/// With a store, the session cookie (`__Host-logi.session`) holds only a random 256-bit
/// session id, sealed with the session keys (AES-256-GCM) so that ids can be neither guessed
/// nor forged. The session itself reaches the store as a [`StoredSession`]: bytes sealed with
/// the same keys and bound to the id (a store never sees tokens, and a copy of its data is of
/// no use without the keys), a version, an expiry, and the `sub` and provider `sid` it belongs
/// to, so that every session of a user can be ended ([`delete_by_sub`](Self::delete_by_sub)).
/// Every write carries a version and replaces only the version before it, so a request that
/// loaded an older session (a slow request, another instance) cannot overwrite a newer one,
/// nor bring back a deleted one. Implementations must be safe to call concurrently, and should
/// make [`save`](SessionStore::save)'s version check and write one atomic step. Times are Unix
/// seconds.
///
/// A store that counts its writes, around a [`MemoryStore`]:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// use logi::store::{MemoryStore, SessionId, SessionStore, StoreError, StoredSession};
///
/// #[derive(Clone, Default)]
/// struct Counted {
///     inner: MemoryStore,
///     writes: Arc<AtomicUsize>,
/// }
///
/// impl SessionStore for Counted {
///     async fn load(&self, id: &SessionId) -> Result<Option<StoredSession>, StoreError> {
///         self.inner.load(id).await
///     }
///     async fn save(&self, id: &SessionId, session: &StoredSession) -> Result<(), StoreError> {
///         self.writes.fetch_add(1, Ordering::Relaxed);
///         self.inner.save(id, session).await
///     }
///     async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
///         self.inner.delete(id).await
///     }
///     async fn delete_by_sub(&self, sub: &str) -> Result<usize, StoreError> {
///         self.inner.delete_by_sub(sub).await
///     }
///     async fn delete_by_sid(&self, sid: &str) -> Result<usize, StoreError> {
///         self.inner.delete_by_sid(sid).await
///     }
///     async fn list_by_sub(&self, sub: &str) -> Result<Vec<SessionId>, StoreError> {
///         self.inner.list_by_sub(sub).await
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = Counted::default();
/// let id = SessionId::from_stored("an-id");
/// let session = StoredSession::new(b"sealed".to_vec(), 1, i64::MAX, "user-0001", None);
/// store.save(&id, &session).await.unwrap();
/// // A second writer of version 1 is refused: it would overwrite a session it never saw.
/// assert!(store.save(&id, &session).await.is_err());
/// assert_eq!(store.writes.load(Ordering::Relaxed), 2);
/// let layer = logi::LogiLayer::builder().session_store(store.clone());
/// # let _ = layer;
/// # }
/// ```
pub trait SessionStore: Send + Sync + 'static {
    /// The session stored under `id`, or `None` when there is none or it has expired.
    fn load(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<StoredSession>, StoreError>> + Send;

    /// Stores `session` under `id` if the stored session's version is `session.version() - 1`
    /// (no session, or an expired one, counts as version 0), and keeps it until
    /// `session.expires_at()`. Otherwise writes nothing and fails with
    /// [`StoreErrorKind::Conflict`].
    fn save(
        &self,
        id: &SessionId,
        session: &StoredSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the session stored under `id`, if any.
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes every session of the user `sub`; returns how many there were.
    fn delete_by_sub(&self, sub: &str) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Removes every session of the provider session `sid`; returns how many there were.
    fn delete_by_sid(&self, sid: &str) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The ids of the live sessions of the user `sub`, in no particular order.
    fn list_by_sub(
        &self,
        sub: &str,
    ) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send;
}

/// A session's id: 32 random bytes, base64url. The browser only ever sees it sealed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// The length of an id: 32 bytes, base64url without padding.
    pub(crate) const LEN: usize = 43;

    /// A new random id.
    pub(crate) fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator works");
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An id as a store keeps it (the text of [`SessionId::as_str`]).
    pub fn from_stored(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text, for a store's keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    /// Only the first characters: an id is a credential once sealed into a cookie.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.0.get(..6).unwrap_or_default();
        write!(f, "SessionId({shown}…)")
    }
}

/// One session as a [`SessionStore`] keeps it.
#[derive(Clone)]
pub struct StoredSession {
    data: Vec<u8>,
    version: u64,
    expires_at: i64,
    sub: String,
    sid: Option<String>,
}

impl StoredSession {
    /// A session record, as a store rebuilds it from what it kept.
    pub fn new(
        data: Vec<u8>,
        version: u64,
        expires_at: i64,
        sub: impl Into<String>,
        sid: Option<String>,
    ) -> Self {
        Self {
            data,
            version,
            expires_at,
            sub: sub.into(),
            sid,
        }
    }

    /// The session, sealed: opaque bytes to keep as they are.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The version: 1 for a new session, one more at each write.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the session ends (Unix seconds): the earlier of its idle and absolute timeouts.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The user the session belongs to.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The provider's session id (`sid`), when the provider gave one.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("data", &format_args!("[{} sealed bytes]", self.data.len()))
            .field("version", &self.version)
            .field("expires_at", &self.expires_at)
            .field("sub", &self.sub)
            .field("sid", &self.sid)
            .finish()
    }
}

/// What went wrong in a [`SessionStore`].
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// The kind of a [`StoreError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The session changed since it was loaded (its version moved on, or it was deleted).
    Conflict,
    /// The store could not be reached or answered with an error.
    Unavailable,
}

impl StoreError {
    /// A refused write: the stored version is not the one the write replaces.
    pub fn conflict() -> Self {
        Self {
            kind: StoreErrorKind::Conflict,
            source: None,
        }
    }

    /// The store failed; `source` says why.
    pub fn unavailable(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: StoreErrorKind::Unavailable,
            source: Some(source.into()),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, &self.source) {
            (StoreErrorKind::Conflict, _) => f.write_str("the session changed since it was loaded"),
            (StoreErrorKind::Unavailable, Some(source)) => {
                write!(f, "the session store is unavailable: {source}")
            }
            (StoreErrorKind::Unavailable, None) => f.write_str("the session store is unavailable"),
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// A boxed future borrowing from its store.
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// [`SessionStore`] with boxed futures, so the layer can hold any store without a type
/// parameter. Only store-backed requests pay for the box; cookie sessions never reach it.
pub(crate) trait DynStore: Send + Sync + 'static {
    fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<StoredSession>>;
    fn save<'a>(&'a self, id: &'a SessionId, session: &'a StoredSession) -> StoreFuture<'a, ()>;
    fn delete<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, ()>;
    fn delete_by_sub<'a>(&'a self, sub: &'a str) -> StoreFuture<'a, usize>;
    fn delete_by_sid<'a>(&'a self, sid: &'a str) -> StoreFuture<'a, usize>;
    fn list_by_sub<'a>(&'a self, sub: &'a str) -> StoreFuture<'a, Vec<SessionId>>;
}

impl<T: SessionStore> DynStore for T {
    fn load<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, Option<StoredSession>> {
        Box::pin(SessionStore::load(self, id))
    }
    fn save<'a>(&'a self, id: &'a SessionId, session: &'a StoredSession) -> StoreFuture<'a, ()> {
        Box::pin(SessionStore::save(self, id, session))
    }
    fn delete<'a>(&'a self, id: &'a SessionId) -> StoreFuture<'a, ()> {
        Box::pin(SessionStore::delete(self, id))
    }
    fn delete_by_sub<'a>(&'a self, sub: &'a str) -> StoreFuture<'a, usize> {
        Box::pin(SessionStore::delete_by_sub(self, sub))
    }
    fn delete_by_sid<'a>(&'a self, sid: &'a str) -> StoreFuture<'a, usize> {
        Box::pin(SessionStore::delete_by_sid(self, sid))
    }
    fn list_by_sub<'a>(&'a self, sub: &'a str) -> StoreFuture<'a, Vec<SessionId>> {
        Box::pin(SessionStore::list_by_sub(self, sub))
    }
}

/// The current Unix time in seconds.
pub(crate) fn unix_now() -> i64 {
    crate::clock::unix_now()
}
