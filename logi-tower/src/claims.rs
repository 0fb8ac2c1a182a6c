//! Typed identity claims: logi's standard ones, or the app's own type.
//! Surface: owns reading claims into types; must not verify anything (the claims it reads were
//! verified by `verify` or the provider).

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::user::Principal;

/// A string claim.
pub(crate) fn str_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// `email_verified`; `false` when absent or not a boolean.
pub(crate) fn email_verified(claims: &Map<String, Value>) -> bool {
    claims
        .get("email_verified")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A display name: `name`, else logi's `full_name`, else `preferred_name`.
pub(crate) fn display_name(claims: &Map<String, Value>) -> Option<&str> {
    str_claim(claims, "name")
        .or_else(|| str_claim(claims, "full_name"))
        .or_else(|| str_claim(claims, "preferred_name"))
}

/// logi's standard identity claims: what [`LogiUser`](crate::LogiUser) reads by default.
///
/// Which claims are present depends on the scopes granted: `profile:basic` gives
/// `preferred_name` and `full_name`, `email` gives `email` and `email_verified`, `phone` gives
/// `phone_number` and `phone_number_verified`, `identity:level` gives
/// `identity_verified_level`. A claim that is absent, or whose value does not have the expected
/// type, is `None`: reading the standard claims never fails.
///
/// For claims of your own (`<namespace>:<key>` scopes), take a `LogiUser<YourClaims>` instead.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use logi::LogiUser;
///
/// async fn account(user: LogiUser) -> String {
///     let claims = user.claims();
///     match claims.identity_verified_level {
///         Some(level) if level >= 2 => format!("{} (verified)", claims.sub),
///         _ => claims.sub.clone(),
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct StandardClaims {
    /// The user's identifier at this client.
    pub sub: String,
    /// The issuer that vouches for the user.
    pub iss: String,
    /// The user's email address.
    #[serde(default, deserialize_with = "lenient")]
    pub email: Option<String>,
    /// Whether logi verified [`email`](Self::email).
    #[serde(default, deserialize_with = "lenient")]
    pub email_verified: Option<bool>,
    /// A display name (OpenID Connect's `name`).
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    /// logi's full name.
    #[serde(default, deserialize_with = "lenient")]
    pub full_name: Option<String>,
    /// The name the user prefers to be called by.
    #[serde(default, deserialize_with = "lenient")]
    pub preferred_name: Option<String>,
    /// How thoroughly logi verified the user's identity, 0 (not at all) to 3.
    #[serde(default, deserialize_with = "lenient")]
    pub identity_verified_level: Option<u8>,
    /// The user's phone number.
    #[serde(default, deserialize_with = "lenient")]
    pub phone_number: Option<String>,
    /// Whether logi verified [`phone_number`](Self::phone_number).
    #[serde(default, deserialize_with = "lenient")]
    pub phone_number_verified: Option<bool>,
}

/// `Some` when the value has `T`'s shape, `None` otherwise (a provider that sends
/// `"email_verified": "true"` does not make the standard claims unreadable).
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).ok())
}

/// Every claim of `principal` (`sub` and `iss` included) deserialized into `C`, without copying
/// the claims.
pub(crate) fn deserialize<C: DeserializeOwned>(
    principal: &Principal,
) -> Result<C, serde_json::Error> {
    C::deserialize(ClaimsDeserializer { principal })
}

/// Presents a principal as one JSON object: `sub`, `iss`, then the identity claims.
struct ClaimsDeserializer<'a> {
    principal: &'a Principal,
}

impl<'de> Deserializer<'de> for ClaimsDeserializer<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let p = self.principal;
        let claims = p
            .claims
            .iter()
            .filter(|(k, _)| k.as_str() != "sub" && k.as_str() != "iss")
            .map(|(k, v)| (k.as_str(), Claim::Json(v)));
        visitor.visit_map(Claims {
            entries: [("sub", Claim::Str(&p.sub)), ("iss", Claim::Str(&p.iss))]
                .into_iter()
                .chain(claims),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

#[derive(Clone, Copy)]
enum Claim<'a> {
    Str(&'a str),
    Json(&'a Value),
}

struct Claims<'a, I> {
    entries: I,
    value: Option<Claim<'a>>,
}

impl<'de, I> MapAccess<'de> for Claims<'de, I>
where
    I: Iterator<Item = (&'de str, Claim<'de>)>,
{
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value.take() {
            Some(Claim::Json(value)) => seed.deserialize(value),
            Some(Claim::Str(text)) => seed.deserialize(StrClaim(text)),
            None => Err(de::Error::custom(
                "a claim's value was asked for before its name",
            )),
        }
    }
}

/// A string claim that also fits an `Option<String>` field, as a JSON string would.
struct StrClaim<'a>(&'a str);

impl<'de> Deserializer<'de> for StrClaim<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_enum(IntoDeserializer::<serde_json::Error>::into_deserializer(
            self.0,
        ))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Secret;

    fn principal(claims: Value) -> Principal {
        Principal {
            iss: "https://issuer.example".into(),
            sub: "user-0001".into(),
            claims: serde_json::from_value(claims).unwrap(),
            scopes: vec!["openid".into()],
            access_token: Secret::new("at".to_owned()),
            standard_claims: std::sync::OnceLock::new(),
        }
    }

    #[test]
    fn standard_claims_are_typed_and_never_fail() {
        let p = principal(json!({
            "email": "ada@example.com",
            "email_verified": "yes",
            "full_name": "Ada Lovelace",
            "identity_verified_level": 2,
            "org:tier": "gold",
        }));
        let claims: StandardClaims = deserialize(&p).unwrap();
        assert_eq!(claims.sub, "user-0001");
        assert_eq!(claims.iss, "https://issuer.example");
        assert_eq!(claims.email.as_deref(), Some("ada@example.com"));
        assert_eq!(claims.email_verified, None, "a string is not a bool");
        assert_eq!(claims.full_name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(claims.identity_verified_level, Some(2));
        assert_eq!(claims.name, None);
    }

    #[test]
    fn app_claims_see_sub_iss_and_custom_claims() {
        #[derive(Deserialize)]
        struct Mine {
            sub: Option<String>,
            iss: String,
            #[serde(rename = "org:tier")]
            tier: Tier,
            #[serde(default)]
            identity_verified_level: u8,
            #[serde(flatten)]
            rest: serde_json::Map<String, Value>,
        }
        #[derive(Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Tier {
            Gold,
        }
        // A stray `sub` among the identity claims does not make a duplicate field.
        let p = principal(json!({"org:tier": "gold", "sub": "other", "x": [1]}));
        let mine: Mine = deserialize(&p).unwrap();
        assert_eq!(mine.sub.as_deref(), Some("user-0001"));
        assert_eq!(mine.iss, "https://issuer.example");
        assert_eq!(mine.tier, Tier::Gold);
        assert_eq!(mine.identity_verified_level, 0);
        assert_eq!(mine.rest.get("x"), Some(&json!([1])));

        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Strict {
            identity_verified_level: u8,
        }
        let error = deserialize::<Strict>(&principal(json!({}))).unwrap_err();
        assert!(
            error.to_string().contains("identity_verified_level"),
            "{error}"
        );
    }
}
