//! The formats of the client id, the client secret and the session key; no secret printed.

use logi::testing::{TestClient, TestProvider};

use crate::support::*;

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
