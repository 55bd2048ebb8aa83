//! PostgreSQL only: several instances on one database. Revocations travel by
//! LISTEN/NOTIFY; a database that goes away (cut for real, through a TCP proxy)
//! leaves token checks working from memory, data routes answering 503, and
//! everything recovering by itself when it comes back.
//!
//! Each test needs `INFORMLY_TEST_POSTGRES_URL`; without it at build time they
//! are reported as ignored.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Home, Proxy, Server, eventually, postgres_address, through_port};
use serde_json::{Value, json};

/// Runs `test` with this thread's homes on PostgreSQL.
fn on_postgres(test: fn()) {
    common::on_postgres(test)
}

fn token_of(issued: &Value) -> String {
    issued["token"].as_str().expect("token").to_owned()
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL: set INFORMLY_TEST_POSTGRES_URL to run it"
)]
fn a_revocation_through_one_instance_reaches_another_within_a_second_by_notification() {
    on_postgres(revocation_reaches_another_instance);
}

#[tokio::main(flavor = "current_thread")]
async fn revocation_reaches_another_instance() {
    let home = Home::new();
    assert_eq!(home.backend, Backend::Postgres);
    // A periodic refresh far slower than the bound: only the notification can
    // make it in time.
    let slow = [("INFORMLY_DENYLIST_REFRESH", "60s")];
    let a = Server::start_in(home.clone(), &slow).await;
    let b = Server::start_in(home.clone(), &slow).await;
    let admin = home.admin_token(None);
    let app = a.create_app(&admin, "main").await;

    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let issued = a
            .issue(
                &admin,
                &app,
                &["contacts:read"],
                if round % 2 == 0 { "paseto" } else { "jwt" },
            )
            .await;
        let token = token_of(&issued);
        let id = issued["id"].as_str().expect("id");
        assert_eq!(b.get("/v1/token", &token).await.status(), 200);

        let response = a
            .delete(&format!("/v1/apps/{app}/tokens/{id}"), &admin)
            .await;
        assert_eq!(response.status(), 204);
        let b = &b;
        let token = &token;
        let took = eventually(Duration::from_secs(2), || async move {
            b.get("/v1/token", token).await.status() == 401
        })
        .await
        .expect("instance B refused the revoked token within 2 s");
        println!("round {round}: revoked on A, refused by B after {took:?}");
        worst = worst.max(took);
    }
    println!("worst propagation A -> B over 5 revocations: {worst:?}");
    assert!(worst < Duration::from_secs(1), "propagation took {worst:?}");
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL: set INFORMLY_TEST_POSTGRES_URL to run it"
)]
fn with_the_database_cut_tokens_still_verify_data_routes_answer_503_and_all_recovers() {
    on_postgres(database_cut_and_restored);
}

// The proxy runs on this runtime while the test blocks on starting the server.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn database_cut_and_restored() {
    let home = Home::new();
    let proxy = Proxy::start(&postgres_address()).await;
    let url = through_port(&home.database_url(), proxy.port);
    let server = Server::start_in(
        home.clone(),
        &[
            ("INFORMLY_DATABASE_URL", url.as_str()),
            ("INFORMLY_REQUEST_TIMEOUT", "10s"),
        ],
    )
    .await;

    let admin = home.admin_token(None);
    let app = server.create_app(&admin, "main").await;
    let scopes = ["contacts:read", "contacts:write"];
    let token = token_of(&server.issue(&admin, &app, &scopes, "paseto").await);
    let revoked = server.issue(&admin, &app, &scopes, "jwt").await;
    let revoked_token = token_of(&revoked);
    let response = server
        .delete(
            &format!("/v1/apps/{app}/tokens/{}", revoked["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(response.status(), 204);
    let created = server
        .post(
            "/v1/contacts",
            &token,
            &json!({"email": "before@example.com"}),
        )
        .await;
    assert_eq!(created.status(), 201);

    proxy.cut();

    // Token checks need no database.
    assert_eq!(server.get("/v1/token", &token).await.status(), 200);
    // Revocations already known stay enforced.
    assert_eq!(server.get("/v1/token", &revoked_token).await.status(), 401);
    // Data routes answer 503 problem+json, well within the request timeout.
    let started = Instant::now();
    let response = server.get("/v1/contacts", &token).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    println!("data route with the database cut: 503 after {took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let response = server
        .post(
            "/v1/contacts",
            &token,
            &json!({"email": "during@example.com"}),
        )
        .await;
    assert_eq!(response.status(), 503);
    // Not ready, and the body says which part.
    let ready = server
        .client
        .get(server.url("/ready"))
        .send()
        .await
        .expect("GET /ready");
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.expect("a JSON body");
    assert_eq!(ready["status"], "unavailable", "{ready}");
    assert_eq!(ready["database"]["ok"], false, "{ready}");
    assert_eq!(ready["outbox"]["ok"], false, "{ready}");
    assert_eq!(ready["keys"]["ok"], true, "the keys are in memory: {ready}");

    proxy.restore();

    // Back by itself, no restart.
    let server = &server;
    let token = &token;
    let recovered = eventually(Duration::from_secs(15), || async move {
        server.get("/v1/contacts", token).await.status() == 200
    })
    .await
    .expect("the data routes recovered");
    println!("recovered {recovered:?} after the database came back");
    assert_eq!(server.public_status("/ready").await, 200);
    assert_eq!(
        server.contact_emails(token).await,
        ["before@example.com"],
        "nothing lost, nothing half-written"
    );
    let response = server
        .post(
            "/v1/contacts",
            token,
            &json!({"email": "after@example.com"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(server.get("/v1/token", &revoked_token).await.status(), 401);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL: set INFORMLY_TEST_POSTGRES_URL to run it"
)]
fn token_uses_counted_while_the_database_is_cut_are_written_once_it_is_back() {
    on_postgres(usage_survives_a_cut);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn usage_survives_a_cut() {
    let home = Home::new();
    let proxy = Proxy::start(&postgres_address()).await;
    let url = through_port(&home.database_url(), proxy.port);
    let server = Server::start_in(
        home.clone(),
        &[
            ("INFORMLY_DATABASE_URL", url.as_str()),
            ("INFORMLY_USAGE_FLUSH", "1s"),
        ],
    )
    .await;
    let admin = home.admin_token(None);
    let app = server.create_app(&admin, "main").await;
    let issued = server
        .issue(&admin, &app, &["contacts:read"], "paseto")
        .await;
    let (token, id) = (token_of(&issued), issued["id"].as_str().unwrap().to_owned());
    let uses = || {
        home.run_json(&["tokens", "list", "--app", &app])
            .as_array()
            .expect("tokens")
            .iter()
            .find(|t| t["id"] == id.as_str())
            .map(|t| t["uses"].as_i64().unwrap_or(-1))
            .unwrap_or(-1)
    };

    proxy.cut();
    for _ in 0..25 {
        assert_eq!(server.get("/v1/token", &token).await.status(), 200);
    }
    // Several flushes fail meanwhile, and say so.
    let server_ref = &server;
    eventually(Duration::from_secs(10), || async move {
        server_ref.logs().contains("cannot write token usage")
    })
    .await
    .expect("a failed flush was logged");
    assert_eq!(uses(), 0, "nothing reached the database");

    proxy.restore();
    let counted = eventually(Duration::from_secs(15), || async { uses() == 25 })
        .await
        .expect("every use counted during the cut was written");
    println!("25 uses written {counted:?} after the database came back");
}
