//! API conformance: schemathesis generates requests from `/openapi.json` of a
//! live server, with every check on, and the server must agree with its own
//! document on every status code, header and body. Configuration, and the two
//! places where a schema-valid request is refused by design, are in
//! `tests/schemathesis/schemathesis.toml`.
//!
//! Needs schemathesis from PyPI (`.ci/run` installs a pinned version and sets
//! `INFORMLY_TEST_SCHEMATHESIS=1` at build time); otherwise reported as ignored.

mod common;

use std::process::Command;

use common::{Home, Server};
use serde_json::Value;

#[test]
#[cfg_attr(
    not(schemathesis_tests),
    ignore = "schemathesis: pip install schemathesis, set INFORMLY_TEST_SCHEMATHESIS=1"
)]
fn the_server_conforms_to_its_openapi_document() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let server = Server::start_in(Home::new(), &[]).await;
        let home = &server.home;
        let admin = home.admin_token(None);
        let created: Value = serde_json::from_str(&home.run(&[
            "workspaces",
            "create",
            "--name",
            "contacts",
            "--json",
        ]))
        .expect("workspace json");
        let workspace = created["id"].as_str().expect("workspace id");
        let other_admin = home.admin_token(Some(workspace));
        let app = server.create_app(&other_admin, "schemathesis").await;
        let scopes = ["contacts:read", "contacts:write", "contacts:delete"];
        let issued = server.issue(&other_admin, &app, &scopes, "paseto").await;
        let token = issued["token"].as_str().expect("token");

        let config = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/schemathesis/schemathesis.toml"
        );
        let output = Command::new("schemathesis")
            .current_dir(home.path())
            .env("INFORMLY_APP_TOKEN", token)
            .env("INFORMLY_ADMIN_TOKEN", &admin)
            .env("NO_COLOR", "1")
            .args(["--config-file", config, "run"])
            .arg(server.url("/openapi.json"))
            // Every check runs (schemathesis's default); the config file
            // turns one off for one operation, which `--checks all` would
            // override.
            .args(["--workers", "1"])
            .output()
            .expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("generated") || l.contains("passed") || l.contains("failed"))
            .collect();
        println!("{}", summary.join("\n"));
        assert!(
            output.status.success(),
            "schemathesis found failures:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// The same on PostgreSQL (written out rather than through
/// `informly_postgres_twins!`, because it needs schemathesis as well).
#[test]
#[cfg_attr(
    any(not(schemathesis_tests), not(postgres_tests)),
    ignore = "schemathesis on PostgreSQL: set INFORMLY_TEST_SCHEMATHESIS=1 and INFORMLY_TEST_POSTGRES_URL"
)]
fn the_server_conforms_to_its_openapi_document_on_postgres() {
    common::on_postgres(the_server_conforms_to_its_openapi_document);
}
