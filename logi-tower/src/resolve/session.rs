//! The session part of the resolution: the session a request carries (sealed in its cookie or
//! in a store), screened against the sign-outs, renewed, refreshed when due, and what to write
//! back. Decided once in [`decide`] for both; must not look at bearer tokens.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::{Resolution, Resolved};
use crate::refresh::{self, Verdict};
use crate::reject::DEFAULT_RETRY_AFTER;
use crate::session::data::SessionData;
use crate::session::manager::{Handle, Loaded, Sessions};
use crate::state::{Auth, Shared, Web};

/// The session's auth: ready for a sealed cookie session read right here, pending for a
/// session in a store, one the coordination screens, or one to refresh.
pub(super) fn resolve(shared: Arc<Shared>, headers: &HeaderMap, now: i64) -> Resolution {
    let Some(web) = shared.web.as_ref() else {
        return Resolution::Ready(Resolved::new(Auth::new(shared, None)));
    };
    // Sessions in a store are loaded before the inner service is called; sealed cookie
    // sessions are read right here.
    if web.sessions.is_stored() && Sessions::has_cookie(headers) {
        return pending(Pending::Load { shared, now });
    }
    let loaded = if web.sessions.is_stored() {
        Loaded::None
    } else {
        web.sessions.load_sealed(headers, now)
    };
    // Sessions ended from the server (back-channel logout, `LogiSessions`) reach sealed
    // cookies through a denylist: the instances' coordination, asked before the service...
    if matches!(loaded, Loaded::Valid { .. }) && web.ending().screens_shared() {
        return pending(Pending::Screen {
            shared,
            loaded,
            now,
        });
    }
    // ... or this process's memory, checked right here.
    let loaded = web.sign_outs.screen(loaded, now);
    decide(shared, loaded, now).now()
}

fn pending(pending: Pending) -> Resolution {
    Resolution::Pending(super::Pending::Session(pending))
}

/// A session's resolution that waits.
pub(crate) enum Pending {
    /// A session in a store, to load.
    Load { shared: Arc<Shared>, now: i64 },
    /// A sealed session, to check against the coordination's denylist.
    Screen {
        shared: Arc<Shared>,
        loaded: Loaded,
        now: i64,
    },
    /// A decided step that waits (a refresh).
    Step(Step),
}

impl Pending {
    pub(super) async fn finish(self, headers: &HeaderMap) -> Resolved {
        let step = match self {
            Self::Load { shared, now } => {
                let loaded = shared.web().sessions.load(headers, now).await;
                decide(shared, loaded, now)
            }
            Self::Screen {
                shared,
                loaded,
                now,
            } => {
                let loaded = shared.web().ending().screen_shared(loaded).await;
                decide(shared, loaded, now)
            }
            Self::Step(step) => step,
        };
        step.settle().await
    }
}

/// What a loaded session makes of the request.
pub(crate) enum Step {
    /// Decided, with the cookies to write.
    Done(Resolved),
    /// A session whose idle expiry is pushed forward: written back, then used.
    Renew {
        shared: Arc<Shared>,
        data: SessionData,
        handle: Handle,
        now: i64,
    },
    /// A session whose access token expired with no refresh token: ended.
    End { shared: Arc<Shared>, handle: Handle },
    /// A session due for a refresh: refreshed (shared with concurrent requests), then decided by
    /// the refresh's [failure policy](Verdict).
    Refresh {
        shared: Arc<Shared>,
        data: SessionData,
        handle: Handle,
        now: i64,
    },
}

/// The session decision, the same for sessions from cookies and from a store.
fn decide(shared: Arc<Shared>, loaded: Loaded, now: i64) -> Step {
    let web = shared.web();
    match loaded {
        // Waiting for the app's first-login completion: nobody signed in, nothing refreshed.
        Loaded::Valid { data, handle } if data.pending.is_some() => {
            Step::Done(Resolved::new(Auth::pending(shared, data, handle)))
        }
        Loaded::Valid { data, handle } if refresh::is_due(&data, now, web.refresh_margin) => {
            if data.rt.is_some() {
                Step::Refresh {
                    shared,
                    data,
                    handle,
                    now,
                }
            } else if data.at_exp > now {
                // No refresh token: the session lasts as long as its access token.
                Step::Done(signed_in(shared, data, Vec::new()))
            } else {
                Step::End { shared, handle }
            }
        }
        Loaded::Valid { mut data, handle } if web.sessions.needs_renewal(&data, now) => {
            data.seen = now;
            Step::Renew {
                shared,
                data,
                handle,
                now,
            }
        }
        Loaded::Valid { data, .. } => Step::Done(signed_in(shared, data, Vec::new())),
        Loaded::Unusable { chunks } => {
            let set_cookies = web.sessions.clear_sealed(chunks);
            Step::Done(signed_out(shared, set_cookies))
        }
        Loaded::Unavailable { .. } => Step::Done(unavailable(shared, None)),
        Loaded::None => Step::Done(Resolved::new(Auth::new(shared, None))),
    }
}

