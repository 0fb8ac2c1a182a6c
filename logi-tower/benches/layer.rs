//! The cost of `LogiLayer` on a signed-in request, in-process through `oneshot`, next to: the
//! same router bare; the layer around a bare service that only takes the user (the session load,
//! through the public API, without a router); and `tower-sessions` with its memory store loading
//! the same data. Also the refresh paths: a session that needs no refresh,
//! and one served from a shared refresh's outcome (provider time excluded).

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts as _;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use logi::testing::{TestClient, TestProvider};
use logi::{LogiLayer, LogiUser, SessionKeys};
use serde_json::{Value, json};
use tower::{Layer as _, ServiceExt as _};
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

#[path = "support/ready.rs"]
mod ready;
#[path = "support/session.rs"]
mod session;

use ready::ready;
use session::{OTHER_COOKIES, REFRESH_TOKEN, SCOPES, realistic_session, request};

struct Fixture {
    _runtime: tokio::runtime::Runtime,
    _provider: TestProvider,
    logi: LogiLayer,
    cookie: String,
    due_cookie: String,
    user_data: Value,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (provider, logi) = runtime.block_on(async {
        let provider = TestProvider::start().await.unwrap();
        let logi = LogiLayer::builder()
            .issuer(provider.issuer())
            .client_id(TestClient::DEFAULT_CLIENT_ID)
            .client_secret(TestClient::DEFAULT_CLIENT_SECRET)
            .redirect_uri("http://localhost:3000/auth/callback")
            .session_keys(
                SessionKeys::from_base64_list("YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktYmVuY2g=")
                    .unwrap(),
            )
            .refresh_successor_window(Duration::from_secs(3600))
            .build()
            .await
            .unwrap();
        (provider, logi)
    });
    let (session, access_token, id_token) = realistic_session(&provider);
    let cookie = format!("{OTHER_COOKIES}; {}", session.cookie_header(&logi));

    // A session whose access token has expired, with a refresh token the provider honours: the
    // first request refreshes for real; later ones with the same cookie reuse that outcome.
    let refresh_token = runtime.block_on(sign_in_refresh_token(&provider));
    let due = session
        .clone()
        .access_token(access_token.clone(), Duration::ZERO)
        .refresh_token(refresh_token);
    let due_cookie = format!("{OTHER_COOKIES}; {}", due.cookie_header(&logi));
    let app = Router::new()
        .route("/dashboard", get(handler))
        .layer(logi.clone());
    let warmed = runtime.block_on(app.oneshot(request(&due_cookie))).unwrap();
    assert_eq!(warmed.status(), 200);
    assert_eq!(
        provider.calls(logi::testing::Endpoint::Token),
        2,
        "one sign-in, one refresh"
    );

    let user_data = json!({
        "sub": "user-0001", "email": "ada@example.com", "email_verified": true, "name": "Ada Lovelace",
        "preferred_name": "Ada", "scope": SCOPES.join(" "), "at": access_token.clone(), "idt": id_token,
        "rt": REFRESH_TOKEN,
    });
    Fixture {
        _runtime: runtime,
        _provider: provider,
        logi,
        cookie,
        due_cookie,
        user_data,
    }
}

/// A real refresh token from a code flow at the provider.
async fn sign_in_refresh_token(provider: &TestProvider) -> String {
    use aws_lc_rs::digest;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let verifier = "bench-verifier-bench-verifier-bench-verifier-0123";
    let challenge = b64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
    let redirect = TestClient::DEFAULT_REDIRECT_URIS[0];
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={redirect}&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256",
        provider.base_url(),
        TestClient::DEFAULT_CLIENT_ID
    );
    let location = http.get(authorize).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let body = http
        .post(format!("{}/oauth/token", provider.base_url()))
        .basic_auth(
            TestClient::DEFAULT_CLIENT_ID,
            Some(TestClient::DEFAULT_CLIENT_SECRET),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let tokens: Value = serde_json::from_slice(&body).unwrap();
    tokens["refresh_token"].as_str().unwrap().to_owned()
}

