//! The remote verifier (`informly::remote`, GitHub issue 7) against the real
//! server: the downstream service's view, keys and revocations over HTTP.
//!
//! What is pinned here:
//! - valid tokens of both formats verify, with the app, workspace and scopes;
//! - tokens keep verifying while the server is stopped, and revocations known
//!   before stay enforced;
//! - a token revoked on the server is refused within the documented bound
//!   (feed interval + 6 s, plus one request), including one revoked while the
//!   verifier could not reach the server;
//! - past the staleness bound without a verified feed page, everything is
//!   refused (fail closed);
//! - tokens of a rotated key verify; tokens of a retired key are refused;
//! - a flood of unknown key ids costs the server at most one key fetch per
//!   rate-limit interval (counted in the server's own request log).
//!
//! The verifier talks to the server through a relay on a fixed local port,
//! standing for the stable name a real deployment has: a server restarted on
//! the same home listens on a new port, and the relay is pointed at it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Home, Issued, Server, ServerWithApp, eventually, unix_now};
use informly::clock::ManualClock;
use informly::remote::{RemoteVerifier, VerifyError};
use informly::token::{Error, Format, Policy, Scope, ScopeSet, SigningKey, Subject, TokenClaims};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

/// The documented freshness bound at the default feed interval (5 s): the
/// interval + 6 s, plus one request (allowed 1 s here).
const FRESHNESS_BOUND: Duration = Duration::from_secs(5 + 6 + 1);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A TCP relay on a port of its own, forwarding to whichever server is
/// current; with none, connections are refused (closed at once).
struct Relay {
    base: String,
    upstream: Arc<Mutex<Option<String>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(server: &Server) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let upstream = Arc::new(Mutex::new(Some(server.address())));
        let current = upstream.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Some(target) = current.lock().unwrap().clone() else {
                    continue; // dropped: the client sees the connection closed
                };
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Relay {
            base,
            upstream,
            accept,
        }
    }

    fn point_at(&self, server: Option<&Server>) {
        *self.upstream.lock().unwrap() = server.map(Server::address);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Runs the CLI on the home from a blocking thread.
async fn run_cli(home: &Arc<Home>, args: &[&str]) -> String {
    let home = home.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        home.run(&args)
    })
    .await
    .expect("cli")
}

/// How many times the server's log shows `path` served.
fn served(server: &Server, path: &str) -> usize {
    let needle = format!("path=\"{path}\"");
    server
        .logs()
        .lines()
        .filter(|line| line.contains(&needle) && line.contains("served"))
        .count()
}

