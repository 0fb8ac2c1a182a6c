//! First-login completion over real HTTP, against the in-process logi provider: the app's
//! `on_sign_in` hook, the pending session every extractor treats as signed out, the app's
//! completion form (`PendingSignup`), and completion, with cookie and server-side sessions.

#![cfg(all(feature = "testing", feature = "axum", feature = "macros"))]

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use logi::first_login::{PendingSignup, SignIn, SignInDecision};
use logi::store::MemoryStore;
use logi::testing::{Endpoint, TestProvider, TestProviderBuilder, TestUser};
use logi::{LogiLayer, LogiLayerBuilder, LogiUser};
use reqwest::Method;
use support::{App, Browser, start_app};

/// The app's own user records: members keyed by (issuer, sub), and the hook's calls.
#[derive(Clone, Default)]
struct Directory {
    members: Arc<Mutex<HashMap<(String, String), Member>>>,
    hook_calls: Arc<AtomicUsize>,
}

#[derive(Clone, Debug, PartialEq)]
struct Member {
    email: Option<String>,
    display_name: String,
}

impl Directory {
    fn add(&self, iss: &str, sub: &str, email: Option<&str>, display_name: &str) {
        self.members.lock().unwrap().insert(
            (iss.to_owned(), sub.to_owned()),
            Member {
                email: email.map(str::to_owned),
                display_name: display_name.to_owned(),
            },
        );
    }

    fn get(&self, iss: &str, sub: &str) -> Option<Member> {
        let key = (iss.to_owned(), sub.to_owned());
        self.members.lock().unwrap().get(&key).cloned()
    }

    fn len(&self) -> usize {
        self.members.lock().unwrap().len()
    }

    /// The app's hook: by (issuer, sub); then by a verified email, linking this sub to the
    /// member found; else the completion form. It creates nothing.
    async fn on_sign_in(self, user: SignIn) -> Result<SignInDecision, std::io::Error> {
        self.hook_calls.fetch_add(1, Ordering::SeqCst);
        if self.get(user.issuer(), user.sub()).is_some() {
            return Ok(SignInDecision::Continue);
        }
        if user.email_verified()
            && let Some(email) = user.email()
        {
            let mut members = self.members.lock().unwrap();
            let found = members
                .iter()
                .find(|((iss, _), m)| iss == user.issuer() && m.email.as_deref() == Some(email))
                .map(|(_, m)| m.clone());
            if let Some(member) = found {
                members.insert((user.issuer().to_owned(), user.sub().to_owned()), member);
                return Ok(SignInDecision::Continue);
            }
        }
        Ok(SignInDecision::needs_completion("/welcome?step=1"))
    }
}

fn with_hook(directory: &Directory) -> impl FnOnce(LogiLayerBuilder) -> LogiLayerBuilder {
    let directory = directory.clone();
    move |b| b.on_sign_in(move |user| directory.clone().on_sign_in(user))
}

/// The shared test routes, plus a `#[logi::protected]` page and the completion form.
fn routes(directory: &Directory) -> impl FnOnce(&LogiLayer) -> Router {
    let directory = directory.clone();
    move |logi| {
        support::routes(logi).merge(
            Router::new()
                .route("/protected", get(protected))
                .route("/welcome", get(welcome).post(create_account))
                .with_state(directory),
        )
    }
}

#[logi::protected]
async fn protected(user: LogiUser) -> String {
    format!("protected {}", user.sub())
}

async fn welcome(pending: PendingSignup) -> String {
    format!(
        "welcome sub={} email={} verified={} name={} then={}",
        pending.sub(),
        pending.email().unwrap_or("-"),
        pending.email_verified(),
        pending.name().unwrap_or("-"),
        pending.return_to()
    )
}

async fn create_account(State(directory): State<Directory>, pending: PendingSignup) -> Response {
    // The account first (the extractor has refused cross-site requests), then completion.
    let name = pending.name().unwrap_or("new member");
    directory.add(pending.issuer(), pending.sub(), pending.email(), name);
    pending.complete().await.into_response()
}

