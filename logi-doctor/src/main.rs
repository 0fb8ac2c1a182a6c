//! `logi-doctor`: preflight checks for a logi (1pass) integration, meant for CI.
//!
//! Checks, before a deploy, what would otherwise fail in front of a user: discovery and the
//! issuer, the signing keys, each redirect URI (its form, and whether the provider has it
//! registered), the credentials' format and the session key. Human output by default, `--json`
//! for CI; the exit status is 0 unless a check fails (warnings pass), 1 when one does, 2 for an
//! unusable command line. Secrets are never printed. Run `logi-doctor --help` for the flags.

use std::io::Write as _;
use std::process::ExitCode;

mod args;
mod checks;
mod report;

use args::Command;
use report::Status;

fn main() -> ExitCode {
    let command = match args::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Ok(command) => command,
        Err(message) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "logi-doctor: {message}\nusage: logi-doctor --issuer URL --client-id ID \
                 [--client-secret S] [-r URI]... [--session-key K] [--json] (see --help)"
            );
            return ExitCode::from(2);
        }
    };
    let options = match command {
        Command::Help => return emit(args::USAGE),
        Command::Version => {
            return emit(concat!("logi-doctor ", env!("CARGO_PKG_VERSION"), "\n"));
        }
        Command::Check(options) => options,
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
