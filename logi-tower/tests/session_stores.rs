//! One suite for every session store: the store's own contract (round trip, version conflicts,
//! delete, delete by `sub` and `sid`, expiry), then the browser flow through the layer (sign
//! in, protected page, refresh, sign out) with sessions in that store. Redis runs on a real
//! `redis-server` the test starts on a free loopback port.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::time::Duration;

use logi::store::{Coordination, SessionId, SessionStore, StoreErrorKind, StoredSession};
use logi::testing::{Endpoint, TestProvider};
use support::clock::unix_now_signed as now;
use support::{Browser, start_with};

const SESSION_COOKIE: &str = "__Host-logi.session";

fn record(version: u64, expires_at: i64, sub: &str, sid: Option<&str>) -> StoredSession {
    let data = format!("sealed {sub} v{version}").into_bytes();
    StoredSession::new(data, version, expires_at, sub, sid.map(str::to_owned))
}

fn id(name: &str) -> SessionId {
    SessionId::from_stored(format!("test-session-{name}"))
}

async fn sorted_ids<S: SessionStore>(store: &S, sub: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .list_by_sub(sub)
        .await
        .unwrap()
        .iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The contract every [`SessionStore`] keeps.
async fn store_contract<S: SessionStore>(store: S) {
    let later = now() + 600;

    // Round trip.
    let a = id("a");
    assert!(store.load(&a).await.unwrap().is_none());
    store
        .save(&a, &record(1, later, "user-a", Some("sid-1")))
        .await
        .unwrap();
    let loaded = store.load(&a).await.unwrap().expect("saved");
    assert_eq!(loaded.data(), b"sealed user-a v1");
    assert_eq!(loaded.version(), 1);
    assert_eq!(loaded.expires_at(), later);
    assert_eq!(loaded.sub(), "user-a");
    assert_eq!(loaded.sid(), Some("sid-1"));

    // A stale writer (version 1 again) and a writer that skips a version are refused; the
    // next version is written.
    for stale in [1, 3] {
        let refused = store
            .save(&a, &record(stale, later, "user-a", Some("sid-1")))
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), StoreErrorKind::Conflict, "version {stale}");
    }
    assert_eq!(store.load(&a).await.unwrap().unwrap().version(), 1);
    store
        .save(&a, &record(2, later, "user-a", Some("sid-1")))
        .await
        .unwrap();
    let loaded = store.load(&a).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version(), loaded.data()),
        (2, &b"sealed user-a v2"[..])
    );

    // Delete; a stale writer cannot bring the session back.
    store.delete(&a).await.unwrap();
    assert!(store.load(&a).await.unwrap().is_none());
    store.delete(&a).await.unwrap();
    let refused = store
        .save(&a, &record(3, later, "user-a", Some("sid-1")))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Conflict);
    assert!(store.load(&a).await.unwrap().is_none());

    // By sub and by sid.
    let (x, y, z) = (id("x"), id("y"), id("z"));
    store
        .save(&x, &record(1, later, "user-u", Some("sid-s")))
        .await
        .unwrap();
    store
        .save(&y, &record(1, later, "user-u", None))
        .await
        .unwrap();
    store
        .save(&z, &record(1, later, "user-v", Some("sid-s")))
        .await
        .unwrap();
    assert_eq!(
        sorted_ids(&store, "user-u").await,
        ["test-session-x", "test-session-y"]
    );
    assert_eq!(store.delete_by_sid("sid-s").await.unwrap(), 2);
    assert!(store.load(&x).await.unwrap().is_none());
    assert!(store.load(&z).await.unwrap().is_none());
    assert_eq!(sorted_ids(&store, "user-u").await, ["test-session-y"]);
    assert!(sorted_ids(&store, "user-v").await.is_empty());
    assert_eq!(store.delete_by_sid("sid-s").await.unwrap(), 0);
    assert_eq!(store.delete_by_sub("user-u").await.unwrap(), 1);
    assert!(store.load(&y).await.unwrap().is_none());
    assert!(sorted_ids(&store, "user-u").await.is_empty());
    assert_eq!(store.delete_by_sub("nobody").await.unwrap(), 0);

    // Expiry: an expired session is gone, from loads and from listings, and its id starts over.
    let e = id("e");
    store
        .save(&e, &record(1, now() + 1, "user-e", Some("sid-e")))
        .await
        .unwrap();
    assert!(store.load(&e).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert!(store.load(&e).await.unwrap().is_none(), "expired");
    assert!(sorted_ids(&store, "user-e").await.is_empty());
    store
        .save(&e, &record(1, now() + 60, "user-e", None))
        .await
        .unwrap();
    assert_eq!(store.load(&e).await.unwrap().unwrap().version(), 1);
}