async fn start(directory: &Directory) -> App {
    start_app(
        TestProvider::builder(),
        with_hook(directory),
        routes(directory),
    )
    .await
}

const SAME_ORIGIN: &str = "same-origin";

/// A same-origin form POST to the completion form.
async fn submit(browser: &mut Browser, app: &App) -> support::Reply {
    browser
        .send(
            Method::POST,
            &format!("{}/welcome", app.origin),
            &[
                ("origin", &app.origin),
                ("sec-fetch-site", SAME_ORIGIN),
                ("sec-fetch-mode", "navigate"),
            ],
        )
        .await
}

async fn get_json(browser: &mut Browser, url: &str) -> support::Reply {
    browser.fetch_json(url).await
}

#[tokio::test]
async fn a_new_user_is_signed_out_until_the_app_completes_the_sign_up() {
    let directory = Directory::default();
    let app = start(&directory).await;
    let mut browser = Browser::new();
    let url = |path: &str| format!("{}{path}", app.origin);

    // The hook does not know the user: the callback sends the browser to the form, with a
    // session cookie.
    let reply = browser.sign_in(&app, "/dashboard?tab=1").await;
    assert_eq!(
        (reply.status, reply.location()),
        (302, "/welcome?step=1"),
        "{}",
        reply.body
    );
    assert!(browser.cookies.contains_key("__Host-logi.session"));
    assert_eq!(directory.hook_calls.load(Ordering::SeqCst), 1);
    assert_eq!(directory.len(), 0, "nothing was created for the new user");

    // Signed out everywhere; navigations to protected pages lead to the form.
    for path in ["/dashboard", "/protected", "/api/data", "/token"] {
        let page = browser.navigate(&url(path)).await;
        assert_eq!(
            (page.status, page.location()),
            (302, "/welcome?step=1"),
            "{path}"
        );
    }
    for path in ["/dashboard", "/protected", "/api/data", "/token"] {
        let api = get_json(&mut browser, &url(path)).await;
        assert_eq!(api.status, 401, "{path}: {}", api.body);
        assert_eq!(api.header("www-authenticate"), Some("Bearer"), "{path}");
    }
    assert_eq!(browser.body_of(&url("/maybe")).await, "hello stranger");
    let me = get_json(&mut browser, &url("/auth/me")).await;
    assert_eq!(me.status, 401);
    let me: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["pending"], true);
    assert_eq!(me["completion"], "/welcome?step=1");
    assert!(me.get("sub").is_none(), "{me}");
    assert_eq!(app.provider.calls(Endpoint::Token), 1, "nothing refreshed");

    // The form sees who signed in, and where they were going.
    let form = browser.navigate(&url("/welcome?step=1")).await;
    assert_eq!(
        (form.status, form.body.as_str()),
        (
            200,
            "welcome sub=user-0001 email=ada@example.com verified=true name=Ada Lovelace then=/dashboard?tab=1"
        )
    );

    // Completion: a 303 to where the user was going, with a signed-in session.
    let done = submit(&mut browser, &app).await;
    assert_eq!((done.status, done.location()), (303, "/dashboard?tab=1"));
    assert_eq!(done.header("cache-control"), Some("no-store"));
    assert!(
        done.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-logi.session=") && !c.contains("Max-Age=0"))
    );
    assert_eq!(
        directory.get(app.provider.issuer(), "user-0001"),
        Some(Member {
            email: Some("ada@example.com".into()),
            display_name: "Ada Lovelace".into()
        })
    );
    let page = browser.follow(&done, &app.origin).await;
    assert_eq!(
        (page.status, page.body.as_str()),
        (200, "sub=user-0001 email=ada@example.com name=Ada Lovelace")
    );
    for (path, body) in [
        ("/protected", "protected user-0001"),
        ("/api/data", "secret data"),
        ("/maybe", "hello user-0001"),
    ] {
        let page = browser.navigate(&url(path)).await;
        assert_eq!((page.status, page.body.as_str()), (200, body), "{path}");
    }
    assert_eq!(get_json(&mut browser, &url("/auth/me")).await.status, 200);

    // The form is done with: a signed-in browser is sent home, a second submission too.
    let again = browser.navigate(&url("/welcome")).await;
    assert_eq!((again.status, again.location()), (303, "/"));
    let again = submit(&mut browser, &app).await;
    assert_eq!((again.status, again.location()), (303, "/"));

    // The next sign-in finds the member: straight in, with no form.
    let mut other = Browser::new();
    let reply = other.sign_in(&app, "/dashboard").await;
    assert_eq!((reply.status, reply.location()), (302, "/dashboard"));
    assert_eq!(other.status_of(&url("/dashboard")).await, 200);
    assert_eq!(directory.hook_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_known_user_goes_straight_in_and_the_form_is_not_for_them() {
    let directory = Directory::default();
    let app = start(&directory).await;
    directory.add(app.provider.issuer(), "user-0001", None, "Ada");
    let mut browser = Browser::new();
    let reply = browser.sign_in(&app, "/protected").await;
    assert_eq!((reply.status, reply.location()), (302, "/protected"));
    let page = browser.follow(&reply, &app.origin).await;
    assert_eq!(
        (page.status, page.body.as_str()),
        (200, "protected user-0001")
    );
    let api = get_json(&mut browser, &format!("{}/welcome", app.origin)).await;
    assert_eq!(api.status, 409, "{}", api.body);
    assert!(api.body.contains("already_signed_in"), "{}", api.body);

    // Signed out, the form sends a browser to sign in, as any page needing a user does.
    let stranger = Browser::new()
        .navigate(&format!("{}/welcome", app.origin))
        .await;
    assert_eq!(
        (stranger.status, stranger.location()),
        (302, "/auth/login?return_to=%2Fwelcome")
    );
}

#[tokio::test]
async fn a_verified_email_finds_the_member_and_an_unverified_one_does_not() {
    let issuer_of = |app: &App| app.provider.issuer().to_owned();

    // The member signed up under another sub, with Ada's (verified) address.
    let directory = Directory::default();
    let app = start(&directory).await;
    directory.add(&issuer_of(&app), "old-sub", Some("ada@example.com"), "Ada");
    let mut browser = Browser::new();
    let reply = browser.sign_in(&app, "/dashboard").await;
    assert_eq!((reply.status, reply.location()), (302, "/dashboard"));
    assert_eq!(
        directory
            .get(&issuer_of(&app), "user-0001")
            .map(|m| m.display_name),
        Some("Ada".into()),
        "linked to the member found by email"
    );

    // The same address, unverified, is no proof: the form, and no link.
    let unverified = TestUser {
        email: Some("ada@example.com".into()),
        email_verified: false,
        ..TestUser::new("user-0002")
    };
    let directory = Directory::default();
    let app = start_app(
        TestProvider::builder().user(unverified),
        with_hook(&directory),
        routes(&directory),
    )
    .await;
    directory.add(&issuer_of(&app), "old-sub", Some("ada@example.com"), "Ada");
    let mut browser = Browser::new();
    let reply = browser.sign_in(&app, "/dashboard").await;
    assert_eq!((reply.status, reply.location()), (302, "/welcome?step=1"));
    assert_eq!(directory.get(&issuer_of(&app), "user-0002"), None);
    let form = browser.navigate(&format!("{}/welcome", app.origin)).await;
    assert!(form.body.contains("verified=false"), "{}", form.body);
}

async fn buggy(_: SignIn) -> Result<SignInDecision, std::io::Error> {
    panic!("a bug in the hook")
}

#[tokio::test]
async fn a_failing_hook_signs_nobody_in() {
    type Hook = fn(LogiLayerBuilder) -> LogiLayerBuilder;
    let cases: [(Hook, u16); 3] = [
        (
            |b| b.on_sign_in(|_| async { Err::<SignInDecision, _>("the user database is down") }),
            503,
        ),
        (|b| b.on_sign_in(buggy), 500),
        (
            |b| {
                b.on_sign_in(|_| async {
                    Ok::<_, std::io::Error>(SignInDecision::needs_completion(
                        "//evil.example/welcome",
                    ))
                })
            },
            500,
        ),
    ];
    for (hook, status) in cases {
        let app = start_app(TestProvider::builder(), hook, support::routes).await;
        let mut browser = Browser::new();
        let reply = browser.sign_in(&app, "/dashboard").await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert!(reply.body.contains("Sign-in failed"), "{}", reply.body);
        assert!(
            !reply.body.contains("database"),
            "the hook's error stays in the log"
        );
        assert!(!browser.cookies.contains_key("__Host-logi.session"));
        assert!(reply.header("location").is_none());
        assert_eq!(
            app.provider.calls(Endpoint::Revoke),
            1,
            "the refused sign-in's refresh token is revoked"
        );
        let page = browser.navigate(&format!("{}/dashboard", app.origin)).await;
        assert_eq!(page.status, 302);
        assert!(page.location().starts_with("/auth/login"));
    }
}

#[tokio::test]
async fn completion_is_refused_cross_site_and_by_get() {
    let directory = Directory::default();
    let app = start(&directory).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/dashboard").await;
    let welcome = format!("{}/welcome", app.origin);
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("sec-fetch-site", "same-site")][..],
        &[("origin", "https://evil.example")][..],
    ] {
        let reply = browser.send(Method::POST, &welcome, headers).await;
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.body);
        assert!(reply.set_cookies().is_empty());
    }
    assert_eq!(directory.len(), 0, "the app's handler created nothing");
    let still = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!((still.status, still.location()), (302, "/welcome?step=1"));

    // A handler that completes on GET is refused too: a link cannot sign anyone in.
    let app = start_app(TestProvider::builder(), with_hook(&directory), |logi| {
        support::routes(logi).route(
            "/welcome",
            get(|pending: PendingSignup| async move {
                pending.complete().await.inspect_err(|refused| {
                    assert_eq!(refused.status(), 405);
                })
            }),
        )
    })
    .await;
    let mut browser = Browser::new();
    let reply = browser.sign_in(&app, "/dashboard").await;
    let form = browser.follow(&reply, &app.origin).await;
    assert_eq!(form.status, 405);
    assert_eq!(form.header("allow"), Some("POST"));
    let still = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(still.location(), "/welcome?step=1");
}

