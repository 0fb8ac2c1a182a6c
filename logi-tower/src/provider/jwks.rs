//! The provider's signing keys: fetched from `jwks_uri`, cached, refetched with care.
//!
//! Every verification path (ID tokens, access tokens, logout tokens) shares one [`Jwks`].
//!
//! - Only keys that can verify RS256 are kept: `kty` = `RSA`, `use` absent or `sig`, `alg`
//!   absent or `RS256`, with a `kid`.
//! - The set is cached for the response's `Cache-Control: max-age` (default one hour).
//! - A token whose `kid` is cached never waits on the provider: when the cached set is stale it
//!   is still used, and refreshed in the background (stale-while-revalidate). When the endpoint
//!   is slow, hangs or is down, the keys already cached keep working.
//! - A token whose `kid` is unknown triggers a refetch, shared by every caller that needs one
//!   (single-flight), and no fetch starts within [`MIN_REFETCH_INTERVAL`] of the previous one,
//!   so a flood of forged `kid`s costs at most one fetch per interval. Within the interval the
//!   token is refused at once (nobody waits for the floor), and the refetch is scheduled for
//!   when the interval ends. A flood cannot keep a genuine new key out: that refetch runs when
//!   the floor allows, in a task of its own that no caller can cancel (by giving up or
//!   disconnecting), so a key published before then verifies from then on.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tokio::sync::watch;

use super::http::{HttpClient, cache_max_age};
use crate::verify::{VerifyError, VerifyErrorKind};

/// No JWKS fetch starts sooner than this after the previous one, whatever the reason.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How long keys are kept when the provider sends no `Cache-Control: max-age`.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
/// Longest time keys are cached, whatever the provider says.
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The provider's published signing keys, cached and shared by every verifier.
///
/// Cheap to clone: clones share one cache.
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

struct Inner {
    source: Option<(HttpClient, url::Url)>,
    keys: RwLock<KeySet>,
    /// When the last fetch started, and the next one (single-flight).
    fetch: Mutex<FetchState>,
    /// [`MIN_REFETCH_INTERVAL`] unless changed (tests), in milliseconds.
    min_refetch_ms: AtomicU64,
    fetches: AtomicU64,
}

/// What a fetch ended with: `Err` when it failed (or its task died).
type Outcome = Result<(), JwksError>;

#[derive(Default)]
struct FetchState {
    /// When the last fetch started.
    last: Option<Instant>,
    /// The next fetch, waiting for the floor or running, and when it starts: every caller that
    /// needs a fetch shares this one. Cleared by its task when it ends.
    next: Option<(watch::Receiver<Option<Outcome>>, Instant)>,
}

#[derive(Clone, Default)]
struct KeySet {
    keys: HashMap<Box<str>, Arc<ParsedPublicKey>>,
    expires: Option<Instant>,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
        let mut kids: Vec<&str> = keys.keys.keys().map(|k| &**k).collect();
        kids.sort_unstable();
        f.debug_struct("Jwks")
            .field("uri", &self.inner.source.as_ref().map(|(_, u)| u.as_str()))
            .field("kids", &kids)
            .finish()
    }
}

/// A JWKS document could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksError(String);

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unusable JWKS: {}", self.0)
    }
}

impl std::error::Error for JwksError {}

impl Jwks {
    /// Keys fetched from `jwks_uri` on first use and refreshed as described in the module docs.
    pub(crate) fn remote(http: HttpClient, jwks_uri: url::Url) -> Self {
        Self::with_source(Some((http, jwks_uri)), KeySet::default())
    }

    /// A fixed key set that is never refetched (offline verification, tests).
    ///
    /// # Errors
    /// When `json` is not a JWKS document.
    ///
    /// ```
    /// let jwks = logi::provider::Jwks::from_json(br#"{"keys": []}"#).unwrap();
    /// assert_eq!(jwks.kids(), Vec::<String>::new());
    /// ```
    pub fn from_json(json: &[u8]) -> Result<Self, JwksError> {
        let keys = parse_key_set(json)?;
        Ok(Self::with_source(
            None,
            KeySet {
                keys,
                expires: None,
            },
        ))
    }

