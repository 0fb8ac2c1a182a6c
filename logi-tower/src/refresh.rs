//! Transparent, rotation-safe token refresh.
//!
//! logi rotates every refresh token and treats a reused one as theft (the whole chain is
//! revoked). A browser sends many requests at once with the same cookie, so:
//!
//! - **Single flight.** At most one refresh per refresh token runs in this process; concurrent
//!   requests wait for it (bounded) and share its outcome. The refresh runs in its own task, so
//!   a request that is cancelled mid-refresh cannot leave the outcome unknown. Should that task
//!   itself end without an outcome (a panic, say in an app's `Coordination`, or the runtime
//!   cancelling it), a drop guard answers its waiters with a transient failure and retires the
//!   flight (and releases its lock across instances), so the session's next request refreshes
//!   afresh instead of waiting on a refresh that will never finish.
//! - **Successor cache.** The outcome is kept for a while (the successor window,
//!   [`LogiLayerBuilder::refresh_successor_window`](crate::LogiLayerBuilder::refresh_successor_window),
//!   default two minutes) under a hash of the *spent* refresh token, so requests that arrive
//!   later with the old cookie (one written back by a request that started before the
//!   refresh, say) get the successor tokens (and a fresh cookie) instead of spending the old
//!   token again.
//! - **Across instances.** With a [`Coordination`](crate::store::Coordination) (Redis), the instances
//!   agree too: the refresh takes a lock per refresh token (it expires, so a crashed holder
//!   cannot wedge a session), and publishes its outcome, sealed with the session keys, as the
//!   successor record the other instances read instead of spending the token again. An
//!   instance that finds the lock taken waits for the record (bounded). When the coordination
//!   cannot be reached, no instance refreshes (spending the token uncoordinated could end the
//!   session): the failure counts as transient.
//! - **Failure policy.** A conclusive refusal (`invalid_grant`, `invalid_client`, another 4xx)
//!   ends the session. A transient failure (no answer, 5xx, 429) keeps it: the request goes on
//!   while the access token is still valid, and is answered 503 when it is not.
//!   [`refresh_due`] applies it ([`Verdict`]); the request path only carries out the verdict.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::Secret;
use crate::provider::CallError;
use crate::provider::OidcClient;
use crate::session::cookie::Sealer;
use crate::session::data::SessionData;
use crate::session::store::DynCoordination;
use crate::verify::IdTokenChecks as Checks;
use crate::verify::IdTokenVerifier;

/// How long a waiting request waits for a refresh in flight before treating it as transient.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Most spent refresh tokens remembered at once.
const MAX_SUCCESSORS: usize = 100_000;
/// How often an instance waiting for another instance's refresh looks for its outcome, at
/// first and at most.
const POLL_FIRST: Duration = Duration::from_millis(10);
const POLL_MAX: Duration = Duration::from_millis(200);

/// The tokens a refresh produced.
pub(crate) struct Refreshed {
    /// When the provider issued them (Unix seconds): expiry counts from here, not from when a
    /// later request picks them up from the successor cache.
    issued_at: i64,
    /// When the refresh finished, to tell a fresh refresh from a remembered one.
    pub(crate) finished: Instant,
    access_token: Secret,
    expires_in: u64,
    refresh_token: Option<Secret>,
    id_token: Option<Secret>,
    scope: Option<String>,
}

/// Why a refresh did not produce tokens.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    /// The session cannot be refreshed, ever: it ends.
    Conclusive,
    /// Worth trying again later; `retry_after` when the provider said.
    Transient { retry_after: Option<Duration> },
}

type Outcome = Result<Arc<Refreshed>, Failure>;

/// What a refresh needs from the layer's state, which implements it: the refresher, the provider
/// client and ID-token verifier, the coordination, and the sealer of the successor records it
/// shares there. This module names no layer type.
pub(crate) trait Source: Send + Sync + 'static {
    fn refresher(&self) -> &Refresher;
    fn client(&self) -> &OidcClient;
    fn verifier(&self) -> &IdTokenVerifier;
    fn coordination(&self) -> Option<&Arc<dyn DynCoordination>>;
    fn records(&self) -> &Sealer;
}

/// Refresh coordination shared by every request of one layer (see the module docs).
pub(crate) struct Refresher {
    in_flight: Mutex<HashMap<[u8; 32], watch::Receiver<Option<Outcome>>>>,
    successors: Mutex<Successors>,
    keep_successors: Duration,
    /// How far this refresher's clock runs ahead of the real one, in milliseconds: moved only
    /// by [`advance_refresh_clock`](crate::testing::advance_refresh_clock), so tests of a
    /// window of minutes need not wait for it.
    #[cfg(feature = "testing")]
    skew_ms: std::sync::atomic::AtomicU64,
}

