use std::fmt;

/// Why a token was refused.
///
/// The kinds and their [`code`](VerifyErrorKind::code) strings are logi's shared verification
/// contract: every logi SDK reports the same code for the same token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// Not a compact JWS with a JSON header and payload.
    Malformed,
    /// The header names no `kid`.
    MissingKid,
    /// No key with the token's `kid` is published by the provider, even after a refetch.
    UnknownKid,
    /// The signature does not verify, or the algorithm is not RS256.
    BadSignature,
    /// `iss` is not the expected issuer.
    IssMismatch,
    /// `aud` does not name this client, or `azp` is wrong or missing where it is required.
    AudMismatch,
    /// The token has expired, or is not valid yet (`iat`/`nbf` in the future).
    Expired,
    /// `nonce` differs from the one sent with the authorization request.
    NonceMismatch,
    /// A required claim (`exp`, `iat`, `sub`) is missing.
    MissingClaim,
    /// `at_hash` does not match the access token issued with the ID token.
    AtHashMismatch,
    /// The provider could not be asked (its keys could not be fetched and none are cached, or
    /// its introspection endpoint did not answer): not a fault of the token, and worth
    /// retrying later.
    Unavailable,
    /// The provider says the (opaque) token is not active: revoked, expired or unknown.
    Inactive,
    /// A bearer token that is not an access token: an ID token, a logout token, or any other
    /// JWT the provider signed, whatever its audience (see
    /// [`AccessTokenVerifier`](crate::verify::AccessTokenVerifier) for the rule); or an opaque token
    /// the provider describes as another kind of token (a refresh token).
    NotAnAccessToken,
}

impl VerifyErrorKind {
    /// The stable machine-readable code, e.g. `"bad_signature"`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::MissingKid => "missing_kid",
            Self::UnknownKid => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::IssMismatch => "iss_mismatch",
            Self::AudMismatch => "aud_mismatch",
            Self::Expired => "expired",
            Self::NonceMismatch => "nonce_mismatch",
            Self::MissingClaim => "missing_claim",
            Self::AtHashMismatch => "at_hash_mismatch",
            Self::Unavailable => "provider_unavailable",
            Self::Inactive => "inactive",
            Self::NotAnAccessToken => "not_an_access_token",
        }
    }
}

impl fmt::Display for VerifyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A token was refused. Carries a [kind](VerifyErrorKind) and a short description that never
/// contains the token or any of its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    kind: VerifyErrorKind,
    detail: &'static str,
}

impl VerifyError {
    pub(crate) const fn new(kind: VerifyErrorKind, detail: &'static str) -> Self {
        Self { kind, detail }
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> VerifyErrorKind {
        self.kind
    }

    /// The stable machine-readable code of the kind, e.g. `"expired"`.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// A short human-readable description (safe to log: it holds no token data).
    #[must_use]
    pub const fn detail(&self) -> &'static str {
        self.detail
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.detail)
    }
}

impl std::error::Error for VerifyError {}
