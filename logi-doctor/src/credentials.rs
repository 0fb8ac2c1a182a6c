//! The client credentials, checked without a user, at the token endpoint.
//! Must not touch: the authorization endpoint (`redirect.rs` probes it); never puts the secret
//! in a check.
//!
//! A token request with a made-up authorization code (random, with a random PKCE verifier and
//! the first redirect URI given) authenticates the client exactly as the code exchange after a
//! sign-in will. A provider judges the client before the code: `invalid_client` (a 401) means
//! the id or secret is wrong, or the client is registered for another authentication method;
//! `invalid_grant` means the credentials were accepted and only the code was refused. Nothing is
//! issued and no user is involved. The secret travels only to the token endpoint, and never
//! reaches the report: the provider's error description is shown with it blanked out.

use logi::provider::ProviderMetadata;

use crate::args::{AuthMethod, Options};
use crate::probe::{how_it_failed, random, read_error};
use crate::report::{Check, Status};

const CHECK: &str = "client_credentials";

/// The method the layer will use, as far as discovery lets it: the configured one (Basic when
/// none is), or, when discovery does not offer that, the other one, with a failed
/// `token_auth_method` check. `None` when discovery offers neither.
fn method(options: &Options, metadata: &ProviderMetadata) -> (Option<AuthMethod>, Option<Check>) {
    let configured = options
        .token_auth_method
        .unwrap_or(AuthMethod::ClientSecretBasic);
    let offered = &metadata.token_endpoint_auth_methods_supported;
    // An absent list says nothing: probe with what the layer is configured for.
    let offers = |m: AuthMethod| offered.is_empty() || offered.iter().any(|o| o == m.as_str());
    if offers(configured) {
        return (Some(configured), None);
    }
    let other = match configured {
        AuthMethod::ClientSecretBasic => AuthMethod::ClientSecretPost,
        AuthMethod::ClientSecretPost => AuthMethod::ClientSecretBasic,
    };
    if !offers(other) {
        return (None, None);
    }
    let how = if options.token_auth_method.is_some() {
        "is configured for"
    } else {
        "uses, unless configured otherwise,"
    };
    let mismatch = Check::new(
        "token_auth_method",
        configured.as_str(),
        Status::Fail,
        format!(
            "the layer {how} {configured}, but discovery's token_endpoint_auth_methods_supported \
             lists only {}: every code exchange would be refused",
            offered.join(", "),
            configured = configured.as_str(),
        ),
    )
    .fix(format!(
        "build the layer with {} and pass --token-auth-method {} (LOGI_TOKEN_AUTH_METHOD)",
        other.builder_call(),
        other.as_str()
    ));
    (Some(other), Some(mismatch))
}

