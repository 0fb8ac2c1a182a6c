//! The provider's HTTP endpoints, one module each, and the router over them.
//! Handlers read and change the state; they know nothing of the server or the facade.

mod authorize;
mod client_auth;
mod discovery;
mod extract;
mod introspect;
mod logout;
mod revoke;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::endpoint::{DECISION_PATH, Endpoint};
use super::respond::{OAuthError, RequestId};
use super::state::ProviderState;

/// Every route; the end-session endpoint only when enabled.
pub(crate) fn router(state: Arc<ProviderState>) -> Router {
    let mut router = Router::new()
        .route(Endpoint::Discovery.path(), get(discovery::configuration))
        .route(Endpoint::Jwks.path(), get(discovery::jwks))
        .route(Endpoint::Authorize.path(), get(authorize::authorize))
        .route(DECISION_PATH, post(authorize::decision))
        .route(Endpoint::Token.path(), post(token::token))
        .route(
            Endpoint::Userinfo.path(),
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(Endpoint::Revoke.path(), post(revoke::revoke));
    if state.config.introspection_endpoint {
        router = router.route(Endpoint::Introspection.path(), post(introspect::introspect));
    }
    if state.config.end_session_endpoint {
        router = router.route(
            Endpoint::EndSession.path(),
            get(logout::end_session_query).post(logout::end_session_form),
        );
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found(request_id: RequestId) -> Response {
    OAuthError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        .into_response(&request_id)
}

async fn method_not_allowed(request_id: RequestId) -> Response {
    OAuthError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        "method not allowed on this endpoint",
    )
    .into_response(&request_id)
}
