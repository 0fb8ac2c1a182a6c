#![cfg(feature = "testing")]
//! The in-process logi provider over real HTTP on 127.0.0.1, as a relying party sees it.
//!
//! One test binary, one module per idea; [`helpers`] holds what they share.

#[path = "../support/clock.rs"]
#[allow(dead_code, unreachable_pub)]
mod clock;

mod authorize;
mod client_auth;
mod codes;
mod discovery;
mod harness;
mod helpers;
mod refresh;
mod tokens_in_use;
