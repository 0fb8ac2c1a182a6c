//! `#[axum::debug_handler]` above and below the attribute.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use logi::LogiUser;

#[derive(Clone)]
struct AppState;

#[axum::debug_handler]
#[logi::protected(scopes = ["orders:read"])]
async fn above(user: LogiUser, State(_state): State<AppState>) -> String {
    user.sub().to_owned()
}

#[logi::protected(scopes = ["orders:read"])]
#[axum::debug_handler]
async fn below(State(_state): State<AppState>, user: LogiUser) -> String {
    user.sub().to_owned()
}

// Without arguments, `#[logi::protected]` goes above.
#[logi::protected]
#[axum::debug_handler]
async fn no_arguments() -> &'static str {
    "hello"
}

fn main() {
    let _: Router = Router::new()
        .route("/above", get(above))
        .route("/below", get(below))
        .route("/no-arguments", get(no_arguments))
        .with_state(AppState);
}
