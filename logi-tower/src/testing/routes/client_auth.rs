//! Client authentication at the token, revocation and introspection endpoints: `client_secret_basic`,
//! `client_secret_post`, and `none` for public clients.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq as _;

use crate::testing::client::TestClient;
use crate::testing::respond::{OAuthError, Params};
use crate::testing::state::ProviderState;

const BASIC_CHALLENGE: &str = r#"Basic realm="logi""#;

/// A form a client posts to an endpoint it authenticates at: its parameters, and the client.
pub(super) fn authenticated_form(
    provider: &ProviderState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, TestClient), OAuthError> {
    let params = Params::parse(body)?;
    let client = authenticate(provider, headers, &params)?;
    Ok((params, client))
}

/// The client the request authenticates as, or a 401 `invalid_client`.
fn authenticate(
    provider: &ProviderState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<TestClient, OAuthError> {
    let basic = basic_credentials(headers)?;
    let tried_basic = basic.is_some();
    let fail = |description: &'static str| {
        let error = OAuthError::invalid_client(description);
        if tried_basic {
            error.with_challenge(BASIC_CHALLENGE)
        } else {
            error
        }
    };
    let (client_id, secret) = match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not several",
            ));
        }
        (Some((id, secret)), None) => {
            if params.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(fail("client_id does not match the authenticated client"));
            }
            (id, Some(secret))
        }
        (None, secret) => match params.get("client_id") {
            Some(id) => (id.to_owned(), secret.map(str::to_owned)),
            None => return Err(fail("client authentication required")),
        },
    };
    let client = provider
        .client(&client_id)
        .ok_or_else(|| fail("unknown client"))?;
    match (&client.client_secret, secret) {
        (None, None) => Ok(client),
        (None, Some(_)) => Err(fail("a public client authenticates with `none`")),
        (Some(_), None) => Err(fail("client authentication required")),
        (Some(expected), Some(given)) => {
            if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
                Ok(client)
            } else {
                Err(fail("client authentication failed"))
            }
        }
    }
}

/// The `(client_id, client_secret)` of an `Authorization: Basic` header, each
/// form-urlencoded (RFC 6749 §2.3.1). `None` without a Basic header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let malformed = || {
        OAuthError::invalid_client("malformed HTTP Basic credentials")
            .with_challenge(BASIC_CHALLENGE)
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    Ok(Some((id, secret)))
}

/// Decodes one `application/x-www-form-urlencoded` component.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => decoded.push(byte),
        }
        i += 1;
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use crate::testing::routes::client_auth::form_decode;

    #[test]
    fn decodes_form_components() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("100%"), None);
        assert_eq!(form_decode("%zz"), None);
    }
}
