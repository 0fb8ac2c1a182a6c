//! Interop: an app behind `LogiLayer` signs a user in and out through a certified third-party
//! OpenID provider, the npm package `oidc-provider` (8.8.1), run by node on 127.0.0.1.
//!
//! The provider is configured the way logi works: a confidential client (`client_secret_basic`),
//! PKCE S256 required for every client, RS256 ID tokens, refresh tokens issued and rotated,
//! revocation, and RP-initiated logout. The browser is a reqwest client with a cookie jar
//! (`interop/browser.rs`); both parties' cookies live in it, as they would in a browser.
//!
//! Needs `node` (v20) and `npm ci --prefix tests/node`. Without them the test prints
//! `SKIPPED: …` and passes, unless `LOGI_E2E_REQUIRED` is set (as in CI), when it fails.

#[path = "interop/browser.rs"]
mod browser;
#[path = "interop/oidc_provider.rs"]
mod oidc_provider;
#[path = "../logi-tower/tests/support/skip.rs"]
#[allow(unreachable_pub)]
mod skip;

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use logi::{LogiLayer, LogiUser, SessionKeys};
use reqwest::Method;
use serde_json::Value;
use tokio::net::TcpListener;
use url::Url;

use browser::Browser;
use oidc_provider::{OidcProvider, Options};

const CLIENT_ID: &str = "logi_1e7e40b0c0ffee0123456789abcdef01";
const CLIENT_SECRET: &str =
    "logi_secret_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SESSION_KEY: &str = "aW50ZXJvcC1zZXNzaW9uLWtleS0wMTIzNDU2Nzg5YWJjZGVm";

/// The user oidc-provider signs in (`tests/node/oidc-provider.mjs`).
const SUB: &str = "interop-user-1";
const EMAIL: &str = "interop@example.com";
const NAME: &str = "Interop User";

#[tokio::test]
async fn sign_in_and_out_through_oidc_provider() {
    let Some(mut app) = App::start(Duration::from_secs(3600)).await else {
        return;
    };
    app.provider_is_as_strict_as_logi().await;
    app.sign_in().await;
    app.expect_signed_in().await;
    // Served from the session: no further call to the provider.
    assert_eq!(app.calls("POST", "/token").await, 1);
    assert_eq!(app.calls("GET", "/me").await, 1);
    let id_token = app.sign_out().await;
    app.id_token_is_not_an_access_token(&id_token).await;
}

#[tokio::test]
async fn refreshes_through_oidc_provider_with_rotation() {
    let Some(mut app) = App::start(Duration::from_secs(2)).await else {
        return;
    };
    app.sign_in().await;
    app.expect_signed_in().await;
    let first = app.latest_refresh_token().await;
    for round in 1..=2 {
        // Past the access token's expiry: the next request refreshes transparently.
        tokio::time::sleep(Duration::from_millis(3_100)).await;
        app.expect_signed_in().await;
        assert_eq!(
            app.calls("POST", "/token").await,
            1 + round,
            "one refresh per expiry"
        );
    }
    let grants = app.provider.events("grant.success").await;
    let refreshes = grants
        .iter()
        .filter(|e| e["grant_type"] == "refresh_token")
        .count();
    assert_eq!(refreshes, 2);
    assert!(
        app.provider.events("grant.error").await.is_empty(),
        "no refresh was refused"
    );
    // Rotation is on: the first refresh token was consumed, and the app now holds a newer one.
    // (Presenting the spent one again would make oidc-provider revoke the whole grant.)
    app.provider
        .wait_for("refresh_token.consumed", |e| e["token"] == first.as_str())
        .await;
    assert_ne!(app.latest_refresh_token().await, first);
    app.sign_out().await;
}

/// An app behind `LogiLayer`, the provider, and one browser.
struct App {
    origin: Url,
    provider: OidcProvider,
    issuer: Url,
    browser: Browser,
}

async fn dashboard(user: LogiUser) -> String {
    format!(
        "sub={} email={} name={}",
        user.sub(),
        user.email().unwrap_or("-"),
        user.name().unwrap_or("-")
    )
}

