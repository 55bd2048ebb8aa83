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
        .issue(
            &admin,
            &app,
            &["contacts:read", "contacts:write", "contacts:delete"],
            "paseto",
        )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_patches_and_deletes_each_get_their_own_answer() {
    // Sent at once, these are committed in groups: each must still get the
    // answer it would get alone, and the database must hold exactly that.
    let (server, token) = fixture().await;
    let server = &server;
    let token = token.as_str();
    let mut existing = Vec::new();
    for i in 0..30 {
        let created: Value = server
            .post(
                "/v1/contacts",
                token,
                &json!({"email": format!("e{i}@example.com")}),
            )
            .await
            .json()
            .await
            .expect("json");
        existing.push(created["id"].as_str().expect("id").to_owned());
    }
    let unknown = "ct_01ZZZZZZZZZZZZZZZZZZZZZZZZ";
    // (method, path, body, expected status)
    let mut calls: Vec<(&str, String, Value, u16)> = Vec::new();
    for i in 0..20 {
        calls.push((
            "POST",
            "/v1/contacts".into(),
            json!({"email": format!("n{i}@example.com")}),
            201,
        ));
    }
    for i in 0..10 {
        calls.push((
            "POST",
            "/v1/contacts".into(),
            json!({"email": format!("E{i}@example.com")}),
            409,
        ));
    }
    for (i, id) in existing[0..10].iter().enumerate() {
        calls.push((
            "PATCH",
            format!("/v1/contacts/{id}"),
            json!({"first_name": format!("p{i}")}),
            200,
        ));
    }
    for id in &existing[10..20] {
        // Onto an email another contact keeps.
        calls.push((
            "PATCH",
            format!("/v1/contacts/{id}"),
            json!({"email": "e25@example.com"}),
            409,
        ));
    }
    for id in &existing[20..25] {
        calls.push(("DELETE", format!("/v1/contacts/{id}"), Value::Null, 204));
    }
    calls.push((
        "DELETE",
        format!("/v1/contacts/{unknown}"),
        Value::Null,
        404,
    ));
    calls.push((
        "PATCH",
        format!("/v1/contacts/{unknown}"),
        json!({"phone": "1"}),
        404,
    ));

    let statuses = join_all(calls.iter().map(|(method, path, body, _)| async move {
        let response = match *method {
            "POST" => server.post(path, token, body).await,
            "PATCH" => server.patch(path, token, body).await,
            _ => server.delete(path, token).await,
        };
        response.status().as_u16()
    }))
    .await;
    for ((method, path, body, expected), status) in calls.iter().zip(&statuses) {
        assert_eq!(status, expected, "{method} {path} {body}");
    }

    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = server
            .get(&format!("/v1/contacts?limit=100{cursor}"), token)
            .await
            .json()
            .await
            .expect("json");
        listed.extend(page["data"].as_array().expect("data").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    // 30 existing - 5 deleted + 20 created.
    assert_eq!(listed.len(), 45);
    for contact in &listed {
        let email = contact["email"].as_str().expect("email");
        let id = contact["id"].as_str().expect("id");
        if let Some(i) = existing[0..10].iter().position(|e| e == id) {
            assert_eq!(contact["first_name"], format!("p{i}"), "{contact}");
        }
        if existing[10..20].iter().any(|e| e == id) {
            assert_ne!(
                email, "e25@example.com",
                "a conflicting patch took effect: {contact}"
            );
        }
        assert!(
            !existing[20..25].iter().any(|e| e == id),
            "a deleted contact is listed: {contact}"
        );
    }
}

informly_postgres_twins! {
    tests: [
        fifty_concurrent_creates_of_one_email_give_one_201_and_409s,
        concurrent_patches_of_different_fields_lose_no_update,
        concurrent_creates_patches_and_deletes_each_get_their_own_answer,
    ],
    sqlite_only: [],
}