async fn handler(user: LogiUser) -> String {
    user.sub().to_owned()
}

async fn bare_handler() -> &'static str {
    "user-0001"
}

async fn tower_sessions_handler(session: Session) -> String {
    let user: Value = session.get("user").await.unwrap().unwrap();
    user["sub"].as_str().unwrap().to_owned()
}

fn signed_in_request(c: &mut Criterion) {
    let f = fixture();

    let bare = Router::new().route("/dashboard", get(bare_handler));
    let with_logi = Router::new()
        .route("/dashboard", get(handler))
        .layer(f.logi.clone());
    // The layer around a service that only takes the user: the layer's session load (cookie
    // header parse, base64 decode, AES-256-GCM open, JSON parse, expiry checks), attaching the
    // user and extracting it, without a router.
    let layer_only = f
        .logi
        .clone()
        .layer(tower::service_fn(|request: Request<Body>| async move {
            let (mut parts, _) = request.into_parts();
            let status = match <LogiUser>::from_request_parts(&mut parts, &()).await {
                Ok(_) => StatusCode::OK,
                Err(_) => StatusCode::UNAUTHORIZED,
            };
            let mut response = Response::new(Body::empty());
            *response.status_mut() = status;
            Ok::<_, Infallible>(response)
        }));

    // tower-sessions: the same user data in its memory store, loaded on every request.
    let store = MemoryStore::default();
    let ts = Router::new()
        .route("/dashboard", get(tower_sessions_handler))
        .route(
            "/seed",
            get({
                let data = f.user_data.clone();
                move |session: Session| async move { session.insert("user", data).await.unwrap() }
            }),
        )
        .layer(SessionManagerLayer::new(store).with_secure(true));
    let seeded = ready(
        ts.clone()
            .oneshot(Request::get("/seed").body(Body::empty()).unwrap()),
    )
    .unwrap();
    let id_cookie = seeded.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let ts_cookie = format!("{OTHER_COOKIES}; {id_cookie}");

    for (name, response) in [
        ("bare", ready(bare.clone().oneshot(request(&f.cookie)))),
        ("logi", ready(with_logi.clone().oneshot(request(&f.cookie)))),
        (
            "tower-sessions",
            ready(ts.clone().oneshot(request(&ts_cookie))),
        ),
        (
            "logi, refresh reused",
            ready(with_logi.clone().oneshot(request(&f.due_cookie))),
        ),
    ] {
        assert_eq!(response.unwrap().status(), 200, "{name}");
    }

    let response = ready(layer_only.clone().oneshot(request(&f.cookie))).unwrap();
    assert_eq!(response.status(), 200, "logi around a bare service");

    let mut group = c.benchmark_group("signed_in_request");
    group.bench_function("bare_router", |b| {
        b.iter(|| ready(bare.clone().oneshot(request(black_box(&f.cookie)))).unwrap());
    });
    group.bench_function("logi_layer", |b| {
        b.iter(|| ready(with_logi.clone().oneshot(request(black_box(&f.cookie)))).unwrap());
    });
    group.bench_function("layer_around_bare_service", |b| {
        b.iter(|| ready(layer_only.clone().oneshot(request(black_box(&f.cookie)))).unwrap());
    });
    group.bench_function("tower_sessions_memory_store", |b| {
        b.iter(|| ready(ts.clone().oneshot(request(black_box(&ts_cookie)))).unwrap());
    });
    group.finish();

    let mut group = c.benchmark_group("refresh");
    group.bench_function("session_needs_no_refresh", |b| {
        b.iter(|| ready(with_logi.clone().oneshot(request(black_box(&f.cookie)))).unwrap());
    });
    group.bench_function("served_from_shared_refresh", |b| {
        b.iter(|| ready(with_logi.clone().oneshot(request(black_box(&f.due_cookie)))).unwrap());
    });
    group.finish();
}

criterion_group!(benches, signed_in_request);
criterion_main!(benches);
