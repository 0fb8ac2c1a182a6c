//! Sealed cookies: the codec that carries browser sessions and sign-in transactions.
//!
//! Three parts, each in its own file:
//!
//! - [`SessionKeys`] (`keys.rs`): the application's secrets, newest first, and the AEAD keys
//!   derived from them with HKDF-SHA256.
//! - [`Sealer`] (`sealer.rs`): AES-256-GCM sealing of a cookie value, bound to the cookie's name.
//!   A sealed value is `version (1) || key id (4) || nonce (12) || ciphertext || tag (16)`,
//!   base64url without padding.
//! - [`RequestCookies`] (`request.rs`) reads the `Cookie` headers of a request;
//!   [`write_chunked`], [`delete_chunked`] and [`set_cookie`] (`response.rs`) write `Set-Cookie`
//!   headers.
//!
//! # Chunking
//!
//! Browsers keep at most about 4096 bytes per cookie, name and value together. A value longer
//! than [`MAX_CHUNK_LEN`] is split over up to [`MAX_CHUNKS`] cookies: the first keeps the name
//! (`__Host-logi.session`), the others are named `__Host-logi.session.1`, `.2`, …
//!
//! The first chunk starts with the number of chunks and a `~` (`3~…`), so a request that lost a
//! chunk, or carries a stale one from an earlier write, reads as nothing instead of as a spliced
//! value. A value that fits one cookie is written as it is, unless it itself starts with digits
//! and a `~`: then it is written as `1~value`, so every value reads back exactly. Sealed values
//! are base64url and never contain `~`. The sealing is the last guard: a value spliced from two
//! writes does not open.

mod keys;
mod request;
mod response;
mod sealer;

#[cfg(test)]
mod browser;

pub use keys::{SessionKeyError, SessionKeyErrorKind, SessionKeys};
pub(crate) use request::RequestCookies;
pub(crate) use response::{
    CookieAttributes, CookieError, SameSite, delete_chunked, set_cookie, write_chunked,
};
pub(crate) use sealer::Sealer;

/// Most cookies one value is split over. A larger value is refused by [`write_chunked`].
pub(crate) const MAX_CHUNKS: usize = 8;

/// Most bytes in the value of one cookie (the first chunk's count prefix included), leaving room
/// for the name within the 4096 bytes a browser keeps.
pub(crate) const MAX_CHUNK_LEN: usize = 3800;

/// The longest value [`write_chunked`] accepts: [`MAX_CHUNKS`] full chunks less the `N~` prefix.
pub(crate) const MAX_VALUE_LEN: usize = MAX_CHUNKS * MAX_CHUNK_LEN - COUNT_PREFIX_LEN;

/// Length of the `N~` prefix: the count is one digit since [`MAX_CHUNKS`] is below 10.
const COUNT_PREFIX_LEN: usize = 2;

const _: () = assert!(MAX_CHUNKS < 10, "the chunk count prefix is one digit");

/// How the first chunk of a value is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FirstChunk<'a> {
    /// No count prefix: the whole value is this one cookie.
    Whole(&'a str),
    /// `N~rest`: the value is `rest` followed by chunks `1..N`.
    Counted(usize, &'a str),
    /// A count prefix that no write produces (0, more than [`MAX_CHUNKS`], several digits).
    Invalid,
}

impl<'a> FirstChunk<'a> {
    fn parse(first: &'a str) -> Self {
        let digits = first.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || first.as_bytes().get(digits) != Some(&b'~') {
            return Self::Whole(first);
        }
        match first.as_bytes()[0] - b'0' {
            n @ 1.. if digits == 1 && usize::from(n) <= MAX_CHUNKS => {
                Self::Counted(usize::from(n), &first[COUNT_PREFIX_LEN..])
            }
            _ => Self::Invalid,
        }
    }
}

/// Whether `value`, written bare, would be read as a counted first chunk.
fn looks_counted(value: &str) -> bool {
    !matches!(FirstChunk::parse(value), FirstChunk::Whole(_))
}

/// The name of chunk `index` of the value called `name`: `name` itself for 0, else `name.index`.
fn chunk_name(name: &str, index: usize) -> ChunkName<'_> {
    ChunkName { name, index }
}

/// A chunk's cookie name, written without allocating.
struct ChunkName<'a> {
    name: &'a str,
    index: usize,
}

impl std::fmt::Display for ChunkName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.index == 0 {
            f.write_str(self.name)
        } else {
            write!(f, "{}.{}", self.name, self.index)
        }
    }
}