impl App {
    /// Starts the provider with `access_token_ttl` and the app registered as its client; `None`
    /// when the test is skipped.
    async fn start(access_token_ttl: Duration) -> Option<Self> {
        // Bind first: the provider must know the callback URI.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = Url::parse(&format!(
            "http://127.0.0.1:{}/",
            listener.local_addr().unwrap().port()
        ))
        .unwrap();
        let redirect_uri = origin.join("/auth/callback").unwrap();
        let provider = OidcProvider::start(&Options {
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            redirect_uri: redirect_uri.as_str(),
            post_logout_redirect_uri: origin.as_str(),
            access_token_ttl,
        })
        .await?;
        let issuer = Url::parse(&provider.issuer).unwrap();

        let logi = LogiLayer::builder()
            .issuer(&provider.issuer)
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .redirect_uri(redirect_uri.as_str())
            .session_keys(SessionKeys::from_base64_list(SESSION_KEY).unwrap())
            .scopes("openid profile email")
            .build()
            .await
            .expect("LogiLayer discovers oidc-provider");
        let app = Router::new()
            .route("/", get(|| async { "home" }))
            .route("/dashboard", get(dashboard))
            .layer(logi);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        Some(Self {
            origin,
            provider,
            issuer,
            browser: Browser::new(),
        })
    }

    fn url(&self, path: &str) -> Url {
        self.origin.join(path).unwrap()
    }

    fn cookie_names(&self) -> Vec<String> {
        self.browser
            .cookies("127.0.0.1")
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    /// oidc-provider refuses an authorization request without PKCE, as logi does for every
    /// client: what the sign-in below shows is not a lenient provider's doing.
    async fn provider_is_as_strict_as_logi(&mut self) {
        let mut authorize = self.issuer.join("/auth").unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", self.url("/auth/callback").as_str())
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("state", "no-pkce");
        let refused = Browser::new().navigate(&authorize).await;
        assert_eq!(refused.status, 303, "{}", refused.body);
        let answer: HashMap<_, _> = refused.location().query_pairs().into_owned().collect();
        assert_eq!(answer["error"], "invalid_request");
        assert!(
            answer["error_description"].contains("PKCE"),
            "{}",
            answer["error_description"]
        );
    }

    /// From a protected page, through oidc-provider's login and consent, back to the page.
    async fn sign_in(&mut self) {
        let page = self.browser.navigate(&self.url("/dashboard")).await;
        assert_eq!(page.status, 302, "signed out: {}", page.body);
        assert_eq!(
            page.location(),
            self.url("/auth/login?return_to=%2Fdashboard")
        );

        // To the provider's authorization endpoint, as its discovery document names it.
        let to_provider = self.browser.follow(&page).await;
        assert_eq!(to_provider.status, 302, "{}", to_provider.body);
        let authorize = to_provider.location();
        assert_eq!(authorize.origin(), self.issuer.origin());
        assert_eq!(authorize.path(), "/auth");
        let params: HashMap<_, _> = authorize.query_pairs().into_owned().collect();
        assert_eq!(params["client_id"], CLIENT_ID);
        assert_eq!(params["response_type"], "code");
        assert_eq!(params["redirect_uri"], self.url("/auth/callback").as_str());
        assert_eq!(params["scope"], "openid profile email");
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(params["code_challenge"].len(), 43);
        assert!(params["state"].len() >= 22, "state: {}", params["state"]);
        assert!(params["nonce"].len() >= 22, "nonce: {}", params["nonce"]);

        // oidc-provider asks for each prompt on an interaction page (a form, here one button) and
        // resumes the authorization when it is answered; its own cookies must round-trip.
        let mut page = self.browser.follow(&to_provider).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let uid = page
            .location()
            .path()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        assert!(
            page.set_cookies()
                .iter()
                .any(|c| c.starts_with("_interaction_resume=")
                    && c.contains(&format!("path=/auth/{uid};"))),
            "{:?}",
            page.set_cookies()
        );
        let mut prompts = Vec::new();
        let callback = 'provider: {
            for _ in 0..12 {
                match page.status {
                    200 => {
                        let (sent, reply) = self.browser.submit(&page).await;
                        let (_, prompt) = sent.fields.iter().find(|(k, _)| k == "prompt").unwrap();
                        prompts.push(prompt.clone());
                        page = reply;
                    }
                    302 | 303 if page.location().origin() == self.issuer.origin() => {
                        page = self.browser.follow(&page).await;
                    }
                    302 | 303 => break 'provider page.location(),
                    status => panic!("{status} from {}: {}", page.url, page.body),
                }
            }
            panic!("oidc-provider did not send the browser back; prompts so far: {prompts:?}");
        };
        assert_eq!(prompts, ["login", "consent"]);
        assert_eq!(
            self.provider.events("interaction.started").await.len(),
            2,
            "one interaction per prompt"
        );
        let mut bare_callback = callback.clone();
        bare_callback.set_query(None);
        assert_eq!(bare_callback, self.url("/auth/callback"));
        let answer: HashMap<_, _> = callback.query_pairs().into_owned().collect();
        assert_eq!(answer["state"], params["state"]);
        assert_eq!(answer["iss"], self.provider.issuer, "RFC 9207 iss");
        assert!(!answer["code"].is_empty());

        // The callback exchanges the code (client_secret_basic, the PKCE verifier), verifies the
        // ID token (RS256, nonce), fetches userinfo and opens the session.
        let signed_in = self.browser.navigate(&callback).await;
        assert_eq!(signed_in.status, 302, "{}", signed_in.body);
        assert_eq!(signed_in.location(), self.url("/dashboard"));
        assert_eq!(signed_in.header("cache-control"), Some("no-store"));
        assert!(
            signed_in
                .set_cookies()
                .iter()
                .any(|c| c.starts_with("__Host-logi.session=")),
            "{:?}",
            signed_in.set_cookies()
        );
        let cookies = self.cookie_names();
        assert!(
            !cookies.iter().any(|c| c.starts_with("__Host-logi.tx.")),
            "the transaction cookie is spent: {cookies:?}"
        );
        assert!(
            cookies.iter().any(|c| c == "_session"),
            "oidc-provider's session cookie: {cookies:?}"
        );
        assert!(
            !cookies.iter().any(|c| c.starts_with("_interaction_resume")),
            "oidc-provider deletes its resume cookies (Expires in the past): {cookies:?}"
        );

        // The provider's side: one code exchange, which issued a refresh token without
        // `offline_access`; one userinfo call; discovery and keys fetched once.
        let grants = self.provider.events("grant.success").await;
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0]["grant_type"], "authorization_code");
        let issued = self.provider.events("refresh_token.saved").await;
        assert_eq!(issued.len(), 1, "a refresh token is issued");
        assert_eq!(self.calls("POST", "/token").await, 1);
        assert_eq!(self.calls("GET", "/me").await, 1, "userinfo");
        assert_eq!(
            self.calls("GET", "/.well-known/openid-configuration").await,
            1
        );
        assert_eq!(self.calls("GET", "/jwks").await, 1);
        assert!(self.provider.events("grant.error").await.is_empty());
    }

    /// The refresh token the provider issued last: the one the app holds.
    async fn latest_refresh_token(&mut self) -> String {
        let issued = self.provider.events("refresh_token.saved").await;
        let last = issued.last().expect("a refresh token was issued");
        last["token"].as_str().unwrap().to_owned()
    }

    async fn calls(&mut self, method: &str, path: &str) -> usize {
        self.provider.calls(method, path).await
    }

    /// The protected page and `/auth/me` show the user.
    async fn expect_signed_in(&mut self) {
        let page = self.browser.navigate(&self.url("/dashboard")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body, format!("sub={SUB} email={EMAIL} name={NAME}"));

        let me = self
            .browser
            .send(
                Method::GET,
                &self.url("/auth/me"),
                &[("accept", "application/json")],
                None,
            )
            .await;
        assert_eq!(me.status, 200, "{}", me.body);
        let me: Value = serde_json::from_str(&me.body).unwrap();
        assert_eq!(me["sub"], SUB);
        assert_eq!(me["iss"], self.provider.issuer);
        assert_eq!(me["email"], EMAIL);
        assert_eq!(me["email_verified"], true);
        assert_eq!(me["name"], NAME);
        assert_eq!(
            me["scopes"],
            serde_json::json!(["openid", "profile", "email"])
        );
        assert!(
            !me.to_string().contains("eyJ"),
            "no token in /auth/me: {me}"
        );
    }

    /// The provider's ID token for this app (its audience is the app's client id), sent as a
    /// bearer token, is refused: it is not an access token.
    async fn id_token_is_not_an_access_token(&self, id_token: &str) {
        let http = reqwest::Client::new();
        for path in ["/dashboard", "/auth/me"] {
            let response = http
                .get(self.url(path))
                .header("accept", "application/json")
                .bearer_auth(id_token)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{path}");
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(
                challenge.starts_with(
                    r#"Bearer error="invalid_token", error_description="not_an_access_token: "#
                ),
                "{path}: {challenge}"
            );
        }
    }

    /// `POST /auth/logout`: the app revokes the refresh token and sends the browser to the
    /// provider's end-session endpoint, which asks for confirmation and sends it back. Returns
    /// the ID token the app handed the provider (`id_token_hint`).
    async fn sign_out(&mut self) -> String {
        let refresh_token = self.latest_refresh_token().await;
        let origin = self.origin.origin().ascii_serialization();
        let out = self
            .browser
            .send(
                Method::POST,
                &self.url("/auth/logout"),
                &[("origin", &origin), ("sec-fetch-site", "same-origin")],
                None,
            )
            .await;
        assert_eq!(out.status, 303, "{}", out.body);
        let end_session = out.location();
        assert_eq!(end_session.origin(), self.issuer.origin());
        assert_eq!(end_session.path(), "/session/end");
        let params: HashMap<_, _> = end_session.query_pairs().into_owned().collect();
        assert!(params["id_token_hint"].starts_with("eyJ"));
        assert_eq!(params["client_id"], CLIENT_ID);
        assert_eq!(params["post_logout_redirect_uri"], self.origin.as_str());
        let cookies = self.cookie_names();
        assert!(
            !cookies.iter().any(|c| c.starts_with("__Host-logi.")),
            "the app's session cookies are removed: {cookies:?}"
        );

        // The provider's side, before its own logout (which would end the grant anyway): the
        // refresh token was revoked, with it the grant, and the token no longer works.
        assert_eq!(self.calls("POST", "/token/revocation").await, 1);
        self.provider
            .wait_for("refresh_token.destroyed", |e| {
                e["token"] == refresh_token.as_str()
            })
            .await;
        self.provider.wait_for("grant.revoked", |_| true).await;
        let refresh = self.refresh_grant(&refresh_token).await;
        assert_eq!(refresh.0, 400, "{}", refresh.1);
        assert_eq!(refresh.1["error"], "invalid_grant");

        // oidc-provider asks whether to sign out there too: yes.
        let confirm = self.browser.navigate(&end_session).await;
        assert_eq!(confirm.status, 200, "{}", confirm.body);
        let (sent, back) = self.browser.submit(&confirm).await;
        assert_eq!(sent.action.path(), "/session/end/confirm");
        assert!(sent.fields.iter().any(|(k, v)| k == "logout" && v == "yes"));
        assert!(sent.fields.iter().any(|(k, _)| k == "xsrf"));
        assert_eq!(back.status, 303, "{}", back.body);
        assert_eq!(back.location(), self.origin);
        self.provider
            .wait_for("end_session.success", |_| true)
            .await;
        assert!(
            !self.cookie_names().iter().any(|c| c == "_session"),
            "oidc-provider's session ended: {:?}",
            self.cookie_names()
        );

        // Back at the app, signed out.
        let home = self.browser.follow(&back).await;
        assert_eq!((home.status, home.body.as_str()), (200, "home"));
        let page = self.browser.navigate(&self.url("/dashboard")).await;
        assert_eq!(page.status, 302, "signed out: {}", page.body);
        let me = self
            .browser
            .send(Method::GET, &self.url("/auth/me"), &[], None)
            .await;
        assert_eq!(me.status, 401);
        params["id_token_hint"].clone()
    }

    /// A `refresh_token` grant made directly, as the client: (status, JSON body).
    async fn refresh_grant(&self, refresh_token: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.issuer.join("/token").unwrap())
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        (status, serde_json::from_str(&body).unwrap())
    }
}

