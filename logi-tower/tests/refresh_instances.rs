//! Rotation-safe refresh across instances: two independent layers (as two processes would
//! be) behind one provider with refresh-token reuse detection, coordinating through one real
//! Redis (started by the test on a free loopback port).

#![cfg(all(feature = "testing", feature = "axum", feature = "redis"))]

mod support;

use std::time::Duration;

use logi::store::RedisStore;
use logi::testing::{Endpoint, TestProvider};
use support::redis_server::RedisServer;
use support::{Browser, Instances, start_instances, start_instances_on_redis};

const SESSION_COOKIE: &str = "__Host-logi.session";
const REQUESTS: usize = 500;

/// Signs in on the first instance, lets the access token expire, then sends `REQUESTS`
/// concurrent requests with the same cookie, alternating between the instances; returns their
/// statuses.
async fn expired_session_requests(instances: &Instances) -> Vec<u16> {
    let mut browser = Browser::new();
    let signed_in = browser.sign_in_at(&instances.origins[0], "/").await;
    assert_eq!(signed_in.status, 302, "{}", signed_in.body);
    let cookie = format!("{SESSION_COOKIE}={}", browser.cookies[SESSION_COOKIE].0);
    // The provider's access tokens live 2 s: past it, every request needs a refresh.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let requests = (0..REQUESTS).map(|i| {
        let origin = &instances.origins[i % instances.origins.len()];
        let url = format!("{origin}/api/data");
        let (http, cookie) = (browser.http.clone(), cookie.clone());
        tokio::spawn(async move {
            let response = tokio::time::timeout(
                Duration::from_secs(30),
                http.get(&url)
                    .header("cookie", cookie)
                    .header("accept", "application/json")
                    .send(),
            )
            .await
            .expect("answered within 30 s")
            .unwrap();
            response.status().as_u16()
        })
    });
    let mut statuses = Vec::with_capacity(REQUESTS);
    for request in requests.collect::<Vec<_>>() {
        statuses.push(request.await.unwrap());
    }
    statuses
}

fn provider() -> logi::testing::TestProviderBuilder {
    TestProvider::builder().access_token_ttl(Duration::from_secs(2))
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// Sessions in Redis: the instances share the store and the refresh lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_redis_store_refresh_once() {
    let Some(server) = RedisServer::start("the refresh-across-instances tests") else {
        return;
    };
    let instances = start_instances_on_redis(provider(), 2, &server.url, |b, redis| {
        b.session_store(redis)
    })
    .await;
    let statuses = expired_session_requests(&instances).await;
    assert_eq!(count(&statuses, 200), REQUESTS, "{statuses:?}");
    assert_eq!(
        instances.provider.calls(Endpoint::Token),
        2,
        "the code exchange, then exactly one refresh for {REQUESTS} requests on two instances"
    );
}

/// Sessions sealed in cookies, coordinated through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_with_cookie_sessions_and_redis_coordination_refresh_once() {
    let Some(server) = RedisServer::start("the refresh-across-instances tests") else {
        return;
    };
    let instances =
        start_instances_on_redis(provider(), 2, &server.url, |b, redis| b.coordination(redis))
            .await;
    let statuses = expired_session_requests(&instances).await;
    assert_eq!(count(&statuses, 200), REQUESTS, "{statuses:?}");
    assert_eq!(instances.provider.calls(Endpoint::Token), 2);
}

/// Why the coordination exists: two instances with cookie sessions and nothing shared each
/// refresh once, with the same refresh token, and the provider's reuse detection ends the
/// session for the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_coordination_two_instances_spend_the_same_refresh_token() {
    let instances = start_instances(provider(), 2, |b| async move { b }).await;
    let statuses = expired_session_requests(&instances).await;
    assert_eq!(
        instances.provider.calls(Endpoint::Token),
        3,
        "one refresh per instance"
    );
    assert!(
        count(&statuses, 401) > 0,
        "the instance that spent the token second lost the session: {statuses:?}"
    );
}

/// The coordination going away: no instance refreshes uncoordinated (that could spend the
/// token twice). Requests that need the user get 503 with `Retry-After` and the session is
/// kept; once Redis is back, the session refreshes once and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_coordination_an_instance_does_not_refresh_and_keeps_the_session() {
    let Some(mut server) = RedisServer::start("the refresh-across-instances tests") else {
        return;
    };
    let url = server.url.clone();
    let instances = start_instances(provider(), 1, |b| {
        let url = url.clone();
        async move { b.coordination(RedisStore::connect(&url).await.unwrap()) }
    })
    .await;
    let origin = &instances.origins[0];
    let mut browser = Browser::new();
    browser.sign_in_at(origin, "/").await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    server.stop();
    let reply = browser.fetch_json(&format!("{origin}/api/data")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.header("retry-after").is_some());
    assert!(reply.set_cookies().is_empty(), "the session is kept");
    assert_eq!(instances.provider.calls(Endpoint::Token), 1, "no refresh");

    server.restart();
    // The connection comes back by itself; bounded wait for it.
    let mut status = 0;
    for _ in 0..50 {
        let reply = browser.fetch_json(&format!("{origin}/api/data")).await;
        status = reply.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "refreshed once Redis is back");
    assert_eq!(instances.provider.calls(Endpoint::Token), 2);
}
