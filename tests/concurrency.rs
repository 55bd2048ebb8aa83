//! Concurrent writers on one server, on both backends: the database's
//! constraints decide races (one 201, the rest 409, never a 5xx), and
//! concurrent partial updates of one contact lose no field.

mod common;

use common::Server;
use futures::future::join_all;
use serde_json::{Value, json};

async fn fixture() -> (Server, String) {
    let server = Server::start().await;
    let admin = server.home.admin_token(None);
    let app = server.create_app(&admin, "main").await;
    let issued = server
        .issue(&admin, &app, &["contacts:read", "contacts:write"], "paseto")
        .await;
    let token = issued["token"].as_str().expect("token").to_owned();
    (server, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_creates_of_one_email_give_one_201_and_409s() {
    let (server, token) = fixture().await;
    let server = &server;
    let token = token.as_str();
    let attempts = (0..50).map(|i| async move {
        // Case varies: uniqueness ignores it.
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        server
            .post(
                "/v1/contacts",
                token,
                &json!({"email": email, "first_name": format!("n{i}")}),
            )
            .await
            .status()
            .as_u16()
    });
    let statuses = join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == 201).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, conflicts), (1, 49), "{statuses:?}");

    let list: Value = server
        .get("/v1/contacts", token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["data"].as_array().expect("data").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_different_fields_lose_no_update() {
    let (server, token) = fixture().await;
    let server = &server;
    let token = token.as_str();
    for round in 0..10 {
        let created: Value = server
            .post(
                "/v1/contacts",
                token,
                &json!({"email": format!("p{round}@example.com")}),
            )
            .await
            .json()
            .await
            .expect("json");
        let id = created["id"].as_str().expect("id").to_owned();
        let path = format!("/v1/contacts/{id}");
        let patches = [
            json!({"first_name": format!("first {round}")}),
            json!({"last_name": format!("last {round}")}),
            json!({"phone": format!("+1 555 {round:04}")}),
            json!({"company": format!("company {round}")}),
            json!({"tags": [format!("tag {round}")]}),
            json!({"attributes": {"round": round}}),
            json!({"email": format!("patched{round}@example.com")}),
        ];
        let statuses = join_all(patches.iter().map(|patch| {
            let path = path.as_str();
            async move { server.patch(path, token, patch).await.status().as_u16() }
        }))
        .await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

        let contact: Value = server.get(&path, token).await.json().await.expect("json");
        for patch in &patches {
            let (field, value) = patch.as_object().unwrap().iter().next().unwrap();
            assert_eq!(
                &contact[field], value,
                "round {round}: {field} was lost: {contact}"
            );
        }
    }
}

informly_postgres_twins! {
    tests: [
        fifty_concurrent_creates_of_one_email_give_one_201_and_409s,
        concurrent_patches_of_different_fields_lose_no_update,
    ],
    sqlite_only: [],
}
