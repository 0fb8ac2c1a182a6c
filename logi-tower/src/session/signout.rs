//! Ending sessions from the server: every session of a user (`sub`) or of a provider session
//! (`sid`), for back-channel logout, the sessions API and webhooks.
//!
//! Sessions in a store are deleted there. Sealed cookie sessions live in browsers, out of
//! reach: the user or provider session goes on a denylist instead, with the time of the
//! sign-out (to the millisecond), and a cookie session created at or before that time is
//! signed out when it is next presented (one created after it, by signing in again, is not).
//! The denylist is the instances' [`Coordination`](super::store::Coordination) when there is
//! one (`out:sub:…` and `out:sid:…` records, kept for the absolute session timeout), so that
//! every instance refuses the cookie; else it is this process's memory, bounded. Keys name a
//! SHA-256 of the `sub` or `sid`, never the value itself.
//!
//! The same module remembers the `jti` of every logout token until it expires (`jti:…` records,
//! or memory), so a logout token is acted on once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::data::SessionData;
use super::manager::Loaded;
use super::store::{DynCoordination, StoreError};
use crate::flow::unix_now_ms;
use crate::layer::Web;

/// Most users and provider sessions the in-memory denylist holds, and most `jti`s remembered.
const MAX_ENTRIES: usize = 100_000;

/// Whose sessions end.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Whose<'a> {
    /// Every session of the user `sub`.
    User(&'a str),
    /// Every session signed in through the provider session `sid`.
    ProviderSession(&'a str),
}

impl Whose<'_> {
    fn key(self) -> String {
        match self {
            Self::User(sub) => format!("out:sub:{}", hash(sub)),
            Self::ProviderSession(sid) => format!("out:sid:{}", hash(sid)),
        }
    }
}

/// base64url of SHA-256: a short key that does not show the value.
fn hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, value.as_bytes()))
}

/// The sign-outs and logout tokens this process remembers itself (when there is no
/// coordination).
pub(crate) struct SignOuts {
    denylist: Denylist,
    jtis: Mutex<HashMap<String, i64>>,
    /// How long a sign-out is remembered: the absolute session timeout, after which no session
    /// created before it is alive.
    keep: i64,
}

/// Users and provider sessions signed out, each with the time of the sign-out (Unix
/// milliseconds) and when it can be forgotten (Unix seconds).
#[derive(Default)]
struct Denylist {
    /// How many entries there are, read without the lock: an empty denylist costs one atomic load.
    len: AtomicUsize,
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    subs: HashMap<String, (i64, i64)>,
    sids: HashMap<String, (i64, i64)>,
}

impl Entries {
    fn len(&self) -> usize {
        self.subs.len() + self.sids.len()
    }
}

/// Whether a session created at `created_ms` was signed out by a sign-out at `out_at_ms`.
fn ended(data: &SessionData, out_at_ms: i64) -> bool {
    data.created_ms() <= out_at_ms
}

