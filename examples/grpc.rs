//! A tonic server behind `LogiLayer`, and a client calling it with and without access tokens.
//!
//! ```sh
//! cargo run --example grpc
//! ```
//!
//! The server is [`logi_examples::greeter`]: `Server::builder().layer(logi)` in front of a
//! greeter whose `SayHello` is `#[logi::protected(scopes = ["greeter:hello"])]`. It listens on
//! `127.0.0.1:50051` (`PORT` overrides). The client then calls `SayHello` three times and prints
//! what it got: without a token (`UNAUTHENTICATED`), with a token lacking `greeter:hello`
//! (`PERMISSION_DENIED`), and with one granting it (`OK`). Then both stop.
//!
//! Without `LOGI_*` variables, both use the in-process logi provider. It has no grant that hands
//! tokens to a program (client credentials), so the client's tokens are minted directly by the
//! provider (`TestProvider::access_token`); a real client would get them from logi's token
//! endpoint. With `LOGI_ISSUER` and `LOGI_AUDIENCE` (or `LOGI_CLIENT_ID`) set, the server checks
//! that provider's tokens and the client sends the access token in `LOGI_TOKEN`.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use logi::testing::TestClient;
use logi_examples::greeter::{self, SCOPE, pb::GreeterClient};
use tokio::net::TcpListener;
use tonic::{Request, Status};

#[tokio::main]
async fn main() -> ExitCode {
    logi_examples::run_example("grpc", run()).await
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let port = logi_examples::port(50051);

    // Keep the provider alive for as long as the server runs.
    let (logi, provider) = logi_examples::api_layer().await?;

    // The server.
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(greeter::serve(listener, logi, async {
        let _ = stopped.await;
    }));
    say(&format!("grpc: greeter listening on {url}"));

    // The client.
    let mut client = GreeterClient::connect(url).await?;
    let calls: Vec<(&str, Option<String>)> = match &provider {
        Some(provider) => {
            let token = |scopes: &[&str]| {
                let ttl = Duration::from_secs(300);
                provider.access_token(TestClient::DEFAULT_CLIENT_ID, "user-0001", scopes, ttl)
            };
            vec![
                ("without a token", None),
                (
                    "with a token lacking greeter:hello",
                    Some(token(&["openid"])),
                ),
                (
                    "with a token granting greeter:hello",
                    Some(token(&["openid", SCOPE])),
                ),
            ]
        }
        None => {
            let token = std::env::var("LOGI_TOKEN").ok();
            if token.is_none() {
                say("grpc: set LOGI_TOKEN to an access token from your provider to call with it");
            }
            let with = token.map(|token| ("with LOGI_TOKEN", Some(token)));
            [("without a token", None)]
                .into_iter()
                .chain(with)
                .collect()
        }
    };
    for (what, token) in calls {
        let answer = say_hello(&mut client, token.as_deref()).await?;
        say(&format!("SayHello {what:<38} -> {answer}"));
    }

    let _ = stop.send(());
    server.await??;
    drop(provider);
    Ok(())
}

/// Calls `SayHello` with `token` as `authorization: Bearer …` metadata when given; the answer
/// as one line, a gRPC status included.
async fn say_hello(
    client: &mut GreeterClient,
    token: Option<&str>,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut request = Request::new("ada".to_owned());
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse()?;
        request.metadata_mut().insert("authorization", value);
    }
    Ok(match client.say_hello(request).await {
        Ok(response) => format!("OK: {}", response.into_inner()),
        Err(status) => describe(&status),
    })
}

/// `PERMISSION_DENIED (7): requires the scope greeter:hello`.
fn describe(status: &Status) -> String {
    let code = status.code();
    // The canonical gRPC name: `PermissionDenied` becomes `PERMISSION_DENIED`.
    let mut name = String::new();
    for (i, c) in format!("{code:?}").char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    format!("{name} ({}): {}", code as i32, status.message())
}

#[allow(clippy::print_stdout)] // what the calls got is the point
fn say(line: &str) {
    println!("{line}");
}