#[tokio::test]
async fn completion_without_sec_fetch_site_or_origin_is_refused() {
    let directory = Directory::default();
    let app = start(&directory).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/dashboard").await;
    // A POST that says neither where it comes from (`Sec-Fetch-Site`) nor its origin: not the
    // app's own form in any browser of today, and indistinguishable from a forged one.
    for headers in [&[][..], &[("sec-fetch-mode", "navigate")][..]] {
        let reply = browser
            .send(Method::POST, &format!("{}/welcome", app.origin), headers)
            .await;
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.body);
        assert!(reply.set_cookies().is_empty());
    }
    assert_eq!(directory.len(), 0, "the app's handler created nothing");
    let still = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(
        (still.status, still.location()),
        (302, "/welcome?step=1"),
        "the sign-in is still pending"
    );
    // The app's own form still completes it.
    let done = submit(&mut browser, &app).await;
    assert_eq!(done.status, 303, "{}", done.body);
}

#[tokio::test]
async fn a_pending_session_in_a_server_side_store_completes_and_can_be_abandoned() {
    let directory = Directory::default();
    let store = MemoryStore::new();
    // Two submissions that both read the pending session before either completes it (a
    // double click): the barrier holds each until both have it.
    let both_read = Arc::new(tokio::sync::Barrier::new(2));
    let app = start_app(
        TestProvider::builder(),
        {
            let store = store.clone();
            let hook = with_hook(&directory);
            move |b| hook(b).session_store(store)
        },
        {
            let directory = directory.clone();
            move |logi| {
                support::routes(logi).route(
                    "/welcome",
                    get(welcome).post(move |pending: PendingSignup| async move {
                        directory.add(pending.issuer(), pending.sub(), None, "Ada");
                        both_read.wait().await;
                        pending.complete().await.into_response()
                    }),
                )
            }
        },
    )
    .await;
    let url = |path: &str| format!("{}{path}", app.origin);

    let mut browser = Browser::new();
    let reply = browser.sign_in(&app, "/dashboard").await;
    assert_eq!(reply.location(), "/welcome?step=1");
    assert_eq!(store.len(), 1);
    assert_eq!(browser.status_of(&url("/dashboard")).await, 302);
    assert!(
        browser
            .body_of(&url("/welcome"))
            .await
            .starts_with("welcome sub=user-0001")
    );

    // One completion writes the session; the other finds it written and redirects without a
    // cookie.
    let mut twin = Browser {
        http: browser.http.clone(),
        cookies: browser.cookies.clone(),
    };
    let (first, second) = tokio::join!(submit(&mut browser, &app), submit(&mut twin, &app));
    for done in [&first, &second] {
        assert_eq!(
            (done.status, done.location()),
            (303, "/dashboard"),
            "{}",
            done.body
        );
    }
    assert_eq!(
        first.set_cookies().len() + second.set_cookies().len(),
        1,
        "exactly one completion wrote the session"
    );
    assert_eq!(store.len(), 1, "completed in place: still one session");
    for browser in [&mut browser, &mut twin] {
        let page = browser.navigate(&url("/dashboard")).await;
        assert_eq!(page.status, 200, "{}", page.body);
    }

    // Abandoning: signing out of a pending session ends it, in the store too.
    let mut other = Browser::new();
    directory.members.lock().unwrap().clear();
    let reply = other.sign_in(&app, "/dashboard").await;
    assert_eq!(reply.location(), "/welcome?step=1");
    assert_eq!(store.len(), 2);
    let out = other.sign_out_at(&app.origin).await;
    assert_eq!(out.status, 303);
    assert_eq!(store.len(), 1);
    assert!(other.cookies.is_empty());
    let form = other.navigate(&url("/welcome")).await;
    assert_eq!(form.status, 302);
    assert!(form.location().starts_with("/auth/login"));
}

