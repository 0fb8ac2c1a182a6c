//! Loading and writing the session for each request.
//!
//! The layer only calls [`Sessions::load`], [`Sessions::save`] and [`Sessions::clear`]; where the
//! session lives (sealed in cookies today, a server-side store later) stays behind them.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::cookie::{
    CookieAttributes, CookieError, RequestCookies, Sealer, delete_chunked, write_chunked,
};
use super::data::SessionData;

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
    Valid { data: SessionData, chunks: usize },
    /// A session cookie that is expired, tampered with, sealed with a retired key or otherwise
    /// unusable: the user is signed out and the cookie should be removed.
    Unusable { chunks: usize },
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Sessions {
    pub(crate) fn new(sealer: Sealer, idle: Duration, absolute: Duration) -> Self {
        Self {
            sealer,
            // `Path=/`, Secure, HttpOnly, SameSite=Lax: what a `__Host-` session cookie needs.
            attrs: CookieAttributes::default(),
            idle: secs(idle),
            absolute: secs(absolute),
            renew_after: (secs(idle) / 10).max(1),
        }
    }

    /// Reads and checks the session the request carries.
    pub(crate) fn load(&self, headers: &HeaderMap, now: i64) -> Loaded {
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
            Some(data) if self.is_live(&data, now) => Loaded::Valid { data, chunks },
            _ => Loaded::Unusable { chunks },
        }
    }

    fn is_live(&self, data: &SessionData, now: i64) -> bool {
        now < data.created.saturating_add(self.absolute)
            && now < data.seen.saturating_add(self.idle)
    }

    /// Whether the session should be re-written to push its idle expiry forward.
    pub(crate) fn needs_renewal(&self, data: &SessionData, now: i64) -> bool {
        now >= data.seen.saturating_add(self.renew_after)
    }

    /// `Set-Cookie` values storing `data`, replacing a session of `previous_chunks` cookies.
    ///
    /// # Errors
    /// When the sealed session is too large for the cookies a browser keeps.
    pub(crate) fn save(
        &self,
        data: &SessionData,
        previous_chunks: usize,
        now: i64,
    ) -> Result<Vec<HeaderValue>, CookieError> {
        let json = serde_json::to_vec(data).expect("session data serializes");
        let sealed = self.sealer.seal(SESSION_COOKIE, &json);
        let remaining = data
            .created
            .saturating_add(self.absolute)
            .min(data.seen.saturating_add(self.idle))
            .saturating_sub(now)
            .max(0);
        let attrs = CookieAttributes {
            max_age: Some(Duration::from_secs(remaining.cast_unsigned())),
            ..self.attrs.clone()
        };
        write_chunked(SESSION_COOKIE, &sealed, &attrs, previous_chunks).map(sensitive)
    }

    /// `Set-Cookie` values removing a session of `chunks` cookies.
    pub(crate) fn clear(&self, chunks: usize) -> Vec<HeaderValue> {
        sensitive(delete_chunked(SESSION_COOKIE, &self.attrs, chunks))
    }
}

fn sensitive(mut values: Vec<HeaderValue>) -> Vec<HeaderValue> {
    for v in &mut values {
        v.set_sensitive(true);
    }
    values
}
