//! `logi-doctor`: preflight checks for a logi (1pass) integration, meant for CI.
//!
//! Checks, before a deploy, what would otherwise fail in front of a user: discovery and the
//! issuer, the signing keys, each redirect URI (its form, and whether the provider has it
//! registered), the client credentials (a token request with a made-up code), the clock, and
//! the session key. Human output by default, `--json` for CI; the exit status is 0 unless a
//! check fails (warnings pass), 1 when one does, 2 for an unusable command line. Secrets are
//! never printed. Run `logi-doctor --help` for the flags, `--completions SHELL` for a shell's
//! completion script.

use std::io::Write as _;
use std::process::ExitCode;

mod args;
mod checks;
mod credentials;
mod discovery;
mod formats;
mod keys;
mod probe;
mod redirect;
mod report;

use args::Command;
use report::Status;

fn main() -> ExitCode {
    let options = match args::parse(std::env::args_os()) {
        Ok(Command::Check(options)) => options,
        Ok(Command::Completions(shell)) => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut args::command(), "logi-doctor", &mut script);
            return emit(&String::from_utf8_lossy(&script));
        }
        // `--help` and `--version` to stdout with 0; a usage error to stderr with 2.
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "logi-doctor: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let report = runtime.block_on(checks::run(&options));
    let output = if options.json {
        report.to_json()
    } else {
        report.to_text()
    };
    let _ = emit(&output);
    if report.verdict() == Status::Fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes to stdout; a closed pipe is not an error worth a panic.
fn emit(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}
