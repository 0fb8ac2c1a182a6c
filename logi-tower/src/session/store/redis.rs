//! [`RedisStore`]: sessions in Redis, shared by every instance of an app.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use super::{Coordination, SessionId, SessionStore, StoreError, StoredSession};

/// How long [`RedisStore::connect`] waits for Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes a session over the version it replaces, keeps it until its expiry, and indexes it by
/// `sub` and `sid` (sets that live as long as their longest-lived session).
/// KEYS: session, sub set, sid set. ARGV: id, version, expires_at, data, sub, sid ('' for none).
const SAVE: &str = r"
local current = tonumber(redis.call('HGET', KEYS[1], 'v')) or 0
if current + 1 ~= tonumber(ARGV[2]) then return 0 end
local expires_at = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'd', ARGV[4], 'v', ARGV[2], 'e', ARGV[3], 'u', ARGV[5], 'p', ARGV[6])
redis.call('EXPIREAT', KEYS[1], expires_at)
local function index(set)
  redis.call('SADD', set, ARGV[1])
  if redis.call('EXPIRETIME', set) < expires_at then redis.call('EXPIREAT', set, expires_at) end
end
index(KEYS[2])
if ARGV[6] ~= '' then index(KEYS[3]) end
return 1
";

/// Deletes one session and its index entries. KEYS: session. ARGV: prefix, id.
const DELETE: &str = r"
local fields = redis.call('HMGET', KEYS[1], 'u', 'p')
local n = redis.call('DEL', KEYS[1])
if fields[1] then redis.call('SREM', ARGV[1] .. 'sub:' .. fields[1], ARGV[2]) end
if fields[2] and fields[2] ~= '' then redis.call('SREM', ARGV[1] .. 'sid:' .. fields[2], ARGV[2]) end
return n
";

/// Deletes every session in an index set, and their entries in the other index.
/// KEYS: the set. ARGV: prefix, the other index's field ('u' or 'p'), its key part.
const DELETE_SET: &str = r"
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. 's:' .. id
  local other = redis.call('HGET', key, ARGV[2])
  n = n + redis.call('DEL', key)
  if other and other ~= '' then redis.call('SREM', ARGV[1] .. ARGV[3] .. other, id) end
end
redis.call('DEL', KEYS[1])
return n
";

/// The live sessions in an index set, dropping the expired ones from it. KEYS: the set.
/// ARGV: prefix.
const LIST: &str = r"
local live = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 's:' .. id) == 1 then
    table.insert(live, id)
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return live
";

/// Removes a record if it holds the given value. KEYS: the record. ARGV: the value.
const REMOVE_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Sessions in Redis (feature `redis`), shared by every instance of an app.
///
/// One multiplexed connection serves every request of a process and reconnects by itself. Each
/// session is a hash under `{prefix}s:{id}` that Redis expires with the session (the earlier of
/// the idle and absolute timeouts, pushed forward as the session is used); sets under
/// `{prefix}sub:{sub}` and `{prefix}sid:{sid}` find every session of a user or of a provider
/// session. Writes are Lua scripts, so a version check and its write are one step. The default
/// prefix is `logi:`. Keys are not hash-tagged: use a single Redis (or a primary with replicas),
/// not Redis Cluster.
///
/// It is also the instances' [`Coordination`] (refresh locks and successor records under
/// `{prefix}c:…`, with Redis expiries): a layer whose session store is a `RedisStore`
/// coordinates through it, and a layer with cookie sessions can be given one with
/// [`LogiLayerBuilder::coordination`](crate::LogiLayerBuilder::coordination).
///
/// A command that gets no answer within 500 ms fails (the `redis` crate's default): requests
/// that need the user then get 503 with `Retry-After`, and the session is kept.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = logi::store::RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// let logi = logi::LogiLayer::builder().session_store(store);
/// # let _ = logi; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
}

