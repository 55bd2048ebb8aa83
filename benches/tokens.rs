//! Issue and verify for each format, beside the raw Ed25519 sign and verify of
//! the same bytes (the floor no token can beat).
//!
//! `cargo bench --bench tokens`

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use ed25519_dalek::{Signer, Verifier as _};
use informly::token::{
    Format, KeySet, KeyStatus, Policy, ScopeSet, SigningKey, Subject, TokenClaims, Verifier,
};

const NOW: i64 = 1_800_000_000;

fn claims() -> TokenClaims {
    TokenClaims {
        token_id: "tok_01J0000000000000000000000A".to_owned(),
        workspace: "ws_01J0000000000000000000000B".to_owned(),
        subject: Subject::App("app_01J0000000000000000000000C".to_owned()),
        scopes: ScopeSet::parse_for_app(["contacts:read", "contacts:write"]).unwrap(),
        issued_at: NOW,
        not_before: NOW,
        expires_at: NOW + 30 * 86_400,
    }
}

fn tokens(c: &mut Criterion) {
    let policy = Policy::default();
    let claims = claims();
    let seed = [7u8; 32];
    let dalek = ed25519_dalek::SigningKey::from_bytes(&seed);
    let verifying = dalek.verifying_key();

    let mut group = c.benchmark_group("tokens");
    for format in Format::ALL {
        let key = SigningKey::from_seed(format, &seed).unwrap();
        let mut keys = KeySet::new();
        keys.insert(key.public_key(), KeyStatus::Active).unwrap();
        let verifier = Verifier::new(keys, policy.clone());
        let token = key.sign(&claims, &policy).unwrap();
        // The floor: one raw signature over a message the size of the token.
        let message = token.as_bytes();
        let signature = dalek.sign(message);

        group.bench_function(BenchmarkId::new("issue", format), |b| {
            b.iter(|| key.sign(black_box(&claims), &policy).unwrap())
        });
        group.bench_function(BenchmarkId::new("raw_ed25519_sign", format), |b| {
            b.iter(|| dalek.sign(black_box(message)))
        });
        group.bench_function(BenchmarkId::new("verify", format), |b| {
            b.iter(|| verifier.verify(black_box(&token), NOW).unwrap())
        });
        group.bench_function(BenchmarkId::new("raw_ed25519_verify", format), |b| {
            b.iter(|| verifying.verify(black_box(message), &signature).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
