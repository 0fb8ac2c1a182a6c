//! The client credentials at the token endpoint: a wrong secret, either authentication method,
//! a public client.

use logi::testing::{Endpoint, TestClient, TestProvider};

use crate::support::*;

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
