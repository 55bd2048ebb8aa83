//! What one flush of token usage costs the database: 10,000 (or COUNT)
//! distinct tokens in use, written in one statement. Prints the statements
//! and rows of a flush and how long five flushes took each.
//!
//! `cargo run --release --example usage_flush -- DATABASE_URL [COUNT]`
//! (`sqlite:///tmp/flush.db` is created; a PostgreSQL database must exist).

use std::time::Instant;

use informly::ids::TokenId;
use informly::store::{NewToken, Store};
use informly::token::{Format, Scope};
use informly::usage::UsageLog;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (url, count) = match args.as_slice() {
        [_, url] => (url.clone(), 10_000),
        [_, url, count] => (url.clone(), count.parse()?),
        _ => return Err("usage: usage_flush DATABASE_URL [COUNT]".into()),
    };
    let store = Store::open(&url).await?;
    let now = time::OffsetDateTime::now_utc();
    let workspace = store.ensure_default_workspace(now).await?;
    let mut tx = store.begin().await?;
    let app = tx
        .create_app(
            &workspace.id,
            &format!("flush {}", TokenId::generate()),
            None,
            now,
        )
        .await?;
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let id = TokenId::generate();
        tx.insert_token(&NewToken {
            id: &id,
            workspace_id: &workspace.id,
            app_id: Some(&app.id),
            subject: app.id.as_str(),
            name: None,
            scopes: "contacts:read",
            format: Format::Paseto,
            kid: "k4.pid.bench",
            issued_at: now.unix_timestamp(),
            expires_at: now.unix_timestamp() + 3600,
            replaces: None,
        })
        .await?;
        ids.push(id);
    }
    tx.commit().await?;

    let usage = UsageLog::new(UsageLog::DEFAULT_CAPACITY);
    println!("{count} distinct tokens in use; each flush: 1 statement, {count} rows");
    for round in 1..=5 {
        for (i, id) in ids.iter().enumerate() {
            let uses = 1 + i % 3;
            for _ in 0..uses {
                usage.record(
                    id.as_str(),
                    Some(Scope::CONTACTS_READ),
                    now.unix_timestamp() + round,
                );
            }
        }
        let started = Instant::now();
        let flushed = usage.flush(&store).await?;
        println!(
            "flush {round}: {} tokens in {:.1} ms",
            flushed.tokens,
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    store.close().await;
    Ok(())
}
