//! The shared verifier cases (`testdata/verifier-cases.json`, issue 18)
//! through the Rust remote verifier: each case's key documents and feed pages
//! are served by a tiny HTTP server on loopback, the verifier's clock is moved
//! to each poll's time and then to the case's, and the outcome must be the
//! one the file states. The Python and TypeScript packages run the same file.
//!
//! Also: the committed file is exactly what `examples/verifier_cases`
//! writes, and every token row of SECURITY.md §9 (B–F) has a case or a
//! reason not to. No database and no server: no PostgreSQL twin.

#[path = "../examples/verifier_cases/cases.rs"]
#[allow(dead_code)]
mod cases;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cases::Reason;
use informly::clock::ManualClock;
use informly::remote::{JWKS_PATH, PASERK_PATH, REVOCATIONS_PATH, RemoteVerifier, VerifyError};
use informly::token::Scope;
use serde_json::Value;

/// What the fake service answers: the key documents, and the feed's
/// answers in the order they are asked for.
#[derive(Default)]
struct Published {
    paserk: String,
    jwks: String,
    polls: Vec<(u16, String)>,
    served_polls: usize,
}

/// A tiny HTTP/1.1 server on a thread (std only), answering from
/// [`Published`], which each case replaces.
struct Service {
    base: String,
    published: Arc<Mutex<Published>>,
}

impl Service {
    fn start() -> Service {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let published = Arc::new(Mutex::new(Published::default()));
        let state = published.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Ok(read) = stream.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(read);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let target = line.split(' ').nth(1).unwrap_or("").to_owned();
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = target.split('?').next().unwrap_or("");
                let (status, body) = {
                    let mut p = state.lock().expect("state");
                    match path {
                        PASERK_PATH => (200, p.paserk.clone()),
                        JWKS_PATH => (200, p.jwks.clone()),
                        REVOCATIONS_PATH => {
                            let answer = p.polls.get(p.served_polls).cloned();
                            p.served_polls += 1;
                            answer.unwrap_or((500, "{}".to_owned()))
                        }
                        _ => (404, "{}".to_owned()),
                    }
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Service { base, published }
    }

    fn publish(&self, keys: &Value, polls: &[Value]) {
        let mut p = self.published.lock().expect("state");
        *p = Published {
            paserk: keys["paserk"].to_string(),
            jwks: keys["jwks"].to_string(),
            polls: polls
                .iter()
                .map(|poll| {
                    let status = poll["status"].as_u64().expect("status") as u16;
                    let body = poll["body"].as_str().expect("body").to_owned();
                    (status, body)
                })
                .collect(),
            served_polls: 0,
        };
    }
}

fn file() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(cases::OUTPUT);
    let text = std::fs::read_to_string(&path).expect("read the case file");
    serde_json::from_str(&text).expect("the case file is JSON")
}

/// What a verifier made of a case, in the file's terms.
#[derive(Debug, PartialEq)]
enum Outcome {
    Accept(Value),
    Reject(String),
    LoadError,
}

