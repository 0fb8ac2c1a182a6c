//! Shared helpers for the runnable examples: the embedded development provider, serving on
//! `localhost` (IPv4 and IPv6), and a tiny page template.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::Router;
use axum::response::Html;
use logi::LogiLayer;
use logi::testing::{TestClient, TestProvider};
use tokio::net::TcpListener;

pub mod quickstart {
    //! The quickstart app: a public home page and a protected dashboard.

    use axum::Router;
    use axum::response::Html;
    use axum::routing::get;
    use logi::{LogiLayer, LogiUser};

    use super::{SIGN_OUT_FORM, escape, page};

    /// The quickstart's routes behind `logi`.
    pub fn app(logi: LogiLayer) -> Router {
        Router::new()
            .route("/", get(home))
            .route("/dashboard", get(dashboard))
            .layer(logi)
    }

    async fn home(user: Option<LogiUser>) -> Html<String> {
        let action = match user {
            Some(user) => format!(
                "<p>Signed in as <code>{}</code>. <a href=\"/dashboard\">Dashboard</a></p>{SIGN_OUT_FORM}",
                escape(user.sub()),
            ),
            None => {
                "<p><a class=\"button\" id=\"sign-in\" href=\"/auth/login?return_to=/dashboard\" \
                     data-turbo=\"false\">Sign in with logi</a></p>"
                    .to_owned()
            }
        };
        page("logi quickstart", &action)
    }

    async fn dashboard(user: LogiUser) -> Html<String> {
        let body = format!(
            "<dl><dt>sub</dt><dd><code id=\"sub\">{}</code></dd>\
             <dt>email</dt><dd id=\"email\">{}</dd>\
             <dt>name</dt><dd id=\"name\">{}</dd></dl>{SIGN_OUT_FORM}",
            escape(user.sub()),
            escape(user.email().unwrap_or("-")),
            escape(user.name().unwrap_or("-")),
        );
        page("Dashboard", &body)
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default `info`.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The port from `PORT`, else `default`.
#[must_use]
pub fn port(default: u16) -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default)
}

/// A sign-out button: a same-origin form POST, as `/auth/logout` requires.
pub const SIGN_OUT_FORM: &str = "<form method=\"post\" action=\"/auth/logout\"><button type=\"submit\" id=\"sign-out\">Sign out</button></form>";

/// Starts the in-process logi provider in interactive mode and a layer configured for it, for
/// an app served on `http://localhost:{port}`.
///
/// # Errors
/// When the provider cannot bind a port or the layer cannot be built.
pub async fn development_layer(
    port: u16,
) -> Result<(LogiLayer, TestProvider), Box<dyn std::error::Error>> {
    let redirect_uris = [
        format!("http://localhost:{port}/auth/callback"),
        format!("http://127.0.0.1:{port}/auth/callback"),
    ];
    let client = TestClient::confidential(
        TestClient::DEFAULT_CLIENT_ID,
        TestClient::DEFAULT_CLIENT_SECRET,
        redirect_uris.clone(),
    )
    .with_post_logout_redirect_uris([
        format!("http://localhost:{port}/"),
        format!("http://127.0.0.1:{port}/"),
    ]);
    let provider = TestProvider::builder()
        .interactive(true)
        .client(client)
        .start()
        .await?;
    tracing::info!(
        issuer = provider.issuer(),
        "started the in-process logi provider (development mode)"
    );
    let logi = LogiLayer::builder()
        .issuer(provider.issuer())
        .client_id(TestClient::DEFAULT_CLIENT_ID)
        .client_secret(TestClient::DEFAULT_CLIENT_SECRET)
        .redirect_uri(&redirect_uris[0])
        .build()
        .await?;
    Ok((logi, provider))
}

/// Serves `app` on `localhost:{port}`, both 127.0.0.1 and ::1, until Ctrl-C.
///
/// # Errors
/// When 127.0.0.1:{port} cannot be bound.
#[allow(clippy::print_stdout)] // telling the user which URL to open is the point
pub async fn serve_on_localhost(
    app: Router,
    port: u16,
    name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    // IPv6 may be unavailable on some machines: IPv4 alone still serves `localhost`.
    let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
        .await
        .ok();
    let port = v4.local_addr()?.port();
    println!("{name}: open http://localhost:{port}/");
    if let Some(v6) = v6 {
        let app = app.clone();
        tokio::spawn(async move { axum::serve(v6, app).await });
    }
    axum::serve(v4, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Escapes text for HTML.
#[must_use]
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A minimal page.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}\
         .button,button{{display:inline-block;padding:.5rem 1rem;border-radius:.4rem;background:#222;color:#fff;border:0;text-decoration:none;font:inherit;cursor:pointer}}</style>\
         </head><body><main><h1>{t}</h1>{body}</main></body></html>",
        t = escape(title)
    ))
}
