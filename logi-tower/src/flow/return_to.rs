//! Where the browser goes after signing in: only ever a path on this site.

/// The longest local path accepted (see [`is_safe`]).
const MAX_LEN: usize = 2048;

/// The longest return path a sign-in keeps: it travels in the transaction cookie, which must
/// stay well within the 4096 bytes a browser keeps per cookie.
const MAX_RETURN_TO: usize = 1024;

/// `candidate` when it is a same-origin path of at most [`MAX_RETURN_TO`] bytes, else `/`.
///
/// Refused: anything not starting with a single `/` (absolute URLs, scheme-relative `//evil`),
/// any backslash (`/\evil` is `//evil` to browsers), control characters and whitespace, and
/// over-long values, which are not cut (a cut path could name another page, or end in half a
/// percent-escape) but replaced by `/`.
pub(crate) fn sanitize(candidate: Option<&str>) -> &str {
    match candidate {
        Some(path) if path.len() <= MAX_RETURN_TO && is_safe(path) => path,
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

/// Whether `path` may be a completion form: a local path (as `return_to` must be) that is not
/// one of the layer's own routes.
pub(crate) fn is_completion_path(paths: &crate::RoutePaths, path: &str) -> bool {
    let route = path.split(['?', '#']).next().unwrap_or_default();
    is_safe(path)
        && ![
            &paths.login,
            &paths.callback,
            &paths.logout,
            &paths.me,
            &paths.challenge,
        ]
        .iter()
        .any(|own| own.as_ref() == route)
}

#[cfg(test)]
mod tests {
    use super::{is_completion_path, sanitize};

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
        let long = format!("/{}", "a".repeat(super::MAX_RETURN_TO));
        let longest = &long[..super::MAX_RETURN_TO];
        assert_eq!(sanitize(Some(longest)), longest);
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

    #[test]
    fn completion_paths_are_local_and_not_the_layers_own() {
        let paths = crate::RoutePaths::default();
        for ok in ["/welcome", "/signup?step=1", "/auth/welcome"] {
            assert!(is_completion_path(&paths, ok), "{ok}");
        }
        for bad in [
            "welcome",
            "//evil.example/welcome",
            "https://evil.example/",
            "/\\evil.example",
            "/auth/login",
            "/auth/login?return_to=/",
            "/auth/me",
            "",
        ] {
            assert!(!is_completion_path(&paths, bad), "{bad}");
        }
    }
}