struct Successors {
    entries: HashMap<[u8; 32], (Instant, Outcome)>,
    inserts: usize,
}

fn key(refresh_token: &str) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, refresh_token.as_bytes());
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// The outcome of refreshing `session`'s tokens: from the successor cache, from a refresh
/// already in flight, or from a new one.
pub(crate) async fn refresh<S: Source>(shared: &Arc<S>, session: &SessionData) -> Outcome {
    let Some(refresh_token) = session.rt.as_deref() else {
        return Err(Failure::Conclusive);
    };
    let refresher = shared.refresher();
    let key = key(refresh_token);
    if let Some(outcome) = refresher.successor(&key) {
        return outcome;
    }
    let mut rx = {
        let mut in_flight = refresher
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Checked again under the lock: a refresh may have finished in between.
        if let Some(outcome) = refresher.successor(&key) {
            return outcome;
        }
        match in_flight.get(&key) {
            Some(rx) => rx.clone(),
            None => {
                let (tx, rx) = watch::channel(None);
                in_flight.insert(key, rx.clone());
                let flight = Flight {
                    shared: Arc::clone(shared),
                    key,
                    tx: Some(tx),
                };
                let shared = Arc::clone(shared);
                let session = session.clone();
                tokio::spawn(async move {
                    let outcome = coordinated(&*shared, &session, &key).await;
                    flight.land(outcome);
                });
                rx
            }
        }
    };
    match tokio::time::timeout(MAX_WAIT, rx.wait_for(Option::is_some)).await {
        Ok(Ok(outcome)) => outcome.clone().expect("waited for Some"),
        // The task ended without an outcome (it panicked) or took too long.
        _ => Err(Failure::Transient { retry_after: None }),
    }
}

/// One refresh in flight, held by the task that runs it. Whatever ends the task, its waiters
/// are answered and the in-flight entry retired: with the outcome ([`land`](Self::land)), or,
/// when the task is dropped without one (it panicked or was cancelled), with a transient
/// failure, so the session's next request starts a new refresh.
struct Flight<S: Source> {
    shared: Arc<S>,
    key: [u8; 32],
    tx: Option<watch::Sender<Option<Outcome>>>,
}

impl<S: Source> Flight<S> {
    fn land(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(tx) = self.tx.take() {
            self.shared.refresher().finish(self.key, outcome.clone());
            let _ = tx.send(Some(outcome));
        }
    }
}

impl<S: Source> Drop for Flight<S> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            tracing::error!(
                "a token refresh ended without an outcome (it panicked or was cancelled); releasing the requests waiting for it"
            );
            self.finish(Err(Failure::Transient { retry_after: None }));
        }
    }
}

/// The refresh lock an instance holds in the coordination. Released by
/// [`release`](Self::release) once the outcome is published; when dropped still held (the
/// refresh panicked or was cancelled), released by a task of its own, so the other requests
/// need not wait for it to expire.
struct HeldLock {
    coordination: Arc<dyn DynCoordination>,
    key: String,
    holder: [u8; 16],
    held: bool,
}

impl HeldLock {
    async fn release(mut self) {
        self.held = false;
        if let Err(error) = self.coordination.remove_if(&self.key, &self.holder).await {
            tracing::warn!(%error, "could not release a refresh lock; it expires by itself");
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        // Without a runtime (it is shutting down) the lock expires by itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (coordination, key, holder) = (
                Arc::clone(&self.coordination),
                std::mem::take(&mut self.key),
                self.holder,
            );
            runtime.spawn(async move {
                let _ = coordination.remove_if(&key, &holder).await;
            });
        }
    }
}

impl Refresher {
    pub(crate) fn new(keep_successors: Duration) -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
            successors: Mutex::new(Successors {
                entries: HashMap::new(),
                inserts: 0,
            }),
            keep_successors,
            #[cfg(feature = "testing")]
            skew_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Now, on this refresher's clock (the real one but in tests).
    fn now(&self) -> Instant {
        #[cfg(feature = "testing")]
        {
            let skew = self.skew_ms.load(std::sync::atomic::Ordering::Relaxed);
            Instant::now() + Duration::from_millis(skew)
        }
        #[cfg(not(feature = "testing"))]
        Instant::now()
    }

