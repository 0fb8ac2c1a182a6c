//! The signing keys and the clock, against a tiny fixed server: a provider with a wrong clock or
//! unusable keys.

use std::time::Duration;

use logi::testing::{Endpoint, TestProvider};
use serde_json::Value;

use crate::support::*;

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
