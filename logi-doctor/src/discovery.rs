//! Discovery: the OpenID configuration, the issuer it names, and whether the provider offers
//! what the layer uses. Must not touch: the keys, the credentials, the redirect URIs.

use logi::provider::DiscoveryError;
use logi::provider::{HttpClient, ProviderMetadata};

use crate::args::Options;
use crate::report::{Check, Status};

/// Discovery, and whether it names the configured issuer. On a mismatch the document is fetched
/// again under the issuer it names, so the remaining checks still run.
pub(crate) async fn discovery(
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
pub(crate) fn capabilities(options: &Options, metadata: &ProviderMetadata) -> Check {
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
