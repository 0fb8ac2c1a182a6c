//! Settings for [`LogiLayer`](crate::LogiLayer), checked once when the layer is built: the
//! builder and its setters (here), the `LOGI_*` variables (`env.rs`), the checks (`check.rs`),
//! the errors (`error.rs`). Serves no request; building the layer's state is `layer.rs`'s.

mod check;
mod env;
mod error;

use std::borrow::Cow;
use std::time::Duration;

pub(crate) use self::check::Checked;
pub use self::error::ConfigError;
use crate::Secret;
use crate::first_login::{SignIn, SignInDecision, SignInHook};
use crate::provider::{DEFAULT_ISSUER, HttpClient};
use crate::session::cookie::SessionKeys;
use crate::session::store::{Coordination, SessionStore};

mod store;

pub(crate) use self::store::{CoordinationChoice, StoreChoice};

/// The scopes requested when none are configured.
pub const DEFAULT_SCOPES: &str = "openid profile:basic email";

/// How the client authenticates to the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenAuthMethod {
    /// HTTP Basic with the client id and secret (the default for confidential clients).
    #[default]
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
}

/// The paths of the routes the layer answers itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoutePaths {
    /// Starts a sign-in (`GET`, optional `return_to`). Default `/auth/login`.
    pub login: Cow<'static, str>,
    /// Where the provider sends the browser back. Default: the redirect URI's path.
    pub callback: Cow<'static, str>,
    /// Signs out (`POST`). Default `/auth/logout`.
    pub logout: Cow<'static, str>,
    /// The signed-in user as JSON (`GET`). Default `/auth/me`.
    pub me: Cow<'static, str>,
    /// Hands logi's login widget `{state, code_challenge, …}` (`POST`). Default
    /// `/auth/challenge`.
    pub challenge: Cow<'static, str>,
    /// Receives OpenID Connect back-channel logouts from the provider (`POST`, server to
    /// server): register its URL as the client's `backchannel_logout_uri`. Default
    /// `/auth/backchannel-logout`.
    pub backchannel_logout: Cow<'static, str>,
}

impl Default for RoutePaths {
    fn default() -> Self {
        Self {
            login: Cow::Borrowed("/auth/login"),
            callback: Cow::Borrowed("/auth/callback"),
            logout: Cow::Borrowed("/auth/logout"),
            me: Cow::Borrowed("/auth/me"),
            challenge: Cow::Borrowed("/auth/challenge"),
            backchannel_logout: Cow::Borrowed("/auth/backchannel-logout"),
        }
    }
}

/// Builds a [`LogiLayer`](crate::LogiLayer). Every setting has an environment variable, read by
/// [`LogiLayer::from_env`](crate::LogiLayer::from_env).
///
/// Every setting is checked by [`build`](Self::build), which also runs discovery: a mistake is
/// a [`ConfigError`] naming the setting, before the app serves anything.
///
/// ```no_run
/// use std::time::Duration;
/// use logi::LogiLayer;
///
/// # async fn run() -> Result<(), logi::ConfigError> {
/// let logi = LogiLayer::builder()
///     .issuer("https://api.1pass.dev")
///     .client_id("logi_0123456789abcdef0123456789abcdef")
///     .client_secret(std::env::var("LOGI_CLIENT_SECRET").unwrap_or_default())
///     .redirect_uri("https://app.example/auth/callback")
///     .scopes("openid profile:basic email orders:read")
///     .idle_timeout(Duration::from_secs(8 * 60 * 60))
///     .build()
///     .await?;
/// # let _ = logi;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct LogiLayerBuilder {
    pub(crate) issuer: String,
    pub(crate) expected_issuer: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) scopes: String,
    pub(crate) session_keys: Option<SessionKeys>,
    pub(crate) public_url: Option<String>,
    pub(crate) paths: RoutePaths,
    pub(crate) token_auth: TokenAuthMethod,
    pub(crate) clock_skew: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) absolute_timeout: Duration,
    pub(crate) trust_forwarded_headers: bool,
    pub(crate) post_logout_redirect: Option<String>,
    pub(crate) domain_verification: Option<String>,
    pub(crate) http: Option<HttpClient>,
    pub(crate) refresh_margin: Duration,
    pub(crate) successor_ttl: Duration,
    pub(crate) audiences: Vec<String>,
    pub(crate) token_cache_capacity: usize,
    pub(crate) opaque_tokens: bool,
    pub(crate) opaque_tokens_via_userinfo: bool,
    pub(crate) opaque_refusal_ttl: Duration,
    pub(crate) session_store: StoreChoice,
    pub(crate) coordination: Option<CoordinationChoice>,
    pub(crate) sign_in_hook: Option<SignInHook>,
    pub(crate) completion_window: Duration,
}

