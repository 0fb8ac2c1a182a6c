//! The browser sign-in flow over real HTTP, against the in-process logi provider.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use logi::testing::Endpoint;
use reqwest::Method;
use support::{App, Browser, Reply, start};

#[tokio::test]
async fn sign_in_protected_page_me_refresh_and_sign_out() {
    let app = start().await;
    let mut browser = Browser::new();

    // A signed-out navigation to a protected page is sent to sign in, keeping where it was going.
    let reply = browser
        .navigate(&format!("{}/dashboard?tab=1", app.origin))
        .await;
    assert_eq!(reply.status, 302);
    assert_eq!(
        reply.location(),
        "/auth/login?return_to=%2Fdashboard%3Ftab%3D1"
    );

    // Sign-in: to the provider with PKCE S256, state and nonce; a `__Host-` transaction cookie
    // (Path=/, no Domain), which no other host can set.
    let to_provider = browser.follow(&reply, &app.origin).await;
    assert_eq!(to_provider.status, 302);
    let authorize = url::Url::parse(to_provider.location()).unwrap();
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/oauth/authorize", app.provider.issuer()))
    );
    let params: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(params["state"].len() >= 43 && params["nonce"].len() >= 43);
    assert_eq!(params["scope"], "openid profile:basic email");
    let tx_cookie = to_provider
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-logi.tx."))
        .unwrap();
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/;",
        "Max-Age=600",
    ] {
        assert!(
            tx_cookie.contains(attr),
            "transaction cookie lacks {attr}: {tx_cookie}"
        );
    }
    assert!(!tx_cookie.contains("Domain"), "{tx_cookie}");

    let to_callback = browser.navigate(to_provider.location()).await;
    let signed_in = browser.navigate(to_callback.location()).await;
    assert_eq!(signed_in.status, 302, "{}", signed_in.body);
    assert_eq!(signed_in.location(), "/dashboard?tab=1");
    assert_eq!(signed_in.header("cache-control"), Some("no-store"));
    let session_cookie = signed_in
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-logi.session="))
        .unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            session_cookie.contains(attr),
            "session cookie lacks {attr}: {session_cookie}"
        );
    }
    assert!(
        !browser
            .cookies
            .keys()
            .any(|k| k.starts_with("__Host-logi.tx.")),
        "the transaction cookie is spent"
    );
    assert_eq!(app.provider.calls(Endpoint::Token), 1);

    // The protected page, with identity claims from userinfo (logi's ID token lacks them).
    let page = browser.follow(&signed_in, &app.origin).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.body,
        "sub=user-0001 email=ada@example.com name=Ada Lovelace"
    );
    assert_eq!(app.provider.calls(Endpoint::Userinfo), 1);
    assert!(
        page.header("set-cookie").is_none(),
        "a request that changes nothing writes no cookie"
    );

    // Refreshing the page: still signed in, no provider call.
    let again = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(again.status, 200);
    assert_eq!(app.provider.calls(Endpoint::Token), 1);

    // /auth/me for front ends.
    let me = browser.fetch_json(&format!("{}/auth/me", app.origin)).await;
    assert_eq!(me.status, 200);
    let me: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["sub"], "user-0001");
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["iss"], app.provider.issuer());
    assert!(
        me.get("at").is_none() && !me.to_string().contains("eyJ"),
        "no token leaks into /auth/me"
    );

    // Option<LogiUser> and AccessToken.
    assert_eq!(
        browser.body_of(&format!("{}/maybe", app.origin)).await,
        "hello user-0001"
    );
    let token_len: usize = browser
        .body_of(&format!("{}/token", app.origin))
        .await
        .parse()
        .unwrap();
    assert!(token_len > 100);

    // Sign out: same-origin POST; revokes the refresh token, clears the session, and goes
    // through the provider's end-session endpoint back to the app.
    let out = browser.sign_out_at(&app.origin).await;
    assert_eq!(out.status, 303);
    let end_session = url::Url::parse(out.location()).unwrap();
    assert!(
        end_session
            .as_str()
            .starts_with(&format!("{}/oauth/logout", app.provider.issuer()))
    );
    let params: std::collections::HashMap<_, _> = end_session.query_pairs().into_owned().collect();
    assert!(params.contains_key("id_token_hint"));
    assert_eq!(
        params["post_logout_redirect_uri"],
        format!("{}/", app.origin)
    );
    assert_eq!(app.provider.calls(Endpoint::Revoke), 1);
    assert!(
        browser.cookies.is_empty(),
        "every session cookie is removed: {:?}",
        browser.cookies.keys()
    );
    let back = browser.navigate(end_session.as_str()).await;
    assert_eq!(back.status, 302);
    assert_eq!(back.location(), format!("{}/", app.origin));

    let after = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(after.status, 302, "signed out");
    let me = browser
        .send(Method::GET, &format!("{}/auth/me", app.origin), &[])
        .await;
    assert_eq!(me.status, 401);
    assert_eq!(
        browser.body_of(&format!("{}/maybe", app.origin)).await,
        "hello stranger"
    );
}

