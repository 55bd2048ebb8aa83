//! The audit log through the real CLI, on a real database: every change
//! writes its event in its own transaction, the chain verifies, and a row
//! edited or removed by hand is reported as the first break.

mod common;

use common::{Backend, Home};
use serde_json::Value;

fn actions(home: &Home) -> Vec<String> {
    home.run_json(&["audit", "list"])
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

/// Runs the CLI expecting a failure; returns its one line on stderr.
fn fails(home: &Home, args: &[&str]) -> String {
    let output = home.cli().args(args).output().expect("run informly");
    assert!(!output.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

#[tokio::test]
async fn every_change_writes_an_event_naming_its_actor_and_target_and_the_chain_verifies() {
    let home = Home::create();
    let app = home.run_json(&["apps", "create", "--name", "crm"])["id"]
        .as_str()
        .expect("app id")
        .to_owned();
    let token = home.run_json(&[
        "tokens",
        "issue",
        "--app",
        &app,
        "--scope",
        "contacts:read",
        "--expires-in",
        "1h",
    ]);
    common::remember_secret(token["token"].as_str().expect("token"));
    let token_id = token["id"].as_str().expect("id").to_owned();
    let rolled = home.run_json(&["tokens", "roll", &token_id, "--expires-in", "1h"]);
    common::remember_secret(rolled["token"].as_str().expect("token"));
    home.run(&["tokens", "revoke", rolled["id"].as_str().expect("id")]);
    home.run(&["tokens", "revoke", "--app", &app, "--all"]);
    home.run(&["keys", "rotate", "--format", "jwt"]);
    home.run(&["apps", "delete", &app]);

    assert_eq!(
        actions(&home),
        [
            "app.created",
            "token.created",
            "token.rolled",
            "token.revoked",
            "app.tokens_revoked",
            "key.rotated",
            "app.deleted",
        ]
    );
    let events = home.run_json(&["audit", "list"]);
    let events = events.as_array().expect("events");
    for event in events {
        assert_eq!(event["actor_type"], "cli", "{event}");
        assert!(
            event["actor_id"].as_str().unwrap_or_default().contains('@'),
            "user@host: {event}"
        );
        assert_eq!(event["hash"].as_str().map(str::len), Some(64));
    }
    assert_eq!(events[0]["target_id"], app.as_str());
    assert_eq!(events[2]["target_id"], token_id.as_str());
    assert_eq!(
        events[2]["changes"]["replaced_by"][1], rolled["id"],
        "the roll names the successor"
    );
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);
    let verified = home.run_json(&["audit", "verify"]);
    assert_eq!(verified["verified"], 7);
    // Never a token or a key's secret.
    let bytes = home.database_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(token["token"].as_str().unwrap()));
}

#[tokio::test]
async fn an_edited_or_removed_event_is_reported_as_the_first_break() {
    let home = Home::create();
    for name in ["one", "two", "three"] {
        home.run(&["apps", "create", "--name", name]);
    }
    assert_eq!(home.run_json(&["audit", "verify"])["verified"], 3);
    let events = home.run_json(&["audit", "list"]);
    let second = events[1]["id"].as_str().expect("id").to_owned();

    home.execute(&[&format!(
        "update audit_events set actor_id = 'someone@else' where id = '{second}'"
    )])
    .await;
    let error = fails(&home, &["audit", "verify"]);
    assert!(
        error.contains(&second) && error.contains("edited"),
        "{error}"
    );

    let home = Home::create();
    for name in ["one", "two", "three"] {
        home.run(&["apps", "create", "--name", name]);
    }
    let events = home.run_json(&["audit", "list"]);
    let (second, third) = (
        events[1]["id"].as_str().unwrap().to_owned(),
        events[2]["id"].as_str().unwrap().to_owned(),
    );
    home.execute(&[&format!("delete from audit_events where id = '{second}'")])
        .await;
    let error = fails(&home, &["audit", "verify"]);
    assert!(
        error.contains(&third) && error.contains("removed"),
        "{error}"
    );
}

#[tokio::test]
async fn a_change_whose_event_cannot_be_written_is_not_made() {
    let home = Home::create();
    home.run(&["apps", "create", "--name", "kept"]);
    let refuse: &[&str] = match home.backend {
        Backend::Sqlite => &["create trigger refuse_audit before insert on audit_events \
             begin select raise(abort, 'the audit log refuses'); end"],
        Backend::Postgres => &[
            "create function refuse_audit() returns trigger language plpgsql as \
             $$ begin raise exception 'the audit log refuses'; end; $$",
            "create trigger refuse_audit before insert on audit_events \
             for each row execute function refuse_audit()",
        ],
    };
    home.execute(refuse).await;
    let before = home.content().await;

    fails(&home, &["apps", "create", "--name", "lost"]);
    let kept = home.run_json(&["apps", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    fails(&home, &["apps", "delete", &kept]);
    fails(
        &home,
        &[
            "tokens",
            "issue",
            "--app",
            &kept,
            "--scope",
            "contacts:read",
            "--expires-in",
            "1h",
        ],
    );

    let after = home.content().await;
    assert_eq!(
        common::content_diff(&before, &after),
        "",
        "neither the changes nor their events were written"
    );
    let apps: Vec<Value> = home.run_json(&["apps", "list"]).as_array().unwrap().clone();
    assert_eq!(apps.len(), 1);
}

#[tokio::test]
async fn admin_tokens_read_the_log_over_http_with_filters_and_pages_and_each_event_names_its_request()
 {
    let server = common::Server::start().await;
    let admin = server.home.admin_token(None);
    let response = server
        .post("/v1/apps", &admin, &serde_json::json!({"name": "crm"}))
        .await;
    assert_eq!(response.status(), 201);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let app: Value = response.json().await.unwrap();
    let app = app["id"].as_str().unwrap().to_owned();
    for name in ["renamed once", "renamed twice"] {
        let response = server
            .patch(
                &format!("/v1/apps/{app}"),
                &admin,
                &serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(response.status(), 200);
    }

    let page: Value = server
        .get("/v1/audit-events", &admin)
        .await
        .json()
        .await
        .unwrap();
    let events = page["data"].as_array().unwrap();
    // The admin token's own issuance, at the command line, came first.
    assert_eq!(events.len(), 4, "{page}");
    assert_eq!(events[3]["action"], "token.created");
    assert_eq!(events[3]["actor_type"], "cli");
    assert_eq!(events[0]["action"], "app.updated", "newest first");
    assert_eq!(
        events[0]["changes"]["name"],
        serde_json::json!(["renamed once", "renamed twice"])
    );
    let created = &events[2];
    assert_eq!(created["action"], "app.created");
    assert_eq!(created["actor_type"], "admin_token");
    let me: Value = server.get("/v1/token", &admin).await.json().await.unwrap();
    assert_eq!(created["actor_id"], me["id"]);
    assert_eq!(created["target_id"], app.as_str());
    assert_eq!(created["request_id"], request_id.as_str());
    assert_eq!(created["client"], "127.0.0.1");

    // Filters, and pages that chain by cursor.
    let only: Value = server
        .get("/v1/audit-events?action=app.created", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    let first: Value = server
        .get("/v1/audit-events?limit=2", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second: Value = server
        .get(&format!("/v1/audit-events?limit=2&cursor={cursor}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"][0]["action"], "app.created");
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    assert_eq!(second["next_cursor"], Value::Null);
    let future: Value = server
        .get("/v1/audit-events?since=2999-01-01T00:00:00Z", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(future["data"], serde_json::json!([]));
    assert_eq!(
        server
            .get("/v1/audit-events?since=yesterday", &admin)
            .await
            .status(),
        422
    );
    assert_eq!(
        server
            .get("/v1/audit-events?cursor=forged", &admin)
            .await
            .status(),
        400
    );

    // Never for app tokens: the scope cannot be granted to one.
    let issued = server
        .issue(&admin, &app, &["contacts:read"], "paseto")
        .await;
    let response = server
        .get("/v1/audit-events", issued["token"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), 403);
    let refused = server
        .post(
            &format!("/v1/apps/{app}/tokens"),
            &admin,
            &serde_json::json!({"scopes": ["audit:read"], "expires_in": "1h"}),
        )
        .await;
    assert_eq!(refused.status(), 422);
}

#[tokio::test]
async fn changes_made_at_once_chain_one_after_another_without_a_fork() {
    let server = common::Server::start().await;
    let admin = server.home.admin_token(None);
    let creates = (0..16).map(|i| {
        let (server, admin) = (&server, &admin);
        async move {
            server
                .post(
                    "/v1/apps",
                    admin,
                    &serde_json::json!({"name": format!("app {i}")}),
                )
                .await
                .status()
        }
    });
    for status in futures::future::join_all(creates).await {
        assert_eq!(status, 201);
    }
    // The admin token's issuance, then the sixteen apps: one chain.
    assert_eq!(server.home.run_json(&["audit", "verify"])["verified"], 17);
}

informly_postgres_twins! {
    tests: [
        changes_made_at_once_chain_one_after_another_without_a_fork,
        admin_tokens_read_the_log_over_http_with_filters_and_pages_and_each_event_names_its_request,
        every_change_writes_an_event_naming_its_actor_and_target_and_the_chain_verifies,
        an_edited_or_removed_event_is_reported_as_the_first_break,
        a_change_whose_event_cannot_be_written_is_not_made,
    ],
    sqlite_only: [],
}
