//! Loading and writing the session for each request.
//!
//! The layer only calls [`Sessions::load`], [`Sessions::save`] and [`Sessions::clear`]; where the
//! session lives (sealed in cookies, or in a server-side [`SessionStore`](super::store::SessionStore)
//! with only a sealed id in the cookie) stays behind them. Cookie sessions also have synchronous
//! forms (`load_sealed`, `save_sealed`, `clear_sealed`), so the service answers them without a
//! boxed future.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::cookie::{
    CookieAttributes, CookieError, RequestCookies, Sealer, delete_chunked, write_chunked,
};
use super::data::SessionData;
use super::store::{DynStore, SessionId, StoreError, StoreErrorKind, StoredSession};

/// The session cookie. `__Host-`: Secure, `Path=/`, no `Domain`, so no subdomain can set or
/// shadow it.
pub(crate) const SESSION_COOKIE: &str = "__Host-logi.session";

/// Session handling, shared by every request.
pub(crate) struct Sessions {
    sealer: Sealer,
    attrs: CookieAttributes,
    idle: i64,
    absolute: i64,
    /// A session is renewed (re-written) only when it was last renewed this long ago, so most
    /// requests write nothing.
    renew_after: i64,
    /// The server-side store; `None`: the whole session is sealed in the cookie.
    store: Option<Arc<dyn DynStore>>,
}

/// What a request's cookies say about its session.
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per request and moved straight into the principal; boxing would add an allocation"
)]
pub(crate) enum Loaded {
    /// No session cookie.
    None,
    /// A valid session.
    Valid { data: SessionData, handle: Handle },
    /// A session cookie that is expired, tampered with, sealed with a retired key, names a
    /// session the store no longer has, or is otherwise unusable: the user is signed out and
    /// the cookie should be removed.
    Unusable { chunks: usize },
    /// The session store could not be reached: the user's state is unknown for now.
    Unavailable { chunks: usize },
}

/// Where a loaded session came from, to write it back there.
#[derive(Debug)]
pub(crate) struct Handle {
    /// How many cookies the browser sent for the session.
    pub(crate) chunks: usize,
    /// The store's id and version of the session; `None` for a cookie session or a new one.
    stored: Option<(SessionId, u64)>,
}

impl Handle {
    /// A session not stored yet, replacing a session cookie of `chunks` cookies.
    pub(crate) fn new(chunks: usize) -> Self {
        Self {
            chunks,
            stored: None,
        }
    }
}

/// Why a session could not be written.
#[derive(Debug)]
pub(crate) enum SaveError {
    /// Sealed in cookies, it is too large for a browser.
    Cookie(CookieError),
    /// The store refused or failed.
    Store(StoreError),
}

