//! Authentication, revocation, key changes and shutdown of `informly serve`,
//! end to end: the real binary on a random port over a real SQLite file.
//!
//! What is pinned here (SPEC.md "HTTP API", "Revocation", "Keys";
//! SECURITY.md §1.4, §8, §9 rows A and G, §11):
//! - the Authorization header rules (row A), with RFC 6750 challenges;
//! - 401 bodies that never tell an unknown key, a bad signature and a revoked
//!   token apart;
//! - time rules with the 30 s leeway, on tokens forged with the key ring;
//! - revocation at once on the revoking instance, within 2 s on others and
//!   after a CLI revoke;
//! - key rotation and retirement picked up without a restart, with no failed
//!   request while keys change;
//! - a graceful SIGTERM;
//! - request ids.
//!
//! Time-bounded properties are polled (`eventually`), never slept for, and the
//! measured times are printed (`cargo test --test http_auth -- --nocapture`).

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::forge::{Key, flip_signature};
use common::raw_http::{self, NoResponse, RawResponse, raw_head, read_response};
use common::{Home, Server, ServerWithApp, eventually, str_of, unix_now};
use informly::token::{Format, ScopeSet, Subject, TokenClaims};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// The bare challenge: no credentials were sent.
const BARE_CHALLENGE: &str = r#"Bearer realm="informly""#;
/// The only descriptions a 401 for a token may carry (SPEC "HTTP API").
const TOKEN_401_DETAILS: [&str; 3] = ["invalid token", "token expired", "token not yet valid"];

// ---------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------

/// A running server with an admin token, one app and two of its tokens.
struct Setup {
    server: Server,
    admin: String,
    app: String,
    /// PASETO, `contacts:read contacts:write`.
    token: String,
    token_id: String,
    /// JWT, `contacts:read`.
    jwt: String,
}

async fn setup() -> Setup {
    let ServerWithApp { server, admin, app } = ServerWithApp::start("auth tests").await;
    let issued = server
        .issue(&admin, &app, &["contacts:read", "contacts:write"], "paseto")
        .await;
    let jwt = server.issue(&admin, &app, &["contacts:read"], "jwt").await;
    Setup {
        admin,
        app,
        token: str_of(&issued["token"]),
        token_id: str_of(&issued["id"]),
        jwt: str_of(&jwt["token"]),
        server,
    }
}

/// A response read to the end.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    async fn of(response: Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("read body").to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    fn challenge(&self) -> String {
        self.header(WWW_AUTHENTICATE.as_str())
            .unwrap_or_else(|| panic!("no WWW-Authenticate on {self}"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self}"))
    }

    fn detail(&self) -> String {
        str_of(&self.json()["detail"])
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} {}",
            self.status,
            self.headers,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// `GET /v1/token` with an exact Authorization header value.
async fn with_authorization(server: &Server, value: HeaderValue) -> Answer {
    let response = server
        .client
        .get(server.url("/v1/token"))
        .header(AUTHORIZATION, value)
        .send()
        .await
        .expect("GET /v1/token");
    Answer::of(response).await
}

/// `GET /v1/token` with `Authorization: Bearer <token>`.
async fn whoami(server: &Server, token: &str) -> Answer {
    Answer::of(server.get("/v1/token", token).await).await
}

async fn status_of(server: &Server, token: &str) -> u16 {
    server.get("/v1/token", token).await.status().as_u16()
}

