//! Runs a browser script of `tests/node/` on the Debian Chromium: the driver of the browser
//! tests (`tests/browser*.rs`), which include this file with `#[path]`.
//!
//! The browser is `LOGI_E2E_CHROMIUM` if set, else `/usr/bin/chromium`, else `chromium` on PATH.
//! Without Chromium, Node or `tests/node/node_modules`, [`Tools::find`] prints `SKIPPED` and the
//! test passes, unless `LOGI_E2E_REQUIRED` is set (CI sets it), in which case it fails.
//!
//! A script takes the app's URL and `--stop-on-stdin-close`, bounds each step and its whole run
//! itself, prints one JSON line of results on stdout and exits 0, or says why on stderr and
//! exits 1.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use logi::testing::{Endpoint, TestProvider};
use serde_json::Value;
use tokio::io::AsyncReadExt as _;
use tokio::process::{Child, Command};

/// The whole browser run; the script bounds each step itself (15 s) and its run (75 s).
const RUN_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the script gets to close the browser once told to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What a browser test needs on the machine.
pub(crate) struct Tools {
    workspace: PathBuf,
    node: PathBuf,
    chromium: PathBuf,
}

impl Tools {
    /// The tools, or `None` after a loud `SKIPPED` note naming `test` when some are missing (a
    /// failure instead when `LOGI_E2E_REQUIRED` is set).
    pub(crate) fn find(test: &str) -> Option<Self> {
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
        crate::skip::skipped(
            &format!("the browser test {test}"),
            &format!("{} (or run tests/setup)", missing.join("; ")),
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

/// How a script ended.
pub(crate) struct Run {
    script: &'static str,
    /// `None` when it had to be stopped after [`RUN_TIMEOUT`].
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The script's output, for a failure message or the test's log.
    pub(crate) fn report(&self) -> String {
        let script = self.script;
        format!(
            "--- {script} stdout\n{}--- {script} stderr\n{}---",
            self.stdout, self.stderr
        )
    }

    /// The script's one JSON line; panics, with the script's output, unless it exited 0 and
    /// printed exactly one line of JSON.
    pub(crate) fn result(&self) -> Value {
        let report = self.report();
        assert!(
            self.status.is_some_and(|status| status.success()),
            "the browser run failed ({}):\n{report}",
            self.status.map_or_else(
                || format!("stopped after {RUN_TIMEOUT:?}"),
                |status| status.to_string()
            ),
        );
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        match lines[..] {
            [line] => serde_json::from_str(line).unwrap_or_else(|error| {
                panic!("the script's line is not JSON ({error}):\n{report}")
            }),
            _ => panic!("the script should print one JSON line:\n{report}"),
        }
    }
}

/// [`run_script`], then its report on stderr: the script's result, and how long the run took.
pub(crate) async fn run_and_report(
    tools: &Tools,
    script: &'static str,
    url: &str,
) -> (Value, Duration) {
    let started = Instant::now();
    let run = run_script(tools, script, url).await;
    let elapsed = started.elapsed();
    let result = run.result();
    eprintln!("{}", run.report());
    (result, elapsed)
}

/// Runs `script` (a path from the workspace root) against `url`, within [`RUN_TIMEOUT`].
/// Closing its stdin asks it to close the browser and exit; a script that does not is killed.
pub(crate) async fn run_script(tools: &Tools, script: &'static str, url: &str) -> Run {
    let mut child = Command::new(&tools.node)
        .arg(script)
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
        script,
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

/// The strings of a JSON array (none for anything else).
pub(crate) fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Asserts how often the browser run called each of the provider's endpoints.
pub(crate) fn assert_provider_calls(provider: &TestProvider, expected: &[(Endpoint, u64)]) {
    let calls: Vec<(Endpoint, u64)> = Endpoint::ALL
        .iter()
        .map(|&endpoint| (endpoint, provider.calls(endpoint)))
        .collect();
    for &(endpoint, expected) in expected {
        assert_eq!(
            provider.calls(endpoint),
            expected,
            "{endpoint:?} calls (all calls: {calls:?})"
        );
    }
}
