//! The command line and the environment: usage errors, completions, flags over variables.

use logi::testing::{Endpoint, TestClient, TestProvider};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_command_line_exits_2_without_echoing_values() {
    let output = doctor(&["--client-secrte", SECRET], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert_no_secret(&output);
    let output = doctor(&[SECRET], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert_no_secret(&output);
    let output = doctor(&["--json"], &[]).await;
    assert_eq!(output.status.code(), Some(2), "no client id");
    let output = doctor(&["--client-id", "x", "--", SECRET], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert_no_secret(&output);
    let output = doctor(&["--client-id", "x", "--timeout", "0"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    // Help names every flag with its variable, never a secret's value.
    let output = doctor(
        &["--help"],
        &[
            ("LOGI_CLIENT_SECRET", SECRET),
            ("LOGI_SESSION_KEY", SESSION_KEY),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--issuer",
        "--expected-issuer",
        "--client-id",
        "--client-secret",
        "--token-auth-method",
        "--redirect-uri",
        "--session-key",
        "--timeout",
        "--json",
        "--completions",
        "LOGI_ISSUER",
        "LOGI_EXPECTED_ISSUER",
        "LOGI_CLIENT_ID",
        "LOGI_CLIENT_SECRET",
        "LOGI_TOKEN_AUTH_METHOD",
        "LOGI_REDIRECT_URI",
        "LOGI_SESSION_KEY",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert_no_secret(&output);
    let output = doctor(&["--version"], &[]).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        concat!("logi-doctor ", env!("CARGO_PKG_VERSION"))
    );
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_shell_completions() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef logi-doctor"),
        ("fish", "complete -c logi-doctor"),
    ] {
        let output = doctor(&["--completions", shell], &[]).await;
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains(marker), "{shell}:\n{script}");
        assert!(script.contains("client-secret"), "{shell}");
        assert!(script.contains("client_secret_post"), "{shell}");
    }
    let output = doctor(&["--completions", "tcsh"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_fills_in_and_flags_win() {
    let provider = TestProvider::start().await.unwrap();
    let env = [
        ("LOGI_ISSUER", provider.issuer()),
        ("LOGI_CLIENT_ID", " logi_7e57c11e47d0c0de5eed5a17b0a710e5 "),
        ("LOGI_CLIENT_SECRET", SECRET),
        (
            "LOGI_REDIRECT_URI",
            " http://localhost:3000/auth/callback, http://127.0.0.1:3000/auth/callback,",
        ),
        ("LOGI_SESSION_KEY", SESSION_KEY),
        ("LOGI_TOKEN_AUTH_METHOD", "client_secret_post"),
        // Empty counts as unset.
        ("LOGI_EXPECTED_ISSUER", ""),
    ];
    let output = doctor(&["--json"], &env).await;
    let report = json(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["client_id"], TestClient::DEFAULT_CLIENT_ID);
    for uri in TestClient::DEFAULT_REDIRECT_URIS {
        assert_eq!(status(&report, "redirect_uri_registered", uri), "pass");
    }
    assert_eq!(status(&report, "session_key", "LOGI_SESSION_KEY"), "pass");
    let token = provider.url(Endpoint::Token);
    let credentials = entry(&report, "client_credentials", &token);
    assert!(
        credentials["message"]
            .as_str()
            .unwrap()
            .contains("client_secret_post"),
        "{credentials:#}"
    );
    assert_no_secret(&output);

    // A flag wins over its variable.
    let output = doctor(
        &["--json", "-r", UNREGISTERED, "--token-auth-method", "basic"],
        &env,
    )
    .await;
    let report = json(&output);
    assert_eq!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["check"] == "redirect_uri_registered")
            .count(),
        1
    );
    assert_eq!(
        status(&report, "redirect_uri_registered", UNREGISTERED),
        "fail"
    );
    assert!(
        entry(&report, "client_credentials", &token)["message"]
            .as_str()
            .unwrap()
            .contains("client_secret_basic")
    );
    provider.shutdown().await;
}
