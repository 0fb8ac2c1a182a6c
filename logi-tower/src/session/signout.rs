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
//! # Signing out ends every copy
//!
//! Each cookie session carries its own random id, drawn at sign-in. Signing out
//! (`POST /auth/logout`) puts that id on the same denylist (`out:ses:…` records, or memory),
//! kept until the session would have reached its absolute expiry anyway, so a copy of the
//! cookie taken before the sign-out is refused on every instance, while a new sign-in (a new
//! id) is not affected. The check is folded into the one lookup a request already makes: the
//! same `MGET` of the coordination, the same read of the in-memory denylist.
//!
//! Sessions sealed before sessions carried an id still open. They cannot be ended one by one,
//! so signing one out ends, to be safe, every session signed in up to then through the same
//! provider session (`sid`, that browser's sign-in at the provider), or of the same user when
//! the session knows no `sid` (and so, as any such sign-out does, their bearer tokens issued
//! before: see below). Such sessions are gone after one absolute timeout.
//!
//! # Bearer tokens
//!
//! Where access is withdrawn from a user or provider session (back-channel logout, the
//! sessions API, webhooks), the same records also refuse the bearer access tokens of that user
//! (`sub`) or provider session (the token's `sid` claim) issued at or before the sign-out: a
//! token's `iat` (to the second: one issued in the second of the sign-out is refused too)
//! against the sign-out's time. A token without an `iat` (an opaque token) is refused while a
//! sign-out of its user is remembered. With a server-side session store the sessions are
//! deleted there and the records are written all the same, for the tokens.
//!
//! The same module remembers the `jti` of every logout token until it expires (`jti:…` records,
//! or memory), so a logout token is acted on once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::data::SessionData;
use super::manager::{Loaded, Sessions};
use super::store::{DynCoordination, StoreError};
use crate::clock::unix_now_ms;

/// Most users and provider sessions the in-memory denylist holds (and as many session ids), and
/// most `jti`s remembered.
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

/// The record of one cookie session signed out, by its id.
fn session_key(id: &str) -> String {
    format!("out:ses:{}", hash(id))
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
    /// Cookie sessions signed out by their id, each until it would have expired anyway (Unix
    /// seconds).
    ids: HashMap<String, i64>,
}

impl Entries {
    fn len(&self) -> usize {
        self.subs.len() + self.sids.len() + self.ids.len()
    }
}

/// Whether a session (or token) that began at `since_ms` was ended by a sign-out at
/// `out_at_ms`.
fn ended(since_ms: i64, out_at_ms: i64) -> bool {
    since_ms <= out_at_ms
}

/// Whether the coordination's records for `keys` end what began at `since_ms`: the first
/// `by_time` keys are sign-outs of a user or provider session, holding the time of the
/// sign-out; a record under any later key (a session's own id) ends it whatever it holds.
fn records_end(values: Vec<Option<Vec<u8>>>, by_time: usize, since_ms: i64) -> bool {
    values
        .into_iter()
        .enumerate()
        .any(|(index, value)| match value {
            None => false,
            Some(_) if index >= by_time => true,
            Some(value) => std::str::from_utf8(&value)
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                // A record that does not parse was not written by this crate: signed out, to be
                // safe.
                .is_none_or(|out_at_ms| ended(since_ms, out_at_ms)),
        })
}

/// When a bearer token was issued, in Unix milliseconds counted from the start of its `iat`
/// second (earlier, never later, than the real time); `None` when it does not say (not a JWT,
/// or no `iat`). Read only when a sign-out of the token's user is on record: the token was
/// verified before, so its payload is the provider's.
fn token_issued_ms(token: &str) -> Option<i64> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&payload).ok()?;
    let iat = claims.get("iat")?.as_f64()?;
    // Saturating casts: an absurd `iat` lands at an end of the range.
    #[allow(clippy::cast_possible_truncation, reason = "saturating on purpose")]
    let seconds = iat.floor() as i64;
    Some(seconds.saturating_mul(1000))
}

/// What identifies a bearer token's user for the denylist: `sub`, the `sid` claim when the
/// token carries one, and when it was issued (read only when needed).
pub(crate) struct TokenOwner<'a> {
    pub(crate) sub: &'a str,
    pub(crate) sid: Option<&'a str>,
    pub(crate) token: &'a str,
}

impl<'a> TokenOwner<'a> {
    pub(crate) fn of(principal: &'a crate::user::Principal) -> Self {
        Self {
            sub: &principal.sub,
            sid: principal
                .claims
                .get("sid")
                .and_then(serde_json::Value::as_str),
            token: principal.access_token.expose(),
        }
    }

