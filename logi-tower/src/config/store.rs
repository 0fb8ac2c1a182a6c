//! Which session store and coordination the builder was given (in code, or read from
//! `LOGI_SESSION_STORE` / `LOGI_COORDINATION` by `env.rs`), and opening them when the layer is
//! built. The stores
//! themselves live in `session::store`, which must not read settings or return config errors.

use std::fmt;

#[cfg(feature = "redis")]
use crate::session::store::RedisStore;
use crate::session::store::{DynCoordination, DynStore, MemoryStore, SessionStore};

/// The store a [`LogiLayerBuilder`](crate::LogiLayerBuilder) was given, opened when the layer
/// is built.
#[derive(Clone, Default)]
pub(crate) enum StoreChoice {
    /// Sessions sealed in cookies.
    #[default]
    Cookies,
    /// A new [`MemoryStore`].
    Memory,
    /// A `RedisStore` connected to this URL.
    #[cfg(feature = "redis")]
    Redis(crate::Secret),
    /// A store given in code, and its coordination when it is one.
    Given(
        std::sync::Arc<dyn DynStore>,
        Option<std::sync::Arc<dyn DynCoordination>>,
    ),
}

impl fmt::Debug for StoreChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cookies => "Cookies",
            Self::Memory => "Memory",
            #[cfg(feature = "redis")]
            Self::Redis(_) => "Redis",
            Self::Given(..) => "Given",
        })
    }
}

impl StoreChoice {
    /// A store given in code, with the coordination it offers (a `MemoryStore` or a
    /// `RedisStore` coordinates the layers that share it).
    pub(crate) fn given<S: SessionStore>(store: S) -> Self {
        let coordination = coordination_of(&store);
        Self::Given(std::sync::Arc::new(store), coordination)
    }

    /// The store, connected (`None` for cookies), and the coordination it offers.
    pub(crate) async fn open(self) -> Result<Opened, crate::ConfigError> {
        Ok(match self {
            Self::Cookies => (None, None),
            Self::Memory => {
                let store = MemoryStore::new();
                (
                    Some(std::sync::Arc::new(store.clone())),
                    Some(std::sync::Arc::new(store)),
                )
            }
            #[cfg(feature = "redis")]
            Self::Redis(url) => {
                let store = connect_redis("LOGI_SESSION_STORE", &url).await?;
                (
                    Some(std::sync::Arc::new(store.clone())),
                    Some(std::sync::Arc::new(store)),
                )
            }
            Self::Given(store, coordination) => (Some(store), coordination),
        })
    }
}

/// An opened session store and its coordination.
pub(crate) type Opened = (
    Option<std::sync::Arc<dyn DynStore>>,
    Option<std::sync::Arc<dyn DynCoordination>>,
);

/// The [`Coordination`](crate::store::Coordination) of a store given in code, when it is one of this
/// crate's stores.
fn coordination_of<S: SessionStore>(store: &S) -> Option<std::sync::Arc<dyn DynCoordination>> {
    let any: &dyn std::any::Any = store;
    if let Some(store) = any.downcast_ref::<MemoryStore>() {
        return Some(std::sync::Arc::new(store.clone()));
    }
    #[cfg(feature = "redis")]
    if let Some(store) = any.downcast_ref::<RedisStore>() {
        return Some(std::sync::Arc::new(store.clone()));
    }
    None
}

/// Connects to Redis for `setting`.
#[cfg(feature = "redis")]
async fn connect_redis(
    setting: &'static str,
    url: &crate::Secret,
) -> Result<RedisStore, crate::ConfigError> {
    RedisStore::connect(url.expose())
        .await
        .map_err(|error| crate::ConfigError::Invalid {
            setting,
            reason: format!("cannot connect to Redis ({error})"),
        })
}

/// The [`Coordination`](crate::store::Coordination) a [`LogiLayerBuilder`](crate::LogiLayerBuilder)
/// was given, opened when the layer is built.
#[derive(Clone)]
pub(crate) enum CoordinationChoice {
    /// A `RedisStore` connected to this URL (`LOGI_COORDINATION`).
    #[cfg(feature = "redis")]
    Redis(crate::Secret),
    /// Given in code.
    Given(std::sync::Arc<dyn DynCoordination>),
}

impl fmt::Debug for CoordinationChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            #[cfg(feature = "redis")]
            Self::Redis(_) => "Redis",
            Self::Given(_) => "Given",
        })
    }
}

impl CoordinationChoice {
    /// Connected.
    pub(crate) async fn open(
        self,
    ) -> Result<std::sync::Arc<dyn DynCoordination>, crate::ConfigError> {
        Ok(match self {
            #[cfg(feature = "redis")]
            Self::Redis(url) => {
                std::sync::Arc::new(connect_redis("LOGI_COORDINATION", &url).await?)
            }
            Self::Given(coordination) => coordination,
        })
    }
}
