//! What a signed-in session holds.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A signed-in session: who the user is, their tokens, and its timestamps (Unix seconds).
///
/// Serialized compactly (short field names): it travels in a cookie on every request.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SessionData {
    /// Issuer.
    pub(crate) iss: String,
    /// Subject at this client.
    pub(crate) sub: String,
    /// Identity claims (email, name, …) from the ID token and userinfo.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub(crate) claims: serde_json::Map<String, serde_json::Value>,
    /// Granted scopes, space separated.
    #[serde(default)]
    pub(crate) scope: String,
    /// Access token.
    pub(crate) at: String,
    /// When the access token was received.
    #[serde(default)]
    pub(crate) at_iat: i64,
    /// Access token expiry.
    pub(crate) at_exp: i64,
    /// Refresh token, when the provider issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rt: Option<String>,
    /// The latest ID token (the `id_token_hint` at sign-out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) idt: Option<String>,
    /// The sign-in's nonce: a refreshed ID token must carry it or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nonce: Option<String>,
    /// The provider's session id (`sid`), for back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) psid: Option<String>,
    /// This session's own id, random, drawn at sign-in ([`SessionData::new_id`]): signing out
    /// puts it on the sign-out denylist, so that every copy of the cookie ends with it (see
    /// [`signout`](super::signout)). `None` in sessions sealed before sessions had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// When the user signed in.
    pub(crate) created: i64,
    /// When the user signed in, in Unix milliseconds: ordered against sign-outs (see
    /// [`created_ms`](Self::created_ms)).
    #[serde(default)]
    pub(crate) cms: i64,
    /// The last time the session was renewed (rolling idle expiry).
    pub(crate) seen: i64,
    /// Set while the app's first-login completion is pending: the user is not signed in yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending: Option<Pending>,
}

/// A sign-in the app's `on_sign_in` hook sent to its completion form.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The app's completion form, a local path.
    pub(crate) path: String,
    /// Where the browser goes once the app marks completion.
    pub(crate) return_to: String,
    /// The session ends at this time unless completed (Unix seconds).
    pub(crate) until: i64,
}

impl SessionData {
    /// A new session id: 128 bits from the system's random generator (aws-lc-rs), base64url.
    pub(crate) fn new_id() -> String {
        crate::random::random_token(16)
    }

    /// When the user signed in, in Unix milliseconds. A session written without it counts from
    /// the start of its `created` second: earlier, never later, than the real time, so a
    /// sign-out in that second still ends it.
    pub(crate) fn created_ms(&self) -> i64 {
        if self.cms > 0 {
            self.cms
        } else {
            self.created.saturating_mul(1000)
        }
    }
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionData")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("scope", &self.scope)
            .field("at_exp", &self.at_exp)
            .field("has_refresh_token", &self.rt.is_some())
            .field("created", &self.created)
            .field("seen", &self.seen)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}
