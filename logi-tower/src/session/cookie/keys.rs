//! Session keys: the application's secrets, and the keys derived from them.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::hkdf::{self, HKDF_SHA256, Salt};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};

/// Fewest bytes a session key may have.
pub(super) const MIN_KEY_LEN: usize = 32;

/// Length of the key id written into every sealed value.
pub(super) const KEY_ID_LEN: usize = 4;

/// HKDF salt, and the prefix of every HKDF info: changing them changes every derived key.
const HKDF_SALT: &[u8] = b"logi-tower session v1";
const INFO_AEAD_KEY: &[u8] = b"logi-tower session v1 aes-256-gcm key";
const INFO_KEY_ID: &[u8] = b"logi-tower session v1 key id";

/// The keys that seal and open session cookies, newest first.
///
/// Each key is at least 32 random bytes. New cookies are sealed with the first key; cookies
/// sealed with any listed key still open, so a key is rotated by putting a new one first and
/// removing the old one once the cookies it sealed have expired.
///
/// The key bytes are not kept: only the keys derived from them with HKDF-SHA256, and a 4-byte key
/// id per key (also derived, so it tells nothing about the key). `Debug` shows the key ids.
#[derive(Clone)]
pub struct SessionKeys {
    keys: Arc<[DerivedKey]>,
}

/// The AES-256-GCM key and the key id derived from one session key.
pub(super) struct DerivedKey {
    pub(super) id: [u8; KEY_ID_LEN],
    pub(super) aead: LessSafeKey,
}

impl SessionKeys {
    /// Session keys from raw key bytes, newest first.
    ///
    /// # Errors
    ///
    /// When `keys` is empty, when a key is shorter than 32 bytes, or when a key is listed twice.
    /// The error names the key by its position (from 1), never by its bytes.
    pub fn new(mut keys: Vec<Vec<u8>>) -> Result<Self, SessionKeyError> {
        let result = Self::derive_all(&keys);
        keys.iter_mut().for_each(|key| wipe(key));
        result
    }

    /// Session keys from the `LOGI_SESSION_KEY` format: base64 keys separated by commas, newest
    /// first, each trimmed of whitespace. Standard and URL-safe base64 are both accepted, padded
    /// or not (`openssl rand -base64 32` makes a key).
    ///
    /// # Errors
    ///
    /// As [`SessionKeys::new`], and when a key is not base64. The error never contains key text.
    pub fn from_base64_list(list: &str) -> Result<Self, SessionKeyError> {
        if list.trim().is_empty() {
            return Err(SessionKeyError::new(SessionKeyErrorKind::Missing, 0, 0));
        }
        let mut keys = Vec::new();
        for (index, text) in list.split(',').enumerate() {
            let text = text.trim();
            let decoded = STANDARD_PAD_INDIFFERENT
                .decode(text)
                .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text));
            match decoded {
                Ok(key) => keys.push(key),
                Err(_) => {
                    keys.iter_mut().for_each(|key| wipe(key));
                    return Err(SessionKeyError::new(
                        SessionKeyErrorKind::NotBase64,
                        index + 1,
                        0,
                    ));
                }
            }
        }
        Self::new(keys)
    }

    /// One fresh random 32-byte key, for development: cookies it seals do not open after a
    /// restart, so every restart signs everyone out.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    #[must_use]
    pub fn generate() -> Self {
        let mut key = [0_u8; MIN_KEY_LEN];
        aws_lc_rs::rand::fill(&mut key).expect("the system random number generator failed");
        let derived = DerivedKey::derive(&key);
        wipe(&mut key);
        Self {
            keys: Arc::from([derived]),
        }
    }

    /// The key that seals new values.
    pub(super) fn newest(&self) -> &DerivedKey {
        &self.keys[0]
    }

    /// The key whose id is `id`. Ids are unique within a `SessionKeys`.
    pub(super) fn find(&self, id: &[u8]) -> Option<&DerivedKey> {
        self.keys.iter().find(|key| key.id == id)
    }

    fn derive_all(keys: &[Vec<u8>]) -> Result<Self, SessionKeyError> {
        if keys.is_empty() {
            return Err(SessionKeyError::new(SessionKeyErrorKind::Missing, 0, 0));
        }
        if let Some(index) = keys.iter().position(|key| key.len() < MIN_KEY_LEN) {
            return Err(SessionKeyError::new(
                SessionKeyErrorKind::TooShort,
                index + 1,
                keys[index].len(),
            ));
        }
        let derived: Vec<DerivedKey> = keys.iter().map(|key| DerivedKey::derive(key)).collect();
        for (later, key) in derived.iter().enumerate().skip(1) {
            if let Some(earlier) = derived[..later].iter().position(|k| k.id == key.id) {
                // The same key twice, or (with chance 2^-32) two keys whose ids collide.
                return Err(SessionKeyError::new(
                    SessionKeyErrorKind::Duplicate,
                    later + 1,
                    earlier + 1,
                ));
            }
        }
        Ok(Self {
            keys: derived.into(),
        })
    }
}