/// Sign in, protected page, refresh, sign out, through the layer with sessions in `store`
/// (`None`: sealed cookies). With a store, sessions can also be ended from the server, and a
/// signed-out cookie replayed is signed out.
async fn browser_flow<S: SessionStore + Clone>(store: Option<S>) {
    let with_store = store.clone();
    // Access tokens live 4 s: refreshed once 3 s have passed.
    let app = start_with(
        TestProvider::builder().access_token_ttl(Duration::from_secs(4)),
        |b| match with_store {
            Some(store) => b.session_store(store),
            None => b,
        },
    )
    .await;
    let mut browser = Browser::new();
    let signed_in = browser.sign_in(&app, "/dashboard").await;
    assert_eq!(signed_in.status, 302, "{}", signed_in.body);
    let cookie = browser.cookies[SESSION_COOKIE].0.clone();
    let page = browser.follow(&signed_in, &app.origin).await;
    assert_eq!(page.status, 200);
    assert!(page.body.starts_with("sub=user-0001 "), "{}", page.body);
    assert!(page.header("set-cookie").is_none(), "nothing changed");

    let stored_version = async |store: &S| {
        let ids = store.list_by_sub("user-0001").await.unwrap();
        assert_eq!(ids.len(), 1, "one session for the user");
        store.load(&ids[0]).await.unwrap().unwrap().version()
    };
    if let Some(store) = &store {
        assert!(
            cookie.len() < 120,
            "with a store the cookie holds a sealed id only: {} bytes",
            cookie.len()
        );
        assert_eq!(stored_version(store).await, 1);
    } else {
        assert!(
            cookie.len() > 500,
            "the whole session is sealed in the cookie"
        );
    }

    // Refresh: once, and the handler sees the user.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let refreshed = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(app.provider.calls(Endpoint::Token), 2);
    let again = browser
        .fetch_json(&format!("{}/api/data", app.origin))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(app.provider.calls(Endpoint::Token), 2, "refreshed once");
    if let Some(store) = &store {
        assert_eq!(
            stored_version(store).await,
            2,
            "the refreshed tokens are stored"
        );
    }
    let before_sign_out = browser.cookies.clone();

    // Sign out.
    let out = browser.sign_out_at(&app.origin).await;
    assert_eq!(out.status, 303);
    assert_eq!(app.provider.calls(Endpoint::Revoke), 1);
    assert!(browser.cookies.is_empty(), "{:?}", browser.cookies.keys());
    let after = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(after.status, 302, "signed out");

    let Some(store) = store else { return };
    assert!(store.list_by_sub("user-0001").await.unwrap().is_empty());

    // The cookie from before the sign-out, replayed, is signed out: the session is gone.
    browser.cookies = before_sign_out;
    let replayed = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(
        replayed.status, 302,
        "a signed-out session stays signed out"
    );
    assert!(
        !browser.cookies.contains_key(SESSION_COOKIE),
        "the dead cookie is removed"
    );

    // Ending every session of a user from the server signs out each of their browsers. A
    // browser that signs in again replaces its stored session rather than adding one.
    let mut first = Browser::new();
    let mut second = Browser::new();
    first.sign_in(&app, "/").await;
    first.sign_in(&app, "/").await;
    assert_eq!(store.list_by_sub("user-0001").await.unwrap().len(), 1);
    second.sign_in(&app, "/").await;
    for browser in [&mut first, &mut second] {
        let page = browser.navigate(&format!("{}/dashboard", app.origin)).await;
        assert_eq!(page.status, 200);
    }
    assert_eq!(store.delete_by_sub("user-0001").await.unwrap(), 2);
    for browser in [&mut first, &mut second] {
        let page = browser.navigate(&format!("{}/dashboard", app.origin)).await;
        assert_eq!(page.status, 302, "signed out everywhere");
    }
}

