//! Sign users in with [logi](https://1pass.dev) (1pass) in any tower stack.
//!
//! Add one layer; take the user in your handlers:
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::get};
//! use logi::{LogiLayer, LogiUser};
//!
//! async fn dashboard(user: LogiUser) -> String {
//!     format!("hello {}", user.sub())
//! }
//!
//! let logi = LogiLayer::from_env().await?; // discovery from the issuer alone
//! let app: Router = Router::new().route("/dashboard", get(dashboard)).layer(logi);
//! # Ok(()) }
//! ```
//!
//! Or protect a handler with one line, requiring scopes or a check of your own:
//!
//! ```
//! # #[cfg(all(feature = "axum", feature = "macros"))] {
//! use logi::LogiUser;
//!
//! #[logi::protected(scopes = ["orders:read"])]
//! async fn orders(user: LogiUser) -> String {
//!     format!("the orders of {}", user.sub())
//! }
//! # }
//! ```
//!
//! The layer serves `/auth/login`, `/auth/callback`, `/auth/logout` (POST), `/auth/me` and
//! `/auth/backchannel-logout` (OpenID Connect back-channel logout, POST), runs
//! the authorization-code flow (PKCE S256, state, nonce, a confidential or public client), keeps
//! the session sealed in `__Host-` cookies (AES-256-GCM), and verifies ID tokens under logi's
//! shared contract ([`verify`]).
//!
//! ## Where things are
//!
//! Every public item has one path. The crate root holds what an app wires up and what its
//! handlers take: the layer and its builder ([`LogiLayer`], [`LogiLayerBuilder`]), the user
//! ([`LogiUser`], [`AccessToken`]), the sessions API ([`LogiSessions`]) and the session keys
//! ([`SessionKeys`]). Each narrower concern is a module, and its types are named only there:
//! - [`verify`]: ID-token and access-token verification (`logi::verify::IdTokenVerifier`, …);
//! - [`provider`]: discovery, the provider's keys and the HTTP client
//!   (`logi::provider::HttpClient`, `logi::provider::Jwks`, …);
//! - [`store`]: server-side session stores and the coordination between instances
//!   (`logi::store::SessionStore`, `logi::store::MemoryStore`, `logi::store::RedisStore`, …);
//! - [`first_login`], [`button`], and, behind their features, `grpc` (`tonic`), `webhooks` and
//!   `testing`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod bearer;
mod body;
pub mod button;
mod claims;
mod clock;
mod config;
#[cfg(feature = "axum")]
mod extract;
pub mod first_login;
mod flow;
mod future;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod grpc;
mod guard;
mod layer;
mod opaque;
mod pages;
pub mod provider;
mod random;
mod refresh;
mod reject;
mod require;
mod resolve;
mod secret;
mod service;
pub(crate) mod session;
mod sessions;
mod state;
mod user;
pub mod verify;
#[cfg(feature = "webhooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhooks")))]
pub mod webhooks;

pub use body::LogiBody;
pub use claims::StandardClaims;
pub use config::{
    ConfigError, DEFAULT_REFRESH_SUCCESSOR_WINDOW, DEFAULT_SCOPES, LogiLayerBuilder, RoutePaths,
    TokenAuthMethod,
};
#[cfg(feature = "axum")]
pub use extract::{LogiRejection, LogiRejectionKind};
pub use future::LogiResponseFuture;

/// The old name of [`RoutePaths`].
#[deprecated(note = "renamed to `logi::RoutePaths`")]
pub type Paths = RoutePaths;
/// The old name of [`LogiResponseFuture`].
#[deprecated(note = "renamed to `logi::LogiResponseFuture`")]
pub type ResponseFuture<F> = LogiResponseFuture<F>;

pub use layer::LogiLayer;
pub use require::{RequireLogin, RequireLoginLayer};
pub use secret::Secret;
pub use service::Logi;
pub use session::cookie::{SessionKeyError, SessionKeyErrorKind, SessionKeys};
pub use session::store;
pub use sessions::{LogiSessions, SessionInfo, SessionsError, SessionsErrorKind};
pub use user::{AccessToken, LogiUser};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use logi_macros::protected;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

/// Not public API: what `#[logi::protected]` expands to. May change in any release.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "axum")]
    pub use crate::extract::Protected;
    #[cfg(feature = "tonic")]
    pub use crate::grpc::{authorize as grpc_authorize, refused as grpc_refused};
    pub use crate::guard::{Guard, Requirement, check};
}
