//! Test support: an app behind `LogiLayer` on 127.0.0.1, a provider, and a browser-like client.

#![allow(dead_code, unreachable_pub)]

pub mod clock;
pub mod coordination;
pub mod redis_server;
pub mod skip;
pub mod webhook_signing;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use logi::testing::{TestClient, TestProvider};
use logi::{AccessToken, LogiLayer, LogiUser, SessionKeys};
use reqwest::header::{HeaderMap, HeaderValue, LOCATION, SET_COOKIE};
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "logi_0123456789abcdef0123456789abcdef";
pub const CLIENT_SECRET: &str =
    "logi_secret_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
pub const SESSION_KEY: &str = "ZGV2ZWxvcG1lbnQta2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg5";

/// The app under test: a public page, a page protected by the extractor, a subtree protected by
/// `require()`, and an access-token echo.
pub fn routes(logi: &LogiLayer) -> Router {
    let protected = Router::new()
        .route("/api/data", get(|| async { "secret data" }))
        .route("/api/echo", post(|| async { "posted" }))
        .route_layer(logi.require());
    Router::new()
        .route("/", get(|| async { "home" }))
        .route("/dashboard", get(dashboard))
        .route("/maybe", get(maybe))
        .route(
            "/token",
            get(|token: AccessToken| async move { token.secret().len().to_string() }),
        )
        .merge(protected)
}

async fn dashboard(user: LogiUser) -> String {
    format!(
        "sub={} email={} name={}",
        user.sub(),
        user.email().unwrap_or("-"),
        user.name().unwrap_or("-")
    )
}

async fn maybe(user: Option<LogiUser>) -> String {
    match user {
        Some(user) => format!("hello {}", user.sub()),
        None => "hello stranger".to_owned(),
    }
}

pub struct App {
    pub provider: TestProvider,
    pub addr: SocketAddr,
    pub origin: String,
    pub logi: LogiLayer,
}

/// Starts a provider and the app, with the app's callback registered.
pub async fn start() -> App {
    start_with(TestProvider::builder(), |b| b).await
}

pub async fn start_with(
    provider: logi::testing::TestProviderBuilder,
    configure: impl FnOnce(logi::LogiLayerBuilder) -> logi::LogiLayerBuilder,
) -> App {
    start_app(provider, configure, routes).await
}

