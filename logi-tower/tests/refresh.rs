//! Transparent, rotation-safe refresh against the in-process provider, which enforces logi's
//! refresh-token rotation with reuse detection.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use logi::testing::{Endpoint, Fault, TestProvider};
use reqwest::Method;
use support::{App, Browser, start_with};

const JSON: &[(&str, &str)] = &[("accept", "application/json")];

async fn app_with_token_ttl(ttl: Duration) -> App {
    start_with(TestProvider::builder().access_token_ttl(ttl), |b| b).await
}

/// The session cookie header value of a signed-in browser.
fn cookie_header(browser: &Browser) -> String {
    browser
        .cookies
        .iter()
        .filter(|(_, (_, path))| path == "/")
        .map(|(k, (v, _))| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn get(http: &reqwest::Client, url: &str, cookie: &str) -> (u16, Vec<String>) {
    let response = http
        .get(url)
        .header("cookie", cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (response.status().as_u16(), cookies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_share_one_refresh_and_late_ones_reuse_it() {
    let app = app_with_token_ttl(Duration::from_secs(8)).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    assert_eq!(app.provider.calls(Endpoint::Token), 1);
    let old_cookie = Arc::new(cookie_header(&browser));
    // An 8 s token is refreshed in its last quarter: from 6 s on.
    tokio::time::sleep(Duration::from_millis(6_500)).await;

    let url = Arc::new(format!("{}/api/data", app.origin));
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let (http, url, cookie) = (
                browser.http.clone(),
                Arc::clone(&url),
                Arc::clone(&old_cookie),
            );
            tokio::spawn(async move { get(&http, &url, &cookie).await })
        })
        .collect();
    let mut new_cookies = Vec::new();
    for task in tasks {
        let (status, cookies) = task.await.unwrap();
        assert_eq!(status, 200);
        assert!(
            cookies
                .iter()
                .any(|c| c.starts_with("__Host-logi.session=")),
            "each gets the refreshed session"
        );
        new_cookies = cookies;
    }
    assert_eq!(
        app.provider.calls(Endpoint::Token),
        2,
        "exactly one refresh for 1 000 requests"
    );

    // Requests still carrying the pre-refresh cookie: no further refresh, no reuse detection.
    for _ in 0..200 {
        let (status, cookies) = get(&browser.http, &url, &old_cookie).await;
        assert_eq!(status, 200);
        assert!(!cookies.is_empty(), "they are handed the successor session");
    }
    assert_eq!(app.provider.calls(Endpoint::Token), 2);

    // The refreshed cookie works on its own, without a provider call.
    let fresh: String = new_cookies
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    assert_eq!(get(&browser.http, &url, &fresh).await.0, 200);
    assert_eq!(app.provider.calls(Endpoint::Token), 2);
}

#[tokio::test]
async fn twenty_consecutive_rotations_never_trip_reuse_detection() {
    // Tokens that expire at once: every request refreshes, with the newest refresh token.
    let app = app_with_token_ttl(Duration::ZERO).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    for round in 1..=20 {
        let reply = browser
            .send(Method::GET, &format!("{}/api/data", app.origin), JSON)
            .await;
        assert_eq!(reply.status, 200, "round {round}: {}", reply.body);
        assert_eq!(app.provider.calls(Endpoint::Token), 1 + round);
    }
    // Had any refresh spent an old token, the provider would have revoked the chain.
    let reply = browser
        .send(Method::GET, &format!("{}/api/data", app.origin), JSON)
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn handlers_see_the_refreshed_token_and_the_cookie_is_written_in_the_same_response() {
    let app = app_with_token_ttl(Duration::from_secs(4)).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let before = browser.navigate(&format!("{}/token", app.origin)).await;
    assert_eq!(before.status, 200);
    let old = browser.cookies["__Host-logi.session"].0.clone();
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let after = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.header("cache-control"), Some("no-store"));
    assert_ne!(
        browser.cookies["__Host-logi.session"].0, old,
        "the new tokens are written back"
    );
    assert_eq!(app.provider.calls(Endpoint::Token), 2);
    assert!(
        after.body.starts_with("sub=user-0001"),
        "the same user: {}",
        after.body
    );
}

#[tokio::test]
async fn transient_failures_keep_the_session() {
    // Times are whole seconds: an 8 s token is due from 6 s after sign-in and valid until 8 s,
    // so 6.2 s is due-but-valid wherever within its second the sign-in happened.
    let app = app_with_token_ttl(Duration::from_secs(8)).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let api = format!("{}/api/data", app.origin);

    // Due for refresh (last quarter) but still valid: the provider is down, the request proceeds.
    tokio::time::sleep(Duration::from_millis(6_200)).await;
    app.provider.set_fault(Endpoint::Token, Fault::Status(503));
    assert_eq!(browser.send(Method::GET, &api, JSON).await.status, 200);

    // Expired and the provider still down: 503 with Retry-After for API calls, a page for
    // navigations, grpc-status 14 for gRPC; never 500, and the session cookie is kept.
    tokio::time::sleep(Duration::from_millis(2_900)).await;
    for fault in [
        Fault::Status(503),
        Fault::Status(500),
        Fault::DropConnection,
        Fault::Status(429),
    ] {
        app.provider.set_fault(Endpoint::Token, fault);
        let reply = browser.send(Method::GET, &api, JSON).await;
        assert_eq!(reply.status, 503, "{fault:?}");
        let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!(retry_after >= 1, "{fault:?}");
        assert!(
            reply.set_cookies().is_empty(),
            "{fault:?}: the session is kept"
        );
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    let page = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(page.status, 503, "{:?} {}", page.headers, page.body);
    assert!(page.body.contains("Temporarily unavailable"));
    let grpc = browser.grpc_call(&format!("{}/api/echo", app.origin)).await;
    assert_eq!(grpc.header("grpc-status"), Some("14"));
    // Public pages still work.
    assert_eq!(
        browser.body_of(&format!("{}/maybe", app.origin)).await,
        "hello stranger"
    );

    // The provider is back: the next request refreshes and succeeds.
    app.provider.clear_fault(Endpoint::Token);
    assert_eq!(browser.send(Method::GET, &api, JSON).await.status, 200);
    assert_eq!(
        browser
            .status_of(&format!("{}/dashboard", app.origin))
            .await,
        200
    );
}

#[tokio::test]
async fn a_conclusive_refusal_ends_the_session() {
    let app = start_with(
        TestProvider::builder()
            .access_token_ttl(Duration::from_secs(1))
            .refresh_token_ttl(Duration::from_secs(1)),
        |b| b,
    )
    .await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    tokio::time::sleep(Duration::from_millis(2_100)).await; // both tokens have expired

    let reply = browser
        .send(Method::GET, &format!("{}/api/data", app.origin), JSON)
        .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(
        reply.set_cookies().iter().any(|c| c.contains("Max-Age=0")),
        "the session cookie is removed"
    );
    assert!(browser.cookies.is_empty());
    let nav = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(
        (nav.status, nav.location()),
        (302, "/auth/login?return_to=%2Fdashboard")
    );
}

#[tokio::test]
async fn the_session_survives_a_thirty_second_provider_outage() {
    let app = app_with_token_ttl(Duration::from_secs(2)).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let api = format!("{}/api/data", app.origin);
    app.provider
        .set_fault(Endpoint::Token, Fault::DropConnection);
    let outage = tokio::time::Instant::now();
    let mut refused = 0;
    while outage.elapsed() < Duration::from_secs(30) {
        let reply = browser.send(Method::GET, &api, JSON).await;
        assert!(
            reply.status == 200 || reply.status == 503,
            "{}",
            reply.status
        );
        refused += usize::from(reply.status == 503);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(
        refused >= 10,
        "the token expired during the outage ({refused} refusals)"
    );
    app.provider.clear_fault(Endpoint::Token);
    assert_eq!(browser.send(Method::GET, &api, JSON).await.status, 200);
}

#[tokio::test]
async fn without_a_refresh_token_the_session_ends_cleanly_at_expiry() {
    use logi::testing::TestSession;
    let app = support::start().await;
    let live = TestSession::new("user-0001")
        .access_token("at", Duration::from_secs(600))
        .cookie_header(&app.logi);
    let expired = TestSession::new("user-0001")
        .access_token("at", Duration::ZERO)
        .cookie_header(&app.logi);
    let mut browser = Browser::new();
    let ok = browser
        .send(
            Method::GET,
            &format!("{}/api/data", app.origin),
            &[("cookie", &live), JSON[0]],
        )
        .await;
    assert_eq!(ok.status, 200);
    let ended = browser
        .send(
            Method::GET,
            &format!("{}/api/data", app.origin),
            &[("cookie", &expired), JSON[0]],
        )
        .await;
    assert_eq!(ended.status, 401);
    assert!(
        ended
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-logi.session=") && c.contains("Max-Age=0"))
    );
    assert_eq!(
        app.provider.calls(Endpoint::Token),
        0,
        "nothing to refresh with"
    );
}
