//! A refresh task that ends without an outcome (it panics, or is cancelled with its runtime)
//! releases the requests waiting for it, and never wedges the session: its next request
//! refreshes afresh, promptly. The refresh task is made to fail through the app's
//! `Coordination`, which it calls.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logi::store::StoreError;
use logi::testing::{Endpoint, Fault, TestProvider};
use support::coordination::{Call, Hook, Hooked};
use support::{App, Browser, start_with};

const SESSION_COOKIE: &str = "__Host-logi.session";

#[derive(Clone, Copy)]
enum Sabotage {
    /// Panic once the refresh lock is taken (at the second look for the successor record).
    PanicHoldingTheLock,
    /// Never answer the first look for the successor record.
    Hang,
}

/// A coordination hook that sabotages the next refresh once, as armed.
#[derive(Clone, Default)]
struct Sabotaged {
    armed: Arc<Mutex<Option<Sabotage>>>,
    looks: Arc<AtomicUsize>,
}

impl Sabotaged {
    fn arm(&self, sabotage: Sabotage) {
        self.looks.store(0, Ordering::SeqCst);
        *self.armed.lock().unwrap() = Some(sabotage);
    }
}

impl Hook for Sabotaged {
    async fn before(&self, call: Call, keys: &[&str]) -> Result<(), StoreError> {
        if call == Call::Get && keys[0].starts_with("refresh:next:") {
            let look = self.looks.fetch_add(1, Ordering::SeqCst) + 1;
            let armed = *self.armed.lock().unwrap();
            match armed {
                Some(Sabotage::PanicHoldingTheLock) if look == 2 => {
                    self.armed.lock().unwrap().take();
                    panic!("sabotaged: the refresh task panics holding its lock");
                }
                Some(Sabotage::Hang) if look == 1 => {
                    self.armed.lock().unwrap().take();
                    std::future::pending::<()>().await;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `GET /api/data` on `origin` with `cookie`, answered within `within`: its status.
async fn api(origin: &str, cookie: &str, within: Duration) -> u16 {
    reqwest::Client::new()
        .get(format!("{origin}/api/data"))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .timeout(within)
        .send()
        .await
        .unwrap_or_else(|error| panic!("answered within {within:?}: {error}"))
        .status()
        .as_u16()
}

/// Access tokens that expire at once: every request of the session refreshes.
fn provider() -> logi::testing::TestProviderBuilder {
    TestProvider::builder().access_token_ttl(Duration::ZERO)
}

/// The app on a coordination ready to sabotage, and a signed-in session's `Cookie` header.
async fn signed_in() -> (App, Sabotaged, String) {
    let coordination = Sabotaged::default();
    let app = start_with(provider(), {
        let coordination = coordination.clone();
        move |b| b.coordination(Hooked::new(coordination))
    })
    .await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let cookie = format!("{SESSION_COOKIE}={}", browser.cookies[SESSION_COOKIE].0);
    (app, coordination, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_task_that_panics_does_not_wedge_the_session() {
    let (app, coordination, cookie) = signed_in().await;

    coordination.arm(Sabotage::PanicHoldingTheLock);
    assert_eq!(
        api(&app.origin, &cookie, Duration::from_secs(10)).await,
        503,
        "the request waiting for the refresh is released: transient, try again"
    );
    assert_eq!(app.provider.calls(Endpoint::Token), 1, "nothing was spent");

    // The next request refreshes afresh, without waiting for the panicked task's lock to expire.
    let started = Instant::now();
    assert_eq!(api(&app.origin, &cookie, Duration::from_secs(5)).await, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(app.provider.calls(Endpoint::Token), 2);
}

/// The refresh task is cancelled with the runtime it runs on (as at a shutdown, or when an
/// app serves the layer from several runtimes); the session goes on, served from another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_task_cancelled_with_its_runtime_does_not_wedge_the_session() {
    let (app, coordination, cookie) = signed_in().await;

    // The same layer, also served from a runtime of its own.
    let other = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let other_origin = format!("http://{}", listener.local_addr().unwrap());
    let routes = support::routes(&app.logi).layer(app.logi.clone());
    other.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        axum::serve(listener, routes).await.unwrap();
    });

    // A refresh starts there and hangs; its runtime goes away with it.
    coordination.arm(Sabotage::Hang);
    let hanging = reqwest::Client::new()
        .get(format!("{other_origin}/api/data"))
        .header("cookie", &cookie)
        .header("accept", "application/json")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hanging.is_err(), "the refresh hangs");
    other.shutdown_background();

    // The session's next request, on the app's own runtime, refreshes afresh.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut status = 0;
    while Instant::now() < deadline {
        status = api(&app.origin, &cookie, Duration::from_secs(5)).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the session is not wedged");
    assert_eq!(app.provider.calls(Endpoint::Token), 2);
}

/// A request that leads the single flight and is dropped (its client gave up) leaves the
/// refresh running: the next request gets its outcome, and the refresh token is spent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_while_it_leads_the_refresh_does_not_wedge_the_session() {
    let app = start_with(provider(), |b| b).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let cookie = format!("{SESSION_COOKIE}={}", browser.cookies[SESSION_COOKIE].0);

    app.provider
        .set_fault(Endpoint::Token, Fault::Delay(Duration::from_millis(800)));
    let dropped = reqwest::Client::new()
        .get(format!("{}/api/data", app.origin))
        .header("cookie", &cookie)
        .header("accept", "application/json")
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(dropped.is_err(), "the client gave up mid-refresh");
    app.provider.clear_fault(Endpoint::Token);

    assert_eq!(api(&app.origin, &cookie, Duration::from_secs(5)).await, 200);
    assert_eq!(
        app.provider.calls(Endpoint::Token),
        2,
        "the refresh the dropped request led is the one the next request used"
    );
}