impl DerivedKey {
    fn derive(key: &[u8]) -> Self {
        let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(key);
        let aead = UnboundKey::from(
            prk.expand(&[INFO_AEAD_KEY], &AES_256_GCM)
                .expect("32 bytes is a valid HKDF-SHA256 output length"),
        );
        let mut id = [0_u8; KEY_ID_LEN];
        prk.expand(&[INFO_KEY_ID], OkmLen(KEY_ID_LEN))
            .and_then(|okm| okm.fill(&mut id))
            .expect("4 bytes is a valid HKDF-SHA256 output length");
        Self {
            id,
            aead: LessSafeKey::new(aead),
        }
    }
}

/// An HKDF output length.
struct OkmLen(usize);

impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// Overwrites key bytes that are no longer needed (best effort: the optimizer is asked, through
/// `black_box`, not to drop the writes).
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

/// A key id, shown as hex.
struct KeyId([u8; KEY_ID_LEN]);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<KeyId> = self.keys.iter().map(|key| KeyId(key.id)).collect();
        f.debug_struct("SessionKeys")
            .field("key_ids", &ids)
            .finish()
    }
}

/// What is wrong with the session keys given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionKeyErrorKind {
    /// No key was given.
    Missing,
    /// A key is shorter than 32 bytes.
    TooShort,
    /// A key in a base64 list is not base64.
    NotBase64,
    /// The same key is listed twice.
    Duplicate,
}

/// The session keys given cannot be used. Names the faulty key by its position in the list
/// (from 1), and never contains key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKeyError {
    kind: SessionKeyErrorKind,
    position: usize,
    /// The length of a short key, or the position of the first copy of a duplicate.
    detail: usize,
}

impl SessionKeyError {
    const fn new(kind: SessionKeyErrorKind, position: usize, detail: usize) -> Self {
        Self {
            kind,
            position,
            detail,
        }
    }

    /// What is wrong.
    #[must_use]
    pub const fn kind(&self) -> SessionKeyErrorKind {
        self.kind
    }

    /// The position (from 1, newest first) of the faulty key; for a duplicate, of its second
    /// copy. `None` when no key was given.
    #[must_use]
    pub const fn position(&self) -> Option<usize> {
        match self.kind {
            SessionKeyErrorKind::Missing => None,
            _ => Some(self.position),
        }
    }
}

impl fmt::Display for SessionKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let position = self.position;
        match self.kind {
            SessionKeyErrorKind::Missing => f.write_str(
                "no session key given: at least one key of 32 or more random bytes is needed",
            ),
            SessionKeyErrorKind::TooShort => write!(
                f,
                "session key #{position} is {} bytes long: session keys need at least \
                 {MIN_KEY_LEN} random bytes",
                self.detail
            ),
            SessionKeyErrorKind::NotBase64 => {
                write!(f, "session key #{position} is not valid base64")
            }
            SessionKeyErrorKind::Duplicate => write!(
                f,
                "session key #{position} is the same key as #{}: remove one of them",
                self.detail
            ),
        }
    }
}