/// Which chunk of the value `name` the cookie `cookie` is, if it is one: 0 for `name`, `i` for
/// `name.i` with `1 <= i < MAX_CHUNKS` written without leading zeros.
fn chunk_index(cookie: &str, name: &str) -> Option<usize> {
    let rest = cookie.strip_prefix(name)?;
    if rest.is_empty() {
        return Some(0);
    }
    let digits = rest.strip_prefix('.')?.as_bytes();
    match *digits {
        [d @ b'1'..=b'9'] if usize::from(d - b'0') < MAX_CHUNKS => Some(usize::from(d - b'0')),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::browser::Browser;
    use super::*;

    const NAME: &str = "__Host-logi.session";

    fn sealer() -> Sealer {
        Sealer::new(&SessionKeys::new(vec![vec![1; 32]]).unwrap())
    }

    fn store(browser: &mut Browser, sealer: &Sealer, name: &str, plaintext: &[u8]) -> usize {
        let sealed = sealer.seal(name, plaintext);
        let previous = RequestCookies::parse(&browser.request()).chunk_count(name);
        let headers = write_chunked(name, &sealed, &CookieAttributes::default(), previous).unwrap();
        browser.apply(&headers);
        headers.len()
    }

    fn load(browser: &Browser, sealer: &Sealer, name: &str) -> Option<Vec<u8>> {
        let request = browser.request();
        let cookies = RequestCookies::parse(&request);
        sealer.open(name, &cookies.get_chunked(name)?)
    }

    #[test]
    fn sealed_values_through_cookies() {
        let sealer = sealer();
        for len in [0, 1024, 2800, 3000, 10_000, 22_000] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut browser = Browser::default();
            store(&mut browser, &sealer, NAME, &plaintext);
            assert_eq!(load(&browser, &sealer, NAME), Some(plaintext), "{len}");
        }
        let too_large = vec![0; MAX_VALUE_LEN];
        let sealed = sealer.seal(NAME, &too_large);
        assert!(matches!(
            write_chunked(NAME, &sealed, &CookieAttributes::default(), 0),
            Err(CookieError::TooLarge { .. })
        ));
    }

    #[test]
    fn chunks_spliced_from_two_writes_do_not_open() {
        let sealer = sealer();
        let mut first = Browser::default();
        let mut second = Browser::default();
        assert_eq!(store(&mut first, &sealer, NAME, &[b'a'; 6000]), 3);
        assert_eq!(store(&mut second, &sealer, NAME, &[b'b'; 6000]), 3);
        let mut spliced = Browser {
            cookies: first.cookies.clone(),
        };
        spliced.cookies[1] = second.cookies[1].clone();
        assert!(
            RequestCookies::parse(&spliced.request())
                .get_chunked(NAME)
                .is_some()
        );
        assert_eq!(load(&spliced, &sealer, NAME), None);
    }

    #[test]
    fn a_value_moved_to_another_cookie_does_not_open() {
        let sealer = sealer();
        let mut browser = Browser::default();
        store(&mut browser, &sealer, "__Host-logi.tx", b"state");
        browser.cookies[0].name = NAME.to_owned();
        assert_eq!(load(&browser, &sealer, NAME), None);
    }

    #[test]
    fn first_chunk_forms() {
        assert_eq!(FirstChunk::parse("abc"), FirstChunk::Whole("abc"));
        assert_eq!(FirstChunk::parse(""), FirstChunk::Whole(""));
        assert_eq!(FirstChunk::parse("12"), FirstChunk::Whole("12"));
        assert_eq!(FirstChunk::parse("~x"), FirstChunk::Whole("~x"));
        assert_eq!(FirstChunk::parse("a1~x"), FirstChunk::Whole("a1~x"));
        assert_eq!(FirstChunk::parse("1~x"), FirstChunk::Counted(1, "x"));
        assert_eq!(FirstChunk::parse("8~"), FirstChunk::Counted(8, ""));
        assert_eq!(FirstChunk::parse("9~x"), FirstChunk::Invalid);
        assert_eq!(FirstChunk::parse("0~x"), FirstChunk::Invalid);
        assert_eq!(FirstChunk::parse("02~x"), FirstChunk::Invalid);
        assert_eq!(
            FirstChunk::parse("99999999999999999999999~x"),
            FirstChunk::Invalid
        );
    }

    #[test]
    fn chunk_names_and_indexes() {
        assert_eq!(chunk_name("s", 0).to_string(), "s");
        assert_eq!(chunk_name("s", 3).to_string(), "s.3");
        assert_eq!(chunk_index("s", "s"), Some(0));
        assert_eq!(chunk_index("s.1", "s"), Some(1));
        assert_eq!(chunk_index("s.7", "s"), Some(7));
        for other in [
            "s.8", "s.0", "s.01", "s.10", "s.", "s.x", "sx", "s1", "t", "", "s.1 ",
        ] {
            assert_eq!(chunk_index(other, "s"), None, "{other:?}");
        }
    }
}
