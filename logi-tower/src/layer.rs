//! [`LogiLayer`]: the one layer an app adds, and how it is built from checked settings.
//! Owns the `Layer` and the building of the runtime state (`state/`); must not hold that state
//! or decide about requests (`service.rs` does).

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::bearer::TokenCache;
use crate::config::{Checked, ConfigError, LogiLayerBuilder, TokenAuthMethod};
use crate::opaque::Opaque;
use crate::provider::{ClientAuth, Jwks, OidcClient, ProviderMetadata};
use crate::refresh::Refresher;
use crate::require::RequireLoginLayer;
use crate::service::Logi;
use crate::session::cookie::Sealer;
use crate::session::manager::Sessions;
use crate::session::signout::SignOuts;
use crate::state::{Shared, Web};
use crate::verify::{AccessTokenVerifier, IdTokenVerifier};

/// Signs users in with logi and attaches them to requests.
///
/// Add it once, around the whole app: it answers its own routes (`/auth/login`,
/// `/auth/callback`, `/auth/logout`, `/auth/me`, `/auth/backchannel-logout`), reads the session of every other request and
/// puts the signed-in user into the request's extensions, where [`LogiUser`](crate::LogiUser)
/// finds it. It never refuses a request by itself: protect routes with
/// [`LogiLayer::require`] or by taking a `LogiUser` in the handler.
///
/// Cheap to clone: settings, keys and caches are shared.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use logi::{LogiLayer, LogiUser};
///
/// async fn dashboard(user: LogiUser) -> String {
///     format!("hello {}", user.sub())
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Discovery from the issuer alone; `LOGI_CLIENT_ID`, `LOGI_CLIENT_SECRET`,
/// // `LOGI_REDIRECT_URI` and `LOGI_SESSION_KEY` say the rest.
/// let logi = LogiLayer::from_env().await?;
/// let app: Router = Router::new()
///     .route("/dashboard", get(dashboard))
///     .route_layer(logi.require()) // signed-out browsers go to sign in, APIs get 401
///     .layer(logi);
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct LogiLayer {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for LogiLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let web = self.shared.web.as_ref();
        f.debug_struct("LogiLayer")
            .field("issuer", &self.shared.issuer)
            .field("client_id", &web.map(|w| &w.client.client_id))
            .field("redirect_uri", &web.map(|w| w.redirect_uri.as_str()))
            .finish_non_exhaustive()
    }
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
    /// | `LOGI_SESSION_STORE` | where sessions live: unset for sealed cookies, `memory`, or a `redis://` URL (feature `redis`) |
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
        let Checked {
            builder: b,
            audiences,
            web,
        } = self.check()?;
        let http = b.http.clone().unwrap_or_default();
        let metadata =
            ProviderMetadata::discover(&http, &b.issuer, b.expected_issuer.as_deref()).await?;
        let jwks = Jwks::from_provider(&http, &metadata);
        let issuer = metadata.issuer.clone();
        if b.opaque_tokens && metadata.introspection_endpoint.is_some() && b.client_id.is_none() {
            // Introspection needs the client's credentials.
            return Err(ConfigError::Missing("LOGI_CLIENT_ID"));
        }
        let opaque = b.opaque_tokens.then(|| {
            let client = OidcClient {
                http: http.clone(),
                metadata: metadata.clone(),
                client_id: b.client_id.clone().unwrap_or_default(),
                client_secret: b.client_secret.clone(),
                auth_method: client_auth(b.token_auth),
            };
            Opaque::new(
                client,
                audiences.clone(),
                b.opaque_tokens_via_userinfo,
                b.opaque_refusal_ttl,
            )
        });
        let access_tokens =
            AccessTokenVerifier::with_audiences(issuer.clone(), audiences, jwks.clone())
                .with_clock_skew(b.clock_skew);
        let (store, store_coordination) = match (&web, b.session_store.clone()) {
            (None, _) => (None, None),
            (Some(_), store) => store.open().await?,
        };
        let coordination = match (&web, b.coordination.clone()) {
            (Some(_), Some(given)) => Some(given.open().await?),
            _ => store_coordination,
        };
        let web = web.map(|web| {
            let verifier = IdTokenVerifier::new(issuer.clone(), web.client_id.clone(), jwks)
                .with_clock_skew(b.clock_skew);
            let sealer = Sealer::new(&web.session_keys);
            Web {
                client: OidcClient {
                    http: http.clone(),
                    metadata,
                    client_id: web.client_id,
                    client_secret: b.client_secret.clone(),
                    auth_method: client_auth(b.token_auth),
                },
                redirect_uri: web.redirect_uri,
                verifier,
                sessions: Sessions::new(sealer.clone(), b.idle_timeout, b.absolute_timeout, store),
                transactions: sealer,
                paths: web.paths,
                domain_verification: web.domain_verification,
                scope: web.scopes.join(" "),
                public_origin: web.public_origin,
                post_logout_redirect: web.post_logout_redirect,
                trust_forwarded: b.trust_forwarded_headers,
                refresher: Refresher::new(b.successor_ttl),
                coordination,
                sign_outs: SignOuts::new(b.absolute_timeout),
                refresh_margin: b.refresh_margin,
                sign_in_hook: b.sign_in_hook.clone(),
                completion_window: b.completion_window,
            }
        });
        let shared = Shared {
            issuer,
            web,
            access_tokens,
            token_cache: TokenCache::new(b.token_cache_capacity),
            opaque,
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

/// The provider client's view of the builder's [`TokenAuthMethod`].
fn client_auth(method: TokenAuthMethod) -> ClientAuth {
    match method {
        TokenAuthMethod::ClientSecretBasic => ClientAuth::SecretBasic,
        TokenAuthMethod::ClientSecretPost => ClientAuth::SecretPost,
    }
}
