//! The provider's state, shared by the handle and the server: configuration, registrations,
//! keys, counters, faults and grants, and the tokens minted from them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::client::TestClient;
use super::endpoint::{Endpoint, Fault};
use super::grants::{Grants, Issued};
use super::keys::{self, SigningKey, at_hash, now_secs, random_hex};
use super::user::TestUser;

/// The `events` member that makes a JWT a back-channel logout token.
pub(crate) const BACKCHANNEL_LOGOUT_EVENT: &str =
    "http://schemas.openid.net/event/backchannel-logout";

/// What the builder fixed; never changes while the provider runs.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The `iss` of every token and of discovery.
    pub(crate) issuer: String,
    /// Where the endpoints are: `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    pub(crate) interactive: bool,
    pub(crate) access_token_ttl: Duration,
    pub(crate) id_token_ttl: Duration,
    pub(crate) refresh_token_ttl: Duration,
    pub(crate) code_ttl: Duration,
    pub(crate) jwks_max_age: Duration,
    pub(crate) identity_claims_in_id_token: bool,
    pub(crate) end_session_endpoint: bool,
    /// Access tokens are random strings known only to the provider (validated by
    /// introspection or userinfo), not JWTs.
    pub(crate) opaque_access_tokens: bool,
    pub(crate) introspection_endpoint: bool,
}

/// Everything that changes, behind one mutex. Locks are short and never held across `.await`.
pub(crate) struct Store {
    pub(crate) clients: Vec<TestClient>,
    pub(crate) users: Vec<TestUser>,
    /// Every published key; the last one signs.
    keys: Vec<Arc<SigningKey>>,
    faults: HashMap<Endpoint, Fault>,
    pub(crate) deny_next_authorization: bool,
    pub(crate) omit_next_id_token: bool,
    pub(crate) grants: Grants,
    /// Opaque access token → its claims.
    pub(crate) opaque_tokens: HashMap<String, Map<String, Value>>,
    /// The status of each back-channel logout delivered, in order (0: no answer).
    pub(crate) backchannel_logouts: Vec<u16>,
}

