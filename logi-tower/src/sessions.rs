//! [`LogiSessions`]: the app's handle on its users' sessions: list them, end one, end all.
//! Surface: owns the app-facing API; the ending itself is `session::signout`'s and the stores'.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

use crate::LogiLayer;
use crate::clock::unix_now;
use crate::session::signout::Whose;
use crate::state::{Auth, Shared, Web};
use crate::store::{SessionId, StoreError};

/// The sessions of [`LogiLayer`]'s users, for an app's "your devices" page, an admin's "sign
/// this user out", or a handler reacting to an event.
///
/// Get one from [`LogiLayer::sessions`], or take it in an axum handler (it is an extractor,
/// found in the request's extensions like [`LogiUser`](crate::LogiUser); it then also knows
/// the request's own session, [`current`](Self::current)). Cheap to clone.
///
/// What it can do depends on where sessions live:
/// - with a server-side [`SessionStore`](crate::store::SessionStore), sessions are listed, and ended by
///   deleting them: every instance sharing the store sees it at once;
/// - with sealed cookie sessions (the default), the server has no list of them: ending the
///   sessions of a user or provider session puts it on a denylist, and a cookie signed in
///   before is refused when next presented (the user can sign in again at once, see
///   [`end_all`](Self::end_all)). Several instances need a
///   [`coordination`](crate::LogiLayerBuilder::coordination) to share that denylist.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use logi::{LogiSessions, LogiUser};
///
/// /// "Sign out everywhere", for the signed-in user.
/// async fn sign_out_everywhere(user: LogiUser, sessions: LogiSessions) -> String {
///     match sessions.end_all(user.sub()).await {
///         Ok(Some(n)) => format!("{n} sessions ended"),
///         Ok(None) => "signed out everywhere".to_owned(),
///         Err(error) => format!("try again later ({error})"),
///     }
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct LogiSessions {
    shared: Arc<Shared>,
    current: Option<SessionId>,
}

impl fmt::Debug for LogiSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let web = self.shared.web.as_ref();
        f.debug_struct("LogiSessions")
            .field("stored", &web.is_some_and(|w| w.sessions.is_stored()))
            .field("current", &self.current)
            .finish()
    }
}

impl LogiLayer {
    /// A handle on the sessions of this layer's users: see [`LogiSessions`].
    #[must_use]
    pub fn sessions(&self) -> LogiSessions {
        LogiSessions {
            shared: Arc::clone(&self.shared),
            current: None,
        }
    }
}

impl LogiSessions {
    /// The handle as the layer in front of a request attaches it, knowing that request's session
    /// (for tower stacks without axum's extractors); `None` without the layer.
    #[must_use]
    pub fn from_request<B>(request: &http::Request<B>) -> Option<Self> {
        Self::from_parts(request.extensions(), request.headers())
    }

    pub(crate) fn from_parts(extensions: &http::Extensions, headers: &HeaderMap) -> Option<Self> {
        let auth = extensions.get::<Auth>()?;
        let current = auth
            .shared
            .web
            .as_ref()
            .and_then(|web| web.sessions.current_id(headers));
        Some(Self {
            shared: Arc::clone(&auth.shared),
            current,
        })
    }

    /// The id of the session the request's cookie names, when this handle was taken from a
    /// request and sessions live in a store: to mark "this device" among [`list`](Self::list)'s
    /// sessions (see [`SessionInfo::is_current`]).
    #[must_use]
    pub fn current(&self) -> Option<&SessionId> {
        self.current.as_ref()
    }

    fn web(&self) -> Result<&Web, SessionsError> {
        self.shared
            .web
            .as_ref()
            .ok_or(SessionsError::new(SessionsErrorKind::NoSignIn))
    }

    /// The live sessions of the user `sub`, oldest first. Server-side stores only.
    ///
    /// # Errors
    /// [`SessionsErrorKind::CookieSessions`] when sessions are sealed cookies (the server has
    /// no list of them), [`SessionsErrorKind::Unavailable`] when the store fails.
    pub async fn list(&self, sub: &str) -> Result<Vec<SessionInfo>, SessionsError> {
        let web = self.web()?;
        if !web.sessions.is_stored() {
            return Err(SessionsError::new(SessionsErrorKind::CookieSessions));
        }
        let mut sessions: Vec<SessionInfo> = web
            .sessions
            .list(sub, unix_now())
            .await
            .map_err(SessionsError::unavailable)?
            .into_iter()
            .map(|(id, data, expires_at)| SessionInfo {
                current: self.current.as_ref() == Some(&id),
                id,
                created: data.created,
                last_seen: data.seen,
                expires_at,
            })
            .collect();
        sessions.sort_by_key(|s| s.created);
        Ok(sessions)
    }

