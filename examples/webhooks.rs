//! Receiving logi webhooks, in an app whose users sign in with logi and join on their first
//! sign-in.
//!
//! ```sh
//! LOGI_WEBHOOK_SECRETS='2026-q3:whsec_…,2026-q2:whsec_…' cargo run --example webhooks
//! ```
//!
//! `LOGI_WEBHOOK_SECRETS` holds comma-separated `kid:secret` pairs (several during a key
//! rotation's grace period); a bare `secret` is the legacy key (`X-Logi-Signature: sha256=…`).
//! Without it, the example generates a secret and prints a `curl` command carrying a valid
//! signature.
//!
//! The app listens on `http://localhost:3002` (`PORT` overrides). Its routes are
//! [`logi_examples::webhooks::app`]: `POST /webhooks/logi` answers 200 with the event's name for
//! a verified delivery and prints it, and refuses anything else (401 with a short reason); the
//! members' pages ([`logi_examples::members`]) sign users in with first-login completion: a
//! new user chooses a display name and accepts the terms at `/welcome` before being signed in,
//! `/account` is for members, and a `user.deleted` delivery removes the member it names (and,
//! like every event that withdraws a user's access, ends that user's sessions).
//!
//! With `LOGI_CLIENT_ID` (and the other `LOGI_*` variables) set, users sign in at that
//! provider. Without, the example starts the in-process logi provider in interactive
//! development mode, as the quickstart does.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use logi::LogiLayer;
use logi_examples::Localhost;
use logi_examples::webhooks::{self, DEVELOPMENT_KID, PATH};

#[tokio::main]
async fn main() -> ExitCode {
    logi_examples::run_example("webhooks", run()).await
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let port = logi_examples::port(3002);
    let localhost = Localhost::bind(port).await?;
    let port = localhost.port()?;
    // Keep the provider alive for as long as the app runs.
    let (builder, _provider) = if std::env::var_os("LOGI_CLIENT_ID").is_some() {
        (LogiLayer::builder().with_env()?, None)
    } else {
        let (builder, provider) = logi_examples::development_builder(port).await?;
        (builder, Some(provider))
    };
    let (secrets, generated) = match std::env::var("LOGI_WEBHOOK_SECRETS") {
        Ok(secrets) => (secrets, None),
        Err(_) => {
            let secret = webhooks::generate_secret();
            (format!("{DEVELOPMENT_KID}:{secret}"), Some(secret))
        }
    };
    let (app, _directory) = webhooks::build(builder, &secrets).await?;

    let url = format!("http://localhost:{port}{PATH}");
    match generated {
        Some(secret) => print_try_it(&url, &secret),
        None => print_listening(&url),
    }
    print_sign_in(port);
    localhost
        .serve(app, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[allow(clippy::print_stdout)] // telling the user which URL to open is the point
fn print_sign_in(port: u16) {
    println!("webhooks: members sign in at http://localhost:{port}/");
}

/// The generated secret and a signed delivery to try.
#[allow(clippy::print_stdout)] // the secret and the command are the point
fn print_try_it(url: &str, secret: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().cast_signed());
    let body = r#"{"type":"user.deleted","sub":"user-0001"}"#;
    let signature = webhooks::signature(secret, DEVELOPMENT_KID, now, body.as_bytes());
    println!(
        "webhooks: receiving at {url}

LOGI_WEBHOOK_SECRETS is not set: generated a secret for this run (a development secret, printed
because nothing else knows it):

export LOGI_WEBHOOK_SECRETS='{DEVELOPMENT_KID}:{secret}'

A signed delivery, valid for 5 minutes and accepted once (a second try is a replay):

curl -i -X POST {url} -H 'content-type: application/json' \\
     -H 'X-Logi-Signature: {signature}' \\
     -d '{body}'                          # 200, user.deleted

curl -i -X POST {url} -d '{body}'          # 401, missing_signature
"
    );
}

#[allow(clippy::print_stdout)]
fn print_listening(url: &str) {
    println!("webhooks: receiving at {url}");
}