/// How long a session cookie rotated out by a refresh is still honoured, unless
/// [`LogiLayerBuilder::refresh_successor_window`] says otherwise: two minutes.
pub const DEFAULT_REFRESH_SUCCESSOR_WINDOW: Duration = Duration::from_secs(120);

impl Default for LogiLayerBuilder {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.to_owned(),
            expected_issuer: None,
            client_id: None,
            client_secret: None,
            redirect_uri: None,
            scopes: DEFAULT_SCOPES.to_owned(),
            session_keys: None,
            public_url: None,
            paths: RoutePaths::default(),
            token_auth: TokenAuthMethod::default(),
            clock_skew: crate::verify::DEFAULT_CLOCK_SKEW,
            idle_timeout: Duration::from_secs(24 * 3600),
            absolute_timeout: Duration::from_secs(7 * 24 * 3600),
            trust_forwarded_headers: false,
            post_logout_redirect: None,
            domain_verification: None,
            http: None,
            refresh_margin: Duration::from_secs(60),
            successor_ttl: DEFAULT_REFRESH_SUCCESSOR_WINDOW,
            audiences: Vec::new(),
            token_cache_capacity: 10_000,
            opaque_tokens: false,
            opaque_tokens_via_userinfo: false,
            opaque_refusal_ttl: crate::opaque::DEFAULT_REFUSAL_TTL,
            session_store: StoreChoice::Cookies,
            coordination: None,
            sign_in_hook: None,
            completion_window: crate::first_login::COMPLETION_TIMEOUT,
        }
    }
}

impl LogiLayerBuilder {
    /// The issuer to discover (`LOGI_ISSUER`, default `https://api.1pass.dev`). Must be
    /// `https://`, or `http://` on a loopback host for development.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The `iss` that tokens and the discovery document carry, when it is not the issuer URL
    /// (`LOGI_EXPECTED_ISSUER`; older logi deployments used the bare string `logi`).
    pub fn expected_issuer(mut self, iss: impl Into<String>) -> Self {
        self.expected_issuer = Some(iss.into());
        self
    }

