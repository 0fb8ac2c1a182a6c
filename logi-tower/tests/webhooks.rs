//! logi webhooks over real HTTP: an axum app on 127.0.0.1:0 receiving deliveries signed here
//! with aws-lc-rs, through the `LogiWebhook` extractor and through `WebhookLayer`. Every refusal
//! is a 401 with a short JSON reason, and the handlers' calls are counted to show they never ran.

#![cfg(all(feature = "webhooks", feature = "axum"))]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::Router;
use axum::routing::post;
use http_body_util::BodyExt;
use logi::Secret;
use logi::webhooks::{LogiEvent, LogiWebhook, WebhookBody, WebhookLayer, WebhookVerifier};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use self::clock::unix_now_signed as now;
use self::webhook_signing::{legacy_signature, mac};

#[path = "support/clock.rs"]
#[allow(dead_code, unreachable_pub)]
mod clock;
#[path = "support/webhook_signing.rs"]
#[allow(dead_code, unreachable_pub)]
mod webhook_signing;

#[cfg(feature = "redis")]
#[path = "support/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;
#[cfg(feature = "redis")]
#[path = "support/skip.rs"]
#[allow(unreachable_pub)]
mod skip;

const K1: &str = "whsec_one_0123456789";
const K2: &str = "whsec_two_0123456789";
const LEGACY: &str = "whsec_legacy_0123456789";
const FETCHED: &str = "whsec_fetched_0123456789";

struct App {
    origin: String,
    http: reqwest::Client,
    /// Calls of the handlers (extractor route and layer route).
    handled: Arc<AtomicUsize>,
    /// Calls of the key-fetching hook.
    fetches: Arc<AtomicUsize>,
}

/// What came back.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

/// Current-format headers.
fn current(secret: &str, kid: &str, t: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![(
        "x-logi-signature",
        webhook_signing::signature(secret, kid, t, body),
    )]
}

/// Legacy-format headers.
fn legacy(secret: &str, t: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("x-logi-signature", legacy_signature(secret, body)),
        ("x-logi-timestamp", t.to_string()),
    ]
}

/// A distinct payload per call, so that deliveries are not replays of each other.
fn payload(event: &str) -> Vec<u8> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    serde_json::to_vec(
        &json!({"type": event, "id": format!("evt_{n}"), "data": {"sub": "user-0001"}}),
    )
    .unwrap()
}

async fn start() -> App {
    let handled = Arc::new(AtomicUsize::new(0));
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let verifier = WebhookVerifier::builder()
        .secret("k1", K1)
        .secret("k2", K2)
        .legacy_secret(LEGACY)
        .on_unknown_kid(move |kid| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(if kid == "k9" {
                    vec![(kid, Secret::new(FETCHED))]
                } else {
                    Vec::new()
                })
            }
        })
        .build()
        .unwrap();
    // A second verifier for the layer route: its own replay memory, no fetch hook.
    let layered = WebhookVerifier::builder().secret("k1", K1).build().unwrap();

    let on_extractor = Arc::clone(&handled);
    let on_layer = Arc::clone(&handled);
    let layer_route = tower::ServiceBuilder::new()
        .layer(WebhookLayer::new(layered))
        .service(tower::service_fn(
            move |request: http::Request<WebhookBody>| {
                let on_layer = Arc::clone(&on_layer);
                async move {
                    on_layer.fetch_add(1, Ordering::SeqCst);
                    let event = request.extensions().get::<LogiEvent>().unwrap().clone();
                    let raw = request.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(&raw, event.raw(), "the inner service gets the raw body");
                    let reply =
                        json!({"event": event.name(), "sub": event.sub(), "kid": event.key_id()});
                    Ok::<_, Infallible>(http::Response::new(reply.to_string()))
                }
            },
        ));
    let app = Router::new()
        .route(
            "/webhooks/logi",
            post(move |LogiWebhook(event): LogiWebhook| {
                let on_extractor = Arc::clone(&on_extractor);
                async move {
                    on_extractor.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({
                        "event": event.name(),
                        "sub": event.sub(),
                        "kid": event.key_id(),
                        "withdraws_access": event.withdraws_access(),
                    }))
                }
            }),
        )
        .route_service("/layered", layer_route)
        .layer(axum::Extension(verifier))
        .route(
            "/unwired",
            post(|LogiWebhook(event): LogiWebhook| async move { event.name().to_owned() }),
        );

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    App {
        origin,
        http,
        handled,
        fetches,
    }
}