/// Concurrent requests on a session due for a refresh share one refresh, and exactly one of
/// them writes the refreshed session (the others' writes are refused as stale, harmlessly).
async fn concurrent_refresh<S: SessionStore + Clone>(store: S) {
    let configured = store.clone();
    let app = start_with(
        TestProvider::builder().access_token_ttl(Duration::from_secs(4)),
        |b| b.session_store(configured),
    )
    .await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let cookie = format!("{SESSION_COOKIE}={}", browser.cookies[SESSION_COOKIE].0);
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let url = format!("{}/api/data", app.origin);
    let requests = (0..200).map(|_| {
        let (http, url, cookie) = (browser.http.clone(), url.clone(), cookie.clone());
        tokio::spawn(async move {
            let response = http
                .get(&url)
                .header("cookie", cookie)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        })
    });
    for request in requests.collect::<Vec<_>>() {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(
        app.provider.calls(Endpoint::Token),
        2,
        "one refresh for 200 requests"
    );
    let ids = store.list_by_sub("user-0001").await.unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        store.load(&ids[0]).await.unwrap().unwrap().version(),
        2,
        "one write of the refreshed session"
    );
    // The same cookie goes on working, with the stored (refreshed) tokens: no further refresh.
    for _ in 0..5 {
        let reply = browser.fetch_json(&url).await;
        assert_eq!(reply.status, 200);
    }
    assert_eq!(app.provider.calls(Endpoint::Token), 2);
}

/// The contract of a store that is also the instances' [`Coordination`]: records that expire,
/// insert-if-absent (a lock), removal only by the holder, several at once.
async fn coordination_contract<S: Coordination>(store: S) {
    let minute = Duration::from_secs(60);
    assert!(
        store
            .insert_if_absent("lock:1", b"holder-a", minute)
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_if_absent("lock:1", b"holder-b", minute)
            .await
            .unwrap()
    );
    assert!(
        !store.remove_if("lock:1", b"holder-b").await.unwrap(),
        "not the holder"
    );
    assert_eq!(
        store.get("lock:1").await.unwrap().as_deref(),
        Some(&b"holder-a"[..])
    );
    assert!(store.remove_if("lock:1", b"holder-a").await.unwrap());
    assert!(store.get("lock:1").await.unwrap().is_none());
    assert!(
        store
            .insert_if_absent("lock:1", b"holder-b", minute)
            .await
            .unwrap()
    );

    store.insert("record", b"one", minute).await.unwrap();
    store.insert("record", b"two", minute).await.unwrap();
    let values = store
        .get_many(&["record", "missing", "lock:1"])
        .await
        .unwrap();
    assert_eq!(
        values,
        [Some(b"two".to_vec()), None, Some(b"holder-b".to_vec())]
    );

    // Records expire: a lock whose holder crashed frees itself.
    assert!(
        store
            .insert_if_absent("short", b"x", Duration::from_millis(50))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.get("short").await.unwrap().is_none());
    assert!(store.insert_if_absent("short", b"y", minute).await.unwrap());
}

