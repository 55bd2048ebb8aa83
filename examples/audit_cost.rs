//! What an audit event adds to a change: creating an app, committed alone or
//! with its audit event in the same transaction, in interleaved rounds.
//! Prints the median latency of each and their ratio.
//!
//! `cargo run --release --example audit_cost -- DATABASE_URL [CHANGES_PER_ROUND]`
//! (`sqlite:///tmp/audit.db` is created; a PostgreSQL database must exist).

use std::time::{Duration, Instant};

use informly::store::{NewEvent, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (url, per_round) = match args.as_slice() {
        [_, url] => (url.clone(), 200),
        [_, url, n] => (url.clone(), n.parse()?),
        _ => return Err("usage: audit_cost DATABASE_URL [CHANGES_PER_ROUND]".into()),
    };
    let store = Store::open(&url).await?;
    let workspace = store
        .ensure_default_workspace(time::OffsetDateTime::now_utc())
        .await?;
    let mut alone = Vec::new();
    let mut audited = Vec::new();
    let mut n = 0;
    for _round in 0..4 {
        for with_event in [false, true] {
            for _ in 0..per_round {
                n += 1;
                let now = time::OffsetDateTime::now_utc();
                let started = Instant::now();
                let mut tx = store.begin().await?;
                let app = tx
                    .create_app(
                        &workspace.id,
                        &format!("cost {n} {}", now.unix_timestamp_nanos()),
                        None,
                        now,
                    )
                    .await?;
                if with_event {
                    let event = NewEvent {
                        actor_type: "cli",
                        actor_id: "bench@localhost".to_owned(),
                        action: "app.created",
                        target: Some(("app", app.id.to_string())),
                        request_id: None,
                        client: None,
                        changes: None,
                    };
                    tx.record_audit(&workspace.id, event, now).await?;
                }
                tx.commit().await?;
                match with_event {
                    true => audited.push(started.elapsed()),
                    false => alone.push(started.elapsed()),
                }
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut alone), median(&mut audited));
    println!(
        "create an app, median of {} each: alone {:.3} ms, with its audit event {:.3} ms ({:.2}x, +{:.3} ms)",
        alone.len(),
        a.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3,
        b.as_secs_f64() / a.as_secs_f64(),
        (b.as_secs_f64() - a.as_secs_f64()) * 1e3
    );
    store.close().await;
    Ok(())
}
