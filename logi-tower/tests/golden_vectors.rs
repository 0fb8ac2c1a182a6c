//! logi's shared ID-token verification contract: every logi SDK passes these vectors with the
//! same result and the same error code.

use std::time::{Duration, UNIX_EPOCH};

use logi::provider::Jwks;
use logi::verify::{IdTokenChecks, IdTokenVerifier};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vectors {
    now: u64,
    expected: Expected,
    jwks: serde_json::Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expected {
    issuer: String,
    client_id: String,
    nonce: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    name: String,
    token: String,
    access_token: Option<String>,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    valid: bool,
    sub: Option<String>,
    error: Option<String>,
}

#[tokio::test]
async fn every_golden_vector_gives_the_expected_result() {
    let vectors: Vectors =
        serde_json::from_str(include_str!("fixtures/id-token-vectors.json")).unwrap();
    assert_eq!(vectors.cases.len(), 16, "the contract has 16 cases");
    let jwks = Jwks::from_json(vectors.jwks.to_string().as_bytes()).unwrap();
    let verifier =
        IdTokenVerifier::new(&vectors.expected.issuer, &vectors.expected.client_id, jwks);
    let now = UNIX_EPOCH + Duration::from_secs(vectors.now);

    let mut failures = Vec::new();
    for case in &vectors.cases {
        let mut checks = IdTokenChecks::new().nonce(&vectors.expected.nonce).at(now);
        if let Some(access_token) = &case.access_token {
            checks = checks.access_token(access_token);
        }
        let got = verifier.verify(&case.token, &checks).await;
        let ok = match (&got, &case.expect) {
            (
                Ok(token),
                Expect {
                    valid: true,
                    sub: Some(sub),
                    ..
                },
            ) => token.subject() == sub,
            (
                Err(e),
                Expect {
                    valid: false,
                    error: Some(code),
                    ..
                },
            ) => e.code() == code,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {}, got {:?}",
                case.name,
                case.expect.error.as_deref().unwrap_or("valid"),
                got.as_ref().map(|t| t.subject()).map_err(|e| e.code())
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_clock_skew_is_sixty_seconds_and_configurable() {
    let vectors: Vectors =
        serde_json::from_str(include_str!("fixtures/id-token-vectors.json")).unwrap();
    let jwks = Jwks::from_json(vectors.jwks.to_string().as_bytes()).unwrap();
    let valid = &vectors
        .cases
        .iter()
        .find(|c| c.name == "valid")
        .unwrap()
        .token;
    // The valid token expires at 1700003600.
    let exp = 1_700_003_600;
    let verifier =
        IdTokenVerifier::new(&vectors.expected.issuer, &vectors.expected.client_id, jwks);
    let at = |secs: u64| {
        IdTokenChecks::new()
            .nonce("nonce-abc123")
            .at(UNIX_EPOCH + Duration::from_secs(secs))
    };

    assert!(
        verifier.verify(valid, &at(exp + 59)).await.is_ok(),
        "inside the 60 s skew"
    );
    let late = verifier.verify(valid, &at(exp + 60)).await.unwrap_err();
    assert_eq!(late.code(), "expired");

    let strict = verifier.clone().with_clock_skew(Duration::ZERO);
    assert_eq!(
        strict.verify(valid, &at(exp)).await.unwrap_err().code(),
        "expired"
    );
    assert!(strict.verify(valid, &at(exp - 1)).await.is_ok());
}
