//! A [`MemoryStore`] coordination with a test's [`Hook`] in front: the hook sees every call
//! first (to count it, fail it, or hold it), then the call goes on to the store. What a hook
//! does is the test's own; this file only forwards.

use std::future::Future;
use std::time::Duration;

use logi::store::{Coordination, MemoryStore, StoreError};

/// Which [`Coordination`] method is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    InsertIfAbsent,
    Insert,
    Get,
    GetMany,
    RemoveIf,
}

/// What a test puts in front of the store.
pub trait Hook: Send + Sync + 'static {
    /// Runs before `call` on `keys` reaches the store; an error fails the call there.
    fn before(
        &self,
        call: Call,
        keys: &[&str],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// `hook` in front of a [`MemoryStore`]: give it to `LogiLayerBuilder::coordination`.
#[derive(Clone)]
pub struct Hooked<H> {
    hook: H,
    store: MemoryStore,
}

impl<H: Hook> Hooked<H> {
    pub fn new(hook: H) -> Self {
        Self {
            hook,
            store: MemoryStore::new(),
        }
    }
}

impl<H: Hook> Coordination for Hooked<H> {
    async fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.hook.before(Call::InsertIfAbsent, &[key]).await?;
        Coordination::insert_if_absent(&self.store, key, value, ttl).await
    }
    async fn insert(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.hook.before(Call::Insert, &[key]).await?;
        Coordination::insert(&self.store, key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.hook.before(Call::Get, &[key]).await?;
        Coordination::get(&self.store, key).await
    }
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.hook.before(Call::GetMany, keys).await?;
        Coordination::get_many(&self.store, keys).await
    }
    async fn remove_if(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        self.hook.before(Call::RemoveIf, &[key]).await?;
        Coordination::remove_if(&self.store, key, value).await
    }
}
