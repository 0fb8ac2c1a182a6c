//! Loopback load test: `wrk` against a protected hello (a `LogiLayer` API validating one bearer
//! token, cached) and against the same router bare, in one run, each on its own port of this
//! process. Prints requests/s for both and their ratio.
//!
//! ```sh
//! cargo bench -p logi-tower --all-features --bench load
//! ```
//!
//! Needs `wrk` (`apt-get install wrk`); without it the run says so and does nothing. Only
//! 127.0.0.1 is used, and each `wrk` run is bounded (`LOAD_SECONDS`, default 10).

#![allow(clippy::print_stdout, reason = "a benchmark's report")]

use std::process::Command;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use logi::testing::{TestClient, TestProvider};
use logi::{LogiLayer, LogiUser};
use tokio::net::TcpListener;

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hello", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// `wrk`'s requests/s for `url`.
fn wrk(url: &str, seconds: u64, token: Option<&str>) -> f64 {
    let mut command = Command::new("wrk");
    command.args(["-t1", "-c32", &format!("-d{seconds}s"), "--latency"]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.arg(url).output().expect("wrk runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        !report.contains("Non-2xx"),
        "every response must be 200:\n{report}"
    );
    report
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's report:\n{report}"))
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("load: SKIPPED: `wrk` is not installed (apt-get install wrk)");
        return;
    }
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    // The servers get one worker thread; wrk gets the other core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (bare, protected, token, provider) = runtime.block_on(async {
        let provider = TestProvider::start().await.unwrap();
        let client = TestClient::DEFAULT_CLIENT_ID;
        let logi = LogiLayer::builder()
            .issuer(provider.issuer())
            .audience(client)
            .build()
            .await
            .unwrap();
        let token =
            provider.access_token(client, "user-0001", &["openid"], Duration::from_secs(3600));
        let bare = serve(Router::new().route("/hello", get(|| async { "hello user-0001" }))).await;
        let protected = serve(
            Router::new()
                .route(
                    "/hello",
                    get(|user: LogiUser| async move { format!("hello {}", user.sub()) }),
                )
                .layer(logi),
        )
        .await;
        (bare, protected, token, provider)
    });
    // Warm up both (the first protected request fetches the provider's keys).
    wrk(&bare, 1, None);
    wrk(&protected, 1, Some(&token));
    let bare_rps = wrk(&bare, seconds, None);
    let protected_rps = wrk(&protected, seconds, Some(&token));
    println!("load/bare_router                 {bare_rps:>10.0} requests/s");
    println!("load/logi_protected_cached_token {protected_rps:>10.0} requests/s");
    println!(
        "load/ratio                       {:>10.2}",
        protected_rps / bare_rps
    );
    drop(provider);
}
