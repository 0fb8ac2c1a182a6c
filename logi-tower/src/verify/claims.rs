//! The registered claims every check reads, parsed in one pass.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// The claims the verifier checks. Everything else stays in the raw payload.
#[derive(Deserialize, Default)]
pub(crate) struct Registered {
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<String>,
    #[serde(default)]
    pub(crate) aud: Audience,
    pub(crate) azp: Option<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub(crate) exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub(crate) iat: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub(crate) nbf: Option<i64>,
    pub(crate) nonce: Option<String>,
    pub(crate) at_hash: Option<String>,
    pub(crate) sid: Option<String>,
}

/// `aud`: one string or an array of strings.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Audience(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Audience(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A JSON number of seconds since the epoch; fractions are truncated.
pub(crate) fn numeric_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number of seconds")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom("date out of range"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_finite() && v.abs() < 1e15 {
                // Truncation is what RFC 7519's NumericDate allows for fractional seconds.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(v as i64))
            } else {
                Err(E::custom("date out of range"))
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(V)
}

/// A JSON string, borrowed from the JSON unless it has escapes. (`Cow<str>` alone would
/// always copy: serde borrows it only in derived fields marked `#[serde(borrow)]`.)
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(PhantomData<Text<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visit(PhantomData))
    }
}
