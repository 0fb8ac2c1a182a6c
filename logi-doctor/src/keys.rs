//! The provider's signing keys, and this machine's clock against the provider's.
//! Must not touch: discovery (it is given the metadata), the credentials.
//!
//! The key set is fetched once, the way the layer fetches it (no redirects, JSON, at most
//! 1 MiB), and read by logi-tower's own parser ([`Jwks::from_json`]), so the keys it counts
//! are the keys the layer will use. When there are none, each key found is named with the
//! reason the layer passes it over. The same response's `Date` header gives the provider's
//! clock.

use std::time::{Duration, SystemTime};

use logi::provider::{Jwks, ProviderMetadata};
use logi::verify::DEFAULT_CLOCK_SKEW;
use serde_json::Value;

use crate::probe::how_it_failed;
use crate::report::{Check, Status};

/// The largest key set the layer reads.
const MAX_JWKS: usize = 1024 * 1024;
/// Keys described one by one in a failure; the rest are counted.
const MAX_DESCRIBED: usize = 10;

/// The `jwks` and `clock` checks, from one fetch of `jwks_uri`.
pub(crate) async fn check(probe: &reqwest::Client, metadata: &ProviderMetadata) -> Vec<Check> {
    let subject = metadata.jwks_uri.as_str();
    let unreachable = |message: String| {
        vec![
            Check::new("jwks", subject, Status::Fail, message).fix(
                "the provider's key set must be reachable from the app; check the network path",
            ),
            Check::new(
                "clock",
                subject,
                Status::Skip,
                "not checked: no answer from jwks_uri",
            ),
        ]
    };
    let response = match probe
        .get(metadata.jwks_uri.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => {
            let what = how_it_failed(&e);
            return unreachable(format!("fetching the key set {what}: {}", e.without_url()));
        }
    };
    let clock = clock(
        subject,
        response.headers().get(reqwest::header::DATE),
        SystemTime::now(),
        DEFAULT_CLOCK_SKEW,
    );
    let status = response.status();
    if !status.is_success() {
        return vec![
            Check::new(
                "jwks",
                subject,
                Status::Fail,
                format!("jwks_uri answered {status}"),
            )
            .fix("the provider must serve its key set at the jwks_uri discovery names"),
            clock,
        ];
    }
    let body = match read_limited(response).await {
        Ok(body) => body,
        Err(message) => return unreachable(message),
    };
    vec![keys(metadata, &body), clock]
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_JWKS => {
                return Err("the key set is larger than 1 MiB, which the layer refuses".into());
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(e) => return Err(format!("reading the key set failed: {}", e.without_url())),
        }
    }
}

/// Whether the key set holds a key the layer can verify ID tokens with.
fn keys(metadata: &ProviderMetadata, body: &[u8]) -> Check {
    let subject = metadata.jwks_uri.as_str();
    let jwks = match Jwks::from_json(body) {
        Ok(jwks) => jwks,
        Err(e) => {
            return Check::new("jwks", subject, Status::Fail, e.to_string())
                .fix("jwks_uri must serve a JWKS document ({\"keys\": [...]}); check LOGI_ISSUER");
        }
    };
    let algs = &metadata.id_token_signing_alg_values_supported;
    let listed = if algs.is_empty() {
        "discovery lists no id_token_signing_alg_values_supported".to_owned()
    } else {
        format!("discovery lists {}", algs.join(", "))
    };
    let kids = jwks.kids();
    if !kids.is_empty() {
        return Check::new(
            "jwks",
            subject,
            Status::Pass,
            format!(
                "{} RS256 signing key{} (kid {}); {listed}",
                kids.len(),
                if kids.len() == 1 { "" } else { "s" },
                kids.join(", ")
            ),
        );
    }
    let found: Vec<Value> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|set| set["keys"].as_array().cloned())
        .unwrap_or_default();
    let found = if found.is_empty() {
        "the key set is empty".to_owned()
    } else {
        let mut described: Vec<String> = found.iter().take(MAX_DESCRIBED).map(describe).collect();
        if found.len() > MAX_DESCRIBED {
            described.push(format!("{} more", found.len() - MAX_DESCRIBED));
        }
        format!(
            "found {} key{}: {}",
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            described.join("; ")
        )
    };
    Check::new(
        "jwks",
        subject,
        Status::Fail,
        format!(
            "no key the layer can verify ID tokens with (it needs an RS256 key: kty RSA, use sig \
             or absent, alg RS256 or absent, a kid, 2048 to 8192 bits); {listed}; {found}"
        ),
    )
    .fix(
        "the provider must publish an RSA signing key in its JWKS and sign ID tokens with RS256; \
         check that LOGI_ISSUER names the right provider",
    )
}

