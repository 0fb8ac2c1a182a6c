//! `#[logi::protected]` on axum handlers, over real HTTP: every outcome for browser navigations
//! and API calls. Signed-in sessions come from `TestSession`, so no request here reaches the
//! provider (the counters say so).

#![cfg(all(feature = "testing", feature = "axum", feature = "macros"))]

mod support;

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use logi::testing::{Endpoint, Fault, TestProvider, TestSession};
use logi::{LogiLayer, LogiUser};
use reqwest::Method;
use serde::Deserialize;
use support::{App, Reply, start_app};

/// A browser loading a page.
const NAVIGATE: &[(&str, &str)] = &[("accept", "text/html"), ("sec-fetch-mode", "navigate")];
/// A script calling an API.
const API: &[(&str, &str)] = &[("accept", "application/json")];

#[logi::protected]
async fn signed_in(user: LogiUser) -> String {
    format!("hello {}", user.sub())
}

#[logi::protected(scopes = ["orders:read", "orders:write"])]
async fn orders(user: LogiUser) -> String {
    format!("the orders of {}", user.sub())
}

#[derive(Deserialize)]
struct Order {
    item: String,
}

/// The guard runs before the body extractor: a signed-out caller with a broken body gets 401,
/// not `Json`'s 400.
#[logi::protected(scopes = ["orders:write"])]
async fn create_order(Json(order): Json<Order>) -> String {
    format!("ordered {}", order.item)
}

#[logi::protected(any_scope = ["admin", "support"])]
async fn refunds() -> &'static str {
    "refunds"
}

/// logi's standard claims, typed.
fn identity_verified(user: &LogiUser) -> bool {
    user.claims().identity_verified_level >= Some(2)
}

#[logi::protected(check = identity_verified)]
async fn payouts(user: LogiUser) -> String {
    format!("payouts for {}", user.sub())
}

/// Claims of the app's own.
#[derive(Deserialize)]
struct TeamClaims {
    #[serde(rename = "acme:team")]
    team: Option<String>,
    #[serde(default)]
    identity_verified_level: u8,
}

fn on_a_team(user: &LogiUser) -> bool {
    user.claim("acme:team").is_some_and(|team| team != "")
}

#[logi::protected(scopes = ["acme:team"], check = on_a_team)]
async fn team(user: LogiUser<TeamClaims>) -> String {
    let claims = user.claims();
    format!(
        "team {} level {}",
        claims.team.as_deref().unwrap_or("-"),
        claims.identity_verified_level
    )
}

/// Claims that a user may well not have, as a required field: the app's bug.
#[derive(Deserialize)]
struct StrictClaims {
    #[serde(rename = "acme:badge")]
    _badge: u32,
}

#[logi::protected]
async fn strict(_user: LogiUser<StrictClaims>) -> &'static str {
    "unreachable without a badge"
}

#[axum::debug_handler]
#[logi::protected(scopes = ["orders:read"])]
async fn debug_above(user: LogiUser) -> String {
    format!("debug above {}", user.sub())
}

#[logi::protected(scopes = ["orders:read"])]
#[axum::debug_handler]
async fn debug_below(user: LogiUser) -> String {
    format!("debug below {}", user.sub())
}

fn routes(_: &LogiLayer) -> Router {
    Router::new()
        .route("/", get(|| async { "home" }))
        .route("/me", get(signed_in))
        .route("/orders", get(orders).post(create_order))
        .route("/refunds", get(refunds))
        .route("/payouts", get(payouts))
        .route("/team", get(team))
        .route("/strict", get(strict))
        .route("/debug/above", get(debug_above))
        .route("/debug/below", get(debug_below))
}

async fn start() -> App {
    start_app(TestProvider::builder(), |b| b, routes).await
}