/// The suite for one store: `$store` is an async expression giving `Option<(store, guard)>`
/// (`None`: the store's server is not installed, and the test says so).
macro_rules! store_tests {
    ($name:ident, $store:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn store_contract() {
                let Some((store, _guard)) = $store else {
                    return;
                };
                super::store_contract(store).await;
            }

            #[tokio::test]
            async fn coordination_contract() {
                let Some((store, _guard)) = $store else {
                    return;
                };
                super::coordination_contract(store).await;
            }

            #[tokio::test]
            async fn browser_flow() {
                let Some((store, _guard)) = $store else {
                    return;
                };
                super::browser_flow(Some(store)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_refresh() {
                let Some((store, _guard)) = $store else {
                    return;
                };
                super::concurrent_refresh(store).await;
            }
        }
    };
}

store_tests!(
    memory,
    async { Some((logi::store::MemoryStore::new(), ())) }.await
);

#[cfg(feature = "redis")]
store_tests!(
    redis,
    async {
        let server = support::redis_server::RedisServer::start("the Redis session store tests")?;
        let store = logi::store::RedisStore::connect(&server.url).await.unwrap();
        Some((store, server))
    }
    .await
);

/// The default store: the whole session sealed in the cookie (no store contract: nothing is
/// kept on the server).
#[tokio::test]
async fn cookie_sessions_browser_flow() {
    browser_flow(None::<logi::store::MemoryStore>).await;
}

/// A test session stored in the layer's store signs a request in.
#[tokio::test]
async fn a_test_session_is_stored_in_the_layers_store() {
    let store = logi::store::MemoryStore::new();
    let configured = store.clone();
    let app = start_with(TestProvider::builder(), |b| b.session_store(configured)).await;
    let cookie = logi::testing::TestSession::new("user-0042")
        .store_in(&app.logi)
        .await;
    assert_eq!(store.list_by_sub("user-0042").await.unwrap().len(), 1);
    let reply = reqwest::Client::new()
        .get(format!("{}/dashboard", app.origin))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.text().await.unwrap().starts_with("sub=user-0042 "));
}

/// Redis going away: requests that need the user get 503 with `Retry-After`, not a sign-out
/// (the cookie stays), and a sign-in that cannot be stored says so.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_that_is_down_gives_503_and_keeps_the_cookie() {
    let Some(mut server) =
        support::redis_server::RedisServer::start("the Redis session store tests")
    else {
        return;
    };
    let store = logi::store::RedisStore::connect(&server.url).await.unwrap();
    let app = start_with(TestProvider::builder(), |b| b.session_store(store)).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let page = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(page.status, 200);

    server.stop();
    let started = std::time::Instant::now();
    let reply = browser
        .fetch_json(&format!("{}/api/data", app.origin))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.header("retry-after").is_some());
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast");
    assert!(
        browser.cookies.contains_key(SESSION_COOKIE),
        "the session is not ended by an outage"
    );
    let public = browser.navigate(&format!("{}/", app.origin)).await;
    assert_eq!(
        public.status, 200,
        "pages that do not need the user still work"
    );

    let mut other = Browser::new();
    let signed_in = other.sign_in(&app, "/").await;
    assert_eq!(signed_in.status, 503, "{}", signed_in.body);
    assert!(!other.cookies.contains_key(SESSION_COOKIE));
}

/// Two instances of an app (two independent layers, as two processes would have, each with its
/// own Redis connection) sharing one Redis: a session signed in on one is signed in on the
/// other, and a sign-out on one is seen by the other at once.
#[cfg(feature = "redis")]
#[tokio::test]
async fn two_instances_share_sessions_and_sign_outs_through_redis() {
    let Some(server) = support::redis_server::RedisServer::start("the Redis session store tests")
    else {
        return;
    };
    let url = server.url.clone();
    let instances = support::start_instances(TestProvider::builder(), 2, |b| {
        let url = url.clone();
        async move { b.session_store(logi::store::RedisStore::connect(&url).await.unwrap()) }
    })
    .await;
    let origins = &instances.origins;
    let (first, second) = (&origins[0], &origins[1]);

    // Sign in on the first instance. (The test browser sends its cookies to both instances, as
    // a browser does to one site behind a load balancer.)
    let mut browser = Browser::new();
    let signed_in = browser.sign_in_at(first, "/").await;
    assert_eq!(signed_in.status, 302, "{}", signed_in.body);
    for origin in [first, second] {
        let page = browser.navigate(&format!("{origin}/dashboard")).await;
        assert_eq!(page.status, 200, "signed in on {origin}");
    }

    // Sign out on the second instance: the first sees it at once, even with the old cookie.
    let cookies = browser.cookies.clone();
    let out = browser.sign_out_at(second).await;
    assert_eq!(out.status, 303);
    browser.cookies = cookies;
    let page = browser.navigate(&format!("{first}/dashboard")).await;
    assert_eq!(page.status, 302, "signed out on the first instance too");
}
