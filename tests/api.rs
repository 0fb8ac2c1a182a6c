//! The API example (`cargo run --example api`), over real HTTP on 127.0.0.1: the app is
//! `logi_examples::api::app` behind the layer the example builds for the in-process provider
//! (`logi_examples::development_api_layer`), called with the provider's access tokens.

use std::time::Duration;

use logi::testing::{Endpoint, TestClient, TestProvider};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[path = "../logi-tower/tests/support/clock.rs"]
#[allow(dead_code, unreachable_pub)]
mod clock;

/// Every request gets this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

struct Api {
    provider: TestProvider,
    origin: String,
    http: reqwest::Client,
}

/// What came back.
#[derive(Debug)]
struct Reply {
    status: u16,
    challenge: Option<String>,
    body: Value,
}

async fn start() -> Api {
    let (logi, provider) = logi_examples::development_api_layer()
        .await
        .expect("start the provider and build the layer");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = logi_examples::api::app(logi);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    Api {
        provider,
        origin,
        http,
    }
}

impl Api {
    /// An access token for user-0001 with `scopes`, as the example prints them.
    fn token(&self, scopes: &[&str]) -> String {
        self.token_for(
            TestClient::DEFAULT_CLIENT_ID,
            scopes,
            Duration::from_secs(3600),
        )
    }

    fn token_for(&self, audience: &str, scopes: &[&str], ttl: Duration) -> String {
        self.provider
            .access_token(audience, "user-0001", scopes, ttl)
    }

    /// A token for user-0001 that expired an hour ago, well past the clock skew.
    fn expired_token(&self) -> String {
        let now = clock::unix_now();
        self.provider.sign_claims(&json!({
            "iss": self.provider.issuer(), "sub": "user-0001",
            "aud": TestClient::DEFAULT_CLIENT_ID, "client_id": TestClient::DEFAULT_CLIENT_ID,
            "iat": now - 7200, "exp": now - 3600, "jti": "jti-expired", "scope": "orders:read",
        }))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.origin))
            .header("accept", "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{status} {path}: not JSON ({error}): {text}"));
        Reply {
            status,
            challenge,
            body,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body)).await
    }
}

/// `(status, WWW-Authenticate)`.
fn refusal(reply: &Reply) -> (u16, Option<&str>) {
    (reply.status, reply.challenge.as_deref())
}

const NO_TOKEN: (u16, Option<&str>) = (401, Some("Bearer"));

fn invalid_token(description: &str) -> String {
    format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")
}

fn insufficient_scope(scope: &str) -> String {
    format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"")
}

#[tokio::test]
async fn public_is_open_and_names_a_caller_with_a_valid_token() {
    let api = start().await;
    let anonymous = api.get("/public", None).await;
    assert_eq!(anonymous.status, 200, "{anonymous:?}");
    assert_eq!(anonymous.body["caller"], Value::Null);

    let token = api.token(&[]);
    let known = api.get("/public", Some(&token)).await;
    assert_eq!(known.status, 200, "{known:?}");
    assert_eq!(known.body["caller"], "user-0001");

    // A refused token on an open route: answered as for nobody.
    let forged = api.get("/public", Some("not.a.token")).await;
    assert_eq!(forged.status, 200, "{forged:?}");
    assert_eq!(forged.body["caller"], Value::Null);
}

#[tokio::test]
async fn me_needs_any_valid_token() {
    let api = start().await;
    assert_eq!(refusal(&api.get("/me", None).await), NO_TOKEN);

    let me = api.get("/me", Some(&api.token(&["orders:read"]))).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(
        me.body,
        json!({"sub": "user-0001", "scopes": ["orders:read"]})
    );
    let me = api.get("/me", Some(&api.token(&[]))).await;
    assert_eq!(me.body, json!({"sub": "user-0001", "scopes": []}));

    let expired = api.expired_token();
    let other_api = api.token_for(
        "logi_0123456789abcdef0123456789abcdef",
        &["orders:read"],
        Duration::from_secs(3600),
    );
    let cases = [
        ("not.a.token", "malformed: header is not base64url"),
        (expired.as_str(), "expired: the token has expired"),
        (
            other_api.as_str(),
            "aud_mismatch: aud does not name this API",
        ),
    ];
    for (token, description) in cases {
        let reply = api.get("/me", Some(token)).await;
        let challenge = invalid_token(description);
        assert_eq!(
            refusal(&reply),
            (401, Some(challenge.as_str())),
            "{reply:?}"
        );
        assert_eq!(reply.body["error"], "invalid_token");
    }
}

#[tokio::test]
async fn orders_need_their_scopes() {
    let api = start().await;
    let none = api.token(&[]);
    let read = api.token(&["orders:read"]);
    let write = api.token(&["orders:read", "orders:write"]);
    let tea = json!({"item": "tea", "quantity": 2});

    // Nobody: 401, never a redirect, even for a client that asks for HTML.
    assert_eq!(refusal(&api.get("/orders", None).await), NO_TOKEN);
    let page = api
        .http
        .get(format!("{}/orders", api.origin))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401, "an API-only layer has no sign-in page");
    assert_eq!(
        refusal(&api.post("/orders", None, tea.clone()).await),
        NO_TOKEN
    );
    let forged = api.post("/orders", Some("not.a.token"), tea.clone()).await;
    let challenge = invalid_token("malformed: header is not base64url");
    assert_eq!(refusal(&forged), (401, Some(challenge.as_str())));

    // Without the scope: 403 naming it.
    let reply = api.get("/orders", Some(&none)).await;
    let challenge = insufficient_scope("orders:read");
    assert_eq!(
        refusal(&reply),
        (403, Some(challenge.as_str())),
        "{reply:?}"
    );
    assert_eq!(
        reply.body,
        json!({
            "error": "insufficient_scope",
            "error_description": "requires the scope orders:read",
            "scope": "orders:read",
        })
    );
    let reply = api.post("/orders", Some(&read), tea.clone()).await;
    let challenge = insufficient_scope("orders:write");
    assert_eq!(
        refusal(&reply),
        (403, Some(challenge.as_str())),
        "{reply:?}"
    );

    // With it.
    let empty = api.get("/orders", Some(&read)).await;
    assert_eq!((empty.status, &empty.body), (200, &json!([])));
    let created = api.post("/orders", Some(&write), tea).await;
    assert_eq!(created.status, 201, "{created:?}");
    let order = json!({"id": 1, "owner": "user-0001", "item": "tea", "quantity": 2});
    assert_eq!(created.body, order);
    let listed = api.get("/orders", Some(&read)).await;
    assert_eq!((listed.status, &listed.body), (200, &json!([order])));

    // Another user sees their own orders only.
    let other = api.provider.access_token(
        TestClient::DEFAULT_CLIENT_ID,
        "user-0002",
        &["orders:read"],
        Duration::from_secs(60),
    );
    assert_eq!(api.get("/orders", Some(&other)).await.body, json!([]));

    // Discovery when the layer was built, the keys once; nothing else.
    assert_eq!(api.provider.calls(Endpoint::Discovery), 1);
    assert_eq!(api.provider.calls(Endpoint::Jwks), 1);
    for endpoint in [Endpoint::Token, Endpoint::Userinfo] {
        assert_eq!(api.provider.calls(endpoint), 0, "{endpoint:?}");
    }
}
