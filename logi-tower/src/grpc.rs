//! tonic support: the signed-in user of a [`tonic::Request`].
//! Surface: owns tonic's view of the user; refusals come from `reject`'s table.
//!
//! Serve the service behind [`LogiLayer`](crate::LogiLayer) (`Server::builder().layer(logi)`):
//! the layer attaches the user to each request, and tonic carries the HTTP request's extensions
//! into [`tonic::Request::extensions`]. Protect a method with `#[logi::protected]`, or read the
//! user yourself:
//!
//! ```
//! use logi::grpc::{LogiRequestExt as _, require_user};
//! use tonic::{Request, Status};
//!
//! fn greeting(request: &Request<()>) -> Result<String, Status> {
//!     let user = require_user(request)?; // `UNAUTHENTICATED` when nobody is signed in
//!     Ok(format!("hello {}", user.sub()))
//! }
//!
//! fn maybe_greeting(request: &Request<()>) -> String {
//!     match request.logi_user() {
//!         Some(user) => format!("hello {}", user.sub()),
//!         None => "hello stranger".to_owned(),
//!     }
//! }
//! ```
//!
//! Refusals are gRPC statuses: `UNAUTHENTICATED` (16) when nobody is signed in,
//! `PERMISSION_DENIED` (7) when the user lacks the scopes or fails the check of a protected
//! method, `UNAVAILABLE` (14) when the session cannot be renewed right now, and `INTERNAL` (13)
//! when the layer is missing.

use std::pin::Pin;
use std::sync::Arc;

use tonic::{Code, Request, Status};

use crate::LogiUser;
use crate::guard::Requirement;
use crate::reject::{Refusal, grpc_status};
use crate::state::Auth;
use crate::user::Principal;

/// The signed-in user of a tonic request.
pub trait LogiRequestExt: sealed::Sealed {
    /// The signed-in user; `None` when nobody is signed in or the layer is missing.
    fn logi_user(&self) -> Option<LogiUser>;
}

impl<T> LogiRequestExt for Request<T> {
    fn logi_user(&self) -> Option<LogiUser> {
        LogiUser::from_extensions(self.extensions())
    }
}

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for tonic::Request<T> {}
}

/// The signed-in user, or the status to answer with: `UNAUTHENTICATED` when nobody is signed
/// in, `UNAVAILABLE` when the session cannot be renewed right now, `INTERNAL` when
/// [`LogiLayer`](crate::LogiLayer) is missing.
///
/// # Errors
/// The [`Status`] to return from the method, as above.
pub fn require_user<T>(request: &Request<T>) -> Result<LogiUser, Status> {
    authorize(request, &Requirement::SIGNED_IN)
}

/// The check `#[logi::protected]` inserts at the top of a tonic method. Not public API.
///
/// # Errors
/// The [`Status`] to return from the method.
#[doc(hidden)]
pub fn authorize<T>(request: &Request<T>, requirement: &Requirement) -> Result<LogiUser, Status> {
    let Some(auth) = request.extensions().get::<Auth>() else {
        tracing::error!(
            "a `#[logi::protected]` gRPC method needs the logi layer: is `LogiLayer` installed (with `Server::builder().layer(logi)`) in front of this service?"
        );
        return Err(Status::internal(
            "`LogiLayer` is not installed in front of this service",
        ));
    };
    let Some(principal) = &auth.principal else {
        return Err(status(&Refusal::of(auth)));
    };
    match requirement.denial(principal) {
        Ok(None) => user(principal),
        Ok(Some(denial)) => Err(status(&Refusal::denied(denial))),
        Err(error) => {
            tracing::error!(error = %error.0, "the signed-in user's claims are unreadable");
            Err(Status::internal(
                "the signed-in user's claims are unreadable",
            ))
        }
    }
}

/// `refusal` as a [`Status`], rendered from the refusal table HTTP renders from: a refused
/// bearer token is `UNAUTHENTICATED` saying why, credentials that cannot be checked right now
/// are `UNAVAILABLE`, a denied requirement is `PERMISSION_DENIED`.
fn status(refusal: &Refusal) -> Status {
    let (code, message) = grpc_status(refusal);
    Status::new(Code::from_i32(i32::from(code)), message)
}

fn user(principal: &Arc<Principal>) -> Result<LogiUser, Status> {
    LogiUser::new(Arc::clone(principal))
        .map_err(|_| Status::internal("the signed-in user's claims are unreadable"))
}

/// A method's boxed future that answers `status` (for methods `#[tonic::async_trait]` has
/// already rewritten). Not public API.
#[doc(hidden)]
pub fn refused<'a, T: Send + 'a>(
    status: Status,
) -> Pin<Box<dyn Future<Output = Result<T, Status>> + Send + 'a>> {
    Box::pin(std::future::ready(Err(status)))
}
