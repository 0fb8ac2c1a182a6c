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
        "LOGI_TOKEN_AUTH_METHOD",
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
    // Another provider's client: its secret has no logi format, and is right.
    let other = "other-providers-client";
    provider.register_client(TestClient::confidential(other, short_secret, [REGISTERED]));
    for json_output in [true, false] {
        let mut args = vec![
            "--issuer",
            provider.issuer(),
            "--client-id",
            other,
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
                ("LOGI_CLIENT_SECRET", short_secret),
                ("LOGI_SESSION_KEY", short_key),
            ],
        )
        .await;
        assert_eq!(output.status.code(), Some(1));
        for stream in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                !text.contains(short_key) && !text.contains(short_secret),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_fails_naming_invalid_client_and_the_variable() {
    let provider = TestProvider::start().await.unwrap();
    // Right length and format, wrong value: only the provider can tell.
    let wrong = "logi_secret_0000000000000000000000000000000000000000000000000000000000000bad";
    let token = provider.url(Endpoint::Token);
    for method in ["client_secret_basic", "client_secret_post"] {
        for json_output in [true, false] {
            let mut args = vec![
                "--issuer",
                provider.issuer(),
                "--client-id",
                TestClient::DEFAULT_CLIENT_ID,
                "--token-auth-method",
                method,
                "-r",
                REGISTERED,
            ];
            if json_output {
                args.push("--json");
            }
            let output = doctor(&args, &[("LOGI_CLIENT_SECRET", wrong)]).await;
            assert_eq!(output.status.code(), Some(1), "{method}");
            for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                let text = String::from_utf8_lossy(stream);
                assert!(!text.contains(wrong), "the secret is in {name}:\n{text}");
            }
            if !json_output {
                let text = String::from_utf8_lossy(&output.stdout);
                assert!(text.contains("[fail] client_credentials"), "{text}");
                continue;
            }
            let report = json(&output);
            let credentials = entry(&report, "client_credentials", &token);
            assert_eq!(credentials["status"], "fail", "{credentials:#}");
            let message = credentials["message"].as_str().unwrap();
            assert!(
                message.contains("401") && message.contains("invalid_client"),
                "{message}"
            );
            assert!(message.contains(method), "{message}");
            let fix = credentials["fix"].as_str().unwrap();
            assert!(
                fix.contains("LOGI_CLIENT_SECRET") && fix.contains("LOGI_CLIENT_ID"),
                "{fix}"
            );
            // Everything else about the integration is fine.
            assert_eq!(report["summary"]["fail"], 1, "{report:#}");
        }
    }
    assert_eq!(provider.calls(Endpoint::Token), 4);
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_credentials_pass_with_either_method_and_a_public_client_is_not_probed() {
    let provider = TestProvider::start().await.unwrap();
    let token = provider.url(Endpoint::Token);
    for method in ["client_secret_basic", "client_secret_post"] {
        let output = doctor(
            &["--json", "--token-auth-method", method],
            &[
                ("LOGI_ISSUER", provider.issuer()),
                ("LOGI_CLIENT_ID", TestClient::DEFAULT_CLIENT_ID),
                ("LOGI_CLIENT_SECRET", SECRET),
            ],
        )
        .await;
        let report = json(&output);
        assert_eq!(output.status.code(), Some(0), "{report:#}");
        let credentials = entry(&report, "client_credentials", &token);
        assert_eq!(credentials["status"], "pass", "{credentials:#}");
        assert!(
            credentials["message"].as_str().unwrap().contains(method),
            "{credentials:#}"
        );
        assert_no_secret(&output);
    }
    assert_eq!(provider.calls(Endpoint::Token), 2);

    let output = doctor(
        &["--json"],
        &[
            ("LOGI_ISSUER", provider.issuer()),
            ("LOGI_CLIENT_ID", TestClient::DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    let report = json(&output);
    assert_eq!(status(&report, "client_credentials", &token), "skip");
    assert_eq!(provider.calls(Endpoint::Token), 2);
    provider.shutdown().await;
}

/// One path a [`fixed_server`] answers: its path and JSON body.
type Route = (String, String);

/// A tiny HTTP/1.1 server on `listener` that answers each path with a fixed JSON body (404
/// otherwise), one request a connection: a provider with a wrong clock or unusual keys. Each
/// answer's `Date` is this machine's clock when it answers, `clock_ahead` later, so that a slow
/// start of the doctor does not change the skew it sees.
fn fixed_server(listener: tokio::net::TcpListener, routes: Vec<Route>, clock_ahead: Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let routes = std::sync::Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0_u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await
                    {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let (status, headers, body) = match routes.iter().find(|(p, ..)| p == path) {
                    Some((_, body)) => {
                        let date = std::time::SystemTime::now() + clock_ahead;
                        let date = ("date", httpdate::fmt_http_date(date));
                        ("200 OK", vec![date], body.clone())
                    }
                    None => ("404 Not Found", Vec::new(), "{}".to_owned()),
                };
                let mut response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&body);
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
}

/// A provider at a [`fixed_server`] whose clock is `clock_ahead` of this machine's, serving
/// `jwks` and a discovery document listing `algs`. Returns the issuer.
async fn fixed_provider(jwks: &Value, clock_ahead: Duration, algs: &[&str]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": algs,
    });
    let routes = vec![
        (
            "/.well-known/openid-configuration".to_owned(),
            discovery.to_string(),
        ),
        ("/.well-known/jwks.json".to_owned(), jwks.to_string()),
    ];
    fixed_server(listener, routes, clock_ahead);
    issuer
}

/// The doctor's report on a provider at `issuer`, with no secret and no redirect URI.
async fn report_on(issuer: &str) -> (Option<i32>, Value) {
    let output = doctor(
        &["--json", "--issuer", issuer, "--client-id", "some-client"],
        &[],
    )
    .await;
    (output.status.code(), json(&output))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_five_minutes_off_warns_naming_the_skew_and_the_tolerance() {
    let provider = TestProvider::start().await.unwrap();
    // The in-process provider's real key set, served with a Date 5 minutes in the future.
    let later = Duration::from_secs(300);
    let issuer = fixed_provider(&provider.jwks(), later, &["RS256"]).await;
    let (code, report) = report_on(&issuer).await;
    let jwks = format!("{issuer}/.well-known/jwks.json");
    assert_eq!(status(&report, "jwks", &jwks), "pass", "{report:#}");
    let clock = entry(&report, "clock", &jwks);
    assert_eq!(clock["status"], "warn", "{clock:#}");
    let message = clock["message"].as_str().unwrap();
    assert!(
        message.contains("300 s behind") && message.contains("tolerance of 60 s"),
        "{message}"
    );
    assert!(clock["fix"].as_str().unwrap().contains("NTP"));
    // A warning does not fail the run.
    assert_eq!(code, Some(0), "{report:#}");

    // The in-process provider's own clock is this machine's.
    let (_, report) = report_on(provider.issuer()).await;
    let clock = entry(&report, "clock", &provider.url(Endpoint::Jwks));
    assert_eq!(clock["status"], "pass", "{clock:#}");
    assert!(
        clock["message"].as_str().unwrap().contains("within"),
        "{clock:#}"
    );
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_without_a_usable_rs256_key_fails_naming_what_it_holds() {
    let provider = TestProvider::start().await.unwrap();
    let ec = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig", "alg": "ES256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }]});
    let mut enc = provider.jwks();
    for key in enc["keys"].as_array_mut().unwrap() {
        key["use"] = "enc".into();
    }
    for (jwks, algs, words) in [
        (&ec, &["ES256", "RS256"][..], "kid ec-1, kty EC, crv P-256"),
        (
            &enc,
            &["RS256"][..],
            "use enc, alg RS256 (not for signatures)",
        ),
        (
            &serde_json::json!({"keys": []}),
            &["RS256"][..],
            "the key set is empty",
        ),
    ] {
        let issuer = fixed_provider(jwks, Duration::ZERO, algs).await;
        let (code, report) = report_on(&issuer).await;
        assert_eq!(code, Some(1), "{report:#}");
        let check = entry(&report, "jwks", &format!("{issuer}/.well-known/jwks.json"));
        assert_eq!(check["status"], "fail", "{check:#}");
        let message = check["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
        assert!(
            message.contains(&format!("discovery lists {}", algs.join(", "))),
            "{message}"
        );
        assert!(check["fix"].as_str().unwrap().contains("RS256"));
    }
    provider.shutdown().await;
}
