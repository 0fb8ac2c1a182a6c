//! oidc-provider (npm, OpenID Certified), run by node on 127.0.0.1 for the length of one test:
//! `tests/node/oidc-provider.mjs`.
//!
//! Its stdout is one JSON object a line: the issuer once listening, then every request it served
//! and the provider events the test asserts on. Those are kept in order, to count calls and
//! observe the provider's side (a refresh token issued, revoked, a session ended).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How long node may take to print its issuer.
const STARTUP: Duration = Duration::from_secs(20);
/// How long to wait for an event the provider is expected to report.
const EVENT_WAIT: Duration = Duration::from_secs(5);

/// The provider's configuration, passed on node's command line.
pub(crate) struct Options<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a str,
    pub(crate) redirect_uri: &'a str,
    pub(crate) post_logout_redirect_uri: &'a str,
    /// `ttl.AccessToken`: short, to make the app refresh.
    pub(crate) access_token_ttl: Duration,
}

/// The running provider. Dropping it kills node, whatever way the test ends.
pub(crate) struct OidcProvider {
    pub(crate) issuer: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
    events: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Whether node and the npm packages are here: `Err` says what to install.
fn prerequisites() -> Result<(), String> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    if !node.is_ok_and(|out| out.status.success()) {
        return Err("`node` (v20 or later) is not on PATH: install Node.js 20".to_owned());
    }
    if !node_dir()
        .join("node_modules/oidc-provider/package.json")
        .exists()
    {
        return Err(
            "tests/node/node_modules/oidc-provider is missing: run `npm ci --prefix tests/node`"
                .to_owned(),
        );
    }
    Ok(())
}

impl OidcProvider {
    /// Starts the provider, or returns `None` after a loud `SKIPPED` when node or the npm packages
    /// are missing and `LOGI_E2E_REQUIRED` is not set (with it, a missing one fails the test).
    pub(crate) async fn start(options: &Options<'_>) -> Option<Self> {
        if let Err(missing) = prerequisites() {
            crate::skip::skipped(
                "the oidc-provider interop test",
                &format!("{missing} (or run tests/setup)"),
            );
            return None;
        }
        let mut child = Command::new("node")
            .arg(node_dir().join("oidc-provider.mjs"))
            .args(["--port", "0"])
            .args(["--client-id", options.client_id])
            .args(["--client-secret", options.client_secret])
            .args(["--redirect-uri", options.redirect_uri])
            .args([
                "--post-logout-redirect-uri",
                options.post_logout_redirect_uri,
            ])
            .arg("--access-token-ttl")
            .arg(options.access_token_ttl.as_secs().to_string())
            .current_dir(node_dir())
            // node exits when its stdin closes: even if this process dies without running Drop.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node");

        let stderr = Arc::new(Mutex::new(String::new()));
        let (sender, lines) = mpsc::unbounded_channel();
        // Read both pipes for as long as node runs, so that its writes never block.
        tokio::spawn(read_stdout(
            child.stdout.take().unwrap(),
            sender,
            stderr.clone(),
        ));
        tokio::spawn(read_stderr(child.stderr.take().unwrap(), stderr.clone()));

        let mut provider = Self {
            issuer: String::new(),
            child,
            lines,
            events: Vec::new(),
            stderr,
        };
        let first = timeout(STARTUP, provider.lines.recv()).await;
        match first {
            Ok(Some(line)) if line["issuer"].is_string() => {
                provider.issuer = line["issuer"].as_str().unwrap().to_owned();
            }
            Ok(other) => panic!(
                "oidc-provider did not start ({other:?}); its stderr:\n{}",
                provider.stderr.lock().unwrap()
            ),
            Err(_) => panic!(
                "oidc-provider printed no issuer within {STARTUP:?}; its stderr:\n{}",
                provider.stderr.lock().unwrap()
            ),
        }
        Some(provider)
    }

    /// Takes in what the provider reported so far. Its report of a request is written before the
    /// response is sent, so after a response a short quiet period means everything is in.
    async fn catch_up(&mut self) {
        while let Ok(Some(line)) = timeout(Duration::from_millis(20), self.lines.recv()).await {
            self.events.push(line);
        }
    }

    /// How many `method path` requests the provider has served.
    pub(crate) async fn calls(&mut self, method: &str, path: &str) -> usize {
        self.catch_up().await;
        self.events
            .iter()
            .filter(|e| e["event"] == "request" && e["method"] == method && e["path"] == path)
            .count()
    }

    /// The provider events named `name` so far, in order.
    pub(crate) async fn events(&mut self, name: &str) -> Vec<Value> {
        self.catch_up().await;
        self.events
            .iter()
            .filter(|e| e["event"] == name)
            .cloned()
            .collect()
    }

    /// Waits (bounded) for an event named `name` matching `check`.
    pub(crate) async fn wait_for(&mut self, name: &str, check: impl Fn(&Value) -> bool) -> Value {
        let found = |events: &[Value]| {
            events
                .iter()
                .find(|e| e["event"] == name && check(e))
                .cloned()
        };
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            if let Some(event) = found(&self.events) {
                return event;
            }
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => self.events.push(line),
                _ => panic!("oidc-provider reported no matching {name} within {EVENT_WAIT:?}"),
            }
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        // SIGKILL; tokio reaps the child in the background.
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!(
                "--- oidc-provider's events ---\n{}\n--- oidc-provider's stderr ---\n{}",
                self.events
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
                self.stderr.lock().unwrap()
            );
        }
    }
}

async fn read_stdout(
    stdout: impl AsyncRead + Unpin,
    sender: mpsc::UnboundedSender<Value>,
    stderr: Arc<Mutex<String>>,
) {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match serde_json::from_str::<Value>(&line) {
            Ok(value) if value.is_object() => {
                let _ = sender.send(value);
            }
            // oidc-provider prints its notices to stdout.
            _ => {
                let mut log = stderr.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        }
    }
}

async fn read_stderr(stderr: impl AsyncRead + Unpin, log: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut log = log.lock().unwrap();
        log.push_str(&line);
        log.push('\n');
    }
}