impl std::error::Error for SessionKeyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn key(byte: u8) -> Vec<u8> {
        vec![byte; 32]
    }

    #[test]
    fn accepts_keys_of_32_bytes_and_more() {
        let keys = SessionKeys::new(vec![key(1), vec![2; 64]]).unwrap();
        assert_eq!(keys.keys.len(), 2);
        assert_ne!(keys.keys[0].id, keys.keys[1].id);
    }

    #[test]
    fn key_ids_are_stable_and_derived() {
        let a = SessionKeys::new(vec![key(1)]).unwrap();
        let b = SessionKeys::new(vec![key(1)]).unwrap();
        assert_eq!(a.newest().id, b.newest().id);
        assert_ne!(
            a.newest().id,
            [1; KEY_ID_LEN],
            "the id is not the key's own bytes"
        );
    }

    #[test]
    fn no_key_is_an_error() {
        let error = SessionKeys::new(Vec::new()).unwrap_err();
        assert_eq!(error.kind(), SessionKeyErrorKind::Missing);
        assert_eq!(error.position(), None);
        assert!(error.to_string().starts_with("no session key given"));
        for list in ["", "  ", " \n\t "] {
            let error = SessionKeys::from_base64_list(list).unwrap_err();
            assert_eq!(error.kind(), SessionKeyErrorKind::Missing, "{list:?}");
        }
    }

    #[test]
    fn short_key_is_named_by_position() {
        let error = SessionKeys::new(vec![key(1), vec![7; 31], key(3)]).unwrap_err();
        assert_eq!(error.kind(), SessionKeyErrorKind::TooShort);
        assert_eq!(error.position(), Some(2));
        assert_eq!(
            error.to_string(),
            "session key #2 is 31 bytes long: session keys need at least 32 random bytes"
        );
    }

    #[test]
    fn duplicate_key_is_an_error() {
        let error = SessionKeys::new(vec![key(1), key(2), key(1)]).unwrap_err();
        assert_eq!(error.kind(), SessionKeyErrorKind::Duplicate);
        assert_eq!(error.position(), Some(3));
        assert_eq!(
            error.to_string(),
            "session key #3 is the same key as #1: remove one of them"
        );
    }

    #[test]
    fn base64_list_accepts_every_flavour() {
        // Bytes chosen so that standard and URL-safe encodings differ (`+/` against `-_`).
        let raw: Vec<u8> = (0_u8..47).map(|i| 0xf8 ^ i.wrapping_mul(37)).collect();
        let standard = STANDARD.encode(&raw);
        let url = URL_SAFE_NO_PAD.encode(&raw);
        assert!(standard.contains(['+', '/']) && url.contains(['-', '_']));
        assert!(standard.ends_with('=') && !url.ends_with('='));
        let expected = SessionKeys::new(vec![raw.clone()]).unwrap().newest().id;
        for text in [
            standard.clone(),
            standard.trim_end_matches('=').to_owned(),
            url.clone(),
            base64::engine::general_purpose::URL_SAFE.encode(&raw),
            format!("  {standard}\n"),
        ] {
            let keys = SessionKeys::from_base64_list(&text).unwrap();
            assert_eq!(keys.newest().id, expected, "{text}");
        }
        // 32 bytes: `openssl rand -base64 32` output has one `=`.
        let padded = STANDARD.encode([9_u8; 32]);
        assert!(padded.ends_with('='));
        SessionKeys::from_base64_list(&padded).unwrap();
    }

    #[test]
    fn base64_list_keeps_order_newest_first() {
        let list = format!(
            "{} , {},{}",
            STANDARD.encode(key(1)),
            URL_SAFE_NO_PAD.encode(key(2)),
            STANDARD.encode(key(3))
        );
        let keys = SessionKeys::from_base64_list(&list).unwrap();
        let ids: Vec<_> = keys.keys.iter().map(|k| k.id).collect();
        let expected: Vec<_> = [1, 2, 3]
            .map(|b| SessionKeys::new(vec![key(b)]).unwrap().newest().id)
            .to_vec();
        assert_eq!(ids, expected);
    }

    #[test]
    fn base64_list_errors_name_the_position_and_never_the_text() {
        let secretish = "c2VjcmV0IGtleSBtYXRlcmlhbCEhIQ*";
        let list = format!("{}, {secretish}", STANDARD.encode(key(1)));
        let error = SessionKeys::from_base64_list(&list).unwrap_err();
        assert_eq!(error.kind(), SessionKeyErrorKind::NotBase64);
        assert_eq!(error.position(), Some(2));
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("c2Vj"), "{shown}");
        assert!(!shown.contains('*'), "{shown}");

        // An empty entry (a stray comma) is a key of 0 bytes.
        let list = format!("{},", STANDARD.encode(key(1)));
        let error = SessionKeys::from_base64_list(&list).unwrap_err();
        assert_eq!(error.kind(), SessionKeyErrorKind::TooShort);
        assert_eq!(error.position(), Some(2));

        let list = format!(
            "{},{}",
            STANDARD.encode([5_u8; 16]),
            STANDARD.encode(key(1))
        );
        let error = SessionKeys::from_base64_list(&list).unwrap_err();
        assert_eq!(
            (error.kind(), error.position()),
            (SessionKeyErrorKind::TooShort, Some(1))
        );

        // Mixed alphabets are neither flavour.
        let error = SessionKeys::from_base64_list("ab+_cdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP")
            .unwrap_err();
        assert_eq!(error.kind(), SessionKeyErrorKind::NotBase64);
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let raw: Vec<u8> = (0..32).map(|i| 0xa0 + i).collect();
        let keys = SessionKeys::new(vec![raw.clone(), key(0x42)]).unwrap();
        let shown = format!("{keys:?} {keys:#?}");
        let id = |k: &DerivedKey| k.id.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            format!("{keys:?}"),
            format!(
                "SessionKeys {{ key_ids: [{}, {}] }}",
                id(&keys.keys[0]),
                id(&keys.keys[1])
            )
        );
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        for forbidden in [
            hex[..8].to_owned(),
            STANDARD.encode(&raw)[..8].to_owned(),
            "160, 161".to_owned(),
            "4242".to_owned(),
            "66, 66".to_owned(),
        ] {
            assert!(!shown.contains(&forbidden), "{forbidden} in {shown}");
        }
    }

    #[test]
    fn generated_keys_are_fresh() {
        let a = SessionKeys::generate();
        let b = SessionKeys::generate();
        assert_eq!(a.keys.len(), 1);
        assert_ne!(a.newest().id, b.newest().id);
    }

    #[test]
    fn wipe_clears() {
        let mut bytes = key(9);
        wipe(&mut bytes);
        assert!(bytes.iter().all(|&b| b == 0));
    }
}
