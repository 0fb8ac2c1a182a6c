//! What the provider remembers between requests: sign-ins, codes, refresh-token chains,
//! revocations and pending interactive authorizations.
//!
//! A sign-in opens a provider session (`sid`). Its code, every refresh token rotated from it and
//! every access token issued in it form one chain, revoked together: by refresh-token reuse or by
//! revoking any refresh token of the chain.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::keys::{now_secs, pkce_matches, random_hex, random_token};
use super::respond::OAuthError;

/// How long an interactive sign-in page stays answerable.
const PENDING_TTL: Duration = Duration::from_secs(600);

/// A validated authorization request.
#[derive(Debug, Clone)]
pub(crate) struct Authorization {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: String,
    pub(crate) login_hint: Option<String>,
}

/// What a successful grant entitles the client to: the token endpoint mints tokens from it.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) client_id: String,
    pub(crate) sub: String,
    pub(crate) sid: String,
    pub(crate) scopes: Vec<String>,
    /// Only for the ID token of a code exchange.
    pub(crate) nonce: Option<String>,
    pub(crate) auth_time: u64,
}

#[derive(Debug)]
struct Session {
    client_id: String,
    sub: String,
    auth_time: u64,
    /// The scopes of the sign-in; a refresh may narrow them, never widen them.
    scopes: Vec<String>,
    revoked: bool,
}

#[derive(Debug)]
struct Code {
    sid: String,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    expires_at: Instant,
    used: bool,
}

#[derive(Debug)]
struct RefreshToken {
    sid: String,
    client_id: String,
    expires_at: Instant,
    used: bool,
}

#[derive(Debug)]
struct Pending {
    authorization: Authorization,
    expires_at: Instant,
}

/// Every grant the provider has issued.
#[derive(Default)]
pub(crate) struct Grants {
    sessions: HashMap<String, Session>,
    codes: HashMap<String, Code>,
    refresh_tokens: HashMap<String, RefreshToken>,
    revoked_access_tokens: HashSet<String>,
    pending: HashMap<String, Pending>,
}

