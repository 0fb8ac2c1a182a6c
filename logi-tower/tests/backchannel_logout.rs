//! OpenID Connect Back-Channel Logout over real HTTP: the test provider mints logout tokens,
//! the test POSTs them to `/auth/backchannel-logout` as a provider would, and browsers show
//! which sessions ended, on one instance or on two (two independent layers sharing one Redis,
//! as two processes would). Refused tokens are 400 and end nothing.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::time::Duration;

use logi::LogiLayerBuilder;
use logi::store::{MemoryStore, SessionStore};
use logi::testing::{TestClient, TestProvider};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Browser, CLIENT_ID, CLIENT_SECRET, Instances, Reply, start_with};

const SESSION_COOKIE: &str = "__Host-logi.session";
const USER: &str = "user-0001";

/// Starts `n` instances, each with a layer configured by `configure` (called once per
/// instance, so each gets its own store or coordination connection); the provider delivers
/// back-channel logouts to the first.
async fn cluster<F, Fut>(n: usize, configure: F) -> Instances
where
    F: Fn(LogiLayerBuilder) -> Fut,
    Fut: Future<Output = LogiLayerBuilder>,
{
    let client = |client: TestClient, origins: &[String]| {
        client.with_backchannel_logout_uri(format!("{}/auth/backchannel-logout", origins[0]))
    };
    support::start_instances_with(TestProvider::builder(), n, client, configure).await
}

/// Signs `browser` in on `origin` through the provider.
async fn sign_in(browser: &mut Browser, origin: &str) {
    let signed_in = browser.sign_in_at(origin, "/").await;
    assert_eq!(signed_in.status, 302, "{}", signed_in.body);
    assert!(browser.cookies.contains_key(SESSION_COOKIE));
}

/// The status of `/dashboard` on `origin`: 200 signed in, 302 sent to sign in.
async fn dashboard(browser: &mut Browser, origin: &str) -> u16 {
    browser.status_of(&format!("{origin}/dashboard")).await
}