    fn with_source(source: Option<(HttpClient, url::Url)>, keys: KeySet) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                keys: RwLock::new(keys),
                fetch: Mutex::new(FetchState::default()),
                min_refetch_ms: AtomicU64::new(millis(MIN_REFETCH_INTERVAL)),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// The key ids currently cached, sorted.
    #[must_use]
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.read().keys.keys().map(|k| k.to_string()).collect();
        kids.sort_unstable();
        kids
    }

    /// How many times the key set was fetched from the provider.
    #[must_use]
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Changes the shortest time between two fetches (default [`MIN_REFETCH_INTERVAL`], 30 s).
    ///
    /// Lowering it lets a rotated key be picked up sooner, at the price of letting tokens with
    /// made-up `kid`s cause more fetches. Tests use it to avoid waiting. A refetch already
    /// scheduled keeps its time.
    pub fn set_min_refetch_interval(&self, interval: Duration) {
        self.inner
            .min_refetch_ms
            .store(millis(interval), Ordering::Relaxed);
    }

    fn min_refetch_interval(&self) -> Duration {
        Duration::from_millis(self.inner.min_refetch_ms.load(Ordering::Relaxed))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        // A panic while holding the lock cannot leave the set half-written (it is replaced
        // whole), so a poisoned lock is still good to read.
        self.inner.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        self.inner.fetch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches the key set now unless a fetch started within the minimum refetch interval.
    ///
    /// # Errors
    /// When the provider cannot be reached or sends an unusable document; the cached keys are
    /// kept either way.
    pub async fn refresh(&self) -> Result<(), JwksError> {
        if self.inner.source.is_none() {
            return Ok(());
        }
        if self.within_floor(&self.state()) {
            return Ok(());
        }
        match self.next_fetch() {
            Some((next, _)) => self.wait(next).await,
            None => Err(no_runtime()),
        }
    }

    /// The key for `kid` when it is cached, without waiting: `None` only when it is not (then
    /// [`key`](Self::key) waits for a fetch). A stale set is still used, and refreshed in the
    /// background.
    pub(crate) fn cached_key(&self, kid: &str) -> Option<Arc<ParsedPublicKey>> {
        let (key, stale) = {
            let set = self.read();
            let key = Arc::clone(set.keys.get(kid)?);
            (key, set.expires.is_some_and(|e| Instant::now() >= e))
        };
        if stale {
            // Scheduled at most once at a time, and not before the floor allows.
            let _ = self.next_fetch();
        }
        Some(key)
    }

    /// The key for `kid`: from the cache, or after the next fetch (see the module docs).
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<ParsedPublicKey>, VerifyError> {
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        if self.inner.source.is_none() {
            return Err(unknown_kid());
        }
        let fetched = match self.next_fetch() {
            // Due now, or running: wait for it.
            Some((next, starts)) if starts <= Instant::now() => self.wait(next).await,
            // Scheduled for when the floor allows: refused now, usable from then on.
            Some(_) => Err(JwksError("refetched recently".to_owned())),
            None => Err(no_runtime()),
        };
        let set = self.read();
        match (set.keys.get(kid), fetched) {
            (Some(key), _) => Ok(Arc::clone(key)),
            (None, Err(_)) if set.keys.is_empty() => Err(VerifyError::new(
                VerifyErrorKind::Unavailable,
                "the provider's signing keys could not be fetched",
            )),
            (None, _) => Err(unknown_kid()),
        }
    }

    fn within_floor(&self, state: &FetchState) -> bool {
        state
            .last
            .is_some_and(|t| t.elapsed() < self.min_refetch_interval())
    }

    /// The next fetch: the one scheduled or running, or a new one, started as soon as the floor
    /// allows in a task of its own (so that no caller, by giving up, cancels what the others
    /// wait for). With when it starts. `None` without a source, or outside a Tokio runtime.
    fn next_fetch(&self) -> Option<(watch::Receiver<Option<Outcome>>, Instant)> {
        self.inner.source.as_ref()?;
        let mut state = self.state();
        if let Some((next, starts)) = &state.next {
            return Some((next.clone(), *starts));
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let delay = state.last.map_or(Duration::ZERO, |last| {
            (last + self.min_refetch_interval()).saturating_duration_since(Instant::now())
        });
        let starts = Instant::now() + delay;
        let (tx, rx) = watch::channel(None);
        state.next = Some((rx.clone(), starts));
        drop(state);
        let jwks = self.clone();
        runtime.spawn(async move {
            // Clears `next` however the task ends (a panic included: waiters then see the
            // sender gone), so that a later caller schedules a new fetch.
            let clear = ClearNext(&jwks);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            jwks.state().last = Some(Instant::now());
            let outcome = jwks.fetch_now().await;
            drop(clear);
            let _ = tx.send(Some(outcome));
        });
        Some((rx, starts))
    }

    /// Waits for `next` (due now) to end, bounded by the HTTP timeout.
    async fn wait(&self, mut next: watch::Receiver<Option<Outcome>>) -> Outcome {
        let http_timeout = self
            .inner
            .source
            .as_ref()
            .map_or(Duration::ZERO, |(http, _)| http.timeout());
        let bound = http_timeout + Duration::from_secs(1);
        match tokio::time::timeout(bound, next.wait_for(Option::is_some)).await {
            Ok(Ok(outcome)) => outcome.clone().unwrap_or(Ok(())),
            Ok(Err(_)) => Err(JwksError(
                "the JWKS fetch ended without a result".to_owned(),
            )),
            Err(_) => Err(JwksError("timed out waiting for the JWKS fetch".to_owned())),
        }
    }

    /// Fetches and installs the key set. Only the task [`next_fetch`](Self::next_fetch) spawns
    /// calls it.
    async fn fetch_now(&self) -> Outcome {
        let Some((http, uri)) = &self.inner.source else {
            return Ok(());
        };
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = async {
            let response = http
                .get(uri.clone())
                .await
                .map_err(|e| JwksError(e.to_string()))?;
            let max_age = cache_max_age(&response.headers)
                .unwrap_or(DEFAULT_MAX_AGE)
                .clamp(self.min_refetch_interval(), MAX_MAX_AGE);
            if !response.status.is_success() {
                return Err(JwksError(format!("jwks_uri answered {}", response.status)));
            }
            Ok((parse_key_set(&response.body)?, max_age))
        }
        .await;
        match fetched {
            Ok((keys, max_age)) => {
                tracing::debug!(keys = keys.len(), ?max_age, "fetched the provider's JWKS");
                let set = KeySet {
                    keys,
                    expires: Some(Instant::now() + max_age),
                };
                *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = set;
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "could not fetch the provider's JWKS; keeping cached keys");
                Err(error)
            }
        }
    }
}

