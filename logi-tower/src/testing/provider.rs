//! [`TestProvider`], its builder, and its lifecycle.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client::TestClient;
use super::endpoint::{Endpoint, Fault};
use super::keys::{SigningKey, random_hex};
use super::logout_token::LogoutTokenBuilder;
use super::server;
use super::state::{Config, ProviderState};
use super::user::TestUser;

/// How long [`TestProvider::shutdown`] waits for the accept loop to end.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// A real OpenID provider on a loopback port that behaves like logi.
///
/// A cheap [`Clone`] handle: the server stops when [`shutdown`](Self::shutdown) is called or the
/// last handle is dropped. Start it inside a Tokio runtime; it serves on that runtime.
///
/// ```
/// use logi::testing::{Endpoint, Fault, TestProvider};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let provider = TestProvider::builder()
///     .access_token_ttl(std::time::Duration::from_secs(60))
///     .start()
///     .await?;
/// provider.set_fault(Endpoint::Jwks, Fault::Status(503));
/// assert!(provider.issuer().starts_with("http://127.0.0.1:"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TestProvider {
    inner: Arc<Running>,
}

/// The one running server behind every handle.
struct Running {
    state: Arc<ProviderState>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl TestProvider {
    /// A builder, to change the defaults of [`start`](Self::start).
    pub fn builder() -> TestProviderBuilder {
        TestProviderBuilder::default()
    }

    /// Starts a non-interactive provider on `127.0.0.1:0` with one confidential client,
    /// [`TestClient::default()`], and one user, [`TestUser::default()`].
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start() -> io::Result<TestProvider> {
        Self::builder().start().await
    }

    /// The issuer: `http://127.0.0.1:PORT` (no trailing slash) unless the builder set another.
    pub fn issuer(&self) -> &str {
        &self.inner.state.config.issuer
    }

    /// Where the endpoints are served: `http://127.0.0.1:PORT`, whatever the issuer is.
    pub fn base_url(&self) -> &str {
        &self.inner.state.config.base_url
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        self.url(Endpoint::Discovery)
    }

    /// The URL of `endpoint` on this provider.
    pub fn url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.base_url(), endpoint.path())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Registers a client, replacing one with the same `client_id`.
    pub fn register_client(&self, client: TestClient) {
        self.state().register_client(client);
    }

    /// Adds a user, replacing one with the same `sub`.
    pub fn add_user(&self, user: TestUser) {
        self.state().add_user(user);
    }

    /// How many requests reached `endpoint` since the start or the last
    /// [`reset_calls`](Self::reset_calls), faulted ones included.
    pub fn calls(&self, endpoint: Endpoint) -> u64 {
        self.state().calls(endpoint)
    }

    /// Sets every call counter back to zero.
    pub fn reset_calls(&self) {
        self.state().reset_calls();
    }

