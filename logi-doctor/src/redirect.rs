//! The redirect URIs: each one's form (https://, or http:// on loopback), and whether the
//! provider has it registered, probed at the authorization endpoint as a browser would.
//! Must not touch: discovery's checks, the credentials; never reports a code from a redirect.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use logi::provider::ProviderMetadata;
use url::Url;

use crate::args::Options;
use crate::probe::{OAuthAnswer, how_it_failed, random, read_error};
use crate::report::{Check, Status};

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
pub(crate) fn redirect_uri_form(uri: &str) -> (Check, Option<Url>) {
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

/// Quotes a value for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Probes the authorization endpoint the way a browser starting a sign-in would, without
/// following the answer: logi refuses an unregistered redirect URI with a 400 on the spot, and
/// answers a registered one with a redirect (back to it, or to its sign-in page).
///
/// `prompt=none` asks the provider not to show a sign-in page, so a registered URI is normally
/// answered with a redirect back to it carrying `login_required`; no session is created.
pub(crate) async fn registration(
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
            let what = how_it_failed(&e);
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