/// POSTs `logout_token={token}` as the provider would: no cookies, a form body.
async fn back_channel(origin: &str, token: &str) -> Reply {
    let response = reqwest::Client::new()
        .post(format!("{origin}/auth/backchannel-logout"))
        .form(&[("logout_token", token)])
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

fn assert_done(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

/// The provider session of the one sign-in of the user since `before` was taken.
fn new_sid(provider: &TestProvider, before: &[String]) -> String {
    let mut new: Vec<String> = provider
        .session_ids(USER)
        .into_iter()
        .filter(|sid| !before.contains(sid))
        .collect();
    assert_eq!(new.len(), 1, "one new sign-in");
    new.remove(0)
}

/// Waits past the current millisecond: a sign-out ends the sessions created up to and
/// including its millisecond (a sign-in in the same second after it is not ended).
async fn next_millisecond() {
    tokio::time::sleep(Duration::from_millis(2)).await;
}

/// The shared scenario: a user signed in on the first instance, signed out by a logout token
/// the second instance receives, is signed out on both, and can sign in again; then the same
/// by provider session (`sid`), which ends that sign-in only.
async fn logout_everywhere(cluster: &Instances) {
    let (first, second) = (&cluster.origins[0], &cluster.origins[1]);
    let mut browser = Browser::new();
    sign_in(&mut browser, first).await;
    for origin in [first, second] {
        assert_eq!(dashboard(&mut browser, origin).await, 200, "{origin}");
    }
    let cookies = browser.cookies.clone();

    let token = cluster.provider.logout_token(CLIENT_ID).sub(USER).sign();
    assert_done(&back_channel(second, &token).await);
    for origin in [first, second] {
        browser.cookies = cookies.clone();
        assert_eq!(
            dashboard(&mut browser, origin).await,
            302,
            "signed out on {origin}"
        );
        assert!(
            !browser.cookies.contains_key(SESSION_COOKIE),
            "the signed-out cookie is removed"
        );
    }

    // Signing in again works, on both instances.
    next_millisecond().await;
    sign_in(&mut browser, second).await;
    for origin in [first, second] {
        assert_eq!(dashboard(&mut browser, origin).await, 200, "{origin}");
    }

    // By provider session: two sign-ins (two browsers), one of them ended.
    let before = cluster.provider.session_ids(USER);
    let mut other = Browser::new();
    sign_in(&mut other, first).await;
    let other_sid = new_sid(&cluster.provider, &before);
    let token = cluster
        .provider
        .logout_token(CLIENT_ID)
        .sid(other_sid)
        .sign();
    assert_done(&back_channel(first, &token).await);
    for origin in [first, second] {
        assert_eq!(dashboard(&mut other, origin).await, 302, "{origin}");
        assert_eq!(
            dashboard(&mut browser, origin).await,
            200,
            "another sign-in of the same user stays on {origin}"
        );
    }
}

#[tokio::test]
async fn the_provider_says_it_supports_back_channel_logout() {
    let provider = TestProvider::start().await.unwrap();
    let discovery: Value = reqwest::get(provider.discovery_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);
}

/// Two instances sharing one Redis session store.
#[cfg(feature = "redis")]
#[tokio::test]
async fn two_instances_with_a_redis_store() {
    logout_everywhere_on_redis(|b, redis| b.session_store(redis)).await;
}

/// Two instances with sealed cookie sessions, coordinated through Redis: the denylist.
#[cfg(feature = "redis")]
#[tokio::test]
async fn two_instances_with_cookie_sessions_and_redis_coordination() {
    logout_everywhere_on_redis(|b, redis| b.coordination(redis)).await;
}

/// [`logout_everywhere`] on two instances that `use_redis` puts on one Redis.
#[cfg(feature = "redis")]
async fn logout_everywhere_on_redis(
    use_redis: fn(logi::LogiLayerBuilder, logi::store::RedisStore) -> logi::LogiLayerBuilder,
) {
    let Some(server) = support::redis_server::RedisServer::start("back-channel logout on Redis")
    else {
        return;
    };
    let url = server.url.clone();
    let cluster = cluster(2, |b| {
        let url = url.clone();
        async move { use_redis(b, logi::store::RedisStore::connect(&url).await.unwrap()) }
    })
    .await;
    logout_everywhere(&cluster).await;
}

/// Two layers in one process sharing a `MemoryStore` as their session store.
#[tokio::test]
async fn two_layers_sharing_a_memory_store() {
    let store = MemoryStore::new();
    let cluster = cluster(2, |b| {
        let store = store.clone();
        async move { b.session_store(store) }
    })
    .await;
    logout_everywhere(&cluster).await;
}

/// One instance with sealed cookie sessions and no coordination: the in-memory denylist.
#[tokio::test]
async fn one_instance_with_cookie_sessions() {
    let app = start_with(TestProvider::builder(), |b| b).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let before = app.provider.session_ids(USER);
    let mut other = Browser::new();
    other.sign_in(&app, "/").await;
    let stale = other.cookies.clone();
    let dashboard_url = format!("{}/dashboard", app.origin);

    // By sid: only that sign-in ends.
    let sid = new_sid(&app.provider, &before);
    let token = app.provider.logout_token(CLIENT_ID).sid(sid).sign();
    assert_done(&back_channel(&app.origin, &token).await);
    assert_eq!(other.status_of(&dashboard_url).await, 302);
    assert_eq!(browser.status_of(&dashboard_url).await, 200);

    // By sub: every sign-in of the user ends, and a stale copy of a cookie stays signed out.
    let token = app.provider.logout_token(CLIENT_ID).sub(USER).sign();
    assert_done(&back_channel(&app.origin, &token).await);
    assert_eq!(browser.status_of(&dashboard_url).await, 302);
    other.cookies = stale;
    assert_eq!(other.status_of(&dashboard_url).await, 302);

    // Another user is untouched; the user signs in again.
    let cookie = logi::testing::TestSession::new("user-0002").cookie_header(&app.logi);
    let reply = reqwest::Client::new()
        .get(&dashboard_url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    next_millisecond().await;
    browser.sign_in(&app, "/").await;
    assert_eq!(browser.status_of(&dashboard_url).await, 200);
}

/// Signing out at the provider (RP-initiated logout, from the second instance) makes the
/// provider deliver a back-channel logout to the first: a copy of the session's cookie is then
/// signed out on both instances. Cookie sessions, two layers coordinated through one
/// `MemoryStore`.
#[tokio::test]
async fn signing_out_at_the_provider_delivers_a_back_channel_logout() {
    let coordination = MemoryStore::new();
    let cluster = cluster(2, |b| {
        let coordination = coordination.clone();
        async move { b.coordination(coordination) }
    })
    .await;
    let (first, second) = (&cluster.origins[0], &cluster.origins[1]);
    let mut browser = Browser::new();
    sign_in(&mut browser, first).await;
    let copy = browser.cookies.clone();

    let out = browser.sign_out_at(second).await;
    assert_eq!(out.status, 303);
    assert!(
        out.location().contains("id_token_hint="),
        "{}",
        out.location()
    );
    assert!(cluster.provider.backchannel_logouts().is_empty());
    let back = browser.navigate(out.location()).await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert_eq!(cluster.provider.backchannel_logouts(), [200]);

    for origin in [first, second] {
        browser.cookies = copy.clone();
        assert_eq!(dashboard(&mut browser, origin).await, 302, "{origin}");
    }
}

/// A logout token signed with HS256 under the client secret (the classic confusion attack).
fn hs256(claims: &Value) -> String {
    use aws_lc_rs::hmac;
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "HS256", "typ": "JWT"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, CLIENT_SECRET.as_bytes());
    let tag = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// An unsigned token (`alg: none`).
fn unsigned(claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

#[tokio::test]
async fn refused_logout_tokens_end_nothing() {
    let store = MemoryStore::new();
    let configured = store.clone();
    let app = start_with(TestProvider::builder(), |b| b.session_store(configured)).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "/").await;
    let dashboard_url = format!("{}/dashboard", app.origin);
    assert_eq!(browser.status_of(&dashboard_url).await, 200);
    let sid = app.provider.session_ids(USER).last().unwrap().clone();

    let provider = &app.provider;
    let valid = || provider.logout_token(CLIENT_ID).sub(USER).sid(sid.clone());
    let stranger = TestProvider::start().await.unwrap();
    let wrong_key = stranger.sign_with_header(
        &json!({"alg": "RS256", "kid": provider.current_kid(), "typ": "logout+jwt"}),
        &valid().claims(),
    );
    let used = valid().sign();
    assert_done(&back_channel(&app.origin, &used).await);
    assert_eq!(browser.status_of(&dashboard_url).await, 302);
    let before = app.provider.session_ids(USER);
    browser.sign_in(&app, "/").await;
    assert_eq!(browser.status_of(&dashboard_url).await, 200);
    let sid = new_sid(provider, &before);
    let valid = || provider.logout_token(CLIENT_ID).sub(USER).sid(sid.clone());

    let cases: Vec<(&str, String)> = vec![
        ("a replayed jti", used.clone()),
        (
            "the same jti in another token",
            valid().jti(used_jti(&used)).sign(),
        ),
        ("an unsigned token", unsigned(&valid().claims())),
        ("an HS256 token", hs256(&valid().claims())),
        ("a wrong signature", wrong_key),
        ("an expired token", valid().expired().sign()),
        (
            "another audience",
            valid().claim("aud", "logi_other").sign(),
        ),
        (
            "another issuer",
            valid().claim("iss", "https://evil.example").sign(),
        ),
        ("a nonce", valid().nonce("n-0S6_WzA2Mj").sign()),
        ("no events", valid().without("events").sign()),
        (
            "events without the back-channel logout",
            valid()
                .events(json!({"http://schemas.openid.net/event/other": {}}))
                .sign(),
        ),
        (
            "neither sid nor sub",
            provider.logout_token(CLIENT_ID).sign(),
        ),
        ("no jti", valid().without("jti").sign()),
    ];
    for (case, token) in &cases {
        let reply = back_channel(&app.origin, token).await;
        assert_eq!(reply.status, 400, "{case}: {}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["error"], "invalid_request", "{case}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            !description.is_empty() && description.len() < 100,
            "{case}: {description}"
        );
        let payload = token.split('.').nth(1).unwrap();
        assert!(
            !reply.body.contains(payload),
            "{case}: the token is not echoed"
        );
    }

    // Requests that are not a back-channel logout at all.
    let http = reqwest::Client::new();
    let url = format!("{}/auth/backchannel-logout", app.origin);
    let get = http.get(&url).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    let json_body = http
        .post(&url)
        .json(&json!({"logout_token": valid().sign()}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 400, "only a form body");
    let missing = http
        .post(&url)
        .form(&[("token", valid().sign())])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let twice = http
        .post(&url)
        .form(&[
            ("logout_token", valid().sign()),
            ("logout_token", valid().sign()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    let huge = http
        .post(&url)
        .form(&[("logout_token", "a".repeat(64 * 1024))])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 400);

    // Nothing was ended: the session is still there and signed in.
    assert_eq!(store.list_by_sub(USER).await.unwrap().len(), 1);
    assert_eq!(browser.status_of(&dashboard_url).await, 200);
    // The back-channel endpoint never touches the browser's session cookie.
    let reply = browser
        .send(Method::POST, &url, &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.set_cookies().is_empty());
}

fn used_jti(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

/// A store or coordination that cannot be reached: the logout is 503 (the provider retries),
/// and, with cookie sessions checked against the coordination, requests that need the user are
/// 503 too (fail closed) rather than let a possibly signed-out session through.
#[cfg(feature = "redis")]
#[tokio::test]
async fn an_unreachable_redis_is_503_and_fails_closed() {
    let Some(mut server) =
        support::redis_server::RedisServer::start("back-channel logout on Redis")
    else {
        return;
    };
    let url = server.url.clone();
    let cluster = cluster(2, |b| {
        let url = url.clone();
        async move {
            let redis = logi::store::RedisStore::connect(&url).await.unwrap();
            b.coordination(redis)
        }
    })
    .await;
    let (first, second) = (&cluster.origins[0], &cluster.origins[1]);
    let mut browser = Browser::new();
    sign_in(&mut browser, first).await;
    assert_eq!(dashboard(&mut browser, second).await, 200);

    server.stop();
    let token = cluster.provider.logout_token(CLIENT_ID).sub(USER).sign();
    let reply = back_channel(first, &token).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.header("retry-after").is_some());
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    let page = browser.fetch_json(&format!("{second}/api/data")).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        browser.cookies.contains_key(SESSION_COOKIE),
        "an outage ends no session"
    );
}