    /// Makes every request to `endpoint` meet `fault` until [`clear_fault`](Self::clear_fault).
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.state().set_fault(endpoint, Some(fault));
    }

    /// Lets `endpoint` answer normally again.
    pub fn clear_fault(&self, endpoint: Endpoint) {
        self.state().set_fault(endpoint, None);
    }

    /// Makes the next authorization request (that passes validation) answer
    /// `error=access_denied`, as when the user declines.
    pub fn deny_next_authorization(&self) {
        self.state().lock().deny_next_authorization = true;
    }

    /// Makes the next token response that would carry an ID token (a grant with the `openid`
    /// scope) leave it out, as a faulty provider might: an `openid` sign-in must then fail
    /// like any other invalid token response.
    pub fn omit_next_id_token(&self) {
        self.state().lock().omit_next_id_token = true;
    }

    /// Generates a new RS256 key and signs with it from now on; returns its `kid`.
    /// Older keys stay in the JWKS until [`remove_key`](Self::remove_key).
    pub fn rotate_keys(&self) -> String {
        self.state().rotate_keys()
    }

    /// Removes a key from the JWKS: tokens it signed no longer verify, here or elsewhere.
    /// If it was the signing key, the newest remaining key signs; removing the only key
    /// rotates in a new one first.
    pub fn remove_key(&self, kid: &str) {
        self.state().remove_key(kid);
    }

    /// The `kid` of the signing key.
    pub fn current_kid(&self) -> String {
        self.state().current_key().kid().to_owned()
    }

    /// The JWKS document, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        self.state().jwks()
    }

    /// An RS256 JWT of `claims` with the header `{alg: RS256, kid: <current>, typ: JWT}`.
    pub fn sign_claims(&self, claims: &Value) -> String {
        self.state().sign_claims(claims)
    }

    /// Signs `header.claims` with the current RSA key whatever `header` says: for tokens with a
    /// wrong `alg`, an unknown `kid`, a missing `typ`, and so on.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        self.state().sign_with_header(header, claims)
    }

    /// A valid baseline ID token claim set (`iss, aud, sub, iat, exp, jti`) to tweak and pass to
    /// [`sign_claims`](Self::sign_claims).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let provider = logi::testing::TestProvider::start().await?;
    /// let mut claims = provider.id_token_claims(logi::testing::TestClient::DEFAULT_CLIENT_ID, "user-0001");
    /// claims["exp"] = 1.into(); // long expired
    /// let expired = provider.sign_claims(&claims);
    /// # assert_eq!(expired.split('.').count(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn id_token_claims(&self, client_id: &str, sub: &str) -> Value {
        Value::Object(self.state().id_token_claims(client_id, sub))
    }

    /// A valid access token (`iss, sub, aud = client_id, exp, iat, jti, scope, client_id, sid`)
    /// that userinfo accepts until it expires or is revoked. It belongs to no sign-in, so no
    /// refresh-token chain revokes it.
    pub fn access_token(
        &self,
        client_id: &str,
        sub: &str,
        scopes: &[&str],
        ttl: Duration,
    ) -> String {
        let scopes: Vec<String> = scopes.iter().map(|&scope| scope.to_owned()).collect();
        let sid = format!("sid_{}", random_hex(12));
        self.state()
            .access_token(client_id, sub, &scopes, &sid, ttl)
    }

    /// A back-channel logout token for `client_id` to sign, valid unless changed: name whose
    /// sessions end with [`sub`](LogoutTokenBuilder::sub) and/or
    /// [`sid`](LogoutTokenBuilder::sid).
    pub fn logout_token(&self, client_id: &str) -> LogoutTokenBuilder {
        LogoutTokenBuilder::new(Arc::clone(&self.inner.state), client_id)
    }

    /// The provider session ids (`sid`) of `sub`'s sign-ins that were not revoked (the `sid`
    /// their ID tokens carry), sorted by sign-in time to the second.
    pub fn session_ids(&self, sub: &str) -> Vec<String> {
        self.state().lock().grants.session_ids(sub)
    }

    /// The HTTP status of every back-channel logout the provider delivered to a client's
    /// [`backchannel_logout_uri`](TestClient::backchannel_logout_uri), in order (0 when the
    /// client did not answer within 5 seconds).
    pub fn backchannel_logouts(&self) -> Vec<u16> {
        self.state().lock().backchannel_logouts.clone()
    }

    /// Stops the server: no new connections, open ones closed. Other handles stay usable for
    /// everything but HTTP.
    pub async fn shutdown(self) {
        self.inner.stop.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, task).await;
        }
    }

    fn state(&self) -> &ProviderState {
        &self.inner.state
    }
}

impl fmt::Debug for TestProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestProvider")
            .field("issuer", &self.issuer())
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

/// Configures and starts a [`TestProvider`].
///
/// Without [`client`](Self::client) it registers [`TestClient::default()`]; without
/// [`user`](Self::user) it knows [`TestUser::default()`]. Naming any replaces the default.
///
/// ```
/// use std::time::Duration;
/// use logi::testing::{TestClient, TestProvider, TestUser};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let provider = TestProvider::builder()
///     .client(TestClient::public("logi_0123456789abcdef0123456789abcdef", ["http://localhost:5173/cb"]))
///     .user(TestUser::default())
///     .user(TestUser::new("user-0002"))
///     .refresh_token_ttl(Duration::from_secs(2))
///     .interactive(true)
///     .start()
///     .await?;
/// # drop(provider);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TestProviderBuilder {
    addr: SocketAddr,
    issuer: Option<String>,
    interactive: bool,
    clients: Vec<TestClient>,
    users: Vec<TestUser>,
    access_token_ttl: Duration,
    id_token_ttl: Duration,
    refresh_token_ttl: Duration,
    code_ttl: Duration,
    jwks_max_age: Duration,
    identity_claims_in_id_token: bool,
    end_session_endpoint: bool,
    opaque_access_tokens: bool,
    introspection_endpoint: bool,
}