/// A session hash's fields `d`, `v`, `e`, `u`, `p`, as `HMGET` returns them.
type Fields = (
    Option<Vec<u8>>,
    Option<u64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

struct Scripts {
    save: Script,
    delete: Script,
    delete_set: Script,
    list: Script,
    remove_if: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`, or `rediss://`
    /// when the `redis` crate is built with TLS).
    ///
    /// # Errors
    /// When the URL is not a Redis URL, or Redis cannot be reached within 5 seconds.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::unavailable)?;
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, client.get_connection_manager())
            .await
            .map_err(|_| StoreError::unavailable("timed out connecting to Redis"))?
            .map_err(StoreError::unavailable)?;
        Ok(Self {
            connection,
            prefix: Arc::from("logi:"),
            scripts: Arc::new(Scripts {
                save: Script::new(SAVE),
                delete: Script::new(DELETE),
                delete_set: Script::new(DELETE_SET),
                list: Script::new(LIST),
                remove_if: Script::new(REMOVE_IF),
            }),
        })
    }

    /// The prefix of every key this store writes (default `logi:`), to share a Redis between
    /// apps.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    fn key(&self, kind: &str, name: &str) -> String {
        format!("{}{kind}{name}", self.prefix)
    }

    async fn delete_set(
        &self,
        set: String,
        other_field: &str,
        other_kind: &str,
    ) -> Result<usize, StoreError> {
        let mut connection = self.connection.clone();
        self.scripts
            .delete_set
            .key(set)
            .arg(&*self.prefix)
            .arg(other_field)
            .arg(other_kind)
            .invoke_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)
    }
}

impl SessionStore for RedisStore {
    async fn load(&self, id: &SessionId) -> Result<Option<StoredSession>, StoreError> {
        let mut connection = self.connection.clone();
        let (data, version, expires_at, sub, sid): Fields = redis::cmd("HMGET")
            .arg(self.key("s:", id.as_str()))
            .arg(&["d", "v", "e", "u", "p"])
            .query_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(match (data, version, expires_at, sub) {
            (Some(data), Some(version), Some(expires_at), Some(sub)) => Some(StoredSession::new(
                data,
                version,
                expires_at,
                sub,
                sid.filter(|s| !s.is_empty()),
            )),
            _ => None,
        })
    }

    async fn save(&self, id: &SessionId, session: &StoredSession) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let written: i64 = self
            .scripts
            .save
            .key(self.key("s:", id.as_str()))
            .key(self.key("sub:", session.sub()))
            .key(self.key("sid:", session.sid().unwrap_or_default()))
            .arg(id.as_str())
            .arg(session.version())
            .arg(session.expires_at())
            .arg(session.data())
            .arg(session.sub())
            .arg(session.sid().unwrap_or_default())
            .invoke_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        if written == 1 {
            Ok(())
        } else {
            Err(StoreError::conflict())
        }
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let _: i64 = self
            .scripts
            .delete
            .key(self.key("s:", id.as_str()))
            .arg(&*self.prefix)
            .arg(id.as_str())
            .invoke_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    async fn delete_by_sub(&self, sub: &str) -> Result<usize, StoreError> {
        self.delete_set(self.key("sub:", sub), "p", "sid:").await
    }

    async fn delete_by_sid(&self, sid: &str) -> Result<usize, StoreError> {
        self.delete_set(self.key("sid:", sid), "u", "sub:").await
    }

    async fn list_by_sub(&self, sub: &str) -> Result<Vec<SessionId>, StoreError> {
        let mut connection = self.connection.clone();
        let ids: Vec<String> = self
            .scripts
            .list
            .key(self.key("sub:", sub))
            .arg(&*self.prefix)
            .invoke_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(ids.into_iter().map(SessionId::from_stored).collect())
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Coordination for RedisStore {
    async fn insert_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let stored: Option<String> = redis::cmd("SET")
            .arg(self.key("c:", key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(stored.is_some())
    }

    async fn insert(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let _: () = redis::cmd("SET")
            .arg(self.key("c:", key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("GET")
            .arg(self.key("c:", key))
            .query_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("MGET");
        for key in keys {
            command.arg(self.key("c:", key));
        }
        command
            .query_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn remove_if(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let removed: i64 = self
            .scripts
            .remove_if
            .key(self.key("c:", key))
            .arg(value)
            .invoke_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(removed == 1)
    }
}
