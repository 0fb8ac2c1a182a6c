//! A signed-in request with its session in each store, in one run: sealed in the cookie (the
//! default), in a `MemoryStore`, and in a `RedisStore` on a `redis-server` this benchmark starts
//! on a loopback port; and sealed in the cookie with a Redis coordination (several instances:
//! the sign-out list is asked once per request). The same realistic session (RS256 access and ID tokens, a refresh token,
//! identity claims) and the same `Cookie` header shape in each; every request is driven to
//! completion with `block_on`, so the Redis row includes its loopback round trip.

use std::hint::black_box;

use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use logi::store::{MemoryStore, RedisStore};
use logi::testing::{TestClient, TestProvider};
use logi::{LogiLayer, LogiUser, SessionKeys};
use tower::ServiceExt as _;

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/support/redis_server.rs"]
mod redis_server;
#[allow(unreachable_pub)]
#[path = "../tests/support/skip.rs"]
mod skip;

#[path = "support/session.rs"]
mod session;

use session::{OTHER_COOKIES, realistic_session, request};

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
    let (session, _, _) = realistic_session(&provider);

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
        // Sealed cookie sessions on several instances: each request asks Redis's sign-out
        // list (back-channel logouts) once.
        let coordination = runtime.block_on(RedisStore::connect(&redis.url)).unwrap();
        cases.push((
            "cookie_with_redis_coordination",
            runtime.block_on(layer(&provider, |b| b.coordination(coordination))),
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
