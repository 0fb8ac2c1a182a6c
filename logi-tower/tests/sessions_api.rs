//! `LogiSessions`, the app's handle on its users' sessions, over real HTTP: an app whose own
//! routes list the signed-in user's sessions ("your devices"), end one, and end all, with
//! sessions in a `MemoryStore`, in Redis (a real `redis-server`), and in sealed cookies.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::collections::HashMap;

use axum::extract::Form;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use logi::store::SessionStore;
use logi::testing::TestProvider;
use logi::{LogiLayer, LogiSessions, LogiUser, SessionsError, SessionsErrorKind};
use serde_json::{Value, json};
use support::{App, Browser, start_app};

const USER: &str = "user-0001";

type Refusal = (StatusCode, String);

fn refusal(error: &SessionsError) -> Refusal {
    let status = match error.kind() {
        SessionsErrorKind::CookieSessions => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, error.to_string())
}

/// The test app's routes plus a "your devices" page and its actions.
fn routes(logi: &LogiLayer) -> Router {
    support::routes(logi)
        .route("/devices", get(devices))
        .route("/devices/end", post(end_one))
        .route("/devices/end-all", post(end_all))
}

async fn devices(user: LogiUser, sessions: LogiSessions) -> Result<Json<Value>, Refusal> {
    let list = sessions.list(user.sub()).await.map_err(|e| refusal(&e))?;
    Ok(Json(
        list.iter()
            .map(|s| {
                json!({
                    "id": s.id().as_str(), "current": s.is_current(), "created": s.created_at(),
                    "last_seen": s.last_seen(), "expires_at": s.expires_at(),
                })
            })
            .collect(),
    ))
}

/// Ends one of the signed-in user's own sessions.
async fn end_one(
    user: LogiUser,
    sessions: LogiSessions,
    Form(form): Form<HashMap<String, String>>,
) -> Result<&'static str, Refusal> {
    let own = sessions.list(user.sub()).await.map_err(|e| refusal(&e))?;
    let Some(session) = own
        .iter()
        .find(|s| Some(s.id().as_str()) == form.get("id").map(String::as_str))
    else {
        return Err((StatusCode::NOT_FOUND, "not one of yours".to_owned()));
    };
    let ended = sessions.end(session.id()).await.map_err(|e| refusal(&e))?;
    Ok(if ended { "ended" } else { "already gone" })
}

async fn end_all(user: LogiUser, sessions: LogiSessions) -> Result<String, Refusal> {
    let ended = sessions
        .end_all(user.sub())
        .await
        .map_err(|e| refusal(&e))?;
    Ok(format!("{ended:?}"))
}

async fn start(configure: impl FnOnce(logi::LogiLayerBuilder) -> logi::LogiLayerBuilder) -> App {
    start_app(TestProvider::builder(), configure, routes).await
}

async fn get_json(browser: &mut Browser, url: &str) -> (u16, Value) {
    let reply = browser.fetch_json(url).await;
    (
        reply.status,
        serde_json::from_str(&reply.body).unwrap_or(Value::Null),
    )
}

