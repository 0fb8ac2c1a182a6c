//! Parsing `X-Logi-Signature` (both formats) and `X-Logi-Timestamp`. No cryptography here: the
//! MAC is compared by the verifier, in constant time.

use super::WebhookErrorKind;

/// The length of an HMAC-SHA256 tag.
pub(crate) const MAC_LEN: usize = 32;

/// The longest `kid` accepted: far above any real key id, short enough to keep logs and the
/// fetch bookkeeping small.
pub(crate) const MAX_KID_LEN: usize = 128;

/// A parsed `X-Logi-Signature`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Signature<'a> {
    /// `sha256=<hex>`: the timestamp comes from `X-Logi-Timestamp`; the key is a legacy secret.
    Legacy { mac: [u8; MAC_LEN] },
    /// `t=<unix>,kid=<kid>,v1=<hex>`.
    Current {
        timestamp: i64,
        kid: &'a str,
        mac: [u8; MAC_LEN],
    },
}

/// Parses the header's value. A value with `,` or starting with `t=` is the current format;
/// `sha256=` is legacy; anything else is malformed.
pub(crate) fn parse(value: &str) -> Result<Signature<'_>, WebhookErrorKind> {
    if value.contains(',') || value.starts_with("t=") {
        parse_current(value)
    } else if let Some(hex) = value.strip_prefix("sha256=") {
        Ok(Signature::Legacy { mac: mac(hex)? })
    } else {
        Err(WebhookErrorKind::MalformedSignature)
    }
}

fn parse_current(value: &str) -> Result<Signature<'_>, WebhookErrorKind> {
    let malformed = WebhookErrorKind::MalformedSignature;
    let (mut timestamp, mut kid, mut mac_hex) = (None, None, None);
    for field in value.split(',') {
        let (name, value) = field.trim().split_once('=').ok_or(malformed)?;
        let slot = match name {
            "t" => &mut timestamp,
            "kid" => &mut kid,
            "v1" => &mut mac_hex,
            // Other schemes (a future `v2`) are ignored, as signature headers usually allow.
            _ => continue,
        };
        // A field given twice is ambiguous: which one did the sender mean?
        if slot.replace(value).is_some() {
            return Err(malformed);
        }
    }
    let (Some(timestamp), Some(kid), Some(mac_hex)) = (timestamp, kid, mac_hex) else {
        return Err(malformed);
    };
    if kid.is_empty()
        || kid.len() > MAX_KID_LEN
        || !kid.bytes().all(|b| b.is_ascii_graphic() && b != b',')
    {
        return Err(malformed);
    }
    Ok(Signature::Current {
        timestamp: parse_timestamp(timestamp).ok_or(malformed)?,
        kid,
        mac: mac(mac_hex)?,
    })
}

/// Unix seconds: ASCII digits only (no sign, no spaces), at most 12 of them.
pub(crate) fn parse_timestamp(value: &str) -> Option<i64> {
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Exactly 64 hex digits, either case.
fn mac(hex: &str) -> Result<[u8; MAC_LEN], WebhookErrorKind> {
    let hex = hex.as_bytes();
    if hex.len() != MAC_LEN * 2 {
        return Err(WebhookErrorKind::MalformedSignature);
    }
    let mut out = [0; MAC_LEN];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(high), Some(low)) = (nibble(pair[0]), nibble(pair[1])) else {
            return Err(WebhookErrorKind::MalformedSignature);
        };
        *byte = high << 4 | low;
    }
    Ok(out)
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

    fn expected_mac() -> [u8; MAC_LEN] {
        let mut mac = [0; MAC_LEN];
        for (i, byte) in mac.iter_mut().enumerate() {
            *byte = u8::try_from(i % 16).unwrap() * 0x11;
        }
        mac
    }

    #[test]
    fn reads_the_legacy_format() {
        assert_eq!(
            parse(&format!("sha256={HEX}")),
            Ok(Signature::Legacy {
                mac: expected_mac()
            })
        );
    }

    #[test]
    fn reads_the_current_format_in_any_field_order() {
        let expected = Signature::Current {
            timestamp: 1_700_000_000,
            kid: "k2",
            mac: expected_mac(),
        };
        assert_eq!(
            parse(&format!("t=1700000000,kid=k2,v1={HEX}")),
            Ok(expected)
        );
        let expected = Signature::Current {
            timestamp: 1_700_000_000,
            kid: "k2",
            mac: expected_mac(),
        };
        assert_eq!(
            parse(&format!("v1={HEX}, kid=k2, t=1700000000, v0=ignored")),
            Ok(expected)
        );
    }

    #[test]
    fn refuses_malformed_values() {
        let malformed = Err(WebhookErrorKind::MalformedSignature);
        for value in [
            String::new(),
            "sha256=".to_owned(),
            format!("sha1={HEX}"),
            format!("sha256={}", &HEX[..62]),
            format!("sha256={HEX}00"),
            format!("sha256={}zz", &HEX[..62]),
            format!("sha256=+{}", &HEX[1..]),
            HEX.to_owned(),
            "t=1700000000".to_owned(),
            format!("t=1700000000,v1={HEX}"),
            format!("kid=k2,v1={HEX}"),
            format!("t=,kid=k2,v1={HEX}"),
            format!("t=-5,kid=k2,v1={HEX}"),
            format!("t=+5,kid=k2,v1={HEX}"),
            format!("t=1700000000000000,kid=k2,v1={HEX}"),
            format!("t=1700000000,kid=,v1={HEX}"),
            format!("t=1700000000,kid=a b,v1={HEX}"),
            format!("t=1700000000,kid={},v1={HEX}", "k".repeat(MAX_KID_LEN + 1)),
            format!("t=1700000000,kid=k2,v1={HEX},v1={HEX}"),
            format!("t=1,t=1700000000,kid=k2,v1={HEX}"),
            format!("t=1700000000,kid=k2,kid=k3,v1={HEX}"),
            format!("t=1700000000,kid=k2,v1={HEX},"),
            format!("t=1700000000,kid=k2,sha256={HEX}"),
        ] {
            assert_eq!(parse(&value), malformed, "{value:?}");
        }
    }

    #[test]
    fn timestamps_are_plain_unix_seconds() {
        assert_eq!(parse_timestamp("1700000000"), Some(1_700_000_000));
        for bad in [
            "",
            " 1",
            "1 ",
            "-1",
            "+1",
            "1.5",
            "1e9",
            "0x10",
            "9999999999999",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn hex(bytes: &[u8]) -> String {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }

        proptest! {
            #[test]
            fn never_panics(value in ".{0,200}") {
                let _ = parse(&value);
            }

            #[test]
            fn never_panics_near_the_format(
                value in "(t=[0-9+-]{0,14}|kid=[ -~]{0,10}|v1=[0-9a-fA-Fg]{0,66}|sha256=[0-9a-f]{0,66}|,| ){0,8}"
            ) {
                let _ = parse(&value);
            }

            #[test]
            fn reads_back_what_logi_writes(
                timestamp in 0_i64..=999_999_999_999,
                kid in "[!-+--~]{1,128}",
                mac in proptest::array::uniform32(any::<u8>()),
            ) {
                let value = format!("t={timestamp},kid={kid},v1={}", hex(&mac));
                prop_assert_eq!(parse(&value), Ok(Signature::Current { timestamp, kid: &kid, mac }));
                let legacy = format!("sha256={}", hex(&mac));
                prop_assert_eq!(parse(&legacy), Ok(Signature::Legacy { mac }));
            }
        }
    }
}