/// One key as found, with the reason the layer passes it over.
fn describe(key: &Value) -> String {
    let text = |name: &str| {
        key[name]
            .as_str()
            .map(|v| v.chars().take(64).collect::<String>())
    };
    let kid = text("kid").map_or_else(|| "no kid".to_owned(), |kid| format!("kid {kid}"));
    let kty = text("kty").unwrap_or_else(|| "(none)".to_owned());
    let mut what = format!("{kid}, kty {kty}");
    for name in ["crv", "use", "alg"] {
        if let Some(value) = text(name) {
            what.push_str(&format!(", {name} {value}"));
        }
    }
    let bits = key["n"].as_str().and_then(|n| {
        use base64::Engine as _;
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(n.as_bytes())
            .ok()?;
        Some(
            n.iter()
                .position(|b| *b != 0)
                .map_or(0, |i| (n.len() - i) * 8),
        )
    });
    let reason = if kty != "RSA" {
        "not an RSA key".to_owned()
    } else if text("use").is_some_and(|u| u != "sig") {
        "not for signatures".to_owned()
    } else if text("alg").is_some_and(|a| a != "RS256") {
        "not for RS256".to_owned()
    } else if text("kid").is_none() {
        "no kid to find it by".to_owned()
    } else if key["e"].as_str().is_none() || bits.is_none() {
        "its n or e is missing or not base64url".to_owned()
    } else if let Some(bits) = bits.filter(|b| !(2048..=8192).contains(b)) {
        format!("{bits} bits, outside 2048 to 8192")
    } else {
        "not a valid RSA public key".to_owned()
    };
    format!("{what} ({reason})")
}

/// This machine's clock against the provider's `Date` header, received at `now`.
fn clock(
    subject: &str,
    date: Option<&reqwest::header::HeaderValue>,
    now: SystemTime,
    tolerance: Duration,
) -> Check {
    let check = |status, message: String| Check::new("clock", subject, status, message);
    let Some(date) = date else {
        return check(
            Status::Skip,
            "the provider sent no Date header to compare the clock with".to_owned(),
        );
    };
    let Some(provider) = date
        .to_str()
        .ok()
        .and_then(|d| httpdate::parse_http_date(d).ok())
    else {
        return check(
            Status::Skip,
            "the provider's Date header is not an HTTP date".to_owned(),
        );
    };
    // `Date` has whole seconds: the provider's clock read somewhere in the second after it.
    let ahead = match now.duration_since(provider) {
        Ok(d) => d.as_secs_f64() - 0.5,
        Err(e) => -(e.duration().as_secs_f64() + 0.5),
    };
    let skew = ahead.abs().round();
    let tolerance_secs = tolerance.as_secs();
    if skew <= tolerance.as_secs_f64() {
        return check(
            Status::Pass,
            format!(
                "this machine's clock is within {skew} s of the provider's (its Date header); \
                 the layer tolerates {tolerance_secs} s"
            ),
        );
    }
    let (direction, effect) = if ahead > 0.0 {
        (
            "ahead of",
            "ID tokens and access tokens would look expired early, and be refused outright \
             when they live shorter than that",
        )
    } else {
        (
            "behind",
            "freshly issued ID tokens would look issued in the future and be refused",
        )
    };
    check(
        Status::Warn,
        format!(
            "this machine's clock is {skew} s {direction} the provider's (its Date header), \
             beyond the layer's clock-skew tolerance of {tolerance_secs} s: {effect}"
        ),
    )
    .fix(
        "synchronize the clock with NTP (e.g. `timedatectl set-ntp true`, or chrony) here and on \
         every machine the app runs on; raising the layer's .clock_skew(...) only hides it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(at: SystemTime) -> reqwest::header::HeaderValue {
        httpdate::fmt_http_date(at).parse().unwrap()
    }

    #[test]
    fn clock_skew_beyond_the_tolerance_warns_and_names_it() {
        let now = SystemTime::now();
        let minute = DEFAULT_CLOCK_SKEW;
        for (provider, status, words) in [
            (now, Status::Pass, "within"),
            (now - Duration::from_secs(30), Status::Pass, "within"),
            (now + Duration::from_secs(59), Status::Pass, "within"),
            (
                now - Duration::from_secs(300),
                Status::Warn,
                "300 s ahead of",
            ),
            (now + Duration::from_secs(300), Status::Warn, "300 s behind"),
        ] {
            let check = clock("u", Some(&header(provider)), now, minute);
            assert_eq!(check.status, status, "{}", check.message);
            assert!(check.message.contains(words), "{}", check.message);
            assert!(check.message.contains("60 s"), "{}", check.message);
        }
        assert_eq!(clock("u", None, now, minute).status, Status::Skip);
        let garbage = reqwest::header::HeaderValue::from_static("yesterday");
        assert_eq!(clock("u", Some(&garbage), now, minute).status, Status::Skip);
    }

    #[test]
    fn each_unusable_key_is_named_with_its_reason() {
        let key = |v: Value| describe(&v);
        assert!(
            key(serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "e1"}))
                .contains("kid e1, kty EC, crv P-256 (not an RSA key)")
        );
        assert!(
            key(serde_json::json!({"kty": "RSA", "use": "enc", "kid": "r1"}))
                .contains("use enc (not for signatures)")
        );
        assert!(
            key(serde_json::json!({"kty": "RSA", "alg": "PS256", "kid": "r1"}))
                .contains("(not for RS256)")
        );
        assert!(key(serde_json::json!({"kty": "RSA"})).contains("(no kid to find it by)"));
        // 1024 bits.
        let n = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            [0xc5_u8; 128],
        );
        assert!(
            key(serde_json::json!({"kty": "RSA", "kid": "r", "n": n, "e": "AQAB"}))
                .contains("1024 bits, outside 2048 to 8192")
        );
    }
}
