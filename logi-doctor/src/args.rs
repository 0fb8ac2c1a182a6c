//! The command line, and the `LOGI_*` variables that stand in for its flags, parsed with clap.
//! Must not touch: any check or the network; it only says what to check.
//!
//! A flag given on the command line wins over its variable; a variable that is empty (or only
//! blanks) counts as unset. Error messages name flags, never values: a mistyped
//! `--client-secrte=…` or a secret given without its flag must not be echoed, and `--help`
//! never shows the value of a secret's variable.

use std::ffi::OsString;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser, ValueEnum};
use clap_complete::Shell;
use logi::Secret;

/// What to check, and how to report it.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) issuer: String,
    pub(crate) expected_issuer: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    /// The method the layer is configured with; `None`: the layer's default (Basic).
    pub(crate) token_auth_method: Option<AuthMethod>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) session_key: Option<Secret>,
    pub(crate) json: bool,
    pub(crate) timeout: Duration,
}

/// What the command line asks for (`--help` and `--version` are clap's, as errors are).
#[derive(Debug)]
pub(crate) enum Command {
    Check(Box<Options>),
    /// Print a completion script for this shell.
    Completions(Shell),
}

/// How the client authenticates at the token endpoint (the layer's
/// `LogiLayerBuilder::token_auth_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub(crate) enum AuthMethod {
    /// HTTP Basic with the client id and secret (the layer's default).
    #[value(alias = "basic")]
    ClientSecretBasic,
    /// The client id and secret in the form body.
    #[value(alias = "post")]
    ClientSecretPost,
}

impl AuthMethod {
    /// The name discovery and client registrations use.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    /// How to configure the layer for this method.
    pub(crate) fn builder_call(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => ".token_auth_method(TokenAuthMethod::ClientSecretBasic)",
            Self::ClientSecretPost => ".token_auth_method(TokenAuthMethod::ClientSecretPost)",
        }
    }
}

const AFTER_HELP: &str = "\
Prefer the variables for the secret and the session key: command-line arguments are visible to
other users of the machine (ps, /proc).

Exit status:
  0  every check passed or only warned
  1  a check failed (each failure names its fix)
  2  the command line is unusable";

/// Preflight checks for a logi (1pass) integration, for CI.
///
/// Checks what would otherwise fail in front of the first user: discovery and the issuer, the
/// signing keys, the clock, each redirect URI, the client credentials (with a made-up
/// authorization code, no user needed) and the session key. Secrets are never printed.
#[derive(Debug, Parser)]
#[command(name = "logi-doctor", version, after_help = AFTER_HELP)]
struct Cli {
    /// The provider's issuer
    #[arg(long, env = "LOGI_ISSUER", value_name = "URL", default_value = logi::provider::DEFAULT_ISSUER)]
    issuer: String,

    /// The `issuer` discovery must name, when not the issuer URL (older deployments use `logi`)
    #[arg(long, env = "LOGI_EXPECTED_ISSUER", value_name = "ISS")]
    expected_issuer: Option<String>,

    /// The app's client id (required)
    #[arg(long, env = "LOGI_CLIENT_ID", value_name = "ID")]
    client_id: Option<String>,

    /// The app's client secret; never printed
    #[arg(
        long,
        env = "LOGI_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    client_secret: Option<String>,

    /// How the app authenticates at the token endpoint, as configured on the layer (when not
    /// given: client_secret_basic, the layer's default)
    #[arg(
        long,
        env = "LOGI_TOKEN_AUTH_METHOD",
        value_name = "METHOD",
        value_enum
    )]
    token_auth_method: Option<AuthMethod>,

    /// A redirect URI to check; repeat (or separate with commas, as in the variable) for
    /// production, staging, preview
    #[arg(
        short = 'r',
        long = "redirect-uri",
        env = "LOGI_REDIRECT_URI",
        value_name = "URI",
        value_delimiter = ','
    )]
    redirect_uris: Vec<String>,

    /// The session key(s), base64, comma separated; never printed
    #[arg(
        long,
        env = "LOGI_SESSION_KEY",
        value_name = "KEYS",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    session_key: Option<String>,

    /// Limit for each call to the provider, in seconds (at most 600)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = timeout)]
    timeout: Duration,

    /// One JSON document on stdout, for CI
    #[arg(long)]
    json: bool,

    /// Print a completion script for SHELL and exit
    #[arg(long, value_name = "SHELL", value_enum)]
    completions: Option<Shell>,

    /// Anything that is not a flag: refused without being echoed, since it may be a secret
    /// given without its flag.
    #[arg(hide = true)]
    stray: Vec<OsString>,
}

fn timeout(secs: &str) -> Result<Duration, String> {
    secs.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| "needs a number of seconds between 0 and 600".to_owned())
}

/// The clap definition of the command line, for `--help` and completions.
pub(crate) fn command() -> clap::Command {
    Cli::command()
}