impl App {
    async fn post(&self, path: &str, headers: &[(&'static str, String)], body: Vec<u8>) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        let response = self
            .http
            .post(format!("{}{path}", self.origin))
            .headers(map)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    async fn deliver(&self, headers: &[(&'static str, String)], body: Vec<u8>) -> Reply {
        self.post("/webhooks/logi", headers, body).await
    }

    fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }

    /// Asserts a 401 with `code`, and that no handler ran.
    async fn refused(&self, code: &str, headers: &[(&'static str, String)], body: Vec<u8>) {
        let before = self.handled();
        let reply = self.deliver(headers, body).await;
        assert_eq!((reply.status, reply.error()), (401, code), "{reply:?}");
        assert!(
            reply.body["error_description"].is_string(),
            "a short reason: {reply:?}"
        );
        assert_eq!(self.handled(), before, "the handler must not run");
    }
}

#[tokio::test]
async fn accepts_both_formats_and_types_the_event() {
    let app = start().await;
    let body = payload("user.deleted");
    let reply = app.deliver(&current(K1, "k1", now(), &body), body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body,
        json!({"event": "user.deleted", "sub": "user-0001", "kid": "k1", "withdraws_access": true})
    );

    // A second active key (rotation grace period).
    let body = payload("user.merged");
    let reply = app.deliver(&current(K2, "k2", now(), &body), body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["event"], "user.merged");
    assert_eq!(reply.body["withdraws_access"], false);

    let body = payload("consent.revoked");
    let reply = app.deliver(&legacy(LEGACY, now(), &body), body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["event"], "consent.revoked");
    assert_eq!(reply.body["kid"], Value::Null);

    // The name may come in `event`; unknown names are kept.
    let body = serde_json::to_vec(&json!({"event": "user.renamed", "sub": "user-0002"})).unwrap();
    let reply = app.deliver(&current(K1, "k1", now(), &body), body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["event"], "user.renamed");
    assert_eq!(reply.body["sub"], "user-0002");

    assert_eq!(app.handled(), 4);
}

#[tokio::test]
async fn refuses_a_tampered_body() {
    let app = start().await;
    let body = payload("user.deleted");
    let headers = current(K1, "k1", now(), &body);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    app.refused("bad_signature", &headers, tampered).await;

    let body = payload("user.deleted");
    let headers = legacy(LEGACY, now(), &body);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("user-0001", "user-0666")
        .into_bytes();
    app.refused("bad_signature", &headers, tampered).await;
}

#[tokio::test]
async fn refuses_a_wrong_key() {
    let app = start().await;
    let body = payload("user.deleted");
    app.refused("bad_signature", &current(K2, "k1", now(), &body), body)
        .await;
    let body = payload("user.deleted");
    app.refused("bad_signature", &legacy(K1, now(), &body), body)
        .await;
    let body = payload("user.deleted");
    app.refused("bad_signature", &current(LEGACY, "k1", now(), &body), body)
        .await;
}

#[tokio::test]
async fn calls_the_fetch_hook_at_most_once_a_minute() {
    let app = start().await;
    // k9 is unknown but the hook knows it: fetched once, then known.
    let body = payload("token.revoked");
    let reply = app
        .deliver(&current(FETCHED, "k9", now(), &body), body)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["kid"], "k9");
    assert_eq!(app.fetches.load(Ordering::SeqCst), 1);
    let body = payload("token.revoked");
    let reply = app
        .deliver(&current(FETCHED, "k9", now(), &body), body)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(app.fetches.load(Ordering::SeqCst), 1, "k9 is known now");

    // k8 is unknown to the hook too: within the minute, refused at once, and the hook is not
    // called again (one call is scheduled for when the minute ends).
    for _ in 0..3 {
        let body = payload("token.revoked");
        app.refused("unknown_kid", &current(K1, "k8", now(), &body), body)
            .await;
    }
    assert_eq!(app.fetches.load(Ordering::SeqCst), 1);
}

/// A flood of deliveries with made-up kids and garbage signatures (most given up on at once,
/// as senders that disconnect) before and while logi starts signing with a newly published
/// key: the genuine delivery is accepted once the fetch interval allows a call (the flood can
/// neither use up the calls, nor cancel the one that happens, nor push it out), and the flood
/// costs at most one call per interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_cannot_keep_a_new_key_out() {
    const INTERVAL: Duration = Duration::from_secs(1);
    let published = Arc::new(std::sync::Mutex::new(vec![("k1".to_owned(), K1)]));
    let calls = Arc::new(AtomicUsize::new(0));
    let (keys, counter) = (Arc::clone(&published), Arc::clone(&calls));
    let verifier = WebhookVerifier::builder()
        .fetch_interval(INTERVAL)
        .on_unknown_kid(move |_kid| {
            let (keys, counter) = (Arc::clone(&keys), Arc::clone(&counter));
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                // A slow secret store: callers that give up must not cancel the call.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let keys = keys.lock().unwrap().clone();
                Ok(keys
                    .into_iter()
                    .map(|(kid, secret)| (kid, Secret::new(secret)))
                    .collect())
            }
        })
        .build()
        .unwrap();
    let to_headers = |signature: &[(&'static str, String)]| {
        let mut headers = http::HeaderMap::new();
        for (name, value) in signature {
            headers.insert(*name, http::HeaderValue::from_str(value).unwrap());
        }
        headers
    };
    let body = payload("user.deleted");
    let first = verifier
        .verify(&to_headers(&current(K1, "k1", now(), &body)), body.into())
        .await;
    assert!(first.is_ok(), "{first:?}");
    let started = std::time::Instant::now();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let garbage = |i: usize| {
        let body = payload("user.deleted");
        let signature = format!("t={},kid=made-up-{i},v1={}", now(), "ab".repeat(32));
        (to_headers(&[("x-logi-signature", signature)]), body)
    };
    let flood: Vec<_> = (0..200)
        .map(|i| {
            let (verifier, (headers, body)) = (verifier.clone(), garbage(i));
            tokio::spawn(async move {
                let verified = verifier.verify(&headers, body.into());
                if i % 2 == 0 {
                    let _ = tokio::time::timeout(Duration::from_millis(1), verified).await;
                    None
                } else {
                    Some(verified.await.map(drop).map_err(|e| e.kind()))
                }
            })
        })
        .collect();

    // logi publishes a new key and signs with it; the flood goes on (four senders giving up
    // after 2 ms, about a thousand a second each) until the genuine delivery is accepted.
    published
        .lock()
        .unwrap()
        .push(("k-new".to_owned(), FETCHED));
    let done = Arc::new(AtomicBool::new(false));
    let deadline = started + 2 * INTERVAL + Duration::from_secs(5);
    let senders: Vec<_> = (0..4)
        .map(|n| {
            let (verifier, done) = (verifier.clone(), Arc::clone(&done));
            let garbage: Vec<_> = (0..50).map(|i| garbage(1000 * (n + 1) + i)).collect();
            tokio::spawn(async move {
                for (headers, body) in garbage.iter().cycle() {
                    if done.load(Ordering::SeqCst) || std::time::Instant::now() > deadline {
                        return;
                    }
                    let _ = tokio::time::timeout(
                        Duration::from_millis(2),
                        verifier.verify(headers, body.clone().into()),
                    )
                    .await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        })
        .collect();
    let body = payload("user.deleted");
    let genuine = to_headers(&current(FETCHED, "k-new", now(), &body));
    let event = loop {
        match verifier.verify(&genuine, body.clone().into()).await {
            Ok(event) => break event,
            Err(error) => assert_eq!(error.kind().code(), "unknown_kid"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the genuine delivery is accepted once the interval allows a call"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let elapsed = started.elapsed();
    done.store(true, Ordering::SeqCst);
    assert_eq!(event.key_id(), Some("k-new"));
    for sender in senders {
        sender.await.unwrap();
    }
    for task in flood {
        if let Some(refused) = task.await.unwrap() {
            assert_eq!(refused, Err(logi::webhooks::WebhookErrorKind::UnknownKid));
        }
    }
    let calls = calls.load(Ordering::SeqCst) as u128;
    assert!(
        calls <= 2 + elapsed.as_millis() / INTERVAL.as_millis(),
        "{calls} calls in {elapsed:?}"
    );
}

#[tokio::test]
async fn refuses_an_unknown_kid_without_a_fetch_hook() {
    let app = start().await;
    let body = payload("user.deleted");
    let reply = app
        .post("/layered", &current(K2, "k2", now(), &body), body)
        .await;
    assert_eq!(
        (reply.status, reply.error()),
        (401, "unknown_kid"),
        "{reply:?}"
    );
    // Nor is a legacy signature accepted where no legacy secret is set.
    let body = payload("user.deleted");
    let reply = app.post("/layered", &legacy(K1, now(), &body), body).await;
    assert_eq!(
        (reply.status, reply.error()),
        (401, "unknown_kid"),
        "{reply:?}"
    );
    assert_eq!(app.handled(), 0);
}

#[tokio::test]
async fn holds_the_clock_to_five_minutes_either_way() {
    let app = start().await;
    // A few seconds past the limit, so that the second ticking between here and the server does
    // not matter (the exact boundary is a unit test).
    for skew in [-305, 305, -3600, 3600] {
        let body = payload("user.deleted");
        app.refused(
            "timestamp_out_of_tolerance",
            &current(K1, "k1", now() + skew, &body),
            body,
        )
        .await;
        let body = payload("user.deleted");
        app.refused(
            "timestamp_out_of_tolerance",
            &legacy(LEGACY, now() + skew, &body),
            body,
        )
        .await;
    }
    for skew in [-290, 290] {
        let body = payload("user.deleted");
        let reply = app
            .deliver(&current(K1, "k1", now() + skew, &body), body)
            .await;
        assert_eq!(reply.status, 200, "skew {skew}: {reply:?}");
        let body = payload("user.deleted");
        let reply = app
            .deliver(&legacy(LEGACY, now() + skew, &body), body)
            .await;
        assert_eq!(reply.status, 200, "skew {skew}: {reply:?}");
    }
    assert_eq!(app.handled(), 4);
}

#[tokio::test]
async fn refuses_a_replayed_delivery() {
    let app = start().await;
    let body = payload("user.deleted");
    let headers = current(K1, "k1", now(), &body);
    assert_eq!(app.deliver(&headers, body.clone()).await.status, 200);
    app.refused("replayed", &headers, body.clone()).await;
    // The timestamp is not covered by the MAC: a fresh one does not make it a new delivery.
    app.refused("replayed", &current(K1, "k1", now() - 60, &body), body)
        .await;

    let body = payload("user.deleted");
    let headers = legacy(LEGACY, now(), &body);
    assert_eq!(app.deliver(&headers, body.clone()).await.status, 200);
    app.refused("replayed", &headers, body).await;
    assert_eq!(app.handled(), 2);
}

#[tokio::test]
async fn refuses_duplicate_headers() {
    let app = start().await;
    let body = payload("user.deleted");
    let mut headers = current(K1, "k1", now(), &body);
    headers.extend(current(K1, "k1", now(), &body));
    app.refused("duplicate_header", &headers, body).await;

    let body = payload("user.deleted");
    let mut headers = legacy(LEGACY, now(), &body);
    headers.push(("x-logi-timestamp", now().to_string()));
    app.refused("duplicate_header", &headers, body).await;

    // Even when the second one is a valid signature of another format.
    let body = payload("user.deleted");
    let mut headers = current(K1, "k1", now(), &body);
    headers.extend(legacy(LEGACY, now(), &body));
    app.refused("duplicate_header", &headers, body).await;
}

#[tokio::test]
async fn bounds_the_body_to_one_mebibyte() {
    let app = start().await;
    let limit = WebhookVerifier::DEFAULT_MAX_BODY_BYTES;
    let sized = |len: usize| {
        let mut body = br#"{"type":"user.deleted","pad":""#.to_vec();
        body.resize(len - 2, b'x');
        body.extend_from_slice(br#""}"#);
        body
    };
    let body = sized(limit + 1);
    app.refused("body_too_large", &current(K1, "k1", now(), &body), body)
        .await;
    let body = sized(limit);
    let reply = app.deliver(&current(K1, "k1", now(), &body), body).await;
    assert_eq!(
        reply.status, 200,
        "exactly the limit is fine: {:?}",
        reply.status
    );
}

#[tokio::test]
async fn refuses_malformed_headers_and_payloads() {
    let app = start().await;
    let body = payload("user.deleted");
    let good = mac(K1, &body);
    let t = now();
    let cases: Vec<(&str, Vec<(&'static str, String)>)> = vec![
        ("missing_signature", vec![]),
        (
            "missing_signature",
            vec![("x-logi-timestamp", t.to_string())],
        ),
        (
            "malformed_signature",
            vec![("x-logi-signature", "nonsense".into())],
        ),
        (
            "malformed_signature",
            vec![("x-logi-signature", format!("sha1={good}"))],
        ),
        (
            "malformed_signature",
            vec![(
                "x-logi-signature",
                format!("t={t},kid=k1,v1={}", &good[..63]),
            )],
        ),
        (
            "malformed_signature",
            vec![("x-logi-signature", format!("t=soon,kid=k1,v1={good}"))],
        ),
        (
            "malformed_signature",
            vec![("x-logi-signature", format!("t={t},v1={good}"))],
        ),
        (
            "malformed_signature",
            vec![(
                "x-logi-signature",
                format!("t={t},kid=k1,v1={good},v1={good}"),
            )],
        ),
        (
            "missing_timestamp",
            vec![("x-logi-signature", legacy_signature(LEGACY, &body))],
        ),
        (
            "malformed_timestamp",
            vec![
                ("x-logi-signature", legacy_signature(LEGACY, &body)),
                ("x-logi-timestamp", format!("{t}.5")),
            ],
        ),
    ];
    for (code, headers) in cases {
        app.refused(code, &headers, body.clone()).await;
    }

    // Signed correctly, but not an event.
    for body in [b"not json".to_vec(), b"{}".to_vec(), b"[1]".to_vec()] {
        app.refused("malformed_payload", &current(K1, "k1", now(), &body), body)
            .await;
    }
}

#[tokio::test]
async fn the_layer_verifies_before_the_inner_service_runs() {
    let app = start().await;
    let body = payload("user.grants_revoked");
    let reply = app
        .post("/layered", &current(K1, "k1", now(), &body), body.clone())
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body,
        json!({"event": "user.grants_revoked", "sub": "user-0001", "kid": "k1"})
    );
    assert_eq!(app.handled(), 1);

    // Replayed, tampered, unsigned: refused by the layer.
    for (headers, body) in [
        (current(K1, "k1", now(), &body), body.clone()),
        (current(K1, "k1", now(), &body), b"{}".to_vec()),
        (Vec::new(), body.clone()),
    ] {
        let reply = app.post("/layered", &headers, body).await;
        assert_eq!(reply.status, 401, "{reply:?}");
        assert!(reply.body["error"].is_string(), "{reply:?}");
    }
    assert_eq!(app.handled(), 1);
}

#[tokio::test]
async fn a_missing_verifier_is_a_500_naming_it() {
    let app = start().await;
    let body = payload("user.deleted");
    let reply = app
        .post("/unwired", &current(K1, "k1", now(), &body), body)
        .await;
    assert_eq!((reply.status, reply.error()), (500, "verifier_missing"));
    let description = reply.body["error_description"].as_str().unwrap();
    assert!(description.contains("WebhookLayer"), "{description}");
}

/// `POST /hook` answering the event's name, with `verifier` as the router's state, on
/// 127.0.0.1; its origin.
async fn serve_hook(verifier: WebhookVerifier) -> String {
    let app = Router::new()
        .route(
            "/hook",
            post(|LogiWebhook(event): LogiWebhook| async move { event.name().to_owned() }),
        )
        .with_state(verifier);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

#[tokio::test]
async fn the_verifier_can_be_the_router_state() {
    let verifier = WebhookVerifier::builder().secret("k1", K1).build().unwrap();
    let origin = serve_hook(verifier).await;
    let body = payload("user.unlinked");
    let mut request = reqwest::Client::new().post(format!("{origin}/hook"));
    for (name, value) in current(K1, "k1", now(), &body) {
        request = request.header(name, value);
    }
    let response = request.body(body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "user.unlinked");
}

#[test]
fn nothing_secret_in_debug_output() {
    let verifier = WebhookVerifier::builder()
        .secret("k1", K1)
        .legacy_secret(LEGACY)
        .build()
        .unwrap();
    let debug = format!(
        "{verifier:?} {:?}",
        WebhookVerifier::builder().secret("k1", K1)
    );
    assert!(!debug.contains("whsec"), "{debug}");
    assert!(debug.contains("k1"), "{debug}");
}

#[test]
fn refuses_unusable_settings_when_built() {
    for builder in [
        WebhookVerifier::builder(),
        WebhookVerifier::builder().secret("k1", ""),
        WebhookVerifier::builder().secret("", K1),
        WebhookVerifier::builder().secret("k 1", K1),
        WebhookVerifier::builder().secret("k1", K1).secret("k1", K2),
        WebhookVerifier::builder().secrets("k1:a,,k2:b"),
        WebhookVerifier::builder()
            .secret("k1", K1)
            .max_body_bytes(0),
    ] {
        let error = builder.build().unwrap_err().to_string();
        assert!(!error.contains("whsec"), "{error}");
    }
}

#[tokio::test]
async fn bounds_a_chunked_body_without_a_length() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = start().await;
    let body = vec![b'x'; WebhookVerifier::DEFAULT_MAX_BODY_BYTES + 1];
    let signature = current(K1, "k1", now(), &body).remove(0).1;
    let address = app.origin.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /webhooks/logi HTTP/1.1\r\nhost: {address}\r\nx-logi-signature: {signature}\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before the whole body is sent.
    for chunk in body.chunks(64 * 1024) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    assert!(reply.contains("\"body_too_large\""), "{reply}");
    assert_eq!(app.handled(), 0);
}

#[tokio::test]
async fn concurrent_deliveries_with_an_unknown_kid_share_one_fetch() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let verifier = WebhookVerifier::builder()
        .on_unknown_kid(move |kid| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(vec![(kid, Secret::new(FETCHED))])
            }
        })
        .build()
        .unwrap();
    let origin = serve_hook(verifier).await;

    let http = reqwest::Client::new();
    let deliveries = (0..5).map(|_| {
        let body = payload("user.deleted");
        let mut request = http.post(format!("{origin}/hook"));
        for (name, value) in current(FETCHED, "k-new", now(), &body) {
            request = request.header(name, value);
        }
        async move { request.body(body).send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(deliveries).await;
    assert_eq!(statuses, [200; 5]);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

/// Runs futures concurrently on the runtime and collects their outputs in order.
async fn join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[tokio::test]
async fn the_layer_on_an_axum_route_hands_its_event_to_the_extractor() {
    let verifier = WebhookVerifier::builder().secret("k1", K1).build().unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let app = Router::new()
        .route(
            "/hook",
            post(move |LogiWebhook(event): LogiWebhook| {
                let counter = Arc::clone(&counter);
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    event.name().to_owned()
                }
            }),
        )
        .route_layer(WebhookLayer::new(verifier));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let send = |headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let mut request = reqwest::Client::new().post(format!("{origin}/hook"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move {
            let response = request.body(body).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let body = payload("token.revoked");
    let headers = current(K1, "k1", now(), &body);
    assert_eq!(
        send(headers.clone(), body.clone()).await,
        (200, "token.revoked".to_owned())
    );
    let (status, reply) = send(headers, body).await;
    assert_eq!(status, 401, "{reply}");
    assert!(reply.contains("\"replayed\""), "{reply}");
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    // A 404 stays a 404.
    let missing = reqwest::Client::new()
        .post(format!("{origin}/elsewhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// Serves `verifier` on `/hook` (through the extractor); the origin.
async fn serve(verifier: WebhookVerifier) -> String {
    let app = Router::new()
        .route(
            "/hook",
            post(|LogiWebhook(event): LogiWebhook| async move { event.name().to_owned() }),
        )
        .layer(axum::Extension(verifier));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// Posts a delivery to `origin`'s `/hook`: the status and the `error` code, if any.
async fn post_hook(origin: &str, headers: &[(&'static str, String)], body: &[u8]) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{origin}/hook"))
        .timeout(Duration::from_secs(10));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.body(body.to_vec()).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let error = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or(text);
    (status, error)
}

/// The MAC does not cover the timestamp: once a delivery was accepted, the same body and
/// signature under a later timestamp is refused for as long as any timestamp it could come
/// with is acceptable (both tolerances), not only one tolerance. With a 1 s tolerance, real time.
#[tokio::test]
async fn a_replay_under_a_fresh_timestamp_is_refused_past_one_tolerance() {
    let verifier = WebhookVerifier::builder()
        .secret("k1", K1)
        .tolerance(Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(verifier.replay_window(), Duration::from_secs(62));
    let origin = serve(verifier).await;
    let body = payload("user.deleted");
    let first = now();
    assert_eq!(
        post_hook(&origin, &current(K1, "k1", first, &body), &body).await,
        (200, "user.deleted".to_owned())
    );
    // Two seconds on (past the old memory of one tolerance), still refused, whatever
    // acceptable timestamp it carries.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while now() < first + 2 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for t in [now() - 1, now(), now() + 1] {
        assert_eq!(
            post_hook(&origin, &current(K1, "k1", t, &body), &body).await,
            (401, "replayed".to_owned()),
            "t = now {:+}",
            t - now()
        );
    }
}

/// Two verifiers (two instances) sharing a coordination on Redis, each with its own
/// connection: a delivery accepted by one is refused by the other, and by a verifier built
/// after a restart; a delivery that cannot be checked because Redis is down is a 503 and is
/// accepted once Redis is back.
#[cfg(feature = "redis")]
#[tokio::test]
async fn instances_sharing_redis_accept_a_delivery_once_even_after_a_restart() {
    let Some(mut server) = redis_server::RedisServer::start("webhook replays on Redis") else {
        return;
    };
    let instance = |url: String| async move {
        let store = logi::store::RedisStore::connect(&url).await.unwrap();
        let verifier = WebhookVerifier::builder()
            .secret("k1", K1)
            .legacy_secret(LEGACY)
            .coordination(store)
            .build()
            .unwrap();
        assert!(format!("{verifier:?}").contains("shares_replay_memory: true"));
        serve(verifier).await
    };
    let a = instance(server.url.clone()).await;
    let b = instance(server.url.clone()).await;

    for sign in [
        |body: &[u8]| current(K1, "k1", now(), body),
        |body: &[u8]| legacy(LEGACY, now(), body),
    ] {
        let body = payload("user.deleted");
        assert_eq!(post_hook(&a, &sign(&body), &body).await.0, 200);
        assert_eq!(
            post_hook(&b, &sign(&body), &body).await,
            (401, "replayed".to_owned())
        );
        assert_eq!(
            post_hook(&a, &sign(&body), &body).await,
            (401, "replayed".to_owned())
        );
    }

    // The other way round, then a restart: a new process, a new connection, same Redis.
    let body = payload("token.revoked");
    let headers = current(K1, "k1", now(), &body);
    assert_eq!(post_hook(&b, &headers, &body).await.0, 200);
    let restarted = instance(server.url.clone()).await;
    assert_eq!(
        post_hook(&restarted, &headers, &body).await,
        (401, "replayed".to_owned())
    );
    assert_eq!(
        post_hook(&a, &current(K1, "k1", now() + 200, &body), &body).await,
        (401, "replayed".to_owned()),
        "under another timestamp too"
    );

    // The record lasts for the whole window: both tolerances and the skew.
    let expected = WebhookVerifier::builder()
        .secret("k1", K1)
        .build()
        .unwrap()
        .replay_window();
    let ttl_ms = redis_pttl(&server.url, &body).await;
    assert!(
        ttl_ms > (expected - Duration::from_secs(30)).as_millis() && ttl_ms <= expected.as_millis(),
        "{ttl_ms} ms"
    );

    // Redis down: closed, with a 503 logi retries; once it is back, accepted.
    server.stop();
    let body = payload("user.deleted");
    let headers = current(K1, "k1", now(), &body);
    assert_eq!(
        post_hook(&a, &headers, &body).await,
        (503, "replay_memory_unavailable".to_owned())
    );
    server.restart();
    // Each connection notices on its own that Redis is back: 503 until then.
    let until_reconnected = |origin: String| {
        let (headers, body) = (headers.clone(), body.clone());
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let reply = post_hook(&origin, &headers, &body).await;
                if reply.0 != 503 {
                    return reply;
                }
                assert!(std::time::Instant::now() < deadline, "Redis is back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(until_reconnected(a.clone()).await.0, 200);
    assert_eq!(
        until_reconnected(b.clone()).await,
        (401, "replayed".to_owned())
    );
}

/// The time to live Redis holds for the record of `body` signed with K1, in milliseconds.
#[cfg(feature = "redis")]
async fn redis_pttl(url: &str, body: &[u8]) -> u128 {
    use base64::Engine as _;
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, K1.as_bytes()), body);
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, mac.as_ref());
    let key = format!(
        "logi:c:webhook:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash)
    );
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0, "{key} has a time to live: {ttl}");
    u128::try_from(ttl).unwrap()
}
