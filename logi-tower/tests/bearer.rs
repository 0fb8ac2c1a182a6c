//! Bearer tokens on an axum API, over real HTTP, against the in-process provider's tokens.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use logi::testing::{Endpoint, TestClient, TestProvider};
use logi::{LogiLayer, LogiUser};
use serde_json::{Value, json};
use support::clock::unix_now;
use tokio::net::TcpListener;

const API: &str = "logi_0a1b2c3d4e5f60718293a4b5c6d7e8f9";

struct Api {
    provider: TestProvider,
    origin: String,
    http: reqwest::Client,
}

async fn me(user: LogiUser) -> axum::Json<Value> {
    axum::Json(json!({ "sub": user.sub(), "scopes": user.scopes() }))
}

/// An API-only layer: the issuer and the audience, nothing else.
async fn start() -> Api {
    let provider = TestProvider::builder()
        .client(TestClient::confidential(
            API,
            "logi_secret_x",
            ["http://localhost/cb"],
        ))
        .start()
        .await
        .unwrap();
    let logi = LogiLayer::builder()
        .issuer(provider.issuer())
        .audience(API)
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .route("/orders", get(|| async { "orders" }))
        .route_layer(logi.require())
        .route(
            "/public",
            get(|user: Option<LogiUser>| async move { format!("public {}", user.is_some()) }),
        )
        .layer(logi);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Api {
        provider,
        origin,
        http: reqwest::Client::new(),
    }
}

impl Api {
    async fn get(&self, path: &str, authorization: &[&str]) -> (u16, Option<String>, String) {
        let mut request = self
            .http
            .get(format!("{}{path}", self.origin))
            .header("accept", "text/html");
        for value in authorization {
            request = request.header("authorization", *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, challenge, response.text().await.unwrap())
    }

    /// One real code grant for this audience (`openid orders:read`): the token response.
    async fn code_grant(&self) -> Value {
        support::code_grant(
            &self.provider,
            API,
            "logi_secret_x",
            "http://localhost/cb",
            "openid orders:read",
        )
        .await
    }

    fn claims(&self) -> Value {
        let now = unix_now();
        json!({
            "iss": self.provider.issuer(), "sub": "user-0001", "aud": API, "exp": now + 600,
            "iat": now, "jti": "jti-1", "scope": "openid orders:read", "client_id": API,
        })
    }

    fn with(&self, key: &str, value: Value) -> String {
        let mut claims = self.claims();
        claims[key] = value;
        self.provider.sign_claims(&claims)
    }
}

fn invalid_token(description: &str) -> Option<String> {
    Some(format!(
        "Bearer error=\"invalid_token\", error_description=\"{description}\""
    ))
}

#[tokio::test]
async fn valid_tokens_pass_and_every_forgery_gets_the_exact_refusal() {
    let api = start().await;
    let valid = api.provider.sign_claims(&api.claims());
    let (status, _, body) = api.get("/me", &[&format!("Bearer {valid}")]).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"sub": "user-0001", "scopes": ["openid", "orders:read"]})
    );

    let kid = api.provider.current_kid();
    let header = |alg: &str| json!({"alg": alg, "typ": "JWT", "kid": kid});
    // HS256 "signed" with the provider's public key as the HMAC secret: the classic confusion.
    let hs256 = {
        let h = URL_SAFE_NO_PAD.encode(header("HS256").to_string());
        let p = URL_SAFE_NO_PAD.encode(api.claims().to_string());
        let public_key = api.provider.jwks()["keys"][0]["n"]
            .as_str()
            .unwrap()
            .to_owned();
        let key = hmac::Key::new(hmac::HMAC_SHA256, public_key.as_bytes());
        let tag = hmac::sign(&key, format!("{h}.{p}").as_bytes());
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": kid}).to_string()),
        URL_SAFE_NO_PAD.encode(api.claims().to_string())
    );
    let tampered = {
        let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
        let mut claims = api.claims();
        claims["sub"] = json!("someone-else");
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        parts.join(".")
    };
    // The valid token's header and claims (verified and cached by now) with another signature.
    let resigned = {
        let (signed, signature) = valid.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        format!("{signed}.{first}{}", &signature[1..])
    };
    let now = unix_now();
    let cases = [
        (
            api.with("exp", json!(now - 3600)),
            "expired: the token has expired",
        ),
        (
            api.with("aud", json!("logi_some_other_api")),
            "aud_mismatch: aud does not name this API",
        ),
        (
            api.with("iss", json!("https://evil.example")),
            "iss_mismatch: iss is not the expected issuer",
        ),
        (tampered, "bad_signature: signature does not verify"),
        (resigned, "bad_signature: signature does not verify"),
        (none, "bad_signature: algorithm is not RS256"),
        (hs256, "bad_signature: algorithm is not RS256"),
        (
            api.provider.sign_with_header(
                &json!({"alg": "RS256", "kid": "not-a-published-kid"}),
                &api.claims(),
            ),
            "unknown_kid: no published key has the token's kid",
        ),
    ];
    for (token, description) in cases {
        let (status, challenge, body) = api.get("/me", &[&format!("Bearer {token}")]).await;
        assert_eq!(status, 401, "{description}: {body}");
        assert_eq!(challenge, invalid_token(description));
        assert!(!body.contains(&token[..30]), "the token is never echoed");
        // A public route still answers, as signed out.
        assert_eq!(
            api.get("/public", &[&format!("Bearer {token}")]).await.2,
            "public false"
        );
    }
}