#[tokio::test]
async fn api_calls_get_401_json_and_unknown_paths_stay_404() {
    let app = start().await;
    let mut browser = Browser::new();
    let api = browser
        .fetch_json(&format!("{}/api/data", app.origin))
        .await;
    assert_eq!(api.status, 401);
    assert_eq!(api.header("www-authenticate"), Some("Bearer"));
    let body: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(body["error"], "unauthenticated");

    let nav = browser.navigate(&format!("{}/api/data", app.origin)).await;
    assert_eq!(nav.status, 302);
    let grpc = browser.grpc_call(&format!("{}/api/echo", app.origin)).await;
    assert_eq!(grpc.header("grpc-status"), Some("16"));

    let missing = browser.navigate(&format!("{}/nope", app.origin)).await;
    assert_eq!(missing.status, 404);
    assert_eq!(browser.body_of(&format!("{}/", app.origin)).await, "home");

    browser.sign_in(&app, "/").await;
    let api = browser
        .fetch_json(&format!("{}/api/data", app.origin))
        .await;
    assert_eq!((api.status, api.body.as_str()), (200, "secret data"));
}

#[tokio::test]
async fn open_redirects_fall_back_to_the_home_page() {
    let app = start().await;
    for evil in [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "/ok\r\nx: y",
        "javascript:alert(1)",
    ] {
        let mut browser = Browser::new();
        let reply = browser.sign_in(&app, evil).await;
        assert_eq!(reply.status, 302);
        assert_eq!(reply.location(), "/", "return_to {evil:?}");
    }
}

#[tokio::test]
async fn a_tampered_or_foreign_session_cookie_is_signed_out_not_an_error() {
    let app = start().await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let (value, path) = browser.cookies["__Host-logi.session"].clone();
    let mut bytes = value.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    browser.cookies.insert(
        "__Host-logi.session".into(),
        (String::from_utf8(bytes).unwrap(), path),
    );

    let reply = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(reply.status, 302, "signed out");
    assert!(
        reply
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-logi.session=") && c.contains("Max-Age=0"))
    );
    assert!(browser.cookies.is_empty());

    // A cookie sealed by another app's key is just as unusable.
    let other = support::start_with(logi::testing::TestProvider::builder(), |b| {
        b.session_keys(
            logi::SessionKeys::from_base64_list("b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktb3RoZXI=")
                .unwrap(),
        )
    })
    .await;
    let mut elsewhere = Browser::new();
    elsewhere.sign_in(&other, "/").await;
    let mut browser = Browser::new();
    browser.cookies = elsewhere.cookies.clone();
    assert_eq!(
        browser
            .status_of(&format!("{}/dashboard", app.origin))
            .await,
        302
    );
}

