//! A real headless Chromium signs in and out of the quickstart app.
//!
//! The app is served on `localhost` (127.0.0.1 and ::1), the in-process logi provider on
//! `127.0.0.1`: two different sites, as a real provider and app would be, so the browser applies
//! its cross-site cookie rules (`SameSite=Lax`) to the callback. The browser is driven by
//! `tests/node/browser-sign-in.mjs` (playwright-core on the Debian Chromium).
//!
//! The browser is `LOGI_E2E_CHROMIUM` if set, else `/usr/bin/chromium`, else `chromium` on PATH.
//! Without Chromium, Node or `tests/node/node_modules`, the test prints `SKIPPED` and passes,
//! unless `LOGI_E2E_REQUIRED` is set (CI sets it), in which case it fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use logi::testing::{Endpoint, TestProvider};
use logi_examples::Localhost;
use serde_json::Value;
use tokio::io::AsyncReadExt as _;
use tokio::process::{Child, Command};

/// The whole browser run; the script bounds each step itself (15 s) and its run (75 s).
const RUN_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the script gets to close the browser once told to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);
const SCRIPT: &str = "tests/node/browser-sign-in.mjs";

#[tokio::test]
async fn chromium_signs_in_and_out_of_the_quickstart() {
    let Some(tools) = Tools::find() else { return };

    let localhost = Localhost::bind(0).await.expect("bind localhost");
    let port = localhost.port().expect("the bound port");
    let (layer, provider) = logi_examples::development_layer(port)
        .await
        .expect("start the provider and build the layer");
    let app = logi_examples::quickstart::app(layer);
    let ipv6 = localhost.serves_ipv6();
    tokio::spawn(localhost.serve(app, std::future::pending()));
    let url = format!("http://localhost:{port}/");

    let started = Instant::now();
    let run = run_script(&tools, &url).await;
    let elapsed = started.elapsed();
    let report = run.report();
    assert!(
        run.status.is_some_and(|status| status.success()),
        "the browser run failed ({}):\n{report}",
        run.status.map_or_else(
            || format!("stopped after {RUN_TIMEOUT:?}"),
            |status| status.to_string()
        ),
    );
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let result: Value = match lines[..] {
        [line] => serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("the script's line is not JSON ({error}):\n{report}")),
        _ => panic!("the script should print one JSON line:\n{report}"),
    };
    eprintln!("{report}");
    eprintln!(
        "browser run: {:.1} s (app on 127.0.0.1{}), screenshot of the dashboard: {}",
        elapsed.as_secs_f64(),
        if ipv6 { " and ::1" } else { " only" },
        result["screenshot"]
    );

    assert_signed_in_and_out(&result, &provider, &url);
    assert_provider_calls(&provider);
}

/// What the browser saw, as the script reported it.
fn assert_signed_in_and_out(result: &Value, provider: &TestProvider, url: &str) {
    let issuer = provider.issuer();
    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(result["app"], url);
    assert_eq!(
        result["provider"], issuer,
        "the sign-in page is the provider's"
    );
    let sign_in_page = result["provider_page"].as_str().unwrap_or_default();
    assert!(
        sign_in_page.starts_with(&format!("{issuer}/oauth/authorize?")),
        "{sign_in_page}"
    );
    assert_eq!(
        result["provider_button"],
        "Continue as Ada Lovelace (ada@example.com)"
    );

    // The transaction cookie reached the callback across sites: Lax, scoped to the callback.
    let tx = &result["transaction_cookie"];
    assert_eq!(tx["path"], "/auth/callback", "{tx}");
    assert_eq!(
        (&tx["http_only"], &tx["secure"], &tx["same_site"]),
        (&Value::Bool(true), &Value::Bool(true), &Value::from("Lax")),
        "{tx}"
    );

    assert_eq!(
        result["dashboard"],
        serde_json::json!({"sub": "user-0001", "email": "ada@example.com", "name": "Ada Lovelace"})
    );
    assert_eq!(
        result["session_cookie"],
        serde_json::json!({
            "http_only": true, "secure": true, "same_site": "Lax", "path": "/", "domain": "localhost"
        }),
        "the session cookie as the browser stored it"
    );
    assert_eq!(result["reload_status"], 200, "a reload stays signed in");

    // Sign-out: the app's POST, the provider's end-session endpoint, back home.
    let sign_out: Vec<&str> = strings(&result["sign_out"]);
    assert_eq!(sign_out.len(), 3, "{sign_out:#?}");
    assert_eq!(sign_out[0], format!("POST {url}auth/logout 303"));
    assert!(
        sign_out[1].starts_with(&format!("GET {issuer}/oauth/logout?"))
            && sign_out[1].ends_with(" 302"),
        "{}",
        sign_out[1]
    );
    assert_eq!(sign_out[2], format!("GET {url} 200"));
    assert_eq!(
        result["cookies_after_sign_out"],
        serde_json::json!([]),
        "no cookie of the app or the provider is left"
    );

    // Signed out, the dashboard leads to the sign-in flow and ends on the provider's page.
    let to_sign_in: Vec<&str> = strings(&result["dashboard_after_sign_out"]);
    assert_eq!(to_sign_in.len(), 3, "{to_sign_in:#?}");
    assert_eq!(to_sign_in[0], format!("GET {url}dashboard 302"));
    assert!(
        to_sign_in[1].starts_with(&format!("GET {url}auth/login?return_to=")),
        "{}",
        to_sign_in[1]
    );
    assert!(
        to_sign_in[2].starts_with(&format!("GET {issuer}/oauth/authorize?"))
            && to_sign_in[2].ends_with(" 200"),
        "{}",
        to_sign_in[2]
    );
}