#[tokio::test]
async fn missing_and_malformed_authorization_headers_are_refused_cleanly() {
    let api = start().await;
    let (status, challenge, _) = api.get("/orders", &[]).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some("Bearer")),
        "no redirect for an API"
    );
    let long = format!("Bearer {}", "a".repeat(9000));
    let valid = api.provider.sign_claims(&api.claims());
    let two = format!("Bearer {valid}");
    for (headers, description) in [
        (
            vec!["Basic dXNlcjpwYXNz"],
            "the Authorization scheme is not Bearer",
        ),
        (
            vec![two.as_str(), two.as_str()],
            "several Authorization headers",
        ),
        (vec![long.as_str()], "the bearer token is too long"),
        (
            vec!["Bearer a b c"],
            "the bearer token has characters a token cannot have",
        ),
    ] {
        let (status, challenge, _) = api.get("/orders", &headers).await;
        assert_eq!(status, 401, "{description}");
        assert_eq!(
            challenge,
            Some(format!(
                "Bearer error=\"invalid_request\", error_description=\"{description}\""
            ))
        );
    }
    // Non-ASCII bytes in the header.
    let response = api
        .http
        .get(format!("{}/orders", api.origin))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer t\xf6ken").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_with_one_token_cost_one_jwks_fetch() {
    let api = Arc::new(start().await);
    let token = Arc::new(format!(
        "Bearer {}",
        api.provider.sign_claims(&api.claims())
    ));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (api, token) = (Arc::clone(&api), Arc::clone(&token));
            tokio::spawn(async move {
                for _ in 0..200 {
                    assert_eq!(api.get("/orders", &[&token]).await.0, 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(api.provider.calls(Endpoint::Jwks), 1);
    assert_eq!(api.provider.calls(Endpoint::Userinfo), 0);
}

#[tokio::test]
async fn a_request_with_a_bearer_token_is_judged_by_the_token_alone() {
    use logi::testing::TestSession;
    let provider = TestProvider::start().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let logi = LogiLayer::builder()
        .issuer(provider.issuer())
        .client_id(TestClient::DEFAULT_CLIENT_ID)
        .client_secret(TestClient::DEFAULT_CLIENT_SECRET)
        .redirect_uri(format!("{origin}/auth/callback"))
        .build()
        .await
        .unwrap();
    let cookie = TestSession::new("cookie-user").cookie_header(&logi);
    let app = Router::new().route("/me", get(me)).layer(logi);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let get = |auth: Option<String>| {
        let mut request = http.get(format!("{origin}/me")).header("cookie", &cookie);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let by_cookie: Value = get(None).await.unwrap().json().await.unwrap();
    assert_eq!(by_cookie["sub"], "cookie-user");
    let token = provider.access_token(
        TestClient::DEFAULT_CLIENT_ID,
        "token-user",
        &["openid"],
        Duration::from_secs(60),
    );
    let by_token: Value = get(Some(format!("Bearer {token}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_token["sub"], "token-user");
    let refused = get(Some("Bearer not.a.token".into())).await.unwrap();
    assert_eq!(
        refused.status(),
        401,
        "an invalid token is not rescued by the session cookie"
    );
}

/// `Bearer error="invalid_token"` with a `not_an_access_token` description.
fn not_an_access_token(challenge: Option<&str>) -> bool {
    challenge.is_some_and(|c| {
        c.starts_with(r#"Bearer error="invalid_token", error_description="not_an_access_token: "#)
    })
}

/// The claims of a JWT, unverified.
fn payload(token: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn id_tokens_and_logout_tokens_are_not_access_tokens() {
    let api = start().await;
    // One real grant: the access token and the ID token issued with it, both for this audience.
    let tokens = api.code_grant().await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(payload(id_token)["aud"], API);
    let (status, _, body) = api.get("/me", &[&format!("Bearer {access_token}")]).await;
    assert_eq!(status, 200, "the genuine access token passes: {body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["scopes"], json!(["openid", "orders:read"]));

    // The ID token's claims signed again without what only ID tokens carry give away nothing
    // either: no `scope`.
    let mut bare = payload(id_token);
    for claim in ["nonce", "at_hash", "auth_time"] {
        bare.as_object_mut().unwrap().remove(claim);
    }
    // A logout token, as the provider signs it (`typ: logout+jwt`) and under `typ: JWT`.
    let logout_token = api.provider.logout_token(API).sub("user-0001").sign();
    let logout_as_jwt = api.provider.sign_claims(&payload(&logout_token));
    let cases = [
        (id_token.to_owned(), "the ID token"),
        (api.provider.sign_claims(&bare), "a bare ID token"),
        (
            api.provider
                .sign_claims(&api.provider.id_token_claims(API, "user-0001")),
            "the provider's baseline ID token",
        ),
        (logout_token, "the logout token"),
        (logout_as_jwt, "a logout token under typ JWT"),
        (
            api.provider.sign_with_header(
                &json!({"alg": "RS256", "kid": api.provider.current_kid(), "typ": "id_token+jwt"}),
                &api.claims(),
            ),
            "an access token's claims under another typ",
        ),
    ];
    for (token, what) in cases {
        for path in ["/me", "/orders"] {
            let (status, challenge, body) = api.get(path, &[&format!("Bearer {token}")]).await;
            assert_eq!(status, 401, "{what} on {path}: {body}");
            assert!(
                not_an_access_token(challenge.as_deref()),
                "{what}: {challenge:?}"
            );
            assert!(!body.contains(&token[..30]), "the token is never echoed");
        }
        assert_eq!(
            api.get("/public", &[&format!("Bearer {token}")]).await.2,
            "public false"
        );
    }
    // Under `typ: at+jwt` (RFC 9068), an access token passes.
    let at_jwt = api.provider.sign_with_header(
        &json!({"alg": "RS256", "kid": api.provider.current_kid(), "typ": "at+jwt"}),
        &api.claims(),
    );
    assert_eq!(api.get("/me", &[&format!("Bearer {at_jwt}")]).await.0, 200);
}

/// The ID token a signed-in browser hands the provider in the address bar (`id_token_hint`)
/// opens nothing on the app's bearer path: not its pages, not `/auth/me`.
#[tokio::test]
async fn the_id_token_hint_of_a_sign_out_opens_nothing() {
    let app = support::start().await;
    let mut browser = support::Browser::new();
    let signed_in = browser.sign_in(&app, "/dashboard").await;
    assert_eq!(signed_in.status, 302, "{}", signed_in.body);
    let out = browser.sign_out_at(&app.origin).await;
    assert_eq!(out.status, 303, "{}", out.body);
    let end_session = url::Url::parse(out.location()).unwrap();
    let id_token = end_session
        .query_pairs()
        .find(|(k, _)| k == "id_token_hint")
        .map(|(_, v)| v.into_owned())
        .expect("the sign-out redirect carries the ID token");
    assert_eq!(payload(&id_token)["aud"], support::CLIENT_ID);

    let http = reqwest::Client::new();
    for path in ["/dashboard", "/auth/me", "/api/data"] {
        let response = http
            .get(format!("{}{path}", app.origin))
            .header("accept", "application/json")
            .bearer_auth(&id_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let challenge = response.headers().get("www-authenticate").cloned();
        assert!(
            not_an_access_token(challenge.as_ref().map(|v| v.to_str().unwrap())),
            "{path}: {challenge:?}"
        );
    }
    // An access token for the same client and user still passes, on the same routes.
    let token = app.provider.access_token(
        support::CLIENT_ID,
        "user-0001",
        &["openid"],
        Duration::from_secs(60),
    );
    for path in ["/dashboard", "/auth/me", "/api/data"] {
        let response = http
            .get(format!("{}{path}", app.origin))
            .header("accept", "application/json")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

/// No `Debug` output shows a token: not the user or the access token a handler gets, not the
/// verification results, not the checks they were verified with, not a test session.
#[tokio::test]
async fn debug_output_never_shows_a_token() {
    use logi::AccessToken;
    use logi::provider::{HttpClient, Jwks, ProviderMetadata};
    use logi::testing::TestSession;
    use logi::verify::{AccessTokenVerifier, IdTokenChecks, IdTokenVerifier};

    let api = start().await;
    let tokens = api.code_grant().await;
    let (access_token, id_token, refresh_token) = (
        tokens["access_token"].as_str().unwrap(),
        tokens["id_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    );
    let secrets = [access_token, id_token, refresh_token, "nonce-1"];
    let shows_none = |debug: &str, what: &str| {
        for secret in secrets {
            // Neither whole nor in part (a JWT's signature, a prefix).
            let (signed, signature) = secret.rsplit_once('.').unwrap_or((secret, secret));
            for part in [secret, &secret[..secret.len().min(12)], signed, signature] {
                assert!(!debug.contains(part), "{what} shows a token: {debug}");
            }
        }
    };

    // What a handler gets, for a bearer token.
    let logi = LogiLayer::builder()
        .issuer(api.provider.issuer())
        .audience(API)
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route(
            "/debug",
            get(|user: LogiUser, token: AccessToken| async move {
                format!("{user:?} {token:?} {user:#?} {token:#?}")
            }),
        )
        .layer(logi.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let debug = api
        .http
        .get(format!("{origin}/debug"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(debug.contains("user-0001"), "{debug}");
    shows_none(&debug, "LogiUser, AccessToken");
    shows_none(&format!("{logi:?}"), "LogiLayer");

    // The verifiers' results, and what they were asked to check.
    let http = HttpClient::new();
    let metadata = ProviderMetadata::discover(&http, api.provider.issuer(), None)
        .await
        .unwrap();
    let jwks = Jwks::from_provider(&http, &metadata);
    let verified = AccessTokenVerifier::new(metadata.issuer.clone(), API, jwks.clone())
        .verify(access_token)
        .await
        .unwrap();
    assert_eq!(verified.subject(), "user-0001");
    shows_none(
        &format!("{verified:?} {verified:#?}"),
        "VerifiedAccessToken",
    );
    let checks = IdTokenChecks::new()
        .nonce("nonce-1")
        .access_token(access_token);
    let id = IdTokenVerifier::new(metadata.issuer.clone(), API, jwks)
        .verify(id_token, &checks)
        .await
        .unwrap();
    shows_none(&format!("{id:?} {id:#?}"), "IdToken");
    shows_none(&format!("{checks:?} {checks:#?}"), "IdTokenChecks");
    let checks = IdTokenChecks::new().nonce_if_present("nonce-1");
    shows_none(&format!("{checks:?}"), "IdTokenChecks");

    // A test session that holds all three.
    let session = TestSession::new("user-0001")
        .access_token(access_token, Duration::from_secs(60))
        .refresh_token(refresh_token)
        .id_token(id_token);
    shows_none(&format!("{session:?} {session:#?}"), "TestSession");
}