/// A 401 problem document for a token, with the `invalid_token` challenge.
fn assert_invalid_token(answer: &Answer, detail: &str) {
    assert_eq!(answer.status, 401, "{answer}");
    assert_problem(answer);
    assert!(TOKEN_401_DETAILS.contains(&detail));
    assert_eq!(answer.detail(), detail, "{answer}");
    let challenge = answer.challenge();
    assert!(
        challenge.starts_with(BARE_CHALLENGE) && challenge.contains(r#"error="invalid_token""#),
        "challenge {challenge:?}"
    );
    if let Some((_, description)) = challenge.split_once("error_description=") {
        assert_eq!(
            description,
            format!("\"{detail}\""),
            "the challenge's description is as generic as the body's"
        );
    }
}

/// A 401 problem document with the bare challenge: no `error` attribute.
fn assert_bare_challenge(answer: &Answer) {
    assert_eq!(answer.status, 401, "{answer}");
    assert_problem(answer);
    assert_eq!(answer.challenge(), BARE_CHALLENGE, "{answer}");
    assert!(!answer.challenge().contains("error"), "{answer}");
}

fn assert_problem(answer: &Answer) {
    assert_eq!(
        answer.header(CONTENT_TYPE.as_str()).as_deref(),
        Some("application/problem+json"),
        "{answer}"
    );
    let problem = answer.json();
    assert_eq!(problem["status"], answer.status, "{answer}");
    for field in ["type", "title", "detail"] {
        assert!(problem[field].is_string(), "{field} in {answer}");
    }
}

/// Claims for the app and workspace of a real token (`GET /v1/token` body),
/// with a fresh token id and the given times.
fn claims_like(me: &Value, iat: i64, nbf: i64, exp: i64) -> TokenClaims {
    TokenClaims {
        token_id: informly::ids::TokenId::generate().to_string(),
        workspace: str_of(&me["workspace"]),
        subject: Subject::App(str_of(&me["app"])),
        scopes: ScopeSet::parse_for_app(["contacts:read"]).expect("scopes"),
        issued_at: iat,
        not_before: nbf,
        expires_at: exp,
    }
}

/// Key ids the server publishes: PASERK `(kid, status)` and JWKS kids.
async fn published(server: &Server) -> (Vec<(String, String)>, Vec<String>) {
    let paserk: Value = server.public_json("/.well-known/paserk.json").await;
    let jwks: Value = server.public_json("/.well-known/jwks.json").await;
    let paserk = paserk["keys"]
        .as_array()
        .expect("paserk keys")
        .iter()
        .map(|k| (str_of(&k["kid"]), str_of(&k["status"])))
        .collect();
    let jwks = jwks["keys"]
        .as_array()
        .expect("jwks keys")
        .iter()
        .map(|k| str_of(&k["kid"]))
        .collect();
    (paserk, jwks)
}

/// `informly keys rotate …` on the home, returning the new kid of each format.
fn rotate(home: &Home, args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["keys", "rotate"];
    all.extend_from_slice(args);
    home.run_json(&all)
        .as_array()
        .expect("an array of added keys")
        .iter()
        .map(|k| (str_of(&k["format"]), str_of(&k["kid"])))
        .collect()
}

fn kid_of(added: &[(String, String)], format: &str) -> String {
    added
        .iter()
        .find(|(f, _)| f == format)
        .map(|(_, kid)| kid.clone())
        .unwrap_or_else(|| panic!("no {format} key in {added:?}"))
}

/// The kid of the key that signs `format` now, per `keys list`.
fn active_kid(home: &Home, format: &str) -> String {
    let keys = home.run_json(&["keys", "list"]);
    keys.as_array()
        .expect("array")
        .iter()
        .find(|k| k["format"] == format && k["status"] == "active")
        .map(|k| str_of(&k["kid"]))
        .unwrap_or_else(|| panic!("no active {format} key in {keys}"))
}

// --- raw HTTP/1.1, for what reqwest will not send -------------------------

/// What became of a raw request.
#[derive(Debug)]
enum Outcome {
    Answered(RawResponse),
    /// The server closed (or reset) the connection without a full response.
    Closed(String),
}

/// Sends `request` on a new connection and reads the answer: a close is an
/// outcome; no answer and no close within 10 s fails the test.
async fn raw_exchange(server: &Server, request: Vec<u8>) -> Outcome {
    match raw_http::raw_exchange(server, request, Duration::from_secs(10)).await {
        Ok(response) => Outcome::Answered(response),
        Err(NoResponse::Closed(why)) => Outcome::Closed(why),
        Err(e) => panic!("{e}"),
    }
}

fn get_head(server: &Server, extra: &str) -> String {
    raw_head(
        server,
        "GET",
        "/v1/token",
        &format!("{extra}Connection: close\r\n"),
    )
}

// ---------------------------------------------------------------------------
// 1. The Authorization header (SECURITY.md §9 row A)
// ---------------------------------------------------------------------------

// SECURITY.md §9 row A1.
#[tokio::test]
async fn a_request_without_authorization_gets_401_with_the_bare_challenge() {
    let s = setup().await;
    for (method, path) in [
        (Method::GET, "/v1/token"),
        (Method::GET, "/v1/contacts"),
        (Method::GET, "/v1/apps"),
        (Method::POST, "/v1/apps"),
    ] {
        let answer = Answer::of(
            s.server
                .request(method.clone(), path, None)
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_bare_challenge(&answer);
        println!("{method} {path}: {}", answer.challenge());
    }
}

// SECURITY.md §9 row A2.
#[tokio::test]
async fn a_basic_authorization_gets_401_with_the_bare_challenge() {
    let s = setup().await;
    let answer =
        with_authorization(&s.server, HeaderValue::from_static("Basic dXNlcjpwYXNz")).await;
    assert_bare_challenge(&answer);
    // A token under another scheme is not read either.
    let value = HeaderValue::from_str(&format!("Token {}", s.token)).unwrap();
    assert_bare_challenge(&with_authorization(&s.server, value).await);
}

/// Each authentication mistake keeps the status and the bare challenge, and
/// gets a description that says what was wrong, never repeating a token.
#[tokio::test]
async fn each_authentication_mistake_gets_a_description_of_what_was_wrong() {
    let s = setup().await;
    let expect = |answer: &Answer, says: &str| {
        assert_bare_challenge(answer);
        assert!(answer.detail().contains(says), "{answer}");
        assert!(!answer.detail().contains(&s.token), "{answer}");
    };
    let with = async |value: String| {
        with_authorization(&s.server, HeaderValue::from_str(&value).unwrap()).await
    };
    expect(
        &with(format!("Token {}", s.token)).await,
        "scheme `Token` is not supported",
    );
    expect(
        &with("Basic dXNlcjpwYXNz".to_owned()).await,
        "scheme `Basic` is not supported",
    );
    expect(&with(s.token.clone()).await, "has no scheme");
    for parameter in ["token", "access_token"] {
        let url = s.server.url(&format!("/v1/token?{parameter}={}", s.token));
        let answer = Answer::of(s.server.client.get(url).send().await.expect("GET")).await;
        expect(&answer, "a token in the URL is never read");
    }
    let answer = Answer::of(
        s.server
            .request(Method::GET, "/v1/token", None)
            .send()
            .await
            .expect("GET"),
    )
    .await;
    expect(&answer, "needs a bearer token in the Authorization header");
}

/// The log says who made a request (its app and token id, never the token),
/// how long it took in fixed decimals, and which keys changed state; every
/// line of a request (a refusal's reason, then its served line) names its
/// request id.
#[tokio::test]
async fn the_log_names_the_caller_the_duration_and_every_key_that_changes_state() {
    let s = setup().await;
    assert_eq!(whoami(&s.server, &s.token).await.status, 200);
    let refused = s
        .server
        .client
        .get(s.server.url("/v1/token"))
        .header(AUTHORIZATION, format!("Bearer {}x", s.token))
        .header("x-request-id", "refused-42")
        .send()
        .await
        .expect("GET /v1/token");
    assert_eq!(refused.status(), 401);
    let added = rotate(
        &s.server.home,
        &["--format", "paseto", "--activate-after", "0"],
    );
    let kid = kid_of(&added, "paseto");
    let logs = || s.server.logs();
    eventually(Duration::from_secs(10), || async {
        logs()
            .lines()
            .any(|l| l.contains("key state changed") && l.contains(&kid))
    })
    .await
    .expect("the new key's state change is logged by kid");

    let logs = logs();
    let served = logs
        .lines()
        .find(|l| l.contains("path=\"/v1/token\"") && l.contains("served"))
        .expect("the request's line");
    assert!(served.contains(&format!("app=\"{}\"", s.app)), "{served}");
    let token_id = format!("token=\"{}\"", s.token_id);
    assert!(served.contains(&token_id), "{served}");
    assert!(!logs.contains(&s.token));
    let ms = served
        .split_whitespace()
        .find_map(|field| field.strip_prefix("ms="))
        .expect("ms=");
    let (whole, decimals) = ms.split_once('.').expect("a decimal point");
    assert!(
        whole.parse::<u64>().is_ok() && decimals.len() == 3,
        "ms={ms}"
    );

    let of_refused: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(r#"request{id="refused-42"}:"#))
        .collect();
    assert_eq!(of_refused.len(), 2, "{of_refused:?}");
    assert!(
        of_refused[0].contains("token rejected reason="),
        "{of_refused:?}"
    );
    assert!(
        of_refused[1].contains("served") && of_refused[1].contains("status=401"),
        "{of_refused:?}"
    );
    assert!(!of_refused[1].contains("token=\""), "{of_refused:?}");
}

/// A token whose key was retired shows as refused for its key in the API's
/// records and `tokens list`, as the service answers it, not as active.
#[tokio::test]
async fn a_token_whose_key_was_retired_shows_as_such_wherever_its_record_is_shown() {
    let s = setup().await;
    let home = s.server.home.clone();
    let old_paseto = active_kid(&home, "paseto");
    rotate(&home, &["--format", "paseto"]);
    let admin = home.admin_token(None);
    home.run(&["keys", "retire", &old_paseto]);
    let (server, token) = (&s.server, s.token.as_str());
    eventually(Duration::from_secs(5), || async move {
        status_of(server, token).await == 401
    })
    .await
    .expect("the retired key's token is refused");

    let records: Value = server
        .get(&format!("/v1/apps/{}/tokens", s.app), &admin)
        .await
        .json()
        .await
        .expect("json");
    let status_of_record = |id: &str| {
        let records = records["data"].as_array().expect("data");
        str_of(&records.iter().find(|r| r["id"] == id).expect("record")["status"])
    };
    assert_eq!(status_of_record(&s.token_id), "key_retired");
    let listed = home.run_json(&["tokens", "list", "--app", &s.app]);
    let listed = listed.as_array().expect("array");
    let record = listed
        .iter()
        .find(|r| r["id"] == s.token_id.as_str())
        .expect("record");
    assert_eq!(record["status"], "key_retired");
    let text = home.run(&["tokens", "list", "--app", &s.app]);
    let line = text
        .lines()
        .find(|l| l.starts_with(&s.token_id))
        .expect("its line");
    assert!(line.contains("  key retired  "), "{line}");
    // The JWT's key was not retired: it is still active, and says so.
    let jwt = listed
        .iter()
        .find(|r| r["format"] == "jwt")
        .expect("the JWT");
    assert_eq!(jwt["status"], "active");
}

// SECURITY.md §9 row A3.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_may_be_followed_by_several_spaces() {
    let s = setup().await;
    for scheme in ["Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer    "] {
        for token in [&s.token, &s.jwt] {
            let value = HeaderValue::from_str(&format!("{scheme}{token}")).unwrap();
            let answer = with_authorization(&s.server, value).await;
            assert_eq!(answer.status, 200, "{scheme:?}: {answer}");
        }
    }
}

// SECURITY.md §9 row A4.
#[tokio::test]
async fn a_bearer_scheme_without_a_token_gets_401_invalid_token() {
    let s = setup().await;
    for value in ["Bearer", "Bearer ", "Bearer    ", "bearer"] {
        let answer = with_authorization(&s.server, HeaderValue::from_static(value)).await;
        assert_invalid_token(&answer, "invalid token");
    }
}

// SECURITY.md §9 row A5.
#[tokio::test]
async fn two_authorization_headers_get_400_invalid_request_even_when_both_are_valid() {
    let s = setup().await;
    for second in [&s.token, &s.jwt] {
        let response = s
            .server
            .client
            .get(s.server.url("/v1/token"))
            .header(AUTHORIZATION, format!("Bearer {}", s.token))
            .header(AUTHORIZATION, format!("Bearer {second}"))
            .send()
            .await
            .expect("GET");
        let answer = Answer::of(response).await;
        assert_eq!(answer.status, 400, "{answer}");
        assert_problem(&answer);
        let challenge = answer.challenge();
        assert!(
            challenge.starts_with(BARE_CHALLENGE)
                && challenge.contains(r#"error="invalid_request""#),
            "{challenge}"
        );
    }
}

// SECURITY.md §9 row A6.
#[tokio::test]
async fn a_token_in_the_query_string_is_not_read_and_never_logged() {
    let s = setup().await;
    let request_id = "a6-token-in-query";
    for path in ["/v1/token", "/v1/contacts"] {
        let response = s
            .server
            .client
            .get(s.server.url(&format!("{path}?access_token={}", s.token)))
            .header("x-request-id", request_id)
            .send()
            .await
            .expect("GET");
        let answer = Answer::of(response).await;
        assert_eq!(answer.status, 401, "{answer}");
        assert_bare_challenge(&answer);
    }
    // A form body is no way in either.
    let response = s
        .server
        .client
        .post(s.server.url("/v1/contacts"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-request-id", request_id)
        .body(format!("access_token={}", s.token))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 401);

    let server = &s.server;
    let logged = eventually(Duration::from_secs(5), || async move {
        server.logs().matches(request_id).count() >= 3
    })
    .await;
    let logs = s.server.logs();
    assert!(logged.is_some(), "the requests were not logged:\n{logs}");
    assert!(
        !logs.contains(&s.token),
        "the token appears in the logs:\n{logs}"
    );
    // Nor does any recognisable part of it (its signed body).
    let body = s.token.split('.').nth(2).unwrap();
    assert!(!logs.contains(&body[..40]), "{logs}");
}

// SECURITY.md §9 row A7.
#[tokio::test]
async fn a_one_megabyte_authorization_header_gets_431_or_a_closed_connection() {
    let s = setup().await;
    let huge = "A".repeat(1024 * 1024);
    let request = get_head(
        &s.server,
        &format!("Authorization: Bearer v4.public.{huge}\r\n"),
    );
    match raw_exchange(&s.server, request.into_bytes()).await {
        Outcome::Answered(response) => {
            assert_eq!(response.status, 431, "{}", response.head);
        }
        Outcome::Closed(why) => println!("A7: connection closed by the server: {why}"),
    }
    // The server is unharmed.
    assert_eq!(status_of(&s.server, &s.token).await, 200);
}

// SECURITY.md §9 row A8.
#[tokio::test]
async fn a_64_kib_token_gets_401_invalid_token() {
    let s = setup().await;
    for prefix in ["v4.public.", "eyJ", ""] {
        let token = format!("{prefix}{}", "A".repeat(64 * 1024));
        let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let answer = with_authorization(&s.server, value).await;
        assert_invalid_token(&answer, "invalid token");
    }
    // Just over the 8 KiB cap, built from a real token: still refused.
    let padded = format!("{}{}", s.token, "A".repeat(8 * 1024));
    let answer = with_authorization(
        &s.server,
        HeaderValue::from_str(&format!("Bearer {padded}")).unwrap(),
    )
    .await;
    assert_invalid_token(&answer, "invalid token");
}

// SECURITY.md §9 row A9.
#[tokio::test]
async fn an_authorization_value_with_bytes_0x80_to_0xff_gets_401() {
    let s = setup().await;
    let mut high: Vec<u8> = b"Bearer ".to_vec();
    high.extend_from_slice(s.token.as_bytes());
    high.extend(0x80u8..=0xFF);
    let cases: Vec<Vec<u8>> = vec![
        high,
        [b"Bearer v4.public.".as_slice(), "é€😀".as_bytes()].concat(),
        [b"Bearer \xff\xfe".as_slice(), s.token.as_bytes()].concat(),
        b"\xc3\xa9Bearer x".to_vec(),
    ];
    for bytes in cases {
        let value = HeaderValue::from_bytes(&bytes).expect("obs-text is a valid header value");
        let answer = with_authorization(&s.server, value).await;
        assert_eq!(answer.status, 401, "{bytes:x?}: {answer}");
        assert_problem(&answer);
        if answer.challenge() != BARE_CHALLENGE {
            assert_invalid_token(&answer, "invalid token");
        }
    }
}

// SECURITY.md §9 row A10.
#[tokio::test]
async fn a_token_with_a_space_tab_or_nul_inside_gets_401() {
    let s = setup().await;
    let (head, tail) = s.token.split_at(30);
    for sep in [" ", "\t", "  "] {
        let value = HeaderValue::from_str(&format!("Bearer {head}{sep}{tail}")).unwrap();
        let answer = with_authorization(&s.server, value).await;
        assert_invalid_token(&answer, "invalid token");
    }
    // A valid token followed by more words is not that token.
    for token in [&s.token, &s.jwt] {
        let value = HeaderValue::from_str(&format!("Bearer {token} {token}")).unwrap();
        assert_invalid_token(&with_authorization(&s.server, value).await, "invalid token");
        let value = HeaderValue::from_str(&format!("Bearer {token}\tx")).unwrap();
        assert_invalid_token(&with_authorization(&s.server, value).await, "invalid token");
    }
    // (A space or tab at either end of the value is optional whitespace the
    // HTTP parser trims: only inner ones can be part of a token.)
    // NUL cannot travel through reqwest: send it raw.
    let request = get_head(
        &s.server,
        &format!("Authorization: Bearer {head}\0{tail}\r\n"),
    );
    match raw_exchange(&s.server, request.into_bytes()).await {
        Outcome::Answered(response) => {
            // RFC 9110 §5.5: a NUL in a field value may be refused as a bad
            // request by the HTTP parser before any token handling (hyper does).
            assert!(
                [400, 401].contains(&response.status),
                "NUL inside the token: {} {}",
                response.head,
                String::from_utf8_lossy(&response.body)
            );
            println!("A10: NUL inside the token answered {}", response.status);
        }
        Outcome::Closed(why) => panic!("NUL inside the token closed the connection: {why}"),
    }
}

// SECURITY.md §9 row A11.
#[tokio::test]
async fn a_request_with_150_headers_gets_431() {
    let s = setup().await;
    let extra: String = (0..150).map(|i| format!("X-Filler-{i}: {i}\r\n")).collect();
    let request = get_head(
        &s.server,
        &format!("Authorization: Bearer {}\r\n{extra}", s.token),
    );
    match raw_exchange(&s.server, request.into_bytes()).await {
        Outcome::Answered(response) => assert_eq!(response.status, 431, "{}", response.head),
        Outcome::Closed(why) => panic!("150 headers: no 431, the connection closed: {why}"),
    }
    assert_eq!(status_of(&s.server, &s.token).await, 200);
}

#[tokio::test]
async fn an_unknown_key_a_bad_signature_and_a_revoked_token_get_byte_identical_401s() {
    let s = setup().await;

    // A token signed by a key of another installation: unknown kid.
    let elsewhere = Home::new();
    let foreign = elsewhere.admin_token(None);
    // Flipped signature bytes, both formats.
    let bad_paseto = flip_signature(&s.token);
    let bad_jwt = flip_signature(&s.jwt);
    // Revoked through the API.
    let victim = s
        .server
        .issue(&s.admin, &s.app, &["contacts:read"], "paseto")
        .await;
    let revoked = str_of(&victim["token"]);
    assert_eq!(status_of(&s.server, &revoked).await, 200);
    let path = format!("/v1/apps/{}/tokens/{}", s.app, str_of(&victim["id"]));
    assert_eq!(s.server.delete(&path, &s.admin).await.status(), 204);
    // A foreign app token too (unknown kid, app subject).
    let elsewhere_server = Server::start_in(elsewhere.clone(), &[]).await;
    let foreign_admin = elsewhere.admin_token(None);
    let foreign_app = elsewhere_server.create_app(&foreign_admin, "other").await;
    let foreign_jwt = str_of(
        &elsewhere_server
            .issue(&foreign_admin, &foreign_app, &["contacts:read"], "jwt")
            .await["token"],
    );

    let mut answers = Vec::new();
    for (what, token) in [
        ("unknown kid (paseto)", &foreign),
        ("unknown kid (jwt)", &foreign_jwt),
        ("bad signature (paseto)", &bad_paseto),
        ("bad signature (jwt)", &bad_jwt),
        ("revoked", &revoked),
    ] {
        let answer = whoami(&s.server, token).await;
        assert_invalid_token(&answer, "invalid token");
        answers.push((what, answer));
    }
    let (first, reference) = &answers[0];
    for (what, answer) in &answers[1..] {
        assert_eq!(
            answer.body, reference.body,
            "{what} and {first} must look alike"
        );
        assert_eq!(
            answer.challenge(),
            reference.challenge(),
            "{what} vs {first}"
        );
        assert_eq!(
            answer.header(CONTENT_TYPE.as_str()),
            reference.header(CONTENT_TYPE.as_str())
        );
    }
    println!(
        "every refused token: {} / {}",
        reference.challenge(),
        String::from_utf8_lossy(&reference.body)
    );
}

// ---------------------------------------------------------------------------
// 2. Time rules, on tokens forged with the server's own keys
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_expired_token_gets_401_token_expired_in_both_formats() {
    let s = setup().await;
    let me = whoami(&s.server, &s.token).await.json();
    let now = unix_now();
    for format in Format::ALL {
        let claims = claims_like(&me, now - 3600, now - 3600, now - 60);
        let token = Key::active(&s.server.home, format).sign_claims(&claims);
        assert_invalid_token(&whoami(&s.server, &token).await, "token expired");
        // Long expired, too.
        let claims = claims_like(&me, now - 90_000, now - 90_000, now - 86_400);
        let token = Key::active(&s.server.home, format).sign_claims(&claims);
        assert_invalid_token(&whoami(&s.server, &token).await, "token expired");
    }
}

#[tokio::test]
async fn a_token_that_expired_within_the_30_second_leeway_is_still_accepted() {
    let s = setup().await;
    let me = whoami(&s.server, &s.token).await.json();
    let now = unix_now();
    for format in Format::ALL {
        let claims = claims_like(&me, now - 3600, now - 3600, now - 10);
        let token = Key::active(&s.server.home, format).sign_claims(&claims);
        let answer = whoami(&s.server, &token).await;
        assert_eq!(answer.status, 200, "{format}: {answer}");
        assert_eq!(answer.json()["id"], claims.token_id.as_str());
    }
}

#[tokio::test]
async fn a_token_not_yet_valid_gets_401_token_not_yet_valid() {
    let s = setup().await;
    let me = whoami(&s.server, &s.token).await.json();
    let now = unix_now();
    for format in Format::ALL {
        // nbf in the future.
        let claims = claims_like(&me, now, now + 600, now + 3600);
        let token = Key::active(&s.server.home, format).sign_claims(&claims);
        assert_invalid_token(&whoami(&s.server, &token).await, "token not yet valid");
        // iat in the future (SECURITY §8: iat ≤ now + skew).
        let claims = claims_like(&me, now + 600, now + 600, now + 3600);
        let token = Key::active(&s.server.home, format).sign_claims(&claims);
        assert_invalid_token(&whoami(&s.server, &token).await, "token not yet valid");
        // nbf inside the leeway: fine.
        let claims = claims_like(&me, now, now + 10, now + 3600);
        let token = Key::active(&s.server.home, format).sign_claims(&claims);
        assert_eq!(status_of(&s.server, &token).await, 200, "{format}");
    }
}

// ---------------------------------------------------------------------------
// 3. Revocation (SECURITY.md §9 row G)
// ---------------------------------------------------------------------------

// SECURITY.md §9 row G1.
#[tokio::test]
async fn a_token_revoked_through_the_api_is_refused_on_the_very_next_request() {
    let s = setup().await;
    for format in ["paseto", "jwt"] {
        let issued = s
            .server
            .issue(&s.admin, &s.app, &["contacts:read"], format)
            .await;
        let token = str_of(&issued["token"]);
        assert_eq!(status_of(&s.server, &token).await, 200);
        let path = format!("/v1/apps/{}/tokens/{}", s.app, str_of(&issued["id"]));
        let response = s.server.delete(&path, &s.admin).await;
        assert_eq!(response.status(), 204, "{format}");
        assert_invalid_token(&whoami(&s.server, &token).await, "invalid token");
        let contacts = Answer::of(s.server.get("/v1/contacts", &token).await).await;
        assert_invalid_token(&contacts, "invalid token");
    }
    // The others of the app are untouched.
    assert_eq!(status_of(&s.server, &s.token).await, 200);
    assert_eq!(status_of(&s.server, &s.jwt).await, 200);
}

#[tokio::test]
async fn deleting_an_app_refuses_its_tokens_at_once_and_leaves_other_apps_alone() {
    let s = setup().await;
    let other = s.server.create_app(&s.admin, "the other app").await;
    let other_token = str_of(
        &s.server
            .issue(&s.admin, &other, &["contacts:read"], "paseto")
            .await["token"],
    );
    let other_jwt = str_of(
        &s.server
            .issue(&s.admin, &other, &["contacts:read"], "jwt")
            .await["token"],
    );
    for token in [&s.token, &s.jwt, &other_token, &other_jwt] {
        assert_eq!(status_of(&s.server, token).await, 200);
    }

    let response = s
        .server
        .delete(&format!("/v1/apps/{}", s.app), &s.admin)
        .await;
    assert_eq!(response.status(), 204);

    assert_invalid_token(&whoami(&s.server, &s.token).await, "invalid token");
    assert_invalid_token(&whoami(&s.server, &s.jwt).await, "invalid token");
    assert_eq!(status_of(&s.server, &other_token).await, 200);
    assert_eq!(status_of(&s.server, &other_jwt).await, 200);
}

#[tokio::test]
async fn a_revocation_made_with_the_cli_reaches_the_running_server_within_2_seconds() {
    let s = setup().await;
    assert_eq!(status_of(&s.server, &s.token).await, 200);
    let out = s.server.home.run(&["tokens", "revoke", &s.token_id]);
    assert!(out.contains(&s.token_id), "{out}");
    let (server, token) = (&s.server, s.token.as_str());
    let took = eventually(Duration::from_secs(3), || async move {
        status_of(server, token).await == 401
    })
    .await;
    println!("CLI revoke -> running server refuses the token after {took:?}");
    let took = took.expect("the CLI revocation was not picked up within 3 s");
    assert!(
        took <= Duration::from_millis(2500),
        "the CLI revocation took {took:?} (bound: 2 s)"
    );
    assert_invalid_token(&whoami(&s.server, &s.token).await, "invalid token");
    // Not the other token of the app.
    assert_eq!(status_of(&s.server, &s.jwt).await, 200);
}

// SECURITY.md §9 row G6.
#[tokio::test]
async fn a_second_server_on_the_same_database_refuses_a_token_revoked_through_the_first_within_2_seconds()
 {
    let s = setup().await;
    let second = Server::start_in(s.server.home.clone(), &[]).await;
    for format in ["paseto", "jwt"] {
        let issued = s
            .server
            .issue(&s.admin, &s.app, &["contacts:read"], format)
            .await;
        let token = str_of(&issued["token"]);
        assert_eq!(status_of(&second, &token).await, 200);
        let path = format!("/v1/apps/{}/tokens/{}", s.app, str_of(&issued["id"]));
        assert_eq!(s.server.delete(&path, &s.admin).await.status(), 204);
        // The first: at once.
        assert_eq!(status_of(&s.server, &token).await, 401);
        // The second: within 2 s.
        let (server, t) = (&second, token.as_str());
        let took = eventually(Duration::from_secs(3), || async move {
            status_of(server, t).await == 401
        })
        .await;
        println!("{format}: revoked on server 1 -> refused by server 2 after {took:?}");
        let took = took.expect("server 2 still accepts the revoked token after 3 s");
        assert!(
            took <= Duration::from_millis(2500),
            "propagation took {took:?} (bound: 2 s)"
        );
        assert_invalid_token(&whoami(&second, &token).await, "invalid token");
    }

    // An app deleted through the first is refused by the second as well.
    let started = Instant::now();
    assert_eq!(
        s.server
            .delete(&format!("/v1/apps/{}", s.app), &s.admin)
            .await
            .status(),
        204
    );
    let (server, t) = (&second, s.token.as_str());
    let took = eventually(Duration::from_secs(3), || async move {
        status_of(server, t).await == 401
    })
    .await;
    println!(
        "app deleted on server 1 -> refused by server 2 after {took:?} ({:?} since the delete)",
        started.elapsed()
    );
    assert!(
        took.is_some_and(|t| t <= Duration::from_millis(2500)),
        "{took:?}"
    );
}

// SECURITY.md §9 row G8.
#[tokio::test]
async fn a_flood_of_500_badly_signed_tokens_gets_401s_and_the_server_stays_healthy() {
    let s = setup().await;
    let me = whoami(&s.server, &s.token).await.json();
    // A revoked jti makes the forgeries "denylisted-looking".
    let path = format!("/v1/apps/{}/tokens/{}", s.app, s.token_id);
    assert_eq!(s.server.delete(&path, &s.admin).await.status(), 204);
    let now = unix_now();
    let tokens: Vec<String> = (0..500)
        .map(|i| {
            let mut claims = claims_like(&me, now - i, now - i, now + 3600);
            if i % 2 == 0 {
                claims.token_id = s.token_id.clone();
            }
            let format = if i % 3 == 0 {
                Format::Jwt
            } else {
                Format::Paseto
            };
            flip_signature(&Key::active(&s.server.home, format).sign_claims(&claims))
        })
        .collect();

    let started = Instant::now();
    let client = Client::new();
    let url = s.server.url("/v1/token");
    let mut statuses = Vec::new();
    for batch in tokens.chunks(50) {
        let mut set = JoinSet::new();
        for token in batch {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            set.spawn(async move {
                let response = client.get(url).bearer_auth(token).send().await;
                match response {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.bytes().await.map(|b| b.to_vec());
                        (status, body.ok())
                    }
                    Err(e) => panic!("request failed: {e}"),
                }
            });
        }
        while let Some(result) = set.join_next().await {
            statuses.push(result.expect("task"));
        }
    }
    let took = started.elapsed();
    println!("G8: 500 badly signed tokens answered in {took:?}");
    assert_eq!(statuses.len(), 500);
    let reference = statuses[0].1.clone().expect("a body");
    for (status, body) in &statuses {
        assert_eq!(*status, 401);
        assert_eq!(body.as_ref(), Some(&reference), "every body alike");
    }
    let detail: Value = serde_json::from_slice(&reference).unwrap();
    assert_eq!(detail["detail"], "invalid token");

    // Still healthy, still serving valid tokens.
    assert_eq!(s.server.public_status("/health").await, 200);
    assert_eq!(s.server.public_status("/ready").await, 200);
    assert_eq!(status_of(&s.server, &s.jwt).await, 200);
    let logs = s.server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(!logs.contains("ERROR"), "{logs}");
}

// SECURITY.md §9 row G9.
#[tokio::test]
async fn a_10_kib_jti_or_one_with_sql_metacharacters_gets_401_and_never_a_5xx() {
    let s = setup().await;
    let me = whoami(&s.server, &s.token).await.json();
    let now = unix_now();
    let jtis = [
        format!("tok_{}", "A".repeat(10 * 1024)),
        "tok_' OR '1'='1".to_owned(),
        "tok_01J00000000000000000000'; DROP TABLE revoked_tokens; --".to_owned(),
        "tok_\"); delete from tokens; --".to_owned(),
        "'".to_owned(),
        "tok_01J0000000000000000000000%".to_owned(),
    ];
    for jti in &jtis {
        for format in Format::ALL {
            let mut claims = claims_like(&me, now, now, now + 3600);
            claims.token_id = jti.clone();
            let token = Key::active(&s.server.home, format).sign_claims(&claims);
            let answer = whoami(&s.server, &token).await;
            assert_invalid_token(&answer, "invalid token");
            let contacts = Answer::of(s.server.get("/v1/contacts", &token).await).await;
            assert_eq!(contacts.status, 401, "{contacts}");
        }
    }
    // The same ids where the admin API takes a token id: not found, no 5xx.
    for jti in [
        "tok_'%20OR%20'1'='1",
        "tok_%27%3B%20DROP%20TABLE%20tokens%3B--",
    ] {
        let path = format!("/v1/apps/{}/tokens/{jti}", s.app);
        let status = s.server.delete(&path, &s.admin).await.status().as_u16();
        assert_eq!(status, 404, "{path}");
    }
    let long = format!("/v1/apps/{}/tokens/tok_{}", s.app, "A".repeat(10 * 1024));
    let status = s.server.delete(&long, &s.admin).await.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    // Nothing was harmed.
    assert_eq!(status_of(&s.server, &s.token).await, 200);
    let list = s
        .server
        .get(&format!("/v1/apps/{}/tokens", s.app), &s.admin)
        .await;
    assert_eq!(list.status(), 200);
    let list: Value = list.json().await.unwrap();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2), "{list}");
}

// ---------------------------------------------------------------------------
// 4. Key changes without a restart
// ---------------------------------------------------------------------------

#[tokio::test]
async fn keys_rotated_with_the_cli_are_published_and_sign_within_5_seconds() {
    let s = setup().await;
    let home = s.server.home.clone();
    let old_paseto = active_kid(&home, "paseto");
    let old_jwt = active_kid(&home, "jwt");

    let added = rotate(&home, &[]);
    let (new_paseto, new_jwt) = (kid_of(&added, "paseto"), kid_of(&added, "jwt"));
    assert_ne!(new_paseto, old_paseto);
    assert_ne!(new_jwt, old_jwt);

    let (server, p, j) = (&s.server, new_paseto.as_str(), new_jwt.as_str());
    let took = eventually(Duration::from_secs(5), || async move {
        let (paserk, jwks) = published(server).await;
        paserk.iter().any(|(kid, _)| kid == p) && jwks.iter().any(|kid| kid == j)
    })
    .await;
    println!("rotate -> both documents list the new keys after {took:?}");
    let took = took.expect("the new keys were not published within 5 s");
    assert!(took <= Duration::from_secs(5));

    let (paserk, jwks) = published(&s.server).await;
    assert!(
        paserk.contains(&(new_paseto.clone(), "active".to_owned())),
        "{paserk:?}"
    );
    assert!(
        paserk.contains(&(old_paseto.clone(), "retiring".to_owned())),
        "{paserk:?}"
    );
    assert!(jwks.contains(&old_jwt), "{jwks:?}");

    // New tokens are signed by the new keys and accepted at once.
    for (format, kid) in [("paseto", &new_paseto), ("jwt", &new_jwt)] {
        let issued = s
            .server
            .issue(&s.admin, &s.app, &["contacts:read"], format)
            .await;
        assert_eq!(&str_of(&issued["kid"]), kid, "{format}");
        assert_eq!(status_of(&s.server, &str_of(&issued["token"])).await, 200);
    }
    // Tokens of the old keys still work: they are retiring, not retired.
    assert_eq!(status_of(&s.server, &s.token).await, 200);
    assert_eq!(status_of(&s.server, &s.jwt).await, 200);
}

#[tokio::test]
async fn a_pending_key_is_published_as_pending_and_accepted_before_it_signs() {
    let s = setup().await;
    let home = s.server.home.clone();
    let active = active_kid(&home, "paseto");
    let added = rotate(&home, &["--format", "paseto", "--activate-after", "1h"]);
    assert_eq!(added.len(), 1, "{added:?}");
    let pending = kid_of(&added, "paseto");

    let (server, p) = (&s.server, pending.as_str());
    let took = eventually(Duration::from_secs(5), || async move {
        let (paserk, _) = published(server).await;
        paserk
            .iter()
            .any(|(kid, status)| kid == p && status == "pending")
    })
    .await;
    println!("rotate --activate-after 1h -> published as pending after {took:?}");
    took.expect("the pending key was not published within 5 s");
    let (paserk, _) = published(&s.server).await;
    assert!(
        paserk.contains(&(active.clone(), "active".to_owned())),
        "{paserk:?}"
    );

    // The server still signs with the active key…
    let issued = s
        .server
        .issue(&s.admin, &s.app, &["contacts:read"], "paseto")
        .await;
    assert_eq!(str_of(&issued["kid"]), active);
    // …and accepts a token the pending key signed (another instance whose clock
    // is ahead may already sign with it).
    let me = whoami(&s.server, &s.token).await.json();
    let now = unix_now();
    let claims = claims_like(&me, now, now, now + 3600);
    let token = Key::with_kid(&home, &pending).sign_claims(&claims);
    let answer = whoami(&s.server, &token).await;
    assert_eq!(answer.status, 200, "{answer}");
    assert_eq!(answer.json()["id"], claims.token_id.as_str());
}

#[tokio::test]
async fn retiring_a_key_with_the_cli_refuses_its_tokens_and_unpublishes_it_within_5_seconds() {
    let s = setup().await;
    let home = s.server.home.clone();
    let old_paseto = active_kid(&home, "paseto");
    let old_jwt = active_kid(&home, "jwt");
    let added = rotate(&home, &[]);
    let (new_paseto, new_jwt) = (kid_of(&added, "paseto"), kid_of(&added, "jwt"));
    // A fresh admin token, signed by the new key, outlives the retirement.
    let admin = home.admin_token(None);

    home.run(&["keys", "retire", &old_paseto]);
    home.run(&["keys", "retire", &old_jwt]);
    let started = Instant::now();

    let (server, token, jwt) = (&s.server, s.token.as_str(), s.jwt.as_str());
    let (op, oj) = (old_paseto.as_str(), old_jwt.as_str());
    let refused = eventually(Duration::from_secs(5), || async move {
        status_of(server, token).await == 401 && status_of(server, jwt).await == 401
    })
    .await;
    let unpublished = eventually(Duration::from_secs(5), || async move {
        let (paserk, jwks) = published(server).await;
        !paserk.iter().any(|(kid, _)| kid == op) && !jwks.iter().any(|kid| kid == oj)
    })
    .await;
    println!(
        "retire -> old tokens refused after {refused:?}, keys unpublished after {unpublished:?} \
         (total {:?})",
        started.elapsed()
    );
    refused.expect("tokens of the retired keys still accepted after 5 s");
    unpublished.expect("the retired keys are still published after 5 s");
    assert_invalid_token(&whoami(&s.server, &s.token).await, "invalid token");
    assert_invalid_token(&whoami(&s.server, &s.jwt).await, "invalid token");

    // The new keys sign, and are published.
    let (paserk, jwks) = published(&s.server).await;
    assert!(
        paserk.iter().any(|(kid, _)| kid == &new_paseto),
        "{paserk:?}"
    );
    assert!(jwks.contains(&new_jwt), "{jwks:?}");
    for format in ["paseto", "jwt"] {
        let issued = s
            .server
            .issue(&admin, &s.app, &["contacts:read"], format)
            .await;
        assert_eq!(status_of(&s.server, &str_of(&issued["token"])).await, 200);
    }
    // A token the retired key signs now (stolen key) is refused as well.
    let fresh = s
        .server
        .issue(&admin, &s.app, &["contacts:read"], "paseto")
        .await;
    let me = whoami(&s.server, &str_of(&fresh["token"])).await.json();
    let now = unix_now();
    let forged =
        Key::with_kid(&home, &old_paseto).sign_claims(&claims_like(&me, now, now, now + 60));
    assert_invalid_token(&whoami(&s.server, &forged).await, "invalid token");
}

// ---------------------------------------------------------------------------
// 5. Rotation under load
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_keys_three_times_while_serving_fails_no_request() {
    let s = Arc::new(setup().await);
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let kids_seen = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let mut workers = JoinSet::new();
    for worker in 0..3 {
        let (s, stop, failures, kids_seen, requests) = (
            s.clone(),
            stop.clone(),
            failures.clone(),
            kids_seen.clone(),
            requests.clone(),
        );
        workers.spawn(async move {
            let format = if worker % 2 == 0 { "paseto" } else { "jwt" };
            let fail = |what: String| failures.lock().unwrap().push(what);
            while !stop.load(Ordering::Relaxed) {
                // A token issued before any rotation.
                for old in [&s.token, &s.jwt] {
                    let status = status_of(&s.server, old).await;
                    requests.fetch_add(1, Ordering::Relaxed);
                    if status != 200 {
                        fail(format!("old token: {status}"));
                    }
                }
                // A new token, used at once.
                let body =
                    json!({"scopes": ["contacts:read"], "expires_in": "1h", "format": format});
                let response = s
                    .server
                    .post(&format!("/v1/apps/{}/tokens", s.app), &s.admin, &body)
                    .await;
                requests.fetch_add(1, Ordering::Relaxed);
                let answer = Answer::of(response).await;
                if answer.status != 201 {
                    fail(format!("issue {format}: {answer}"));
                    continue;
                }
                let issued = answer.json();
                kids_seen.lock().unwrap().insert(str_of(&issued["kid"]));
                let status = status_of(&s.server, &str_of(&issued["token"])).await;
                requests.fetch_add(1, Ordering::Relaxed);
                if status != 200 {
                    fail(format!("new {format} token of {}: {status}", issued["kid"]));
                }
            }
        });
    }

    let home = s.server.home.clone();
    let mut rotated = Vec::new();
    for round in 0..3 {
        let started = Instant::now();
        let added = tokio::task::spawn_blocking({
            let home = home.clone();
            move || rotate(&home, &[])
        })
        .await
        .unwrap();
        let (p, j) = (kid_of(&added, "paseto"), kid_of(&added, "jwt"));
        // Wait until the workers have had tokens signed by both new keys.
        let seen = kids_seen.clone();
        let (pp, jj) = (p.clone(), j.clone());
        let took = eventually(Duration::from_secs(8), move || {
            let seen = seen.clone();
            let (pp, jj) = (pp.clone(), jj.clone());
            async move {
                let seen = seen.lock().unwrap();
                seen.contains(&pp) && seen.contains(&jj)
            }
        })
        .await;
        println!("round {round}: new keys signing under load after {took:?}");
        took.unwrap_or_else(|| {
            panic!("round {round}: the server did not sign with {p} and {j} within 8 s")
        });
        rotated.push((p, j));
        println!("round {round} took {:?}", started.elapsed());
    }
    // A little more traffic on the last keys, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(result) = workers.join_next().await {
        result.expect("worker");
    }

    let failures = failures.lock().unwrap();
    let total = requests.load(Ordering::Relaxed);
    println!(
        "{total} requests during 3 rotations, {} failed; kids used: {}",
        failures.len(),
        kids_seen.lock().unwrap().len()
    );
    assert!(failures.is_empty(), "failed requests: {failures:#?}");
    let logs = s.server.logs();
    assert!(!logs.contains("cannot reload keys"), "{logs}");
    assert!(total > 50, "too little traffic to mean anything: {total}");
    assert_eq!(rotated.len(), 3);
}

