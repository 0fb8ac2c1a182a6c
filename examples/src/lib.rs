//! The runnable examples' apps, so that tests serve exactly what the examples run
//! ([`quickstart`], [`api`], [`greeter`], [`webhooks`] with its [`members`]), and their shared helpers: the embedded
//! development provider, serving on `localhost` (IPv4 and IPv6), and a tiny page template.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::Router;
use axum::response::Html;
use logi::testing::{TestClient, TestProvider};
use logi::{LogiLayer, LogiLayerBuilder};
use tokio::net::TcpListener;

pub mod api;
pub mod greeter;
pub mod members;
pub mod webhooks;

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
            None => format!(
                "<p>{}</p>",
                logi::button::SignInButton::new()
                    .return_to("/dashboard")
                    .id("sign-in")
                    .class("button")
            ),
        };
        page("logi quickstart", &action)
    }

    /// Signed-in users only: others are sent to sign in and come back here.
    #[logi::protected]
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
/// an app served on `http://localhost:{port}`. The other `LOGI_*` variables still apply (the
/// provider, client and redirect URI are this function's): `LOGI_SESSION_STORE=memory` or
/// `LOGI_SESSION_STORE=redis://127.0.0.1:6379/` runs the example with server-side sessions.
///
/// # Errors
/// When the provider cannot bind a port or the layer cannot be built.
pub async fn development_layer(
    port: u16,
) -> Result<(LogiLayer, TestProvider), Box<dyn std::error::Error>> {
    let (builder, provider) = development_builder(port).await?;
    Ok((builder.build().await?, provider))
}

/// What [`development_layer`] builds, before it is built: for an example that configures more
/// (a first-login hook).
///
/// # Errors
/// When the provider cannot bind a port or a `LOGI_*` variable is unusable.
pub async fn development_builder(
    port: u16,
) -> Result<(LogiLayerBuilder, TestProvider), Box<dyn std::error::Error>> {
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
    let builder = LogiLayer::builder()
        .with_env()?
        .issuer(provider.issuer())
        .client_id(TestClient::DEFAULT_CLIENT_ID)
        .client_secret(TestClient::DEFAULT_CLIENT_SECRET)
        .redirect_uri(&redirect_uris[0]);
    Ok((builder, provider))
}

/// Runs an example: logging on, then `run`; a startup error is printed readably
/// (`api: logi: LOGI_AUDIENCE is not set`) rather than as a `Debug` dump, and the exit code says
/// whether it succeeded.
pub async fn run_example(
    name: &str,
    run: impl Future<Output = Result<(), Box<dyn std::error::Error>>>,
) -> std::process::ExitCode {
    init_tracing();
    match run.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The API examples' layer: from the `LOGI_*` environment when it names a provider
/// ([`api_env_configured`]), else an API-only layer for the in-process provider, which is
/// returned too so the caller keeps it alive.
///
/// # Errors
/// When the layer cannot be built (or the provider cannot start).
pub async fn api_layer() -> Result<(LogiLayer, Option<TestProvider>), Box<dyn std::error::Error>> {
    if api_env_configured() {
        Ok((LogiLayer::from_env().await?, None))
    } else {
        let (logi, provider) = development_api_layer().await?;
        Ok((logi, Some(provider)))
    }
}

/// Whether the environment names a provider for an API (`LOGI_ISSUER`, `LOGI_AUDIENCE` or
/// `LOGI_CLIENT_ID`): then the API examples build their layer with `LogiLayer::from_env()`.
#[must_use]
pub fn api_env_configured() -> bool {
    ["LOGI_ISSUER", "LOGI_AUDIENCE", "LOGI_CLIENT_ID"]
        .iter()
        .any(|name| std::env::var_os(name).is_some())
}

/// Starts the in-process logi provider and an API-only layer for it: the issuer and the
/// expected audience ([`TestClient::DEFAULT_CLIENT_ID`], which the provider's
/// [`access_token`](TestProvider::access_token) puts in `aud`), no redirect URI, no session key.
///
/// # Errors
/// When the provider cannot bind a port or the layer cannot be built.
pub async fn development_api_layer() -> Result<(LogiLayer, TestProvider), Box<dyn std::error::Error>>
{
    let provider = TestProvider::start().await?;
    tracing::info!(
        issuer = provider.issuer(),
        "started the in-process logi provider (development mode)"
    );
    let logi = LogiLayer::builder()
        .issuer(provider.issuer())
        .audience(TestClient::DEFAULT_CLIENT_ID)
        .build()
        .await?;
    Ok((logi, provider))
}

/// `localhost:{port}` bound on 127.0.0.1 and, where the machine has IPv6, on ::1 too: browsers
/// may resolve `localhost` to either address.
///
/// Binding comes first so that a test can ask for port 0, learn the port, configure the app for
/// `http://localhost:{port}`, and only then [`serve`](Self::serve) it.
#[derive(Debug)]
pub struct Localhost {
    v4: TcpListener,
    v6: Option<TcpListener>,
}

impl Localhost {
    /// How many ephemeral ports to try before settling for IPv4 alone.
    const ATTEMPTS: usize = 10;

    /// Binds 127.0.0.1:`port`, then ::1 on the same port. Port 0 picks a port that is free on
    /// both addresses (trying a few). IPv6 may be unavailable: IPv4 alone still serves
    /// `localhost`.
    ///
    /// # Errors
    /// When 127.0.0.1:`port` cannot be bound.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
            let bound = v4.local_addr()?.port();
            match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, bound))).await {
                Ok(v6) => return Ok(Self { v4, v6: Some(v6) }),
                // Another program holds this port on ::1: with port 0, try another one.
                Err(error)
                    if port == 0
                        && error.kind() == std::io::ErrorKind::AddrInUse
                        && attempt < Self::ATTEMPTS => {}
                Err(error) => {
                    tracing::debug!(%error, "serving localhost on 127.0.0.1 only");
                    return Ok(Self { v4, v6: None });
                }
            }
        }
    }

    /// The port, the same on both addresses.
    ///
    /// # Errors
    /// When the operating system cannot say (it always can for a bound listener).
    pub fn port(&self) -> std::io::Result<u16> {
        Ok(self.v4.local_addr()?.port())
    }

    /// Whether ::1 is served too.
    #[must_use]
    pub fn serves_ipv6(&self) -> bool {
        self.v6.is_some()
    }

    /// Serves `app` on every bound address until `shutdown` completes, then lets the requests in
    /// progress finish.
    ///
    /// # Errors
    /// When accepting connections fails.
    pub async fn serve(
        self,
        app: Router,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(());
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                // Resolves once `stop` is used or dropped.
                let _ = stopped.changed().await;
            }
        };
        let v6 = self
            .v6
            .map(|v6| axum::serve(v6, app.clone()).with_graceful_shutdown(until_stopped()));
        let v4 = axum::serve(self.v4, app).with_graceful_shutdown(until_stopped());
        let signal = async move {
            shutdown.await;
            drop(stop);
        };
        let v6 = async move {
            match v6 {
                Some(v6) => v6.await,
                None => Ok(()),
            }
        };
        let ((), v4, v6) = tokio::join!(signal, v4, v6);
        v4.and(v6)
    }
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
    let localhost = Localhost::bind(port).await?;
    println!("{name}: open http://localhost:{}/", localhost.port()?);
    localhost
        .serve(app, async {
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
