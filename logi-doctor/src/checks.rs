//! The run: every check in order, each skipped when what it needs failed, gathered into a
//! [`Report`]. Must not touch: what a check looks at (each lives in its own module), printing.
//!
//! Network calls go through logi-tower's own [`HttpClient`] (discovery, keys) so the doctor
//! sees the provider exactly as the layer will at startup, except the authorization probe,
//! which needs the raw status and `Location` of a browser-facing endpoint and so uses a plain
//! `reqwest` client that follows no redirects. Every call is bounded by `--timeout`.

use std::time::Duration;

use logi::provider::HttpClient;

use crate::args::Options;
use crate::discovery::{capabilities, discovery};
use crate::formats::{client_id_format, client_secret_format, session_key};
use crate::redirect::{redirect_uri_form, registration};
use crate::report::{Check, Report, Status};
use crate::{credentials, keys};

/// Runs every check against the provider.
pub(crate) async fn run(options: &Options) -> Report {
    let http = HttpClient::new().with_timeout(options.timeout);
    let mut checks = Vec::new();
    let report = |checks| Report {
        issuer: options.issuer.clone(),
        client_id: options.client_id.clone(),
        checks,
    };
    let probe = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.timeout.min(Duration::from_secs(5)))
        .timeout(options.timeout)
        .user_agent(concat!("logi-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            checks.push(Check::new(
                "http_client",
                "(setup)",
                Status::Fail,
                format!("could not set up an HTTP client: {e}"),
            ));
            return report(checks);
        }
    };

    let metadata = discovery(options, &http, &mut checks).await;
    match &metadata {
        Some(metadata) => {
            checks.push(capabilities(options, metadata));
            checks.extend(keys::check(&probe, metadata).await);
        }
        None => {
            for (check, subject) in [
                ("capabilities", "discovery"),
                ("jwks", "jwks_uri"),
                ("clock", "jwks_uri"),
            ] {
                checks.push(Check::new(
                    check,
                    subject,
                    Status::Skip,
                    "not checked: discovery failed",
                ));
            }
        }
    }
    checks.push(client_id_format(&options.client_id));
    checks.push(client_secret_format(options));
    match &metadata {
        Some(metadata) => checks.extend(credentials::check(&probe, options, metadata).await),
        None => checks.push(Check::new(
            "client_credentials",
            "token_endpoint",
            Status::Skip,
            "not checked: discovery failed",
        )),
    }
    checks.push(session_key(options));

    if options.redirect_uris.is_empty() {
        checks.push(Check::new(
            "redirect_uri",
            "(none given)",
            Status::Skip,
            "no redirect URI given: pass each production, staging and preview callback with -r \
             (or LOGI_REDIRECT_URI, comma separated)",
        ));
    }
    for uri in &options.redirect_uris {
        let (check, parsed) = redirect_uri_form(uri);
        let usable = check.status != Status::Fail;
        checks.push(check);
        let registered = match (&metadata, parsed) {
            (Some(metadata), Some(parsed)) if usable => {
                registration(&probe, options, metadata, uri, &parsed).await
            }
            (None, ..) => Check::new(
                "redirect_uri_registered",
                uri,
                Status::Skip,
                "not probed: discovery failed",
            ),
            _ => Check::new(
                "redirect_uri_registered",
                uri,
                Status::Skip,
                "not probed: the URI itself is unusable",
            ),
        };
        checks.push(registered);
    }

    report(checks)
}
