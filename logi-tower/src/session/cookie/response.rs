//! Writing cookies: `Set-Cookie` values, split into chunks when a value is too large for one.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::time::Duration;

use http::HeaderValue;

use super::{
    COUNT_PREFIX_LEN, MAX_CHUNK_LEN, MAX_CHUNKS, MAX_VALUE_LEN, chunk_name, looks_counted,
};

/// Longest cookie name: with `.N`, `=` and a full chunk it stays within a browser's 4096 bytes.
const MAX_NAME_LEN: usize = 4096 - MAX_CHUNK_LEN - ".N=".len();

/// The `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SameSite {
    /// Sent only with requests from the site itself.
    #[allow(
        dead_code,
        reason = "the full set of SameSite values; only tests write Strict today"
    )]
    Strict,
    /// Also sent on top-level navigations from other sites: what a sign-in redirect needs.
    Lax,
    /// Sent with every request; browsers require `Secure` with it.
    None,
}

impl SameSite {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// The attributes written with a cookie. The default, `Path=/; Secure; HttpOnly; SameSite=Lax`
/// with no `Max-Age` (a browser-session cookie) and no `Domain`, suits a `__Host-` cookie.
///
/// Check them once with [`CookieAttributes::check`] when the layer is built: writing a cookie
/// with attributes that fail the check panics in debug builds.
#[derive(Clone, Debug)]
pub(crate) struct CookieAttributes {
    pub(crate) path: Cow<'static, str>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) max_age: Option<Duration>,
    pub(crate) domain: Option<String>,
}

impl Default for CookieAttributes {
    fn default() -> Self {
        Self {
            path: Cow::Borrowed("/"),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: None,
            domain: None,
        }
    }
}

impl CookieAttributes {
    /// Whether a cookie called `name` with these attributes is well formed and would be kept by
    /// browsers: `name` is a token of at most 293 bytes; `Path` starts with `/` and, like
    /// `Domain`, holds no `;` or control character; a `__Host-` name has `Secure`, `Path=/` and
    /// no `Domain`; a `__Secure-` name, and `SameSite=None`, have `Secure`.
    pub(crate) fn check(&self, name: &str) -> Result<(), CookieError> {
        if !is_cookie_name(name) {
            return Err(CookieError::InvalidName);
        }
        let rule = |ok: bool, rule: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(CookieError::Attributes(rule))
            }
        };
        rule(
            self.path.starts_with('/') && is_attribute_value(&self.path),
            "Path must start with `/` and hold no `;` or control character",
        )?;
        rule(
            self.domain
                .as_deref()
                .is_none_or(|d| !d.is_empty() && is_attribute_value(d)),
            "Domain must be non-empty and hold no `;` or control character",
        )?;
        if has_prefix(name, "__Host-") {
            rule(self.secure, "a `__Host-` cookie needs Secure")?;
            rule(self.path == "/", "a `__Host-` cookie needs Path=/")?;
            rule(
                self.domain.is_none(),
                "a `__Host-` cookie cannot have a Domain",
            )?;
        }
        if has_prefix(name, "__Secure-") {
            rule(self.secure, "a `__Secure-` cookie needs Secure")?;
        }
        if self.same_site == SameSite::None {
            rule(self.secure, "SameSite=None needs Secure")?;
        }
        Ok(())
    }
}

/// A cookie could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CookieError {
    /// The value is longer than [`MAX_VALUE_LEN`] bytes, even split into [`MAX_CHUNKS`] cookies.
    TooLarge {
        /// The value's length.
        len: usize,
    },
    /// The value holds a byte that a cookie value cannot (space, `"`, `,`, `;`, `\`, a control
    /// character or non-ASCII).
    InvalidValue,
    /// The name is not an HTTP token, or is longer than 293 bytes.
    InvalidName,
    /// The attributes break a rule that browsers enforce.
    Attributes(&'static str),
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len } => write!(
                f,
                "cookie value of {len} bytes is over the {MAX_VALUE_LEN}-byte limit \
                 ({MAX_CHUNKS} cookies of {MAX_CHUNK_LEN} bytes)"
            ),
            Self::InvalidValue => f.write_str("cookie value holds a character cookies cannot"),
            Self::InvalidName => f.write_str("cookie name is not a valid cookie name"),
            Self::Attributes(rule) => write!(f, "invalid cookie attributes: {rule}"),
        }
    }
}

