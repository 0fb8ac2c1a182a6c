//! Wall-clock time as the crate reads it: seconds and milliseconds since the Unix epoch.
//! Bottom level: imports nothing from the crate; holds no state and knows no request.

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().cast_signed())
}

/// Milliseconds since the Unix epoch: orders a sign-in against a sign-out in the same second.
pub(crate) fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
