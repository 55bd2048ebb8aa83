//! The token work of a request, beside the floor it stands on: issue and
//! verify for each format next to the raw Ed25519 sign and verify of the same
//! bytes by ed25519-dalek, which both formats use (and, for PASETO, by
//! ed25519-compact, what pasetors uses, for comparison); a verification
//! served from the cache; a denylist lookup among 100,000 entries; a scope
//! check.
//!
//! `cargo bench --bench tokens`

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use ed25519_dalek::{Signer as _, Verifier as _};
use informly::cache::TokenCache;
use informly::token::{
    Denylist, Format, KeySet, KeyStatus, Policy, Scope, ScopeSet, SigningKey, Subject, TokenClaims,
    Verifier,
};

const NOW: i64 = 1_800_000_000;
const SEED: [u8; 32] = [7; 32];

fn claims(n: u32) -> TokenClaims {
    TokenClaims {
        token_id: format!("tok_01J{n:023}"),
        workspace: "ws_01J0000000000000000000000B".to_owned(),
        subject: Subject::App("app_01J0000000000000000000000C".to_owned()),
        scopes: ScopeSet::parse_for_app(["contacts:read", "contacts:write"]).unwrap(),
        issued_at: NOW,
        not_before: NOW,
        expires_at: NOW + 30 * 86_400,
    }
}

fn verifier(key: &SigningKey) -> Verifier {
    let mut keys = KeySet::new();
    keys.insert(key.public_key(), KeyStatus::Active).unwrap();
    Verifier::new(keys, Policy::default())
}

fn tokens(c: &mut Criterion) {
    let policy = Policy::default();
    let claims = claims(1);
    let dalek = ed25519_dalek::SigningKey::from_bytes(&SEED);
    let compact = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED));

    let mut group = c.benchmark_group("tokens");
    for format in Format::ALL {
        let key = SigningKey::from_seed(format, &SEED).unwrap();
        let verifier = verifier(&key);
        let token = key.sign(&claims, &policy).unwrap();
        // The floor: one raw signature over a message the size of the token.
        let message = token.as_bytes();

        group.bench_function(BenchmarkId::new("issue", format), |b| {
            b.iter(|| key.sign(black_box(&claims), &policy).unwrap())
        });
        group.bench_function(BenchmarkId::new("verify", format), |b| {
            b.iter(|| verifier.verify(black_box(&token), NOW).unwrap())
        });
        // The floor: ed25519-dalek, which signs and verifies both formats
        // (strict verification for PASETO, as its path does).
        let verifying = dalek.verifying_key();
        let signature = dalek.sign(message);
        group.bench_function(BenchmarkId::new("raw_sign", format), |b| {
            b.iter(|| dalek.sign(black_box(message)))
        });
        match format {
            Format::Paseto => {
                group.bench_function(BenchmarkId::new("raw_verify", format), |b| {
                    b.iter(|| {
                        verifying
                            .verify_strict(black_box(message), &signature)
                            .unwrap()
                    })
                });
                // What pasetors signs and verifies with, for comparison.
                let compact_signature = compact.sk.sign(message, None);
                group.bench_function(BenchmarkId::new("compact_sign", format), |b| {
                    b.iter(|| compact.sk.sign(black_box(message), None))
                });
                group.bench_function(BenchmarkId::new("compact_verify", format), |b| {
                    b.iter(|| {
                        compact
                            .pk
                            .verify(black_box(message), &compact_signature)
                            .unwrap()
                    })
                });
            }
            Format::Jwt => {
                group.bench_function(BenchmarkId::new("raw_verify", format), |b| {
                    b.iter(|| verifying.verify(black_box(message), &signature).unwrap())
                });
            }
        }

        // A repeat caller: digest, cache lookup, the time and key re-checks,
        // the denylist.
        let cache = TokenCache::new(TokenCache::DEFAULT_CAPACITY, policy.leeway);
        let denylist = Denylist::new();
        let cache_key = TokenCache::key(&token);
        cache.insert(cache_key, Arc::new(verifier.verify(&token, NOW).unwrap()));
        group.bench_function(BenchmarkId::new("verify_cache_hit", format), |b| {
            b.iter(|| {
                let hit = cache.get(&TokenCache::key(black_box(&token))).unwrap();
                verifier.recheck(&hit, NOW).unwrap();
                denylist.check(hit.claims(), NOW).unwrap();
            })
        });
    }
    group.finish();
}

fn checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("checks");
    let mut denylist = Denylist::new();
    for n in 0..100_000 {
        denylist.revoke_token(format!("tok_01K{n:023}"));
    }
    let mut revoked = claims(0);
    revoked.token_id = "tok_01K00000000000000000050000".to_owned();
    let fine = claims(2);
    group.bench_function("denylist_100k_miss", |b| {
        b.iter(|| denylist.check(black_box(&fine), NOW))
    });
    group.bench_function("denylist_100k_hit", |b| {
        b.iter(|| denylist.check(black_box(&revoked), NOW))
    });
    let scopes = fine.scopes;
    group.bench_function("scope_check", |b| {
        b.iter(|| black_box(scopes).contains(black_box(Scope::CONTACTS_WRITE)))
    });
    group.finish();
}

criterion_group!(benches, tokens, checks);
criterion_main!(benches);