    /// Ends the session `id` (from [`list`](Self::list)); whether there was one. Server-side
    /// stores only. It takes effect on the session's next request, on every instance.
    ///
    /// The id names the session, whoever it belongs to: when a user picks the session to end,
    /// take the id from that user's own `list`.
    ///
    /// # Errors
    /// [`SessionsErrorKind::CookieSessions`] when sessions are sealed cookies (end them with
    /// [`end_all`](Self::end_all)), [`SessionsErrorKind::Unavailable`] when the store fails.
    pub async fn end(&self, id: &SessionId) -> Result<bool, SessionsError> {
        let web = self.web()?;
        let Some(store) = web.sessions.store() else {
            return Err(SessionsError::new(SessionsErrorKind::CookieSessions));
        };
        let existed = store
            .load(id)
            .await
            .map_err(SessionsError::unavailable)?
            .is_some();
        store.delete(id).await.map_err(SessionsError::unavailable)?;
        Ok(existed)
    }

    /// Ends every session of the user `sub`, on every instance.
    ///
    /// With a server-side store, the sessions are deleted and their number returned. With
    /// sealed cookie sessions, `sub` goes on the sign-out denylist and `None` is returned (the
    /// server cannot count cookies): every session signed in up to now is refused when next
    /// presented, and a sign-in after it is not affected.
    ///
    /// Either way, the user's bearer access tokens issued up to now (their `iat`, to the
    /// second) are refused from then on, `401 invalid_token`, on every instance sharing the
    /// coordination; tokens issued later pass.
    ///
    /// # Errors
    /// [`SessionsErrorKind::Unavailable`] when the store or the coordination fails, or the
    /// in-memory denylist is full of recent sign-outs.
    pub async fn end_all(&self, sub: &str) -> Result<Option<usize>, SessionsError> {
        self.end_whose(Whose::User(sub)).await
    }

    /// Ends every session signed in through the provider session `sid` (the `sid` of the
    /// user's ID token), as a back-channel logout naming it does, and refuses the bearer
    /// tokens issued up to now that carry that `sid`. Returns as [`end_all`](Self::end_all)
    /// does.
    ///
    /// # Errors
    /// As [`end_all`](Self::end_all).
    pub async fn end_provider_session(&self, sid: &str) -> Result<Option<usize>, SessionsError> {
        self.end_whose(Whose::ProviderSession(sid)).await
    }

    /// Whether this handle can end sessions: the layer signs users in.
    #[cfg(feature = "webhooks")]
    pub(crate) fn has_sessions(&self) -> bool {
        self.shared.web.is_some()
    }

    /// The coordination the layer shares with the app's other instances, if any.
    #[cfg(feature = "webhooks")]
    pub(crate) fn coordination(&self) -> Option<Arc<dyn crate::session::store::DynCoordination>> {
        self.shared.web.as_ref()?.coordination.clone()
    }

    async fn end_whose(&self, whose: Whose<'_>) -> Result<Option<usize>, SessionsError> {
        self.web()?
            .ending()
            .end_sessions(whose)
            .await
            .map_err(SessionsError::unavailable)
    }
}

/// One live session, as [`LogiSessions::list`] shows it. Times are Unix seconds.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    id: SessionId,
    created: i64,
    last_seen: i64,
    expires_at: i64,
    current: bool,
}

impl SessionInfo {
    /// The session's id, for [`LogiSessions::end`].
    #[must_use]
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// When the user signed in.
    #[must_use]
    pub fn created_at(&self) -> i64 {
        self.created
    }

    /// When the session was last used, to within a tenth of the idle timeout (a session is
    /// written back only that often).
    #[must_use]
    pub fn last_seen(&self) -> i64 {
        self.last_seen
    }

    /// When the session ends unless used: the earlier of its idle and absolute timeouts.
    #[must_use]
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// Whether this is the session of the request the [`LogiSessions`] was taken from.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.current
    }
}

/// Why [`LogiSessions`] could not do what it was asked.
#[derive(Debug)]
pub struct SessionsError {
    kind: SessionsErrorKind,
    source: Option<StoreError>,
}

/// The kind of a [`SessionsError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionsErrorKind {
    /// Sessions are sealed in cookies: the server keeps no list of them, nor ids to end one by.
    /// Configure a [`SessionStore`](crate::store::SessionStore) for that.
    CookieSessions,
    /// The layer does not sign users in (no redirect URI): there are no sessions.
    NoSignIn,
    /// The session store or the coordination failed, or the in-memory sign-out denylist is
    /// full: nothing was ended; try again.
    Unavailable,
}

impl SessionsError {
    fn new(kind: SessionsErrorKind) -> Self {
        Self { kind, source: None }
    }

    fn unavailable(source: StoreError) -> Self {
        Self {
            kind: SessionsErrorKind::Unavailable,
            source: Some(source),
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> SessionsErrorKind {
        self.kind
    }
}

impl fmt::Display for SessionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SessionsErrorKind::CookieSessions => f.write_str(
                "sessions are sealed in cookies: the server keeps no list of them (configure a \
                 session store)",
            ),
            SessionsErrorKind::NoSignIn => {
                f.write_str("this LogiLayer does not sign users in: it has no sessions")
            }
            SessionsErrorKind::Unavailable => match &self.source {
                Some(source) => write!(f, "sessions cannot be ended right now: {source}"),
                None => f.write_str("sessions cannot be ended right now"),
            },
        }
    }
}

impl StdError for SessionsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|s| s as &(dyn StdError + 'static))
    }
}
