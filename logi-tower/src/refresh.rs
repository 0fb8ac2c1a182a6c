//! Transparent, rotation-safe token refresh.
//!
//! logi rotates every refresh token and treats a reused one as theft (the whole chain is
//! revoked). A browser sends many requests at once with the same cookie, so:
//!
//! - **Single flight.** At most one refresh per refresh token runs in this process; concurrent
//!   requests wait for it (bounded) and share its outcome. The refresh runs in its own task, so
//!   a request that is cancelled mid-refresh cannot leave the outcome unknown.
//! - **Successor cache.** The outcome is kept for a while (default two minutes) under a hash of
//!   the *spent* refresh token, so requests that arrive later with the old cookie get the
//!   successor tokens (and a fresh cookie) instead of spending the old token again.
//! - **Failure policy.** A conclusive refusal (`invalid_grant`, `invalid_client`, another 4xx)
//!   ends the session. A transient failure (no answer, 5xx, 429) keeps it: the request goes on
//!   while the access token is still valid, and is answered 503 when it is not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use tokio::sync::watch;

use crate::Checks;
use crate::Secret;
use crate::layer::{Shared, Web};
use crate::provider::CallError;
use crate::session::data::SessionData;

/// How long a waiting request waits for a refresh in flight before treating it as transient.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Most spent refresh tokens remembered at once.
const MAX_SUCCESSORS: usize = 100_000;

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

/// Refresh coordination shared by every request of one layer (see the module docs).
pub(crate) struct Refresher {
    in_flight: Mutex<HashMap<[u8; 32], watch::Receiver<Option<Outcome>>>>,
    successors: Mutex<Successors>,
    keep_successors: Duration,
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
pub(crate) async fn refresh(shared: &Arc<Shared>, session: &SessionData) -> Outcome {
    let Some(refresh_token) = session.rt.as_deref() else {
        return Err(Failure::Conclusive);
    };
    let refresher = &shared.web().refresher;
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
                let shared = Arc::clone(shared);
                let session = session.clone();
                tokio::spawn(async move {
                    let outcome = run(shared.web(), &session).await;
                    shared.web().refresher.finish(key, outcome.clone());
                    let _ = tx.send(Some(outcome));
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

impl Refresher {
    pub(crate) fn new(keep_successors: Duration) -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
            successors: Mutex::new(Successors {
                entries: HashMap::new(),
                inserts: 0,
            }),
            keep_successors,
        }
    }

    fn successor(&self, key: &[u8; 32]) -> Option<Outcome> {
        let successors = self.successors.lock().unwrap_or_else(|e| e.into_inner());
        successors
            .entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.keep_successors)
            .map(|(_, outcome)| outcome.clone())
    }

    /// Records the outcome (except transient failures: the next request tries again) and
    /// retires the in-flight entry, in that order so no request can miss both.
    fn finish(&self, key: [u8; 32], outcome: Outcome) {
        if !matches!(outcome, Err(Failure::Transient { .. })) {
            let mut successors = self.successors.lock().unwrap_or_else(|e| e.into_inner());
            successors.inserts += 1;
            if successors.inserts.is_multiple_of(1024) || successors.entries.len() >= MAX_SUCCESSORS
            {
                let keep = self.keep_successors;
                successors.entries.retain(|_, (at, _)| at.elapsed() < keep);
            }
            if successors.entries.len() < MAX_SUCCESSORS {
                successors.entries.insert(key, (Instant::now(), outcome));
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

/// One refresh at the provider, with the returned ID token checked.
async fn run(shared: &Web, session: &SessionData) -> Outcome {
    let refresh_token = session.rt.as_deref().unwrap_or_default();
    let tokens = match shared.client.refresh(refresh_token).await {
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
        match shared.verifier.verify(id_token.expose(), &checks).await {
            Ok(verified) if verified.subject() == session.sub => {}
            Ok(_) => {
                tracing::warn!(sub = %session.sub, "a refreshed ID token names another user; the session ends");
                return Err(Failure::Conclusive);
            }
            Err(error) if error.kind() == crate::VerifyErrorKind::Unavailable => {
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
        issued_at: crate::flow::unix_now(),
        finished: Instant::now(),
        expires_in: tokens.expires_in.unwrap_or(crate::flow::DEFAULT_EXPIRES_IN),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        id_token: tokens.id_token,
        scope: tokens.scope,
    }))
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
