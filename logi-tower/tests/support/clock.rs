//! The wall clock in Unix seconds, as tokens, sessions and webhook signatures carry it.
//! Std only, so that any test binary can include it (`#[path]`), the e2e suites too; it holds
//! nothing but the clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// [`unix_now`] as a signed number, for fields that take one (`t=` of a webhook signature,
/// record expiries).
pub fn unix_now_signed() -> i64 {
    unix_now().cast_signed()
}