// ---------------------------------------------------------------------------
// 6. SIGTERM
// ---------------------------------------------------------------------------

/// A POST the server has certainly started to handle: it sent its head with
/// `Expect: 100-continue` and the server answered `100 Continue`, which hyper
/// does only once the handler reads the body (after authentication). The
/// body is still to be sent.
struct InFlight {
    stream: TcpStream,
    body: Vec<u8>,
}

async fn in_flight_post(server: &Server, token: &str, email: &str) -> InFlight {
    let mut stream = TcpStream::connect(server.address()).await.expect("connect");
    let body = json!({"email": email, "first_name": "Slow"}).to_string();
    let head = format!(
        "POST /v1/contacts HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server.address(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let interim = tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream))
        .await
        .expect("100 Continue within 10 s")
        .expect("100 Continue");
    assert_eq!(interim.status, 100, "{}", interim.head);
    InFlight {
        stream,
        body: body.into_bytes(),
    }
}

/// Whether a client error means the request got no response at all because
/// the connection was refused, reset or closed before the server read it.
/// On Linux a connection still waiting in the listen backlog when the listener
/// closes is reset (not refused), so from the client such a request cannot be
/// told from one the server accepted but never read; requests the server did
/// start on are checked separately, with `100 Continue`.
fn never_answered(e: &reqwest::Error) -> bool {
    let debug = format!("{e:?}");
    e.is_connect()
        || (e.is_request()
            && ["ConnectionReset", "IncompleteMessage", "BrokenPipe"]
                .iter()
                .any(|kind| debug.contains(kind)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_requests_in_flight_finish_then_exits_0() {
    let Setup {
        server,
        token,
        admin,
        ..
    } = setup().await;

    // Requests the server is handling for certain: 100 Continue received, body
    // not yet sent.
    let mut in_flight = Vec::new();
    for i in 0..20 {
        in_flight.push(in_flight_post(&server, &token, &format!("slow{i}@example.com")).await);
    }

    // And a burst through a fresh client, dispatched just before the signal.
    let client = Client::new();
    let mut burst = JoinSet::new();
    for i in 0..40 {
        let request = if i % 2 == 0 {
            client
                .post(server.url("/v1/contacts"))
                .bearer_auth(&token)
                .json(&json!({"email": format!("burst{i}@example.com")}))
        } else {
            client
                .get(server.url("/v1/contacts?limit=100"))
                .bearer_auth(&token)
        };
        burst.spawn(async move {
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(_) => Ok(Some(status)),
                        Err(e) => Err(format!("{status}, then the body was cut: {e:?}")),
                    }
                }
                Err(e) if never_answered(&e) => Ok(None),
                Err(e) => Err(format!("{e:?}")),
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(50)).await;

    // SIGTERM, waiting for the exit on a blocking thread.
    let base = server.base.clone();
    let signalled = Instant::now();
    let mut server = server;
    let exiting = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (server, status, signalled.elapsed())
    });

    // New connections are refused soon after the signal (the listener is
    // closed); anything answered meanwhile is not a 5xx.
    let late = Client::new();
    let refused = eventually(Duration::from_secs(3), || {
        let (late, url) = (late.clone(), format!("{base}/health"));
        async move {
            match late.get(url).send().await {
                Ok(response) => {
                    assert!(response.status().as_u16() < 500, "{}", response.status());
                    false
                }
                Err(e) => e.is_connect(),
            }
        }
    })
    .await;
    println!("SIGTERM -> new connections refused after {refused:?}");
    assert!(
        refused.is_some(),
        "the listener is still open 3 s after SIGTERM"
    );
    assert!(
        !exiting.is_finished(),
        "the server exited with requests in flight"
    );

    // The requests in flight finish, after the signal.
    for (i, request) in in_flight.iter_mut().enumerate() {
        request
            .stream
            .write_all(&request.body)
            .await
            .expect("send the body");
        let response =
            tokio::time::timeout(Duration::from_secs(10), read_response(&mut request.stream))
                .await
                .expect("an answer within 10 s")
                .unwrap_or_else(|e| panic!("in-flight request {i} was cut by the shutdown: {e}"));
        assert_eq!(
            response.status,
            201,
            "in-flight request {i}: {} {}",
            response.head,
            String::from_utf8_lossy(&response.body)
        );
        let contact: Value = serde_json::from_slice(&response.body).expect("a whole JSON body");
        assert_eq!(contact["email"], format!("slow{i}@example.com"));
    }

    let (mut answered, mut unanswered) = (0, 0);
    while let Some(result) = burst.join_next().await {
        match result.expect("task") {
            Ok(None) => unanswered += 1,
            Ok(Some(status)) => {
                assert!(
                    (200..300).contains(&status),
                    "a request around SIGTERM got {status}"
                );
                answered += 1;
            }
            Err(e) => panic!("a request around SIGTERM failed oddly: {e}"),
        }
    }
    println!("burst: {answered} answered 2xx, {unanswered} never answered (refused or not read)");

    let (server, status, took) = exiting.await.expect("terminate");
    println!("SIGTERM -> exit {status} after {took:?}");
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "exit took {took:?}");

    let server = &server;
    let logged = eventually(Duration::from_secs(2), || async move {
        let logs = server.logs();
        logs.contains("shutting down") && logs.contains("stopped")
    })
    .await;
    assert!(
        logged.is_some(),
        "no shutdown in the log:\n{}",
        server.logs()
    );
    let logs = server.logs();
    assert!(!logs.contains("ERROR"), "{logs}");
    assert!(
        !logs.contains(&token) && !logs.contains(&admin),
        "a token was logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_within_5_seconds_even_while_a_client_is_stuck_in_its_request_head()
 {
    // A request head begun before SIGTERM counts as in flight until the
    // header-read timeout closes it; with a 2 s timeout the server is gone
    // well within 5 s.
    let server = Server::start_in(Home::new(), &[("INFORMLY_HEADER_READ_TIMEOUT", "2s")]).await;
    // A client that sent the start of a request head and nothing more (a slow
    // or dead client). It is no request in flight: nothing was received.
    let mut stuck = TcpStream::connect(server.address()).await.expect("connect");
    stuck
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
        .await
        .unwrap();
    stuck.flush().await.unwrap();
    assert_eq!(server.public_status("/health").await, 200);

    let signalled = Instant::now();
    let mut server = server;
    let exiting = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (server, status, signalled.elapsed())
    });
    let in_time = eventually(Duration::from_secs(5), || {
        let done = exiting.is_finished();
        async move { done }
    })
    .await;
    // Let the client go either way, so the server stops and nothing is left
    // running.
    drop(stuck);
    let (server, status, took) = exiting.await.expect("terminate");
    println!("SIGTERM with a stuck client -> exit {status} after {took:?}");
    assert!(
        in_time.is_some(),
        "the server was still running 5 s after SIGTERM, held by a client that never \
         finished its request head (it stopped {took:?} after SIGTERM, once that client \
         closed its connection)"
    );
    assert!(status.success(), "exit status {status}");
    assert!(server.logs().contains("shutting down"), "{}", server.logs());
}

// ---------------------------------------------------------------------------
// 7. Request ids
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_response_carries_an_x_request_id_and_a_client_sent_one_is_echoed() {
    let s = setup().await;
    let server = &s.server;
    let requests: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("health", server.request(Method::GET, "/health", None)),
        ("ready", server.request(Method::GET, "/ready", None)),
        (
            "paserk",
            server.request(Method::GET, "/.well-known/paserk.json", None),
        ),
        (
            "jwks",
            server.request(Method::GET, "/.well-known/jwks.json", None),
        ),
        (
            "200",
            server.request(Method::GET, "/v1/token", Some(&s.token)),
        ),
        ("401 bare", server.request(Method::GET, "/v1/token", None)),
        (
            "401 invalid",
            server.request(Method::GET, "/v1/token", Some("nope")),
        ),
        (
            "403",
            server.request(Method::GET, "/v1/apps", Some(&s.token)),
        ),
        (
            "404",
            server.request(Method::GET, "/v1/nowhere", Some(&s.token)),
        ),
        (
            "405",
            server.request(Method::PUT, "/v1/token", Some(&s.token)),
        ),
        (
            "201",
            server
                .request(Method::POST, "/v1/contacts", Some(&s.token))
                .json(&json!({"email": "ids@example.com"})),
        ),
        (
            "422",
            server
                .request(Method::POST, "/v1/contacts", Some(&s.token))
                .json(&json!({"email": "x@example.com", "nope": 1})),
        ),
        (
            "501",
            server.request(Method::GET, "/v1/surveys", Some(&s.token)),
        ),
    ];
    let mut generated = BTreeSet::new();
    for (what, request) in requests {
        let sent = request.try_clone().expect("clonable");
        let response = request.send().await.expect("send");
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{what}: no x-request-id"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!id.is_empty(), "{what}");
        assert!(generated.insert(id.clone()), "{what}: id {id} reused");

        let mine = format!("client-{}", what.replace(' ', "-"));
        let response = sent
            .header("x-request-id", &mine)
            .send()
            .await
            .expect("send");
        if what == "201" {
            assert_eq!(response.status(), 409, "same email twice");
        }
        assert_eq!(
            response
                .headers()
                .get("x-request-id")
                .map(|v| v.to_str().unwrap()),
            Some(mine.as_str()),
            "{what}: the client's id is echoed"
        );
    }
    // The id is in the log line of the request, so a client's report can be
    // found.
    let logs = eventually(Duration::from_secs(2), || async move {
        server.logs().contains("client-401-invalid")
    })
    .await;
    assert!(logs.is_some(), "{}", server.logs());
}