/// The state shared by every handle and the server.
/// Opaque tokens are the keys of `opaque_tokens`: counted, not shown.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("clients", &self.clients)
            .field("users", &self.users)
            .field("keys", &self.keys)
            .field("grants", &self.grants)
            .field("opaque_tokens", &self.opaque_tokens.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(crate) struct ProviderState {
    pub(crate) config: Config,
    calls: [AtomicU64; Endpoint::ALL.len()],
    store: Mutex<Store>,
}

/// A verified access token's claims that matter to the provider.
#[derive(Debug)]
pub(crate) struct AccessToken {
    pub(crate) sub: String,
    pub(crate) scopes: Vec<String>,
}

impl ProviderState {
    pub(crate) fn new(
        config: Config,
        clients: Vec<TestClient>,
        users: Vec<TestUser>,
        key: SigningKey,
    ) -> Self {
        Self {
            config,
            calls: Default::default(),
            store: Mutex::new(Store {
                clients,
                users,
                keys: vec![Arc::new(key)],
                faults: HashMap::new(),
                deny_next_authorization: false,
                omit_next_id_token: false,
                grants: Grants::default(),
                opaque_tokens: HashMap::new(),
                backchannel_logouts: Vec::new(),
            }),
        }
    }

    /// The store, for one short critical section.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere leaves the maps consistent enough for a test server.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn count(&self, endpoint: Endpoint) {
        self.calls[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn calls(&self, endpoint: Endpoint) -> u64 {
        self.calls[endpoint.index()].load(Ordering::Relaxed)
    }

    pub(crate) fn reset_calls(&self) {
        for calls in &self.calls {
            calls.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn fault(&self, endpoint: Endpoint) -> Option<Fault> {
        self.lock().faults.get(&endpoint).copied()
    }

    pub(crate) fn set_fault(&self, endpoint: Endpoint, fault: Option<Fault>) {
        let mut store = self.lock();
        match fault {
            Some(fault) => store.faults.insert(endpoint, fault),
            None => store.faults.remove(&endpoint),
        };
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<TestClient> {
        self.lock()
            .clients
            .iter()
            .find(|client| client.client_id == client_id)
            .cloned()
    }

    /// Registers `client`, replacing one with the same `client_id`.
    pub(crate) fn register_client(&self, client: TestClient) {
        let mut store = self.lock();
        store.clients.retain(|c| c.client_id != client.client_id);
        store.clients.push(client);
    }

    pub(crate) fn user(&self, sub: &str) -> Option<TestUser> {
        self.lock()
            .users
            .iter()
            .find(|user| user.sub == sub)
            .cloned()
    }

    /// Adds `user`, replacing one with the same `sub` (in place, so the order stays).
    pub(crate) fn add_user(&self, user: TestUser) {
        let mut store = self.lock();
        match store.users.iter_mut().find(|u| u.sub == user.sub) {
            Some(existing) => *existing = user,
            None => store.users.push(user),
        }
    }

    pub(crate) fn current_key(&self) -> Arc<SigningKey> {
        let store = self.lock();
        Arc::clone(store.keys.last().expect("the provider always has a key"))
    }

    pub(crate) fn keys(&self) -> Vec<Arc<SigningKey>> {
        self.lock().keys.clone()
    }

    /// Generates a key (outside the lock) and makes it the signing key.
    pub(crate) fn rotate_keys(&self) -> String {
        let key = Arc::new(SigningKey::generate());
        let kid = key.kid().to_owned();
        self.lock().keys.push(key);
        kid
    }

    /// Unpublishes a key. The newest remaining key signs; removing the only key rotates first.
    pub(crate) fn remove_key(&self, kid: &str) {
        let only_key = {
            let store = self.lock();
            store.keys.len() == 1 && store.keys[0].kid() == kid
        };
        if only_key {
            self.rotate_keys();
        }
        self.lock().keys.retain(|key| key.kid() != kid);
    }

    pub(crate) fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys().iter().map(|key| key.jwk()).collect();
        json!({ "keys": keys })
    }

    /// Signs `claims` with the current key and its standard header.
    pub(crate) fn sign_claims(&self, claims: &Value) -> String {
        let key = self.current_key();
        key.sign(&key.header(), claims)
    }

    /// Signs `claims` with the current key under any `header`.
    pub(crate) fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        self.current_key().sign(header, claims)
    }

    /// The baseline claims of an ID token for `client_id` and `sub`.
    pub(crate) fn id_token_claims(&self, client_id: &str, sub: &str) -> Map<String, Value> {
        let now = now_secs();
        let claims = json!({
            "iss": self.config.issuer,
            "aud": client_id,
            "sub": sub,
            "iat": now,
            "exp": now + self.config.id_token_ttl.as_secs(),
            "jti": format!("jti_{}", random_hex(12)),
        });
        match claims {
            Value::Object(claims) => claims,
            _ => unreachable!("a JSON object literal"),
        }
    }

    /// An access token for `client_id` and `sub`, issued in provider session `sid`.
    pub(crate) fn access_token(
        &self,
        client_id: &str,
        sub: &str,
        scopes: &[String],
        sid: &str,
        ttl: Duration,
    ) -> String {
        let now = now_secs();
        let claims = json!({
            "iss": self.config.issuer,
            "sub": sub,
            "aud": client_id,
            "client_id": client_id,
            "iat": now,
            "exp": now + ttl.as_secs(),
            "jti": format!("jti_{}", random_hex(12)),
            "scope": scopes.join(" "),
            "sid": sid,
        });
        if self.config.opaque_access_tokens {
            let token = format!("opq_{}", random_hex(32));
            let Value::Object(claims) = claims else {
                unreachable!("a JSON object literal")
            };
            self.lock().opaque_tokens.insert(token.clone(), claims);
            return token;
        }
        self.sign_claims(&claims)
    }

    /// The claims of an access token this provider issued: a JWT it signed, or an opaque token
    /// it remembers.
    pub(crate) fn access_token_claims(&self, token: &str) -> Option<Map<String, Value>> {
        if let Some(claims) = self.lock().opaque_tokens.get(token) {
            return Some(claims.clone());
        }
        self.own_jwt(token)
    }

    /// The ID token issued with `access_token` for a grant.
    pub(crate) fn id_token(&self, issued: &Issued, access_token: &str) -> String {
        let mut claims = self.id_token_claims(&issued.client_id, &issued.sub);
        claims.insert("auth_time".into(), issued.auth_time.into());
        claims.insert("sid".into(), issued.sid.clone().into());
        claims.insert("at_hash".into(), at_hash(access_token).into());
        if let Some(nonce) = &issued.nonce {
            claims.insert("nonce".into(), nonce.clone().into());
        }
        if self.config.identity_claims_in_id_token
            && let Some(user) = self.user(&issued.sub)
        {
            claims.extend(user.identity_claims(&issued.scopes));
        }
        self.sign_claims(&Value::Object(claims))
    }

    /// A back-channel logout token for `client_id`, naming `sub` and `sid`.
    pub(crate) fn logout_token(&self, client_id: &str, sub: &str, sid: &str) -> String {
        let now = now_secs();
        let claims = json!({
            "iss": self.config.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + 120,
            "jti": format!("jti_{}", random_hex(12)),
            "sub": sub,
            "sid": sid,
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        let key = self.current_key();
        let header = json!({ "alg": "RS256", "kid": key.kid(), "typ": "logout+jwt" });
        key.sign(&header, &claims)
    }

    /// The claims of a JWT this provider signed with a published key for its issuer, expired
    /// or not.
    pub(crate) fn own_jwt(&self, token: &str) -> Option<Map<String, Value>> {
        let keys = self.keys();
        let claims = keys::verify(keys.iter().map(|key| &**key), token)?;
        (claims.get("iss")?.as_str()? == self.config.issuer).then_some(claims)
    }

    /// Verifies a bearer access token: signature, issuer, shape, expiry, revocation.
    pub(crate) fn verify_access_token(&self, token: &str) -> Result<AccessToken, &'static str> {
        let claims = self
            .access_token_claims(token)
            .ok_or("access token invalid")?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        // An ID token has no `client_id` or `scope`: it is not accepted here.
        let (Some(sub), Some(_client_id), Some(scope), Some(jti), Some(exp)) = (
            text("sub"),
            text("client_id"),
            text("scope"),
            text("jti"),
            claims.get("exp").and_then(Value::as_u64),
        ) else {
            return Err("not an access token");
        };
        if exp <= now_secs() {
            return Err("access token expired");
        }
        if self.lock().grants.access_token_revoked(jti, text("sid")) {
            return Err("access token revoked");
        }
        Ok(AccessToken {
            sub: sub.to_owned(),
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
        })
    }
}
