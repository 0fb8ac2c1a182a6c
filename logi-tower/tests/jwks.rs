//! The shared key cache against a real provider: single-flight refetch, the 30 s floor,
//! rotation, and outages.

#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::Duration;

use logi::testing::{Endpoint, Fault, TestClient, TestProvider};
use logi::{Checks, HttpClient, IdTokenVerifier, Jwks, ProviderMetadata, VerifyErrorKind};
use serde_json::json;

const CLIENT: &str = TestClient::DEFAULT_CLIENT_ID;

async fn verifier(provider: &TestProvider) -> IdTokenVerifier {
    let http = HttpClient::new();
    let metadata = ProviderMetadata::discover(&http, provider.issuer(), None)
        .await
        .unwrap();
    IdTokenVerifier::new(
        metadata.issuer.clone(),
        CLIENT,
        Jwks::from_provider(&http, &metadata),
    )
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

    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let (verifier, forged) = (Arc::clone(&verifier), Arc::clone(&forged));
            tokio::spawn(async move { verifier.verify(&forged, &Checks::new()).await })
        })
        .collect();
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

    // Within 30 s of that fetch, no further fetch, however many forged kids arrive.
    for i in 0..1_000 {
        let forged = token_with_kid(&provider, &format!("forged-{i}"));
        assert_eq!(
            verifier
                .verify(&forged, &Checks::new())
                .await
                .unwrap_err()
                .code(),
            "unknown_kid"
        );
    }
    assert_eq!(provider.calls(Endpoint::Jwks), 1, "the 30 s floor holds");

    // The real key still verifies, from the cache.
    let valid = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    assert_eq!(
        verifier
            .verify(&valid, &Checks::new())
            .await
            .unwrap()
            .subject(),
        "user-0001"
    );
    assert_eq!(provider.calls(Endpoint::Jwks), 1);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_the_floor_allows() {
    let provider = TestProvider::start().await.unwrap();
    let verifier = verifier(&provider).await;
    let first = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    verifier.verify(&first, &Checks::new()).await.unwrap();

    let new_kid = provider.rotate_keys();
    let rotated = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    // Right after a fetch the floor refuses another: the new kid is unknown for now.
    assert_eq!(
        verifier
            .verify(&rotated, &Checks::new())
            .await
            .unwrap_err()
            .code(),
        "unknown_kid"
    );
    // Once the floor allows (lowered here instead of waiting 30 s), one refetch finds it.
    verifier.jwks().set_min_refetch_interval(Duration::ZERO);
    verifier.verify(&rotated, &Checks::new()).await.unwrap();
    assert!(verifier.jwks().kids().contains(&new_kid));
    // The old key is still published and still cached.
    verifier.verify(&first, &Checks::new()).await.unwrap();
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
    verifier.verify(&token, &Checks::new()).await.unwrap();

    for fault in [Fault::DropConnection, Fault::Status(503)] {
        provider.set_fault(Endpoint::Jwks, fault);
        tokio::time::sleep(Duration::from_millis(1_100)).await; // past max-age: the set is stale
        let before = provider.calls(Endpoint::Jwks);
        let verified = verifier.verify(&token, &Checks::new()).await;
        assert!(verified.is_ok(), "{fault:?}: {verified:?}");
        assert_eq!(
            provider.calls(Endpoint::Jwks),
            before + 1,
            "a refetch was attempted"
        );
    }
    provider.clear_fault(Endpoint::Jwks);
}

#[tokio::test]
async fn with_no_keys_and_no_provider_the_error_says_keys_are_unavailable() {
    let provider = TestProvider::start().await.unwrap();
    let verifier = verifier(&provider).await;
    provider.set_fault(Endpoint::Jwks, Fault::Status(503));
    let token = provider.sign_claims(&provider.id_token_claims(CLIENT, "user-0001"));
    let error = verifier.verify(&token, &Checks::new()).await.unwrap_err();
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
        assert_eq!(
            verifier
                .verify(&token, &Checks::new())
                .await
                .unwrap_err()
                .code(),
            code
        );
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
