//! AES-256-GCM sealing of cookie values, bound to the cookie's name.

use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::MAX_VALUE_LEN;
use super::keys::{KEY_ID_LEN, SessionKeys};

/// The format version, first byte of every sealed value.
const VERSION: u8 = 1;
/// `version || key id`: authenticated, not encrypted.
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
/// `version || key id || nonce`: everything before the ciphertext.
const PREFIX_LEN: usize = HEADER_LEN + NONCE_LEN;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// The shortest sealed value (empty plaintext), in bytes and in base64url characters.
const MIN_SEALED_LEN: usize = PREFIX_LEN + TAG_LEN;
const MIN_ENCODED_LEN: usize = (MIN_SEALED_LEN * 4).div_ceil(3);
/// Base64 characters decoded first to read the version and the key id: two whole quads.
const PEEK_CHARS: usize = 8;

const _: () = assert!(PEEK_CHARS / 4 * 3 > HEADER_LEN && MIN_ENCODED_LEN >= PEEK_CHARS);

/// Seals and opens cookie values with the [`SessionKeys`]. Cheap to clone.
///
/// A sealed value is `version || key id || nonce || ciphertext || tag` in base64url without
/// padding (cookie-safe). The associated data is `version || key id || cookie name`, so a value
/// opens only under the name it was sealed for. Nonces are 96 random bits; with AES-GCM that is
/// safe for about 2^32 seals per key, which a key rotation schedule stays far below.
#[derive(Clone, Debug)]
pub(crate) struct Sealer {
    keys: SessionKeys,
    rng: SystemRandom,
}

impl Sealer {
    pub(crate) fn new(keys: &SessionKeys) -> Self {
        Self {
            keys: keys.clone(),
            rng: SystemRandom::new(),
        }
    }

    /// AEAD-seals `plaintext` for the cookie called `name`, with the newest key. The result is
    /// base64url without padding: valid cookie-value characters.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    pub(crate) fn seal(&self, name: &str, plaintext: &[u8]) -> String {
        let key = self.keys.newest();
        let mut nonce = [0_u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system random number generator failed");

        let mut sealed = Vec::with_capacity(MIN_SEALED_LEN + plaintext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&key.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let header = header(VERSION, key.id);
        let tag = with_aad(&header, name, |aad| {
            key.aead.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                aad,
                &mut sealed[PREFIX_LEN..],
            )
        })
        .expect("AES-256-GCM seals any cookie-sized plaintext");
        sealed.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(&sealed)
    }

    /// Opens a value sealed for `name` by any of the keys. `None` for anything else: tampered,
    /// truncated or over-long, sealed for another name, by an unknown key or in another format
    /// version, or not base64url. Never panics.
    pub(crate) fn open(&self, name: &str, value: &str) -> Option<Vec<u8>> {
        let encoded = value.as_bytes();
        if !(MIN_ENCODED_LEN..=MAX_VALUE_LEN).contains(&encoded.len()) {
            return None;
        }
        // Look at the version and key id before decoding (and allocating for) the whole value.
        let mut peek = [0_u8; PEEK_CHARS / 4 * 3];
        URL_SAFE_NO_PAD
            .decode_slice(&encoded[..PEEK_CHARS], &mut peek)
            .ok()?;
        if peek[0] != VERSION {
            return None;
        }
        let key = self.keys.find(&peek[1..HEADER_LEN])?;

        let mut sealed = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if sealed.len() < MIN_SEALED_LEN {
            return None;
        }
        let header = header(VERSION, key.id);
        let nonce = Nonce::try_assume_unique_for_key(&sealed[HEADER_LEN..PREFIX_LEN]).ok()?;
        let len = with_aad(&header, name, |aad| {
            key.aead
                .open_within(nonce, aad, &mut sealed, PREFIX_LEN..)
                .map(|plaintext| plaintext.len())
        })
        .ok()?;
        sealed.truncate(len);
        Some(sealed)
    }
}

fn header(version: u8, id: [u8; KEY_ID_LEN]) -> [u8; HEADER_LEN] {
    let mut header = [version; HEADER_LEN];
    header[1..].copy_from_slice(&id);
    header
}

