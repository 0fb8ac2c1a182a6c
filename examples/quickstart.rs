//! The quickstart: an axum app whose users sign in with logi.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With `LOGI_CLIENT_ID` (and the other `LOGI_*` variables) set, it talks to that provider.
//! Without, it starts the in-process logi provider in interactive development mode, so you can
//! sign in from a browser with no account and no network. Open the URL it prints.
//!
//! The app itself is [`logi_examples::quickstart::app`]: a public home page with a sign-in
//! button, and a protected `/dashboard` showing who is signed in, with a sign-out button.

use std::process::ExitCode;

use logi::LogiLayer;

#[tokio::main]
async fn main() -> ExitCode {
    logi_examples::run_example("quickstart", run()).await
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let port = logi_examples::port(3000);

    // Keep the provider alive for as long as the app runs.
    let (logi, _provider) = if std::env::var_os("LOGI_CLIENT_ID").is_some() {
        (LogiLayer::from_env().await?, None)
    } else {
        let (logi, provider) = logi_examples::development_layer(port).await?;
        (logi, Some(provider))
    };

    let app = logi_examples::quickstart::app(logi);
    logi_examples::serve_on_localhost(app, port, "quickstart").await
}