impl Default for TestProviderBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            issuer: None,
            interactive: false,
            clients: Vec::new(),
            users: Vec::new(),
            access_token_ttl: Duration::from_secs(900),
            id_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(600),
            jwks_max_age: Duration::from_secs(3600),
            identity_claims_in_id_token: false,
            end_session_endpoint: true,
            opaque_access_tokens: false,
            introspection_endpoint: false,
        }
    }
}

impl TestProviderBuilder {
    /// Listens on `127.0.0.1:port` (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        self
    }

    /// Listens on `addr`, which must be a loopback address (`127.0.0.0/8` or `[::1]`).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The `iss` of tokens and discovery, e.g. `https://api.1pass.dev` or the bare `logi` of
    /// older deployments. The endpoints stay at [`TestProvider::base_url`].
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Shows a sign-in page (a button per user, and Deny) instead of signing the first user in
    /// at once. Default false.
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.interactive = interactive;
        self
    }

    /// Registers a client (instead of the default one).
    pub fn client(mut self, client: TestClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Adds a user (instead of the default one). Without `login_hint`, the first user signs in.
    pub fn user(mut self, user: TestUser) -> Self {
        self.users.push(user);
        self
    }

    /// The access token lifetime (`expires_in`). Default 900 s.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// The ID token lifetime. Default 3600 s.
    pub fn id_token_ttl(mut self, ttl: Duration) -> Self {
        self.id_token_ttl = ttl;
        self
    }

    /// How long each refresh token can be used, from its issuance. Default 30 days.
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_token_ttl = ttl;
        self
    }

    /// The authorization code lifetime. Default 600 s.
    pub fn code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = ttl;
        self
    }

    /// The JWKS `Cache-Control: public, max-age`. Default 3600 s.
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// Puts the identity claims the scopes allow (`email`, `email_verified`, `name`,
    /// `full_name`, `preferred_name`, `identity_verified_level`) in ID tokens too. Default
    /// false: logi does not guarantee them there, userinfo has them.
    pub fn identity_claims_in_id_token(mut self, enabled: bool) -> Self {
        self.identity_claims_in_id_token = enabled;
        self
    }

    /// Issues access tokens as random strings that only the provider can validate (through
    /// introspection or userinfo) instead of JWTs. Default false (logi issues JWTs).
    pub fn opaque_access_tokens(mut self, enabled: bool) -> Self {
        self.opaque_access_tokens = enabled;
        self
    }

    /// Serves `/oauth/introspect` (RFC 7662) and names it `introspection_endpoint` in
    /// discovery. Default false (logi's is unknown).
    pub fn introspection_endpoint(mut self, enabled: bool) -> Self {
        self.introspection_endpoint = enabled;
        self
    }

    /// Serves `/oauth/logout` and names it `end_session_endpoint` in discovery. Default true.
    pub fn end_session_endpoint(mut self, enabled: bool) -> Self {
        self.end_session_endpoint = enabled;
        self
    }

    /// Binds the port and starts serving on the current Tokio runtime.
    ///
    /// # Errors
    /// `InvalidInput` for a non-loopback address; otherwise when the address cannot be bound.
    pub async fn start(self) -> io::Result<TestProvider> {
        if !self.addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the test provider only listens on loopback addresses",
            ));
        }
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let config = Config {
            issuer: self.issuer.unwrap_or_else(|| base_url.clone()),
            base_url,
            interactive: self.interactive,
            access_token_ttl: self.access_token_ttl,
            id_token_ttl: self.id_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            code_ttl: self.code_ttl,
            jwks_max_age: self.jwks_max_age,
            identity_claims_in_id_token: self.identity_claims_in_id_token,
            end_session_endpoint: self.end_session_endpoint,
            opaque_access_tokens: self.opaque_access_tokens,
            introspection_endpoint: self.introspection_endpoint,
        };
        let clients = non_empty_or(self.clients, TestClient::default);
        let users = non_empty_or(self.users, TestUser::default);
        let state = Arc::new(ProviderState::new(
            config,
            clients,
            users,
            SigningKey::generate(),
        ));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state), stopped));
        Ok(TestProvider {
            inner: Arc::new(Running {
                state,
                addr,
                stop,
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

fn non_empty_or<T>(items: Vec<T>, default: impl FnOnce() -> T) -> Vec<T> {
    if items.is_empty() {
        vec![default()]
    } else {
        items
    }
}
