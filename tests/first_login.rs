//! The webhooks example's first-login completion (`cargo run --example webhooks`), over real
//! HTTP on `localhost`: the app is `logi_examples::webhooks::app` behind the layer the example
//! builds (`development_builder` + `members::with_first_login`), signing in at the in-process
//! provider's interactive page as a browser would, and receiving `user.deleted` signed here.

use std::collections::BTreeMap;
use std::time::Duration;

use logi::testing::{Endpoint, TestProvider, TestUser};
use logi_examples::Localhost;
use logi_examples::members::{Directory, Member};
use logi_examples::webhooks::{self, PATH};
use reqwest::Method;
use reqwest::header::{LOCATION, SET_COOKIE};

use self::clock::unix_now_signed as now;

#[path = "../logi-tower/tests/support/clock.rs"]
#[allow(dead_code, unreachable_pub)]
mod clock;

const SECRET: &str = "whsec_first_login_e2e";

struct App {
    origin: String,
    provider: TestProvider,
    directory: Directory,
}

async fn start() -> App {
    let localhost = Localhost::bind(0).await.unwrap();
    let port = localhost.port().unwrap();
    let (builder, provider) = logi_examples::development_builder(port).await.unwrap();
    let (app, directory) = webhooks::build(builder, &format!("k1:{SECRET}"))
        .await
        .unwrap();
    tokio::spawn(localhost.serve(app, std::future::pending()));
    App {
        origin: format!("http://localhost:{port}"),
        provider,
        directory,
    }
}

struct Reply {
    status: u16,
    location: String,
    body: String,
    set_cookie: bool,
}

/// A browser for this test: keeps the app's cookies (ignoring their paths, which only narrow
/// where they are sent), follows no redirect by itself.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            http,
            cookies: BTreeMap::new(),
        }
    }

    async fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        form: &str,
    ) -> Reply {
        let mut request = self.http.request(method, url);
        if url.starts_with("http://localhost") && !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", cookies.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if !form.is_empty() {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let mut set_cookie = false;
        if url.starts_with("http://localhost") {
            for value in response.headers().get_all(SET_COOKIE) {
                let value = value.to_str().unwrap();
                let (name, rest) = value.split_once('=').unwrap();
                let cookie_value = rest.split(';').next().unwrap();
                if value.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    set_cookie |= name == "__Host-logi.session";
                    self.cookies
                        .insert(name.to_owned(), cookie_value.to_owned());
                }
            }
        }
        let body = response.text().await.unwrap();
        Reply {
            status,
            location,
            body,
            set_cookie,
        }
    }

    async fn navigate(&mut self, url: &str) -> Reply {
        let headers = [("accept", "text/html"), ("sec-fetch-mode", "navigate")];
        self.send(Method::GET, url, &headers, "").await
    }

    /// A same-origin form post from one of the app's pages.
    async fn post_form(&mut self, app: &App, path: &str, form: &str) -> Reply {
        let headers = [
            ("origin", app.origin.as_str()),
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "navigate"),
        ];
        let url = format!("{}{path}", app.origin);
        self.send(Method::POST, &url, &headers, form).await
    }

    /// From the home page's sign-in link through the provider's page, choosing `sub`; the
    /// callback's reply.
    async fn sign_in(&mut self, app: &App, sub: &str) -> Reply {
        let home = self.navigate(&format!("{}/", app.origin)).await;
        let link = "/auth/login?return_to=%2Faccount";
        assert!(home.body.contains(link), "{}", home.body);
        let to_provider = self.navigate(&format!("{}{link}", app.origin)).await;
        assert_eq!(to_provider.status, 302);
        let page = self.navigate(&to_provider.location).await;
        assert_eq!(page.status, 200, "the provider's sign-in page");
        let request = page
            .body
            .split("name=\"request\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the sign-in page names its request");
        let decision = app.provider.url(Endpoint::Authorize) + "/decision";
        let back = self
            .send(
                Method::POST,
                &decision,
                &[],
                &format!("request={request}&user={sub}"),
            )
            .await;
        assert_eq!(back.status, 302, "{}", back.body);
        assert!(back.location.starts_with(&app.origin), "{}", back.location);
        self.navigate(&back.location).await
    }
}

