//! `logi-doctor`, the built binary, against the in-process logi provider over real HTTP.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use logi::testing::{Endpoint, Fault, TestClient, TestProvider};
use serde_json::Value;

const REGISTERED: &str = TestClient::DEFAULT_REDIRECT_URIS[0];
const UNREGISTERED: &str = "http://localhost:4000/auth/callback";
const INSECURE: &str = "http://example.com/cb";
const SECRET: &str = TestClient::DEFAULT_CLIENT_SECRET;
/// 32 bytes, base64.
const SESSION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Runs the binary with `args`, with no `LOGI_*` variable inherited from the test's environment.
async fn doctor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_logi-doctor"));
    command.args(args);
    for name in [
        "LOGI_ISSUER",
        "LOGI_EXPECTED_ISSUER",
        "LOGI_CLIENT_ID",
        "LOGI_CLIENT_SECRET",
        "LOGI_REDIRECT_URI",
        "LOGI_SESSION_KEY",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    // The provider runs on this test's runtime: wait for the process off it.
    tokio::task::spawn_blocking(move || command.output().expect("logi-doctor runs"))
        .await
        .unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The entry of `check` on `subject`.
fn entry<'a>(report: &'a Value, check: &str, subject: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check && c["subject"] == subject)
        .unwrap_or_else(|| panic!("no {check} check on {subject} in {report:#}"))
}

fn status<'a>(report: &'a Value, check: &str, subject: &str) -> &'a str {
    entry(report, check, subject)["status"].as_str().unwrap()
}

fn assert_no_secret(output: &Output) {
    for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains(SECRET),
            "the client secret is in {name}:\n{text}"
        );
        assert!(
            !text.contains(SESSION_KEY),
            "the session key is in {name}:\n{text}"
        );
    }
}

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
    assert_eq!(provider.calls(Endpoint::Token), 0);
    assert_no_secret(&output);
    provider.shutdown().await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_warn_a_short_session_key_fails_and_no_secret_is_printed() {
    let provider = TestProvider::start().await.unwrap();
    let short_secret = "hunter2-not-a-logi-secret";
    let short_key = "c2hvcnQta2V5"; // "short-key"
    for json_output in [true, false] {
        let mut args = vec![
            "--issuer",
            provider.issuer(),
            "--client-id",
            TestClient::DEFAULT_CLIENT_ID,
            "-r",
            REGISTERED,
        ];
        if json_output {
            args.push("--json");
        }
        // A warning alone does not fail the run.
        let output = doctor(&args, &[("LOGI_CLIENT_SECRET", short_secret)]).await;
        assert_eq!(output.status.code(), Some(0));
        for stream in [&output.stdout, &output.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains(short_secret));
        }
        if json_output {
            let report = json(&output);
            assert_eq!(report["verdict"], "warn");
            assert_eq!(
                status(&report, "client_secret_format", "LOGI_CLIENT_SECRET"),
                "warn"
            );
        }

        let output = doctor(
            &args,
            &[
                ("LOGI_CLIENT_SECRET", SECRET),
                ("LOGI_SESSION_KEY", short_key),
            ],
        )
        .await;
        assert_eq!(output.status.code(), Some(1));
        for stream in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                !text.contains(short_key) && !text.contains(SECRET),
                "{text}"
            );
        }
        if json_output {
            let report = json(&output);
            let key = entry(&report, "session_key", "LOGI_SESSION_KEY");
            assert_eq!(key["status"], "fail");
            assert!(
                key["message"].as_str().unwrap().contains("9 bytes"),
                "{key:#}"
            );
        }
    }
    provider.shutdown().await;
}

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
    let output = doctor(&["--help"], &[]).await;
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("--redirect-uri"));
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