/// A well-formed PASETO token signed by a key nobody published.
fn unknown_kid_token() -> String {
    let key = SigningKey::generate(Format::Paseto).expect("key");
    let now = unix_now();
    let claims = TokenClaims {
        token_id: "tok_01J0000000000000000000000A".into(),
        workspace: "ws_01J0000000000000000000000B".into(),
        subject: Subject::App("app_01J0000000000000000000000C".into()),
        scopes: ScopeSet::parse_for_app(["contacts:read"]).expect("scopes"),
        issued_at: now,
        not_before: now,
        expires_at: now + 3600,
    };
    key.sign(&claims, &Policy::default()).expect("sign")
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn valid_tokens_of_both_formats_verify_with_their_app_workspace_and_scopes() {
    let s = ServerWithApp::start("downstream").await;
    let verifier = RemoteVerifier::builder()
        .base_url(&s.server.base)
        .build()
        .await
        .expect("verifier");
    for format in ["paseto", "jwt"] {
        let Issued {
            token,
            id: token_id,
            ..
        } = s.issue(&["contacts:read"], format).await;
        let verified = verifier.verify(&token).await.expect("valid");
        assert_eq!(verified.claims().token_id, token_id);
        assert_eq!(verified.app_id(), Some(s.app.as_str()));
        assert!(verified.workspace().starts_with("ws_"));
        assert!(verified.require(Scope::CONTACTS_READ).is_ok());
        assert!(verified.require(Scope::CONTACTS_WRITE).is_err());
    }
    assert_eq!(
        verifier.verify("garbage").await.err(),
        Some(VerifyError::Token(Error::UnsupportedFormat))
    );
    let status = verifier.status();
    assert!(status.keys >= 2, "{status:?}");
    assert!(status.feed_verified_at.is_some());
}

#[tokio::test]
async fn tokens_verify_while_the_server_is_down_and_revocations_reach_the_verifier_within_the_bound()
 {
    let mut s = ServerWithApp::start("downstream").await;
    let relay = Relay::start(&s.server).await;
    let verifier = RemoteVerifier::builder()
        .base_url(&relay.base)
        .build()
        .await
        .expect("verifier");
    let kept = s.issue(&["contacts:read"], "paseto").await.token;
    let Issued {
        token: revoked_before,
        id: revoked_before_id,
        ..
    } = s.issue(&["contacts:read"], "jwt").await;
    let Issued {
        token: revoked_while_down,
        id: revoked_while_down_id,
        ..
    } = s.issue(&["contacts:read"], "paseto").await;
    let Issued {
        token: revoked_after,
        id: revoked_after_id,
        ..
    } = s.issue(&["contacts:read"], "jwt").await;

    // Revoked while the server is up: refused within the bound.
    s.revoke(&revoked_before_id).await;
    let took = eventually(FRESHNESS_BOUND, || async {
        verifier.verify(&revoked_before).await == Err(VerifyError::Token(Error::Revoked))
    })
    .await
    .expect("revocation reached the verifier within the bound");
    println!("revocation reached the verifier in {took:?}");

    // The server goes away: what the verifier holds keeps answering.
    s.server.terminate();
    relay.point_at(None);
    tokio::time::sleep(Duration::from_secs(6)).await; // at least one failed poll
    assert!(verifier.status().last_error.is_some(), "the poll failed");
    assert!(verifier.verify(&kept).await.is_ok());
    assert!(verifier.verify(&revoked_while_down).await.is_ok());
    assert_eq!(
        verifier.verify(&revoked_before).await.err(),
        Some(VerifyError::Token(Error::Revoked))
    );

    // Revoked meanwhile (through the CLI, on the database), then the server
    // comes back on another port behind the same name.
    run_cli(
        &s.server.home,
        &["tokens", "revoke", &revoked_while_down_id],
    )
    .await;
    let back = Server::start_in(s.server.home.clone(), &[]).await;
    relay.point_at(Some(&back));
    let came_back = Instant::now();
    let took = eventually(FRESHNESS_BOUND, || async {
        verifier.verify(&revoked_while_down).await == Err(VerifyError::Token(Error::Revoked))
    })
    .await
    .expect("a revocation made while the server was down reached the verifier");
    println!(
        "revocation made during the outage refused {took:?} after the server came back \
         ({:?} since)",
        came_back.elapsed()
    );
    assert!(verifier.verify(&kept).await.is_ok());

    // And one revoked on the restarted server.
    s.revoke_on(&back, &revoked_after_id).await;
    let took = eventually(FRESHNESS_BOUND, || async {
        verifier.verify(&revoked_after).await == Err(VerifyError::Token(Error::Revoked))
    })
    .await
    .expect("revocation on the restarted server reached the verifier");
    println!("revocation on the restarted server reached the verifier in {took:?}");
    assert!(verifier.verify(&kept).await.is_ok());
}

#[tokio::test]
async fn past_the_staleness_bound_without_the_server_every_token_is_refused() {
    let mut s = ServerWithApp::start("downstream").await;
    let clock = Arc::new(ManualClock::at(unix_now()));
    let verifier = RemoteVerifier::builder()
        .base_url(&s.server.base)
        .staleness(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .await
        .expect("verifier");
    let token = s.issue(&["contacts:read"], "paseto").await.token;
    assert!(verifier.verify(&token).await.is_ok());
    s.server.terminate();
    assert!(verifier.poll_revocations().await.is_err());
    clock.advance(60);
    assert!(verifier.verify(&token).await.is_ok(), "at the bound");
    clock.advance(1);
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Stale));
}

