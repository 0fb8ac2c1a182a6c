//! Transaction cookies: what the callback needs to finish a sign-in (`state`, `nonce`, PKCE
//! verifier, `return_to`), sealed, one cookie per pending sign-in.
//!
//! # Bound to the browser that started the sign-in
//!
//! Each transaction is a `__Host-` cookie (`Secure`, `Path=/`, no `Domain`, `HttpOnly`,
//! `SameSite=Lax`, 10 minutes). Browsers let only this host set a `__Host-` cookie, over a
//! secure connection, so a sibling subdomain (`evil.example.com` next to `app.example.com`)
//! cannot toss into the user's browser a transaction it started in its own browser, and so
//! cannot sign the user into the attacker's account with the attacker's authorization code
//! (login CSRF by cookie tossing). The layer reads transactions under these exact names only:
//! the same sealed value under any other name (unprefixed, `__Secure-`, with a `Domain`) is
//! never looked at, and the sealing binds each value to its name. The callback then needs the
//! `state` sealed in one of this browser's transactions (compared in constant time) and redeems
//! the code with that transaction's PKCE verifier.
//!
//! Nothing else in a browser could serve as a binding the attacker cannot copy: anything a
//! sibling could plant (an unprefixed cookie) it could plant together with its own transaction.
//! So there is no fallback to unprefixed cookies, not even on plain HTTP: an app served on
//! `http://localhost` works because Chromium and Firefox treat `localhost` as a secure context
//! and keep `Secure` and `__Host-` cookies there, as they do the session cookie; any other
//! plain-HTTP origin is refused when the layer is built.
//!
//! # Bounded
//!
//! A browser keeps at most [`SLOTS`] transactions, in cookies of fixed names
//! (`__Host-logi.tx.0` to `__Host-logi.tx.3`): starting one more takes a free slot, else the
//! oldest transaction's, which is dropped (its callback then shows "sign-in expired"). Since the
//! names are fixed, no number of sign-ins, even started all at once, makes more cookies. Each
//! value is at most about 3 KB, since `return_to` is kept only up to 1024 bytes (a longer one
//! becomes `/`): the transactions never add more than about 12 KB to a request's `Cookie`
//! header, and a few hundred bytes each for usual return paths.

use std::time::Duration;

use http::HeaderValue;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::session::cookie::{CookieAttributes, RequestCookies, SameSite, Sealer, set_cookie};

/// How long a sign-in may take from start to callback, in seconds.
const TRANSACTION_TTL: i64 = 600;

/// Most sign-ins pending in one browser at once.
pub(super) const SLOTS: usize = 4;

/// The cookie of each slot.
const NAMES: [&str; SLOTS] = [
    "__Host-logi.tx.0",
    "__Host-logi.tx.1",
    "__Host-logi.tx.2",
    "__Host-logi.tx.3",
];

/// What the callback needs to finish one sign-in.
#[derive(Serialize, Deserialize)]
pub(super) struct Transaction {
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) verifier: String,
    pub(super) return_to: String,
    /// When the sign-in started, in milliseconds since the Unix epoch: orders the transactions
    /// of sign-ins started in the same second.
    pub(super) created_ms: i64,
    /// Started by logi's login widget, which may not pass our nonce to the provider: the ID
    /// token's nonce is then checked only when present (PKCE and state still bind the flow).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) widget: bool,
}

/// The attributes of a transaction cookie: those of a `__Host-` cookie.
fn attributes(max_age: Duration) -> CookieAttributes {
    CookieAttributes {
        path: "/".into(),
        secure: true,
        http_only: true,
        // Lax, not Strict: the callback is a cross-site navigation from the provider.
        same_site: SameSite::Lax,
        max_age: Some(max_age),
        domain: None,
    }
}

/// The transaction in `slot` of a request's cookies, when there is one that opens, parses and
/// has not expired at `now_ms`.
fn read(
    sealer: &Sealer,
    cookies: &RequestCookies<'_>,
    slot: usize,
    now_ms: i64,
) -> Option<Transaction> {
    let name = NAMES[slot];
    let opened = sealer.open(name, cookies.get(name)?)?;
    let tx: Transaction = serde_json::from_slice(&opened).ok()?;
    (!expired(&tx, now_ms)).then_some(tx)
}

/// Whether `tx` is older than [`TRANSACTION_TTL`] at `now_ms`.
pub(super) fn expired(tx: &Transaction, now_ms: i64) -> bool {
    now_ms > tx.created_ms.saturating_add(TRANSACTION_TTL * 1000)
}