impl std::error::Error for CookieError {}

/// The `Set-Cookie` value that stores `value` under `name`, as it is: for a value that may pass
/// [`MAX_CHUNK_LEN`], such as a sealed session, use [`write_chunked`].
///
/// # Panics
///
/// If `name` is not a valid cookie name or `value` not a valid cookie value (the callers pass
/// constant names and sealed, base64url values), or, in debug builds, if the attributes fail
/// [`CookieAttributes::check`].
pub(crate) fn set_cookie(name: &str, value: &str, attrs: &CookieAttributes) -> HeaderValue {
    assert!(is_cookie_value(value), "invalid cookie value for `{name}`");
    render(name, 0, None, value, attrs, false)
}

/// The `Set-Cookie` values that store `value` under `name`: one cookie when it fits
/// [`MAX_CHUNK_LEN`], else chunks `name`, `name.1`, … (see the [module docs](super)). Then
/// removals of the chunks `previous_chunks` (from [`RequestCookies::chunk_count`]) had beyond the
/// new count, so no stale chunk outlives the write.
///
/// [`RequestCookies::chunk_count`]: super::RequestCookies::chunk_count
///
/// # Errors
///
/// When `value` is longer than [`MAX_VALUE_LEN`] or is not a valid cookie value, or `name` is
/// not a valid cookie name. Nothing is written then: the caller decides what to keep.
///
/// # Panics
///
/// In debug builds, if the attributes fail [`CookieAttributes::check`].
pub(crate) fn write_chunked(
    name: &str,
    value: &str,
    attrs: &CookieAttributes,
    previous_chunks: usize,
) -> Result<Vec<HeaderValue>, CookieError> {
    if !is_cookie_name(name) {
        return Err(CookieError::InvalidName);
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(CookieError::TooLarge { len: value.len() });
    }
    if !is_cookie_value(value) {
        return Err(CookieError::InvalidValue);
    }
    let whole = value.len() <= MAX_CHUNK_LEN && !looks_counted(value);
    let count = if whole {
        1
    } else {
        (value.len() + COUNT_PREFIX_LEN).div_ceil(MAX_CHUNK_LEN)
    };
    debug_assert!((1..=MAX_CHUNKS).contains(&count));
    let previous_chunks = previous_chunks.min(MAX_CHUNKS);
    let mut headers = Vec::with_capacity(count.max(previous_chunks));

    if whole {
        headers.push(render(name, 0, None, value, attrs, false));
    } else {
        // Greedy: full chunks, the first shortened by the count prefix, the last what remains.
        // The value is ASCII, so every byte index is a char boundary.
        let (first, mut rest) = value.split_at(value.len().min(MAX_CHUNK_LEN - COUNT_PREFIX_LEN));
        headers.push(render(name, 0, Some(count), first, attrs, false));
        for index in 1..count {
            let (chunk, tail) = rest.split_at(rest.len().min(MAX_CHUNK_LEN));
            headers.push(render(name, index, None, chunk, attrs, false));
            rest = tail;
        }
        debug_assert!(rest.is_empty());
    }
    for index in count..previous_chunks {
        headers.push(render(name, index, None, "", attrs, true));
    }
    Ok(headers)
}

/// The `Set-Cookie` values that remove `name` and its chunks `1..chunks` (at least `name` itself,
/// at most [`MAX_CHUNKS`] cookies). They keep `Path`, `Domain` and `Secure`, without which a
/// browser would not match, and so not remove, the cookie.
///
/// # Panics
///
/// If `name` is not a valid cookie name, or, in debug builds, if the attributes fail
/// [`CookieAttributes::check`].
pub(crate) fn delete_chunked(
    name: &str,
    attrs: &CookieAttributes,
    chunks: usize,
) -> Vec<HeaderValue> {
    (0..chunks.clamp(1, MAX_CHUNKS))
        .map(|index| render(name, index, None, "", attrs, true))
        .collect()
}