/// A request with `headers` and, when signed in, the session cookie.
async fn send(
    app: &App,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    session: Option<&TestSession>,
    body: Option<&str>,
) -> Reply {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .request(method, format!("{}{path}", app.origin));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(session) = session {
        request = request.header("cookie", session.cookie_header(&app.logi));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

async fn get_as(app: &App, path: &str, kind: &[(&str, &str)], session: &TestSession) -> Reply {
    send(app, Method::GET, path, kind, Some(session), None).await
}

fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

/// No request in these tests needs the provider: the guard reads the session the layer opened.
fn assert_provider_untouched(app: &App) {
    for endpoint in [Endpoint::Token, Endpoint::Userinfo, Endpoint::Jwks] {
        assert_eq!(app.provider.calls(endpoint), 0, "{endpoint:?}");
    }
}

#[tokio::test]
async fn signed_out_browsers_are_sent_to_sign_in_and_api_calls_get_401() {
    let app = start().await;
    for path in ["/me", "/orders?page=2", "/refunds", "/payouts", "/team"] {
        let page = send(&app, Method::GET, path, NAVIGATE, None, None).await;
        assert_eq!(page.status, 302, "{path}");
        let return_to = url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>();
        assert_eq!(
            page.location(),
            format!("/auth/login?return_to={return_to}")
        );

        let api = send(&app, Method::GET, path, API, None, None).await;
        assert_eq!(api.status, 401, "{path}");
        assert_eq!(api.header("www-authenticate"), Some("Bearer"));
        assert_eq!(json(&api)["error"], "unauthenticated");
    }

    // The guard comes before the handler's own extractors: a broken body is never parsed.
    let post = send(&app, Method::POST, "/orders", API, None, Some("{not json")).await;
    assert_eq!(post.status, 401, "{}", post.body);

    // Public routes are untouched.
    let home = send(&app, Method::GET, "/", NAVIGATE, None, None).await;
    assert_eq!((home.status, home.body.as_str()), (200, "home"));
    assert_provider_untouched(&app);
}

#[tokio::test]
async fn missing_scopes_are_403_naming_them() {
    let app = start().await;
    let reader = TestSession::new("user-0001").scopes(["openid", "orders:read"]);

    let api = get_as(&app, "/orders", API, &reader).await;
    assert_eq!(api.status, 403);
    assert_eq!(
        api.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="orders:read orders:write""#)
    );
    let body = json(&api);
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], "orders:read orders:write");
    assert_eq!(
        body["error_description"],
        "requires all of the scopes orders:read, orders:write"
    );

    let page = get_as(&app, "/orders", NAVIGATE, &reader).await;
    assert_eq!(page.status, 403);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("Access denied"), "{}", page.body);
    assert!(
        page.body.contains("orders:read, orders:write"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("/auth/login?return_to=%2Forders"),
        "signing in again picks up new grants: {}",
        page.body
    );

    // A guarded body extractor: the scope is checked before the body is read.
    let post = send(
        &app,
        Method::POST,
        "/orders",
        API,
        Some(&reader),
        Some("{}"),
    )
    .await;
    assert_eq!(post.status, 403);
    assert_eq!(
        post.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="orders:write""#)
    );

    // With every scope: the handler runs, and sees the user.
    let writer = TestSession::new("user-0001").scopes(["openid", "orders:read", "orders:write"]);
    let ok = get_as(&app, "/orders", API, &writer).await;
    assert_eq!(
        (ok.status, ok.body.as_str()),
        (200, "the orders of user-0001")
    );
    let ok = get_as(&app, "/orders", NAVIGATE, &writer).await;
    assert_eq!(ok.status, 200);
    let posted = send(
        &app,
        Method::POST,
        "/orders",
        API,
        Some(&writer),
        Some(r#"{"item":"tea"}"#),
    )
    .await;
    assert_eq!((posted.status, posted.body.as_str()), (200, "ordered tea"));

    // No scopes required: any signed-in user.
    let me = get_as(&app, "/me", NAVIGATE, &TestSession::new("user-0002")).await;
    assert_eq!((me.status, me.body.as_str()), (200, "hello user-0002"));
    assert_provider_untouched(&app);
}

#[tokio::test]
async fn bearer_tokens_get_rfc_6750_answers() {
    let app = start().await;
    let bearer = |scopes: &[&str]| support::bearer(&app.provider, scopes);
    let get = |authorization: String| {
        let app = &app;
        async move {
            let headers = [("authorization", authorization.as_str())];
            send(app, Method::GET, "/orders", &headers, None, None).await
        }
    };

    // A caller that sends its own credentials is an API caller, even asking for HTML.
    let reader = get(bearer(&["openid", "orders:read"])).await;
    assert_eq!(reader.status, 403);
    assert_eq!(
        reader.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="orders:read orders:write""#)
    );
    let writer = get(bearer(&["openid", "orders:read", "orders:write"])).await;
    assert_eq!(
        (writer.status, writer.body.as_str()),
        (200, "the orders of user-0003")
    );
    let forged = get("Bearer not.a.token".to_owned()).await;
    assert_eq!(forged.status, 401);
    assert!(
        forged
            .header("www-authenticate")
            .unwrap()
            .starts_with(r#"Bearer error="invalid_token""#)
    );
}

#[tokio::test]
async fn any_scope_needs_one_of_them() {
    let app = start().await;
    let nobody = TestSession::new("user-0001");
    let api = get_as(&app, "/refunds", API, &nobody).await;
    assert_eq!(api.status, 403);
    assert_eq!(
        api.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="admin support""#)
    );
    assert_eq!(
        json(&api)["error_description"],
        "requires one of the scopes admin, support"
    );
    assert_eq!(
        get_as(&app, "/refunds", NAVIGATE, &nobody).await.status,
        403
    );

    for scope in ["admin", "support"] {
        let session = TestSession::new("user-0001").scopes(["openid", scope]);
        let ok = get_as(&app, "/refunds", API, &session).await;
        assert_eq!((ok.status, ok.body.as_str()), (200, "refunds"), "{scope}");
    }
    assert_provider_untouched(&app);
}

#[tokio::test]
async fn checks_read_standard_and_custom_claims() {
    let app = start().await;

    // `identity_verified_level` through the typed standard claims.
    let level = |n: u8| TestSession::new("user-0001").claim("identity_verified_level", n);
    let refused = get_as(&app, "/payouts", API, &level(1)).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope""#),
        "a failed check names no scope"
    );
    assert_eq!(
        get_as(&app, "/payouts", NAVIGATE, &level(1)).await.status,
        403
    );
    assert_eq!(
        get_as(&app, "/payouts", API, &TestSession::new("user-0001"))
            .await
            .status,
        403,
        "no level at all"
    );
    let ok = get_as(&app, "/payouts", API, &level(2)).await;
    assert_eq!(
        (ok.status, ok.body.as_str()),
        (200, "payouts for user-0001")
    );

    // A custom claim, checked with `claim()` and read typed through `LogiUser<TeamClaims>`.
    let member = |team: &str| {
        TestSession::new("user-0001")
            .scopes(["openid", "acme:team"])
            .claim("acme:team", team)
            .claim("identity_verified_level", 3)
    };
    assert_eq!(get_as(&app, "/team", API, &member("")).await.status, 403);
    let ok = get_as(&app, "/team", API, &member("payments")).await;
    assert_eq!(
        (ok.status, ok.body.as_str()),
        (200, "team payments level 3")
    );
    // The scopes come first: without `acme:team` granted, the check does not help.
    let unscoped = TestSession::new("user-0001").claim("acme:team", "payments");
    let refused = get_as(&app, "/team", API, &unscoped).await;
    assert_eq!(
        refused.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="acme:team""#)
    );

    // Claims that do not fit the handler's type are the app's bug: 500 naming the type.
    let broken = get_as(&app, "/strict", API, &TestSession::new("user-0001")).await;
    assert_eq!(broken.status, 500);
    assert!(broken.body.contains("StrictClaims"), "{}", broken.body);
    assert_provider_untouched(&app);
}

#[tokio::test]
async fn debug_handler_works_above_and_below() {
    let app = start().await;
    let reader = TestSession::new("user-0001").scopes(["openid", "orders:read"]);
    for (path, body) in [
        ("/debug/above", "debug above user-0001"),
        ("/debug/below", "debug below user-0001"),
    ] {
        assert_eq!(
            send(&app, Method::GET, path, API, None, None).await.status,
            401
        );
        let denied = get_as(&app, path, API, &TestSession::new("user-0001")).await;
        assert_eq!(denied.status, 403, "{path}");
        let ok = get_as(&app, path, API, &reader).await;
        assert_eq!((ok.status, ok.body.as_str()), (200, body));
    }
}

#[tokio::test]
async fn a_session_that_cannot_be_renewed_is_503() {
    let app = start().await;
    app.provider.set_fault(Endpoint::Token, Fault::Status(503));
    let expired = TestSession::new("user-0001")
        .scopes(["openid", "orders:read", "orders:write"])
        .access_token("expired-token", Duration::ZERO)
        .refresh_token("refresh-token");

    let api = get_as(&app, "/orders", API, &expired).await;
    assert_eq!(api.status, 503, "{}", api.body);
    assert!(api.header("retry-after").is_some());
    assert_eq!(json(&api)["error"], "temporarily_unavailable");
    let page = get_as(&app, "/orders", NAVIGATE, &expired).await;
    assert_eq!(page.status, 503);
    assert!(page.body.contains("Temporarily unavailable"));
    assert_eq!(app.provider.calls(Endpoint::Token), 2, "one refresh each");
}

#[tokio::test]
async fn without_the_layer_it_is_500_naming_it() {
    use tower::ServiceExt as _;

    let app = Router::new().route("/orders", get(orders));
    let response = app
        .oneshot(
            http::Request::get("/orders")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("`LogiLayer`"), "{body}");
    assert!(body.contains("#[logi::protected]"), "{body}");
}

#[tokio::test]
async fn grpc_callers_get_grpc_statuses() {
    let app = start().await;
    let grpc = &[("content-type", "application/grpc")];
    let signed_out = send(&app, Method::POST, "/orders", grpc, None, None).await;
    assert_eq!(signed_out.header("grpc-status"), Some("16"));
    let reader = TestSession::new("user-0001").scopes(["openid", "orders:read"]);
    let denied = send(&app, Method::POST, "/orders", grpc, Some(&reader), None).await;
    assert_eq!(denied.header("grpc-status"), Some("7"));
}
