//! Webhook delivery throughput to a receiver on loopback: messages queued
//! first, then delivered by one instance's deliverer as fast as it goes
//! (claim, sign, POST, record each attempt), for one endpoint (strictly one
//! message at a time, in order) and for eight (eight in flight).
//!
//! `cargo run --release --example webhook_throughput -- DATABASE_URL [MESSAGES]`
//! (`sqlite:///tmp/webhooks.db` is created; a PostgreSQL database must exist
//! and be empty). Prints deliveries per second for each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use informly::clock::SystemClock;
use informly::server::Server;
use informly::service::{Actor, EndpointRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (url, messages) = match args.as_slice() {
        [_, url] => (url.clone(), 2000usize),
        [_, url, n] => (url.clone(), n.parse()?),
        _ => return Err("usage: webhook_throughput DATABASE_URL [MESSAGES]".into()),
    };
    let keys = tempfile::tempdir()?;
    let keys_dir = keys.path().display().to_string();
    let server = Server::from_flags(
        [
            "--database-url",
            &url,
            "--keys-dir",
            &keys_dir,
            "--webhook-allow-private",
        ],
        Arc::new(SystemClock),
    )
    .await?;
    let service = server.state.service();
    let workspace = service.ensure_default_workspace().await?;
    let actor = Actor::cli(workspace.id);

    // The receiver: answers 200 to every POST, counting them.
    let received = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback({
        let received = received.clone();
        move || {
            received.fetch_add(1, Ordering::Relaxed);
            async { "ok" }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    for endpoints in [1usize, 8] {
        let mut ids = Vec::new();
        for _ in 0..endpoints {
            let request = EndpointRequest {
                url: receiver.clone(),
                events: vec!["token.created".to_owned()],
                description: None,
            };
            ids.push(
                service
                    .create_webhook_endpoint(&actor, request)
                    .await?
                    .endpoint
                    .id,
            );
        }
        for i in 0..messages {
            service
                .test_webhook_endpoint(&actor, &ids[i % endpoints])
                .await?;
        }
        let before = received.load(Ordering::Relaxed);
        let started = Instant::now();
        while received.load(Ordering::Relaxed) - before < messages {
            server.deliverer().run_once().await?;
        }
        let elapsed = started.elapsed();
        println!(
            "{endpoints} endpoint(s): {messages} messages in {:.2} s = {:.0} deliveries/s",
            elapsed.as_secs_f64(),
            messages as f64 / elapsed.as_secs_f64()
        );
        for id in &ids {
            service.delete_webhook_endpoint(&actor, id).await?;
        }
    }
    Ok(())
}
