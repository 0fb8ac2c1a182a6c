//! The checks themselves. Each returns [`Check`]s; none prints anything.
//!
//! Network calls go through logi-tower's own [`HttpClient`] (discovery, keys) so the doctor
//! sees the provider exactly as the layer will at startup, except the authorization probe,
//! which needs the raw status and `Location` of a browser-facing endpoint and so uses a plain
//! `reqwest` client that follows no redirects. Every call is bounded by `--timeout`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use logi::provider::DiscoveryError;
use logi::{HttpClient, ProviderMetadata, SessionKeys};
use url::Url;

use crate::args::Options;
use crate::report::{Check, Report, Status};
use crate::{credentials, keys};

/// The most of an error body the probe reads.
const MAX_ERROR_BODY: usize = 64 * 1024;

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

/// Discovery, and whether it names the configured issuer. On a mismatch the document is fetched
/// again under the issuer it names, so the remaining checks still run.
async fn discovery(
    options: &Options,
    http: &HttpClient,
    checks: &mut Vec<Check>,
) -> Option<ProviderMetadata> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        options.issuer.trim_end_matches('/')
    );
    let expected = options
        .expected_issuer
        .clone()
        .unwrap_or_else(|| options.issuer.clone());
    let result =
        ProviderMetadata::discover(http, &options.issuer, options.expected_issuer.as_deref()).await;
    let fix_issuer = "set LOGI_ISSUER (--issuer) to the provider's issuer URL, e.g. \
                      https://api.1pass.dev";
    let error = match result {
        Ok(metadata) => {
            checks.push(Check::new(
                "discovery",
                &url,
                Status::Pass,
                "the provider publishes its OpenID configuration",
            ));
            checks.push(Check::new(
                "issuer",
                &expected,
                Status::Pass,
                format!("discovery names issuer `{}`", metadata.issuer),
            ));
            return Some(metadata);
        }
        Err(error) => error,
    };
    let (discovery, issuer, metadata) = match error {
        DiscoveryError::IssuerMismatch { expected, found } => {
            let again = ProviderMetadata::discover(http, &options.issuer, Some(&found)).await;
            let mismatch = Check::new(
                "issuer",
                &expected,
                Status::Fail,
                format!(
                    "discovery names issuer `{found}`, not `{expected}`: every token would be \
                     refused (iss_mismatch) and the layer refuses to start"
                ),
            )
            .fix(format!(
                "point LOGI_ISSUER at the provider you meant, or, when this deployment really \
                 uses the issuer string `{found}`, set LOGI_EXPECTED_ISSUER={found}"
            ));
            match again {
                Ok(metadata) => (
                    Check::new(
                        "discovery",
                        &url,
                        Status::Pass,
                        "the provider publishes its OpenID configuration",
                    ),
                    mismatch,
                    Some(metadata),
                ),
                Err(e) => (discovery_failed(&url, &e), mismatch, None),
            }
        }
        DiscoveryError::InsecureIssuer(_) => (
            Check::new(
                "discovery",
                &url,
                Status::Skip,
                "not fetched: the issuer is unusable",
            ),
            Check::new(
                "issuer",
                &options.issuer,
                Status::Fail,
                "the issuer must be an https:// URL (http:// only on localhost, 127.0.0.1 or [::1])",
            )
            .fix(fix_issuer),
            None,
        ),
        other => (
            discovery_failed(&url, &other),
            Check::new(
                "issuer",
                &expected,
                Status::Skip,
                "not checked: discovery failed",
            ),
            None,
        ),
    };
    checks.push(discovery);
    checks.push(issuer);
    metadata
}

fn discovery_failed(url: &str, error: &DiscoveryError) -> Check {
    let fix = match error {
        DiscoveryError::Unreachable(_) => {
            "check LOGI_ISSUER (--issuer), DNS and the network path from this machine to the provider"
        }
        DiscoveryError::Status(_) | DiscoveryError::InvalidDocument(_) => {
            "check that LOGI_ISSUER (--issuer) is the issuer itself, not an endpoint under it"
        }
        _ => "check LOGI_ISSUER (--issuer)",
    };
    Check::new("discovery", url, Status::Fail, error.to_string()).fix(fix)
}

