//! The app's `on_sign_in` hook: what it is given, what it answers, and how the layer runs it.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::Poll;

use serde_json::{Map, Value};

use crate::Secret;
use crate::claims;
use crate::future::BoxFuture;

/// A verified sign-in, handed to the app's [`on_sign_in`](crate::LogiLayerBuilder::on_sign_in)
/// hook before any session is written.
///
/// The ID token has been verified (signature, issuer, audience, nonce, `at_hash`) and the
/// identity claims come from it or from userinfo. Look the user up in your own records by
/// [`issuer`](Self::issuer) + [`sub`](Self::sub) first; an email address identifies a user only
/// when [`email_verified`](Self::email_verified) is `true`.
///
/// The tokens are reachable through [`access_token`](Self::access_token) and
/// [`id_token`](Self::id_token) (to call an API on the user's behalf during the lookup); `Debug`
/// never shows them. The refresh token stays with the layer: spending it elsewhere would break
/// the session's refresh.
pub struct SignIn {
    iss: String,
    sub: String,
    claims: Map<String, Value>,
    scopes: Vec<String>,
    access_token: Secret,
    id_token: Secret,
}

impl SignIn {
    pub(crate) fn new(
        iss: String,
        sub: String,
        claims: Map<String, Value>,
        scope: &str,
        access_token: Secret,
        id_token: Secret,
    ) -> Self {
        Self {
            iss,
            sub,
            claims,
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
            access_token,
            id_token,
        }
    }

    /// The issuer that vouches for the user (`iss`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// The user's identifier at this client (`sub`): with [`issuer`](Self::issuer), the key of
    /// your user records.
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// `email`, when the `email` scope was granted. Match it against your records only when
    /// [`email_verified`](Self::email_verified).
    #[must_use]
    pub fn email(&self) -> Option<&str> {
        claims::str_claim(&self.claims, "email")
    }

    /// `email_verified`; `false` when absent.
    #[must_use]
    pub fn email_verified(&self) -> bool {
        claims::email_verified(&self.claims)
    }

    /// A display name: `name`, else logi's `full_name`, else `preferred_name`.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        claims::display_name(&self.claims)
    }

    /// The identity claims (`email`, `name`, `identity_verified_level`, …), without the
    /// protocol's (`iss`, `aud`, `nonce`, …).
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// One identity claim as JSON.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// The scopes granted to this sign-in.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The access token, to call an API on the user's behalf. Never log it.
    #[must_use]
    pub fn access_token(&self) -> &str {
        self.access_token.expose()
    }

    /// The verified ID token, as the provider sent it. Never log it.
    #[must_use]
    pub fn id_token(&self) -> &str {
        self.id_token.expose()
    }
}

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("issuer", &self.iss)
            .field("sub", &self.sub)
            .field("email", &self.email())
            .field("email_verified", &self.email_verified())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// What the app's [`on_sign_in`](crate::LogiLayerBuilder::on_sign_in) hook answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInDecision {
    /// A user the app knows: sign in as usual.
    Continue,
    /// A user the app does not know yet: the session is kept pending and the browser is sent
    /// to `path`, the app's own completion form (a handler taking
    /// [`PendingSignup`](crate::first_login::PendingSignup)). `path` must be a path on this site
    /// (`/welcome`, `/signup?step=1`), and not one of the layer's own routes; anything else
    /// fails the sign-in.
    NeedsCompletion {
        /// The completion form's path.
        path: String,
    },
}

impl SignInDecision {
    /// [`NeedsCompletion`](Self::NeedsCompletion) at `path`.
    ///
    /// ```
    /// use logi::first_login::SignInDecision;
    ///
    /// let decision = SignInDecision::needs_completion("/welcome");
    /// assert_eq!(decision, SignInDecision::NeedsCompletion { path: "/welcome".into() });
    /// ```
    pub fn needs_completion(path: impl Into<String>) -> Self {
        Self::NeedsCompletion { path: path.into() }
    }
}

/// An error the app's hook returned.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

type HookFn = dyn Fn(SignIn) -> BoxFuture<Result<SignInDecision, BoxError>> + Send + Sync;

/// The app's hook, type-erased.
#[derive(Clone)]
pub(crate) struct SignInHook(Arc<HookFn>);

impl fmt::Debug for SignInHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignInHook")
    }
}

/// How long the sign-in waits for the app's hook before failing closed (503, no session).
pub(crate) const HOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why the hook gave no decision.
#[derive(Debug)]
pub(crate) enum HookFailure {
    /// It returned an error.
    Failed(BoxError),
    /// It panicked.
    Panicked,
}

