//! What the harness adds for tests: request ids on every response, call counters, injected
//! faults, binding and shutdown.

use std::time::{Duration, Instant};

use logi::testing::{Endpoint, Fault, TestProvider};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::helpers::*;

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let provider = TestProvider::start().await.unwrap();
    let mut seen = std::collections::HashSet::new();
    let responses = [
        http().get(provider.discovery_url()).send().await.unwrap(),
        http()
            .get(provider.url(Endpoint::Jwks))
            .send()
            .await
            .unwrap(),
        authorize(&provider, &authorize_params("openid")).await,
        token(&provider, &[("grant_type", "refresh_token")]).await,
        userinfo(&provider, "x").await,
        revoke(&provider, "x").await,
        http()
            .get(provider.url(Endpoint::EndSession))
            .send()
            .await
            .unwrap(),
        http()
            .get(format!("{}/nope", provider.base_url()))
            .send()
            .await
            .unwrap(),
        http()
            .delete(provider.url(Endpoint::Token))
            .send()
            .await
            .unwrap(),
    ];
    for response in responses {
        let request_id = header(&response, "x-logi-request-id").to_owned();
        let hex = request_id.strip_prefix("req_").unwrap();
        assert!(hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(seen.insert(request_id));
    }
}

#[tokio::test]
async fn counts_calls_per_endpoint() {
    let provider = TestProvider::start().await.unwrap();
    for _ in 0..3 {
        http().get(provider.discovery_url()).send().await.unwrap();
    }
    sign_in(&provider, "openid").await;
    assert_eq!(provider.calls(Endpoint::Discovery), 3);
    assert_eq!(provider.calls(Endpoint::Authorize), 1);
    assert_eq!(provider.calls(Endpoint::Token), 1);
    assert_eq!(provider.calls(Endpoint::Jwks), 0);
    provider.reset_calls();
    for endpoint in Endpoint::ALL {
        assert_eq!(provider.calls(endpoint), 0);
    }
}

#[tokio::test]
async fn injected_faults() {
    let provider = TestProvider::start().await.unwrap();
    let jwks = || async {
        http()
            .get(provider.url(Endpoint::Jwks))
            .timeout(Duration::from_secs(2))
            .send()
            .await
    };

    provider.set_fault(Endpoint::Jwks, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let response = jwks().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::OK);
    let short = http()
        .get(provider.url(Endpoint::Jwks))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(short.unwrap_err().is_timeout());

    provider.set_fault(Endpoint::Jwks, Fault::Status(503));
    let response = jwks().await.unwrap();
    assert!(response.headers().get(RETRY_AFTER).is_none());
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    )
    .await;

    provider.set_fault(Endpoint::Jwks, Fault::Status(429));
    let response = jwks().await.unwrap();
    assert_eq!(header(&response, RETRY_AFTER), "1");
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;

    provider.set_fault(Endpoint::Jwks, Fault::Status(500));
    assert_error(
        jwks().await.unwrap(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
    )
    .await;

    provider.set_fault(Endpoint::Jwks, Fault::DropConnection);
    let error = jwks().await.unwrap_err();
    assert!(error.is_request() && !error.is_timeout(), "{error:?}");
    assert!(error.status().is_none());

    // Other endpoints are unaffected, and clearing restores the endpoint.
    let discovery = http().get(provider.discovery_url()).send().await.unwrap();
    assert_eq!(discovery.status(), StatusCode::OK);
    provider.clear_fault(Endpoint::Jwks);
    assert_eq!(jwks().await.unwrap().status(), StatusCode::OK);

    // Faulted requests count: two delayed, three statuses, one dropped, one normal.
    assert_eq!(provider.calls(Endpoint::Jwks), 7);
}

#[tokio::test]
async fn binding_and_shutdown() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<TestProvider>();

    let refused = TestProvider::builder()
        .bind("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);

    let provider = TestProvider::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let url = provider.discovery_url();
    let client = http();
    assert!(client.get(&url).send().await.is_ok());
    let handle = provider.clone();
    provider.shutdown().await;
    assert!(client.get(&url).send().await.is_err());
    // Other handles still answer everything but HTTP.
    assert!(!handle.current_kid().is_empty());

    let dropped = TestProvider::start().await.unwrap();
    let url = dropped.discovery_url();
    drop(dropped);
    let mut stopped = false;
    for _ in 0..50 {
        if http().get(&url).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "the server outlived its last handle");
}
