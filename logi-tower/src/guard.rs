//! What `#[logi::protected]` requires of the signed-in user, and the check itself.
//! Decision level: owns the requirement check; rendering a refusal is `reject`'s.
//!
//! The macro only describes the requirement (a [`Requirement`] in a [`Guard`] impl, or a
//! `const` inside a tonic method); everything that decides lives here, shared by the axum
//! extractor [`Protected`](crate::extract::Protected) and the tonic check in [`crate::grpc`].

#[cfg(any(feature = "axum", feature = "tonic"))]
use std::sync::Arc;

use crate::LogiUser;
#[cfg(any(feature = "axum", feature = "tonic"))]
use crate::user::Principal;

/// What a protected handler requires of the signed-in user. Written by `#[logi::protected]`.
#[derive(Clone, Copy, Debug)]
pub struct Requirement {
    /// Scopes that must all have been granted.
    pub scopes: &'static [&'static str],
    /// Scopes of which at least one must have been granted, when not empty.
    pub any_scope: &'static [&'static str],
    /// A predicate the user must pass, after the scopes.
    pub check: Option<fn(&LogiUser) -> bool>,
}

impl Requirement {
    /// A signed-in user, nothing more.
    pub const SIGNED_IN: Self = Self {
        scopes: &[],
        any_scope: &[],
        check: None,
    };

    /// Why `principal` does not meet the requirement; `None` when it does.
    #[cfg(any(feature = "axum", feature = "tonic"))]
    pub(crate) fn denial(&self, principal: &Arc<Principal>) -> Result<Option<Denial>, Invalid> {
        if !self.scopes.iter().all(|s| principal.has_scope(s)) {
            return Ok(Some(Denial::Scopes(self.scopes)));
        }
        if !self.any_scope.is_empty() && !self.any_scope.iter().any(|s| principal.has_scope(s)) {
            return Ok(Some(Denial::AnyScope(self.any_scope)));
        }
        if let Some(check) = self.check {
            let user = LogiUser::new(Arc::clone(principal)).map_err(Invalid)?;
            if !check(&user) {
                return Ok(Some(Denial::Check));
            }
        }
        Ok(None)
    }
}

/// Claims that could not be read for the requirement's predicate (never for logi's standard
/// claims, which read leniently).
#[cfg(any(feature = "axum", feature = "tonic"))]
#[derive(Debug)]
pub(crate) struct Invalid(pub(crate) serde_json::Error);

/// Why a signed-in user was refused.
#[cfg(any(feature = "axum", feature = "tonic"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Denial {
    /// Not all of these scopes were granted.
    Scopes(&'static [&'static str]),
    /// None of these scopes was granted.
    AnyScope(&'static [&'static str]),
    /// The requirement's predicate said no.
    Check,
}

#[cfg(any(feature = "axum", feature = "tonic"))]
impl Denial {
    /// The scopes to name in `WWW-Authenticate` (space separated), if any.
    pub(crate) fn scope(self) -> Option<String> {
        match self {
            Self::Scopes(scopes) | Self::AnyScope(scopes) => Some(scopes.join(" ")),
            Self::Check => None,
        }
    }

    /// One sentence for the caller.
    pub(crate) fn description(self) -> String {
        match self {
            Self::Scopes([one]) => format!("requires the scope {one}"),
            Self::Scopes(scopes) => format!("requires all of the scopes {}", scopes.join(", ")),
            Self::AnyScope(scopes) => format!("requires one of the scopes {}", scopes.join(", ")),
            Self::Check => "the signed-in user does not meet this resource's requirements".into(),
        }
    }
}

/// Implemented by the zero-sized type `#[logi::protected]` emits next to a handler.
pub trait Guard {
    /// What the handler requires.
    const REQUIREMENT: Requirement;
}

/// The predicate of `check = …`, as the [`Requirement`] holds it. A function so that a
/// predicate of the wrong type is reported at the user's path.
#[must_use]
pub const fn check(predicate: fn(&LogiUser) -> bool) -> Option<fn(&LogiUser) -> bool> {
    Some(predicate)
}

#[cfg(all(test, feature = "axum"))]
mod tests {
    use super::*;
    use crate::Secret;

    fn principal(scopes: &[&str], level: u8) -> Arc<Principal> {
        Arc::new(Principal {
            iss: "https://issuer.example".into(),
            sub: "user-0001".into(),
            claims: serde_json::json!({ "identity_verified_level": level })
                .as_object()
                .unwrap()
                .clone(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            access_token: Secret::new("at".to_owned()),
            standard_claims: std::sync::OnceLock::new(),
        })
    }

    fn verified(user: &LogiUser) -> bool {
        user.claims().identity_verified_level >= Some(2)
    }

    #[test]
    fn scopes_then_any_scope_then_the_check() {
        const R: Requirement = Requirement {
            scopes: &["orders:read", "orders:write"],
            any_scope: &["admin", "support"],
            check: check(verified),
        };
        let denial = |scopes: &[&str], level| R.denial(&principal(scopes, level)).unwrap();
        assert_eq!(
            denial(&["orders:read", "admin"], 3),
            Some(Denial::Scopes(&["orders:read", "orders:write"]))
        );
        assert_eq!(
            denial(&["orders:read", "orders:write"], 3),
            Some(Denial::AnyScope(&["admin", "support"]))
        );
        assert_eq!(
            denial(&["orders:read", "orders:write", "support"], 1),
            Some(Denial::Check)
        );
        assert_eq!(denial(&["orders:read", "orders:write", "support"], 2), None);
        assert_eq!(
            Requirement::SIGNED_IN.denial(&principal(&[], 0)).unwrap(),
            None
        );
    }

    #[test]
    fn denials_name_the_scopes() {
        assert_eq!(Denial::Scopes(&["a", "b"]).scope().as_deref(), Some("a b"));
        assert_eq!(Denial::Check.scope(), None);
        assert_eq!(Denial::Scopes(&["a"]).description(), "requires the scope a");
        assert_eq!(
            Denial::AnyScope(&["admin", "support"]).description(),
            "requires one of the scopes admin, support"
        );
    }
}
