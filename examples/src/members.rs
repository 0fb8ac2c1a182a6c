//! The webhooks example's members: people who sign in with logi, and join on their first
//! sign-in through a short form of the app's own.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | public; greets a member, or offers to sign in |
//! | `GET /welcome` | the first-login form: a display name, and the terms to accept |
//! | `POST /welcome` | joins: adds the member, then completes the sign-in (303 to where the user was going) |
//! | `GET /account` | members only: who they are here |
//!
//! The [`Directory`] keeps members in memory, keyed by (issuer, `sub`). At each sign-in the
//! layer calls [`on_sign_in`]: a member found by (issuer, `sub`), or by a *verified* email
//! address, goes straight in; anyone else is sent to `/welcome` and is not signed in until the
//! form is sent. Nothing is created before that: the hook only looks up. A `user.deleted`
//! webhook removes the member ([`Directory::remove_sub`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use logi::first_login::{PendingSignup, SignIn, SignInDecision};
use logi::{LogiLayerBuilder, LogiUser};
use serde::Deserialize;

use crate::{SIGN_OUT_FORM, escape, page};

/// The first-login form's path.
pub const WELCOME: &str = "/welcome";

/// The longest display name accepted, in characters.
const MAX_NAME: usize = 60;

/// Someone who joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The name they chose on the form.
    pub display_name: String,
    /// Their email address, kept only when logi had verified it.
    pub verified_email: Option<String>,
}

/// The app's members, in memory, keyed by (issuer, `sub`). Cheap to clone: clones share it.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    members: Arc<Mutex<HashMap<(String, String), Member>>>,
}

impl Directory {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The member signed in as `sub` at `issuer`.
    #[must_use]
    pub fn get(&self, issuer: &str, sub: &str) -> Option<Member> {
        self.lock()
            .get(&(issuer.to_owned(), sub.to_owned()))
            .cloned()
    }

    /// Adds (or replaces) the member signed in as `sub` at `issuer`.
    pub fn insert(&self, issuer: &str, sub: &str, member: Member) {
        self.lock()
            .insert((issuer.to_owned(), sub.to_owned()), member);
    }

    /// Removes every member signed in as `sub` (a `user.deleted` webhook names the user by
    /// `sub` alone; this app trusts one issuer); how many were removed.
    pub fn remove_sub(&self, sub: &str) -> usize {
        let mut members = self.lock();
        let before = members.len();
        members.retain(|(_, member_sub), _| member_sub != sub);
        before - members.len()
    }

    /// How many sign-ins are known (a member found by email counts once more).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nobody joined.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The member this sign-in belongs to: by (issuer, `sub`), else by an email address logi
    /// verified, at the same issuer, which then links this `sub` to that member. An
    /// unverified address proves nothing and finds nobody.
    #[must_use]
    pub fn find(&self, user: &SignIn) -> Option<Member> {
        if let Some(member) = self.get(user.issuer(), user.sub()) {
            return Some(member);
        }
        let email = user.email().filter(|_| user.email_verified())?;
        let mut members = self.lock();
        let member = members
            .iter()
            .find(|((issuer, _), member)| {
                issuer == user.issuer() && member.verified_email.as_deref() == Some(email)
            })
            .map(|(_, member)| member.clone())?;
        members.insert(
            (user.issuer().to_owned(), user.sub().to_owned()),
            member.clone(),
        );
        Some(member)
    }
}

/// The layer's `on_sign_in` hook: members go straight in, anyone else to [`WELCOME`].
///
/// # Errors
/// Never: the directory is in memory (a database lookup would return its error here, and the
/// sign-in would fail closed).
pub async fn on_sign_in(directory: Directory, user: SignIn) -> Result<SignInDecision, Infallible> {
    Ok(match directory.find(&user) {
        Some(_) => SignInDecision::Continue,
        None => SignInDecision::needs_completion(WELCOME),
    })
}

/// `builder` with [`on_sign_in`] over `directory`.
pub fn with_first_login(builder: LogiLayerBuilder, directory: &Directory) -> LogiLayerBuilder {
    let directory = directory.clone();
    builder.on_sign_in(move |user| on_sign_in(directory.clone(), user))
}

/// The members' routes; put them behind the layer that [`with_first_login`] configured.
pub fn routes(directory: Directory) -> Router {
    Router::new()
        .route("/", get(home))
        .route(WELCOME, get(welcome).post(join))
        .route("/account", get(account))
        .with_state(directory)
}