/// One code exchange, one userinfo call and one revocation for one sign-in and sign-out; two
/// visits to the sign-in page (the second after signing out).
fn assert_provider_calls(provider: &TestProvider) {
    let calls: Vec<(Endpoint, u64)> = Endpoint::ALL
        .iter()
        .map(|&endpoint| (endpoint, provider.calls(endpoint)))
        .collect();
    for (endpoint, expected) in [
        (Endpoint::Authorize, 2),
        (Endpoint::Token, 1),
        (Endpoint::Userinfo, 1),
        (Endpoint::Revoke, 1),
        (Endpoint::EndSession, 1),
    ] {
        assert_eq!(
            provider.calls(endpoint),
            expected,
            "{endpoint:?} calls (all calls: {calls:?})"
        );
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// What the browser test needs on the machine.
struct Tools {
    workspace: PathBuf,
    node: PathBuf,
    chromium: PathBuf,
}

impl Tools {
    /// The tools, or `None` after a loud `SKIPPED` note when some are missing (a failure
    /// instead when `LOGI_E2E_REQUIRED` is set).
    fn find() -> Option<Self> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the e2e package lives in the workspace")
            .to_path_buf();
        let chromium = match std::env::var_os("LOGI_E2E_CHROMIUM") {
            Some(chosen) => Some(PathBuf::from(chosen)).filter(|path| path.is_file()),
            None => Some(PathBuf::from("/usr/bin/chromium"))
                .filter(|path| path.is_file())
                .or_else(|| on_path("chromium")),
        };
        let node = on_path("node");
        let packages = workspace.join("tests/node/node_modules/playwright-core/package.json");

        let mut missing = Vec::new();
        if chromium.is_none() {
            missing.push(
                "Chromium (LOGI_E2E_CHROMIUM, else /usr/bin/chromium or `chromium` on PATH): \
                 `apt-get install -y chromium`",
            );
        }
        if node.is_none() {
            missing.push("Node.js 20 or later (`node` on PATH): `apt-get install -y nodejs npm`");
        }
        if !packages.is_file() {
            missing.push("playwright-core (tests/node/node_modules): `npm ci --prefix tests/node`");
        }
        if missing.is_empty() {
            return Some(Self {
                workspace,
                node: node?,
                chromium: chromium?,
            });
        }
        let missing = missing.join("\n  - ");
        if std::env::var_os("LOGI_E2E_REQUIRED").is_some() {
            panic!(
                "LOGI_E2E_REQUIRED is set, but the browser test cannot run. Install:\n  - {missing}"
            );
        }
        // Straight to stderr, past the test harness's capture, so a green run still shows it.
        let _ = writeln!(
            std::io::stderr().lock(),
            "\nSKIPPED: the browser test (tests/browser.rs) needs:\n  - {missing}\n\
             Set LOGI_E2E_REQUIRED=1 to make this a failure.\n"
        );
        None
    }
}

/// The first executable file named `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// How the script ended.
struct Run {
    /// `None` when it had to be stopped after [`RUN_TIMEOUT`].
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn report(&self) -> String {
        format!(
            "--- {SCRIPT} stdout\n{}--- {SCRIPT} stderr\n{}---",
            self.stdout, self.stderr
        )
    }
}

/// Runs the browser script against `url`, within [`RUN_TIMEOUT`]. Closing its stdin asks it
/// to close the browser and exit; a script that does not is killed.
async fn run_script(tools: &Tools, url: &str) -> Run {
    let mut child = Command::new(&tools.node)
        .arg(SCRIPT)
        .arg(url)
        .arg("--stop-on-stdin-close")
        .current_dir(&tools.workspace)
        .env("LOGI_E2E_CHROMIUM", &tools.chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("could not start {}: {error}", tools.node.display()));
    let stdin = child.stdin.take();
    let stdout = tokio::spawn(read_all(child.stdout.take()));
    let stderr = tokio::spawn(read_all(child.stderr.take()));

    let status = match tokio::time::timeout(RUN_TIMEOUT, child.wait()).await {
        Ok(status) => Some(status.expect("wait for the script")),
        Err(_) => {
            stop(&mut child, stdin).await;
            None
        }
    };
    // The pipes close when the script exits; bounded all the same.
    let collect = |task: tokio::task::JoinHandle<String>| async move {
        tokio::time::timeout(STOP_GRACE, task)
            .await
            .map_or_else(|_| "(not closed)".to_owned(), Result::unwrap_or_default)
    };
    Run {
        status,
        stdout: collect(stdout).await,
        stderr: collect(stderr).await,
    }
}

/// Asks the script to stop (it closes the browser), then kills it if it has not exited.
async fn stop(child: &mut Child, stdin: Option<tokio::process::ChildStdin>) {
    drop(stdin);
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

async fn read_all(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes).await;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
