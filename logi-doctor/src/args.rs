//! The command line, and the `LOGI_*` variables that stand in for its flags.
//!
//! Parsed by hand: a dozen flags do not need an argument-parsing crate. A flag given on the
//! command line wins over its variable. Error messages name flags, never values: a mistyped
//! `--client-secrte=…` must not echo the secret.

use std::time::Duration;

use logi::Secret;

/// What to check, and how to report it.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) issuer: String,
    pub(crate) expected_issuer: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) session_key: Option<Secret>,
    pub(crate) json: bool,
    pub(crate) timeout: Duration,
}

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    Check(Box<Options>),
    Help,
    Version,
}

/// The default limit for each call to the provider.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) const USAGE: &str = "\
logi-doctor: preflight checks for a logi (1pass) integration, for CI

USAGE:
    logi-doctor --issuer URL --client-id ID [--client-secret S] [-r URI]... [--session-key K] [--json]

OPTIONS (each also read from its environment variable):
    --issuer URL            the provider's issuer (LOGI_ISSUER, default https://api.1pass.dev)
    --expected-issuer ISS   the `issuer` discovery must name, when not the issuer URL
                            (LOGI_EXPECTED_ISSUER; older deployments use `logi`)
    --client-id ID          the app's client id (LOGI_CLIENT_ID)
    --client-secret S       the app's client secret (LOGI_CLIENT_SECRET); never printed
    -r, --redirect-uri URI  a redirect URI to check; repeat for production, staging, preview
                            (LOGI_REDIRECT_URI, comma separated for several)
    --session-key K         the session key(s), base64, comma separated (LOGI_SESSION_KEY);
                            never printed
    --timeout SECS          limit for each call to the provider (default 10)
    --json                  one JSON document on stdout, for CI
    -h, --help              this text
    -V, --version           the version

Prefer the variables for the secret and the session key: command-line arguments are visible to
other users of the machine (ps, /proc).

EXIT STATUS:
    0  every check passed or only warned
    1  a check failed (each failure names its fix)
    2  the command line is unusable
";

