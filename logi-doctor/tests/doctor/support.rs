//! What every group of tests shares: the test client's values, running the built binary with
//! no inherited `LOGI_*` variable, and reading its JSON report.

use std::process::{Command, Output};

use logi::testing::TestClient;
use serde_json::Value;

pub(crate) const REGISTERED: &str = TestClient::DEFAULT_REDIRECT_URIS[0];
pub(crate) const UNREGISTERED: &str = "http://localhost:4000/auth/callback";
pub(crate) const INSECURE: &str = "http://example.com/cb";
pub(crate) const SECRET: &str = TestClient::DEFAULT_CLIENT_SECRET;
/// 32 bytes, base64.
pub(crate) const SESSION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// Runs the binary with `args`, with no `LOGI_*` variable inherited from the test's environment.
pub(crate) async fn doctor(args: &[&str], env: &[(&str, &str)]) -> Output {
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
pub(crate) fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
/// The entry of `check` on `subject`.
pub(crate) fn entry<'a>(report: &'a Value, check: &str, subject: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check && c["subject"] == subject)
        .unwrap_or_else(|| panic!("no {check} check on {subject} in {report:#}"))
}
pub(crate) fn status<'a>(report: &'a Value, check: &str, subject: &str) -> &'a str {
    entry(report, check, subject)["status"].as_str().unwrap()
}
pub(crate) fn assert_no_secret(output: &Output) {
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
/// The doctor's report on a provider at `issuer`, with no secret and no redirect URI.
pub(crate) async fn report_on(issuer: &str) -> (Option<i32>, Value) {
    let output = doctor(
        &["--json", "--issuer", issuer, "--client-id", "some-client"],
        &[],
    )
    .await;
    (output.status.code(), json(&output))
}