#[tokio::test]
async fn after_a_roll_the_verifier_refuses_the_old_token_at_the_scheduled_second_with_the_server_stopped()
 {
    let mut s = ServerWithApp::start("downstream").await;
    let clock = Arc::new(ManualClock::at(unix_now()));
    let verifier = RemoteVerifier::builder()
        .base_url(&s.server.base)
        .staleness(Duration::from_secs(3600))
        .clock(clock.clone())
        .build()
        .await
        .expect("verifier");
    let old = s.issue(&["contacts:read"], "paseto").await;
    assert!(verifier.verify(&old.token).await.is_ok());

    let rolled = s
        .server
        .post(
            &format!("/v1/apps/{}/tokens/{}/roll", s.app, old.id),
            &s.admin,
            &serde_json::json!({"expires_in": "30d", "overlap": "10m"}),
        )
        .await;
    assert_eq!(rolled.status(), 201);
    let rolled: Value = rolled.json().await.expect("json");
    let new = rolled["token"].as_str().expect("the new token").to_owned();
    common::remember_secret(&new);
    assert_eq!(rolled["replaces"], old.id.as_str());
    let records = s
        .server
        .get(&format!("/v1/apps/{}/tokens", s.app), &s.admin)
        .await;
    let records: Value = records.json().await.expect("json");
    let record = records["data"]
        .as_array()
        .expect("records")
        .iter()
        .find(|r| r["id"] == old.id.as_str())
        .expect("the old record")
        .clone();
    assert_eq!(record["status"], "rolling");
    let takes_effect = time::OffsetDateTime::parse(
        record["revoked_at"].as_str().expect("revoked_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("a time")
    .unix_timestamp();

    // The verifier learns the schedule, then the service goes away.
    verifier.poll_revocations().await.expect("a page");
    s.server.terminate();
    assert!(verifier.poll_revocations().await.is_err(), "unreachable");

    clock.set(takes_effect - 1);
    assert!(verifier.verify(&old.token).await.is_ok(), "the last second");
    assert!(verifier.verify(&new).await.is_ok());
    clock.set(takes_effect);
    assert_eq!(
        verifier.verify(&old.token).await,
        Err(VerifyError::Token(Error::Revoked)),
        "from the scheduled second"
    );
    assert!(verifier.verify(&new).await.is_ok());
}

#[tokio::test]
async fn tokens_of_a_rotated_key_verify_and_every_token_of_a_retired_key_is_refused() {
    let s = ServerWithApp::start("downstream").await;
    let home = s.server.home.clone();
    let verifier = RemoteVerifier::builder()
        .base_url(&s.server.base)
        // Short, so the test need not wait for the defaults (10 s, 60 s).
        .key_refresh_min(Duration::from_secs(1))
        .key_refresh(Duration::from_secs(2))
        .build()
        .await
        .expect("verifier");
    let mut old = Vec::new();
    for format in ["paseto", "jwt"] {
        let token = s.issue(&["contacts:read"], format).await.token;
        let kid = verifier
            .verify(&token)
            .await
            .expect("valid")
            .kid()
            .to_owned();
        old.push((token, kid));
    }

    // Publish first, sign later: the server reloads its keys every 2 s.
    run_cli(&home, &["keys", "rotate", "--activate-after", "3"]).await;
    let mut rotated = Vec::new();
    for (format, (_, old_kid)) in ["paseto", "jwt"].into_iter().zip(&old) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let token = loop {
            let token = s.issue(&["contacts:read"], format).await.token;
            let verified = verifier
                .verify(&token)
                .await
                .expect("a new-key token verifies");
            if verified.kid() != *old_kid {
                break token;
            }
            assert!(
                Instant::now() < deadline,
                "{format}: the new key never signed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        rotated.push(token);
    }

    for (_, kid) in &old {
        run_cli(&home, &["keys", "retire", kid]).await;
    }
    // The server drops retired keys from its documents at its next reload
    // (2 s); the verifier's next refresh (2 s here) drops them too.
    for (token, _) in &old {
        let refused = eventually(Duration::from_secs(8), || async {
            matches!(
                verifier.verify(token).await,
                Err(VerifyError::Token(Error::UnknownKey | Error::RetiredKey))
            )
        })
        .await;
        assert!(refused.is_some(), "a token of a retired key still verifies");
    }
    for token in &rotated {
        assert!(verifier.verify(token).await.is_ok());
    }
}

#[tokio::test]
async fn a_flood_of_unknown_key_ids_costs_the_server_at_most_one_key_fetch_per_interval() {
    let s = ServerWithApp::start("downstream").await;
    let interval = Duration::from_secs(2);
    let verifier = RemoteVerifier::builder()
        .base_url(&s.server.base)
        .key_refresh_min(interval)
        .build()
        .await
        .expect("verifier");
    let bogus: Vec<String> = (0..20).map(|_| unknown_kid_token()).collect();
    let start = Instant::now();
    let mut refused = 0usize;
    while start.elapsed() < Duration::from_secs(5) {
        let batch = bogus.iter().map(|token| verifier.verify(token));
        for result in futures::future::join_all(batch).await {
            assert_eq!(result.err(), Some(VerifyError::Token(Error::UnknownKey)));
            refused += 1;
        }
    }
    let elapsed = start.elapsed();
    // Let the server's log catch up (it is written every 100 ms).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fetches = served(&s.server, "/.well-known/paserk.json");
    let allowed = 1 + (elapsed.as_secs_f64() / interval.as_secs_f64()).ceil() as usize;
    println!("{refused} unknown-kid tokens refused; {fetches} key fetches (allowed {allowed})");
    assert!(refused >= 100, "the flood was too small: {refused}");
    assert!(fetches >= 2, "unknown kids trigger refreshes: {fetches}");
    assert!(
        fetches <= allowed,
        "{fetches} key fetches, allowed {allowed}"
    );
    assert_eq!(
        served(&s.server, "/.well-known/jwks.json"),
        fetches,
        "both documents per refresh"
    );
}

// ---------------------------------------------------------------------------
// The CLI: `informly verify --paserk-url … --revocations-url …`
// ---------------------------------------------------------------------------

/// Runs `informly [args]` on the home: (success, stdout, stderr). Nothing it
/// prints may hold a token.
fn cli(home: &Home, args: &[&str]) -> (bool, String, String) {
    let output = home.cli().args(args).output().expect("run informly");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    common::assert_no_secrets("the CLI's output", &stdout, &[]);
    common::assert_no_secrets("the CLI's stderr", &stderr, &home.key_secrets());
    (output.status.success(), stdout, stderr)
}

fn url_args(server: &Server) -> Vec<String> {
    vec![
        "--paserk-url".into(),
        server.url("/.well-known/paserk.json"),
        "--jwks-url".into(),
        server.url("/.well-known/jwks.json"),
        "--revocations-url".into(),
        server.url("/v1/revocations"),
    ]
}

#[tokio::test]
async fn the_cli_verifies_with_the_published_urls_and_refuses_a_token_revoked_on_the_server() {
    let s = ServerWithApp::start("downstream").await;
    let urls = url_args(&s.server);
    let mut issued = Vec::new();
    for format in ["paseto", "jwt"] {
        let Issued {
            token,
            id: token_id,
            ..
        } = s.issue(&["contacts:read"], format).await;
        let mut args = vec!["--json", "verify", &token];
        args.extend(urls.iter().map(String::as_str));
        let (ok, stdout, stderr) = cli(&s.server.home, &args);
        assert!(ok, "{stderr}");
        let out: Value = serde_json::from_str(&stdout).expect("JSON");
        assert_eq!(out["valid"], true);
        assert_eq!(out["revocation_checked"], true);
        assert_eq!(out["token_id"], token_id.as_str());
        assert_eq!(out["subject"], s.app.as_str());
        assert_eq!(out["scopes"], serde_json::json!(["contacts:read"]));
        assert!(!stderr.contains("not checked"), "{stderr}");
        issued.push((token, token_id));
    }

    for (token, token_id) in &issued {
        s.revoke(token_id).await;
        let mut args = vec!["verify", token.as_str()];
        args.extend(urls.iter().map(String::as_str));
        let mut last = String::new();
        let refused = eventually(Duration::from_secs(3), || {
            let (ok, _, stderr) = cli(&s.server.home, &args);
            last = stderr;
            async move { !ok }
        })
        .await;
        assert!(refused.is_some(), "a revoked token still verifies");
        assert_eq!(last.trim(), "error: token rejected: token has been revoked");
        assert_eq!(last.lines().count(), 1, "{last}");
    }

    // Without the feed, the CLI says revocation went unchecked.
    let token = s.issue(&["contacts:read"], "paseto").await.token;
    let paserk = s.server.url("/.well-known/paserk.json");
    let (ok, _, stderr) = cli(&s.server.home, &["verify", &token, "--paserk-url", &paserk]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("revocation is not checked"), "{stderr}");
}

#[tokio::test]
async fn the_cli_fails_with_one_line_when_the_urls_are_unreachable_or_give_no_keys() {
    let s = ServerWithApp::start("downstream").await;
    let token = s.issue(&["contacts:read"], "paseto").await.token;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!(
        "http://{}/.well-known/paserk.json",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let revocations = s.server.url("/v1/revocations");
    let missing = s.server.url("/nope.json");
    let jwks = s.server.url("/.well-known/jwks.json");
    let cases: [(&str, Vec<&str>, &str); 4] = [
        (
            "an unreachable key URL",
            vec!["--paserk-url", &dead],
            "error: cannot fetch http://127.0.0.1:",
        ),
        (
            "a key URL answering 404",
            vec!["--paserk-url", &missing, "--revocations-url", &revocations],
            "answered HTTP 404",
        ),
        (
            "the feed without keys",
            vec!["--revocations-url", &revocations],
            "error: --revocations-url needs keys",
        ),
        (
            "the feed with JWT keys only",
            vec!["--jwks-url", &jwks, "--revocations-url", &revocations],
            "revocation feed refused: feed token names an unknown key",
        ),
    ];
    for (why, extra, expected) in cases {
        let mut args = vec!["verify", token.as_str()];
        args.extend(extra);
        let (ok, stdout, stderr) = cli(&s.server.home, &args);
        assert!(!ok, "{why}: succeeded");
        assert!(stdout.is_empty(), "{why}: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{why}: {stderr}");
        assert!(stderr.contains(expected), "{why}: {stderr}");
    }
}

// ---------------------------------------------------------------------------
// The example service: examples/downstream.rs
// ---------------------------------------------------------------------------

/// `examples/downstream.rs` itself, its router driven in process: the
/// example is what it shows, and no second process (or build) is needed.
#[path = "../examples/downstream.rs"]
#[allow(dead_code)]
mod downstream_example;

/// The example's routes, guarded by a remote verifier of `informly`.
struct Downstream {
    router: axum::Router,
}

impl Downstream {
    async fn start(informly: &str) -> Downstream {
        let verifier = RemoteVerifier::builder()
            .base_url(informly)
            .build()
            .await
            .expect("the verifier loads the keys");
        Downstream {
            router: downstream_example::router(verifier),
        }
    }

    async fn hello(&self, token: Option<&str>) -> (u16, Value) {
        let mut request = axum::http::Request::get("/hello");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(axum::body::Body::empty()).expect("request");
        let answer = common::transport::oneshot(&self.router, request).await;
        (answer.status, answer.json())
    }
}

#[tokio::test]
async fn the_downstream_example_serves_hello_to_tokens_with_contacts_read_and_refuses_the_rest() {
    let s = ServerWithApp::start("downstream").await;
    let Issued {
        token: reader,
        id: reader_id,
        ..
    } = s.issue(&["contacts:read"], "paseto").await;
    let jwt_reader = s
        .issue(&["contacts:read", "contacts:write"], "jwt")
        .await
        .token;
    let writer = s.issue(&["contacts:write"], "paseto").await.token;
    let downstream = Downstream::start(&s.server.base).await;

    let (status, body) = downstream.hello(Some(&reader)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["app"], s.app.as_str());
    assert!(body["workspace"].as_str().unwrap().starts_with("ws_"));
    assert_eq!(downstream.hello(Some(&jwt_reader)).await.0, 200);
    assert_eq!(downstream.hello(Some(&writer)).await.0, 403);
    assert_eq!(downstream.hello(None).await.0, 401);
    assert_eq!(downstream.hello(Some(&unknown_kid_token())).await.0, 401);

    s.revoke(&reader_id).await;
    let took = eventually(FRESHNESS_BOUND, || async {
        downstream.hello(Some(&reader)).await.0 == 401
    })
    .await
    .expect("the example refuses a revoked token within the bound");
    println!("the example refused the revoked token after {took:?}");
    assert_eq!(downstream.hello(Some(&jwt_reader)).await.0, 200);
}

informly_postgres_twins! {
    tests: [
        valid_tokens_of_both_formats_verify_with_their_app_workspace_and_scopes,
        tokens_verify_while_the_server_is_down_and_revocations_reach_the_verifier_within_the_bound,
        past_the_staleness_bound_without_the_server_every_token_is_refused,
        after_a_roll_the_verifier_refuses_the_old_token_at_the_scheduled_second_with_the_server_stopped,
        tokens_of_a_rotated_key_verify_and_every_token_of_a_retired_key_is_refused,
        a_flood_of_unknown_key_ids_costs_the_server_at_most_one_key_fetch_per_interval,
        the_cli_verifies_with_the_published_urls_and_refuses_a_token_revoked_on_the_server,
        the_cli_fails_with_one_line_when_the_urls_are_unreachable_or_give_no_keys,
        the_downstream_example_serves_hello_to_tokens_with_contacts_read_and_refuses_the_rest,
    ],
    sqlite_only: [],
}
