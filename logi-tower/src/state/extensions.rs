//! Reading what the layer attached to a request ([`Auth`]) from its extensions, for tower
//! stacks without axum's extractors. Must not change the state or decide about the request.

use super::Auth;
use crate::user::{AccessToken, LogiUser};

impl LogiUser {
    /// The signed-in user [`LogiLayer`](crate::LogiLayer) attached to a request, for tower
    /// stacks without axum's extractors; `None` when signed out or without the layer. Its claims
    /// are logi's [`StandardClaims`](crate::StandardClaims); use
    /// [`claims_as`](Self::claims_as) for your own.
    ///
    /// ```
    /// # fn f(request: http::Request<()>) {
    /// if let Some(user) = logi::LogiUser::from_extensions(request.extensions()) {
    ///     println!("{}", user.sub());
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn from_extensions(extensions: &http::Extensions) -> Option<Self> {
        let auth = extensions.get::<Auth>()?;
        auth.principal.clone().and_then(|p| Self::new(p).ok())
    }
}

impl AccessToken {
    /// The signed-in user's access token from a request's extensions, for tower stacks without
    /// axum's extractors; `None` when signed out or without the layer.
    #[must_use]
    pub fn from_extensions(extensions: &http::Extensions) -> Option<Self> {
        let auth = extensions.get::<Auth>()?;
        auth.principal.clone().map(Self::new)
    }
}