#[tokio::test]
async fn bearer_tokens_are_not_affected_by_a_pending_session() {
    let directory = Directory::default();
    let app = start(&directory).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let token = app.provider.access_token(
        support::CLIENT_ID,
        "user-0009",
        &["openid"],
        std::time::Duration::from_secs(60),
    );
    let reply = browser
        .send(
            Method::GET,
            &format!("{}/protected", app.origin),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "protected user-0009")
    );
}

#[tokio::test]
async fn a_completion_page_that_requires_a_user_is_named_not_looped() {
    let directory = Directory::default();
    let app = start_app(TestProvider::builder(), with_hook(&directory), |logi| {
        support::routes(logi).route(
            "/welcome",
            get(|user: LogiUser| async move { user.sub().to_owned() }),
        )
    })
    .await;
    let mut browser = Browser::new();
    let reply = browser.sign_in(&app, "/").await;
    let page = browser.follow(&reply, &app.origin).await;
    assert_eq!(page.status, 500);
    assert!(
        page.body.contains("take `PendingSignup` there"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_hook_needs_the_browser_sign_in() {
    let provider: TestProviderBuilder = TestProvider::builder();
    let provider = provider.start().await.unwrap();
    let error = LogiLayer::builder()
        .issuer(provider.issuer())
        .audience("logi_api")
        .on_sign_in(|_| async { Ok::<_, std::io::Error>(SignInDecision::Continue) })
        .build()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("on_sign_in"), "{error}");
}

#[tokio::test]
async fn a_pending_sign_in_ends_with_the_apps_completion_window() {
    let directory = Directory::default();
    let hook = with_hook(&directory);
    let app = start_app(
        TestProvider::builder(),
        |b| hook(b).completion_window(std::time::Duration::from_secs(1)),
        routes(&directory),
    )
    .await;
    let mut browser = Browser::new();
    let welcome = format!("{}/welcome?step=1", app.origin);

    let reply = browser.sign_in(&app, "/dashboard").await;
    assert_eq!(reply.location(), "/welcome?step=1", "{}", reply.body);
    let session = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-logi.session="))
        .expect("a pending session cookie");
    assert!(
        session
            .split(';')
            .any(|attribute| attribute.trim() == "Max-Age=1"),
        "the cookie lasts as long as the window: {}",
        session
            .split_once(';')
            .map_or("", |(_, attributes)| attributes)
    );
    assert_eq!(browser.status_of(&welcome).await, 200);

    // Past the window (the browser still sends the cookie): the sign-in is over, the form
    // sends the browser to sign in again, and nothing was created.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let form = browser.navigate(&welcome).await;
    assert_eq!(form.status, 302, "{}", form.body);
    assert!(
        form.location().starts_with("/auth/login"),
        "{}",
        form.location()
    );
    let me = get_json(&mut browser, &format!("{}/auth/me", app.origin)).await;
    let me: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    assert!(me.get("pending").is_none_or(|p| p == false), "{me}");
    assert_eq!(directory.len(), 0);
}

#[tokio::test]
async fn a_completion_window_under_a_second_is_refused() {
    let provider: TestProviderBuilder = TestProvider::builder();
    let provider = provider.start().await.unwrap();
    let error = LogiLayer::builder()
        .issuer(provider.issuer())
        .client_id("logi_app")
        .client_secret("secret")
        .redirect_uri("http://localhost:3000/auth/callback")
        .completion_window(std::time::Duration::ZERO)
        .build()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("completion_window"), "{error}");
}

/// The completion form as a plain tower service, without axum's extractors.
async fn join(
    request: http::Request<axum::body::Body>,
) -> Result<http::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    let pending = match PendingSignup::from_request(&request) {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            let mut response = http::Response::new("no sign-up is pending".into());
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            return Ok(response);
        }
        Err(refused) => return Ok(refused.into_http_response()),
    };
    if request.method() == http::Method::GET {
        let page = format!("join as {} then {}", pending.sub(), pending.return_to());
        return Ok(http::Response::new(page.into()));
    }
    // The app creates the account here, then completes.
    Ok(match pending.complete().await {
        Ok(completed) => completed.into_http_response(),
        Err(refused) => refused.into_http_response(),
    })
}