async fn post_form(browser: &mut Browser, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request = browser
        .http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    let cookies: Vec<String> = browser
        .cookies
        .iter()
        .map(|(k, (v, _))| format!("{k}={v}"))
        .collect();
    request = request.header("cookie", cookies.join("; "));
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Two browsers of one user: each sees both sessions and which one is its own; one ends the
/// other; then "sign out everywhere" ends the rest. The handle from the layer sees the same.
async fn devices_page<S: SessionStore>(store: S) {
    let app = start(|b| b.session_store(store)).await;
    let (phone, laptop) = (&mut Browser::new(), &mut Browser::new());
    phone.sign_in(&app, "/").await;
    laptop.sign_in(&app, "/").await;
    let devices = format!("{}/devices", app.origin);

    let (status, listed) = get_json(phone, &devices).await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "the phone's own session is marked");
    for session in &listed {
        let (created, expires) = (
            session["created"].as_i64().unwrap(),
            session["expires_at"].as_i64().unwrap(),
        );
        assert!(created > 1_700_000_000 && expires > created, "{session}");
        assert!(session["last_seen"].as_i64().unwrap() >= created);
    }
    let laptops = listed.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, from_laptop) = get_json(laptop, &devices).await;
    let laptop_current = from_laptop
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .clone();
    assert_eq!(
        laptop_current,
        laptops.as_str(),
        "each browser sees its own as current"
    );

    // The phone ends the laptop's session.
    let (status, body) = post_form(
        phone,
        &format!("{}/devices/end", app.origin),
        &[("id", &laptops)],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "ended"));
    let dashboard = format!("{}/dashboard", app.origin);
    assert_eq!(
        laptop.status_of(&dashboard).await,
        302,
        "the laptop is signed out"
    );
    assert_eq!(phone.status_of(&dashboard).await, 200);
    let remaining = app.logi.sessions().list(USER).await.unwrap();
    assert_eq!(remaining.len(), 1);
    assert!(
        !remaining[0].is_current(),
        "a handle from the layer has no current session"
    );
    let (status, _) = post_form(
        phone,
        &format!("{}/devices/end", app.origin),
        &[("id", &laptops)],
    )
    .await;
    assert_eq!(status, 404, "an ended session is not listed any more");

    // Sign out everywhere.
    laptop.sign_in(&app, "/").await;
    let (status, body) = post_form(phone, &format!("{}/devices/end-all", app.origin), &[]).await;
    assert_eq!((status, body.as_str()), (200, "Some(2)"));
    for browser in [phone, laptop] {
        assert_eq!(browser.status_of(&dashboard).await, 302);
    }
    assert!(app.logi.sessions().list(USER).await.unwrap().is_empty());
    let ended = app.logi.sessions().end_all(USER).await.unwrap();
    assert_eq!(ended, Some(0));
}

#[tokio::test]
async fn a_devices_page_on_a_memory_store() {
    devices_page(logi::store::MemoryStore::new()).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_devices_page_on_redis() {
    let Some(server) = support::redis_server::RedisServer::start("the sessions API on Redis")
    else {
        return;
    };
    devices_page(logi::store::RedisStore::connect(&server.url).await.unwrap()).await;
}

/// Sealed cookie sessions: no list, no ids; ending all of a user's sessions signs out every
/// browser signed in until then, and signing in again works.
#[tokio::test]
async fn cookie_sessions_end_through_the_denylist() {
    let app = start(|b| b).await;
    let (phone, laptop) = (&mut Browser::new(), &mut Browser::new());
    phone.sign_in(&app, "/").await;
    laptop.sign_in(&app, "/").await;
    let (status, _) = get_json(phone, &format!("{}/devices", app.origin)).await;
    assert_eq!(status, 501, "sealed cookie sessions cannot be listed");
    let error = app.logi.sessions().list(USER).await.unwrap_err();
    assert_eq!(error.kind(), SessionsErrorKind::CookieSessions);
    let error = app
        .logi
        .sessions()
        .end(&logi::store::SessionId::from_stored("x"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), SessionsErrorKind::CookieSessions);

    let (status, body) = post_form(phone, &format!("{}/devices/end-all", app.origin), &[]).await;
    assert_eq!((status, body.as_str()), (200, "None"));
    let dashboard = format!("{}/dashboard", app.origin);
    for browser in [&mut *phone, &mut *laptop] {
        assert_eq!(browser.status_of(&dashboard).await, 302);
    }
    // A sign-out ends the sessions created up to its millisecond; signing in again right after
    // (in the same second) works.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    phone.sign_in(&app, "/").await;
    assert_eq!(phone.status_of(&dashboard).await, 200, "signed in again");
}

/// A layer that only accepts bearer tokens has no sessions to end, and says so.
#[tokio::test]
async fn an_api_layer_has_no_sessions() {
    let provider = TestProvider::start().await.unwrap();
    let logi = LogiLayer::builder()
        .issuer(provider.issuer())
        .audience("logi_api")
        .build()
        .await
        .unwrap();
    let error = logi.sessions().end_all(USER).await.unwrap_err();
    assert_eq!(error.kind(), SessionsErrorKind::NoSignIn);
    assert!(error.to_string().contains("does not sign users in"));
}

/// The extractor without the layer is a 500 naming the layer.
#[tokio::test]
async fn the_extractor_needs_the_layer() {
    let app: Router = Router::new().route("/", get(|_: LogiSessions| async { "unreachable" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let reply = reqwest::get(format!("http://{addr}/")).await.unwrap();
    assert_eq!(reply.status(), 500);
    assert!(reply.text().await.unwrap().contains("LogiLayer"));
}
