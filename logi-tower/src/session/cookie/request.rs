//! Reading the cookies a request carries.

use std::borrow::Cow;
use std::fmt;

use http::HeaderMap;
use http::header::COOKIE;

use super::{FirstChunk, MAX_CHUNKS, chunk_index};

/// Most cookies read from one request. Browsers keep at most about 180 cookies per site, so a
/// browser's request is never cut short; a hostile one cannot make parsing unbounded.
const MAX_COOKIES: usize = 256;

/// Most bytes of `Cookie` headers read from one request: room for a value split over every chunk
/// (about 30 KB) and the site's other cookies. Cookies past it are ignored.
const MAX_COOKIE_BYTES: usize = 64 * 1024;

/// The cookies of a request, borrowed from its `Cookie` headers without copying.
///
/// Every `Cookie` header is read (HTTP/2 may send one per cookie), up to [`MAX_COOKIES`] cookies
/// and [`MAX_COOKIE_BYTES`] bytes. A name that appears twice keeps its first value, which is the
/// one with the most specific path. Pairs without `=`, with an empty name, or that are not UTF-8
/// are skipped; whitespace around names and values and double quotes around a value are
/// dropped. `Debug` shows names only.
pub(crate) struct RequestCookies<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> RequestCookies<'a> {
    pub(crate) fn parse(headers: &'a HeaderMap) -> Self {
        let mut pairs = Vec::with_capacity(16);
        for bytes in cookie_headers(headers) {
            let room = MAX_COOKIES - pairs.len();
            // `str::split` finds `;` with memchr; a header that is not UTF-8 (rare junk) is read
            // pair by pair, skipping only the pairs that are not.
            match std::str::from_utf8(bytes) {
                Ok(line) => pairs.extend(line.split(';').filter_map(parse_pair).take(room)),
                Err(_) => pairs.extend(
                    bytes
                        .split(|&b| b == b';')
                        .filter_map(|pair| parse_pair(std::str::from_utf8(pair).ok()?))
                        .take(room),
                ),
            }
            if pairs.len() == MAX_COOKIES {
                break;
            }
        }
        Self { pairs }
    }

    /// The value of the cookie `name`: the first one when the request repeats the name.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(cookie, _)| *cookie == name)
            .map(|&(_, value)| value)
    }

    /// The value written by [`write_chunked`](super::write_chunked) under `name`, joined back from
    /// its chunks. `None` when absent, or when a chunk is missing or the count is invalid.
    pub(crate) fn get_chunked(&self, name: &str) -> Option<Cow<'a, str>> {
        let (count, first) = match FirstChunk::parse(self.get(name)?) {
            FirstChunk::Whole(value) => return Some(Cow::Borrowed(value)),
            FirstChunk::Counted(1, value) => return Some(Cow::Borrowed(value)),
            FirstChunk::Counted(count, first) => (count, first),
            FirstChunk::Invalid => return None,
        };
        let mut chunks: [Option<&'a str>; MAX_CHUNKS] = [None; MAX_CHUNKS];
        chunks[0] = Some(first);
        for &(cookie, value) in &self.pairs {
            match chunk_index(cookie, name) {
                Some(index @ 1..) if index < count && chunks[index].is_none() => {
                    chunks[index] = Some(value);
                }
                _ => {}
            }
        }
        let chunks = &chunks[..count];
        let len = chunks
            .iter()
            .map(|chunk| chunk.map(str::len))
            .sum::<Option<usize>>()?;
        let mut joined = String::with_capacity(len);
        chunks
            .iter()
            .flatten()
            .for_each(|chunk| joined.push_str(chunk));
        Some(Cow::Owned(joined))
    }

    /// How many chunk cookies of `name` the request carries, counted as the highest chunk index
    /// present plus one (0 when none is): the cookies to delete to clear the value entirely.
    /// At most [`MAX_CHUNKS`], whatever the request sends.
    pub(crate) fn chunk_count(&self, name: &str) -> usize {
        self.pairs
            .iter()
            .filter_map(|&(cookie, _)| chunk_index(cookie, name))
            .max()
            .map_or(0, |index| index + 1)
    }
}