#[tokio::test]
async fn state_mismatch_and_replayed_callbacks_are_refused() {
    let app = start().await;
    let mut browser = Browser::new();
    let to_provider = browser
        .navigate(&format!("{}/auth/login", app.origin))
        .await;
    let to_callback = browser.navigate(to_provider.location()).await;
    let callback = url::Url::parse(to_callback.location()).unwrap();

    // Another state than the one this browser started with.
    let mut forged = callback.clone();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    forged.set_query(Some(&format!("code={code}&state=not-the-state")));
    let reply = browser.navigate(forged.as_str()).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("Sign-in expired"), "{}", reply.body);
    assert!(!browser.cookies.contains_key("__Host-logi.session"));

    // The real callback works once...
    let saved_cookies = browser.cookies.clone();
    let ok = browser.navigate(callback.as_str()).await;
    assert_eq!(ok.status, 302);
    assert!(browser.cookies.contains_key("__Host-logi.session"));

    // ...and a replay is refused: without the spent transaction cookie, and even with a copy of it
    // (the provider's codes are single use).
    let mut replay = Browser::new();
    assert_eq!(replay.status_of(callback.as_str()).await, 400);
    replay.cookies = saved_cookies;
    let reply = replay.navigate(callback.as_str()).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("invalid_grant"), "{}", reply.body);
    assert!(reply.body.contains("code already used"), "{}", reply.body);
    assert!(!replay.cookies.contains_key("__Host-logi.session"));
}

#[tokio::test]
async fn provider_errors_become_a_clear_page() {
    let app = start().await;
    let mut browser = Browser::new();
    app.provider.deny_next_authorization();
    let to_provider = browser
        .navigate(&format!("{}/auth/login", app.origin))
        .await;
    let to_callback = browser.navigate(to_provider.location()).await;
    assert!(to_callback.location().contains("error=access_denied"));
    let reply = browser.navigate(to_callback.location()).await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("access_denied"), "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        !browser
            .cookies
            .keys()
            .any(|k| k.starts_with("__Host-logi.tx.")),
        "the transaction is spent"
    );

    // Markup in the provider's description to this browser's own sign-in is shown as text.
    let to_provider = browser
        .navigate(&format!("{}/auth/login", app.origin))
        .await;
    let state = url::Url::parse(to_provider.location())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let reply = browser
        .navigate(&format!("{}/auth/callback?error=invalid_request&error_description=%3Cscript%3Ex%3C%2Fscript%3E&state={state}", app.origin))
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("&lt;script&gt;x&lt;/script&gt;") && !reply.body.contains("<script>"),
        "{}",
        reply.body
    );
}

/// Every event the layer logs, each field as a subscriber's `Debug` visitor renders it (which
/// is how `tracing-subscriber` writes fields and messages).
#[derive(Clone, Default)]
struct Logged(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for Logged {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields<'a>(&'a mut Vec<String>);
        impl tracing::field::Visit for Fields<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push(format!("{}={value:?}", field.name()));
            }
        }
        event.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn a_callback_error_without_a_transaction_repeats_nothing_of_the_link() {
    let logged = Logged::default();
    // This test's runtime is single-threaded: the app's tasks log to this thread's subscriber.
    let _guard = tracing::subscriber::set_default(logged.clone());
    let app = start().await;
    let mut browser = Browser::new();
    let callback = |query: &str| format!("{}/auth/callback?{query}", app.origin);

    // An attacker's link: markup as the error code, their words as the description.
    let reply = browser
        .navigate(&callback(
            "error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_description=evil%20text%0Aforged%3A%20line&request_id=call-us-at-555&state=s",
        ))
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("Sign-in failed"), "{}", reply.body);
    for repeated in ["script", "alert", "evil text", "forged", "call-us-at-555"] {
        assert!(!reply.body.contains(repeated), "{repeated}: {}", reply.body);
    }

    // An unknown error code is not shown; a registered one is, never its description.
    let reply = browser
        .navigate(&callback(
            "error=please_call_support_now&error_description=evil%20text",
        ))
        .await;
    assert_eq!(reply.status, 400);
    assert!(!reply.body.contains("please_call_support_now") && !reply.body.contains("evil text"));
    for (code, status) in [
        ("login_required", 400),
        ("consent_required", 400),
        ("invalid_scope", 400),
        ("access_denied", 403),
    ] {
        let reply = browser
            .navigate(&callback(&format!(
                "error={code}&error_description=evil%20text&state=s"
            )))
            .await;
        assert_eq!(reply.status, status, "{code}");
        assert!(reply.body.contains(code), "{code}: {}", reply.body);
        assert!(!reply.body.contains("evil text"), "{}", reply.body);
    }
    assert!(browser.cookies.is_empty(), "no session, no cookie");

    // What reached the log came as escaped fields: no line of the attacker's made it through.
    let logged = logged.0.lock().unwrap().clone();
    assert!(
        logged.iter().any(|line| line.contains("alert(1)")),
        "the refusal is logged: {logged:#?}"
    );
    for line in &logged {
        assert!(
            !line.contains('\n') && !line.contains("=<script>"),
            "a field written with Display, unquoted: {line}"
        );
        if line.starts_with("message=") {
            assert!(!line.contains("alert") && !line.contains("evil"), "{line}");
        }
    }
}

