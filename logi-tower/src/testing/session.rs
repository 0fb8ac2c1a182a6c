//! Signed-in sessions for tests, without going through the provider.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::LogiLayer;
use crate::clock::{unix_now, unix_now_ms};
use crate::session::data::SessionData;
use crate::session::manager::Handle;

/// A signed-in session sealed for a [`LogiLayer`], to test protected handlers directly.
///
/// ```no_run
/// # async fn run(logi: logi::LogiLayer) {
/// use logi::testing::TestSession;
///
/// let cookie = TestSession::new("user-0001")
///     .claim("email", "ada@example.com")
///     .scopes(["openid", "orders:read"])
///     .cookie_header(&logi);
/// // Send `Cookie: {cookie}` with a request to the app behind `logi`.
/// # }
/// ```
///
/// `Debug` shows the user and the scopes, never the tokens.
#[derive(Clone)]
#[must_use]
pub struct TestSession {
    sub: String,
    claims: Map<String, Value>,
    scopes: Vec<String>,
    access_token: String,
    access_token_ttl: Duration,
    refresh_token: Option<String>,
    id_token: Option<String>,
    /// Sealed without a session id, as sessions were before they had one.
    without_id: bool,
}

impl std::fmt::Debug for TestSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSession")
            .field("sub", &self.sub)
            .field("scopes", &self.scopes)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("has_id_token", &self.id_token.is_some())
            .finish_non_exhaustive()
    }
}

impl TestSession {
    /// A session for `sub`, scopes `openid`, an opaque access token valid for 15 minutes and no
    /// refresh token.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            claims: Map::new(),
            scopes: vec!["openid".to_owned()],
            access_token: "test-access-token".to_owned(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token: None,
            id_token: None,
            without_id: false,
        }
    }

    /// Adds an identity claim (`email`, `name`, `identity_verified_level`, …).
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// The granted scopes.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The access token, and how long from now it stays valid (zero: already expired).
    pub fn access_token(mut self, token: impl Into<String>, ttl: Duration) -> Self {
        self.access_token = token.into();
        self.access_token_ttl = ttl;
        self
    }

    /// A refresh token, so the layer can refresh the session.
    pub fn refresh_token(mut self, token: impl Into<String>) -> Self {
        self.refresh_token = Some(token.into());
        self
    }

    /// The ID token kept for sign-out (`id_token_hint`).
    pub fn id_token(mut self, token: impl Into<String>) -> Self {
        self.id_token = Some(token.into());
        self
    }

    /// Seals the session the way versions before sessions had an id of their own did, to test
    /// how the layer treats such sessions (they open; signing one out ends every session of
    /// its user signed in up to then). Each sealed session otherwise gets a new random id.
    #[doc(hidden)]
    pub fn without_session_id(mut self) -> Self {
        self.without_id = true;
        self
    }

    /// The `Cookie` header value carrying this session, sealed with `layer`'s keys.
    ///
    /// # Panics
    /// When the session is too large for cookies, or `layer` keeps sessions in a server-side
    /// store: use [`TestSession::store_in`] there.
    #[must_use]
    pub fn cookie_header(&self, layer: &LogiLayer) -> String {
        let web = web(layer);
        assert!(
            !web.sessions.is_stored(),
            "this layer keeps sessions in a store: use `TestSession::store_in`"
        );
        let cookies = web
            .sessions
            .save_sealed(&self.data(layer), 0, unix_now())
            .expect("the test session fits in cookies");
        header(&cookies)
    }

    /// Stores this session the way `layer` keeps sessions (in its store, or sealed in a
    /// cookie), and returns the `Cookie` header value that carries it.
    ///
    /// # Panics
    /// When the session cannot be stored.
    pub async fn store_in(&self, layer: &LogiLayer) -> String {
        let cookies = web(layer)
            .sessions
            .save(&self.data(layer), &Handle::new(0), unix_now())
            .await
            .expect("the test session is stored");
        header(&cookies)
    }

    fn data(&self, layer: &LogiLayer) -> SessionData {
        let now_ms = unix_now_ms();
        let now = now_ms.div_euclid(1000);
        SessionData {
            iss: layer.shared.issuer.clone(),
            sub: self.sub.clone(),
            claims: self.claims.clone(),
            scope: self.scopes.join(" "),
            at: self.access_token.clone(),
            at_iat: now,
            at_exp: now
                .saturating_add(i64::try_from(self.access_token_ttl.as_secs()).unwrap_or(i64::MAX)),
            rt: self.refresh_token.clone(),
            idt: self.id_token.clone(),
            nonce: None,
            psid: None,
            id: (!self.without_id).then(SessionData::new_id),
            created: now,
            cms: now_ms,
            seen: now,
            pending: None,
        }
    }
}

/// Moves `layer`'s refresh clock forward by `by`, as if that much time had passed for the
/// refresh outcomes it remembers: a test of the
/// [`refresh_successor_window`](crate::LogiLayerBuilder::refresh_successor_window) (minutes)
/// need not wait for it. Nothing else is affected: tokens, sessions and the records in a
/// coordination keep real time.
///
/// # Panics
/// When `layer` does not sign users in (no redirect URI).
pub fn advance_refresh_clock(layer: &LogiLayer, by: Duration) {
    web(layer).refresher.advance(by);
}

fn web(layer: &LogiLayer) -> &crate::state::Web {
    layer
        .shared
        .web
        .as_ref()
        .expect("TestSession needs a layer that signs users in (with a redirect URI)")
}

/// The `Cookie` header a browser sends after receiving `set_cookies`.
fn header(set_cookies: &[http::HeaderValue]) -> String {
    set_cookies
        .iter()
        .map(|set_cookie| {
            let value = set_cookie.to_str().expect("cookies are ASCII");
            value.split(';').next().unwrap_or_default().to_owned()
        })
        .collect::<Vec<_>>()
        .join("; ")
}
