//! Reference servers for the load benchmark (`benches/load.sh`), to set our
//! figures beside: the same axum/hyper stack doing
//!
//! - `GET /health`: nothing (the HTTP floor);
//! - `GET /floor`: one Ed25519 signature verification per request and nothing
//!   else (the signature floor), with ed25519-dalek's `verify` (what our
//!   JWT path uses);
//! - `GET /floor-strict`: the same with `verify_strict`, which also refuses
//!   small-order keys and non-canonical R (what our PASETO path uses);
//! - `GET /floor-mixed`: the same, alternating ed25519-compact (what pasetors
//!   uses for PASETO) and ed25519-dalek request by request: the floor of a
//!   half-PASETO, half-JWT mix of tokens;
//! - `GET /opaque`: the opaque-key model of Stripe, GitHub or Unkey: hash the
//!   bearer key (SHA-256) and look the hash up in the database, every request.
//!
//! `cargo run --release --example bench_reference -- DATABASE_URL LISTEN SEED_KEYS KEYS_FILE [STACK]`
//! seeds SEED_KEYS random keys into the database (table `bench_api_keys`) and
//! writes them, one per line, to KEYS_FILE for the load generator.
//!
//! STACK is `bare` (the default: `axum::serve`, no layers) or `informly`:
//! the handlers then run in `informly serve`'s own stack, with its default
//! settings — its serve loop (connection and in-flight limits, header-read
//! timeout), its layers (`informly::http::layered`: request id and log line,
//! body limit, panics caught, request timeout) and its log — so a figure set
//! beside the API's differs from it by the handler alone.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser as _;
use ed25519_dalek::{Signer as _, Verifier as _};
use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

// The allocator `informly` runs with, so the stacks differ only in handlers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Reference {
    pool: AnyPool,
    key: ed25519_dalek::VerifyingKey,
    message: Vec<u8>,
    signature: ed25519_dalek::Signature,
    compact_key: ed25519_compact::PublicKey,
    compact_signature: ed25519_compact::Signature,
    turn: std::sync::atomic::AtomicU64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (url, listen, seed, keys_file, stack) = match args.as_slice() {
        [_, url, listen, seed, keys_file] => (url, listen, seed, keys_file, "bare"),
        [_, url, listen, seed, keys_file, stack] => (url, listen, seed, keys_file, stack.as_str()),
        _ => {
            return Err(
                "usage: bench_reference DATABASE_URL LISTEN SEED_KEYS KEYS_FILE [bare|informly]"
                    .into(),
            );
        }
    };
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await?;
    sqlx::query("drop table if exists bench_api_keys")
        .execute(&pool)
        .await?;
    sqlx::query(
        "create table bench_api_keys (hash text primary key, app_id text not null, scopes text not null)",
    )
    .execute(&pool)
    .await?;
    let mut lines = String::new();
    for i in 0..seed.parse::<usize>()? {
        let key = format!("sk_{}", URL_SAFE_NO_PAD.encode(rand_bytes()));
        sqlx::query("insert into bench_api_keys (hash, app_id, scopes) values ($1, $2, $3)")
            .bind(hex(&Sha256::digest(key.as_bytes())))
            .bind(format!("app_{i}"))
            .bind("contacts:read")
            .execute(&pool)
            .await?;
        lines.push_str(&key);
        lines.push('\n');
    }
    std::fs::write(keys_file, lines)?;

    // A token-sized message and its signature, verified on every /floor request.
    let signing = ed25519_dalek::SigningKey::from_bytes(&rand_bytes());
    let message = vec![b'x'; 480];
    let compact = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(rand_bytes()));
    let state = Arc::new(Reference {
        pool,
        key: signing.verifying_key(),
        signature: signing.sign(&message),
        compact_key: compact.pk,
        compact_signature: compact.sk.sign(&message, None),
        message,
        turn: std::sync::atomic::AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/floor", get(floor))
        .route("/floor-strict", get(floor_strict))
        .route("/floor-mixed", get(floor_mixed))
        .route("/opaque", get(opaque))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(listen.parse::<SocketAddr>()?).await?;
    eprintln!("listening address={}", listener.local_addr()?);
    match stack {
        "bare" => axum::serve(listener, app).await?,
        "informly" => {
            let _log_writer = informly::server::init_logging();
            let settings = Defaults::parse_from(["bench_reference"]).serve;
            let limits = informly::server::ConnectionLimits::of(&settings);
            let app = informly::http::layered(app, informly::server::request_timeout(&settings));
            informly::server::serve(listener, app, std::future::pending(), limits).await;
        }
        other => return Err(format!("unknown stack {other:?}: bare or informly").into()),
    }
    Ok(())
}

/// `informly serve`'s settings, at their defaults.
#[derive(clap::Parser)]
struct Defaults {
    #[command(flatten)]
    serve: informly::server::ServeArgs,
}

async fn floor(State(state): State<Arc<Reference>>) -> StatusCode {
    match state.key.verify(&state.message, &state.signature) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::UNAUTHORIZED,
    }
}

async fn floor_strict(State(state): State<Arc<Reference>>) -> StatusCode {
    match state.key.verify_strict(&state.message, &state.signature) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::UNAUTHORIZED,
    }
}

async fn floor_mixed(State(state): State<Arc<Reference>>) -> StatusCode {
    let turn = state
        .turn
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let verified = if turn.is_multiple_of(2) {
        state
            .compact_key
            .verify(&state.message, &state.compact_signature)
            .is_ok()
    } else {
        state.key.verify(&state.message, &state.signature).is_ok()
    };
    if verified {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

async fn opaque(State(state): State<Arc<Reference>>, headers: HeaderMap) -> StatusCode {
    let Some(key) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return StatusCode::UNAUTHORIZED;
    };
    let hash = hex(&Sha256::digest(key.as_bytes()));
    let row: Result<Option<(String, String)>, _> =
        sqlx::query_as("select app_id, scopes from bench_api_keys where hash = $1")
            .bind(hash)
            .fetch_optional(&state.pool)
            .await;
    match row {
        Ok(Some(_)) => StatusCode::OK,
        Ok(None) => StatusCode::UNAUTHORIZED,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn rand_bytes() -> [u8; 32] {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
