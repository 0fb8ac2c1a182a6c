//! The gRPC rendering of a refusal: the table's code and the refusal's description, as a
//! trailers-only response (the layer's own answer) or as the parts of a `tonic::Status`
//! (`logi::grpc`). Decides nothing; needs no tonic.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response};

use super::reason::Refusal;

/// The `grpc-status` code and the message of `refusal` (the message as it is, before the
/// percent-encoding `grpc-message` wants).
pub(crate) fn status(refusal: &Refusal) -> (u16, &str) {
    (refusal.reason.row().grpc as u16, refusal.description())
}

/// A gRPC "trailers-only" response refusing the call.
pub(crate) fn response(refusal: &Refusal) -> Response<Bytes> {
    let (code, message) = status(refusal);
    let mut response = Response::new(Bytes::new());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(message) = HeaderValue::try_from(percent_encode(message)) {
        headers.insert("grpc-message", message);
    }
    response
}

/// gRPC's `grpc-message` is percent-encoded.
fn percent_encode(message: &str) -> String {
    message
        .bytes()
        .map(|b| {
            if (0x20..0x7f).contains(&b) && b != b'%' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