/// Clears [`FetchState::next`] when dropped.
struct ClearNext<'a>(&'a Jwks);

impl Drop for ClearNext<'_> {
    fn drop(&mut self) {
        self.0.state().next = None;
    }
}

fn no_runtime() -> JwksError {
    JwksError("fetching keys needs a Tokio runtime".to_owned())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unknown_kid() -> VerifyError {
    VerifyError::new(
        VerifyErrorKind::UnknownKid,
        "no published key has the token's kid",
    )
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

fn parse_key_set(json: &[u8]) -> Result<HashMap<Box<str>, Arc<ParsedPublicKey>>, JwksError> {
    let set: JwkSet = serde_json::from_slice(json)
        .map_err(|e| JwksError(format!("not a JWKS document ({e})")))?;
    let mut keys = HashMap::new();
    for jwk in set.keys {
        let usable = jwk.kty.as_deref() == Some("RSA")
            && jwk.use_.as_deref().is_none_or(|u| u == "sig")
            && jwk.alg.as_deref().is_none_or(|a| a == "RS256");
        let (true, Some(kid), Some(n), Some(e)) = (usable, jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        let (Ok(n), Ok(e)) = (URL_SAFE_NO_PAD.decode(&n), URL_SAFE_NO_PAD.decode(&e)) else {
            tracing::warn!(kid, "skipping a JWKS key whose n or e is not base64url");
            continue;
        };
        // RS256 keys of 2048 to 8192 bits, as the verification algorithm accepts them.
        let bits = n
            .iter()
            .position(|b| *b != 0)
            .map_or(0, |i| (n.len() - i) * 8);
        if !(2048..=8192).contains(&bits) {
            tracing::warn!(kid, bits, "skipping a JWKS key outside 2048 to 8192 bits");
            continue;
        }
        match (RsaPublicKeyComponents {
            n: &n[..],
            e: &e[..],
        })
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        {
            Ok(key) => {
                keys.insert(kid.into_boxed_str(), Arc::new(key));
            }
            Err(_) => tracing::warn!(kid, "skipping a JWKS key that is not a valid RSA key"),
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use crate::provider::jwks::*;

    const N: &str = "tufhavVIe5SH-KUzxGCpWhKz9hy7YJvWiIM7R6nh96_T1aqSxBcWUOkFDk1GvANlVgdbg3P-cdFX90SWzcAjlIcyheWl5KPt-I9oUSpTMVXEZvYIw52mGr11z5CM__8cZJN3-P686tCzJEqUZ9Gb0Rnk4Rpza4--r9kmqs6-LpTTWdRwGjECL9K_3fTFEHaK5WMRZBdn2_x4O_tl-jXrSXx2y_Yy8Cq9OlE0bxrSzC4DVpJeZo9K4-cc48YpCftct7_zs9ksHg6LJx-RBL1ZLEs8yIRD8qT2GSbupk8W6lL8Wob2S5PJhj1E3Dp99bUTuaK19fUjqa47b-1ciNKZaQ";

    #[test]
    fn keeps_only_keys_that_can_verify_rs256() {
        let key = |extra: &str| format!(r#"{{"n":"{N}","e":"AQAB"{extra}}}"#);
        let json = format!(
            r#"{{"keys":[{},{},{},{},{},{},{},{}]}}"#,
            key(r#","kty":"RSA","kid":"ok-sig","use":"sig","alg":"RS256""#),
            key(r#","kty":"RSA","kid":"ok-bare""#),
            key(r#","kty":"RSA","kid":"enc","use":"enc""#),
            key(r#","kty":"RSA","kid":"rs384","alg":"RS384""#),
            key(r#","kty":"EC","kid":"ec""#),
            key(r#","kty":"RSA""#),
            r#"{"kty":"RSA","kid":"bad-n","n":"!!","e":"AQAB"}"#,
            r#"{"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"}"#,
        );
        let jwks = Jwks::from_json(json.as_bytes()).unwrap();
        assert_eq!(jwks.kids(), ["ok-bare", "ok-sig"]);
        assert!(Jwks::from_json(b"{}").is_err());
        assert!(Jwks::from_json(b"not json").is_err());
    }
}
