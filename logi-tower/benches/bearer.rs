//! Bearer-token validation, in-process through `oneshot`: the bare router; `LogiLayer` with a
//! cached token; `LogiLayer` with a token it has not seen (cold: full verification); a typical
//! hand-written middleware (`axum::middleware::from_fn` + `jsonwebtoken` 12 `decode`, aws-lc-rs
//! backend) on the same token; and a bare RS256 verification with a pre-parsed key.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use axum::Router;
use axum::body::Body;
use axum::extract::Request as AxumRequest;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use logi::testing::{TestClient, TestProvider};
use logi::{LogiLayer, LogiUser};
use serde_json::{Value, json};
use tower::ServiceExt as _;

#[path = "support/ready.rs"]
mod ready;

use ready::ready;

fn request(token: &str) -> Request<Body> {
    Request::get("/hello")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

async fn hello(user: LogiUser) -> String {
    user.sub().to_owned()
}

/// What people write by hand: decode with jsonwebtoken in a `from_fn` middleware.
async fn hand_written(
    key: Arc<(DecodingKey, Validation)>,
    mut request: AxumRequest,
    next: Next,
) -> Result<Response, StatusCode> {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let claims = decode::<Value>(token, &key.0, &key.1).map_err(|_| StatusCode::UNAUTHORIZED)?;
    request.extensions_mut().insert(claims.claims);
    Ok(next.run(request).await)
}

fn bearer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client = TestClient::DEFAULT_CLIENT_ID;
    let (provider, logi, cold_logi) = runtime.block_on(async {
        let provider = TestProvider::start().await.unwrap();
        let layer = |capacity| {
            LogiLayer::builder()
                .issuer(provider.issuer())
                .audience(client)
                .token_cache_capacity(capacity)
                .build()
        };
        let logi = layer(10_000).await.unwrap();
        // No cache: every request verifies its token from scratch.
        let cold = layer(0).await.unwrap();
        (provider, logi, cold)
    });
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token_for = |jti: usize| {
        provider.sign_claims(&json!({
            "iss": provider.issuer(), "sub": "user-0001", "aud": client, "exp": now + 3600, "iat": now,
            "jti": format!("jti-{jti}"), "scope": "openid profile:basic email orders:read", "client_id": client,
        }))
    };
    let token = token_for(0);

    let jwk = provider.jwks()["keys"][0].clone();
    let (n, e) = (jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap());
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[client]);
    validation.set_issuer(&[provider.issuer()]);
    let jwt_key = Arc::new((DecodingKey::from_rsa_components(n, e).unwrap(), validation));
    let (n_bytes, e_bytes) = (
        URL_SAFE_NO_PAD.decode(n).unwrap(),
        URL_SAFE_NO_PAD.decode(e).unwrap(),
    );
    let parsed = RsaPublicKeyComponents {
        n: &n_bytes[..],
        e: &e_bytes[..],
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let dot = token.rfind('.').unwrap();
    let (signing_input, signature) = (
        token.as_bytes()[..dot].to_vec(),
        URL_SAFE_NO_PAD.decode(&token[dot + 1..]).unwrap(),
    );

    let bare = Router::new().route("/hello", get(|| async { "user-0001" }));
    let with_logi = Router::new().route("/hello", get(hello)).layer(logi);
    let cold = Router::new().route("/hello", get(hello)).layer(cold_logi);
    let by_hand = Router::new()
        .route(
            "/hello",
            get(
                |axum::Extension(claims): axum::Extension<Value>| async move {
                    claims["sub"].as_str().unwrap().to_owned()
                },
            ),
        )
        .layer(middleware::from_fn({
            let key = Arc::clone(&jwt_key);
            move |request, next| hand_written(Arc::clone(&key), request, next)
        }));

    // Warm the JWKS caches (the first verification fetches the keys over HTTP).
    for app in [&with_logi, &cold] {
        let response = runtime
            .block_on(app.clone().oneshot(request(&token)))
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    for app in [&bare, &with_logi, &by_hand] {
        assert_eq!(
            ready(app.clone().oneshot(request(&token)))
                .unwrap()
                .status(),
            200
        );
    }
    assert!(parsed.verify_sig(&signing_input, &signature).is_ok());

    let mut group = c.benchmark_group("bearer");
    group.bench_function("bare_router", |b| {
        b.iter(|| ready(bare.clone().oneshot(request(black_box(&token)))).unwrap())
    });
    group.bench_function("logi_cached_token", |b| {
        b.iter(|| ready(with_logi.clone().oneshot(request(black_box(&token)))).unwrap())
    });
    group.bench_function("logi_cold_token", |b| {
        b.iter(|| ready(cold.clone().oneshot(request(black_box(&token)))).unwrap())
    });
    group.bench_function("hand_written_jsonwebtoken", |b| {
        b.iter(|| ready(by_hand.clone().oneshot(request(black_box(&token)))).unwrap())
    });
    let verifier = logi::verify::AccessTokenVerifier::new(
        provider.issuer(),
        client,
        logi::provider::Jwks::from_json(provider.jwks().to_string().as_bytes()).unwrap(),
    );
    assert!(ready(verifier.verify(&token)).is_ok());
    group.bench_function("access_token_verifier_only", |b| {
        b.iter(|| ready(verifier.verify(black_box(&token))).unwrap())
    });
    group.bench_function("bare_rs256_verify_preparsed_key", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(&signing_input), black_box(&signature))
                .unwrap()
        })
    });
    group.finish();
    drop(runtime);
}

criterion_group!(benches, bearer);
criterion_main!(benches);