/// The credential checks: a `token_auth_method` failure when discovery rules the configured
/// method out, then `client_credentials`.
pub(crate) async fn check(
    probe: &reqwest::Client,
    options: &Options,
    metadata: &ProviderMetadata,
) -> Vec<Check> {
    let endpoint = metadata.token_endpoint.as_str();
    let Some(secret) = &options.client_secret else {
        return vec![Check::new(
            CHECK,
            endpoint,
            Status::Skip,
            "no client secret given (LOGI_CLIENT_SECRET): nothing to verify for a public client",
        )];
    };
    let (method, mismatch) = method(options, metadata);
    let mut checks: Vec<Check> = mismatch.into_iter().collect();
    let Some(method) = method else {
        checks.push(Check::new(
            CHECK,
            endpoint,
            Status::Skip,
            "not probed: the provider offers neither client_secret_basic nor client_secret_post",
        ));
        return checks;
    };
    let check = |status, message: String| Check::new(CHECK, endpoint, status, message);

    let code = random(32);
    let verifier = random(32);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    if let Some(uri) = options.redirect_uris.first() {
        form.push(("redirect_uri", uri));
    }
    let request = probe.post(metadata.token_endpoint.clone());
    let request = match method {
        AuthMethod::ClientSecretBasic => {
            // RFC 6749 §2.3.1: each is form-urlencoded before the Basic encoding, as the layer does.
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request.basic_auth(encode(&options.client_id), Some(encode(secret.expose())))
        }
        AuthMethod::ClientSecretPost => {
            form.push(("client_id", &options.client_id));
            form.push(("client_secret", secret.expose()));
            request
        }
    };
    let response = match request
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => {
            let what = how_it_failed(&e);
            checks.push(
                check(
                    Status::Fail,
                    format!("the token request {what}: {}", e.without_url()),
                )
                .fix("the app must reach the token endpoint; check the network path, or raise --timeout"),
            );
            return checks;
        }
    };
    let status = response.status();
    let error = read_error(response).await;
    // A provider that echoed the secret back must not get it printed.
    let description = if secret.expose().is_empty() {
        error.description
    } else {
        error.description.replace(secret.expose(), "[secret]")
    };
    let answer = |code: &str| {
        let description = if description.is_empty() {
            String::new()
        } else {
            format!(" \"{description}\"")
        };
        format!("{status} {code}{description}{}", error.request_id)
    };
    let method_name = method.as_str();
    let result = if status.is_success() {
        check(
            Status::Fail,
            format!(
                "the provider answered {status} to a made-up authorization code: it does not \
                 check codes, or the token endpoint is not what discovery says"
            ),
        )
        .fix("check LOGI_ISSUER: this is not a provider to trust with sign-ins")
    } else if error.code == "invalid_grant" {
        check(
            Status::Pass,
            format!(
                "the provider accepted the client id and secret ({method_name}); it refused only \
                 the made-up code ({})",
                answer("invalid_grant")
            ),
        )
    } else if error.code == "invalid_client" || status == reqwest::StatusCode::UNAUTHORIZED {
        let other = match method {
            AuthMethod::ClientSecretBasic => AuthMethod::ClientSecretPost,
            AuthMethod::ClientSecretPost => AuthMethod::ClientSecretBasic,
        };
        let code = if error.code.is_empty() {
            "(no OAuth error)"
        } else {
            error.code.as_str()
        };
        check(
            Status::Fail,
            format!(
                "the provider refused the client's credentials ({method_name}): {}; the code \
                 exchange after every sign-in would fail the same way",
                answer(code)
            ),
        )
        .fix(format!(
            "check LOGI_CLIENT_SECRET (--client-secret) and LOGI_CLIENT_ID (--client-id) against \
             the registration (`logi app show {}`; a lost secret is rotated, not recovered); if \
             both are right, the client is registered for another method: build the layer with \
             {} and pass --token-auth-method {}",
            options.client_id,
            other.builder_call(),
            other.as_str()
        ))
    } else if error.code == "unauthorized_client" {
        check(
            Status::Fail,
            format!(
                "the provider accepted the credentials ({method_name}) but does not let this \
                 client use the authorization code grant: {}",
                answer("unauthorized_client")
            ),
        )
        .fix("allow the authorization_code grant in the client's registration")
    } else {
        let code = if error.code.is_empty() {
            "(no OAuth error)"
        } else {
            error.code.as_str()
        };
        check(
            Status::Warn,
            format!(
                "could not tell whether the credentials are right ({method_name}): the provider \
                 answered {}",
                answer(code)
            ),
        )
        .fix("look the request up in the provider's log")
    };
    checks.push(result);
    checks
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn metadata(methods: &[&str]) -> ProviderMetadata {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://api.1pass.dev",
            "authorization_endpoint": "https://api.1pass.dev/oauth/authorize",
            "token_endpoint": "https://api.1pass.dev/oauth/token",
            "jwks_uri": "https://api.1pass.dev/.well-known/jwks.json",
            "token_endpoint_auth_methods_supported": methods,
        }))
        .unwrap()
    }

    fn options(method: Option<AuthMethod>) -> Options {
        Options {
            issuer: "https://api.1pass.dev".into(),
            expected_issuer: None,
            client_id: "logi_x".into(),
            client_secret: Some(logi::Secret::new("s")),
            token_auth_method: method,
            redirect_uris: Vec::new(),
            session_key: None,
            json: false,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_method_follows_the_configuration_and_discovery() {
        use AuthMethod::{ClientSecretBasic as Basic, ClientSecretPost as Post};
        for (configured, offered, probed, mismatch) in [
            (None, &[][..], Some(Basic), false),
            (Some(Post), &[][..], Some(Post), false),
            (
                None,
                &["client_secret_basic", "client_secret_post"][..],
                Some(Basic),
                false,
            ),
            (
                Some(Post),
                &["client_secret_basic", "client_secret_post"][..],
                Some(Post),
                false,
            ),
            // The layer's default is not offered: probe with the one that is, and say so.
            (None, &["client_secret_post"][..], Some(Post), true),
            (Some(Post), &["client_secret_basic"][..], Some(Basic), true),
            (None, &["private_key_jwt"][..], None, false),
        ] {
            let (method, check) = method(&options(configured), &metadata(offered));
            assert_eq!(method, probed, "{configured:?} {offered:?}");
            assert_eq!(check.is_some(), mismatch, "{configured:?} {offered:?}");
            if let Some(check) = check {
                assert_eq!(check.status, Status::Fail);
                let fix = check.fix.unwrap();
                assert!(
                    fix.contains("--token-auth-method") && fix.contains("TokenAuthMethod::"),
                    "{fix}"
                );
            }
        }
    }
}