/// Counts only: codes and refresh tokens are the maps' keys.
impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants")
            .field("sessions", &self.sessions.len())
            .field("codes", &self.codes.len())
            .field("refresh_tokens", &self.refresh_tokens.len())
            .field("revoked_access_tokens", &self.revoked_access_tokens.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Grants {
    /// Signs `sub` in for `authorization`: a new provider session and its code.
    pub(crate) fn sign_in(
        &mut self,
        authorization: Authorization,
        sub: &str,
        code_ttl: Duration,
    ) -> String {
        let sid = format!("sid_{}", random_hex(12));
        self.sessions.insert(
            sid.clone(),
            Session {
                client_id: authorization.client_id.clone(),
                sub: sub.to_owned(),
                auth_time: now_secs(),
                scopes: authorization.scopes,
                revoked: false,
            },
        );
        let code = random_token();
        self.codes.insert(
            code.clone(),
            Code {
                sid,
                client_id: authorization.client_id,
                redirect_uri: authorization.redirect_uri,
                code_challenge: authorization.code_challenge,
                nonce: authorization.nonce,
                expires_at: Instant::now() + code_ttl,
                used: false,
            },
        );
        code
    }

    /// Exchanges a code (consumed by the first attempt of its client, whatever the outcome)
    /// for a grant and the chain's first refresh token.
    pub(crate) fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        refresh_ttl: Duration,
    ) -> Result<(Issued, String), OAuthError> {
        let record = self
            .codes
            .get_mut(code)
            .ok_or_else(|| OAuthError::invalid_grant("code not found"))?;
        if record.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "code was issued to another client",
            ));
        }
        if record.used {
            return Err(OAuthError::invalid_grant("code already used"));
        }
        record.used = true;
        if Instant::now() >= record.expires_at {
            return Err(OAuthError::invalid_grant("code expired"));
        }
        if redirect_uri != Some(record.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant("redirect_uri mismatch"));
        }
        if !code_verifier.is_some_and(|verifier| pkce_matches(verifier, &record.code_challenge)) {
            return Err(OAuthError::invalid_grant("PKCE verifier mismatch"));
        }
        let sid = record.sid.clone();
        let nonce = record.nonce.clone();
        let mut issued = self.issued(&sid)?;
        issued.nonce = nonce;
        let refresh_token = self.new_refresh_token(&sid, client_id, refresh_ttl);
        Ok((issued, refresh_token))
    }

    /// Rotates a refresh token: the presented one is spent, a new one of the same chain comes
    /// back. Presenting a spent token revokes the chain.
    pub(crate) fn refresh(
        &mut self,
        token: &str,
        client_id: &str,
        scopes: Option<Vec<String>>,
        refresh_ttl: Duration,
    ) -> Result<(Issued, String), OAuthError> {
        let record = self
            .refresh_tokens
            .get_mut(token)
            .ok_or_else(|| OAuthError::invalid_grant("refresh token not found"))?;
        if record.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "refresh token was issued to another client",
            ));
        }
        let session = self
            .sessions
            .get_mut(&record.sid)
            .ok_or_else(|| OAuthError::invalid_grant("refresh token not found"))?;
        if session.revoked {
            return Err(OAuthError::invalid_grant("refresh token revoked"));
        }
        if record.used {
            session.revoked = true;
            return Err(OAuthError::invalid_grant(
                "refresh token reuse detected; chain revoked",
            ));
        }
        if Instant::now() >= record.expires_at {
            return Err(OAuthError::invalid_grant("refresh token expired"));
        }
        if let Some(scopes) = &scopes
            && let Some(extra) = scopes.iter().find(|s| !session.scopes.contains(s))
        {
            return Err(OAuthError::invalid_scope(format!(
                "scope `{extra}` was not granted"
            )));
        }
        record.used = true;
        let sid = record.sid.clone();
        let mut issued = self.issued(&sid)?;
        if let Some(scopes) = scopes {
            issued.scopes = scopes;
        }
        let refresh_token = self.new_refresh_token(&sid, client_id, refresh_ttl);
        Ok((issued, refresh_token))
    }

    /// Revokes the chain of a refresh token of `client_id`. Returns whether `token` is a
    /// refresh token at all (one of another client is left alone).
    pub(crate) fn revoke_refresh_token(&mut self, token: &str, client_id: &str) -> bool {
        let Some(record) = self.refresh_tokens.get(token) else {
            return false;
        };
        if record.client_id == client_id
            && let Some(session) = self.sessions.get_mut(&record.sid)
        {
            session.revoked = true;
        }
        true
    }

    /// Revokes one access token by its `jti`.
    pub(crate) fn revoke_access_token(&mut self, jti: &str) {
        self.revoked_access_tokens.insert(jti.to_owned());
    }

    /// The sessions of `sub` that were not revoked, oldest first.
    pub(crate) fn session_ids(&self, sub: &str) -> Vec<String> {
        let mut sessions: Vec<(&String, &Session)> = self
            .sessions
            .iter()
            .filter(|(_, session)| session.sub == sub && !session.revoked)
            .collect();
        sessions.sort_by_key(|(sid, session)| (session.auth_time, *sid));
        sessions.into_iter().map(|(sid, _)| sid.clone()).collect()
    }

    /// Whether the access token `jti`, issued in session `sid`, was revoked.
    pub(crate) fn access_token_revoked(&self, jti: &str, sid: Option<&str>) -> bool {
        self.revoked_access_tokens.contains(jti)
            || sid
                .and_then(|sid| self.sessions.get(sid))
                .is_some_and(|session| session.revoked)
    }

    /// Keeps an authorization for the interactive page; returns its opaque, single-use id.
    pub(crate) fn park(&mut self, authorization: Authorization) -> String {
        let now = Instant::now();
        self.pending.retain(|_, pending| pending.expires_at > now);
        let id = random_token();
        self.pending.insert(
            id.clone(),
            Pending {
                authorization,
                expires_at: now + PENDING_TTL,
            },
        );
        id
    }

    /// Takes back a parked authorization, once.
    pub(crate) fn unpark(&mut self, id: &str) -> Option<Authorization> {
        let pending = self.pending.remove(id)?;
        (Instant::now() < pending.expires_at).then_some(pending.authorization)
    }

    fn issued(&self, sid: &str) -> Result<Issued, OAuthError> {
        let session = self
            .sessions
            .get(sid)
            .ok_or_else(|| OAuthError::invalid_grant("session not found"))?;
        Ok(Issued {
            client_id: session.client_id.clone(),
            sub: session.sub.clone(),
            sid: sid.to_owned(),
            scopes: session.scopes.clone(),
            nonce: None,
            auth_time: session.auth_time,
        })
    }

    fn new_refresh_token(&mut self, sid: &str, client_id: &str, ttl: Duration) -> String {
        let token = random_token();
        self.refresh_tokens.insert(
            token.clone(),
            RefreshToken {
                sid: sid.to_owned(),
                client_id: client_id.to_owned(),
                expires_at: Instant::now() + ttl,
                used: false,
            },
        );
        token
    }
}