/// The `Set-Cookie` that keeps `tx` in this browser, in a free slot of the request's, else in
/// the slot of its oldest transaction.
pub(super) fn store(
    sealer: &Sealer,
    cookies: &RequestCookies<'_>,
    tx: &Transaction,
) -> HeaderValue {
    let created: Vec<Option<i64>> = (0..SLOTS)
        .map(|slot| read(sealer, cookies, slot, tx.created_ms).map(|t| t.created_ms))
        .collect();
    let free: Vec<usize> = (0..SLOTS).filter(|&slot| created[slot].is_none()).collect();
    let slot = if free.is_empty() {
        (0..SLOTS)
            .min_by_key(|&slot| created[slot])
            .expect("there are slots")
    } else {
        // At random, so that sign-ins started at the same moment (several tabs restored at
        // once), which all see the same cookies, rarely take the same slot.
        let mut byte = [0_u8];
        aws_lc_rs::rand::fill(&mut byte).expect("the system random generator works");
        free[usize::from(byte[0]) % free.len()]
    };
    let name = NAMES[slot];
    let json = serde_json::to_vec(tx).expect("a transaction serializes");
    let sealed = sealer.seal(name, &json);
    let mut cookie = set_cookie(
        name,
        &sealed,
        &attributes(Duration::from_secs(TRANSACTION_TTL.cast_unsigned())),
    );
    cookie.set_sensitive(true);
    cookie
}

/// The unexpired transaction of this browser whose state is `state`, and its slot.
pub(super) fn find(
    sealer: &Sealer,
    cookies: &RequestCookies<'_>,
    state: &str,
    now_ms: i64,
) -> Option<(usize, Transaction)> {
    (0..SLOTS)
        .filter_map(|slot| Some((slot, read(sealer, cookies, slot, now_ms)?)))
        .find(|(_, tx)| bool::from(tx.state.as_bytes().ct_eq(state.as_bytes())))
}

/// The `Set-Cookie` that removes the transaction in `slot`.
pub(super) fn delete(slot: usize) -> HeaderValue {
    let mut cookie = set_cookie(NAMES[slot], "", &attributes(Duration::ZERO));
    cookie.set_sensitive(true);
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_attributes_make_host_cookies() {
        for name in NAMES {
            attributes(Duration::from_secs(600)).check(name).unwrap();
        }
        let header = delete(1);
        let header = header.to_str().unwrap();
        assert!(
            header.starts_with("__Host-logi.tx.1=; Path=/; Max-Age=0;")
                && !header.contains("Domain"),
            "{header}"
        );
    }

    fn sealer() -> Sealer {
        Sealer::new(&crate::SessionKeys::new(vec![vec![7; 32]]).unwrap())
    }

    fn transaction(return_to: &str, created_ms: i64) -> Transaction {
        Transaction {
            state: crate::random::random_token(32),
            nonce: crate::random::random_token(32),
            verifier: crate::random::random_token(32),
            return_to: return_to.to_owned(),
            created_ms,
            widget: true,
        }
    }

    /// The request a browser sends with the cookies these `Set-Cookie`s keep.
    fn request(set_cookies: &[HeaderValue]) -> http::HeaderMap {
        let pairs: Vec<&str> = set_cookies
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap())
            .collect();
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, pairs.join("; ").parse().unwrap());
        headers
    }

    #[test]
    fn the_longest_transaction_fits_one_cookie() {
        // The longest return path kept, made of the character JSON escapes into two.
        let worst = format!("/{}", "\"".repeat(1023));
        assert_eq!(crate::flow::return_to::sanitize(Some(&worst)), worst);
        let cookie = store(
            &sealer(),
            &RequestCookies::parse(&http::HeaderMap::new()),
            &transaction(&worst, i64::MAX / 2),
        );
        let pair = cookie.to_str().unwrap().split(';').next().unwrap().len();
        assert!(pair <= 3100, "{pair} bytes");
    }

    #[test]
    fn a_fifth_sign_in_replaces_the_oldest() {
        let sealer = sealer();
        let mut jar: Vec<HeaderValue> = Vec::new();
        let mut states = Vec::new();
        for created in 1000..1010 {
            let tx = transaction("/", created);
            states.push(tx.state.clone());
            let headers = request(&jar);
            let cookie = store(&sealer, &RequestCookies::parse(&headers), &tx);
            let name = cookie
                .to_str()
                .unwrap()
                .split('=')
                .next()
                .unwrap()
                .to_owned();
            jar.retain(|c| !c.to_str().unwrap().starts_with(&format!("{name}=")));
            jar.push(cookie);
            assert!(jar.len() <= SLOTS);
        }
        let headers = request(&jar);
        let cookies = RequestCookies::parse(&headers);
        for (i, state) in states.iter().enumerate() {
            let found = find(&sealer, &cookies, state, 1010).is_some();
            assert_eq!(found, i >= 10 - SLOTS, "sign-in {i}");
        }
        assert!(
            find(
                &sealer,
                &cookies,
                &states[9],
                1009 + TRANSACTION_TTL * 1000 + 1
            )
            .is_none(),
            "expired"
        );
    }
}
