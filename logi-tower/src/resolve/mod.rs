//! One credential resolution: a bearer token (JWT or opaque), else the session (cookie or
//! store, refreshed when due), else nobody, decided in [`resolve`], ready or pending.
//! Owns the decision only: it must not answer routes, call the inner service or render refusals.

mod bearer;
mod session;

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};

use crate::bearer::Presented;
use crate::state::{Auth, Shared};

/// A request's resolved credentials: its auth, and the session cookies to write back.
pub(crate) struct Resolved {
    pub(crate) auth: Auth,
    pub(crate) set_cookies: Vec<HeaderValue>,
}

impl Resolved {
    /// `auth`, with no cookie to write.
    fn new(auth: Auth) -> Self {
        Self {
            auth,
            set_cookies: Vec::new(),
        }
    }
}

/// What [`resolve`] decided: ready now (a cached bearer token, a cookie session), or after
/// waiting (a token to verify, a store, the coordination, a refresh).
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per request and moved straight into the response future; boxing would add an allocation on the ready paths"
)]
pub(crate) enum Resolution {
    Ready(Resolved),
    Pending(Pending),
}

/// The waiting part of a resolution, finished with [`Pending::finish`].
#[expect(
    clippy::large_enum_variant,
    reason = "moved once into the request's future, itself boxed; boxing here would add an allocation"
)]
pub(crate) enum Pending {
    Bearer(bearer::Pending),
    Session(session::Pending),
}

impl Pending {
    /// Waits for what the resolution needs; `headers` are the request's, as given to [`resolve`].
    pub(crate) async fn finish(self, headers: &HeaderMap) -> Resolved {
        match self {
            Self::Bearer(pending) => Resolved::new(pending.finish().await),
            Self::Session(pending) => pending.finish(headers).await,
        }
    }
}

/// The request's credentials: a bearer token, when presented, decides alone (no session, no
/// cookies); else the session; else nobody.
pub(crate) fn resolve(shared: Arc<Shared>, headers: &HeaderMap, now: i64) -> Resolution {
    match crate::bearer::presented(headers) {
        Presented::Token(token) => bearer::resolve(shared, token, now),
        Presented::Malformed(why) => Resolution::Ready(Resolved::new(Auth::malformed(shared, why))),
        Presented::Nothing => session::resolve(shared, headers, now),
    }
}
