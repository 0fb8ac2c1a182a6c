//! Every form of the attribute on axum handlers; `main` routes them all, so each is a handler.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use logi::LogiUser;

// `crate = "…"` names the crate when it is renamed.
use ::logi as my_logi;

#[derive(Clone)]
struct AppState;

#[derive(serde::Deserialize)]
struct Claims {
    #[serde(rename = "acme:team")]
    team: Option<String>,
}

fn verified(user: &LogiUser) -> bool {
    user.claims().identity_verified_level >= Some(2)
}

#[logi::protected]
async fn bare() -> &'static str {
    "bare"
}

#[logi::protected]
async fn with_user(user: LogiUser) -> String {
    user.sub().to_owned()
}

#[logi::protected(scopes = ["orders:read", "orders:write"])]
async fn scopes(mut user: LogiUser, Path(id): Path<u32>) -> String {
    user = user.clone();
    format!("{} {id}", user.sub())
}

#[logi::protected(any_scope = ["admin", "support"])]
async fn any_scope(State(_state): State<AppState>, Json(body): Json<serde_json::Value>) -> String {
    body.to_string()
}

#[logi::protected(check = verified)]
async fn check(user: LogiUser<Claims>) -> String {
    user.claims().team.clone().unwrap_or_default()
}

#[logi::protected(check = |user: &LogiUser| user.email_verified())]
async fn check_closure() {}

#[logi::protected(scopes = ["orders:read"], any_scope = ["admin", "support"], check = verified)]
pub async fn combined(_: LogiUser) {}

#[logi::protected(crate = "my_logi", scopes = ["orders:read"])]
pub(crate) async fn renamed() {}

fn main() {
    let _: Router = Router::new()
        .route("/bare", get(bare))
        .route("/with-user", get(with_user))
        .route("/scopes/{id}", get(scopes))
        .route("/any-scope", post(any_scope))
        .route("/check", get(check))
        .route("/check-closure", get(check_closure))
        .route("/combined", get(combined))
        .route("/renamed", get(renamed))
        .with_state(AppState);
}