// SECURITY.md §9 row J11.
#[tokio::test]
async fn a_client_sending_its_request_head_too_slowly_is_disconnected() {
    use tokio::io::AsyncReadExt;
    let server = Server::start_in(Home::new(), &[("INFORMLY_HEADER_READ_TIMEOUT", "1s")]).await;
    let mut slow = TcpStream::connect(server.address()).await.expect("connect");
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // Then nothing more: the server must close the connection by itself.
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the connection was still open 5 s later");
    let took = started.elapsed();
    println!("slow client disconnected after {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "closed before the timeout: {took:?}"
    );
    // Other clients are served meanwhile and after.
    assert_eq!(server.public_status("/health").await, 200);
}

// SECURITY.md §9 row J11.
/// A client that connects and sends nothing, or only HTTP/2's opening bytes
/// (the server speaks HTTP/1.1 only), is cut off like a slow one: silent
/// sockets can neither pile up nor hold the connection slots.
#[tokio::test]
async fn a_client_that_connects_and_sends_nothing_or_an_http2_preface_is_disconnected() {
    use tokio::io::AsyncReadExt;
    let server = Server::start_in(
        Home::new(),
        &[
            ("INFORMLY_HEADER_READ_TIMEOUT", "1s"),
            ("INFORMLY_MAX_CONNECTIONS", "2"),
        ],
    )
    .await;
    let mut silent = TcpStream::connect(server.address()).await.expect("connect");
    let mut h2 = TcpStream::connect(server.address()).await.expect("connect");
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    for (what, stream) in [("silent", &mut silent), ("h2 preface", &mut h2)] {
        let mut buf = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
        assert!(closed.is_ok(), "{what}: still open 5 s later");
    }
    println!("silent clients disconnected after {:?}", started.elapsed());
    // They held both slots meanwhile; once cut off, others are served.
    assert_eq!(server.public_status("/health").await, 200);
}

