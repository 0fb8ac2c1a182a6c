//! A whole run against a healthy integration: every check passes.

use logi::testing::{Endpoint, TestClient, TestProvider};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_integration_passes() {
    let provider = TestProvider::start().await.unwrap();
    let output = doctor(
        &[
            "--json",
            "-r",
            REGISTERED,
            "--client-secret",
            SECRET,
            "--session-key",
            SESSION_KEY,
        ],
        &[
            ("LOGI_ISSUER", provider.issuer()),
            ("LOGI_CLIENT_ID", TestClient::DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["verdict"], "pass", "{report:#}");
    assert_eq!(report["summary"]["fail"], 0);
    let discovery = format!("{}/.well-known/openid-configuration", provider.issuer());
    assert_eq!(status(&report, "discovery", &discovery), "pass");
    assert_eq!(status(&report, "issuer", provider.issuer()), "pass");
    assert_eq!(status(&report, "capabilities", "discovery"), "pass");
    let jwks = provider.url(Endpoint::Jwks);
    assert_eq!(status(&report, "jwks", &jwks), "pass");
    assert!(
        entry(&report, "jwks", &jwks)["message"]
            .as_str()
            .unwrap()
            .contains(&provider.current_kid())
    );
    assert_eq!(
        status(&report, "client_id_format", TestClient::DEFAULT_CLIENT_ID),
        "pass"
    );
    assert_eq!(
        status(&report, "client_secret_format", "LOGI_CLIENT_SECRET"),
        "pass"
    );
    assert_eq!(status(&report, "session_key", "LOGI_SESSION_KEY"), "pass");
    assert_eq!(status(&report, "redirect_uri_scheme", REGISTERED), "pass");
    assert_eq!(
        status(&report, "redirect_uri_registered", REGISTERED),
        "pass"
    );
    // One call each: discovery, the key set, one probe per redirect URI.
    assert_eq!(provider.calls(Endpoint::Discovery), 1);
    assert_eq!(provider.calls(Endpoint::Jwks), 1);
    assert_eq!(provider.calls(Endpoint::Authorize), 1);
    // And one token request, with a made-up code, for the credentials.
    assert_eq!(provider.calls(Endpoint::Token), 1);
    let credentials = entry(
        &report,
        "client_credentials",
        &provider.url(Endpoint::Token),
    );
    assert_eq!(credentials["status"], "pass", "{credentials:#}");
    let message = credentials["message"].as_str().unwrap();
    assert!(
        message.contains("client_secret_basic") && message.contains("invalid_grant"),
        "{message}"
    );
    let clock = entry(&report, "clock", &jwks);
    assert_eq!(clock["status"], "pass", "{clock:#}");
    assert_no_secret(&output);
    provider.shutdown().await;
}