/// `logi-doctor`, built for this run: `cargo build -p logi-doctor` (a no-op when it is up to
/// date), its path read from cargo's JSON messages. Another package's binary has no
/// `CARGO_BIN_EXE_*`.
async fn doctor_binary() -> std::path::PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let build = tokio::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--package",
            "logi-doctor",
            "--bin",
            "logi-doctor",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), build)
        .await
        .expect("building logi-doctor took over 10 minutes")
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build -p logi-doctor failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "logi-doctor")
        .and_then(|m| m["executable"].as_str().map(std::path::PathBuf::from))
        .expect("cargo names the logi-doctor executable")
}

/// Runs the doctor with `--json` against `issuer` with `secret` (given in LOGI_CLIENT_SECRET,
/// as the README advises); its report, after checking the secret is nowhere in its output.
async fn doctor_report(
    binary: &std::path::Path,
    issuer: &str,
    secret: &str,
    extra: &[&str],
) -> Value {
    let mut command = tokio::process::Command::new(binary);
    command
        .args(["--json", "--issuer", issuer, "--client-id", CLIENT_ID])
        .args(["-r", "http://127.0.0.1:9/auth/callback"])
        .args(extra)
        .env("LOGI_CLIENT_SECRET", secret)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for name in [
        "LOGI_ISSUER",
        "LOGI_EXPECTED_ISSUER",
        "LOGI_CLIENT_ID",
        "LOGI_REDIRECT_URI",
        "LOGI_SESSION_KEY",
        "LOGI_TOKEN_AUTH_METHOD",
    ] {
        command.env_remove(name);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("logi-doctor finishes")
        .expect("logi-doctor runs");
    for stream in [&output.stdout, &output.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(secret),
            "the secret is in logi-doctor's output"
        );
    }
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "logi-doctor's stdout is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The report's entry for `check` (each appears once here).
fn doctor_entry<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no {check} check in {report:#}"))
}

/// `logi-doctor` tells good client credentials from a wrong secret at oidc-provider's token
/// endpoint, without a user: oidc-provider answers its made-up code with `invalid_grant` when
/// the client authenticated, and with `invalid_client` when it did not. The keys and the clock
/// check out too.
#[tokio::test]
async fn doctor_checks_credentials_keys_and_clock_against_oidc_provider() {
    let Some(mut provider) = OidcProvider::start(&Options {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uri: "http://127.0.0.1:9/auth/callback",
        post_logout_redirect_uri: "http://127.0.0.1:9/",
        access_token_ttl: Duration::from_secs(3600),
    })
    .await
    else {
        return;
    };
    let binary = doctor_binary().await;
    let issuer = provider.issuer.clone();

    // The registered method (client_secret_basic, the layer's default) and the right secret.
    let report = doctor_report(&binary, &issuer, CLIENT_SECRET, &[]).await;
    let credentials = doctor_entry(&report, "client_credentials");
    assert_eq!(credentials["status"], "pass", "{report:#}");
    let message = credentials["message"].as_str().unwrap();
    assert!(
        message.contains("client_secret_basic") && message.contains("invalid_grant"),
        "{message}"
    );
    assert_eq!(
        doctor_entry(&report, "jwks")["status"],
        "pass",
        "{report:#}"
    );
    assert!(
        doctor_entry(&report, "jwks")["message"]
            .as_str()
            .unwrap()
            .contains("interop-1")
    );
    assert_eq!(
        doctor_entry(&report, "clock")["status"],
        "pass",
        "{report:#}"
    );
    assert_eq!(provider.calls("POST", "/token").await, 1);

    // A wrong secret, of the right form. oidc-provider accepts either secret method from a
    // client registered for one of them, so both are checked, each good and wrong.
    let wrong = "logi_secret_00000000000000000000000000000000000000000000000000000000deadbeef";
    for method in ["client_secret_basic", "client_secret_post"] {
        let flags = ["--token-auth-method", method];
        let report = doctor_report(&binary, &issuer, wrong, &flags).await;
        let credentials = doctor_entry(&report, "client_credentials");
        assert_eq!(credentials["status"], "fail", "{report:#}");
        assert_eq!(report["verdict"], "fail");
        let message = credentials["message"].as_str().unwrap();
        assert!(
            message.contains(method)
                && message.contains("401")
                && message.contains("invalid_client"),
            "{message}"
        );
        assert!(
            credentials["fix"]
                .as_str()
                .unwrap()
                .contains("LOGI_CLIENT_SECRET"),
            "{credentials:#}"
        );

        let report = doctor_report(&binary, &issuer, CLIENT_SECRET, &flags).await;
        let credentials = doctor_entry(&report, "client_credentials");
        assert_eq!(credentials["status"], "pass", "{report:#}");
        assert!(
            credentials["message"].as_str().unwrap().contains(method),
            "{credentials:#}"
        );
    }
    assert_eq!(provider.calls("POST", "/token").await, 5);
}