/// Calls `f` with the associated data `header || name`, built on the stack for the usual short
/// cookie names. The header has a fixed length, so the concatenation is unambiguous.
fn with_aad<R>(header: &[u8; HEADER_LEN], name: &str, f: impl FnOnce(Aad<&[u8]>) -> R) -> R {
    const STACK: usize = 128;
    let len = HEADER_LEN + name.len();
    if len <= STACK {
        let mut aad = [0_u8; STACK];
        aad[..HEADER_LEN].copy_from_slice(header);
        aad[HEADER_LEN..len].copy_from_slice(name.as_bytes());
        f(Aad::from(&aad[..len]))
    } else {
        let mut aad = Vec::with_capacity(len);
        aad.extend_from_slice(header);
        aad.extend_from_slice(name.as_bytes());
        f(Aad::from(&aad[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAME: &str = "__Host-logi.session";

    fn keys(bytes: &[u8]) -> SessionKeys {
        SessionKeys::new(bytes.iter().map(|&b| vec![b; 32]).collect()).unwrap()
    }

    fn sealer(bytes: &[u8]) -> Sealer {
        Sealer::new(&keys(bytes))
    }

    #[test]
    fn round_trip() {
        let sealer = sealer(&[1]);
        for plaintext in [
            &b""[..],
            b"x",
            b"{\"sub\":\"248289761001\"}",
            &[0xff; 1024][..],
        ] {
            let sealed = sealer.seal(NAME, plaintext);
            assert_eq!(sealer.open(NAME, &sealed).as_deref(), Some(plaintext));
        }
    }

    #[test]
    fn layout_and_alphabet() {
        let sealer = sealer(&[1]);
        let sealed = sealer.seal(NAME, b"hello");
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{sealed}"
        );
        let bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        assert_eq!(bytes.len(), MIN_SEALED_LEN + 5);
        assert_eq!(bytes[0], VERSION);
        assert_eq!(bytes[1..HEADER_LEN], sealer.keys.newest().id);
        assert!(
            !bytes.windows(5).any(|w| w == b"hello"),
            "the plaintext is encrypted"
        );
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(sealer.seal(NAME, b""))
                .unwrap()
                .len(),
            33
        );
    }

    #[test]
    fn seals_are_randomized() {
        let sealer = sealer(&[1]);
        assert_ne!(sealer.seal(NAME, b"same"), sealer.seal(NAME, b"same"));
    }

    #[test]
    fn wrong_name_fails() {
        let sealer = sealer(&[1]);
        let sealed = sealer.seal(NAME, b"payload");
        for other in [
            "__Host-logi.session.1",
            "__Host-logi.Session",
            "",
            "__Host-logi.sessio",
        ] {
            assert_eq!(sealer.open(other, &sealed), None, "{other}");
        }
        let long = "n".repeat(300);
        let sealed = sealer.seal(&long, b"payload");
        assert_eq!(
            sealer.open(&long, &sealed).as_deref(),
            Some(&b"payload"[..])
        );
        assert_eq!(sealer.open(&long[1..], &sealed), None);
    }

    #[test]
    fn rotation() {
        let old = sealer(&[1]);
        let sealed_old = old.seal(NAME, b"old");

        // A new key put first: old values still open, new values use the new key.
        let rotated = sealer(&[2, 1]);
        assert_eq!(
            rotated.open(NAME, &sealed_old).as_deref(),
            Some(&b"old"[..])
        );
        let sealed_new = rotated.seal(NAME, b"new");
        let id = URL_SAFE_NO_PAD.decode(&sealed_new).unwrap()[1..HEADER_LEN].to_vec();
        assert_eq!(id, keys(&[2]).newest().id);
        assert_ne!(id, keys(&[1]).newest().id);
        assert_eq!(
            sealer(&[2]).open(NAME, &sealed_new).as_deref(),
            Some(&b"new"[..])
        );
        assert_eq!(
            old.open(NAME, &sealed_new),
            None,
            "the old key alone cannot open it"
        );

        // The old key kept in any position still opens.
        assert!(sealer(&[3, 2, 1]).open(NAME, &sealed_old).is_some());
        assert!(sealer(&[1, 2]).open(NAME, &sealed_new).is_some());

        // The old key removed: its values no longer open.
        assert_eq!(sealer(&[2]).open(NAME, &sealed_old), None);
        assert_eq!(sealer(&[2, 3]).open(NAME, &sealed_old), None);
        assert_eq!(sealer(&[4]).open(NAME, &sealed_new), None);
    }

    #[test]
    fn a_key_id_collision_does_not_open() {
        // Another key whose id is made to look like the sealing key's id.
        let sealer_a = sealer(&[1]);
        let sealed = sealer_a.seal(NAME, b"x");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let other = sealer(&[2]);
        bytes[1..HEADER_LEN].copy_from_slice(&other.keys.newest().id);
        assert_eq!(other.open(NAME, &URL_SAFE_NO_PAD.encode(&bytes)), None);
    }

    #[test]
    fn every_single_character_change_fails() {
        let sealer = sealer(&[1]);
        let sealed = sealer.seal(NAME, b"hi");
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.~ ";
        let mut tampered = sealed.clone().into_bytes();
        for index in 0..tampered.len() {
            let original = tampered[index];
            for &replacement in alphabet.iter().filter(|&&c| c != original) {
                tampered[index] = replacement;
                let text = std::str::from_utf8(&tampered).unwrap();
                assert_eq!(sealer.open(NAME, text), None, "{text}");
            }
            tampered[index] = original;
        }
        assert!(sealer.open(NAME, &sealed).is_some());
    }

    #[test]
    fn every_single_bit_flip_fails() {
        let sealer = sealer(&[1]);
        let bytes = URL_SAFE_NO_PAD
            .decode(sealer.seal(NAME, b"a short value"))
            .unwrap();
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut tampered = bytes.clone();
                tampered[index] ^= 1 << bit;
                let text = URL_SAFE_NO_PAD.encode(&tampered);
                assert_eq!(sealer.open(NAME, &text), None, "byte {index} bit {bit}");
            }
        }
    }

    #[test]
    fn truncation_and_extension_fail() {
        let sealer = sealer(&[1]);
        let sealed = sealer.seal(NAME, b"some session state");
        for len in 0..sealed.len() {
            assert_eq!(sealer.open(NAME, &sealed[..len]), None, "{len}");
        }
        let bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for len in 0..bytes.len() {
            let text = URL_SAFE_NO_PAD.encode(&bytes[..len]);
            assert_eq!(sealer.open(NAME, &text), None, "{len}");
        }
        for suffix in ["A", "AA", "AAAA", "="] {
            assert_eq!(sealer.open(NAME, &format!("{sealed}{suffix}")), None);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(sealer.open(NAME, &URL_SAFE_NO_PAD.encode(&longer)), None);
    }

    #[test]
    fn other_versions_fail() {
        let sealer = sealer(&[1]);
        let mut bytes = URL_SAFE_NO_PAD.decode(sealer.seal(NAME, b"v")).unwrap();
        for version in [0, 2, 0x81, 0xff] {
            bytes[0] = version;
            assert_eq!(sealer.open(NAME, &URL_SAFE_NO_PAD.encode(&bytes)), None);
        }
    }

    #[test]
    fn junk_and_huge_inputs_fail() {
        let sealer = sealer(&[1]);
        let sealed = sealer.seal(NAME, b"v");
        let padded = base64::engine::general_purpose::URL_SAFE
            .encode(URL_SAFE_NO_PAD.decode(&sealed).unwrap());
        let standard = sealed.replace('-', "+").replace('_', "/");
        for junk in [
            String::new(),
            "=".repeat(60),
            " ".repeat(60),
            "\u{e9}".repeat(60),
            "A".repeat(MAX_VALUE_LEN + 1),
            "A".repeat(1 << 20),
            format!(" {sealed}"),
            format!("\"{sealed}\""),
            padded,
        ] {
            assert_eq!(sealer.open(NAME, &junk), None, "{junk:.40}");
        }
        if standard != sealed {
            assert_eq!(sealer.open(NAME, &standard), None);
        }
        assert_eq!(sealer.open(NAME, &"A".repeat(MAX_VALUE_LEN)), None);
    }

    #[test]
    fn clones_share_keys() {
        let a = sealer(&[1]);
        let b = a.clone();
        assert_eq!(
            b.open(NAME, &a.seal(NAME, b"x")).as_deref(),
            Some(&b"x"[..])
        );
        let shown = format!("{a:?}");
        assert!(shown.contains("key_ids"), "{shown}");
        assert!(!shown.contains("0101"), "{shown}");
    }

    proptest! {
        #[test]
        fn prop_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
                           name in "[!-~]{0,200}") {
            let sealer = sealer(&[7, 8]);
            let sealed = sealer.seal(&name, &plaintext);
            prop_assert_eq!(sealer.open(&name, &sealed), Some(plaintext));
        }

        #[test]
        fn prop_open_never_panics_on_text(value in any::<String>(), name in any::<String>()) {
            prop_assert_eq!(sealer(&[1]).open(&name, &value), None);
        }

        #[test]
        fn prop_open_never_panics_on_well_formed_looking_bytes(
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            // A valid version and key id, so the input reaches the AEAD.
            let sealer = sealer(&[1]);
            let mut bytes = header(VERSION, sealer.keys.newest().id).to_vec();
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(sealer.open(NAME, &URL_SAFE_NO_PAD.encode(&bytes)), None);
        }

        #[test]
        fn prop_tampering_fails(plaintext in proptest::collection::vec(any::<u8>(), 0..64),
                                index in any::<prop::sample::Index>(),
                                flip in 1..=255_u8) {
            let sealer = sealer(&[1]);
            let mut bytes = URL_SAFE_NO_PAD.decode(sealer.seal(NAME, &plaintext)).unwrap();
            let index = index.index(bytes.len());
            bytes[index] ^= flip;
            prop_assert_eq!(sealer.open(NAME, &URL_SAFE_NO_PAD.encode(&bytes)), None);
        }
    }
}
