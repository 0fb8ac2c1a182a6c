//! The layer's runtime state: what its services share ([`Shared`]), the browser sign-in's
//! settings, sessions and refresh ([`Web`]), and what it attaches to each request ([`Auth`]).
//! Built by `layer.rs`; must not touch routes, refusals or the services that read it.

mod extensions;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::bearer::TokenCache;
use crate::config::RoutePaths;
use crate::first_login::hook::SignInHook;
use crate::opaque::Opaque;
use crate::provider::OidcClient;
use crate::refresh::Refresher;
use crate::session::cookie::Sealer;
use crate::session::data::SessionData;
use crate::session::manager::{Handle, Sessions};
use crate::session::signout::{Ending, SignOuts};
use crate::session::store::DynCoordination;
use crate::user::Principal;
use crate::verify::{AccessTokenVerifier, IdTokenVerifier};

/// Everything the layer's services share.
pub(crate) struct Shared {
    /// The issuer tokens carry.
    pub(crate) issuer: String,
    /// The browser sign-in; `None` for a layer that only accepts bearer tokens.
    pub(crate) web: Option<Web>,
    /// Bearer tokens: verification and the cache of verified tokens.
    pub(crate) access_tokens: AccessTokenVerifier,
    pub(crate) token_cache: TokenCache,
    /// Opaque (non-JWT) bearer tokens are validated with the provider when this is set.
    pub(crate) opaque: Option<Opaque>,
}

impl Shared {
    /// The browser sign-in, for code that only runs when there is one (sessions exist only
    /// with it).
    pub(crate) fn web(&self) -> &Web {
        self.web
            .as_ref()
            .expect("sessions exist only with the browser sign-in")
    }

    /// Where a signed-out browser is sent, when the layer signs users in.
    pub(crate) fn login_path(&self) -> Option<&str> {
        self.web.as_ref().map(|web| &*web.paths.login)
    }
}

/// The browser sign-in: the flow's settings, sessions and refresh.
pub(crate) struct Web {
    pub(crate) redirect_uri: Url,
    pub(crate) client: OidcClient,
    pub(crate) verifier: IdTokenVerifier,
    pub(crate) sessions: Sessions,
    pub(crate) transactions: Sealer,
    pub(crate) paths: RoutePaths,
    /// Served at `/.well-known/logi-verification.txt` when set.
    pub(crate) domain_verification: Option<String>,
    pub(crate) scope: String,
    pub(crate) public_origin: String,
    pub(crate) post_logout_redirect: Url,
    pub(crate) trust_forwarded: bool,
    pub(crate) refresher: Refresher,
    pub(crate) refresh_margin: Duration,
    /// Shared with the app's other instances, when it has several.
    pub(crate) coordination: Option<Arc<dyn DynCoordination>>,
    /// The app's first-login hook, called before a sign-in's session is written.
    pub(crate) sign_in_hook: Option<SignInHook>,
    /// How long a pending sign-in waits for the app's completion.
    pub(crate) completion_window: Duration,
    /// Sign-outs from the server and logout tokens seen, when there is no coordination.
    pub(crate) sign_outs: SignOuts,
}

/// What the layer attaches to every request: its settings and, when signed in, the user.
#[derive(Clone)]
pub(crate) struct Auth {
    pub(crate) shared: Arc<Shared>,
    pub(crate) principal: Option<Arc<Principal>>,
    /// Set when the session could not be refreshed for now (the provider is unreachable) and
    /// its access token has expired: a request that needs the user gets 503, retry after this.
    pub(crate) unavailable: Option<Duration>,
    /// Why the bearer token the request presented was not accepted.
    pub(crate) credential_error: Option<CredentialError>,
    /// A session waiting for the app's first-login completion (no principal meanwhile).
    pub(crate) pending: Option<Arc<PendingSession>>,
}

impl Auth {
    pub(crate) fn new(shared: Arc<Shared>, principal: Option<Arc<Principal>>) -> Self {
        Self {
            shared,
            principal,
            unavailable: None,
            credential_error: None,
            pending: None,
        }
    }

    /// A session waiting for the app's first-login completion: nobody is signed in.
    pub(crate) fn pending(shared: Arc<Shared>, data: SessionData, handle: Handle) -> Self {
        Self {
            pending: Some(Arc::new(PendingSession { data, handle })),
            ..Self::new(shared, None)
        }
    }

    /// A request whose `Authorization` header cannot be used.
    pub(crate) fn malformed(shared: Arc<Shared>, why: &'static str) -> Self {
        Self {
            credential_error: Some(CredentialError::Malformed(why)),
            ..Self::new(shared, None)
        }
    }
}

/// A pending session, as the layer loaded it for a request.
pub(crate) struct PendingSession {
    pub(crate) data: SessionData,
    /// Where to write it back when completed.
    pub(crate) handle: Handle,
}

impl PendingSession {
    /// The app's completion form.
    pub(crate) fn path(&self) -> &str {
        self.data.pending.as_ref().map_or("/", |p| p.path.as_str())
    }
}

/// A bearer token that was presented and refused.
#[derive(Clone, Debug)]
pub(crate) enum CredentialError {
    /// The `Authorization` header cannot be used.
    Malformed(&'static str),
    /// The token failed verification.
    Invalid(crate::verify::VerifyError),
}

impl Web {
    /// Ending and screening sessions, with this sign-in's store, coordination and denylist.
    pub(crate) fn ending(&self) -> Ending<'_> {
        Ending {
            sessions: &self.sessions,
            coordination: &self.coordination,
            sign_outs: &self.sign_outs,
        }
    }
}

impl crate::opaque::Owner for Shared {
    fn opaque(&self) -> Option<&Opaque> {
        self.opaque.as_ref()
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }

    fn token_cache(&self) -> &TokenCache {
        &self.token_cache
    }
}

/// Refreshes run only for sessions, which exist only with the browser sign-in.
impl crate::refresh::Source for Shared {
    fn refresher(&self) -> &Refresher {
        &self.web().refresher
    }

    fn client(&self) -> &OidcClient {
        &self.web().client
    }

    fn verifier(&self) -> &IdTokenVerifier {
        &self.web().verifier
    }

    fn coordination(&self) -> Option<&Arc<dyn DynCoordination>> {
        self.web().coordination.as_ref()
    }

    fn records(&self) -> &Sealer {
        &self.web().transactions
    }
}
