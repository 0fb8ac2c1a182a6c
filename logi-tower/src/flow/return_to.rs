//! Where the browser goes after signing in: only ever a path on this site.

/// The longest return path we keep.
const MAX_LEN: usize = 2048;

/// `candidate` when it is a same-origin path, else `/`.
///
/// Refused: anything not starting with a single `/` (absolute URLs, scheme-relative `//evil`),
/// any backslash (`/\evil` is `//evil` to browsers), control characters and whitespace, and
/// over-long values.
pub(crate) fn sanitize(candidate: Option<&str>) -> &str {
    match candidate {
        Some(path) if is_safe(path) => path,
        _ => "/",
    }
}

/// Whether `path` is a same-origin path (see [`sanitize`]).
pub(crate) fn is_safe(path: &str) -> bool {
    path.len() <= MAX_LEN
        && path.starts_with('/')
        && !path.starts_with("//")
        && !path
            .bytes()
            .any(|b| b == b'\\' || b.is_ascii_control() || b == b' ')
        && !path.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn keeps_same_origin_paths() {
        for ok in [
            "/",
            "/dashboard",
            "/orders/7?tab=a&b=c",
            "/a#frag",
            "/caf%C3%A9",
        ] {
            assert_eq!(sanitize(Some(ok)), ok);
        }
    }

    #[test]
    fn refuses_everything_else() {
        let long = format!("/{}", "a".repeat(3000));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ok\r\nSet-Cookie: x=y",
            "/\u{a0}/evil",
            "",
            long.as_str(),
        ] {
            assert_eq!(sanitize(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(sanitize(None), "/");
    }
}
