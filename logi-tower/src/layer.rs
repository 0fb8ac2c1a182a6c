//! [`LogiLayer`]: the one layer an app adds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use url::Url;

use crate::IdTokenVerifier;
use crate::config::{ConfigError, LogiLayerBuilder, Paths};
use crate::provider::{Jwks, OidcClient, ProviderMetadata};
use crate::refresh::Refresher;
use crate::require::RequireLoginLayer;
use crate::service::Logi;
use crate::session::cookie::Sealer;
use crate::session::manager::Sessions;
use crate::user::Principal;

/// Signs users in with logi and attaches them to requests.
///
/// Add it once, around the whole app: it answers its own routes (`/auth/login`,
/// `/auth/callback`, `/auth/logout`, `/auth/me`), reads the session of every other request and
/// puts the signed-in user into the request's extensions, where [`LogiUser`](crate::LogiUser)
/// finds it. It never refuses a request by itself: protect routes with
/// [`LogiLayer::require`] or by taking a `LogiUser` in the handler.
///
/// Cheap to clone: settings, keys and caches are shared.
#[derive(Clone)]
#[must_use]
pub struct LogiLayer {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for LogiLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogiLayer")
            .field("issuer", &self.shared.verifier.issuer())
            .field("client_id", &self.shared.client.client_id)
            .field("redirect_uri", &self.shared.client.redirect_uri.as_str())
            .finish_non_exhaustive()
    }
}

/// Everything the layer's services share.
pub(crate) struct Shared {
    pub(crate) client: OidcClient,
    pub(crate) verifier: IdTokenVerifier,
    pub(crate) sessions: Sessions,
    pub(crate) transactions: Sealer,
    pub(crate) paths: Paths,
    pub(crate) scope: String,
    pub(crate) public_origin: String,
    pub(crate) post_logout_redirect: Url,
    pub(crate) trust_forwarded: bool,
    pub(crate) refresher: Refresher,
    pub(crate) refresh_margin: Duration,
}

/// What the layer attaches to every request: its settings and, when signed in, the user.
#[derive(Clone)]
pub(crate) struct Auth {
    pub(crate) shared: Arc<Shared>,
    pub(crate) principal: Option<Arc<Principal>>,
    /// Set when the session could not be refreshed for now (the provider is unreachable) and
    /// its access token has expired: a request that needs the user gets 503, retry after this.
    pub(crate) unavailable: Option<Duration>,
}

impl LogiLayer {
    /// Builds the layer from the `LOGI_*` environment variables, discovering the provider from
    /// the issuer alone.
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `LOGI_ISSUER` | the provider (default `https://api.1pass.dev`) |
    /// | `LOGI_CLIENT_ID` | the client id (required) |
    /// | `LOGI_CLIENT_SECRET` | the client secret; absent for a public client (PKCE only) |
    /// | `LOGI_REDIRECT_URI` | the registered callback URL (required) |
    /// | `LOGI_SCOPES` | scopes to request (default `openid profile:basic email`) |
    /// | `LOGI_SESSION_KEY` | base64 keys of at least 32 bytes, comma separated, newest first |
    /// | `LOGI_PUBLIC_URL` | the app's external origin (default: the redirect URI's) |
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting at fault, or the discovery failure.
    pub async fn from_env() -> Result<Self, ConfigError> {
        LogiLayerBuilder::default().with_env()?.build().await
    }

    /// A builder for the same settings, in code.
    pub fn builder() -> LogiLayerBuilder {
        LogiLayerBuilder::default()
    }

    /// A layer that refuses requests without a signed-in user: browsers are sent to sign in,
    /// API calls get 401, gRPC calls `UNAUTHENTICATED`. Use it with axum's `route_layer`, inside
    /// this layer, so unknown paths stay 404.
    pub fn require(&self) -> RequireLoginLayer {
        RequireLoginLayer::new()
    }
}

impl LogiLayerBuilder {
    /// Checks the settings, discovers the provider, and builds the layer.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting at fault, or the discovery failure.
    pub async fn build(self) -> Result<LogiLayer, ConfigError> {
        let checked = self.check()?;
        let b = &checked.builder;
        let http = b.http.clone().unwrap_or_default();
        let metadata =
            ProviderMetadata::discover(&http, &b.issuer, b.expected_issuer.as_deref()).await?;
        let jwks = Jwks::from_provider(&http, &metadata);
        let verifier =
            IdTokenVerifier::new(metadata.issuer.clone(), checked.client_id.clone(), jwks)
                .with_clock_skew(b.clock_skew);
        let sealer = Sealer::new(&checked.session_keys);
        let shared = Shared {
            client: OidcClient {
                http: http.clone(),
                metadata,
                client_id: checked.client_id.clone(),
                client_secret: b.client_secret.clone(),
                auth_method: b.token_auth,
                redirect_uri: checked.redirect_uri.clone(),
            },
            verifier,
            sessions: Sessions::new(sealer.clone(), b.idle_timeout, b.absolute_timeout),
            transactions: sealer,
            paths: checked.paths.clone(),
            scope: checked.scopes.join(" "),
            public_origin: checked.public_origin.clone(),
            post_logout_redirect: checked.post_logout_redirect.clone(),
            trust_forwarded: b.trust_forwarded_headers,
            refresher: Refresher::new(b.successor_ttl),
            refresh_margin: b.refresh_margin,
        };
        Ok(LogiLayer {
            shared: Arc::new(shared),
        })
    }
}

impl<S> Layer<S> for LogiLayer {
    type Service = Logi<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Logi::new(inner, Arc::clone(&self.shared))
    }
}
