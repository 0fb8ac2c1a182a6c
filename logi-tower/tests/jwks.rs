//! The shared key cache against a real provider: single-flight refetch, the 30 s floor,
//! rotation, floods of made-up kids, and outages (a JWKS endpoint that fails or hangs).

#![cfg(feature = "testing")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use logi::provider::{HttpClient, Jwks, ProviderMetadata};
use logi::testing::{Endpoint, Fault, TestClient, TestProvider};
use logi::verify::{IdTokenChecks, IdTokenVerifier, VerifyErrorKind};
use serde_json::json;

const CLIENT: &str = TestClient::DEFAULT_CLIENT_ID;

async fn verifier(provider: &TestProvider) -> IdTokenVerifier {
    verifier_with(provider, HttpClient::new()).await
}

async fn verifier_with(provider: &TestProvider, http: HttpClient) -> IdTokenVerifier {
    let metadata = ProviderMetadata::discover(&http, provider.issuer(), None)
        .await
        .unwrap();
    IdTokenVerifier::new(
        metadata.issuer.clone(),
        CLIENT,
        Jwks::from_provider(&http, &metadata),
    )
}

/// The subject of `token`, which must verify.
async fn subject(verifier: &IdTokenVerifier, token: &str) -> String {
    let verified = verifier.verify(token, &IdTokenChecks::new()).await;
    verified.unwrap().subject().to_owned()
}

/// The code `token` is refused with.
async fn refusal(verifier: &IdTokenVerifier, token: &str) -> &'static str {
    let refused = verifier.verify(token, &IdTokenChecks::new()).await;
    refused.unwrap_err().code()
}