impl fmt::Debug for RequestCookies<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestCookies")
            .field(
                "names",
                &self.pairs.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The `Cookie` header values, cut to [`MAX_COOKIE_BYTES`] in all. The pair that the limit
/// cuts through is dropped with everything after it.
fn cookie_headers(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    let mut budget = MAX_COOKIE_BYTES;
    headers.get_all(COOKIE).iter().map_while(move |value| {
        let bytes = value.as_bytes();
        if budget == 0 {
            None
        } else if bytes.len() <= budget {
            budget -= bytes.len();
            Some(bytes)
        } else {
            let cut = &bytes[..budget];
            budget = 0;
            Some(&cut[..cut.iter().rposition(|&b| b == b';').unwrap_or(0)])
        }
    })
}

/// One `name=value` pair of a `Cookie` header, trimmed, quotes dropped.
fn parse_pair(pair: &str) -> Option<(&str, &str)> {
    let (name, value) = pair.split_once('=')?;
    let name = name.trim_matches(is_space);
    if name.is_empty() {
        return None;
    }
    let value = value.trim_matches(is_space);
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some((name, value))
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn cookie_map(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(COOKIE, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn several_headers_spaces_and_quotes() {
        let headers = cookie_map(&[
            b"a=1; b=2",
            b" c = 3 ;d=\"4\";  e=  ;f=\"\"",
            b"\tg=x=y\t; h=\"unbalanced; i=j\"",
        ]);
        let cookies = RequestCookies::parse(&headers);
        assert_eq!(cookies.get("a"), Some("1"));
        assert_eq!(cookies.get("b"), Some("2"));
        assert_eq!(cookies.get("c"), Some("3"));
        assert_eq!(cookies.get("d"), Some("4"));
        assert_eq!(cookies.get("e"), Some(""));
        assert_eq!(cookies.get("f"), Some(""));
        assert_eq!(
            cookies.get("g"),
            Some("x=y"),
            "the value runs past further `=`"
        );
        assert_eq!(cookies.get("h"), Some("\"unbalanced"));
        assert_eq!(cookies.get("i"), Some("j\""));
        assert_eq!(cookies.get("A"), None, "names are case-sensitive");
        assert_eq!(cookies.get(""), None);
    }

    #[test]
    fn first_occurrence_wins() {
        let headers = cookie_map(&[b"s=first; t=1; s=second", b"s=third"]);
        let cookies = RequestCookies::parse(&headers);
        assert_eq!(cookies.get("s"), Some("first"));
        assert_eq!(cookies.get("t"), Some("1"));
    }

    #[test]
    fn junk_is_skipped() {
        let headers = cookie_map(&[
            b";;; ; noequals; =novalue; = ; a=1;",
            b"\xff\xfe=bad; b=\xe9t\xe9; c=2",
            b"",
            b"d=\xc3\xa9",
        ]);
        let cookies = RequestCookies::parse(&headers);
        assert_eq!(cookies.get("a"), Some("1"));
        assert_eq!(cookies.get("b"), None, "not UTF-8");
        assert_eq!(cookies.get("c"), Some("2"));
        assert_eq!(cookies.get("d"), Some("\u{e9}"));
        assert_eq!(cookies.get("noequals"), None);
        assert_eq!(cookies.pairs.len(), 3);
    }

    #[test]
    fn no_cookie_header() {
        let headers = HeaderMap::new();
        let cookies = RequestCookies::parse(&headers);
        assert_eq!(cookies.get("a"), None);
        assert_eq!(cookies.get_chunked("a"), None);
        assert_eq!(cookies.chunk_count("a"), 0);
    }

    #[test]
    fn cookie_count_is_bounded() {
        let line: Vec<String> = (0..MAX_COOKIES + 50).map(|i| format!("c{i}={i}")).collect();
        let headers = cookie_map(&[line.join("; ").as_bytes()]);
        let cookies = RequestCookies::parse(&headers);
        assert_eq!(cookies.pairs.len(), MAX_COOKIES);
        assert_eq!(cookies.get("c0"), Some("0"));
        let last = MAX_COOKIES - 1;
        assert_eq!(cookies.get(&format!("c{last}")), Some(&*last.to_string()));
        assert_eq!(cookies.get(&format!("c{MAX_COOKIES}")), None);
    }

    #[test]
    fn header_bytes_are_bounded_and_cut_between_pairs() {
        let big = format!(
            "big={}; cut={}",
            "x".repeat(MAX_COOKIE_BYTES - 100),
            "y".repeat(200)
        );
        let headers = cookie_map(&[b"a=1", big.as_bytes(), b"after=1"]);
        let cookies = RequestCookies::parse(&headers);
        assert_eq!(cookies.get("a"), Some("1"));
        assert_eq!(
            cookies.get("big").map(str::len),
            Some(MAX_COOKIE_BYTES - 100)
        );
        assert_eq!(
            cookies.get("cut"),
            None,
            "a pair cut by the limit is dropped, not truncated"
        );
        assert_eq!(cookies.get("after"), None);

        // A single pair over the limit is dropped whole.
        let huge = format!("huge={}", "x".repeat(MAX_COOKIE_BYTES));
        let headers = cookie_map(&[huge.as_bytes()]);
        assert_eq!(RequestCookies::parse(&headers).get("huge"), None);

        // Exactly at the limit, the next header is not read.
        let exact = format!("e={}", "x".repeat(MAX_COOKIE_BYTES - 2));
        let headers = cookie_map(&[exact.as_bytes(), b"next=1"]);
        let cookies = RequestCookies::parse(&headers);
        assert!(cookies.get("e").is_some());
        assert_eq!(cookies.get("next"), None);
    }

    #[test]
    fn chunked_values_are_joined() {
        let headers = cookie_map(&[b"s.2=ccc; other=1; s=3~aaa", b"s.1=bbb; s.3=stale"]);
        let cookies = RequestCookies::parse(&headers);
        assert_eq!(cookies.get_chunked("s").as_deref(), Some("aaabbbccc"));
        assert!(matches!(cookies.get_chunked("s"), Some(Cow::Owned(_))));
        assert_eq!(cookies.chunk_count("s"), 4);
        assert_eq!(cookies.chunk_count("other"), 1);
        assert_eq!(cookies.chunk_count("none"), 0);
    }

    #[test]
    fn unchunked_values_are_borrowed() {
        let headers = cookie_map(&[b"s=plain; t=1~3~x; s.1=stale"]);
        let cookies = RequestCookies::parse(&headers);
        assert!(matches!(
            cookies.get_chunked("s"),
            Some(Cow::Borrowed("plain"))
        ));
        assert!(matches!(
            cookies.get_chunked("t"),
            Some(Cow::Borrowed("3~x"))
        ));
    }

    #[test]
    fn missing_chunk_or_bad_count_reads_as_none() {
        for line in [
            &b"s=3~a; s.1=b"[..], // chunk 2 missing
            b"s=3~a; s.2=c",      // chunk 1 missing
            b"s=2~a; s.01=b",     // not a chunk name
            b"s=0~a",             // no write produces these counts
            b"s=9~a; s.1=b",
            b"s=12~a; s.1=b",
            b"s.1=b; s.2=c", // the first chunk missing
        ] {
            let headers = cookie_map(&[line]);
            let cookies = RequestCookies::parse(&headers);
            assert_eq!(
                cookies.get_chunked("s"),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn first_chunk_occurrence_wins() {
        let headers = cookie_map(&[b"s=2~a; s.1=b; s.1=other"]);
        assert_eq!(
            RequestCookies::parse(&headers).get_chunked("s").as_deref(),
            Some("ab")
        );
    }

    #[test]
    fn chunk_count_is_bounded() {
        let headers = cookie_map(&[b"s.7=x; s.8=x; s.99=x; s.1000000=x"]);
        assert_eq!(RequestCookies::parse(&headers).chunk_count("s"), MAX_CHUNKS);
    }

    #[test]
    fn debug_shows_names_only() {
        let headers = cookie_map(&[b"session=s3cr3t; theme=dark"]);
        let shown = format!("{:?}", RequestCookies::parse(&headers));
        assert!(
            shown.contains("session") && shown.contains("theme"),
            "{shown}"
        );
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("dark"),
            "{shown}"
        );
    }

    proptest! {
        #[test]
        fn prop_parse_never_panics(values in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..300), 0..5),
            name in "[a-z.0-9]{0,6}",
        ) {
            let mut map = HeaderMap::new();
            for value in &values {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    map.append(COOKIE, value);
                }
            }
            let cookies = RequestCookies::parse(&map);
            let _ = cookies.get(&name);
            let _ = cookies.get_chunked(&name);
            prop_assert!(cookies.chunk_count(&name) <= MAX_CHUNKS);
        }

        #[test]
        fn prop_cookie_lines_parse(pairs in proptest::collection::vec(
            ("[A-Za-z0-9_.-]{1,10}", r"[!#-+\--:<-\[\]-~]{0,20}"), 1..20)) {
            let line = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
            let map = cookie_map(&[line.as_bytes()]);
            let cookies = RequestCookies::parse(&map);
            for (name, _) in &pairs {
                let sent = &pairs.iter().find(|(n, _)| n == name).unwrap().1;
                let expected = sent.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                prop_assert_eq!(cookies.get(name), Some(expected.unwrap_or(sent)));
            }
        }
    }
}
