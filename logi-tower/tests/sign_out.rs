//! Signing out (`POST /auth/logout`) ends the session itself, not only this browser's cookie: a
//! copy of the cookie taken before the sign-out is refused right after it, on one instance and
//! on every instance sharing a coordination (two independent layers and one real Redis, as two
//! processes would have), while signing in again works and the user's other sessions go on.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use logi::store::{MemoryStore, StoreError};
use logi::testing::{TestProvider, TestSession};
use support::coordination::{Call, Hook, Hooked};
use support::{Browser, Instances, start, start_with};

const SESSION_COOKIE: &str = "__Host-logi.session";

type Cookies = BTreeMap<String, (String, String)>;

/// The status of `GET /api/data` (an API call: 401 when signed out) on `origin` for a browser
/// holding `cookies`, and whether the reply removed the session cookie.
async fn api_with(cookies: &Cookies, origin: &str) -> (u16, bool) {
    let mut browser = Browser::new();
    browser.cookies = cookies.clone();
    let reply = browser.fetch_json(&format!("{origin}/api/data")).await;
    (reply.status, !browser.cookies.contains_key(SESSION_COOKIE))
}

async fn api(browser: &mut Browser, origin: &str) -> u16 {
    browser
        .fetch_json(&format!("{origin}/api/data"))
        .await
        .status
}

async fn sign_in(browser: &mut Browser, origin: &str) {
    let reply = browser.sign_in_at(origin, "/").await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(browser.cookies.contains_key(SESSION_COOKIE));
}

/// The scenario on `origins` (one or several instances): the copy of a signed-out session is
/// refused everywhere; another session of the same user, and a new sign-in, are not.
async fn sign_out_ends_every_copy(origins: &[String]) {
    let (first, last) = (&origins[0], &origins[origins.len() - 1]);
    let mut browser = Browser::new();
    sign_in(&mut browser, first).await;
    let mut other_device = Browser::new();
    sign_in(&mut other_device, last).await;
    for origin in origins {
        assert_eq!(api(&mut browser, origin).await, 200, "{origin}");
    }
    let copy = browser.cookies.clone();

    let reply = browser.sign_out_at(last).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert!(!browser.cookies.contains_key(SESSION_COOKIE));

    for origin in origins {
        let (status, removed) = api_with(&copy, origin).await;
        assert_eq!(
            status, 401,
            "the copy taken before the sign-out is refused on {origin}"
        );
        assert!(removed, "and its cookie removed, on {origin}");
        assert_eq!(
            api(&mut other_device, origin).await,
            200,
            "the user's other session goes on, on {origin}"
        );
    }

    // Signing in again works, everywhere; the copy stays refused.
    sign_in(&mut browser, first).await;
    for origin in origins {
        assert_eq!(api(&mut browser, origin).await, 200, "{origin}");
        assert_eq!(api_with(&copy, origin).await.0, 401, "{origin}");
    }
}