#[tokio::test]
async fn a_provider_that_is_down_gives_502_or_503_never_500() {
    use logi::testing::Fault;
    let app = start().await;
    for (fault, expected) in [
        (Fault::Status(503), 503),
        (Fault::Status(500), 502),
        (Fault::DropConnection, 502),
    ] {
        let mut browser = Browser::new();
        let to_provider = browser
            .navigate(&format!("{}/auth/login", app.origin))
            .await;
        let to_callback = browser.navigate(to_provider.location()).await;
        app.provider.set_fault(Endpoint::Token, fault);
        let reply = browser.navigate(to_callback.location()).await;
        app.provider.clear_fault(Endpoint::Token);
        assert_eq!(reply.status, expected, "{fault:?}: {}", reply.body);
        assert!(!browser.cookies.contains_key("__Host-logi.session"));
    }
}

/// `POST /auth/logout` with only `headers`.
async fn sign_out_with(browser: &mut Browser, app: &App, headers: &[(&str, &str)]) -> Reply {
    let url = format!("{}/auth/logout", app.origin);
    browser.send(Method::POST, &url, headers).await
}

/// The refused sign-out left the session as it was, and revoked nothing at the provider.
async fn assert_still_signed_in(browser: &mut Browser, app: &App) {
    let dashboard = format!("{}/dashboard", app.origin);
    assert_eq!(browser.status_of(&dashboard).await, 200, "still signed in");
    assert_eq!(app.provider.calls(Endpoint::Revoke), 0);
}

#[tokio::test]
async fn cross_site_sign_out_is_refused() {
    let app = start().await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("origin", "https://evil.example")][..],
    ] {
        let reply = sign_out_with(&mut browser, &app, headers).await;
        assert_eq!(reply.status, 403);
    }
    assert_still_signed_in(&mut browser, &app).await;
    let get = browser
        .navigate(&format!("{}/auth/logout", app.origin))
        .await;
    assert_eq!(get.status, 405, "sign-out is POST only");
}

#[tokio::test]
async fn sign_out_without_sec_fetch_site_or_origin_is_refused() {
    let app = start().await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    for headers in [&[][..], &[("accept", "text/html")][..]] {
        let reply = sign_out_with(&mut browser, &app, headers).await;
        assert_eq!(reply.status, 403, "{headers:?}");
        assert!(reply.set_cookies().is_empty(), "{headers:?}");
    }
    assert_still_signed_in(&mut browser, &app).await;
    // With either header naming this site, signing out works.
    for headers in [
        &[("sec-fetch-site", "same-origin")][..],
        &[("origin", app.origin.as_str())][..],
    ] {
        let mut browser = Browser::new();
        browser.sign_in(&app, "/").await;
        let out = browser
            .send(
                Method::POST,
                &format!("{}/auth/logout", app.origin),
                headers,
            )
            .await;
        assert_eq!(out.status, 303, "{headers:?}");
        assert!(!browser.cookies.contains_key("__Host-logi.session"));
    }
}