    /// Moves this refresher's clock forward by `by` (tests only).
    #[cfg(feature = "testing")]
    pub(crate) fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skew_ms
            .fetch_add(by, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether an outcome recorded `at` is still within the successor window.
    fn within_window(&self, at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(at) < self.keep_successors
    }

    fn successor(&self, key: &[u8; 32]) -> Option<Outcome> {
        let now = self.now();
        let successors = self.successors.lock().unwrap_or_else(|e| e.into_inner());
        successors
            .entries
            .get(key)
            .filter(|(at, _)| self.within_window(*at, now))
            .map(|(_, outcome)| outcome.clone())
    }

    /// Records the outcome (except transient failures: the next request tries again) and
    /// retires the in-flight entry, in that order so no request can miss both.
    fn finish(&self, key: [u8; 32], outcome: Outcome) {
        if !matches!(outcome, Err(Failure::Transient { .. })) {
            let now = self.now();
            let mut successors = self.successors.lock().unwrap_or_else(|e| e.into_inner());
            successors.inserts += 1;
            if successors.inserts.is_multiple_of(1024) || successors.entries.len() >= MAX_SUCCESSORS
            {
                successors
                    .entries
                    .retain(|_, (at, _)| self.within_window(*at, now));
            }
            if successors.entries.len() < MAX_SUCCESSORS {
                successors.entries.insert(key, (now, outcome));
            } else {
                tracing::warn!("too many refreshes in the last minutes to remember them all");
            }
        }
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
}

/// The outcome of refreshing `session`, agreed with the app's other instances when there is a
/// [`Coordination`](crate::store::Coordination) (see the module docs); else [`run`] alone.
async fn coordinated(web: &impl Source, session: &SessionData, key: &[u8; 32]) -> Outcome {
    let Some(coordination) = web.coordination() else {
        return run(web, session).await;
    };
    let name = hex(key);
    let (lock, record) = (
        format!("refresh:lock:{name}"),
        format!("refresh:next:{name}"),
    );
    let holder = holder_id();
    // The lock outlives the longest refresh (the token call, then perhaps a JWKS fetch to check
    // the new ID token), so it never lapses while its holder is still at the provider.
    let lock_ttl = web.client().http.timeout() * 2 + Duration::from_secs(5);
    let unreachable = |error: &crate::store::StoreError| {
        tracing::warn!(%error, "cannot coordinate a token refresh with the other instances; not refreshing now");
        Err(Failure::Transient { retry_after: None })
    };
    let deadline = Instant::now() + MAX_WAIT;
    let mut pause = POLL_FIRST;
    loop {
        match coordination.get(&record).await {
            Ok(Some(sealed)) => {
                if let Some(outcome) = open_record(web, &record, &sealed) {
                    return outcome;
                }
            }
            Ok(None) => {}
            Err(error) => return unreachable(&error),
        }
        match coordination
            .insert_if_absent(&lock, &holder, lock_ttl)
            .await
        {
            Ok(true) => break,
            Ok(false) if Instant::now() + pause < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(POLL_MAX);
            }
            Ok(false) => {
                tracing::warn!("another instance's token refresh did not finish in time");
                return Err(Failure::Transient { retry_after: None });
            }
            Err(error) => return unreachable(&error),
        }
    }
    let held = HeldLock {
        coordination: Arc::clone(coordination),
        key: lock,
        holder,
        held: true,
    };
    // Holding the lock. The holder before may have published its outcome and released the
    // lock just after this instance looked: look once more before spending the token.
    let outcome = match coordination.get(&record).await {
        Ok(Some(sealed)) => open_record(web, &record, &sealed),
        Ok(None) => None,
        Err(error) => Some(unreachable(&error)),
    };
    let outcome = match outcome {
        Some(outcome) => outcome,
        None => {
            let outcome = run(web, session).await;
            if let Some(sealed) = seal_record(web, &record, &outcome) {
                let keep = web.refresher().keep_successors;
                if let Err(error) = coordination.insert(&record, sealed.as_bytes(), keep).await {
                    // This instance has the new tokens; the others will find the session's
                    // refresh token spent. Nothing better can be done now.
                    tracing::error!(%error, "could not share a token refresh with the other instances");
                }
            }
            outcome
        }
    };
    held.release().await;
    outcome
}

/// A refresh's outcome as the other instances read it.
#[derive(Serialize, Deserialize)]
enum Record {
    Tokens {
        issued_at: i64,
        /// When the refresh finished, Unix milliseconds.
        finished_ms: u128,
        access_token: String,
        expires_in: u64,
        refresh_token: Option<String>,
        id_token: Option<String>,
        scope: Option<String>,
    },
    Conclusive,
}

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// The outcome, sealed with the session keys and bound to its record's name; `None` for a
/// transient failure (the next request tries again).
fn seal_record(web: &impl Source, name: &str, outcome: &Outcome) -> Option<String> {
    let record = match outcome {
        Ok(tokens) => Record::Tokens {
            issued_at: tokens.issued_at,
            finished_ms: unix_millis().saturating_sub(tokens.finished.elapsed().as_millis()),
            access_token: tokens.access_token.expose().to_owned(),
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            id_token: tokens.id_token.as_ref().map(|t| t.expose().to_owned()),
            scope: tokens.scope.clone(),
        },
        Err(Failure::Conclusive) => Record::Conclusive,
        Err(Failure::Transient { .. }) => return None,
    };
    let json = serde_json::to_vec(&record).ok()?;
    Some(web.records().seal(name, &json))
}

/// Another instance's outcome; `None` when the record cannot be opened (sealed with keys this
/// instance does not have, or damaged), which is treated as no record.
fn open_record(web: &impl Source, name: &str, sealed: &[u8]) -> Option<Outcome> {
    let opened = std::str::from_utf8(sealed)
        .ok()
        .and_then(|sealed| web.records().open(name, sealed));
    let Some(record) = opened.and_then(|json| serde_json::from_slice::<Record>(&json).ok()) else {
        tracing::warn!("ignoring a refresh record this instance cannot open");
        return None;
    };
    Some(match record {
        Record::Conclusive => Err(Failure::Conclusive),
        Record::Tokens {
            issued_at,
            finished_ms,
            access_token,
            expires_in,
            refresh_token,
            id_token,
            scope,
        } => {
            let age = u64::try_from(unix_millis().saturating_sub(finished_ms)).unwrap_or(u64::MAX);
            let finished = Instant::now()
                .checked_sub(Duration::from_millis(age))
                .unwrap_or_else(Instant::now);
            Ok(Arc::new(Refreshed {
                issued_at,
                finished,
                access_token: Secret::new(access_token),
                expires_in,
                refresh_token: refresh_token.map(Secret::new),
                id_token: id_token.map(Secret::new),
                scope,
            }))
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A random value naming this lock holder, so only it releases its lock.
fn holder_id() -> [u8; 16] {
    let mut id = [0_u8; 16];
    aws_lc_rs::rand::fill(&mut id).expect("the system random generator works");
    id
}

/// One refresh at the provider, with the returned ID token checked.
async fn run(shared: &impl Source, session: &SessionData) -> Outcome {
    let refresh_token = session.rt.as_deref().unwrap_or_default();
    let tokens = match shared.client().refresh(refresh_token).await {
        Ok(tokens) => tokens,
        Err(error) => {
            let request_id = error.provider_error().and_then(|e| e.request_id.clone());
            if error.is_transient() {
                tracing::warn!(%error, request_id, sub = %session.sub, "token refresh failed; keeping the session");
                let retry_after = match &error {
                    CallError::Status { retry_after, .. } => *retry_after,
                    _ => None,
                };
                return Err(Failure::Transient { retry_after });
            }
            tracing::info!(%error, request_id, sub = %session.sub, "token refresh refused; the session ends");
            return Err(Failure::Conclusive);
        }
    };
    if let Some(id_token) = &tokens.id_token {
        let mut checks = Checks::new().access_token(tokens.access_token.expose());
        if let Some(nonce) = &session.nonce {
            checks = checks.nonce_if_present(nonce);
        }
        match shared.verifier().verify(id_token.expose(), &checks).await {
            Ok(verified) if verified.subject() == session.sub => {}
            Ok(_) => {
                tracing::warn!(sub = %session.sub, "a refreshed ID token names another user; the session ends");
                return Err(Failure::Conclusive);
            }
            Err(error) if error.kind() == crate::verify::VerifyErrorKind::Unavailable => {
                tracing::warn!(%error, "cannot check the refreshed ID token now");
                return Err(Failure::Transient { retry_after: None });
            }
            Err(error) => {
                tracing::warn!(
                    code = error.code(),
                    "a refreshed ID token failed verification; the session ends"
                );
                return Err(Failure::Conclusive);
            }
        }
    }
    tracing::debug!(sub = %session.sub, "refreshed the session's tokens");
    Ok(Arc::new(Refreshed {
        issued_at: crate::clock::unix_now(),
        finished: Instant::now(),
        expires_in: tokens
            .expires_in
            .unwrap_or(crate::provider::DEFAULT_EXPIRES_IN),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        id_token: tokens.id_token,
        scope: tokens.scope,
    }))
}

/// How many remembered refreshes one request follows along a session's chain.
const MAX_CHAIN: usize = 4;

/// What refreshing a due session makes of the request: the failure policy.
pub(crate) enum Verdict {
    /// Refreshed: the session with its new tokens, seen now, to write back and use.
    Refreshed(SessionData),
    /// The provider is unreachable and the access token still valid: the session is used as
    /// it is, and nothing is written back.
    Proceed(SessionData),
    /// The provider is unreachable and the access token has expired: 503, retry after this
    /// (the provider's hint; the refusal's default when it gave none). The session is kept.
    Unavailable(Option<Duration>),
    /// A conclusive refusal: the session ends.
    End,
}

/// Refreshes a session that [`is_due`], following the tokens remembered from earlier refreshes
/// of it along the chain, and decides with the [failure policy](Verdict) what becomes of it.
pub(crate) async fn refresh_due<S: Source>(
    shared: &Arc<S>,
    mut data: SessionData,
    now: i64,
    margin: Duration,
) -> Verdict {
    let started = Instant::now();
    let mut outcome = refresh(shared, &data).await;
    // Tokens remembered from an earlier refresh of this session may be due again by now (a
    // request that carried a very old cookie): refresh along the chain, a bounded number of times.
    for _ in 0..MAX_CHAIN {
        match &outcome {
            Ok(tokens) if tokens.finished < started => {
                tokens.apply(&mut data);
                if !is_due(&data, now, margin) {
                    break;
                }
                outcome = refresh(shared, &data).await;
            }
            _ => break,
        }
    }
    match outcome {
        Ok(tokens) => {
            tokens.apply(&mut data);
            data.seen = now;
            Verdict::Refreshed(data)
        }
        Err(Failure::Conclusive) => Verdict::End,
        Err(Failure::Transient { .. }) if data.at_exp > now => Verdict::Proceed(data),
        Err(Failure::Transient { retry_after }) => Verdict::Unavailable(retry_after),
    }
}

/// Whether `session`'s access token is due for a refresh at `now`: within `margin` of expiry,
/// the margin capped at a quarter of the token's lifetime.
pub(crate) fn is_due(session: &SessionData, now: i64, margin: Duration) -> bool {
    let lifetime = session.at_exp.saturating_sub(session.at_iat).max(0);
    let margin = i64::try_from(margin.as_secs())
        .unwrap_or(i64::MAX)
        .min(lifetime / 4);
    now >= session.at_exp.saturating_sub(margin)
}

impl Refreshed {
    /// Puts the new tokens into `session` (a refresh token not rotated by the provider stays).
    pub(crate) fn apply(&self, session: &mut SessionData) {
        session.at = self.access_token.expose().to_owned();
        session.at_iat = self.issued_at;
        session.at_exp = self
            .issued_at
            .saturating_add(i64::try_from(self.expires_in).unwrap_or(i64::MAX));
        if let Some(rt) = &self.refresh_token {
            session.rt = Some(rt.expose().to_owned());
        }
        if let Some(idt) = &self.id_token {
            session.idt = Some(idt.expose().to_owned());
        }
        if let Some(scope) = &self.scope {
            session.scope.clone_from(scope);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(at_iat: i64, at_exp: i64) -> SessionData {
        serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": "s", "at": "a", "at_iat": at_iat, "at_exp": at_exp, "created": 0, "seen": 0
        }))
        .unwrap()
    }

    #[test]
    fn refreshes_within_the_margin_capped_at_a_quarter_of_the_lifetime() {
        let margin = Duration::from_secs(60);
        // A one-hour token: refreshed in its last minute.
        let s = session(0, 3600);
        assert!(!is_due(&s, 3539, margin));
        assert!(is_due(&s, 3540, margin));
        // A two-minute token: the margin shrinks to 30 s, so it is not refreshed on every request.
        let s = session(0, 120);
        assert!(!is_due(&s, 89, margin));
        assert!(is_due(&s, 90, margin));
        // Expired is always due.
        assert!(is_due(&session(0, 2), 2, margin));
        assert!(!is_due(&session(0, 2), 1, margin));
    }
}
