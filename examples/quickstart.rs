//! The quickstart: an axum app whose users sign in with logi.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With `LOGI_CLIENT_ID` (and the other `LOGI_*` variables) set, it talks to that provider.
//! Without, it starts the in-process logi provider in interactive development mode, so you can
//! sign in from a browser with no account and no network. Open the URL it prints.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use logi::{LogiLayer, LogiUser};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(filter()).init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);

    let (logi, _provider) = if std::env::var_os("LOGI_CLIENT_ID").is_some() {
        (LogiLayer::from_env().await?, None)
    } else {
        let (logi, provider) = logi_examples::development_layer(port).await?;
        (logi, Some(provider))
    };

    let app = Router::new()
        .route("/", get(home))
        .route("/dashboard", get(dashboard))
        .layer(logi);

    logi_examples::serve_on_localhost(app, port, "quickstart").await
}

async fn home(user: Option<LogiUser>) -> Html<String> {
    let action = match user {
        Some(user) => format!(
            "<p>Signed in as <code>{}</code>. <a href=\"/dashboard\">Dashboard</a></p>{}",
            logi_examples::escape(user.sub()),
            logi_examples::SIGN_OUT_FORM
        ),
        None => "<p><a class=\"button\" href=\"/auth/login?return_to=/dashboard\" data-turbo=\"false\">Sign in with logi</a></p>".to_owned(),
    };
    logi_examples::page("logi quickstart", &action)
}

async fn dashboard(user: LogiUser) -> Html<String> {
    let body = format!(
        "<dl><dt>sub</dt><dd><code id=\"sub\">{}</code></dd>\
         <dt>email</dt><dd id=\"email\">{}</dd>\
         <dt>name</dt><dd id=\"name\">{}</dd></dl>{}",
        logi_examples::escape(user.sub()),
        logi_examples::escape(user.email().unwrap_or("-")),
        logi_examples::escape(user.name().unwrap_or("-")),
        logi_examples::SIGN_OUT_FORM
    );
    logi_examples::page("Dashboard", &body)
}

fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,logi=info".into())
}