/// One `Set-Cookie` value: chunk `index` of `name`, with the count prefix if given, or its
/// removal. Marked sensitive, so it is kept out of HTTP/2 header compression tables and `Debug`.
fn render(
    name: &str,
    index: usize,
    count: Option<usize>,
    value: &str,
    attrs: &CookieAttributes,
    removal: bool,
) -> HeaderValue {
    assert!(is_cookie_name(name), "invalid cookie name");
    debug_assert_eq!(attrs.check(name), Ok(()), "cookie attributes for `{name}`");
    debug_assert!(is_cookie_value(value) && index < MAX_CHUNKS);

    let mut line = String::with_capacity(name.len() + value.len() + 128);
    let _ = write!(line, "{}=", chunk_name(name, index));
    if let Some(count) = count {
        let _ = write!(line, "{count}~");
    }
    line.push_str(value);
    line.push_str("; Path=");
    line.push_str(&attrs.path);
    if let Some(domain) = &attrs.domain {
        line.push_str("; Domain=");
        line.push_str(domain);
    }
    if removal {
        line.push_str("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    } else if let Some(max_age) = attrs.max_age {
        // Rounded up: a part of a second must not become `Max-Age=0`, a removal.
        let seconds = max_age.as_secs() + u64::from(max_age.subsec_nanos() > 0);
        let _ = write!(line, "; Max-Age={seconds}");
    }
    if attrs.secure {
        line.push_str("; Secure");
    }
    if attrs.http_only {
        line.push_str("; HttpOnly");
    }
    line.push_str("; SameSite=");
    line.push_str(attrs.same_site.as_str());

    let mut header =
        HeaderValue::try_from(line).expect("cookie name, value and attributes are header-safe");
    header.set_sensitive(true);
    header
}

/// Whether `prefix` starts `name`, ignoring ASCII case as browsers do.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// An HTTP token (RFC 9110 `tchar`s) of at most [`MAX_NAME_LEN`] bytes.
fn is_cookie_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 6265 `cookie-octet`s: visible ASCII but `"`, `,`, `;` and `\`.
fn is_cookie_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
}

/// A `Path` or `Domain` value: visible ASCII or space, but `;`.
fn is_attribute_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b';')
}

#[cfg(test)]
mod tests {
    use super::super::RequestCookies;
    use super::super::browser::Browser;
    use super::*;
    use proptest::prelude::*;

    const NAME: &str = "__Host-logi.session";

    fn text(headers: &[HeaderValue]) -> Vec<&str> {
        headers.iter().map(|h| h.to_str().unwrap()).collect()
    }

    /// A value of `len` cookie-safe characters that differ by position, so a misplaced chunk shows.
    fn value(len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..len)
            .map(|i| char::from(ALPHABET[(i * 7 + i / 64) % 64]))
            .collect()
    }

    fn write(browser: &mut Browser, name: &str, value: &str, attrs: &CookieAttributes) -> usize {
        let previous = RequestCookies::parse(&browser.request()).chunk_count(name);
        let headers = write_chunked(name, value, attrs, previous).unwrap();
        browser.apply(&headers);
        headers.len()
    }

    fn read(browser: &Browser, name: &str) -> Option<String> {
        let request = browser.request();
        RequestCookies::parse(&request)
            .get_chunked(name)
            .map(|v| v.into_owned())
    }

    #[test]
    fn set_cookie_default_attributes() {
        let header = set_cookie(NAME, "abc", &CookieAttributes::default());
        assert_eq!(
            header.to_str().unwrap(),
            "__Host-logi.session=abc; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert!(header.is_sensitive());
    }

    #[test]
    fn set_cookie_every_attribute() {
        let attrs = CookieAttributes {
            path: Cow::Borrowed("/app"),
            secure: false,
            http_only: false,
            same_site: SameSite::Strict,
            max_age: Some(Duration::from_millis(3_600_001)),
            domain: Some("example.com".to_owned()),
        };
        let header = set_cookie("logi.tx", "v", &attrs);
        assert_eq!(
            header.to_str().unwrap(),
            "logi.tx=v; Path=/app; Domain=example.com; Max-Age=3601; SameSite=Strict"
        );
        let attrs = CookieAttributes {
            max_age: Some(Duration::from_secs(600)),
            same_site: SameSite::None,
            ..CookieAttributes::default()
        };
        assert_eq!(
            set_cookie(NAME, "v", &attrs).to_str().unwrap(),
            "__Host-logi.session=v; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=None"
        );
        let attrs = CookieAttributes {
            max_age: Some(Duration::from_nanos(1)),
            ..CookieAttributes::default()
        };
        assert!(
            set_cookie(NAME, "v", &attrs)
                .to_str()
                .unwrap()
                .contains("; Max-Age=1;")
        );
    }

    #[test]
    #[should_panic(expected = "invalid cookie value")]
    fn set_cookie_refuses_attribute_injection() {
        let _ = set_cookie(NAME, "x; Domain=evil.example", &CookieAttributes::default());
    }

    #[test]
    fn small_values_are_one_cookie() {
        let attrs = CookieAttributes::default();
        let headers = write_chunked(NAME, "abc", &attrs, 0).unwrap();
        assert_eq!(
            text(&headers),
            [set_cookie(NAME, "abc", &attrs).to_str().unwrap()]
        );
        assert!(headers.iter().all(HeaderValue::is_sensitive));
    }

    #[test]
    fn chunked_round_trip_around_the_boundaries() {
        let attrs = CookieAttributes::default();
        let c = MAX_CHUNK_LEN;
        let first = c - COUNT_PREFIX_LEN;
        let sizes = [
            (0, 1),
            (1, 1),
            (c - 1, 1),
            (c, 1),
            (c + 1, 2),
            (first + c - 1, 2),
            (first + c, 2),
            (first + c + 1, 3),
            (first + 2 * c, 3),
            (first + 6 * c, 7),
            (first + 6 * c + 1, 8),
            (MAX_VALUE_LEN - 1, 8),
            (MAX_VALUE_LEN, 8),
        ];
        for (len, chunks) in sizes {
            let value = value(len);
            let headers = write_chunked(NAME, &value, &attrs, 0).unwrap();
            assert_eq!(headers.len(), chunks, "{len} bytes");
            for header in &headers {
                let line = header.to_str().unwrap();
                let (cookie, _) = line.split_once("; ").unwrap();
                let (name, value) = cookie.split_once('=').unwrap();
                assert!(
                    value.len() <= MAX_CHUNK_LEN,
                    "{len}: chunk of {}",
                    value.len()
                );
                assert!(name.len() + value.len() <= 4096);
                assert!(
                    line.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax"),
                    "{line}"
                );
            }
            let mut browser = Browser::default();
            browser.apply(&headers);
            assert_eq!(
                read(&browser, NAME).as_deref(),
                Some(&*value),
                "{len} bytes"
            );
            let expected: Vec<String> = (0..chunks)
                .map(|i| chunk_name(NAME, i).to_string())
                .collect();
            assert_eq!(browser.names(), expected);
        }
    }

    #[test]
    fn too_large_is_refused() {
        let attrs = CookieAttributes::default();
        let error = write_chunked(NAME, &value(MAX_VALUE_LEN + 1), &attrs, 3).unwrap_err();
        assert_eq!(
            error,
            CookieError::TooLarge {
                len: MAX_VALUE_LEN + 1
            }
        );
        assert!(error.to_string().contains("30398"), "{error}");
    }

    #[test]
    fn invalid_values_and_names_are_refused() {
        let attrs = CookieAttributes::default();
        for bad in [
            "a b",
            "a;b",
            "a,b",
            "a\"b",
            "a\\b",
            "a\tb",
            "caf\u{e9}",
            "a\u{7f}",
        ] {
            assert_eq!(
                write_chunked(NAME, bad, &attrs, 0),
                Err(CookieError::InvalidValue),
                "{bad:?}"
            );
        }
        let long = "n".repeat(MAX_NAME_LEN + 1);
        for bad in ["", "a b", "a=b", "a;b", "a,b", "\u{e9}", long.as_str()] {
            let attrs = CookieAttributes {
                secure: true,
                ..CookieAttributes::default()
            };
            assert_eq!(
                write_chunked(bad, "v", &attrs, 0),
                Err(CookieError::InvalidName),
                "{bad:?}"
            );
        }
        let longest = "n".repeat(MAX_NAME_LEN);
        let headers = write_chunked(&longest, &value(MAX_VALUE_LEN), &attrs, 0).unwrap();
        let mut browser = Browser::default();
        browser.apply(&headers);
        assert_eq!(
            browser.cookies.len(),
            MAX_CHUNKS,
            "every chunk fits in 4096 bytes"
        );
    }

    #[test]
    fn values_that_look_counted_read_back() {
        let attrs = CookieAttributes::default();
        for raw in ["3~abc", "1~", "0~x", "12~x", "9~"] {
            let headers = write_chunked(NAME, raw, &attrs, 0).unwrap();
            assert_eq!(
                text(&headers)[0].split_once("; ").unwrap().0,
                format!("{NAME}=1~{raw}")
            );
            let mut browser = Browser::default();
            browser.apply(&headers);
            assert_eq!(read(&browser, NAME).as_deref(), Some(raw));
        }
        // Long enough that the `1~` tips it over one chunk.
        let long = format!("5~{}", value(MAX_CHUNK_LEN - 3));
        let mut browser = Browser::default();
        assert_eq!(write(&mut browser, NAME, &long, &attrs), 2);
        assert_eq!(read(&browser, NAME).as_deref(), Some(&*long));
    }

    #[test]
    fn rewrites_delete_stale_chunks_with_matching_attributes() {
        let attrs = CookieAttributes {
            path: Cow::Borrowed("/app"),
            domain: Some("example.com".to_owned()),
            max_age: Some(Duration::from_secs(3600)),
            same_site: SameSite::Strict,
            ..CookieAttributes::default()
        };
        let name = "logi.session";
        let mut browser = Browser::default();
        let big = value(4 * MAX_CHUNK_LEN);
        assert_eq!(write(&mut browser, name, &big, &attrs), 5);
        assert_eq!(browser.cookies.len(), 5);

        let previous = RequestCookies::parse(&browser.request()).chunk_count(name);
        assert_eq!(previous, 5);
        let headers = write_chunked(name, &value(MAX_CHUNK_LEN + 10), &attrs, previous).unwrap();
        let lines = text(&headers);
        assert_eq!(lines.len(), 5);
        for (index, line) in lines[2..].iter().enumerate() {
            assert_eq!(
                *line,
                format!(
                    "logi.session.{}=; Path=/app; Domain=example.com; Max-Age=0; \
                     Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict",
                    index + 2
                )
            );
        }
        browser.apply(&headers);
        assert_eq!(browser.names(), ["logi.session", "logi.session.1"]);
        assert_eq!(read(&browser, name), Some(value(MAX_CHUNK_LEN + 10)));

        // Back to one cookie.
        assert_eq!(write(&mut browser, name, "small", &attrs), 2);
        assert_eq!(browser.names(), ["logi.session"]);
        assert_eq!(read(&browser, name).as_deref(), Some("small"));

        // A previous count past the cap deletes no more than the cap.
        let headers = write_chunked(name, "small", &attrs, 1000).unwrap();
        assert_eq!(headers.len(), MAX_CHUNKS);
    }

    #[test]
    fn delete_removes_every_chunk() {
        let attrs = CookieAttributes {
            domain: Some("example.com".into()),
            ..Default::default()
        };
        let name = "logi.session";
        let mut browser = Browser::default();
        write(&mut browser, name, &value(3 * MAX_CHUNK_LEN), &attrs);
        write(&mut browser, "other", "keep", &attrs);
        assert_eq!(browser.cookies.len(), 5);
        let count = RequestCookies::parse(&browser.request()).chunk_count(name);
        let headers = delete_chunked(name, &attrs, count);
        assert_eq!(headers.len(), 4);
        assert!(headers.iter().all(HeaderValue::is_sensitive));
        browser.apply(&headers);
        assert_eq!(browser.names(), ["other"]);

        // Removal needs the same Domain: without it the browser keeps the cookie.
        write(&mut browser, name, "v", &attrs);
        browser.apply(&delete_chunked(name, &CookieAttributes::default(), 1));
        assert_eq!(read(&browser, name).as_deref(), Some("v"));

        assert_eq!(
            delete_chunked(name, &attrs, 0).len(),
            1,
            "the name itself, at least"
        );
        assert_eq!(delete_chunked(name, &attrs, 99).len(), MAX_CHUNKS);
        assert_eq!(
            delete_chunked(NAME, &CookieAttributes::default(), 1)[0]
                .to_str()
                .unwrap(),
            "__Host-logi.session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; \
             Secure; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn missing_or_stale_chunks_read_as_none() {
        let attrs = CookieAttributes::default();
        let mut browser = Browser::default();
        write(&mut browser, NAME, &value(3 * MAX_CHUNK_LEN), &attrs);
        assert_eq!(browser.cookies.len(), 4);

        let mut missing_middle = Browser {
            cookies: browser.cookies.clone(),
        };
        missing_middle.remove(&format!("{NAME}.2"));
        assert_eq!(read(&missing_middle, NAME), None);

        let mut missing_last = Browser {
            cookies: browser.cookies.clone(),
        };
        missing_last.remove(&format!("{NAME}.3"));
        assert_eq!(read(&missing_last, NAME), None);

        // A first chunk counting more chunks than the request has (its own were lost).
        let mut stale = Browser::default();
        write(&mut stale, NAME, &value(MAX_CHUNK_LEN + 1), &attrs);
        stale.cookies[0].value = browser.cookies[0].value.clone();
        assert_eq!(read(&stale, NAME), None);
    }

    #[test]
    fn attribute_checks() {
        let ok = CookieAttributes::default();
        assert_eq!(ok.check(NAME), Ok(()));
        assert_eq!(ok.check("logi.session"), Ok(()));
        let cases: [(&str, CookieAttributes); 8] = [
            (
                "__Host-s",
                CookieAttributes {
                    secure: false,
                    ..ok.clone()
                },
            ),
            (
                "__host-s",
                CookieAttributes {
                    path: "/app".into(),
                    ..ok.clone()
                },
            ),
            (
                "__Host-s",
                CookieAttributes {
                    domain: Some("example.com".into()),
                    ..ok.clone()
                },
            ),
            (
                "__SECURE-s",
                CookieAttributes {
                    secure: false,
                    ..ok.clone()
                },
            ),
            (
                "s",
                CookieAttributes {
                    secure: false,
                    same_site: SameSite::None,
                    ..ok.clone()
                },
            ),
            (
                "s",
                CookieAttributes {
                    path: "app".into(),
                    ..ok.clone()
                },
            ),
            (
                "s",
                CookieAttributes {
                    path: "/; Domain=x".into(),
                    ..ok.clone()
                },
            ),
            (
                "s",
                CookieAttributes {
                    domain: Some(String::new()),
                    ..ok.clone()
                },
            ),
        ];
        for (name, attrs) in cases {
            assert!(
                matches!(attrs.check(name), Err(CookieError::Attributes(_))),
                "{name} {attrs:?}"
            );
        }
        assert_eq!(ok.check("a b"), Err(CookieError::InvalidName));
        let fine = CookieAttributes {
            secure: false,
            path: "/app".into(),
            domain: Some("example.com".into()),
            ..ok.clone()
        };
        assert_eq!(fine.check("logi.session"), Ok(()));
        assert_eq!(
            CookieAttributes {
                secure: false,
                ..ok
            }
            .check("__Host-s")
            .unwrap_err()
            .to_string(),
            "invalid cookie attributes: a `__Host-` cookie needs Secure"
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "cookie attributes for `__Host-logi.session`")]
    fn host_prefix_rules_are_asserted_in_debug() {
        let attrs = CookieAttributes {
            domain: Some("example.com".into()),
            ..Default::default()
        };
        let _ = set_cookie(NAME, "v", &attrs);
    }

    proptest! {
        #[test]
        fn prop_chunked_round_trip(len in 0..MAX_VALUE_LEN + 200, previous in 0..12_usize) {
            let attrs = CookieAttributes::default();
            let value = value(len);
            match write_chunked(NAME, &value, &attrs, previous) {
                Ok(headers) => {
                    prop_assert!(len <= MAX_VALUE_LEN);
                    let mut browser = Browser::default();
                    browser.apply(&headers);
                    prop_assert_eq!(read(&browser, NAME), Some(value));
                }
                Err(error) => {
                    prop_assert!(len > MAX_VALUE_LEN);
                    prop_assert_eq!(error, CookieError::TooLarge { len });
                }
            }
        }

        #[test]
        fn prop_any_cookie_value_round_trips(raw in r"[!#-+\--:<-\[\]-~]{0,40}") {
            let mut browser = Browser::default();
            browser.apply(&write_chunked(NAME, &raw, &CookieAttributes::default(), 0).unwrap());
            prop_assert_eq!(read(&browser, NAME), Some(raw));
        }
    }
}