/// Reads the command line (without the program name) and the environment through `var`.
pub(crate) fn parse(
    args: impl IntoIterator<Item = String>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Command, String> {
    let mut issuer = None;
    let mut expected_issuer = None;
    let mut client_id = None;
    let mut client_secret = None;
    let mut redirect_uris = Vec::new();
    let mut session_key = None;
    let mut json = false;
    let mut timeout = None;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // `--flag=value` or `--flag value`; the name is all that error messages show.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |flag: &str| -> Result<String, String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(format!("{flag} needs a value")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--json" if inline.is_none() => json = true,
            "--issuer" => issuer = Some(value("--issuer")?),
            "--expected-issuer" => expected_issuer = Some(value("--expected-issuer")?),
            "--client-id" => client_id = Some(value("--client-id")?),
            "--client-secret" => client_secret = Some(value("--client-secret")?),
            "-r" | "--redirect-uri" => redirect_uris.push(value("--redirect-uri")?),
            "--session-key" => session_key = Some(value("--session-key")?),
            "--timeout" => {
                let secs = value("--timeout")?;
                let secs: f64 = secs
                    .trim()
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 600.0)
                    .ok_or("--timeout needs a number of seconds between 0 and 600")?;
                timeout = Some(Duration::from_secs_f64(secs));
            }
            other if other.starts_with('-') => {
                return Err(format!("unknown option `{other}` (see --help)"));
            }
            // A stray value may be a secret given without its flag: do not echo it.
            _ => return Err("unexpected argument (not shown); see --help".to_owned()),
        }
    }

    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let issuer = issuer
        .or_else(|| var("LOGI_ISSUER"))
        .unwrap_or_else(|| logi::provider::DEFAULT_ISSUER.to_owned());
    let client_id = client_id
        .or_else(|| var("LOGI_CLIENT_ID"))
        .ok_or("no client id: give --client-id or set LOGI_CLIENT_ID")?;
    if redirect_uris.is_empty()
        && let Some(list) = var("LOGI_REDIRECT_URI")
    {
        redirect_uris = list.split(',').map(str::to_owned).collect();
    }
    let redirect_uris = redirect_uris
        .into_iter()
        .map(|uri| uri.trim().to_owned())
        .filter(|uri| !uri.is_empty())
        .collect();
    Ok(Command::Check(Box::new(Options {
        issuer: issuer.trim().to_owned(),
        expected_issuer: expected_issuer
            .or_else(|| var("LOGI_EXPECTED_ISSUER"))
            .map(|iss| iss.trim().to_owned()),
        client_id: client_id.trim().to_owned(),
        client_secret: client_secret
            .or_else(|| var("LOGI_CLIENT_SECRET"))
            .map(|s| Secret::new(s.trim())),
        redirect_uris,
        session_key: session_key
            .or_else(|| var("LOGI_SESSION_KEY"))
            .map(Secret::new),
        json,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(args.iter().map(|a| (*a).to_owned()), move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn options(args: &[&str], env: &[(&str, &str)]) -> Options {
        match run(args, env) {
            Ok(Command::Check(options)) => *options,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_win_over_the_environment() {
        let o = options(
            &[
                "--issuer=http://127.0.0.1:9",
                "--client-id",
                "logi_a",
                "-r",
                "https://a.example/cb",
                "--redirect-uri",
                "https://b.example/cb",
                "--json",
                "--timeout",
                "2.5",
            ],
            &[
                ("LOGI_ISSUER", "https://other.example"),
                ("LOGI_CLIENT_ID", "logi_b"),
                ("LOGI_REDIRECT_URI", "https://c.example/cb"),
                ("LOGI_CLIENT_SECRET", "s3cret"),
            ],
        );
        assert_eq!(o.issuer, "http://127.0.0.1:9");
        assert_eq!(o.client_id, "logi_a");
        assert_eq!(
            o.redirect_uris,
            ["https://a.example/cb", "https://b.example/cb"]
        );
        assert_eq!(o.client_secret.as_ref().map(Secret::expose), Some("s3cret"));
        assert!(o.json);
        assert_eq!(o.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn the_environment_fills_in() {
        let o = options(
            &[],
            &[
                ("LOGI_CLIENT_ID", " logi_b "),
                (
                    "LOGI_REDIRECT_URI",
                    "https://a.example/cb, https://b.example/cb,",
                ),
                ("LOGI_SESSION_KEY", "a2V5"),
                ("LOGI_EXPECTED_ISSUER", "logi"),
            ],
        );
        assert_eq!(o.issuer, "https://api.1pass.dev");
        assert_eq!(o.expected_issuer.as_deref(), Some("logi"));
        assert_eq!(o.client_id, "logi_b");
        assert_eq!(
            o.redirect_uris,
            ["https://a.example/cb", "https://b.example/cb"]
        );
        assert!(o.session_key.is_some());
        assert!(!o.json);
        assert_eq!(o.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn errors_name_flags_never_values() {
        let err = run(&["--client-secrte=logi_secret_abc"], &[]).unwrap_err();
        assert!(err.contains("--client-secrte"), "{err}");
        assert!(!err.contains("logi_secret_abc"), "{err}");
        let err = run(&["logi_secret_abc"], &[]).unwrap_err();
        assert!(!err.contains("logi_secret_abc"), "{err}");
        assert!(
            run(&["--client-id"], &[])
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(run(&[], &[]).unwrap_err().contains("LOGI_CLIENT_ID"));
        assert!(run(&["--client-id", "x", "--timeout", "0"], &[]).is_err());
        assert!(matches!(run(&["-h"], &[]), Ok(Command::Help)));
        assert!(matches!(run(&["--version"], &[]), Ok(Command::Version)));
    }
}