    /// The client id (`LOGI_CLIENT_ID`). Required for the browser sign-in.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret (`LOGI_CLIENT_SECRET`). Without it the client is public (PKCE only).
    pub fn client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The callback URL registered with the provider (`LOGI_REDIRECT_URI`); must be `https://`,
    /// or `http://` on a loopback host. Without it the layer serves no browser routes and only
    /// accepts bearer tokens (an API), which must then name its [`audience`](Self::audience).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// An audience that bearer tokens must name in `aud` (`LOGI_AUDIENCE`, comma separated for
    /// several). Default: the client id, which is what logi's access tokens carry.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// How many verified bearer tokens are remembered until they expire (default 10 000; 0
    /// verifies every request's token from scratch).
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.token_cache_capacity = capacity;
        self
    }

    /// Accepts opaque (non-JWT) bearer tokens, validated with the provider through its
    /// introspection endpoint (RFC 7662, with the client credentials) when discovery names one:
    /// the answer must be `active`, about an access token (`token_type`), meant for this API
    /// (`aud`, else `client_id`), from this issuer, not expired. Accepted tokens are cached for
    /// a minute at most, refusals for [`opaque_token_refusal_ttl`](Self::opaque_token_refusal_ttl),
    /// and concurrent requests with one token share one call. Without an introspection
    /// endpoint, opaque tokens are refused unless
    /// [`opaque_tokens_via_userinfo`](Self::opaque_tokens_via_userinfo) is on. logi issues JWT
    /// access tokens, so this is off by default (`LOGI_OPAQUE_TOKENS=true` turns it on).
    pub fn opaque_tokens(mut self, enabled: bool) -> Self {
        self.opaque_tokens = enabled;
        self
    }

    /// With [`opaque_tokens`](Self::opaque_tokens) and a provider without an introspection
    /// endpoint: accepts an opaque token that userinfo accepts (`LOGI_OPAQUE_TOKENS_VIA_USERINFO`,
    /// default off). Userinfo proves that a token is live and whose it is, but, unless its answer
    /// names an `aud` or a `client_id` (which must then name this API), not whom it was issued
    /// for: any access token the provider issued to any of its clients for the user passes, and
    /// no scopes are known. Turn it on only when every client of the provider is this app.
    pub fn opaque_tokens_via_userinfo(mut self, enabled: bool) -> Self {
        self.opaque_tokens_via_userinfo = enabled;
        self
    }

    /// How long an opaque token the provider refused stays refused without asking the provider
    /// again (default 5 seconds; zero asks every time, still one call at a time per token). A
    /// provider that cannot answer is not a refusal and is not remembered.
    pub fn opaque_token_refusal_ttl(mut self, ttl: Duration) -> Self {
        self.opaque_refusal_ttl = ttl;
        self
    }

    /// The scopes to request, space separated (`LOGI_SCOPES`, default `openid profile:basic email`).
    pub fn scopes(mut self, scopes: impl Into<String>) -> Self {
        self.scopes = scopes.into();
        self
    }

    /// The keys that seal session cookies, newest first (`LOGI_SESSION_KEY`).
    pub fn session_keys(mut self, keys: SessionKeys) -> Self {
        self.session_keys = Some(keys);
        self
    }

    /// Keeps sessions in `store` (a [`MemoryStore`](crate::store::MemoryStore), a `RedisStore`, or your
    /// own [`SessionStore`]) instead of sealing them whole into cookies: the cookie then holds
    /// only a sealed random session id, sessions can be ended from the server, and their size
    /// is not limited by cookies. `LOGI_SESSION_STORE` chooses one from the environment:
    /// `memory`, or a `redis://` URL (feature `redis`); unset, sessions are sealed cookies.
    ///
    /// A [`MemoryStore`](crate::store::MemoryStore) or a `RedisStore` also coordinates the layers that
    /// share it (see [`coordination`](Self::coordination)); for another store, give a
    /// coordination too when several instances share it.
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        self.session_store = StoreChoice::given(store);
        self
    }

    /// Where the app's instances agree on refreshes and sign-outs (`LOGI_COORDINATION`: a
    /// `redis://` URL, feature `redis`): a `RedisStore`, or your own [`Coordination`].
    ///
    /// Needed when several instances serve the same users with sealed cookie sessions: logi
    /// rotates refresh tokens and treats a reused one as theft, so two instances refreshing
    /// the same session at once would end it; and a back-channel logout received by one
    /// instance must sign the user out on all. With a `RedisStore` (or `MemoryStore`) as the
    /// session store this is already the store; default: none, each layer coordinates only its
    /// own requests (right for one instance).
    pub fn coordination(mut self, coordination: impl Coordination) -> Self {
        self.coordination = Some(CoordinationChoice::Given(std::sync::Arc::new(coordination)));
        self
    }

    /// The app's external origin, e.g. `https://app.example.com` (`LOGI_PUBLIC_URL`). Default:
    /// the redirect URI's origin.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// The paths of the layer's own routes.
    pub fn paths(mut self, paths: RoutePaths) -> Self {
        self.paths = paths;
        self
    }

    /// How to authenticate at the token endpoint (default HTTP Basic).
    pub fn token_auth_method(mut self, method: TokenAuthMethod) -> Self {
        self.token_auth = method;
        self
    }

    /// The clock skew allowed when checking token times (default 60 s).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Ends a session after this long without a request (default one day).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Ends a session this long after sign-in, whatever the activity (default seven days).
    pub fn absolute_timeout(mut self, timeout: Duration) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Trusts `X-Forwarded-Host` and `X-Forwarded-Proto` for the request's origin. Only enable
    /// this behind a reverse proxy that sets them (and strips them from clients).
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.trust_forwarded_headers = trust;
        self
    }

    /// Where the browser lands after sign-out (default: the public origin's `/`). Must be
    /// registered as a post-logout redirect URI when the provider has an end-session endpoint.
    pub fn post_logout_redirect(mut self, url: impl Into<String>) -> Self {
        self.post_logout_redirect = Some(url.into());
        self
    }

    /// Refreshes the access token this long before it expires (default 60 s), but never earlier
    /// than the last quarter of its lifetime, so short-lived tokens are not refreshed on every
    /// request.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long a session cookie rotated out by a refresh is still honoured (default
    /// [`DEFAULT_REFRESH_SUCCESSOR_WINDOW`], two minutes; at least one second, at most the
    /// [`absolute_timeout`](Self::absolute_timeout)).
    ///
    /// When a refresh rotates the session's refresh token, requests that still carry the
    /// cookie from before get the successor tokens (and a fresh cookie) instead of spending
    /// the old token again, which logi would treat as theft and answer by ending the session.
    /// Such a cookie can arrive long after the refresh: a request that started before it (a
    /// slow upload, a long poll, a server-sent event stream) writes the old cookie back when it
    /// ends. Make the window at least as long as the longest request the app allows (its
    /// request timeout). With a [`coordination`](Self::coordination), the successor record is
    /// kept for this long there too; after the window, the old cookie is treated as a spent
    /// refresh token (the provider's reuse detection ends the session).
    pub fn refresh_successor_window(mut self, window: Duration) -> Self {
        self.successor_ttl = window;
        self
    }

    /// The former name of [`refresh_successor_window`](Self::refresh_successor_window).
    #[deprecated(note = "renamed `refresh_successor_window`")]
    pub fn refresh_successor_ttl(self, ttl: Duration) -> Self {
        self.refresh_successor_window(ttl)
    }

    /// Serves `token` at `/.well-known/logi-verification.txt` (`LOGI_DOMAIN_VERIFICATION`), the
    /// file logi reads to prove that this host may be a redirect URI's domain (the alternative
    /// is a DNS TXT record `_logi-verify.<host>`).
    pub fn domain_verification(mut self, token: impl Into<String>) -> Self {
        self.domain_verification = Some(token.into());
        self
    }

    /// Calls `hook` at every browser sign-in, once the tokens and the ID token are verified and
    /// before the session is written: the app looks the user up and answers whether they go
    /// straight in ([`SignInDecision::Continue`]) or first through the app's completion form
    /// ([`SignInDecision::NeedsCompletion`]), during which the session is pending and the user
    /// is not signed in. An error or a panic fails the sign-in closed (503 or 500, no session).
    /// See [`first_login`](crate::first_login) for the whole flow.
    ///
    /// Without a hook every verified sign-in goes straight in. The layer never creates
    /// anything for a new user: the hook only looks up.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), logi::ConfigError> {
    /// use logi::LogiLayer;
    /// use logi::first_login::{SignIn, SignInDecision};
    ///
    /// async fn on_sign_in(user: SignIn) -> Result<SignInDecision, std::io::Error> {
    ///     let known = user.email_verified() && user.email() == Some("ada@example.com");
    ///     Ok(if known {
    ///         SignInDecision::Continue
    ///     } else {
    ///         SignInDecision::needs_completion("/welcome")
    ///     })
    /// }
    ///
    /// let logi = LogiLayer::builder().with_env()?.on_sign_in(on_sign_in).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn on_sign_in<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(SignIn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<SignInDecision, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.sign_in_hook = Some(SignInHook::new(hook));
        self
    }

    /// How long a sign-in the [`on_sign_in`](Self::on_sign_in) hook sent to the completion
    /// form may take to complete (default
    /// [`COMPLETION_TIMEOUT`](crate::first_login::COMPLETION_TIMEOUT), 30 minutes): the
    /// pending session then ends, and the user signs in again. Lengthen it when the form waits
    /// for something slow, such as a confirmation email; it never outlasts the
    /// [`absolute_timeout`](Self::absolute_timeout).
    pub fn completion_window(mut self, window: Duration) -> Self {
        self.completion_window = window;
        self
    }

    /// The HTTP client for calls to the provider (custom CA, proxy).
    pub fn http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_secret_never_shows_in_debug() {
        let b = LogiLayerBuilder::default().client_secret("logi_secret_supersecret");
        assert!(!format!("{b:?}").contains("supersecret"));
    }
}