    /// Unix milliseconds; `i64::MIN` when the token does not say: ended by any sign-out.
    fn issued_ms(&self) -> i64 {
        token_issued_ms(self.token).unwrap_or(i64::MIN)
    }
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
        let created_ms = data.created_ms();
        let hit = |entry: Option<&(i64, i64)>| {
            entry.is_some_and(|&(out_at_ms, until)| until > now && ended(created_ms, out_at_ms))
        };
        hit(entries.subs.get(&data.sub))
            || data
                .psid
                .as_deref()
                .is_some_and(|sid| hit(entries.sids.get(sid)))
            || data
                .id
                .as_deref()
                .is_some_and(|id| entries.ids.get(id).is_some_and(|&until| until > now))
    }

    /// Whether this process's denylist withdrew the bearer token of `owner`. Free of
    /// allocations and locks while the denylist is empty.
    pub(crate) fn token_signed_out(&self, owner: &TokenOwner<'_>, now: i64) -> bool {
        if self.denylist.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let entries = self
            .denylist
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let out_at = |entry: Option<&(i64, i64)>| {
            entry
                .filter(|(_, until)| *until > now)
                .map(|(out_at_ms, _)| *out_at_ms)
        };
        let latest = out_at(entries.subs.get(owner.sub))
            .max(owner.sid.and_then(|sid| out_at(entries.sids.get(sid))));
        drop(entries);
        latest.is_some_and(|out_at_ms| ended(owner.issued_ms(), out_at_ms))
    }

    /// Puts the cookie session `id` on this process's denylist until `until` (Unix seconds).
    fn deny_id_here(&self, id: &str, until: i64, now: i64) -> Result<(), StoreError> {
        let mut entries = self
            .denylist
            .entries
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !entries.ids.contains_key(id) && entries.ids.len() + 1 > MAX_ENTRIES / 2 {
            entries.ids.retain(|_, until| *until > now);
            if entries.ids.len() + 1 > MAX_ENTRIES / 2 {
                return Err(StoreError::unavailable(
                    "the in-memory sign-out denylist is full (configure a coordination)",
                ));
            }
        }
        entries.ids.insert(id.to_owned(), until);
        let len = entries.len();
        self.denylist.len.store(len, Ordering::Release);
        Ok(())
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

/// Whether a cookie session was signed out through the coordination's denylist: its user, its
/// provider session and its own id, in one round trip.
async fn signed_out_shared(
    coordination: &dyn DynCoordination,
    data: &SessionData,
) -> Result<bool, StoreError> {
    let mut keys = vec![Whose::User(&data.sub).key()];
    if let Some(sid) = &data.psid {
        keys.push(Whose::ProviderSession(sid).key());
    }
    let by_time = keys.len();
    if let Some(id) = &data.id {
        keys.push(session_key(id));
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values = coordination.get_many(&keys).await?;
    Ok(records_end(values, by_time, data.created_ms()))
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

/// What ending and screening sessions works with, borrowed from the layer's state: the session
/// store (when sessions live in one), the coordination's denylist, or this process's.
pub(crate) struct Ending<'a> {
    pub(crate) sessions: &'a Sessions,
    pub(crate) coordination: &'a Option<Arc<dyn DynCoordination>>,
    pub(crate) sign_outs: &'a SignOuts,
}

impl Ending<'_> {
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
    /// Either way `whose` goes on the denylist, which also refuses their bearer tokens issued
    /// until now.
    ///
    /// # Errors
    /// When the store or the coordination fails, or the in-memory denylist is full.
    pub(crate) async fn end_sessions(&self, whose: Whose<'_>) -> Result<Option<usize>, StoreError> {
        let ended = match self.sessions.store() {
            Some(store) => Some(match whose {
                Whose::User(sub) => store.delete_by_sub(sub).await?,
                Whose::ProviderSession(sid) => store.delete_by_sid(sid).await?,
            }),
            None => None,
        };
        self.deny(whose).await?;
        Ok(ended)
    }

    /// Ends the cookie session `data` the browser signs out of, and every copy of it: its id
    /// goes on the denylist until the session's absolute expiry. A session sealed before
    /// sessions had an id ends with every session of its provider session (else of its user)
    /// signed in up to now (see the module docs). Nothing to do for a stored session: deleting
    /// it from the store ends it.
    ///
    /// # Errors
    /// When the coordination fails, or the in-memory denylist is full.
    pub(crate) async fn end_session(&self, data: &SessionData) -> Result<(), StoreError> {
        if self.sessions.is_stored() {
            return Ok(());
        }
        let Some(id) = &data.id else {
            let whose = match &data.psid {
                Some(sid) => Whose::ProviderSession(sid),
                None => Whose::User(&data.sub),
            };
            return self.deny(whose).await;
        };
        let now = crate::clock::unix_now();
        let until = data.created.saturating_add(self.sign_outs.keep);
        match &self.coordination {
            Some(coordination) => {
                let ttl = Duration::from_secs(until.saturating_sub(now).max(1).cast_unsigned());
                coordination.insert(&session_key(id), b"1", ttl).await
            }
            None => self.sign_outs.deny_id_here(id, until, now),
        }
    }

    /// Whether bearer tokens are checked against the coordination's denylist (one round trip
    /// per bearer request), rather than this process's.
    pub(crate) fn screens_tokens_shared(&self) -> bool {
        self.coordination.is_some()
    }

    /// Whether the coordination's denylist withdrew the bearer token of `owner`.
    ///
    /// # Errors
    /// When the coordination cannot be asked.
    pub(crate) async fn token_signed_out_shared(
        &self,
        owner: &TokenOwner<'_>,
    ) -> Result<bool, StoreError> {
        let Some(coordination) = &self.coordination else {
            return Ok(false);
        };
        let mut keys = vec![Whose::User(owner.sub).key()];
        if let Some(sid) = owner.sid {
            keys.push(Whose::ProviderSession(sid).key());
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let values = coordination.get_many(&keys).await?;
        if values.iter().all(Option::is_none) {
            return Ok(false);
        }
        Ok(records_end(values, usize::MAX, owner.issued_ms()))
    }

    /// Puts `whose` on the denylist with the time of now: the coordination's, or this
    /// process's.
    async fn deny(&self, whose: Whose<'_>) -> Result<(), StoreError> {
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
        Ok(())
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
        let holder = crate::random::random_token(16);
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

    fn with_id(loaded: Loaded, id: &str) -> Loaded {
        let Loaded::Valid { mut data, handle } = loaded else {
            unreachable!()
        };
        data.id = Some(id.to_owned());
        Loaded::Valid { data, handle }
    }

    #[test]
    fn a_session_signed_out_by_its_id_ends_until_it_would_have_expired() {
        let sign_outs = SignOuts::new(Duration::from_secs(3600));
        let mine = || with_id(session("u-1", None, 100_000), "id-1");
        assert!(!signed_out(&sign_outs, mine(), 200));
        sign_outs.deny_id_here("id-1", 100 + 3600, 200).unwrap();
        assert!(signed_out(&sign_outs, mine(), 201));
        assert!(
            !signed_out(
                &sign_outs,
                with_id(session("u-1", None, 100_000), "id-2"),
                201
            ),
            "another session of the same user goes on"
        );
        assert!(!signed_out(&sign_outs, session("u-1", None, 100_000), 201));
        assert!(!signed_out(&sign_outs, mine(), 100 + 3600), "forgotten");
    }

    /// A JWT whose payload is `claims` (the signature is not looked at here).
    fn token(claims: &serde_json::Value) -> String {
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    #[test]
    fn bearer_tokens_issued_up_to_a_sign_out_are_withdrawn() {
        let sign_outs = SignOuts::new(Duration::from_secs(3600));
        let before = token(&serde_json::json!({"sub": "u-1", "iat": 200}));
        let owner = |token| TokenOwner {
            sub: "u-1",
            sid: Some("sid-1"),
            token,
        };
        assert!(!sign_outs.token_signed_out(&owner(&before), 201));
        sign_outs.deny_here(Whose::User("u-1"), 200_500).unwrap();
        assert!(sign_outs.token_signed_out(&owner(&before), 201));
        let same_second = token(&serde_json::json!({"iat": 200.9}));
        assert!(
            sign_outs.token_signed_out(&owner(&same_second), 201),
            "issued in the second of the sign-out: counted from its start"
        );
        let after = token(&serde_json::json!({"iat": 201}));
        assert!(!sign_outs.token_signed_out(&owner(&after), 201));
        assert!(
            sign_outs.token_signed_out(&owner("opaque-token"), 201),
            "a token that does not say when it was issued is withdrawn"
        );
        let other = TokenOwner {
            sub: "u-2",
            sid: None,
            token: &before,
        };
        assert!(!sign_outs.token_signed_out(&other, 201));
        sign_outs
            .deny_here(Whose::ProviderSession("sid-2"), 300_000)
            .unwrap();
        let in_sid = TokenOwner {
            sid: Some("sid-2"),
            ..other
        };
        assert!(sign_outs.token_signed_out(&in_sid, 301));
        assert!(
            !sign_outs.token_signed_out(&in_sid, 300 + 3600),
            "forgotten"
        );
    }
}
