//! A signed-in request with its session in each store, in one run: sealed in the cookie (the
//! default), in a `MemoryStore`, and in a `RedisStore` on a `redis-server` this benchmark starts
//! on a loopback port. The same realistic session (RS256 access and ID tokens, a refresh token,
//! identity claims) and the same `Cookie` header shape in each; every request is driven to
//! completion with `block_on`, so the Redis row includes its loopback round trip.

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use logi::testing::{TestClient, TestProvider, TestSession};
use logi::{LogiLayer, LogiUser, MemoryStore, RedisStore, SessionKeys};
use tower::ServiceExt as _;

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

/// Five cookies a real site carries besides the session.
const OTHER_COOKIES: &str = "_ga=GA1.1.1234567890.1700000000; theme=dark; locale=en-GB; \
                             consent=analytics%3Dno%26ads%3Dno; csrftoken=q8XkJ2pR7vT1mN4bZ6cW9yH3dF5gL0sA";

fn request(cookie: &str) -> Request<Body> {
    Request::get("/dashboard")
        .header("cookie", cookie)
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap()
}

async fn handler(user: LogiUser) -> String {
    user.sub().to_owned()
}

async fn layer(
    provider: &TestProvider,
    configure: impl FnOnce(logi::LogiLayerBuilder) -> logi::LogiLayerBuilder,
) -> LogiLayer {
    let builder = LogiLayer::builder()
        .issuer(provider.issuer())
        .client_id(TestClient::DEFAULT_CLIENT_ID)
        .client_secret(TestClient::DEFAULT_CLIENT_SECRET)
        .redirect_uri("http://localhost:3000/auth/callback")
        .session_keys(
            SessionKeys::from_base64_list("YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktYmVuY2g=")
                .unwrap(),
        );
    configure(builder).build().await.unwrap()
}

fn session_stores(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let redis = redis_server::RedisServer::start("the Redis row of the stores benchmark");
    let provider = runtime.block_on(TestProvider::start()).unwrap();
    let client = TestClient::DEFAULT_CLIENT_ID;
    let scopes = ["openid", "profile:basic", "email", "orders:read"];
    let access_token =
        provider.access_token(client, "user-0001", &scopes, Duration::from_secs(900));
    let id_token = provider.sign_claims(&provider.id_token_claims(client, "user-0001"));
    let session = TestSession::new("user-0001")
        .claim("email", "ada@example.com")
        .claim("email_verified", true)
        .claim("name", "Ada Lovelace")
        .claim("preferred_name", "Ada")
        .scopes(scopes)
        .access_token(access_token, Duration::from_secs(900))
        .refresh_token("r3fr35h-t0k3n-0f-43-chars-xxxxxxxxxxxxxxxxx")
        .id_token(id_token);

    let mut cases = vec![
        ("cookie", runtime.block_on(layer(&provider, |b| b))),
        (
            "memory_store",
            runtime.block_on(layer(&provider, |b| b.session_store(MemoryStore::new()))),
        ),
    ];
    if let Some(redis) = &redis {
        let store = runtime.block_on(RedisStore::connect(&redis.url)).unwrap();
        cases.push((
            "redis_store",
            runtime.block_on(layer(&provider, |b| b.session_store(store))),
        ));
    }
    let cases: Vec<(&str, Router, String)> = cases
        .into_iter()
        .map(|(name, logi)| {
            let cookie = format!(
                "{OTHER_COOKIES}; {}",
                runtime.block_on(session.store_in(&logi))
            );
            let app = Router::new().route("/dashboard", get(handler)).layer(logi);
            let response = runtime
                .block_on(app.clone().oneshot(request(&cookie)))
                .unwrap();
            assert_eq!(response.status(), 200, "{name}");
            assert!(
                response.headers().get("set-cookie").is_none(),
                "{name}: nothing to write"
            );
            (name, app, cookie)
        })
        .collect();

    let mut group = c.benchmark_group("session_store");
    for (name, app, cookie) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                runtime
                    .block_on(app.clone().oneshot(request(black_box(cookie))))
                    .unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, session_stores);
criterion_main!(benches);