/// Reads the command line (with the program name first) and the `LOGI_*` variables.
///
/// # Errors
/// A clap error for `--help` and `--version` too: its `exit()` prints it where it belongs and
/// exits 0 for those, 2 for an unusable command line.
pub(crate) fn parse<I, T>(args: I) -> Result<Command, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    if !cli.stray.is_empty() {
        return Err(command().error(
            ErrorKind::UnknownArgument,
            "unexpected argument (not shown: it may be a secret given without its flag)",
        ));
    }
    if let Some(shell) = cli.completions {
        return Ok(Command::Completions(shell));
    }
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let issuer =
        given(Some(cli.issuer)).unwrap_or_else(|| logi::provider::DEFAULT_ISSUER.to_owned());
    let Some(client_id) = given(cli.client_id) else {
        return Err(command().error(
            ErrorKind::MissingRequiredArgument,
            "no client id: give --client-id or set LOGI_CLIENT_ID",
        ));
    };
    let redirect_uris = cli
        .redirect_uris
        .into_iter()
        .map(|uri| uri.trim().to_owned())
        .filter(|uri| !uri.is_empty())
        .collect();
    Ok(Command::Check(Box::new(Options {
        issuer: issuer.trim().to_owned(),
        expected_issuer: given(cli.expected_issuer).map(|iss| iss.trim().to_owned()),
        client_id: client_id.trim().to_owned(),
        client_secret: given(cli.client_secret).map(|s| Secret::new(s.trim())),
        token_auth_method: cli.token_auth_method,
        redirect_uris,
        session_key: given(cli.session_key).map(Secret::new),
        json: cli.json,
        timeout: cli.timeout,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    // These run with the test process's own environment: they give every value they assert on
    // as a flag, which wins over any `LOGI_*` variable. The variables themselves are covered by
    // tests/doctor/command_line.rs, which sets them on the binary's process.

    fn run(args: &[&str]) -> Result<Command, clap::Error> {
        parse(std::iter::once("logi-doctor").chain(args.iter().copied()))
    }

    fn options(args: &[&str]) -> Options {
        match run(args) {
            Ok(Command::Check(options)) => *options,
            Ok(other) => panic!("{other:?}"),
            Err(e) => panic!("{e}"),
        }
    }

    fn message(args: &[&str]) -> (ErrorKind, String) {
        match run(args) {
            Err(e) => (e.kind(), e.render().to_string()),
            Ok(command) => panic!("parsed: {command:?}"),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn flags() {
        let o = options(&[
            "--issuer=http://127.0.0.1:9",
            "--expected-issuer",
            "logi",
            "--client-id",
            " logi_a ",
            "-r",
            "https://a.example/cb",
            "--redirect-uri",
            "https://b.example/cb, https://c.example/cb,",
            "--client-secret",
            "-s3cret ",
            "--session-key=a2V5",
            "--token-auth-method",
            "post",
            "--json",
            "--timeout",
            "2.5",
        ]);
        assert_eq!(o.issuer, "http://127.0.0.1:9");
        assert_eq!(o.expected_issuer.as_deref(), Some("logi"));
        assert_eq!(o.client_id, "logi_a");
        assert_eq!(
            o.redirect_uris,
            [
                "https://a.example/cb",
                "https://b.example/cb",
                "https://c.example/cb"
            ]
        );
        assert_eq!(
            o.client_secret.as_ref().map(Secret::expose),
            Some("-s3cret")
        );
        assert_eq!(o.session_key.as_ref().map(Secret::expose), Some("a2V5"));
        assert_eq!(o.token_auth_method, Some(AuthMethod::ClientSecretPost));
        assert!(o.json);
        assert_eq!(o.timeout, Duration::from_millis(2500));

        let o = options(&[
            "--client-id=x",
            "--timeout=10",
            "--token-auth-method=client_secret_basic",
        ]);
        assert_eq!(o.timeout, Duration::from_secs(10));
        assert_eq!(o.token_auth_method, Some(AuthMethod::ClientSecretBasic));
    }

    #[test]
    fn errors_name_flags_never_values() {
        let (kind, err) = message(&["--client-secrte=logi_secret_abc"]);
        assert_eq!(kind, ErrorKind::UnknownArgument);
        assert!(err.contains("--client-secrte"), "{err}");
        assert!(!err.contains("logi_secret_abc"), "{err}");
        let (kind, err) = message(&["--client-id", "x", "logi_secret_abc"]);
        assert_eq!(kind, ErrorKind::UnknownArgument);
        assert!(!err.contains("logi_secret_abc"), "{err}");
        let (kind, err) = message(&["--client-id"]);
        assert!(
            kind == ErrorKind::InvalidValue && err.contains("--client-id"),
            "{err}"
        );
        let (_, err) = message(&["--client-id", "x", "--timeout", "0"]);
        assert!(err.contains("between 0 and 600"), "{err}");
        let (_, err) = message(&["--client-id", "x", "--token-auth-method", "jwt"]);
        assert!(err.contains("client_secret_post"), "{err}");
        assert_eq!(message(&["-h"]).0, ErrorKind::DisplayHelp);
        assert_eq!(message(&["--version"]).0, ErrorKind::DisplayVersion);
        assert!(matches!(
            run(&["--completions", "bash"]),
            Ok(Command::Completions(Shell::Bash))
        ));
    }
}
