//! ID-token verification next to the bare RS256 signature check it is built on.
//!
//! Both use the golden vectors' valid token and key; the bare check gets the key pre-parsed and
//! the signature pre-decoded, so the difference is everything the verifier adds: splitting and
//! decoding the token, parsing header and claims, the key lookup, and the claim checks.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use logi::provider::Jwks;
use logi::verify::{IdTokenChecks, IdTokenVerifier};

#[path = "support/ready.rs"]
mod ready;

use ready::ready;

fn id_token_verification(c: &mut Criterion) {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/id-token-vectors.json")).unwrap();
    let token = vectors["cases"][0]["token"].as_str().unwrap().to_owned();
    let jwk = &vectors["jwks"]["keys"][0];
    let now = UNIX_EPOCH + Duration::from_secs(vectors["now"].as_u64().unwrap());

    let verifier = IdTokenVerifier::new(
        vectors["expected"]["issuer"].as_str().unwrap(),
        vectors["expected"]["clientId"].as_str().unwrap(),
        Jwks::from_json(vectors["jwks"].to_string().as_bytes()).unwrap(),
    );
    let checks = IdTokenChecks::new().nonce("nonce-abc123").at(now);
    assert!(ready(verifier.verify(&token, &checks)).is_ok());

    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let key = RsaPublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let dot = token.rfind('.').unwrap();
    let signing_input = token.as_bytes()[..dot].to_vec();
    let signature = URL_SAFE_NO_PAD.decode(&token[dot + 1..]).unwrap();
    assert!(key.verify_sig(&signing_input, &signature).is_ok());

    let mut group = c.benchmark_group("id_token");
    group.bench_function("bare_rs256_verify_preparsed_key", |b| {
        b.iter(|| {
            key.verify_sig(black_box(&signing_input), black_box(&signature))
                .unwrap()
        });
    });
    group.bench_function("logi_verify_id_token", |b| {
        b.iter(|| ready(verifier.verify(black_box(&token), black_box(&checks))).unwrap());
    });
    group.finish();
}

criterion_group!(benches, id_token_verification);
criterion_main!(benches);
