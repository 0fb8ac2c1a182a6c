//! What the raw-HTTP probes share (registration, credentials, keys): random values for their
//! requests, how a request failed, and a bounded read of an OAuth error answer.
//! Must not touch: what an answer means for a check (each check decides), the report.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The most of an error body the probe reads.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// How a probe's request failed, for its check's message: `timed out` or `failed`.
pub(crate) fn how_it_failed(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else {
        "failed"
    }
}

/// A random base64url string of `bytes` random bytes.
pub(crate) fn random(bytes: usize) -> String {
    let mut buf = vec![0_u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).expect("the system random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
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
