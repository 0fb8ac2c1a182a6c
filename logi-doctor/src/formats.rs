//! The formats of the configured values, read offline: the client id, the client secret and
//! the session key. Must not touch: the network; never shows a secret's text.

use logi::SessionKeys;

use crate::args::Options;
use crate::report::{Check, Status};

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn client_id_format(client_id: &str) -> Check {
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

pub(crate) fn client_secret_format(options: &Options) -> Check {
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

pub(crate) fn session_key(options: &Options) -> Check {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_formats_only_warn() {
        assert_eq!(
            client_id_format("logi_0123456789abcdef0123456789abcdef").status,
            Status::Pass
        );
        assert_eq!(client_id_format("my-app").status, Status::Warn);
        assert_eq!(client_id_format("logi_0123").status, Status::Warn);
    }
}