#[tokio::test]
async fn one_instance() {
    let app = start().await;
    sign_out_ends_every_copy(std::slice::from_ref(&app.origin)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_with_cookie_sessions_and_redis_coordination() {
    let Some(server) = support::redis_server::RedisServer::start("sign-out on Redis") else {
        return;
    };
    let url = server.url.clone();
    let instances: Instances = support::start_instances(TestProvider::builder(), 2, |b| {
        let url = url.clone();
        async move { b.coordination(logi::store::RedisStore::connect(&url).await.unwrap()) }
    })
    .await;
    sign_out_ends_every_copy(&instances.origins).await;
}

/// Two layers in one process sharing a `MemoryStore` as their coordination.
#[tokio::test]
async fn two_layers_sharing_a_memory_coordination() {
    let shared = MemoryStore::new();
    let instances = support::start_instances(TestProvider::builder(), 2, |b| {
        let shared = shared.clone();
        async move { b.coordination(shared) }
    })
    .await;
    sign_out_ends_every_copy(&instances.origins).await;
}

/// When the sign-out cannot be recorded (the coordination is down), nothing is undone and the
/// user is told to try again: clearing only this browser's cookie would leave its copies
/// working once the coordination is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_that_cannot_be_recorded_is_503_and_keeps_the_session() {
    let Some((mut server, instances)) =
        support::one_instance_coordinated_on_redis("sign-out on Redis").await
    else {
        return;
    };
    let origin = &instances.origins[0];
    let mut browser = Browser::new();
    sign_in(&mut browser, origin).await;
    let copy = browser.cookies.clone();

    server.stop();
    let reply = browser.sign_out_at(origin).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.header("retry-after").is_some());
    assert!(reply.set_cookies().is_empty(), "the session is kept");

    server.restart();
    // The connection comes back by itself; bounded wait for it.
    let mut status = 0;
    for _ in 0..50 {
        status = browser.sign_out_at(origin).await.status;
        if status == 303 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 303, "signed out once Redis is back");
    assert_eq!(api_with(&copy, origin).await.0, 401);
}

/// A session sealed before sessions had an id still opens; it cannot be ended on its own, so
/// signing it out ends (to be safe) every session of its user signed in up to then.
#[tokio::test]
async fn a_session_without_an_id_still_opens_and_its_sign_out_ends_the_users_sessions() {
    let app = start().await;
    let origin = &app.origin;
    let legacy = TestSession::new("user-0001")
        .without_session_id()
        .cookie_header(&app.logi);
    let other = TestSession::new("user-0001").cookie_header(&app.logi);
    let someone_else = TestSession::new("user-0002").cookie_header(&app.logi);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |cookie: &str| {
        http.get(format!("{origin}/api/data"))
            .header("accept", "application/json")
            .header("cookie", cookie.to_owned())
            .send()
    };
    for cookie in [&legacy, &other, &someone_else] {
        assert_eq!(get(cookie).await.unwrap().status(), 200);
    }
    let signed_out = http
        .post(format!("{origin}/auth/logout"))
        .header("cookie", &legacy)
        .header("origin", origin)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 303);
    assert_eq!(get(&legacy).await.unwrap().status(), 401);
    assert_eq!(get(&other).await.unwrap().status(), 401, "ended to be safe");
    assert_eq!(get(&someone_else).await.unwrap().status(), 200);
    // A sign-in after the sign-out's millisecond is not affected.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let again = TestSession::new("user-0001").cookie_header(&app.logi);
    assert_eq!(get(&again).await.unwrap().status(), 200);
}

/// A coordination hook that counts the calls made to it.
#[derive(Clone, Default)]
struct Counting {
    get_many: Arc<AtomicUsize>,
    others: Arc<AtomicUsize>,
}

impl Hook for Counting {
    async fn before(&self, call: Call, _: &[&str]) -> Result<(), StoreError> {
        let counter = if call == Call::GetMany {
            &self.get_many
        } else {
            &self.others
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// The session's own id is looked up in the same round trip as its user's and provider
/// session's sign-outs: one `get_many` per request, nothing else.
#[tokio::test]
async fn each_request_asks_the_coordination_once() {
    let counting = Counting::default();
    let app = start_with(TestProvider::builder(), {
        let counting = counting.clone();
        move |b| b.coordination(Hooked::new(counting))
    })
    .await;
    let mut browser = Browser::new();
    sign_in(&mut browser, &app.origin).await;
    let (get_many, others) = (
        counting.get_many.load(Ordering::SeqCst),
        counting.others.load(Ordering::SeqCst),
    );
    for _ in 0..10 {
        assert_eq!(api(&mut browser, &app.origin).await, 200);
    }
    assert_eq!(counting.get_many.load(Ordering::SeqCst) - get_many, 10);
    assert_eq!(counting.others.load(Ordering::SeqCst), others);
}
