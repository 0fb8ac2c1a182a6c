//! Verified logi events: a typed name, the payload as JSON, and the exact bytes that were signed.
//! Must not touch: signatures, keys or the replay memory; an event is parsed only from a body the
//! verifier has accepted.

use std::fmt;

use bytes::Bytes;
use serde_json::Value;

use super::WebhookErrorKind;

/// What happened, read from the payload's `type` field (or `event`, which some deliveries use).
///
/// logi's payload schema is not published, so only the name is typed; everything else stays in
/// [`LogiEvent::payload`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `user.deleted`: the user deleted their logi account.
    UserDeleted,
    /// `user.unlinked`: the user unlinked this app from their logi account.
    UserUnlinked,
    /// `consent.revoked`: the user withdrew their consent to this app.
    ConsentRevoked,
    /// `token.revoked`: tokens issued to this app for the user were revoked.
    TokenRevoked,
    /// `user.merged`: two logi accounts were merged.
    UserMerged,
    /// `user.grants_revoked`: every grant the user gave this app was revoked.
    UserGrantsRevoked,
    /// `webhook_key.compromised`: a webhook signing key must no longer be trusted.
    WebhookKeyCompromised,
    /// An event this version of the crate does not know, with its name as sent.
    Unknown(String),
}

impl EventKind {
    /// The kind for an event name.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name {
            "user.deleted" => Self::UserDeleted,
            "user.unlinked" => Self::UserUnlinked,
            "consent.revoked" => Self::ConsentRevoked,
            "token.revoked" => Self::TokenRevoked,
            "user.merged" => Self::UserMerged,
            "user.grants_revoked" => Self::UserGrantsRevoked,
            "webhook_key.compromised" => Self::WebhookKeyCompromised,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The event's name as logi sends it (`user.deleted`, …).
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::UserDeleted => "user.deleted",
            Self::UserUnlinked => "user.unlinked",
            Self::ConsentRevoked => "consent.revoked",
            Self::TokenRevoked => "token.revoked",
            Self::UserMerged => "user.merged",
            Self::UserGrantsRevoked => "user.grants_revoked",
            Self::WebhookKeyCompromised => "webhook_key.compromised",
            Self::Unknown(name) => name,
        }
    }

    /// Whether the event withdraws the user's access to this app: `user.deleted`,
    /// `user.unlinked`, `consent.revoked`, `token.revoked` and `user.grants_revoked`. An app
    /// should end that user's sessions and drop their tokens.
    #[must_use]
    pub fn withdraws_access(&self) -> bool {
        matches!(
            self,
            Self::UserDeleted
                | Self::UserUnlinked
                | Self::ConsentRevoked
                | Self::TokenRevoked
                | Self::UserGrantsRevoked
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A webhook delivery whose signature, timestamp and freshness were verified.
///
/// Only the verifier creates one, so holding a `LogiEvent` means the delivery came from logi.
/// Its `Debug` output shows the name, key id and timestamp, never the payload (it may carry
/// personal data).
#[derive(Clone)]
pub struct LogiEvent {
    kind: EventKind,
    payload: Value,
    raw: Bytes,
    key_id: Option<String>,
    timestamp: i64,
}

impl LogiEvent {
    /// Reads a verified body: a JSON object naming its event in `type` (or `event`; when both
    /// are present they must agree).
    pub(crate) fn parse(
        raw: Bytes,
        key_id: Option<String>,
        timestamp: i64,
    ) -> Result<Self, WebhookErrorKind> {
        let malformed = WebhookErrorKind::MalformedPayload;
        let payload: Value = serde_json::from_slice(&raw).map_err(|_| malformed)?;
        let object = payload.as_object().ok_or(malformed)?;
        let name = |field: &str| match object.get(field) {
            None => Ok(None),
            Some(Value::String(name)) if !name.is_empty() => Ok(Some(name.as_str())),
            Some(_) => Err(malformed),
        };
        let name = match (name("type")?, name("event")?) {
            (Some(a), Some(b)) if a != b => return Err(malformed),
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) => return Err(malformed),
        };
        Ok(Self {
            kind: EventKind::from_name(name),
            payload,
            raw,
            key_id,
            timestamp,
        })
    }

    /// What happened.
    #[must_use]
    pub fn kind(&self) -> &EventKind {
        &self.kind
    }

    /// The event's name as sent (`user.deleted`, …).
    #[must_use]
    pub fn name(&self) -> &str {
        self.kind.name()
    }

    /// The whole payload as JSON.
    #[must_use]
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The exact bytes that were signed.
    #[must_use]
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The `kid` of the key that signed the delivery; `None` for the legacy `sha256=` format.
    #[must_use]
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The delivery's timestamp (Unix seconds), as sent. Note that logi's MAC covers the body
    /// only, not this timestamp.
    #[must_use]
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The user the event is about: the payload's `sub`, else `data.sub`, else `user.sub` (the
    /// payload schema is not published). It is pairwise, as in the user's ID token: key it on
    /// (issuer, `sub`).
    #[must_use]
    pub fn sub(&self) -> Option<&str> {
        let top = &self.payload;
        [&top["sub"], &top["data"]["sub"], &top["user"]["sub"]]
            .into_iter()
            .find_map(|value| value.as_str().filter(|sub| !sub.is_empty()))
    }

    /// Whether the event withdraws the user's access ([`EventKind::withdraws_access`]).
    #[must_use]
    pub fn withdraws_access(&self) -> bool {
        self.kind.withdraws_access()
    }

    /// The `sub` whose access this event withdraws: `Some` only for an access-withdrawing event
    /// that names its user. The hook for ending that user's sessions.
    #[must_use]
    pub fn access_withdrawn_from(&self) -> Option<&str> {
        self.withdraws_access().then(|| self.sub()).flatten()
    }
}

impl fmt::Debug for LogiEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogiEvent")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("timestamp", &self.timestamp)
            .field("payload_bytes", &self.raw.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<LogiEvent, WebhookErrorKind> {
        LogiEvent::parse(Bytes::copy_from_slice(json.as_bytes()), None, 0)
    }

    #[test]
    fn names_round_trip() {
        for name in [
            "user.deleted",
            "user.unlinked",
            "consent.revoked",
            "token.revoked",
            "user.merged",
            "user.grants_revoked",
            "webhook_key.compromised",
            "something.new",
        ] {
            assert_eq!(EventKind::from_name(name).name(), name);
        }
        assert_eq!(
            EventKind::from_name("x.y"),
            EventKind::Unknown("x.y".into())
        );
    }

    #[test]
    fn reads_the_name_from_type_or_event() {
        assert_eq!(
            parse(r#"{"type":"user.deleted"}"#).unwrap().kind(),
            &EventKind::UserDeleted
        );
        assert_eq!(
            parse(r#"{"event":"user.merged"}"#).unwrap().kind(),
            &EventKind::UserMerged
        );
        assert_eq!(
            parse(r#"{"type":"token.revoked","event":"token.revoked"}"#)
                .unwrap()
                .name(),
            "token.revoked"
        );
    }

    #[test]
    fn refuses_payloads_without_a_clear_name() {
        for json in [
            "",
            "not json",
            "[]",
            r#""user.deleted""#,
            "{}",
            r#"{"type":""}"#,
            r#"{"type":7}"#,
            r#"{"type":"user.deleted","event":"user.merged"}"#,
            r#"{"type":null,"event":"user.merged"}"#,
        ] {
            assert_eq!(
                parse(json).err(),
                Some(WebhookErrorKind::MalformedPayload),
                "{json}"
            );
        }
    }

    #[test]
    fn says_whose_access_is_withdrawn() {
        let event = parse(r#"{"type":"consent.revoked","data":{"sub":"u-1"}}"#).unwrap();
        assert!(event.withdraws_access());
        assert_eq!(event.access_withdrawn_from(), Some("u-1"));

        let event = parse(r#"{"type":"user.merged","sub":"u-1"}"#).unwrap();
        assert!(!event.withdraws_access());
        assert_eq!(event.sub(), Some("u-1"));
        assert_eq!(event.access_withdrawn_from(), None);
    }

    #[test]
    fn debug_shows_no_payload() {
        let event = parse(r#"{"type":"user.deleted","email":"someone@example.com"}"#).unwrap();
        let debug = format!("{event:?}");
        assert!(!debug.contains("someone"), "{debug}");
        assert!(debug.contains("UserDeleted"), "{debug}");
    }
}
