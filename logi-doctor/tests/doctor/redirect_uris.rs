//! Redirect URIs: their form, and the registration probe at the authorization endpoint.

use logi::testing::{Endpoint, TestClient, TestProvider};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_or_insecure_redirect_uri_fails_with_its_fix() {
    let provider = TestProvider::start().await.unwrap();
    let output = doctor(
        &[
            "--issuer",
            provider.issuer(),
            "--client-id",
            TestClient::DEFAULT_CLIENT_ID,
            "-r",
            REGISTERED,
            "-r",
            UNREGISTERED,
            "-r",
            INSECURE,
            "--json",
        ],
        &[("LOGI_CLIENT_SECRET", SECRET)],
    )
    .await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(
        status(&report, "redirect_uri_registered", REGISTERED),
        "pass"
    );

    let unregistered = entry(&report, "redirect_uri_registered", UNREGISTERED);
    assert_eq!(unregistered["status"], "fail", "{report:#}");
    assert!(
        unregistered["message"]
            .as_str()
            .unwrap()
            .contains("redirect_uri not registered"),
        "{unregistered:#}"
    );
    assert!(
        unregistered["fix"].as_str().unwrap().contains(&format!(
            "logi app update '{}' --add-redirect-uri '{UNREGISTERED}'",
            TestClient::DEFAULT_CLIENT_ID
        )),
        "{unregistered:#}"
    );

    let insecure = entry(&report, "redirect_uri_scheme", INSECURE);
    assert_eq!(insecure["status"], "fail");
    assert!(
        insecure["fix"]
            .as_str()
            .unwrap()
            .contains("https://example.com/cb")
    );
    // An unusable URI is not probed.
    assert_eq!(status(&report, "redirect_uri_registered", INSECURE), "skip");
    assert_eq!(provider.calls(Endpoint::Authorize), 2);
    assert_no_secret(&output);

    // The same, for people: the failure and its fix, and the same exit status.
    let output = doctor(
        &[
            "--issuer",
            provider.issuer(),
            "--client-id",
            TestClient::DEFAULT_CLIENT_ID,
            "-r",
            UNREGISTERED,
            "--client-secret",
            SECRET,
        ],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("[fail] redirect_uri_registered: http://localhost:4000/auth/callback"),
        "{text}"
    );
    assert!(text.contains("fix: logi app update"), "{text}");
    assert!(text.contains("verdict: fail"), "{text}");
    assert_no_secret(&output);
    provider.shutdown().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_client_id_is_named() {
    let provider = TestProvider::start().await.unwrap();
    let stranger = "logi_0123456789abcdef0123456789abcdef";
    let output = doctor(
        &[
            "--json",
            "--issuer",
            provider.issuer(),
            "--client-id",
            stranger,
        ],
        &[("LOGI_REDIRECT_URI", REGISTERED)],
    )
    .await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let probe = entry(&report, "redirect_uri_registered", REGISTERED);
    assert_eq!(probe["status"], "fail");
    let message = probe["message"].as_str().unwrap();
    assert!(
        message.contains("invalid_client") && message.contains(stranger),
        "{message}"
    );
    provider.shutdown().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_with_a_sign_in_page_still_proves_registration() {
    // With a sign-in page, `prompt=none` is answered `login_required`, redirected back to the
    // registered URI; the unregistered one is still refused on the spot.
    let provider = TestProvider::builder()
        .interactive(true)
        .start()
        .await
        .unwrap();
    let output = doctor(
        &["--json", "-r", REGISTERED, "-r", UNREGISTERED],
        &[
            ("LOGI_ISSUER", provider.issuer()),
            ("LOGI_CLIENT_ID", TestClient::DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let registered = entry(&report, "redirect_uri_registered", REGISTERED);
    assert_eq!(registered["status"], "pass");
    assert!(
        registered["message"]
            .as_str()
            .unwrap()
            .contains("redirects back to it (with error `login_required`)"),
        "{registered:#}"
    );
    assert_eq!(
        status(&report, "redirect_uri_registered", UNREGISTERED),
        "fail"
    );
    provider.shutdown().await;
}