#[tokio::test]
async fn several_tabs_can_sign_in_at_once() {
    let app = start().await;
    let mut browser = Browser::new();
    let tab1 = browser
        .navigate(&format!("{}/auth/login?return_to=/one", app.origin))
        .await;
    let tab2 = browser
        .navigate(&format!("{}/auth/login?return_to=/two", app.origin))
        .await;
    let back1 = browser.navigate(tab1.location()).await;
    let back2 = browser.navigate(tab2.location()).await;
    let done2 = browser.navigate(back2.location()).await;
    let done1 = browser.navigate(back1.location()).await;
    assert_eq!((done1.status, done1.location()), (302, "/one"));
    assert_eq!((done2.status, done2.location()), (302, "/two"));
}

#[tokio::test]
async fn a_test_session_signs_a_request_in_without_the_provider() {
    use logi::testing::TestSession;
    let app = start().await;
    let cookie = TestSession::new("user-0042")
        .claim("email", "grace@example.com")
        .claim("name", "Grace Hopper")
        .cookie_header(&app.logi);
    let reply = Browser::new()
        .send(
            Method::GET,
            &format!("{}/dashboard", app.origin),
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            200,
            "sub=user-0042 email=grace@example.com name=Grace Hopper"
        )
    );
    assert_eq!(app.provider.calls(Endpoint::Token), 0);
}