impl Step {
    /// Ready when nothing needs waiting for: a sealed session is written right here.
    fn now(self) -> Resolution {
        match self {
            Self::Done(resolved) => Resolution::Ready(resolved),
            Self::Renew {
                shared,
                data,
                handle,
                now,
            } if !shared.web().sessions.is_stored() => {
                let set_cookies = save_sealed(shared.web(), &data, handle.chunks, now);
                Resolution::Ready(signed_in(shared, data, set_cookies))
            }
            Self::End { shared, handle } if !shared.web().sessions.is_stored() => {
                let set_cookies = shared.web().sessions.clear_sealed(handle.chunks);
                Resolution::Ready(signed_out(shared, set_cookies))
            }
            step => pending(Pending::Step(step)),
        }
    }

    /// The step's outcome, its writes awaited.
    async fn settle(self) -> Resolved {
        match self {
            Self::Done(resolved) => resolved,
            Self::Renew {
                shared,
                data,
                handle,
                now,
            } => {
                let set_cookies = save(shared.web(), &data, &handle, now).await;
                signed_in(shared, data, set_cookies)
            }
            Self::End { shared, handle } => {
                let set_cookies = shared.web().sessions.clear(&handle).await;
                signed_out(shared, set_cookies)
            }
            Self::Refresh {
                shared,
                data,
                handle,
                now,
            } => {
                let margin = shared.web().refresh_margin;
                match refresh::refresh_due(&shared, data, now, margin).await {
                    Verdict::Refreshed(data) => {
                        let set_cookies = save(shared.web(), &data, &handle, now).await;
                        signed_in(shared, data, set_cookies)
                    }
                    Verdict::Proceed(data) => signed_in(shared, data, Vec::new()),
                    Verdict::Unavailable(retry_after) => unavailable(shared, retry_after),
                    Verdict::End => {
                        let set_cookies = shared.web().sessions.clear(&handle).await;
                        signed_out(shared, set_cookies)
                    }
                }
            }
        }
    }
}

/// The session's user, with the cookies to write.
fn signed_in(shared: Arc<Shared>, data: SessionData, set_cookies: Vec<HeaderValue>) -> Resolved {
    Resolved {
        auth: Auth::new(shared, Some(Arc::new(data.into()))),
        set_cookies,
    }
}

/// Nobody signed in, with the cookies to write (the session's removal, when it ended).
fn signed_out(shared: Arc<Shared>, set_cookies: Vec<HeaderValue>) -> Resolved {
    Resolved {
        auth: Auth::new(shared, None),
        set_cookies,
    }
}

/// Nobody signed in for now: the session's state is unknown (its store or the coordination
/// cannot be reached) or it cannot be refreshed yet; a request that needs the user gets 503,
/// retry after `retry_after` (the refusal's default when `None`).
fn unavailable(shared: Arc<Shared>, retry_after: Option<Duration>) -> Resolved {
    let mut auth = Auth::new(shared, None);
    auth.unavailable = Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER));
    Resolved::new(auth)
}

/// The session's cookies, sealed; on the (theoretical) failure to seal a session that was
/// stored before, nothing is written and the old cookie stays until it expires.
fn save_sealed(web: &Web, data: &SessionData, chunks: usize, now: i64) -> Vec<HeaderValue> {
    web.sessions
        .save_sealed(data, chunks, now)
        .unwrap_or_else(|error| {
            tracing::error!(%error, "could not write the session back");
            Vec::new()
        })
}

/// Writes the session back where it came from, and returns its cookies. A session another
/// request wrote first keeps that write (this request's copy is as new or older); a store that
/// fails keeps the stored session, which the next request reads again.
async fn save(web: &Web, data: &SessionData, handle: &Handle, now: i64) -> Vec<HeaderValue> {
    match web.sessions.save(data, handle, now).await {
        Ok(cookies) => cookies,
        Err(error) if error.is_conflict() => {
            tracing::debug!("the session was written by another request first");
            Vec::new()
        }
        Err(error) => {
            tracing::error!(%error, "could not write the session back");
            Vec::new()
        }
    }
}