fn token_with_kid(provider: &TestProvider, kid: &str) -> String {
    let claims = provider.id_token_claims(CLIENT, "user-0001");
    provider.sign_with_header(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}), &claims)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_unknown_kids_cost_one_jwks_fetch() {
    let provider = TestProvider::start().await.unwrap();
    let verifier = Arc::new(verifier(&provider).await);
    let forged = Arc::new(token_with_kid(&provider, "made-up-kid"));
    // A slow endpoint, so that every miss arrives while the first fetch runs.
    provider.set_fault(Endpoint::Jwks, Fault::Delay(Duration::from_millis(500)));

    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let (verifier, forged) = (Arc::clone(&verifier), Arc::clone(&forged));
            tokio::spawn(async move { verifier.verify(&forged, &IdTokenChecks::new()).await })
        })
        .collect();
    provider.clear_fault(Endpoint::Jwks);
    for task in tasks {
        assert_eq!(
            task.await.unwrap().unwrap_err().kind(),
            VerifyErrorKind::UnknownKid
        );
    }
    assert_eq!(
        provider.calls(Endpoint::Jwks),
        1,
        "concurrent misses share one fetch"
    );

    // Within 30 s of that fetch, no further fetch, however many forged kids arrive: each is
    // refused at once (one refetch is scheduled for when the floor allows).
    for i in 0..1_000 {
        let forged = token_with_kid(&provider, &format!("forged-{i}"));
        let refused = tokio::time::timeout(
            Duration::from_secs(1),
            verifier.verify(&forged, &IdTokenChecks::new()),
        )
        .await
        .expect("nobody waits for the floor")
        .unwrap_err();
        assert_eq!(refused.code(), "unknown_kid");
    }
    assert_eq!(provider.calls(Endpoint::Jwks), 1, "the 30 s floor holds");

    // The real key still verifies, from the cache.
    let valid = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    assert_eq!(subject(&verifier, &valid).await, "user-0001");
    assert_eq!(provider.calls(Endpoint::Jwks), 1);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_the_floor_allows() {
    const FLOOR: Duration = Duration::from_secs(1);
    let provider = TestProvider::start().await.unwrap();
    let verifier = verifier(&provider).await;
    // Lowered here instead of waiting 30 s.
    verifier.jwks().set_min_refetch_interval(FLOOR);
    let first = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    subject(&verifier, &first).await;
    let fetched = std::time::Instant::now();

    let new_kid = provider.rotate_keys();
    let rotated = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    // Right after a fetch the floor forbids another: the new kid is unknown for now...
    assert_eq!(refusal(&verifier, &rotated).await, "unknown_kid");
    assert_eq!(provider.calls(Endpoint::Jwks), 1);
    // ...and the refetch it asked for happens as soon as the floor allows, by itself.
    let deadline = fetched + FLOOR + Duration::from_secs(5);
    while !verifier.jwks().kids().contains(&new_kid) {
        assert!(
            std::time::Instant::now() < deadline,
            "refetched at the floor"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fetched.elapsed() >= FLOOR, "not before the floor");
    subject(&verifier, &rotated).await;
    // The old key is still published and still cached.
    subject(&verifier, &first).await;
    assert_eq!(provider.calls(Endpoint::Jwks), 2);
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() {
    let provider = TestProvider::builder()
        .jwks_max_age(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let verifier = verifier(&provider).await;
    verifier
        .jwks()
        .set_min_refetch_interval(Duration::from_millis(100));
    let token = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    subject(&verifier, &token).await;

    for fault in [Fault::DropConnection, Fault::Status(503)] {
        provider.set_fault(Endpoint::Jwks, fault);
        tokio::time::sleep(Duration::from_millis(1_100)).await; // past max-age: the set is stale
        let before = provider.calls(Endpoint::Jwks);
        let verified = verifier.verify(&token, &IdTokenChecks::new()).await;
        assert!(verified.is_ok(), "{fault:?}: {verified:?}");
        // The refetch runs in the background.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while provider.calls(Endpoint::Jwks) == before {
            assert!(
                std::time::Instant::now() < deadline,
                "{fault:?}: a refetch was attempted"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(provider.calls(Endpoint::Jwks), before + 1, "{fault:?}");
    }
    provider.clear_fault(Endpoint::Jwks);
}

/// A flood of tokens with made-up kids and garbage signatures, most given up on at once (as
/// clients that disconnect), against a JWKS endpoint that takes 200 ms, before and while a
/// genuine token signed with a newly published key is presented: the genuine one verifies
/// once the floor allows a refetch (the flood can neither use up the fetches, nor cancel the
/// one that happens, nor push it out), and the flood costs at most one fetch per floor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_cannot_keep_a_new_key_out() {
    const FLOOR: Duration = Duration::from_secs(1);
    let provider = TestProvider::start().await.unwrap();
    provider.set_fault(Endpoint::Jwks, Fault::Delay(Duration::from_millis(200)));
    let verifier = Arc::new(verifier(&provider).await);
    verifier.jwks().set_min_refetch_interval(FLOOR);
    let first = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    subject(&verifier, &first).await;
    let started = std::time::Instant::now();
    assert_eq!(provider.calls(Endpoint::Jwks), 1);

    let garbage = |i: usize| {
        let token = token_with_kid(&provider, &format!("random-{i}-{}", rand_suffix(i)));
        // A signature that matches nothing.
        let (signed, _) = token.rsplit_once('.').unwrap();
        format!("{signed}.{}", "A".repeat(342))
    };
    // Signed first (signing takes time), so that they arrive together.
    let tokens: Vec<String> = (0..200).map(garbage).collect();
    let more_tokens: Vec<Arc<Vec<String>>> = (0..4)
        .map(|n| Arc::new((200 + n * 50..250 + n * 50).map(garbage).collect()))
        .collect();
    let flood: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let verifier = Arc::clone(&verifier);
            tokio::spawn(async move {
                let checks = IdTokenChecks::new();
                let verified = verifier.verify(&token, &checks);
                if i % 2 == 0 {
                    // Given up on at once: this must not cancel a fetch others wait for.
                    let _ = tokio::time::timeout(Duration::from_millis(1), verified).await;
                    None
                } else {
                    Some(verified.await)
                }
            })
        })
        .collect();

    // The provider publishes a new key; the flood goes on (four senders, each request given
    // up on after 2 ms, about a thousand a second each, until the genuine token is through or
    // the deadline) while the genuine token is presented every 50 ms.
    let new_kid = provider.rotate_keys();
    let genuine = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    let done = Arc::new(AtomicBool::new(false));
    let deadline = started + 2 * FLOOR + Duration::from_secs(5);
    let senders: Vec<_> = more_tokens
        .into_iter()
        .map(|tokens| {
            let (verifier, done) = (Arc::clone(&verifier), Arc::clone(&done));
            tokio::spawn(async move {
                for token in tokens.iter().cycle() {
                    if done.load(Ordering::SeqCst) || std::time::Instant::now() > deadline {
                        return;
                    }
                    let checks = IdTokenChecks::new();
                    let _ = tokio::time::timeout(
                        Duration::from_millis(2),
                        verifier.verify(token, &checks),
                    )
                    .await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        })
        .collect();
    let verified = loop {
        match verifier.verify(&genuine, &IdTokenChecks::new()).await {
            Ok(verified) => break verified,
            Err(error) => assert_eq!(error.code(), "unknown_kid"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the genuine token verifies once the floor allows a refetch"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let elapsed = started.elapsed();
    done.store(true, Ordering::SeqCst);
    assert_eq!(verified.subject(), "user-0001");
    assert!(verifier.jwks().kids().contains(&new_kid));
    for sender in senders {
        sender.await.unwrap();
    }
    for task in flood {
        if let Some(refused) = task.await.unwrap() {
            assert_eq!(refused.unwrap_err().code(), "unknown_kid");
        }
    }
    // One fetch per floor at most (the first, and one per floor since).
    let calls = provider.calls(Endpoint::Jwks);
    let allowed = 2 + elapsed.as_millis() / FLOOR.as_millis();
    assert!(
        u128::from(calls) <= allowed,
        "{calls} fetches in {elapsed:?}"
    );
    provider.clear_fault(Endpoint::Jwks);
}

/// Differs per call, so that kids are not repeated across runs of the flood.
fn rand_suffix(i: usize) -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .wrapping_mul(i as u128 + 1)
}

/// The JWKS endpoint hangs while the cached set is stale: a token whose kid is cached
/// verifies at once from the stale set (never waiting on the fetch), the set is refreshed in
/// the background, and once the endpoint answers again a key published meanwhile is cached.
#[tokio::test]
async fn a_hanging_jwks_endpoint_never_delays_a_cached_kid() {
    let provider = TestProvider::builder()
        .jwks_max_age(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let http = HttpClient::new().with_timeout(Duration::from_secs(2));
    let verifier = verifier_with(&provider, http).await;
    verifier
        .jwks()
        .set_min_refetch_interval(Duration::from_millis(100));
    let token = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    subject(&verifier, &token).await;

    provider.set_fault(Endpoint::Jwks, Fault::Delay(Duration::from_secs(60)));
    tokio::time::sleep(Duration::from_millis(1_100)).await; // past max-age: the set is stale
    let before = provider.calls(Endpoint::Jwks);
    for _ in 0..5 {
        let verified = tokio::time::timeout(
            Duration::from_secs(1),
            verifier.verify(&token, &IdTokenChecks::new()),
        )
        .await
        .expect("a cached kid never waits on the hanging endpoint");
        assert_eq!(verified.unwrap().subject(), "user-0001");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while provider.calls(Endpoint::Jwks) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "a background refresh was started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        provider.calls(Endpoint::Jwks),
        before + 1,
        "one refresh at a time, however many verifications"
    );

    // The endpoint recovers; a key published meanwhile is picked up by the next background
    // refresh (after the hanging one times out), with no verification waiting for it.
    let new_kid = provider.rotate_keys();
    provider.clear_fault(Endpoint::Jwks);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !verifier.jwks().kids().contains(&new_kid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the cache is refreshed once the endpoint recovers"
        );
        let verified = tokio::time::timeout(
            Duration::from_secs(1),
            verifier.verify(&token, &IdTokenChecks::new()),
        )
        .await
        .expect("never waits");
        assert!(verified.is_ok(), "{verified:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rotated = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    let verified = tokio::time::timeout(
        Duration::from_secs(1),
        verifier.verify(&rotated, &IdTokenChecks::new()),
    )
    .await
    .expect("cached now");
    assert!(verified.is_ok(), "{verified:?}");
}

#[tokio::test]
async fn with_no_keys_and_no_provider_the_error_says_keys_are_unavailable() {
    let provider = TestProvider::start().await.unwrap();
    let verifier = verifier(&provider).await;
    provider.set_fault(Endpoint::Jwks, Fault::Status(503));
    let token = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    let error = verifier
        .verify(&token, &IdTokenChecks::new())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), VerifyErrorKind::Unavailable);
    assert!(
        !error.to_string().contains(&token[..20]),
        "errors never echo the token"
    );
}

#[tokio::test]
async fn tokens_from_the_provider_verify_and_forgeries_do_not() {
    let provider = TestProvider::start().await.unwrap();
    let verifier = verifier(&provider).await;
    let base = provider.id_token_claims(CLIENT, "user-0001");
    let kid = provider.current_kid();
    let check = |claims: serde_json::Value| provider.sign_claims(&claims);
    let with = |key: &str, value: serde_json::Value| {
        let mut c = base.clone();
        c[key] = value;
        check(c)
    };
    let cases = [
        (with("iss", json!("https://evil.example")), "iss_mismatch"),
        (with("aud", json!("logi_someone_else")), "aud_mismatch"),
        (with("exp", json!(1)), "expired"),
        (with("sub", json!("")), "missing_claim"),
        (
            provider.sign_with_header(&json!({"alg": "none", "kid": kid}), &base),
            "bad_signature",
        ),
        (
            provider.sign_with_header(&json!({"alg": "HS256", "kid": kid}), &base),
            "bad_signature",
        ),
        (
            provider.sign_with_header(&json!({"alg": "RS256"}), &base),
            "missing_kid",
        ),
        ("not.a.jwt".to_owned(), "malformed"),
    ];
    for (token, code) in cases {
        assert_eq!(refusal(&verifier, &token).await, code);
    }
}

#[tokio::test]
async fn discovery_checks_the_issuer() {
    let provider = TestProvider::builder()
        .issuer("logi")
        .start()
        .await
        .unwrap();
    let http = HttpClient::new();
    let error = ProviderMetadata::discover(&http, provider.base_url(), None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("refusing to start"), "{error}");
    let metadata = ProviderMetadata::discover(&http, provider.base_url(), Some("logi"))
        .await
        .unwrap();
    assert_eq!(metadata.issuer, "logi");

    let error = ProviderMetadata::discover(&http, "http://api.1pass.dev", None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("https://"), "{error}");
    provider.shutdown().await;
}

#[tokio::test]
async fn discovery_of_an_unreachable_provider_fails_with_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let http = HttpClient::new().with_timeout(Duration::from_secs(2));
    let error = ProviderMetadata::discover(&http, &format!("http://127.0.0.1:{port}"), None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with("OpenID discovery failed"),
        "{error}"
    );
}
