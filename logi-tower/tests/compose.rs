//! `LogiLayer` composes with other tower middleware (tracing, timeouts, CORS, concurrency
//! limits) in either order, for cookie sessions and bearer tokens alike.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::{HeaderValue, Method, StatusCode};
use logi::LogiUser;
use logi::testing::TestSession;
use tower::ServiceBuilder;
use tower::limit::ConcurrencyLimitLayer;
use tower_http::cors::CorsLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

async fn me(user: LogiUser) -> String {
    user.sub().to_owned()
}

#[tokio::test]
async fn works_inside_and_outside_other_middleware() {
    let app = support::start().await;
    let cors = || {
        CorsLayer::new()
            .allow_origin(HeaderValue::from_static("https://spa.example"))
            .allow_methods([Method::GET])
            .allow_headers([http::header::AUTHORIZATION])
    };
    let timeout =
        || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(5));
    let routes = || {
        Router::new()
            .route("/me", get(me))
            .route_layer(app.logi.require())
    };

    // logi innermost.
    let inner = routes().layer(
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(timeout())
            .layer(cors())
            .layer(ConcurrencyLimitLayer::new(64))
            .layer(app.logi.clone()),
    );
    // logi outermost. (CORS and timeouts sit inside tracing here because they need a body
    // type with a `Default`, which tracing's body lacks; logi's body has one.)
    let outer = routes().layer(
        ServiceBuilder::new()
            .layer(app.logi.clone())
            .layer(TraceLayer::new_for_http())
            .layer(ConcurrencyLimitLayer::new(64))
            .layer(timeout())
            .layer(cors()),
    );

    let cookie = TestSession::new("cookie-user").cookie_header(&app.logi);
    // The app's layer expects its own client id as the audience.
    let token_for_app = app.provider.access_token(
        support::CLIENT_ID,
        "token-user",
        &["openid"],
        Duration::from_secs(60),
    );
    for (name, router) in [("logi inside", inner), ("logi outside", outer)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let http = reqwest::Client::new();

        let by_cookie = http
            .get(format!("{origin}/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(by_cookie.status(), 200, "{name}");
        assert_eq!(by_cookie.text().await.unwrap(), "cookie-user", "{name}");

        let by_token = http
            .get(format!("{origin}/me"))
            .bearer_auth(&token_for_app)
            .header("origin", "https://spa.example")
            .send()
            .await
            .unwrap();
        assert_eq!(by_token.status(), 200, "{name}");
        assert_eq!(
            by_token.headers()["access-control-allow-origin"],
            "https://spa.example",
            "{name}"
        );
        assert_eq!(by_token.text().await.unwrap(), "token-user", "{name}");

        // A CORS preflight carries no credentials: it is answered by CORS, not refused by logi.
        let preflight = http
            .request(reqwest::Method::OPTIONS, format!("{origin}/me"))
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{name}: {}",
            preflight.status()
        );

        let anonymous = http
            .get(format!("{origin}/me"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{name}");
    }
}