/// What the layer relies on, as far as discovery says: RS256 ID tokens, PKCE S256. An absent
/// list says nothing and passes.
fn capabilities(options: &Options, metadata: &ProviderMetadata) -> Check {
    let subject = "discovery";
    let lacks = |list: &[String], value: &str| !list.is_empty() && !list.iter().any(|v| v == value);
    let mut missing = Vec::new();
    if lacks(&metadata.id_token_signing_alg_values_supported, "RS256") {
        missing.push("RS256 ID tokens (id_token_signing_alg_values_supported)");
    }
    if lacks(&metadata.code_challenge_methods_supported, "S256") {
        missing.push("PKCE S256 (code_challenge_methods_supported)");
    }
    if options.client_secret.is_some()
        && lacks(
            &metadata.token_endpoint_auth_methods_supported,
            "client_secret_basic",
        )
        && lacks(
            &metadata.token_endpoint_auth_methods_supported,
            "client_secret_post",
        )
    {
        missing.push(
            "client_secret_basic or client_secret_post (token_endpoint_auth_methods_supported)",
        );
    }
    if missing.is_empty() {
        Check::new(
            "capabilities",
            subject,
            Status::Pass,
            "the provider supports what the layer uses (RS256, PKCE S256, the client's token \
             authentication)",
        )
    } else {
        Check::new(
            "capabilities",
            subject,
            Status::Fail,
            format!("the provider does not offer {}", missing.join(", ")),
        )
        .fix("check LOGI_ISSUER: logi itself offers all of these")
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn client_id_format(client_id: &str) -> Check {
    match client_id.strip_prefix("logi_") {
        Some(rest) if is_hex(rest, 32) => Check::new(
            "client_id_format",
            client_id,
            Status::Pass,
            "has logi's format (`logi_` + 32 hex characters)",
        ),
        _ => Check::new(
            "client_id_format",
            client_id,
            Status::Warn,
            "does not have logi's format (`logi_` + 32 hex characters); fine for another provider",
        )
        .fix("copy the client id from `logi app show` or the developer console"),
    }
}

fn client_secret_format(options: &Options) -> Check {
    // The subject names the secret by its variable: its value is never shown.
    let subject = "LOGI_CLIENT_SECRET";
    let Some(secret) = &options.client_secret else {
        return Check::new(
            "client_secret_format",
            subject,
            Status::Skip,
            "not given: a public client (PKCE only); a server-side app is normally confidential",
        );
    };
    match secret.expose().strip_prefix("logi_secret_") {
        Some(rest) if is_hex(rest, 64) => Check::new(
            "client_secret_format",
            subject,
            Status::Pass,
            "has logi's format (`logi_secret_` + 64 hex characters)",
        ),
        _ => Check::new(
            "client_secret_format",
            subject,
            Status::Warn,
            format!(
                "does not have logi's format (`logi_secret_` + 64 hex characters, {} characters \
                 given); fine for another provider",
                secret.expose().len()
            ),
        )
        .fix("logi shows a secret once, at registration: check for a truncated copy, or rotate it"),
    }
}

fn session_key(options: &Options) -> Check {
    let subject = "LOGI_SESSION_KEY";
    let Some(key) = &options.session_key else {
        return Check::new(
            "session_key",
            subject,
            Status::Skip,
            "not given: the layer requires one outside loopback development",
        );
    };
    match SessionKeys::from_base64_list(key.expose()) {
        Ok(_) => Check::new(
            "session_key",
            subject,
            Status::Pass,
            "every key decodes to at least 32 bytes",
        ),
        // The error names the key by position and length, never by its text.
        Err(e) => Check::new("session_key", subject, Status::Fail, e.to_string())
            .fix("make a key with `openssl rand -base64 32` and set LOGI_SESSION_KEY to it"),
    }
}

/// Whether `url`'s host is `localhost`, a 127.0.0.0/8 address or `[::1]`.
///
/// logi-tower has the same check crate-private (`provider::is_loopback`).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `https://`, or `http://` on a loopback host, without a fragment.
fn redirect_uri_form(uri: &str) -> (Check, Option<Url>) {
    let check = |status, message: &str| Check::new("redirect_uri_scheme", uri, status, message);
    let url = match Url::parse(uri) {
        Ok(url) => url,
        Err(e) => {
            return (
                check(Status::Fail, &format!("is not an absolute URL ({e})"))
                    .fix("give the full callback URL, e.g. https://app.example.com/auth/callback"),
                None,
            );
        }
    };
    let result = match url.scheme() {
        _ if url.fragment().is_some() => check(Status::Fail, "must not have a #fragment")
            .fix("remove the #fragment: logi matches redirect URIs exactly"),
        "https" => check(Status::Pass, "https://"),
        "http" if is_loopback(&url) => check(
            Status::Pass,
            "http:// on a loopback host (allowed for local development only)",
        ),
        "http" => check(
            Status::Fail,
            "http:// is only allowed on localhost, 127.0.0.1 or [::1]: logi refuses it, and the \
             code would travel in clear text",
        )
        .fix(format!(
            "serve the callback over https:// and register {}",
            url.as_str().replacen("http://", "https://", 1)
        )),
        _ => check(
            Status::Fail,
            "a web app's redirect URI must be https:// (custom schemes are for native apps, \
             which need their own registration)",
        )
        .fix("use the web app's https:// callback URL"),
    };
    (result, Some(url))
}

/// Whether a redirect goes to the provider itself (its sign-in page): the authorization
/// endpoint's origin, or a host under the same parent domain (`login.1pass.dev` for
/// `api.1pass.dev`) when that parent has at least two labels. Without the public-suffix list
/// this would also accept a sibling under `co.uk`-like suffixes: good enough for telling a
/// sign-in page from a foreign site in a diagnostic, never for a security decision.
fn is_provider(target: &Url, metadata: &ProviderMetadata) -> bool {
    let endpoint = &metadata.authorization_endpoint;
    if target.origin() == endpoint.origin() {
        return true;
    }
    if target.scheme() != "https" {
        return false;
    }
    let (Some(url::Host::Domain(target)), Some(url::Host::Domain(endpoint))) =
        (target.host(), endpoint.host())
    else {
        return false;
    };
    let Some((_, parent)) = endpoint.split_once('.') else {
        return false;
    };
    parent.contains('.')
        && (target.eq_ignore_ascii_case(parent)
            || target
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", parent.to_ascii_lowercase())))
}

/// A random base64url string of `bytes` random bytes.
pub(crate) fn random(bytes: usize) -> String {
    let mut buf = vec![0_u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("the system random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// Quotes a value for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// An OAuth error answer: its `error`, `error_description` (at most 300 characters) and
/// `request_id` (as ` (request id …)`, or empty); each empty when absent.
pub(crate) struct OAuthAnswer {
    pub(crate) code: String,
    pub(crate) description: String,
    pub(crate) request_id: String,
}

/// Reads at most [`MAX_ERROR_BODY`] of an error response.
pub(crate) async fn read_error(mut response: reqwest::Response) -> OAuthAnswer {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BODY {
            break;
        }
    }
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    OAuthAnswer {
        code: error["error"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(64)
            .collect(),
        description: error["error_description"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect(),
        request_id: error["request_id"]
            .as_str()
            .map(|id| format!(" (request id {})", id.chars().take(64).collect::<String>()))
            .unwrap_or_default(),
    }
}

/// Probes the authorization endpoint the way a browser starting a sign-in would, without
/// following the answer: logi refuses an unregistered redirect URI with a 400 on the spot, and
/// answers a registered one with a redirect (back to it, or to its sign-in page).
///
/// `prompt=none` asks the provider not to show a sign-in page, so a registered URI is normally
/// answered with a redirect back to it carrying `login_required`; no session is created.
async fn registration(
    probe: &reqwest::Client,
    options: &Options,
    metadata: &ProviderMetadata,
    uri: &str,
    redirect_uri: &Url,
) -> Check {
    let check =
        |status, message: String| Check::new("redirect_uri_registered", uri, status, message);
    let verifier = random(32);
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let mut url = metadata.authorization_endpoint.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &options.client_id)
        .append_pair("redirect_uri", uri)
        .append_pair("scope", "openid")
        .append_pair("state", &random(16))
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "none");

    let response = match probe.get(url.clone()).send().await {
        Ok(response) => response,
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "failed"
            };
            return check(
                Status::Fail,
                format!(
                    "the probe of {} {what}: {}",
                    metadata.authorization_endpoint,
                    e.without_url()
                ),
            )
            .fix("check the network path to the provider, or raise --timeout");
        }
    };
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok());
        let Some(target) = location else {
            return check(
                Status::Fail,
                format!("the provider answered {status} without a usable Location"),
            );
        };
        let same_callback = target.scheme() == redirect_uri.scheme()
            && target.host() == redirect_uri.host()
            && target.port_or_known_default() == redirect_uri.port_or_known_default()
            && target.path() == redirect_uri.path();
        if same_callback {
            // Name the OAuth error it came back with (`login_required` for `prompt=none`);
            // never anything else from the query, which may hold a code.
            let error = target
                .query_pairs()
                .find(|(k, _)| k == "error")
                .map(|(_, v)| v.chars().take(64).collect::<String>())
                .filter(|e| e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
                .map(|e| format!(" (with error `{e}`)"))
                .unwrap_or_default();
            return check(
                Status::Pass,
                format!("registered: the provider redirects back to it{error}"),
            );
        }
        if is_provider(&target, metadata) {
            return check(
                Status::Pass,
                "registered: the provider sends the browser on to its sign-in page".to_owned(),
            );
        }
        // Only the origin and path: the query may carry a code.
        return check(
            Status::Warn,
            format!(
                "the provider redirected to {}{}: neither this URI nor the provider, so whether \
                 it is registered is unclear",
                target.origin().ascii_serialization(),
                target.path()
            ),
        )
        .fix(format!(
            "check the whitelist with `logi app show {}`",
            options.client_id
        ));
    }
    if status.is_success() {
        return check(
            Status::Pass,
            "registered: the provider shows its sign-in page".to_owned(),
        );
    }

    let OAuthAnswer {
        code,
        description,
        request_id,
    } = read_error(response).await;
    let client_id = shell_quote(&options.client_id);
    match code.as_str() {
        "invalid_request" if description.contains("redirect_uri") => check(
            Status::Fail,
            format!(
                "not registered: the provider answered {status} invalid_request \
                 \"{description}\"{request_id}; sign-in from this URL fails before the user \
                 sees a page"
            ),
        )
        .fix(format!(
            "logi app update {client_id} --add-redirect-uri {uri}, then check with \
             `logi apps verify {client_id} -r {uri}`",
            uri = shell_quote(uri)
        )),
        "invalid_client" => check(
            Status::Fail,
            format!(
                "the provider does not know client id `{}`: {status} invalid_client \
                 \"{description}\"{request_id}",
                options.client_id
            ),
        )
        .fix(
            "check LOGI_CLIENT_ID (--client-id) and LOGI_ISSUER against `logi app show`; a web \
             app and a mobile app have separate registrations",
        ),
        "" => check(
            Status::Fail,
            format!("the provider refused the probe with {status} and no OAuth error{request_id}"),
        )
        .fix("check that LOGI_ISSUER names the provider you registered with"),
        code => check(
            Status::Fail,
            format!(
                "the provider refused the probe: {status} {code} \"{description}\"{request_id}"
            ),
        )
        .fix(format!("see https://docs.1pass.dev/oauth/errors#{code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_https_or_loopback() {
        for ok in [
            "https://app.example.com/auth/callback",
            "http://localhost:3000/auth/callback",
            "http://127.0.0.1:3000/cb",
            "http://[::1]:3000/cb",
        ] {
            assert_eq!(redirect_uri_form(ok).0.status, Status::Pass, "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "http://localhost.evil.com/cb",
            "com.example.app:/callback",
            "https://app.example.com/cb#frag",
            "/auth/callback",
        ] {
            let (check, _) = redirect_uri_form(bad);
            assert_eq!(check.status, Status::Fail, "{bad}");
            assert!(check.fix.is_some(), "{bad}");
        }
    }

    #[test]
    fn credential_formats_only_warn() {
        assert_eq!(
            client_id_format("logi_0123456789abcdef0123456789abcdef").status,
            Status::Pass
        );
        assert_eq!(client_id_format("my-app").status, Status::Warn);
        assert_eq!(client_id_format("logi_0123").status, Status::Warn);
    }

    #[test]
    fn the_providers_sign_in_page_may_live_on_a_sibling_host() {
        let metadata: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://api.1pass.dev",
            "authorization_endpoint": "https://api.1pass.dev/oauth/authorize",
            "token_endpoint": "https://api.1pass.dev/oauth/token",
            "jwks_uri": "https://api.1pass.dev/.well-known/jwks.json",
        }))
        .unwrap();
        for yes in [
            "https://api.1pass.dev/login?x=1",
            "https://1pass.dev/login",
            "https://accounts.1pass.dev/login",
        ] {
            assert!(is_provider(&Url::parse(yes).unwrap(), &metadata), "{yes}");
        }
        for no in [
            "https://evil.dev/login",
            "https://1pass.dev.evil.com/login",
            "http://accounts.1pass.dev/login",
            "https://app.example.com/cb",
        ] {
            assert!(!is_provider(&Url::parse(no).unwrap(), &metadata), "{no}");
        }
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("https://a/cb"), "'https://a/cb'");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