#[tokio::test]
async fn a_plain_tower_service_completes_the_sign_up() {
    let app = start_app(
        TestProvider::builder(),
        |b| {
            b.on_sign_in(|_| async {
                Ok::<_, std::io::Error>(SignInDecision::needs_completion("/join"))
            })
        },
        |logi| support::routes(logi).route_service("/join", tower::service_fn(join)),
    )
    .await;
    let mut browser = Browser::new();
    let url = |path: &str| format!("{}{path}", app.origin);

    let reply = browser.sign_in(&app, "/dashboard").await;
    assert_eq!(reply.location(), "/join", "{}", reply.body);
    let form = browser.navigate(&url("/join")).await;
    assert_eq!(
        (form.status, form.body.as_str()),
        (200, "join as user-0001 then /dashboard")
    );

    // A cross-site POST is refused before anything is created; the sign-in stays pending.
    let forged = browser
        .send(
            Method::POST,
            &url("/join"),
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(forged.header("cache-control"), Some("no-store"));
    assert_eq!(
        browser.navigate(&url("/dashboard")).await.location(),
        "/join"
    );

    // A same-origin POST completes: 303 to where the user was going, with the session.
    let reply = browser
        .send(
            Method::POST,
            &url("/join"),
            &[("sec-fetch-site", SAME_ORIGIN)],
        )
        .await;
    assert_eq!(
        (reply.status, reply.location()),
        (303, "/dashboard"),
        "{}",
        reply.body
    );
    assert!(
        reply
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-logi.session=") && !c.contains("Max-Age=0"))
    );
    let dashboard = browser.navigate(&url("/dashboard")).await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(
        dashboard.body.starts_with("sub=user-0001"),
        "{}",
        dashboard.body
    );
    assert_eq!(browser.status_of(&url("/join")).await, 404, "signed in");
}
