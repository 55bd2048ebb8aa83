//! Tokens issued by the service verify with independent implementations in
//! another language, using only the published documents: PASETO with pyseto
//! from `/.well-known/paserk.json`, JWT with PyJWT from `/.well-known/jwks.json`.
//!
//! Needs Python with pyseto and PyJWT (`.ci/run` installs pinned versions and
//! sets `INFORMLY_TEST_INTEROP=1` at build time); otherwise reported as ignored.

mod common;

use std::process::Command;

use common::Server;

#[tokio::test]
#[cfg_attr(
    not(interop_tests),
    ignore = "interop: install pyseto and PyJWT, set INFORMLY_TEST_INTEROP=1"
)]
async fn tokens_verify_with_pyseto_and_pyjwt_from_the_published_documents() {
    let server = Server::start().await;
    let admin = server.home.admin_token(None);
    let app = server.create_app(&admin, "interop").await;
    let mut tokens = Vec::new();
    for format in ["paseto", "jwt"] {
        for scopes in [
            &["contacts:read"][..],
            &["contacts:read", "contacts:write", "coupons:validate"],
        ] {
            let issued = server.issue(&admin, &app, scopes, format).await;
            tokens.push(issued["token"].as_str().expect("token").to_owned());
        }
    }
    for (path, file) in [
        ("/.well-known/paserk.json", "paserk.json"),
        ("/.well-known/jwks.json", "jwks.json"),
    ] {
        let body = server
            .client
            .get(server.url(path))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        std::fs::write(server.home.path().join(file), body).expect("write");
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/verify.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(server.home.path().join("paserk.json"))
        .arg(server.home.path().join("jwks.json"))
        .args(["informly", "informly-api"])
        .args(&tokens)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "independent verification failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        tokens.len()
    );
}