#[tokio::test]
async fn a_new_user_joins_through_the_form_and_a_deleted_one_joins_again() {
    let app = start().await;
    let url = |path: &str| format!("{}{path}", app.origin);
    let mut browser = Browser::new();

    // A new user: to the form, not signed in yet, nothing created.
    let reply = browser.sign_in(&app, "user-0001").await;
    assert_eq!((reply.status, reply.location.as_str()), (302, "/welcome"));
    assert!(app.directory.is_empty());
    let account = browser.navigate(&url("/account")).await;
    assert_eq!(
        (account.status, account.location.as_str()),
        (302, "/welcome")
    );
    let home = browser.navigate(&url("/")).await;
    assert!(
        home.body.contains("id=\"sign-in\""),
        "signed out: {}",
        home.body
    );

    // The form: who signed in, a display name to choose, the terms to accept.
    let form = browser.navigate(&url("/welcome")).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("<code id=\"sub\">user-0001</code>"),
        "{}",
        form.body
    );
    assert!(
        form.body
            .contains("<span id=\"email\">ada@example.com</span>"),
        "{}",
        form.body
    );
    assert!(
        form.body.contains("value=\"Ada Lovelace\""),
        "{}",
        form.body
    );
    for (sent, problem) in [
        ("display_name=+++&terms=accepted", "display name"),
        ("display_name=Ada", "Accept the terms"),
    ] {
        let again = browser.post_form(&app, "/welcome", sent).await;
        assert_eq!(again.status, 422, "{sent}");
        assert!(again.body.contains(problem), "{sent}: {}", again.body);
        assert!(!again.set_cookie);
    }
    assert!(app.directory.is_empty());

    // Joining: the member is added, and the user lands on their account, signed in.
    let joined = browser
        .post_form(&app, "/welcome", "display_name=Countess+Ada&terms=accepted")
        .await;
    assert_eq!((joined.status, joined.location.as_str()), (303, "/account"));
    assert!(joined.set_cookie);
    assert_eq!(
        app.directory.get(app.provider.issuer(), "user-0001"),
        Some(Member {
            display_name: "Countess Ada".into(),
            verified_email: Some("ada@example.com".into()),
        })
    );
    let account = browser.navigate(&url("/account")).await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(
        account.body.contains("<dd id=\"name\">Countess Ada</dd>"),
        "{}",
        account.body
    );

    // Next time: straight in.
    let mut later = Browser::new();
    let reply = later.sign_in(&app, "user-0001").await;
    assert_eq!((reply.status, reply.location.as_str()), (302, "/account"));

    // logi deletes the user: the member goes, the user's sessions end (the old session is sent
    // to sign in again), and the next sign-in is a new user again.
    let body = r#"{"type":"user.deleted","sub":"user-0001"}"#;
    let signature = webhooks::signature(SECRET, "k1", now(), body.as_bytes());
    let delivered = deliver(&url(PATH), &signature, body).await;
    assert_eq!(delivered, (200, "user.deleted".to_owned()));
    assert!(app.directory.is_empty());
    let account = browser.navigate(&url("/account")).await;
    assert_eq!(account.status, 302, "signed out: {}", account.body);
    assert!(
        account.location.starts_with("/auth/login"),
        "{}",
        account.location
    );
    let reply = Browser::new().sign_in(&app, "user-0001").await;
    assert_eq!(reply.location, "/welcome");
}

#[tokio::test]
async fn a_verified_email_finds_the_member_and_an_unverified_one_does_not() {
    let app = start().await;
    let issuer = app.provider.issuer().to_owned();
    app.directory.insert(
        &issuer,
        "old-sub",
        Member {
            display_name: "Ada".into(),
            verified_email: Some("ada@example.com".into()),
        },
    );
    app.provider.add_user(TestUser {
        email: Some("ada@example.com".into()),
        email_verified: false,
        ..TestUser::new("user-0002")
    });

    let reply = Browser::new().sign_in(&app, "user-0001").await;
    assert_eq!(reply.location, "/account", "found by a verified email");
    assert_eq!(
        app.directory
            .get(&issuer, "user-0001")
            .map(|m| m.display_name),
        Some("Ada".into())
    );

    let mut unverified = Browser::new();
    let reply = unverified.sign_in(&app, "user-0002").await;
    assert_eq!(
        reply.location, "/welcome",
        "an unverified email proves nothing"
    );
    assert_eq!(app.directory.get(&issuer, "user-0002"), None);
    let form = unverified
        .navigate(&format!("{}/welcome", app.origin))
        .await;
    assert!(
        form.body.contains("ada@example.com (not verified)"),
        "{}",
        form.body
    );
}

#[tokio::test]
async fn the_form_refuses_a_cross_site_post() {
    let app = start().await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "user-0001").await;
    let reply = browser
        .send(
            Method::POST,
            &format!("{}/welcome", app.origin),
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            "display_name=Mallory&terms=accepted",
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(!reply.set_cookie);
    assert!(app.directory.is_empty(), "the form's handler did not run");
}

async fn deliver(url: &str, signature: &str, body: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-logi-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}