impl SignOuts {
    pub(crate) fn new(absolute_timeout: Duration) -> Self {
        Self {
            denylist: Denylist::default(),
            jtis: Mutex::new(HashMap::new()),
            keep: i64::try_from(absolute_timeout.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// `loaded`, or `Unusable` when it is a cookie session this process's denylist signed out.
    /// Synchronous, and free of allocations and locks while the denylist is empty.
    pub(crate) fn screen(&self, loaded: Loaded, now: i64) -> Loaded {
        if self.denylist.len.load(Ordering::Acquire) == 0 {
            return loaded;
        }
        match loaded {
            Loaded::Valid { data, handle } if self.signed_out_here(&data, now) => {
                Loaded::Unusable {
                    chunks: handle.chunks,
                }
            }
            other => other,
        }
    }

    fn signed_out_here(&self, data: &SessionData, now: i64) -> bool {
        let entries = self
            .denylist
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let hit = |entry: Option<&(i64, i64)>| {
            entry.is_some_and(|&(out_at_ms, until)| until > now && ended(data, out_at_ms))
        };
        hit(entries.subs.get(&data.sub))
            || data
                .psid
                .as_deref()
                .is_some_and(|sid| hit(entries.sids.get(sid)))
    }

    fn deny_here(&self, whose: Whose<'_>, now_ms: i64) -> Result<(), StoreError> {
        let now = now_ms.div_euclid(1000);
        let until = now.saturating_add(self.keep);
        let mut entries = self
            .denylist
            .entries
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let (map, value) = match whose {
            Whose::User(sub) => (&mut entries.subs, sub),
            Whose::ProviderSession(sid) => (&mut entries.sids, sid),
        };
        if !map.contains_key(value) && map.len() + 1 > MAX_ENTRIES / 2 {
            map.retain(|_, (_, until)| *until > now);
            if map.len() + 1 > MAX_ENTRIES / 2 {
                return Err(StoreError::unavailable(
                    "the in-memory sign-out denylist is full (configure a coordination)",
                ));
            }
        }
        let entry = map.entry(value.to_owned()).or_insert((now_ms, until));
        *entry = (entry.0.max(now_ms), until);
        let len = entries.len();
        self.denylist.len.store(len, Ordering::Release);
        Ok(())
    }
}

/// Whether a cookie session was signed out through the coordination's denylist.
async fn signed_out_shared(
    coordination: &dyn DynCoordination,
    data: &SessionData,
) -> Result<bool, StoreError> {
    let mut keys = vec![Whose::User(&data.sub).key()];
    if let Some(sid) = &data.psid {
        keys.push(Whose::ProviderSession(sid).key());
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values = coordination.get_many(&keys).await?;
    Ok(values.into_iter().flatten().any(|value| {
        std::str::from_utf8(&value)
            .ok()
            .and_then(|text| text.parse::<i64>().ok())
            // A record that does not parse was not written by this crate: signed out, to be safe.
            .is_none_or(|out_at_ms| ended(data, out_at_ms))
    }))
}

/// What became of a logout token's `jti`.
pub(crate) enum Jti {
    /// First seen: remembered, under this record (to forget it if the sign-out fails).
    New(Remembered),
    /// Seen before.
    Replayed,
}

/// A remembered `jti`.
pub(crate) struct Remembered {
    key: String,
    holder: String,
}

impl Web {
    /// Whether sealed cookie sessions are checked against the coordination's denylist (one
    /// round trip per request with a session cookie).
    pub(crate) fn screens_shared(&self) -> bool {
        self.coordination.is_some() && !self.sessions.is_stored()
    }

    /// `loaded`, or `Unusable` when the coordination's denylist signed it out, or
    /// `Unavailable` when the coordination cannot be asked (the request's user is then
    /// unknown: fail closed).
    pub(crate) async fn screen_shared(&self, loaded: Loaded) -> Loaded {
        let Some(coordination) = &self.coordination else {
            return loaded;
        };
        let Loaded::Valid { data, handle } = loaded else {
            return loaded;
        };
        match signed_out_shared(&**coordination, &data).await {
            Ok(false) => Loaded::Valid { data, handle },
            Ok(true) => Loaded::Unusable {
                chunks: handle.chunks,
            },
            Err(error) => {
                tracing::warn!(%error, "could not check the session against the sign-outs");
                Loaded::Unavailable {
                    chunks: handle.chunks,
                }
            }
        }
    }

    /// Ends the sessions of `whose`: deleted from the store (returns how many), or denied as
    /// cookie sessions signed in until now (returns `None`: the server cannot count cookies).
    ///
    /// # Errors
    /// When the store or the coordination fails, or the in-memory denylist is full.
    pub(crate) async fn end_sessions(&self, whose: Whose<'_>) -> Result<Option<usize>, StoreError> {
        if let Some(store) = self.sessions.store() {
            let ended = match whose {
                Whose::User(sub) => store.delete_by_sub(sub).await?,
                Whose::ProviderSession(sid) => store.delete_by_sid(sid).await?,
            };
            return Ok(Some(ended));
        }
        match &self.coordination {
            Some(coordination) => {
                let ttl = Duration::from_secs(self.sign_outs.keep.max(1).cast_unsigned());
                let out_at_ms = unix_now_ms().to_string();
                coordination
                    .insert(&whose.key(), out_at_ms.as_bytes(), ttl)
                    .await?;
            }
            None => self.sign_outs.deny_here(whose, unix_now_ms())?,
        }
        Ok(None)
    }

    /// Remembers a logout token's `jti` until `until` (Unix seconds), unless it was seen before.
    ///
    /// # Errors
    /// When the coordination fails, or the in-memory memory is full of live `jti`s.
    pub(crate) async fn remember_jti(
        &self,
        jti: &str,
        until: i64,
        now: i64,
    ) -> Result<Jti, StoreError> {
        let key = format!("jti:{}", hash(jti));
        let holder = crate::flow::random_token(16);
        let ttl = Duration::from_secs(until.saturating_sub(now).max(1).cast_unsigned());
        let new = match &self.coordination {
            Some(coordination) => {
                coordination
                    .insert_if_absent(&key, holder.as_bytes(), ttl)
                    .await?
            }
            None => {
                let mut jtis = self
                    .sign_outs
                    .jtis
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if jtis.get(&key).is_some_and(|&expires| expires > now) {
                    false
                } else {
                    if jtis.len() >= MAX_ENTRIES {
                        jtis.retain(|_, expires| *expires > now);
                        if jtis.len() >= MAX_ENTRIES {
                            return Err(StoreError::unavailable(
                                "too many live logout tokens remembered",
                            ));
                        }
                    }
                    jtis.insert(key.clone(), until);
                    true
                }
            }
        };
        Ok(if new {
            Jti::New(Remembered { key, holder })
        } else {
            Jti::Replayed
        })
    }

    /// Forgets a `jti` remembered by [`remember_jti`](Self::remember_jti), so that the
    /// provider's retry of a logout that could not be carried out is accepted.
    pub(crate) async fn forget_jti(&self, remembered: Remembered) {
        match &self.coordination {
            Some(coordination) => {
                let removed = coordination
                    .remove_if(&remembered.key, remembered.holder.as_bytes())
                    .await;
                if let Err(error) = removed {
                    tracing::warn!(%error, "could not forget a logout token's jti");
                }
            }
            None => {
                self.sign_outs
                    .jtis
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&remembered.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::manager::Handle;

    /// A session of `sub` signed in at `created_ms`; without `cms` when `legacy` (written by an
    /// earlier version, which counted seconds only).
    fn session_at(sub: &str, sid: Option<&str>, created_ms: i64, legacy: bool) -> Loaded {
        let created = created_ms.div_euclid(1000);
        let mut json = serde_json::json!({
            "iss": "i", "sub": sub, "at": "a", "at_exp": created + 900, "psid": sid,
            "created": created, "seen": created,
        });
        if !legacy {
            json["cms"] = created_ms.into();
        }
        Loaded::Valid {
            data: serde_json::from_value(json).unwrap(),
            handle: Handle::new(1),
        }
    }

    fn session(sub: &str, sid: Option<&str>, created_ms: i64) -> Loaded {
        session_at(sub, sid, created_ms, false)
    }

    fn signed_out(sign_outs: &SignOuts, loaded: Loaded, now: i64) -> bool {
        matches!(
            sign_outs.screen(loaded, now),
            Loaded::Unusable { chunks: 1 }
        )
    }

    #[test]
    fn the_denylist_signs_out_sessions_created_up_to_the_sign_out() {
        let sign_outs = SignOuts::new(Duration::from_secs(3600));
        assert!(!signed_out(&sign_outs, session("u-1", None, 100_000), 200));
        sign_outs.deny_here(Whose::User("u-1"), 200_500).unwrap();
        sign_outs
            .deny_here(Whose::ProviderSession("sid-9"), 200_500)
            .unwrap();
        assert!(signed_out(&sign_outs, session("u-1", None, 100_000), 201));
        assert!(signed_out(&sign_outs, session("u-1", None, 200_500), 201));
        assert!(
            !signed_out(&sign_outs, session("u-1", None, 200_501), 201),
            "signed in again, in the same second"
        );
        assert!(
            signed_out(&sign_outs, session_at("u-1", None, 200_999, true), 201),
            "a session that knows only its second counts from the start of it"
        );
        assert!(!signed_out(&sign_outs, session("u-2", None, 100_000), 201));
        assert!(signed_out(
            &sign_outs,
            session("u-2", Some("sid-9"), 100_000),
            201
        ));
        assert!(!signed_out(
            &sign_outs,
            session("u-2", Some("sid-8"), 100_000),
            201
        ));
        // Forgotten once no session created before can be alive.
        assert!(!signed_out(
            &sign_outs,
            session("u-1", None, 100_000),
            200 + 3600
        ));
        // A later sign-out moves the time forward; an earlier one never moves it back.
        sign_outs.deny_here(Whose::User("u-1"), 300_000).unwrap();
        sign_outs.deny_here(Whose::User("u-1"), 250_000).unwrap();
        assert!(signed_out(&sign_outs, session("u-1", None, 300_000), 301));
        assert!(!signed_out(&sign_outs, session("u-1", None, 300_001), 301));
    }
}