#[tokio::test]
async fn extractors_without_the_layer_answer_500_naming_it() {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/",
        get(|user: logi::LogiUser| async move { user.sub().to_owned() }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let reply = Browser::new().navigate(&format!("{origin}/")).await;
    assert_eq!(reply.status, 500);
    assert!(
        reply.body.contains("is `LogiLayer` installed"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn the_login_widget_gets_a_challenge_and_the_callback_finishes_its_sign_in() {
    let app = start().await;
    let mut browser = Browser::new();
    let same_origin = [
        ("origin", app.origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let reply = browser
        .send(
            Method::POST,
            &format!("{}/auth/challenge?return_to=/dashboard", app.origin),
            &same_origin,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let challenge: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(challenge["code_challenge_method"], "S256");
    assert_eq!(challenge["code_challenge"].as_str().unwrap().len(), 43);
    assert!(
        !reply.body.contains("verifier"),
        "the PKCE verifier never leaves the server's cookie"
    );
    assert!(
        browser
            .cookies
            .keys()
            .any(|k| k.starts_with("__Host-logi.tx."))
    );

    // What the widget does with it: an authorization request without our nonce.
    let mut authorize =
        url::Url::parse(challenge["authorization_endpoint"].as_str().unwrap()).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", challenge["client_id"].as_str().unwrap())
        .append_pair("redirect_uri", challenge["redirect_uri"].as_str().unwrap())
        .append_pair("scope", challenge["scope"].as_str().unwrap())
        .append_pair("state", challenge["state"].as_str().unwrap())
        .append_pair(
            "code_challenge",
            challenge["code_challenge"].as_str().unwrap(),
        )
        .append_pair("code_challenge_method", "S256");
    let to_callback = browser.navigate(authorize.as_str()).await;
    let callback = to_callback.location().to_owned();
    let signed_in = browser.navigate(&callback).await;
    assert_eq!(
        (signed_in.status, signed_in.location()),
        (302, "/dashboard"),
        "{}",
        signed_in.body
    );
    assert_eq!(
        browser
            .status_of(&format!("{}/dashboard", app.origin))
            .await,
        200
    );
    // Single use.
    assert_eq!(Browser::new().navigate(&callback).await.status, 400);

    // Refused cross-site, and only POST.
    let cross = browser
        .send(
            Method::POST,
            &format!("{}/auth/challenge", app.origin),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross.status, 403);
    assert!(cross.set_cookies().is_empty());
    assert_eq!(
        browser
            .status_of(&format!("{}/auth/challenge", app.origin))
            .await,
        405
    );
}

#[tokio::test]
async fn the_domain_verification_file_is_served_when_configured() {
    let app = support::start_with(logi::testing::TestProvider::builder(), |b| {
        b.domain_verification("logi-verify=3f2a9c")
    })
    .await;
    let mut browser = Browser::new();
    let reply = browser
        .navigate(&format!("{}/.well-known/logi-verification.txt", app.origin))
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "logi-verify=3f2a9c")
    );
    let plain = start().await;
    let reply = browser
        .navigate(&format!(
            "{}/.well-known/logi-verification.txt",
            plain.origin
        ))
        .await;
    assert_eq!(reply.status, 404, "not served unless configured");
}

/// The names under which a sibling subdomain (or a plain-HTTP page of the same host) can plant
/// a cookie in the user's browser: any name but a `__Host-` one, which browsers accept only
/// from the host itself, over a secure connection, without `Domain`. Lower case counts as
/// unprefixed, as it did in browsers before prefixes were matched case-insensitively.
fn plantable_as(name: &str) -> Vec<String> {
    match name.strip_prefix("__Host-") {
        Some(rest) => vec![
            rest.to_owned(),
            format!("__Secure-{rest}"),
            format!("__host-{rest}"),
        ],
        None => vec![name.to_owned()],
    }
}

#[tokio::test]
async fn a_transaction_tossed_in_by_a_sibling_subdomain_signs_nobody_in() {
    let app = start().await;

    // The attacker starts a sign-in in their own browser and signs in at the provider, but
    // keeps the callback URL (their code and state) instead of following it.
    let mut attacker = Browser::new();
    let to_provider = attacker
        .navigate(&format!("{}/auth/login", app.origin))
        .await;
    let set_cookies = to_provider.set_cookies();
    let (name, value) = set_cookies
        .iter()
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .find(|(name, _)| name.contains("logi.tx"))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .expect("a transaction cookie");
    let to_callback = attacker.navigate(to_provider.location()).await;
    let callback = to_callback.location().to_owned();
    assert!(callback.contains("code="), "{callback}");

    // From a sibling subdomain, they plant that transaction in the victim's browser under every
    // name they can, with a Domain (which this jar ignores) and on the callback's path, then
    // send the victim to their callback URL.
    for planted in plantable_as(&name) {
        for path in ["/", "/auth/callback"] {
            let mut victim = Browser::new();
            victim
                .cookies
                .insert(planted.clone(), (value.clone(), path.to_owned()));
            let reply = victim.navigate(&callback).await;
            assert_eq!(
                reply.status,
                400,
                "{planted} on {path}: {} {}",
                reply.location(),
                reply.body
            );
            assert!(reply.body.contains("Sign-in expired"), "{}", reply.body);
            assert!(
                !victim.cookies.contains_key("__Host-logi.session"),
                "{planted} on {path} signed the victim in as the attacker"
            );
        }
    }
    assert_eq!(
        app.provider.calls(Endpoint::Token),
        0,
        "the attacker's code is never redeemed"
    );

    // The victim's own sign-in, started in their browser, is unaffected by a planted one.
    let mut victim = Browser::new();
    victim
        .cookies
        .insert(plantable_as(&name)[0].clone(), (value, "/".into()));
    let signed_in = victim.sign_in(&app, "/dashboard").await;
    assert_eq!(
        (signed_in.status, signed_in.location()),
        (302, "/dashboard")
    );
}

/// The `Cookie` header `browser` sends to the app's `path`, as a browser would build it.
fn cookie_header_len(browser: &Browser, path: &str) -> usize {
    let pairs: Vec<usize> = browser
        .cookies
        .iter()
        .filter(|(_, (_, p))| path.starts_with(p.as_str()))
        .map(|(k, (v, _))| k.len() + 1 + v.len())
        .collect();
    pairs.iter().sum::<usize>() + 2 * pairs.len().saturating_sub(1)
}

#[tokio::test]
async fn unfinished_sign_ins_stay_bounded_and_a_normal_one_still_completes() {
    let app = start().await;
    let mut browser = Browser::new();
    let long_return_to = format!("/reports?q={}", "x".repeat(2000));
    let login = format!(
        "{}/auth/login?return_to={}",
        app.origin,
        url::form_urlencoded::byte_serialize(long_return_to.as_bytes()).collect::<String>()
    );

    // The first of 25 tabs gets as far as the provider; then 24 more start a sign-in.
    let first = browser.navigate(&login).await;
    let first_callback = browser.navigate(first.location()).await;
    for tab in 1..25 {
        let reply = browser.navigate(&login).await;
        assert_eq!(reply.status, 302, "tab {tab}");
        for (name, (value, _)) in &browser.cookies {
            assert!(
                name.len() + 1 + value.len() <= 4096,
                "tab {tab}: {name} is {} bytes",
                name.len() + 1 + value.len()
            );
        }
        let transactions = browser
            .cookies
            .keys()
            .filter(|k| k.contains("logi.tx"))
            .count();
        assert!(transactions <= 4, "tab {tab}: {transactions} transactions");
        for path in ["/", "/auth/callback"] {
            let len = cookie_header_len(&browser, path);
            assert!(
                len <= 4096,
                "tab {tab}: a {len}-byte Cookie header to {path}"
            );
        }
    }

    // A normal sign-in completes, and spends its own transaction only.
    let transactions = |browser: &Browser| {
        browser
            .cookies
            .keys()
            .filter(|k| k.contains("logi.tx"))
            .count()
    };
    let pending = transactions(&browser);
    let signed_in = browser.sign_in(&app, "/dashboard").await;
    assert_eq!(
        (signed_in.status, signed_in.location()),
        (302, "/dashboard"),
        "{}",
        signed_in.body
    );
    assert_eq!(transactions(&browser), pending - 1);
    let page = browser.navigate(&format!("{}/dashboard", app.origin)).await;
    assert_eq!(page.status, 200);
    assert!(cookie_header_len(&browser, "/dashboard") <= 8192);

    // The oldest sign-in was dropped to make room: its callback is "expired", not an error.
    let late = browser.navigate(first_callback.location()).await;
    assert_eq!(late.status, 400);
    assert!(late.body.contains("Sign-in expired"), "{}", late.body);
}

#[tokio::test]
async fn an_over_long_return_to_becomes_the_home_page() {
    let app = start().await;
    let kept = format!("/reports?q={}", "x".repeat(1000));
    let mut browser = Browser::new();
    let reply = browser.sign_in(&app, &kept).await;
    assert_eq!((reply.status, reply.location()), (302, kept.as_str()));
    let too_long = format!("/reports?q={}", "x".repeat(1100));
    let reply = Browser::new().sign_in(&app, &too_long).await;
    assert_eq!((reply.status, reply.location()), (302, "/"));
}

#[tokio::test]
async fn a_token_response_without_an_id_token_fails_like_an_invalid_id_token() {
    let app = start().await;

    // An ID token that fails verification: the authorization request went without the nonce,
    // so the provider's ID token lacks the one this sign-in expects.
    let mut browser = Browser::new();
    let to_provider = browser
        .navigate(&format!("{}/auth/login", app.origin))
        .await;
    let mut authorize = url::Url::parse(to_provider.location()).unwrap();
    let params: Vec<(String, String)> = authorize
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "nonce")
        .collect();
    authorize.query_pairs_mut().clear().extend_pairs(params);
    let to_callback = browser.navigate(authorize.as_str()).await;
    let invalid = browser.navigate(to_callback.location()).await;
    assert_eq!(invalid.status, 400, "{}", invalid.body);
    assert!(
        invalid.body.contains("The sign-in could not be verified."),
        "{}",
        invalid.body
    );

    // A token response with no ID token at all: the same page, the same status.
    app.provider.omit_next_id_token();
    let mut browser = Browser::new();
    let reply = browser.sign_in(&app, "/dashboard").await;
    assert_eq!(app.provider.calls(Endpoint::Token), 2);
    assert_eq!(reply.status, invalid.status, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    for same in ["Sign-in failed", "The sign-in could not be verified."] {
        assert!(reply.body.contains(same), "{same}: {}", reply.body);
    }
    assert!(!browser.cookies.contains_key("__Host-logi.session"));

    // The provider is fine again: the next sign-in works.
    let reply = Browser::new().sign_in(&app, "/dashboard").await;
    assert_eq!((reply.status, reply.location()), (302, "/dashboard"));
}
