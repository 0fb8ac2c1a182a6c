//! What a suite does when something it needs is not installed: fail when `LOGI_E2E_REQUIRED` is
//! set (CI), else say so on stderr, past the test harness's capture, and leave a note for the
//! closing line of `tests/run` (in `LOGI_SKIP_REPORT`, a folder).
//!
//! Shared by logi-tower's suites (`support::skip`) and the e2e suites (`#[path]`).

use std::io::Write as _;

/// Fails the test when `LOGI_E2E_REQUIRED` is set; else reports that `test` did not run
/// because of `missing` (what to install, and how).
pub fn skipped(test: &str, missing: &str) {
    if std::env::var_os("LOGI_E2E_REQUIRED").is_some_and(|v| !v.is_empty()) {
        panic!("LOGI_E2E_REQUIRED is set, but {test} cannot run: {missing}");
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "\nSKIPPED ({test}): {missing}. Set LOGI_E2E_REQUIRED=1 to make this a failure.\n"
    );
    if let Some(dir) = std::env::var_os("LOGI_SKIP_REPORT") {
        let name: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        // One note per test: the summary counts tests per reason. A note that cannot be written
        // only makes the summary shorter; the line above was printed all the same.
        let _ = std::fs::write(
            std::path::Path::new(&dir).join(name),
            format!("{test}\t{}\n", missing.replace(['\n', '\t'], " ")),
        );
    }
}
