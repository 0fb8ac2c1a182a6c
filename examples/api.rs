//! A JSON API that accepts logi access tokens.
//!
//! ```sh
//! cargo run --example api
//! ```
//!
//! Without `LOGI_*` variables it starts the in-process logi provider, mints two access tokens
//! valid for an hour (one with `orders:read`, one with `orders:read orders:write`) and prints
//! them with `curl` commands to try. With `LOGI_ISSUER` and `LOGI_AUDIENCE` (the `aud` your
//! tokens carry; `LOGI_CLIENT_ID` stands in when absent) it checks that provider's tokens
//! instead. An API-only layer needs no redirect URI, client secret or session key.
//!
//! The API listens on `http://localhost:3001` (`PORT` overrides). Its routes are
//! [`logi_examples::api::app`]: `GET /public`, `GET /me`, `GET /orders` (scope `orders:read`)
//! and `POST /orders` (scope `orders:write`).

use std::process::ExitCode;
use std::time::Duration;

use logi::testing::{TestClient, TestProvider};
use logi_examples::Localhost;

/// How long the printed tokens stay valid.
const TOKEN_TTL: Duration = Duration::from_secs(3600);

#[tokio::main]
async fn main() -> ExitCode {
    logi_examples::run_example("api", run()).await
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let port = logi_examples::port(3001);

    // Keep the provider alive for as long as the API runs.
    let (logi, provider) = logi_examples::api_layer().await?;

    let localhost = Localhost::bind(port).await?;
    let origin = format!("http://localhost:{}", localhost.port()?);
    match &provider {
        Some(provider) => print_try_it(&origin, provider),
        None => print_try_it_with_env(&origin),
    }
    localhost
        .serve(logi_examples::api::app(logi), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Ready-made tokens from the in-process provider, and what to do with them.
#[allow(clippy::print_stdout)] // the tokens and commands are the point
fn print_try_it(origin: &str, provider: &TestProvider) {
    let token = |scopes: &[&str]| {
        provider.access_token(
            TestClient::DEFAULT_CLIENT_ID,
            "user-0001",
            scopes,
            TOKEN_TTL,
        )
    };
    let read = token(&["orders:read"]);
    let write = token(&["orders:read", "orders:write"]);
    println!(
        "api: listening on {origin}/ (tokens from the in-process logi provider at {issuer})

Two access tokens for user-0001, valid for an hour:

export READ={read}   # orders:read
export WRITE={write}   # orders:read orders:write

Then:

curl -i {origin}/public                                        # 200, open to anyone
curl -i {origin}/me                                            # 401, WWW-Authenticate: Bearer
curl -i -H \"Authorization: Bearer $READ\" {origin}/me            # 200, sub and scopes
curl -i -H \"Authorization: Bearer $READ\" {origin}/orders        # 200, your orders
curl -i -H \"Authorization: Bearer $READ\" -H 'content-type: application/json' \\
     -d '{{\"item\": \"tea\", \"quantity\": 2}}' {origin}/orders        # 403, insufficient_scope
curl -i -H \"Authorization: Bearer $WRITE\" -H 'content-type: application/json' \\
     -d '{{\"item\": \"tea\", \"quantity\": 2}}' {origin}/orders        # 201, the new order
curl -i -H 'Authorization: Bearer not.a.token' {origin}/me        # 401, invalid_token
",
        issuer = provider.issuer(),
    );
}

/// With a real provider, tokens come from it.
#[allow(clippy::print_stdout)]
fn print_try_it_with_env(origin: &str) {
    let issuer = std::env::var("LOGI_ISSUER").unwrap_or_else(|_| "https://api.1pass.dev".into());
    println!(
        "api: listening on {origin}/ (tokens from {issuer})

curl -i {origin}/public
curl -i -H \"Authorization: Bearer $TOKEN\" {origin}/me
curl -i -H \"Authorization: Bearer $TOKEN\" {origin}/orders   # needs orders:read
"
    );
}
