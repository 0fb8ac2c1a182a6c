//! Discovery and the issuer: a wrong, unreachable or hanging issuer, and the checks that still
//! run.

use std::time::{Duration, Instant};

use logi::testing::{Endpoint, Fault, TestClient, TestProvider};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_issuer_fails_but_the_other_checks_still_run() {
    let provider = TestProvider::builder()
        .issuer("https://api.1pass.dev")
        .start()
        .await
        .unwrap();
    let output = doctor(
        &[
            "--json",
            "--issuer",
            provider.base_url(),
            "--client-id",
            TestClient::DEFAULT_CLIENT_ID,
            "-r",
            REGISTERED,
        ],
        &[],
    )
    .await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let issuer = entry(&report, "issuer", provider.base_url());
    assert_eq!(issuer["status"], "fail");
    assert!(
        issuer["message"]
            .as_str()
            .unwrap()
            .contains("https://api.1pass.dev")
    );
    assert!(
        issuer["fix"]
            .as_str()
            .unwrap()
            .contains("LOGI_EXPECTED_ISSUER")
    );
    assert_eq!(
        status(&report, "jwks", &provider.url(Endpoint::Jwks)),
        "pass"
    );
    assert_eq!(
        status(&report, "redirect_uri_registered", REGISTERED),
        "pass"
    );

    // The fix it names works.
    let output = doctor(
        &["--json", "-r", REGISTERED],
        &[
            ("LOGI_ISSUER", provider.base_url()),
            ("LOGI_EXPECTED_ISSUER", "https://api.1pass.dev"),
            ("LOGI_CLIENT_ID", TestClient::DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["verdict"], "pass");
    provider.shutdown().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_issuer_fails_quickly() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let output = doctor(
        &[
            "--json",
            "--issuer",
            &issuer,
            "--client-id",
            TestClient::DEFAULT_CLIENT_ID,
            "--client-secret",
            SECRET,
            "-r",
            REGISTERED,
        ],
        &[],
    )
    .await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    assert_eq!(status(&report, "discovery", &discovery), "fail");
    assert!(entry(&report, "discovery", &discovery)["fix"].is_string());
    assert_eq!(
        status(&report, "redirect_uri_registered", REGISTERED),
        "skip"
    );
    assert_no_secret(&output);
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_hangs_is_cut_off_by_the_timeout() {
    let provider = TestProvider::start().await.unwrap();
    provider.set_fault(Endpoint::Discovery, Fault::Delay(Duration::from_secs(30)));
    let started = Instant::now();
    let output = doctor(
        &[
            "--json",
            "--timeout",
            "1",
            "--issuer",
            provider.issuer(),
            "--client-id",
            TestClient::DEFAULT_CLIENT_ID,
        ],
        &[],
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let discovery = format!("{}/.well-known/openid-configuration", provider.issuer());
    let message = entry(&report, "discovery", &discovery)["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("timed out"), "{message}");
    provider.shutdown().await;
}