/// Starts a provider and the app that `routes` builds, behind the layer.
pub async fn start_app(
    provider: logi::testing::TestProviderBuilder,
    configure: impl FnOnce(logi::LogiLayerBuilder) -> logi::LogiLayerBuilder,
    routes: impl FnOnce(&LogiLayer) -> Router,
) -> App {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let origin = format!("http://127.0.0.1:{}", addr.port());
    let provider = provider
        .client(
            TestClient::confidential(
                CLIENT_ID,
                CLIENT_SECRET,
                [format!("{origin}/auth/callback")],
            )
            .with_post_logout_redirect_uris([format!("{origin}/")]),
        )
        .start()
        .await
        .unwrap();
    let logi = configure(layer_builder(&provider, &origin))
        .build()
        .await
        .unwrap();
    let app = routes(&logi).layer(logi.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App {
        provider,
        addr,
        origin,
        logi,
    }
}

/// Several instances of one app (independent layers, as separate processes would have, each
/// built by `configure` with its own connections) behind one provider, each on its own port.
/// The app's layer at `origin`, signing in at `provider` as [`CLIENT_ID`], before a test's changes.
pub fn layer_builder(provider: &TestProvider, origin: &str) -> logi::LogiLayerBuilder {
    LogiLayer::builder()
        .issuer(provider.issuer())
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .redirect_uri(format!("{origin}/auth/callback"))
        .session_keys(SessionKeys::from_base64_list(SESSION_KEY).unwrap())
}

/// `count` instances of the app on the Redis at `url`, which `use_redis` gives each layer (as
/// its session store or its coordination).
#[cfg(feature = "redis")]
pub async fn start_instances_on_redis(
    provider: logi::testing::TestProviderBuilder,
    count: usize,
    url: &str,
    use_redis: fn(logi::LogiLayerBuilder, logi::store::RedisStore) -> logi::LogiLayerBuilder,
) -> Instances {
    let url = url.to_owned();
    start_instances(provider, count, |b| {
        let url = url.clone();
        async move { use_redis(b, logi::store::RedisStore::connect(&url).await.unwrap()) }
    })
    .await
}

/// A Redis server, and one instance of the app coordinated through it; `None` (with a note)
/// when there is no `redis-server` to start.
#[cfg(feature = "redis")]
pub async fn one_instance_coordinated_on_redis(
    what: &str,
) -> Option<(redis_server::RedisServer, Instances)> {
    let server = redis_server::RedisServer::start(what)?;
    let instances =
        start_instances_on_redis(TestProvider::builder(), 1, &server.url, |b, redis| {
            b.coordination(redis)
        })
        .await;
    Some((server, instances))
}

/// `Authorization: Bearer …` with an access token of `provider` for [`CLIENT_ID`] and
/// user-0003, granting `scopes`, for a minute.
pub fn bearer(provider: &TestProvider, scopes: &[&str]) -> String {
    let token = provider.access_token(CLIENT_ID, "user-0003", scopes, Duration::from_secs(60));
    format!("Bearer {token}")
}

pub struct Instances {
    pub provider: TestProvider,
    pub origins: Vec<String>,
}

pub async fn start_instances<F, Fut>(
    provider: logi::testing::TestProviderBuilder,
    count: usize,
    configure: F,
) -> Instances
where
    F: Fn(logi::LogiLayerBuilder) -> Fut,
    Fut: std::future::Future<Output = logi::LogiLayerBuilder>,
{
    start_instances_with(provider, count, |client, _| client, configure).await
}

/// [`start_instances`], with the provider's registration of the app changed by `client` (given
/// the instances' origins).
pub async fn start_instances_with<F, Fut>(
    provider: logi::testing::TestProviderBuilder,
    count: usize,
    client: impl FnOnce(TestClient, &[String]) -> TestClient,
    configure: F,
) -> Instances
where
    F: Fn(logi::LogiLayerBuilder) -> Fut,
    Fut: std::future::Future<Output = logi::LogiLayerBuilder>,
{
    let mut listeners = Vec::new();
    for _ in 0..count {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let origins: Vec<String> = listeners
        .iter()
        .map(|l| format!("http://127.0.0.1:{}", l.local_addr().unwrap().port()))
        .collect();
    let registration = TestClient::confidential(
        CLIENT_ID,
        CLIENT_SECRET,
        origins.iter().map(|o| format!("{o}/auth/callback")),
    )
    .with_post_logout_redirect_uris(origins.iter().map(|o| format!("{o}/")));
    let provider = provider
        .client(client(registration, &origins))
        .start()
        .await
        .unwrap();
    for (listener, origin) in listeners.into_iter().zip(&origins) {
        let logi = configure(layer_builder(&provider, origin))
            .await
            .build()
            .await
            .unwrap();
        let app = routes(&logi).layer(logi);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    Instances { provider, origins }
}

/// A client that behaves like a browser for cookies (path-scoped, Max-Age=0 deletes) and never
/// follows redirects by itself.
pub struct Browser {
    pub http: reqwest::Client,
    /// name → (value, path)
    pub cookies: BTreeMap<String, (String, String)>,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        Self {
            http,
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self, path: &str) -> Option<HeaderValue> {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, (_, p))| path.starts_with(p.as_str()))
            .map(|(k, (v, _))| format!("{k}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| HeaderValue::from_str(&pairs.join("; ")).unwrap())
    }

    fn store(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            let mut parts = value.split(';').map(str::trim);
            let (name, val) = parts.next().unwrap().split_once('=').unwrap();
            let mut path = "/".to_owned();
            let mut delete = false;
            for attr in parts {
                let lower = attr.to_ascii_lowercase();
                if let Some(p) = lower.strip_prefix("path=") {
                    path = attr[5..5 + p.len()].to_owned();
                }
                if lower == "max-age=0" {
                    delete = true;
                }
            }
            if delete {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), (val.to_owned(), path));
            }
        }
    }

    /// A request as a browser navigation would send it.
    pub async fn navigate(&mut self, url: &str) -> Reply {
        self.send(
            reqwest::Method::GET,
            url,
            &[("accept", "text/html"), ("sec-fetch-mode", "navigate")],
        )
        .await
    }

    /// A `GET` of `url` as a front end's `fetch` makes it, asking for JSON.
    pub async fn fetch_json(&mut self, url: &str) -> Reply {
        self.send(reqwest::Method::GET, url, &[("accept", "application/json")])
            .await
    }

    /// A gRPC-typed `POST` of `url` (`content-type: application/grpc`), as a gRPC client's.
    pub async fn grpc_call(&mut self, url: &str) -> Reply {
        self.send(
            reqwest::Method::POST,
            url,
            &[("content-type", "application/grpc")],
        )
        .await
    }

    /// The body a navigation to `url` answers with.
    pub async fn body_of(&mut self, url: &str) -> String {
        self.navigate(url).await.body
    }

    /// The status a navigation to `url` answers with.
    pub async fn status_of(&mut self, url: &str) -> u16 {
        self.navigate(url).await.status
    }

    pub async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let parsed = url::Url::parse(url).unwrap();
        let mut request = self.http.request(method, url);
        if let Some(cookies) = self.cookie_header(parsed.path()) {
            request = request.header("cookie", cookies);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        self.store(&headers);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Follows one redirect: relative locations resolve against `base`.
    pub async fn follow(&mut self, reply: &Reply, base: &str) -> Reply {
        let location = url::Url::parse(base)
            .unwrap()
            .join(reply.location())
            .unwrap();
        self.navigate(location.as_str()).await
    }

    /// Signs in from `/auth/login?return_to=…` through the provider and the callback; returns
    /// the callback's reply.
    pub async fn sign_in(&mut self, app: &App, return_to: &str) -> Reply {
        self.sign_in_at(&app.origin, return_to).await
    }

    /// Signs out of the app at `origin` the way its page's sign-out form does: a same-origin
    /// `POST /auth/logout`.
    pub async fn sign_out_at(&mut self, origin: &str) -> Reply {
        self.send(
            reqwest::Method::POST,
            &format!("{origin}/auth/logout"),
            &[("origin", origin), ("sec-fetch-site", "same-origin")],
        )
        .await
    }

    /// [`Browser::sign_in`] on the app at `origin`.
    pub async fn sign_in_at(&mut self, origin: &str, return_to: &str) -> Reply {
        let login = format!(
            "{origin}/auth/login?return_to={}",
            url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
        );
        let to_provider = self.navigate(&login).await;
        assert_eq!(to_provider.status, 302, "login redirects to the provider");
        let to_callback = self.navigate(to_provider.location()).await;
        assert_eq!(
            to_callback.status, 302,
            "the provider redirects back: {}",
            to_callback.body
        );
        self.navigate(to_callback.location()).await
    }
}

/// The token response (`access_token`, `id_token`, ...) of a full authorization-code grant made
/// directly at `provider` by a confidential client (PKCE S256, a nonce), as the default user.
pub async fn code_grant(
    provider: &TestProvider,
    client_id: &str,
    client_secret: &str,
    redirect_uri: &str,
    scope: &str,
) -> serde_json::Value {
    use logi::testing::Endpoint;
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let authorized = http
        .get(provider.url(Endpoint::Authorize))
        .query(&[
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "state-1"),
            ("nonce", "nonce-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), 302);
    let location = authorized.headers()[LOCATION].to_str().unwrap();
    let code = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, code)| code.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"));
    let tokens = http
        .post(provider.url(Endpoint::Token))
        .basic_auth(client_id, Some(client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);
    tokens.json().await.unwrap()
}