async fn home(State(directory): State<Directory>, user: Option<LogiUser>) -> Html<String> {
    let body = match user {
        Some(user) => {
            let name = directory
                .get(user.issuer(), user.sub())
                .map_or_else(|| user.sub().to_owned(), |m| m.display_name);
            format!(
                "<p>Welcome back, {}. <a href=\"/account\">Your account</a></p>{SIGN_OUT_FORM}",
                escape(&name)
            )
        }
        None => format!(
            "<p>{}</p>",
            logi::button::SignInButton::new()
                .return_to("/account")
                .id("sign-in")
                .class("button")
        ),
    };
    page("logi members", &body)
}

/// The first-login form, for a sign-in waiting for it.
async fn welcome(pending: PendingSignup) -> Html<String> {
    welcome_page(&pending, pending.name().unwrap_or_default(), None)
}

fn welcome_page(pending: &PendingSignup, name: &str, problem: Option<&str>) -> Html<String> {
    let email = match (pending.email(), pending.email_verified()) {
        (Some(email), true) => escape(email),
        (Some(email), false) => format!("{} (not verified)", escape(email)),
        (None, _) => "-".to_owned(),
    };
    let problem = problem.map_or_else(String::new, |p| {
        format!("<p id=\"problem\" role=\"alert\">{}</p>", escape(p))
    });
    let body = format!(
        "<p>Signed in with logi as <code id=\"sub\">{sub}</code>, email <span id=\"email\">{email}</span>. \
         One more step to join.</p>{problem}\
         <form method=\"post\" action=\"{WELCOME}\">\
         <p><label>Display name <input name=\"display_name\" value=\"{name}\" maxlength=\"{MAX_NAME}\" required></label></p>\
         <p><label><input type=\"checkbox\" name=\"terms\" value=\"accepted\" required> I accept the terms</label></p>\
         <p><button type=\"submit\" id=\"join\">Join</button></p></form>\
         <p>Not now? {SIGN_OUT_FORM}</p>",
        sub = escape(pending.sub()),
        name = escape(name),
    );
    page("Welcome", &body)
}

/// What the first-login form sends.
#[derive(Debug, Deserialize)]
struct Joining {
    display_name: String,
    terms: Option<String>,
}

/// Adds the member, then completes the sign-in: a 303 to where the user was going. A form
/// that is not filled in properly is shown again (422). `PendingSignup` has refused a
/// cross-site post before this runs.
async fn join(
    State(directory): State<Directory>,
    pending: PendingSignup,
    Form(form): Form<Joining>,
) -> Response {
    let name = form.display_name.trim();
    let problem = if name.is_empty() || name.chars().count() > MAX_NAME {
        Some("Choose a display name of 1 to 60 characters.")
    } else if form.terms.as_deref() != Some("accepted") {
        Some("Accept the terms to join.")
    } else {
        None
    };
    if let Some(problem) = problem {
        let page = welcome_page(&pending, name, Some(problem));
        return (StatusCode::UNPROCESSABLE_ENTITY, page).into_response();
    }
    let member = Member {
        display_name: name.to_owned(),
        verified_email: pending
            .email()
            .filter(|_| pending.email_verified())
            .map(str::to_owned),
    };
    directory.insert(pending.issuer(), pending.sub(), member);
    tracing::info!(sub = pending.sub(), "a new member joined");
    pending.complete().await.into_response()
}

/// Members only. A member whose logi account was deleted (a `user.deleted` webhook) is told
/// so, with a way out (410).
#[logi::protected]
async fn account(State(directory): State<Directory>, user: LogiUser) -> Response {
    match directory.get(user.issuer(), user.sub()) {
        Some(member) => page(
            "Your account",
            &format!(
                "<dl><dt>display name</dt><dd id=\"name\">{}</dd>\
                 <dt>email</dt><dd id=\"email\">{}</dd>\
                 <dt>sub</dt><dd><code id=\"sub\">{}</code></dd></dl>{SIGN_OUT_FORM}",
                escape(&member.display_name),
                escape(member.verified_email.as_deref().unwrap_or("-")),
                escape(user.sub()),
            ),
        )
        .into_response(),
        None => (
            StatusCode::GONE,
            page(
                "Account deleted",
                &format!("<p>This account no longer exists here.</p>{SIGN_OUT_FORM}"),
            ),
        )
            .into_response(),
    }
}