impl SignInHook {
    pub(crate) fn new<F, Fut, E>(hook: F) -> Self
    where
        F: Fn(SignIn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<SignInDecision, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Self(Arc::new(move |sign_in| {
            let future = hook(sign_in);
            Box::pin(async move { future.await.map_err(Into::into) })
        }))
    }

    /// Runs the hook; a panic, when calling it or while it runs, is a failure like an error,
    /// and so is a hook that has not answered within [`HOOK_TIMEOUT`] (a lookup that hangs).
    pub(crate) async fn run(&self, sign_in: SignIn) -> Result<SignInDecision, HookFailure> {
        let mut future = catch_unwind(AssertUnwindSafe(|| (self.0)(sign_in)))
            .map_err(|_| HookFailure::Panicked)?;
        let outcome = std::future::poll_fn(|cx| {
            match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(outcome)) => Poll::Ready(outcome.map_err(HookFailure::Failed)),
                Err(_) => Poll::Ready(Err(HookFailure::Panicked)),
            }
        });
        tokio::time::timeout(HOOK_TIMEOUT, outcome)
            .await
            .unwrap_or_else(|_| {
                Err(HookFailure::Failed(
                    "the sign-in hook did not answer in time".into(),
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in() -> SignIn {
        let claims = serde_json::json!({
            "email": "ada@example.com", "email_verified": true, "full_name": "Ada Lovelace",
        });
        SignIn::new(
            "https://issuer.example".into(),
            "user-0001".into(),
            claims.as_object().unwrap().clone(),
            "openid email",
            Secret::new("access-token-value"),
            Secret::new("id-token-value"),
        )
    }

    #[test]
    fn debug_shows_the_user_never_the_tokens() {
        let s = sign_in();
        let debug = format!("{s:?}");
        assert!(debug.contains("user-0001") && debug.contains("ada@example.com"));
        assert!(!debug.contains("access-token-value") && !debug.contains("id-token-value"));
        assert_eq!(
            (s.name(), s.email_verified(), s.scopes()),
            (
                Some("Ada Lovelace"),
                true,
                &["openid".to_owned(), "email".into()][..]
            )
        );
        assert_eq!(
            (s.access_token(), s.id_token()),
            ("access-token-value", "id-token-value")
        );
    }

    #[tokio::test]
    async fn errors_and_panics_are_failures() {
        let ok = SignInHook::new(|s: SignIn| async move {
            Ok::<_, std::io::Error>(if s.email_verified() {
                SignInDecision::Continue
            } else {
                SignInDecision::needs_completion("/welcome")
            })
        });
        assert_eq!(ok.run(sign_in()).await.unwrap(), SignInDecision::Continue);

        let failing = SignInHook::new(|_| async { Err::<SignInDecision, _>("database down") });
        match failing.run(sign_in()).await {
            Err(HookFailure::Failed(error)) => assert_eq!(error.to_string(), "database down"),
            other => panic!("{other:?}"),
        }

        #[allow(clippy::unused_async, reason = "the panic must happen while polled")]
        async fn panics(_: SignIn) -> Result<SignInDecision, BoxError> {
            panic!("the hook panics while it runs")
        }
        let panicking = SignInHook::new(panics);
        assert!(matches!(
            panicking.run(sign_in()).await,
            Err(HookFailure::Panicked)
        ));
        let panics_when_called = SignInHook::new(
            |_: SignIn| -> std::future::Ready<Result<SignInDecision, BoxError>> {
                panic!("the hook panics when called")
            },
        );
        assert!(matches!(
            panics_when_called.run(sign_in()).await,
            Err(HookFailure::Panicked)
        ));
    }

    #[tokio::test]
    async fn a_hook_that_hangs_fails_after_the_timeout() {
        let hangs =
            SignInHook::new(|_: SignIn| std::future::pending::<Result<SignInDecision, BoxError>>());
        let started = tokio::time::Instant::now();
        let run = hangs.run(sign_in());
        tokio::pin!(run);
        // Not before the timeout...
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), &mut run)
                .await
                .is_err()
        );
        tokio::time::pause();
        tokio::time::advance(HOOK_TIMEOUT).await;
        let outcome = tokio::time::timeout(HOOK_TIMEOUT, run)
            .await
            .expect("the hook's own timeout answered first");
        match outcome {
            Err(HookFailure::Failed(error)) => {
                assert_eq!(error.to_string(), "the sign-in hook did not answer in time");
            }
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() >= HOOK_TIMEOUT);
    }
}