/// Runs one case as `testdata/README.md` says: start at the first poll's
/// time, poll once per further poll at its time, verify at `now`.
async fn run(service: &Service, case: &Value, keys: &Value) -> Outcome {
    let polls = case["polls"].as_array().expect("polls");
    service.publish(keys, polls);
    let at = |v: &Value| v.as_i64().expect("a unix time");
    let clock = Arc::new(ManualClock::at(at(&polls[0]["at"])));
    let built = RemoteVerifier::builder()
        .base_url(&service.base)
        .clock(clock.clone())
        // Nothing in the background: the case drives every poll.
        .feed_interval(Duration::from_secs(3600))
        .key_refresh(Duration::from_secs(3600))
        .build()
        .await;
    let Ok(verifier) = built else {
        return Outcome::LoadError;
    };
    for poll in &polls[1..] {
        clock.set(at(&poll["at"]));
        // A refused page changes nothing; the outcome shows it.
        let _ = verifier.poll_revocations().await;
    }
    clock.set(at(&case["now"]));
    let token = case["token"].as_str().expect("token");
    let outcome = match verifier.verify(token).await {
        Ok(verified) => {
            let claims = verified.claims();
            let lacks: Vec<&str> = case["expect"]["lacks"]
                .as_array()
                .map(|l| l.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for name in &lacks {
                let scope = Scope::lookup(name).expect("a known scope");
                assert!(
                    verified.require(scope).is_err(),
                    "{}: require({name}) must fail",
                    case["name"]
                );
            }
            for scope in claims.scopes.iter() {
                assert!(verified.require(scope).is_ok());
            }
            Outcome::Accept(serde_json::json!({
                "format": verified.format().as_str(),
                "token_id": claims.token_id,
                "app_id": verified.app_id(),
                "workspace": claims.workspace,
                "scopes": claims.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
                "expires_at": claims.expires_at,
            }))
        }
        Err(VerifyError::Token(e)) => Outcome::Reject(Reason::of(e).as_str().to_owned()),
        Err(VerifyError::Stale) => Outcome::Reject(Reason::Stale.as_str().to_owned()),
    };
    verifier.shutdown();
    outcome
}

fn expected(case: &Value) -> Outcome {
    let expect = &case["expect"];
    match expect["outcome"].as_str().expect("outcome") {
        "accept" => Outcome::Accept(expect["claims"].clone()),
        "reject" => Outcome::Reject(expect["reason"].as_str().expect("reason").to_owned()),
        "load_error" => Outcome::LoadError,
        other => panic!("{}: unknown outcome {other}", case["name"]),
    }
}

#[tokio::test]
async fn every_case_gets_its_expected_outcome_from_the_remote_verifier() {
    let file = file();
    let service = Service::start();
    let mut failures = Vec::new();
    let cases = file["cases"].as_array().expect("cases");
    for case in cases {
        let keys = &file["keys"][case["keys"].as_str().expect("keys")];
        let got = run(&service, case, keys).await;
        let want = expected(case);
        if got != want {
            failures.push(format!(
                "{} ({}): expected {want:?}, got {got:?}",
                case["name"], case["title"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_committed_case_file_is_what_the_generator_writes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(cases::OUTPUT);
    let committed = std::fs::read_to_string(&path).expect("read the case file");
    assert!(
        committed == cases::generate(),
        "{} is out of date: run `cargo run --example verifier_cases`",
        cases::OUTPUT
    );
}

/// Token rows of §9 that are not about a token a verifier receives.
const NOT_A_CASE: &[(&str, &str)] = &[
    (
        "C1",
        "the official vectors, at the library level (tests/conformance.rs)",
    ),
    (
        "C2",
        "the official vectors, at the library level (tests/conformance.rs)",
    ),
    ("C15", "secret keys: the issuer's side"),
    ("F10", "key files on the server"),
    ("F11", "key files on the server"),
];

#[test]
fn every_token_row_of_the_catalog_has_a_case_or_a_reason() {
    let file = file();
    let rows: Vec<&str> = file["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c["row"].as_str())
        .collect();
    for (section, count) in [('B', 14), ('C', 16), ('D', 15), ('E', 13), ('F', 11)] {
        for n in 1..=count {
            let id = format!("{section}{n}");
            let excused = NOT_A_CASE.iter().any(|(row, _)| *row == id);
            let covered = rows.contains(&id.as_str());
            assert!(
                covered != excused,
                "{id}: {}",
                if covered {
                    "has a case, yet is listed in NOT_A_CASE"
                } else {
                    "has no case (nor a reason in NOT_A_CASE)"
                }
            );
        }
    }
    // Every reason of the vocabulary is exercised, and only those.
    let reasons = file["reasons"].as_object().expect("reasons");
    for reason in Reason::ALL {
        assert!(reasons.contains_key(reason.as_str()));
        assert!(
            file["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .any(|c| c["expect"]["reason"] == reason.as_str()),
            "no case is refused as {}",
            reason.as_str()
        );
    }
}
