//! First-login completion: the app decides, at every sign-in, whether the user goes straight
//! in or first fills in the app's own sign-up form.
//! Surface: owns the `on_sign_in` hook and pending sign-ins; the callback (`flow`) calls it and
//! sessions are written by `session`.
//!
//! The app supplies a hook with [`LogiLayerBuilder::on_sign_in`](crate::LogiLayerBuilder::on_sign_in).
//! The callback calls it once the tokens and the ID token are verified, before any session is
//! written, with the verified user ([`SignIn`]). The hook looks the user up (by issuer + `sub`,
//! then by a *verified* email) and answers:
//!
//! - [`SignInDecision::Continue`]: a user the app knows. The sign-in ends as usual.
//! - [`SignInDecision::NeedsCompletion`]: a user the app does not know yet. The session is
//!   written *pending* and the browser is sent to the app's completion form. Until the app
//!   completes it, the user is not signed in: `LogiUser` and `AccessToken` refuse,
//!   `Option<LogiUser>` is `None`, `#[logi::protected]` and `require()` refuse, and `/auth/me`
//!   answers 401 with `"pending": true`. A browser navigating to a protected page is sent to
//!   the completion form rather than to sign in again. Bearer tokens are not affected.
//!
//! The completion form takes [`PendingSignup`] (an axum extractor; on other tower stacks,
//! [`PendingSignup::from_request`]): who signed in, and [`PendingSignup::complete`], which turns
//! the session into a signed-in one (in cookies or in the session store alike) and answers a
//! redirect to where the user was going. `complete()` refuses anything but a `POST`, and
//! `PendingSignup` refuses a request that changes state before the handler runs when it is
//! cross-site or carries neither `Sec-Fetch-Site` nor `Origin`, the way `/auth/logout` does. Abandoning is signing out: a `POST` to `/auth/logout` ends a pending
//! session too.
//!
//! A pending session is never refreshed, and ends [`COMPLETION_TIMEOUT`] after the sign-in
//! unless completed (set another window with
//! [`LogiLayerBuilder::completion_window`](crate::LogiLayerBuilder::completion_window)).
//!
//! If the hook returns an error, panics or does not answer within 30 seconds, the sign-in fails
//! closed: an error page (503 for an error or no answer, 500 for a panic), no session, and the
//! new refresh token revoked.
//!
//! The layer never creates anything: no user record, no role, no grant. The hook only looks
//! up; creating the account is the completion form's job, done by the app's code after the
//! user has confirmed what the app asks for.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn run() -> Result<(), logi::ConfigError> {
//! use axum::{Router, response::{Html, IntoResponse, Response}, routing::get};
//! use logi::first_login::{PendingSignup, SignIn, SignInDecision};
//! use logi::{LogiLayer, LogiUser};
//!
//! async fn on_sign_in(user: SignIn) -> Result<SignInDecision, std::io::Error> {
//!     let known = false; // look up (user.issuer(), user.sub()) in your records here
//!     Ok(if known {
//!         SignInDecision::Continue
//!     } else {
//!         SignInDecision::needs_completion("/welcome")
//!     })
//! }
//!
//! async fn welcome(pending: PendingSignup) -> Html<String> {
//!     Html(format!(
//!         "<form method=post><p>Welcome, {:?}</p><button>Create my account</button></form>",
//!         pending.email()
//!     ))
//! }
//!
//! async fn create_account(pending: PendingSignup) -> Response {
//!     // Create the account for (pending.issuer(), pending.sub()) here, then:
//!     match pending.complete().await {
//!         Ok(completed) => completed.into_response(), // 303 to where the user was going
//!         Err(refused) => refused.into_response(),
//!     }
//! }
//!
//! async fn account(user: LogiUser) -> String {
//!     format!("signed in as {}", user.sub())
//! }
//!
//! let logi = LogiLayer::builder().with_env()?.on_sign_in(on_sign_in).build().await?;
//! let app: Router = Router::new()
//!     .route("/welcome", get(welcome).post(create_account))
//!     .route("/account", get(account))
//!     .layer(logi);
//! # Ok(()) }
//! ```

pub(crate) mod hook;
mod pending;

use std::time::Duration;

pub(crate) use hook::{HookFailure, SignInHook};
pub use hook::{SignIn, SignInDecision};
pub use pending::{Completed, CompletionError, CompletionErrorKind, PendingSignup};

/// How long a pending session waits for the app's completion by default: 30 minutes after the
/// sign-in, then it ends and the user signs in again
/// ([`LogiLayerBuilder::completion_window`](crate::LogiLayerBuilder::completion_window)).
pub const COMPLETION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::cookie::{Sealer, SessionKeys};
    use crate::session::data::{Pending, SessionData};
    use crate::session::manager::{Loaded, Sessions};

    #[test]
    fn a_pending_session_ends_with_its_completion_window() {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        let sealer = Sealer::new(&SessionKeys::new(vec![vec![7; 32]]).unwrap());
        let sessions = Sessions::new(sealer, DAY, 7 * DAY, None);
        let now = crate::clock::unix_now();
        let mut data: SessionData = serde_json::from_value(serde_json::json!({
            "iss": "https://issuer.example", "sub": "user-0001", "at": "access-token",
            "at_exp": now + 900, "created": now, "seen": now,
        }))
        .unwrap();
        let window = i64::try_from(COMPLETION_TIMEOUT.as_secs()).unwrap();
        data.pending = Some(Pending {
            path: "/welcome".into(),
            return_to: "/".into(),
            until: now + window,
        });
        let set_cookie = sessions.save_sealed(&data, 0, now).unwrap();
        let cookie = set_cookie[0].to_str().unwrap();
        assert!(
            cookie.contains(&format!("Max-Age={window}")),
            "the cookie lasts as long as the window: {cookie}"
        );
        let mut headers = http::HeaderMap::new();
        let pair = cookie.split(';').next().unwrap().to_owned();
        headers.insert(http::header::COOKIE, pair.try_into().unwrap());
        assert!(matches!(
            sessions.load_sealed(&headers, now + window - 1),
            Loaded::Valid { data, .. } if data.pending.is_some()
        ));
        assert!(matches!(
            sessions.load_sealed(&headers, now + window),
            Loaded::Unusable { chunks: 1 }
        ));
    }
}