impl SaveError {
    /// Whether another request wrote the session first (not a failure: its write stands).
    pub(crate) fn is_conflict(&self) -> bool {
        matches!(self, Self::Store(e) if e.kind() == StoreErrorKind::Conflict)
    }
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cookie(e) => e.fmt(f),
            Self::Store(e) => e.fmt(f),
        }
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Sessions {
    pub(crate) fn new(
        sealer: Sealer,
        idle: Duration,
        absolute: Duration,
        store: Option<Arc<dyn DynStore>>,
    ) -> Self {
        Self {
            sealer,
            // `Path=/`, Secure, HttpOnly, SameSite=Lax: what a `__Host-` session cookie needs.
            attrs: CookieAttributes::default(),
            idle: secs(idle),
            absolute: secs(absolute),
            renew_after: (secs(idle) / 10).max(1),
            store,
        }
    }

    /// Whether sessions live in a server-side store (loading them is asynchronous).
    pub(crate) fn is_stored(&self) -> bool {
        self.store.is_some()
    }

    /// Whether the request carries a session cookie at all.
    pub(crate) fn has_cookie(headers: &HeaderMap) -> bool {
        RequestCookies::parse(headers).chunk_count(SESSION_COOKIE) > 0
    }

    /// Reads and checks the session the request carries, from its cookie or from the store.
    pub(crate) async fn load(&self, headers: &HeaderMap, now: i64) -> Loaded {
        let Some(store) = &self.store else {
            return self.load_sealed(headers, now);
        };
        let cookies = RequestCookies::parse(headers);
        let chunks = cookies.chunk_count(SESSION_COOKIE);
        if chunks == 0 {
            return Loaded::None;
        }
        let Some(id) = self.session_id(&cookies) else {
            return Loaded::Unusable { chunks };
        };
        let stored = match store.load(&id).await {
            Ok(Some(stored)) if stored.expires_at() > now => stored,
            Ok(_) => return Loaded::Unusable { chunks },
            Err(error) => {
                tracing::warn!(%error, "could not load a session");
                return Loaded::Unavailable { chunks };
            }
        };
        let data = std::str::from_utf8(stored.data())
            .ok()
            .and_then(|sealed| self.sealer.open(&record_name(&id), sealed))
            .and_then(|json| serde_json::from_slice::<SessionData>(&json).ok());
        match data {
            Some(data) if self.is_live(&data, now) => Loaded::Valid {
                data,
                handle: Handle {
                    chunks,
                    stored: Some((id, stored.version())),
                },
            },
            _ => Loaded::Unusable { chunks },
        }
    }

    /// The session id sealed in the request's cookie, when it opens.
    fn session_id(&self, cookies: &RequestCookies<'_>) -> Option<SessionId> {
        let sealed = cookies.get_chunked(SESSION_COOKIE)?;
        let id = self.sealer.open(SESSION_COOKIE, &sealed)?;
        // A cookie sealed whole (from before a store was configured) opens too, to JSON: only
        // an id as `SessionId::generate` writes it is looked up.
        let id = String::from_utf8(id).ok().filter(|id| {
            id.len() == SessionId::LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })?;
        Some(SessionId::from_stored(id))
    }

    /// Removes the stored session the request's cookie names, if any: a new sign-in replaces it.
    pub(crate) async fn discard(&self, headers: &HeaderMap) {
        let Some(store) = &self.store else { return };
        let Some(id) = self.session_id(&RequestCookies::parse(headers)) else {
            return;
        };
        if let Err(error) = store.delete(&id).await {
            tracing::warn!(%error, "could not delete the session a new sign-in replaces");
        }
    }

    /// Reads and checks the session sealed in the request's cookies (no store).
    pub(crate) fn load_sealed(&self, headers: &HeaderMap, now: i64) -> Loaded {
        let cookies = RequestCookies::parse(headers);
        let chunks = cookies.chunk_count(SESSION_COOKIE);
        if chunks == 0 {
            return Loaded::None;
        }
        let data = cookies
            .get_chunked(SESSION_COOKIE)
            .and_then(|sealed| self.sealer.open(SESSION_COOKIE, &sealed))
            .and_then(|json| serde_json::from_slice::<SessionData>(&json).ok());
        match data {
            Some(data) if self.is_live(&data, now) => Loaded::Valid {
                data,
                handle: Handle::new(chunks),
            },
            _ => Loaded::Unusable { chunks },
        }
    }

    fn is_live(&self, data: &SessionData, now: i64) -> bool {
        now < self.expires_at(data)
    }

    /// Whether the session should be re-written to push its idle expiry forward.
    pub(crate) fn needs_renewal(&self, data: &SessionData, now: i64) -> bool {
        now >= data.seen.saturating_add(self.renew_after)
    }

    /// When the session ends: the earlier of its idle and absolute timeouts, and of the end of
    /// its first-login completion window while that is pending.
    fn expires_at(&self, data: &SessionData) -> i64 {
        data.created
            .saturating_add(self.absolute)
            .min(data.seen.saturating_add(self.idle))
            .min(data.pending.as_ref().map_or(i64::MAX, |p| p.until))
    }

    /// Writes `data` back where `handle` says it came from (a new session when it came from
    /// nowhere), and returns the `Set-Cookie` values to send.
    ///
    /// # Errors
    /// When the sealed session is too large for cookies, or the store refuses the write: a
    /// conflict means another request wrote a newer version first.
    pub(crate) async fn save(
        &self,
        data: &SessionData,
        handle: &Handle,
        now: i64,
    ) -> Result<Vec<HeaderValue>, SaveError> {
        let Some(store) = &self.store else {
            return self
                .save_sealed(data, handle.chunks, now)
                .map_err(SaveError::Cookie);
        };
        let (id, version) = match &handle.stored {
            Some((id, version)) => (id.clone(), version.saturating_add(1)),
            None => (SessionId::generate(), 1),
        };
        let json = serde_json::to_vec(data).expect("session data serializes");
        let sealed = self.sealer.seal(&record_name(&id), &json);
        let record = StoredSession::new(
            sealed.into_bytes(),
            version,
            self.expires_at(data),
            data.sub.clone(),
            data.psid.clone(),
        );
        store.save(&id, &record).await.map_err(SaveError::Store)?;
        let sealed_id = self.sealer.seal(SESSION_COOKIE, id.as_str().as_bytes());
        write_chunked(
            SESSION_COOKIE,
            &sealed_id,
            &self.attrs_until(data, now),
            handle.chunks,
        )
        .map(sensitive)
        .map_err(SaveError::Cookie)
    }

    /// `Set-Cookie` values sealing `data` into cookies, replacing a session of
    /// `previous_chunks` cookies (no store).
    ///
    /// # Errors
    /// When the sealed session is too large for the cookies a browser keeps.
    pub(crate) fn save_sealed(
        &self,
        data: &SessionData,
        previous_chunks: usize,
        now: i64,
    ) -> Result<Vec<HeaderValue>, CookieError> {
        let json = serde_json::to_vec(data).expect("session data serializes");
        let sealed = self.sealer.seal(SESSION_COOKIE, &json);
        write_chunked(
            SESSION_COOKIE,
            &sealed,
            &self.attrs_until(data, now),
            previous_chunks,
        )
        .map(sensitive)
    }

    /// The session cookie's attributes, with a `Max-Age` ending with the session.
    fn attrs_until(&self, data: &SessionData, now: i64) -> CookieAttributes {
        let remaining = self.expires_at(data).saturating_sub(now).max(0);
        CookieAttributes {
            max_age: Some(Duration::from_secs(remaining.cast_unsigned())),
            ..self.attrs.clone()
        }
    }

    /// Ends the session `handle` names: removed from the store (when stored), and the
    /// `Set-Cookie` values removing its cookies.
    pub(crate) async fn clear(&self, handle: &Handle) -> Vec<HeaderValue> {
        if let (Some(store), Some((id, _))) = (&self.store, &handle.stored)
            && let Err(error) = store.delete(id).await
        {
            // The cookie goes regardless; the stored session ends at its expiry.
            tracing::warn!(%error, "could not delete a session from the store");
        }
        self.clear_sealed(handle.chunks)
    }

    /// `Set-Cookie` values removing a session of `chunks` cookies.
    pub(crate) fn clear_sealed(&self, chunks: usize) -> Vec<HeaderValue> {
        sensitive(delete_chunked(SESSION_COOKIE, &self.attrs, chunks))
    }

    /// The server-side store, when sessions live in one.
    pub(crate) fn store(&self) -> Option<&Arc<dyn DynStore>> {
        self.store.as_ref()
    }

    /// The id of the stored session the request's cookie names (whether or not it is live).
    pub(crate) fn current_id(&self, headers: &HeaderMap) -> Option<SessionId> {
        self.store.as_ref()?;
        self.session_id(&RequestCookies::parse(headers))
    }

    /// The live stored sessions of `sub`, opened: each one's id and data, and when it ends.
    ///
    /// # Errors
    /// When there is no store, or it fails.
    pub(crate) async fn list(
        &self,
        sub: &str,
        now: i64,
    ) -> Result<Vec<(SessionId, SessionData, i64)>, StoreError> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let mut sessions = Vec::new();
        for id in store.list_by_sub(sub).await? {
            let Some(stored) = store.load(&id).await? else {
                continue;
            };
            let data = std::str::from_utf8(stored.data())
                .ok()
                .and_then(|sealed| self.sealer.open(&record_name(&id), sealed))
                .and_then(|json| serde_json::from_slice::<SessionData>(&json).ok());
            if let Some(data) = data.filter(|d| d.sub == sub && self.is_live(d, now)) {
                let expires_at = stored.expires_at().min(self.expires_at(&data));
                sessions.push((id, data, expires_at));
            }
        }
        Ok(sessions)
    }
}