/// Past `--max-connections`, a new connection waits (in the kernel's accept
/// queue) until one of the open ones closes, then is served: memory stays
/// flat however many clients connect.
#[tokio::test]
async fn connections_past_the_limit_wait_for_a_free_slot_then_are_served() {
    let server = Server::start_in(
        Home::new(),
        &[
            ("INFORMLY_MAX_CONNECTIONS", "2"),
            ("INFORMLY_HEADER_READ_TIMEOUT", "60s"),
        ],
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(server.address()).await.expect("connect"));
    }
    // Idle connections hold both slots (the kernel completes the handshake
    // of a third connection, but the server does not accept it).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(server.address()).await.expect("connect");
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(500), third.read_to_end(&mut answer)).await;
    assert!(
        early.is_err(),
        "served past the limit: {}",
        String::from_utf8_lossy(&answer)
    );

    drop(held.pop());
    let served = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut answer)).await;
    assert!(served.is_ok(), "not served 5 s after a slot was freed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

informly_postgres_twins! {
    tests: [
        a_request_without_authorization_gets_401_with_the_bare_challenge,
        a_basic_authorization_gets_401_with_the_bare_challenge,
        each_authentication_mistake_gets_a_description_of_what_was_wrong,
        the_log_names_the_caller_the_duration_and_every_key_that_changes_state,
        a_token_whose_key_was_retired_shows_as_such_wherever_its_record_is_shown,
        the_bearer_scheme_is_case_insensitive_and_may_be_followed_by_several_spaces,
        a_bearer_scheme_without_a_token_gets_401_invalid_token,
        two_authorization_headers_get_400_invalid_request_even_when_both_are_valid,
        a_token_in_the_query_string_is_not_read_and_never_logged,
        a_one_megabyte_authorization_header_gets_431_or_a_closed_connection,
        a_64_kib_token_gets_401_invalid_token,
        an_authorization_value_with_bytes_0x80_to_0xff_gets_401,
        a_token_with_a_space_tab_or_nul_inside_gets_401,
        a_request_with_150_headers_gets_431,
        an_unknown_key_a_bad_signature_and_a_revoked_token_get_byte_identical_401s,
        an_expired_token_gets_401_token_expired_in_both_formats,
        a_token_that_expired_within_the_30_second_leeway_is_still_accepted,
        a_token_not_yet_valid_gets_401_token_not_yet_valid,
        a_token_revoked_through_the_api_is_refused_on_the_very_next_request,
        deleting_an_app_refuses_its_tokens_at_once_and_leaves_other_apps_alone,
        a_revocation_made_with_the_cli_reaches_the_running_server_within_2_seconds,
        a_second_server_on_the_same_database_refuses_a_token_revoked_through_the_first_within_2_seconds,
        a_flood_of_500_badly_signed_tokens_gets_401s_and_the_server_stays_healthy,
        a_10_kib_jti_or_one_with_sql_metacharacters_gets_401_and_never_a_5xx,
        keys_rotated_with_the_cli_are_published_and_sign_within_5_seconds,
        a_pending_key_is_published_as_pending_and_accepted_before_it_signs,
        retiring_a_key_with_the_cli_refuses_its_tokens_and_unpublishes_it_within_5_seconds,
        rotating_keys_three_times_while_serving_fails_no_request,
        sigterm_lets_requests_in_flight_finish_then_exits_0,
        sigterm_stops_the_server_within_5_seconds_even_while_a_client_is_stuck_in_its_request_head,
        every_response_carries_an_x_request_id_and_a_client_sent_one_is_echoed,
        a_client_sending_its_request_head_too_slowly_is_disconnected,
        connections_past_the_limit_wait_for_a_free_slot_then_are_served,
        a_client_that_connects_and_sends_nothing_or_an_http2_preface_is_disconnected,
    ],
    sqlite_only: [
    ],
}
