//! The bearer part of the resolution: a token from the cache, verified right here (a JWT whose
//! signing key is cached) or by the provider (a key to fetch, an opaque token), then screened
//! against the sign-outs. Must not touch the session or its cookies.

use std::sync::Arc;

use super::{Resolution, Resolved};
use crate::bearer;
use crate::session::signout::TokenOwner;
use crate::state::{Auth, CredentialError, Shared};
use crate::user::Principal;
use crate::verify::{VerifiedAccessToken, VerifyError, VerifyErrorKind};

/// The auth a presented bearer token gives, ready when it needs no round trip.
pub(super) fn resolve(shared: Arc<Shared>, token: &str, now: i64) -> Resolution {
    let hashed = bearer::key(token);
    if let Some(principal) = shared.token_cache.get(&hashed.key, token, now) {
        return screened(Auth::new(shared, Some(principal)), now);
    }
    if let Err(why) = bearer::check_token(token) {
        return Resolution::Ready(Resolved::new(Auth::malformed(shared, why)));
    }
    // The one choice between a JWT (verified with the provider's keys) and an opaque token
    // (validated by the provider).
    let opaque = shared.opaque.is_some() && !crate::opaque::is_jwt(token);
    // A JWT whose signing key is cached is verified right here; the others wait for the
    // provider (a key to fetch, an opaque token to validate).
    let verified = if opaque {
        None
    } else {
        shared
            .access_tokens
            .verify_cached(token, hashed.signing_digest, now)
    };
    let token = token.to_owned();
    if let Some(verified) = verified {
        return screened(bearer_auth(shared, verified, token, hashed.key, now), now);
    }
    Resolution::Pending(super::Pending::Bearer(Pending::Verify {
        shared,
        token,
        key: hashed.key,
        opaque,
        now,
    }))
}

/// A bearer token's resolution that waits for the provider or the coordination.
pub(crate) enum Pending {
    /// A token not seen before, to verify (or validate, when opaque) and screen.
    Verify {
        shared: Arc<Shared>,
        token: String,
        key: bearer::Key,
        opaque: bool,
        now: i64,
    },
    /// A verified token, to check against the coordination's sign-outs.
    Screen(Auth),
}

impl Pending {
    pub(super) async fn finish(self) -> Auth {
        match self {
            Self::Verify {
                shared,
                token,
                key,
                opaque,
                now,
            } => {
                let verified = if opaque {
                    crate::opaque::validate(&shared, &token, now).await
                } else {
                    shared.access_tokens.verify(&token).await
                };
                let auth = bearer_auth(shared, verified, token, key, now);
                withdrawn_shared(withdrawn_here(auth, now)).await
            }
            Self::Screen(auth) => withdrawn_shared(auth).await,
        }
    }
}

/// `auth` once its bearer token is checked against the sign-outs (see
/// [`crate::session::signout`]): this process's, right here, or the coordination's, one round
/// trip before the service is called.
fn screened(auth: Auth, now: i64) -> Resolution {
    let shared_check = auth.principal.is_some()
        && auth
            .shared
            .web
            .as_ref()
            .is_some_and(|web| web.ending().screens_tokens_shared());
    if shared_check {
        Resolution::Pending(super::Pending::Bearer(Pending::Screen(auth)))
    } else {
        Resolution::Ready(Resolved::new(withdrawn_here(auth, now)))
    }
}

/// `auth` with its bearer token refused when this process's sign-outs withdrew it.
fn withdrawn_here(auth: Auth, now: i64) -> Auth {
    let withdrawn = match (&auth.principal, &auth.shared.web) {
        (Some(principal), Some(web)) if !web.ending().screens_tokens_shared() => web
            .sign_outs
            .token_signed_out(&TokenOwner::of(principal), now),
        _ => false,
    };
    if withdrawn {
        refused_token(auth, WITHDRAWN)
    } else {
        auth
    }
}

/// `auth` with its bearer token refused when the coordination's sign-outs withdrew it, or when
/// the coordination cannot be asked (fail closed: 503).
async fn withdrawn_shared(auth: Auth) -> Auth {
    let checked = match (&auth.principal, &auth.shared.web) {
        (Some(principal), Some(web)) if web.ending().screens_tokens_shared() => {
            web.ending()
                .token_signed_out_shared(&TokenOwner::of(principal))
                .await
        }
        _ => Ok(false),
    };
    match checked {
        Ok(false) => auth,
        Ok(true) => refused_token(auth, WITHDRAWN),
        Err(error) => {
            tracing::warn!(%error, "could not check a bearer token against the sign-outs");
            refused_token(
                auth,
                VerifyError::new(
                    VerifyErrorKind::Unavailable,
                    "the token cannot be checked right now",
                ),
            )
        }
    }
}

/// Why a bearer token issued before its user's sign-out is refused.
const WITHDRAWN: VerifyError = VerifyError::new(
    VerifyErrorKind::Inactive,
    "the token was issued before its user was signed out",
);

fn refused_token(auth: Auth, error: VerifyError) -> Auth {
    let mut refused = Auth::new(auth.shared, None);
    refused.credential_error = Some(CredentialError::Invalid(error));
    refused
}

/// The request's auth from a bearer token's verification; a verified token is remembered.
fn bearer_auth(
    shared: Arc<Shared>,
    verified: Result<VerifiedAccessToken, VerifyError>,
    token: String,
    key: bearer::Key,
    now: i64,
) -> Auth {
    match verified {
        Ok(verified) => {
            let expires_at = verified.expires_at;
            let principal = Arc::new(Principal::from_access_token(verified, token));
            shared
                .token_cache
                .insert(key, expires_at, Arc::clone(&principal), now);
            Auth::new(shared, Some(principal))
        }
        Err(error) => {
            tracing::debug!(code = error.code(), "refused a bearer token");
            let mut auth = Auth::new(shared, None);
            auth.credential_error = Some(CredentialError::Invalid(error));
            auth
        }
    }
}