/// The name a stored session is sealed under: bound to its id, so a record copied under
/// another id does not open.
fn record_name(id: &SessionId) -> String {
    format!("{SESSION_COOKIE}/{}", id.as_str())
}

fn sensitive(mut values: Vec<HeaderValue>) -> Vec<HeaderValue> {
    for v in &mut values {
        v.set_sensitive(true);
    }
    values
}

#[cfg(test)]
mod tests {
    use http::header::COOKIE;

    use super::*;
    use crate::session::cookie::SessionKeys;
    use crate::session::store::{MemoryStore, SessionStore};

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn sessions(store: Option<MemoryStore>) -> Sessions {
        let sealer = Sealer::new(&SessionKeys::new(vec![vec![7; 32]]).unwrap());
        let store = store.map(|s| Arc::new(s) as Arc<dyn DynStore>);
        Sessions::new(sealer, DAY, 7 * DAY, store)
    }

    fn data(now: i64) -> SessionData {
        serde_json::from_value(serde_json::json!({
            "iss": "https://issuer.example", "sub": "user-0001", "at": "access-token",
            "at_exp": now + 900, "rt": "refresh-token", "psid": "sid-1",
            "created": now, "seen": now,
        }))
        .unwrap()
    }

    /// The `Cookie` header a browser sends back after `set_cookies` (no removals here).
    fn cookie(set_cookies: &[HeaderValue]) -> HeaderMap {
        let line = set_cookies
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::try_from(line).unwrap());
        headers
    }

    #[tokio::test]
    async fn a_stored_session_round_trips_through_an_id_cookie() {
        let store = MemoryStore::new();
        let sessions = sessions(Some(store.clone()));
        let now = crate::clock::unix_now();
        let set = sessions
            .save(&data(now), &Handle::new(0), now)
            .await
            .unwrap();
        let headers = cookie(&set);
        assert!(!headers[COOKIE].to_str().unwrap().contains("token"));
        let Loaded::Valid { mut data, handle } = sessions.load(&headers, now).await else {
            panic!("the session loads");
        };
        assert_eq!(
            (data.sub.as_str(), data.psid.as_deref()),
            ("user-0001", Some("sid-1"))
        );
        data.at = "new-access-token".to_owned();
        sessions.save(&data, &handle, now).await.unwrap();
        // The same cookie reads the newest version; a second write from the old version is
        // refused.
        let Loaded::Valid { data, .. } = sessions.load(&headers, now).await else {
            panic!("the session loads");
        };
        assert_eq!(data.at, "new-access-token");
        assert!(
            sessions
                .save(&data, &handle, now)
                .await
                .unwrap_err()
                .is_conflict()
        );
        // Clearing removes it from the store, and the cookie then reads as unusable.
        let Loaded::Valid { handle, .. } = sessions.load(&headers, now).await else {
            panic!("the session loads");
        };
        assert_eq!(sessions.clear(&handle).await.len(), 1);
        assert!(store.is_empty());
        assert!(matches!(
            sessions.load(&headers, now).await,
            Loaded::Unusable { chunks: 1 }
        ));
    }

    #[tokio::test]
    async fn a_record_moved_under_another_id_does_not_open() {
        let store = MemoryStore::new();
        let sessions = sessions(Some(store.clone()));
        let now = crate::clock::unix_now();
        let victim = cookie(
            &sessions
                .save(&data(now), &Handle::new(0), now)
                .await
                .unwrap(),
        );
        let attacker = cookie(
            &sessions
                .save(&data(now), &Handle::new(0), now)
                .await
                .unwrap(),
        );
        let cookies = RequestCookies::parse(&victim);
        let victim_id = sessions.session_id(&cookies).unwrap();
        let cookies = RequestCookies::parse(&attacker);
        let attacker_id = sessions.session_id(&cookies).unwrap();
        let record = SessionStore::load(&store, &victim_id)
            .await
            .unwrap()
            .unwrap();
        SessionStore::delete(&store, &attacker_id).await.unwrap();
        SessionStore::save(&store, &attacker_id, &record)
            .await
            .unwrap();
        assert!(matches!(
            sessions.load(&attacker, now).await,
            Loaded::Unusable { .. }
        ));
    }

    #[tokio::test]
    async fn a_whole_sealed_cookie_is_not_a_store_key() {
        let now = crate::clock::unix_now();
        let sealed = sessions(None).save_sealed(&data(now), 0, now).unwrap();
        let store = MemoryStore::new();
        let with_store = sessions(Some(store.clone()));
        assert!(matches!(
            with_store.load(&cookie(&sealed), now).await,
            Loaded::Unusable { chunks: 1 }
        ));
        // And the other way round: an id cookie is not a session without the store.
        let id_cookie = with_store
            .save(&data(now), &Handle::new(0), now)
            .await
            .unwrap();
        assert!(matches!(
            sessions(None).load(&cookie(&id_cookie), now).await,
            Loaded::Unusable { chunks: 1 }
        ));
    }
}
