//! The layer's own routes: sign-in, callback, sign-out, back-channel logout, and the current
//! user as JSON.
//! Surface: owns the layer's routes and their pages; verification is `verify`'s, sessions are
//! `session`'s, and refusals are `reject`'s.

mod backchannel;
mod callback;
mod login;
mod logout;
mod me;

pub(crate) use backchannel::receive as backchannel_logout;
pub(crate) use logout::same_origin;
pub(crate) use me::me;
mod return_to;
mod transaction;

use bytes::Bytes;
use http::header::ALLOW;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};

// The flow's files name these through `super::`; they live at the bottom level.
pub(crate) use crate::clock::{unix_now, unix_now_ms};
pub(crate) use crate::pages;
pub(crate) use crate::random::random_token;
use crate::state::Web;

/// One of the layer's own routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Login,
    Callback,
    Logout,
    Me,
    Challenge,
    BackchannelLogout,
    DomainVerification,
}

/// Where logi looks for the domain-verification token.
const DOMAIN_VERIFICATION_PATH: &str = "/.well-known/logi-verification.txt";

impl Route {
    /// The route `path` names, if it is one of the layer's.
    pub(crate) fn of(shared: &Web, path: &str) -> Option<Self> {
        let paths = &shared.paths;
        if path == paths.login {
            Some(Self::Login)
        } else if path == paths.callback {
            Some(Self::Callback)
        } else if path == paths.logout {
            Some(Self::Logout)
        } else if path == paths.me {
            Some(Self::Me)
        } else if path == paths.challenge {
            Some(Self::Challenge)
        } else if path == paths.backchannel_logout {
            Some(Self::BackchannelLogout)
        } else if path == DOMAIN_VERIFICATION_PATH && shared.domain_verification.is_some() {
            Some(Self::DomainVerification)
        } else {
            None
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            Self::Logout | Self::Challenge | Self::BackchannelLogout => "POST",
            _ => "GET, HEAD",
        }
    }

    /// 405 naming the allowed methods, when `method` is not one of them.
    fn refuse_method(self, method: &Method) -> Option<Response<Bytes>> {
        let allowed = match self {
            Self::Logout | Self::Challenge | Self::BackchannelLogout => method == Method::POST,
            _ => method == Method::GET || method == Method::HEAD,
        };
        if allowed {
            return None;
        }
        let mut response = pages::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into());
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(self.allowed()));
        Some(response)
    }
}

/// Answers one of the layer's own routes (the back-channel logout, which reads the body, is
/// [`backchannel_logout`]).
pub(crate) async fn handle(shared: &Web, route: Route, parts: Parts) -> Response<Bytes> {
    if let Some(refused) = route.refuse_method(&parts.method) {
        return refused;
    }
    match route {
        Route::Login => login::start(shared, &parts),
        Route::Callback => callback::finish(shared, &parts).await,
        Route::Logout => logout::sign_out(shared, &parts).await,
        Route::Challenge => login::challenge(shared, &parts),
        Route::DomainVerification => {
            let token = shared.domain_verification.clone().unwrap_or_default();
            pages::text(StatusCode::OK, token)
        }
        // Answered by the service once the session is resolved: see `me`; the back-channel
        // logout reads the body: see `backchannel_logout`.
        Route::Me | Route::BackchannelLogout => {
            pages::text(StatusCode::NOT_FOUND, "not found".into())
        }
    }
}

/// The query parameter `name`, decoded.
pub(crate) fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
