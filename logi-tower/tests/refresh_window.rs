//! The successor window: how long a session cookie rotated out by a refresh is still honoured
//! (a request that started before the refresh writes the old cookie back when it ends). It is
//! configurable to cover the longest request the app allows; after it, the old cookie is a
//! spent refresh token, as it always was. The layer's refresh clock is moved forward by
//! `logi::testing::advance_refresh_clock` instead of waiting minutes.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::time::Duration;

use logi::testing::{Endpoint, TestProvider, advance_refresh_clock};
use logi::{ConfigError, DEFAULT_REFRESH_SUCCESSOR_WINDOW, LogiLayer, LogiLayerBuilder};
use support::{App, Browser, start_with};

const SESSION_COOKIE: &str = "__Host-logi.session";

/// `GET /api/data` with `cookie`: the status.
async fn api(app: &App, cookie: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/api/data", app.origin))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Signs in, lets the 4 s access token come due, has one request refresh it, and returns the
/// cookie from before the refresh.
async fn refreshed(app: &App) -> String {
    let mut browser = Browser::new();
    browser.sign_in(app, "/").await;
    let old_cookie = format!("{SESSION_COOKIE}={}", browser.cookies[SESSION_COOKIE].0);
    // A 4 s token is refreshed in its last quarter: from 3 s on.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    assert_eq!(api(app, &old_cookie).await, 200);
    assert_eq!(app.provider.calls(Endpoint::Token), 2, "refreshed once");
    old_cookie
}

async fn app(configure: fn(LogiLayerBuilder) -> LogiLayerBuilder) -> App {
    start_with(
        TestProvider::builder().access_token_ttl(Duration::from_secs(4)),
        configure,
    )
    .await
}

/// Later than the default window, earlier than the configured one.
const LATE: Duration = Duration::from_secs(DEFAULT_REFRESH_SUCCESSOR_WINDOW.as_secs() + 10);
const WINDOW: Duration = Duration::from_secs(600);

#[tokio::test]
async fn a_configured_window_honours_an_old_cookie_the_default_would_not() {
    let app = app(|b| b.refresh_successor_window(WINDOW)).await;
    let old_cookie = refreshed(&app).await;
    advance_refresh_clock(&app.logi, LATE);
    assert_eq!(api(&app, &old_cookie).await, 200, "within the window");
    assert_eq!(
        app.provider.calls(Endpoint::Token),
        2,
        "handed the successor tokens: the spent refresh token is not sent again"
    );

    // Past the configured window: as ever, the old cookie's refresh token is spent, and the
    // provider's reuse detection ends the session.
    advance_refresh_clock(&app.logi, WINDOW);
    assert_eq!(api(&app, &old_cookie).await, 401, "past the window");
    assert_eq!(app.provider.calls(Endpoint::Token), 3);
}

#[tokio::test]
async fn past_the_default_window_an_old_cookie_spends_its_refresh_token_again() {
    let app = app(|b| b).await;
    let old_cookie = refreshed(&app).await;
    advance_refresh_clock(
        &app.logi,
        DEFAULT_REFRESH_SUCCESSOR_WINDOW - Duration::from_secs(5),
    );
    assert_eq!(
        api(&app, &old_cookie).await,
        200,
        "within the default window"
    );
    assert_eq!(app.provider.calls(Endpoint::Token), 2);
    advance_refresh_clock(&app.logi, Duration::from_secs(15));
    assert_eq!(api(&app, &old_cookie).await, 401, "past the default window");
    assert_eq!(app.provider.calls(Endpoint::Token), 3);
}

#[tokio::test]
async fn the_window_is_validated() {
    let provider = TestProvider::start().await.unwrap();
    let builder = || {
        LogiLayer::builder()
            .issuer(provider.issuer())
            .client_id(support::CLIENT_ID)
            .client_secret(support::CLIENT_SECRET)
            .redirect_uri("http://127.0.0.1:3000/auth/callback")
    };
    for window in [Duration::ZERO, Duration::from_millis(999)] {
        let error = builder()
            .refresh_successor_window(window)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    setting: "refresh_successor_window",
                    ..
                }
            ),
            "{window:?}: {error}"
        );
    }
    let error = builder()
        .absolute_timeout(Duration::from_secs(3600))
        .refresh_successor_window(Duration::from_secs(3601))
        .build()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("refresh_successor_window"),
        "{error}"
    );
    let _shortest = builder()
        .refresh_successor_window(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
}
