//! The HTTP API, through the router `informly serve` serves: most tests drive
//! it in this process (`common::transport::InProcess`, over a real SQLite
//! file or PostgreSQL database); those about what only a socket shows (bodies
//! the server stops reading, chunked bodies, the whole flow, the real
//! server's routes) go to the real binary on a random port.
//!
//! Covered here: the newcomer flow (admin token → app → tokens → contacts),
//! every status code of SPEC.md "HTTP API" (503 aside), the management API,
//! revocation on the next request, SECURITY.md §9 rows H, I and J that apply to
//! the API, pagination (also under concurrent inserts), the OpenAPI document
//! against the routes really served, and the public key documents, checked by
//! verifying issued tokens offline with the CLI.
//!
//! Every reply is read through `Reply`, which fails the test on any 5xx but
//! the documented 501: no input in this file may make the server fail.
//!
//! Bodies `reqwest` cannot send as needed here (a 10 MB body the server stops
//! reading, a chunked body without Content-Length: reqwest's `stream` feature
//! is off, so there is no `Body::wrap_stream`) go over a plain TCP socket.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use common::raw_http::{RawResponse, chunk};
use common::transport::{Answer, Call, InProcess, Transport};
use common::{Home, Server};

/// Ids that are well formed but exist nowhere.
const UNKNOWN_APP: &str = "app_01ZZZZZZZZZZZZZZZZZZZZZZZZ";
const UNKNOWN_TOKEN: &str = "tok_01ZZZZZZZZZZZZZZZZZZZZZZZZ";
const UNKNOWN_CONTACT: &str = "ct_01ZZZZZZZZZZZZZZZZZZZZZZZZ";

const CONTACT_SCOPES: [&str; 3] = ["contacts:read", "contacts:write", "contacts:delete"];
const ADMIN_SCOPES: [&str; 7] = [
    "apps:read",
    "apps:write",
    "apps:delete",
    "audit:read",
    "webhooks:read",
    "webhooks:write",
    "webhooks:delete",
];

/// The request body limit of SPEC.md "HTTP API".
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/// A response read whole. Reading one asserts the server did not fail (< 500).
struct Reply {
    what: String,
    status: u16,
    content_type: String,
    challenge: Option<String>,
    location: Option<String>,
    text: String,
}

impl Reply {
    fn read(answer: Answer, what: String) -> Reply {
        let status = answer.status;
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .map(|v| v.to_str().expect("ASCII header").to_owned())
        };
        let content_type = header("content-type").unwrap_or_default();
        let challenge = header("www-authenticate");
        let location = header("location");
        let text = String::from_utf8(answer.body).expect("a UTF-8 body");
        // 501 is the documented answer of the modules not served yet.
        assert!(
            status < 500 || status == 501,
            "{what}: server error {status}: {text}"
        );
        Reply {
            what,
            status,
            content_type,
            challenge,
            location,
            text,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {}", self.what, self.text))
    }

    /// A successful JSON answer with this status.
    fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}: {}", self.what, self.text);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}: content type {:?}",
            self.what,
            self.content_type
        );
        self.json()
    }

    /// 204 with an empty body.
    fn expect_no_content(&self) {
        assert_eq!(self.status, 204, "{}: {}", self.what, self.text);
        assert!(self.text.is_empty(), "{}: 204 with a body", self.what);
    }

    /// An RFC 9457 problem document with this status: `type`, `title`,
    /// `status`, `detail`, and `errors: [{field, message}]` for a 422.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}: {}", self.what, self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}: content type of a {status}: {}",
            self.what, self.text
        );
        let body = self.json();
        for member in ["type", "title", "detail"] {
            assert!(
                body[member].as_str().is_some_and(|s| !s.is_empty()),
                "{}: problem without `{member}`: {body}",
                self.what
            );
        }
        assert_eq!(
            body["status"], status,
            "{}: problem status: {body}",
            self.what
        );
        if status == 422 {
            let errors = body["errors"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: 422 without an `errors` array: {body}", self.what));
            assert!(!errors.is_empty(), "{}: empty `errors`: {body}", self.what);
            for error in errors {
                assert!(error["field"].is_string(), "{}: {error}", self.what);
                assert!(
                    error["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{}: {error}",
                    self.what
                );
            }
        }
        body
    }

    /// A 422 naming `field` among its errors; returns the problem.
    fn invalid(&self, field: &str) -> Value {
        let body = self.problem(422);
        let fields = fields(&body);
        assert!(
            fields.iter().any(|f| f == field),
            "{}: 422 does not name `{field}` (names {fields:?}): {body}",
            self.what
        );
        body
    }

    /// 401 `invalid_token` with the RFC 6750 challenge.
    fn invalid_token(&self) {
        self.problem(401);
        let challenge = self.challenge.as_deref().unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
            "{}: challenge {challenge:?}",
            self.what
        );
    }

    /// 403 `insufficient_scope` naming `scope` in the challenge and the body.
    fn insufficient_scope(&self, scope: &str) {
        let body = self.problem(403);
        let challenge = self.challenge.as_deref().unwrap_or_default();
        assert!(
            challenge.contains("error=\"insufficient_scope\"")
                && challenge.contains(&format!("scope=\"{scope}\"")),
            "{}: challenge {challenge:?} does not ask for {scope}",
            self.what
        );
        assert!(
            body["detail"].as_str().unwrap_or_default().contains(scope),
            "{}: the body does not name {scope}: {body}",
            self.what
        );
    }
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The messages of a 422, joined, for "names the bad value" checks.
fn messages(problem: &Value) -> String {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["message"].as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

async fn call(
    server: &impl Transport,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let what = format!("{method} {path}");
    Reply::read(server.json(method, path, token, body).await, what)
}

/// A request with a body sent as given, under the given content type (none
/// if `None`).
async fn call_raw(
    server: &impl Transport,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> Reply {
    let what = format!("{method} {path} (raw body)");
    let call = Call {
        method,
        path,
        token,
        content_type,
        body: Some(body.into()),
    };
    Reply::read(server.send(call).await, what)
}

async fn get(server: &impl Transport, path: &str, token: &str) -> Reply {
    call(server, Method::GET, path, Some(token), None).await
}

async fn post(server: &impl Transport, path: &str, token: &str, body: &Value) -> Reply {
    call(server, Method::POST, path, Some(token), Some(body)).await
}

async fn patch(server: &impl Transport, path: &str, token: &str, body: &Value) -> Reply {
    call(server, Method::PATCH, path, Some(token), Some(body)).await
}

async fn delete(server: &impl Transport, path: &str, token: &str) -> Reply {
    call(server, Method::DELETE, path, Some(token), None).await
}

/// A JSON body sent as raw bytes (for bodies `serde_json` cannot produce).
async fn post_bytes(
    server: &impl Transport,
    path: &str,
    token: &str,
    body: impl Into<Vec<u8>>,
) -> Reply {
    call_raw(
        server,
        Method::POST,
        path,
        Some(token),
        Some("application/json"),
        body,
    )
    .await
}

/// Sends `head` then each of `pieces` on a connection of its own (written
/// while the answer is read, so it is read even if the server answers before
/// the body is complete and stops reading), and reads one response, which
/// must come within 20 s and be no server error.
async fn raw_exchange(server: &Server, head: String, pieces: Vec<Vec<u8>>) -> RawResponse {
    let request = [head.into_bytes(), pieces.concat()].concat();
    let reply = common::raw_http::raw_exchange(server, request, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("no complete response: {e}"));
    assert!(
        reply.status < 500,
        "server error: {} {}",
        reply.head,
        reply.text()
    );
    reply
}

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

/// A service with an admin token for `default`, one app, and a token for
/// that app with every contacts scope: in this process, or (`Api::served`)
/// the real server.
struct Api<T: Transport = InProcess> {
    server: T,
    admin: String,
    app: String,
    token: String,
}

impl Api {
    async fn start() -> Api {
        Api::open().await
    }
}

impl Api<Server> {
    /// The same, on the real server, for what only a socket shows.
    async fn served() -> Api<Server> {
        Api::open().await
    }
}

impl<T: Transport> Api<T> {
    async fn open() -> Api<T> {
        let server = T::start().await;
        let admin = server.home().admin_token(None);
        let app = server.create_app(&admin, "main").await;
        let token = token_of(&server.issue(&admin, &app, &CONTACT_SCOPES, "paseto").await);
        Api {
            server,
            admin,
            app,
            token,
        }
    }

    /// A token of the fixture's app with exactly these scopes.
    async fn token_with(&self, scopes: &[&str]) -> String {
        token_of(
            &self
                .server
                .issue(&self.admin, &self.app, scopes, "paseto")
                .await,
        )
    }

    async fn create_contact(&self, body: &Value) -> Value {
        post(&self.server, "/v1/contacts", &self.token, body)
            .await
            .expect(201)
    }

    async fn contact(&self, id: &str) -> Value {
        get(&self.server, &format!("/v1/contacts/{id}"), &self.token)
            .await
            .expect(200)
    }

    /// Every contact the fixture's token sees.
    async fn contacts(&self) -> Vec<Value> {
        pages(&self.server, &self.token, 100)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

fn token_of(issued: &Value) -> String {
    issued["token"].as_str().expect("token").to_owned()
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// Every page of `GET /v1/contacts?limit=…`, following `next_cursor`.
async fn pages(server: &impl Transport, token: &str, limit: u32) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/contacts?limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = get(server, &path, token).await.expect(200);
        pages.push(page["data"].as_array().expect("data").clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(page["next_cursor"].is_null(), "next_cursor: {page}");
                return pages;
            }
        }
        assert!(pages.len() < 1000, "paging does not end");
    }
}

fn is_rfc3339_utc(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.ends_with('Z') && OffsetDateTime::parse(s, &Rfc3339).is_ok())
}

fn sorted(value: &Value) -> Vec<String> {
    let mut out: Vec<String> = value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect();
    out.sort();
    out
}

fn sorted_strs(values: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
    out.sort();
    out
}

/// Makes a second workspace and returns its admin token.
fn second_workspace(server: &impl Transport, name: &str) -> String {
    server.home().run(&["workspaces", "create", "--name", name]);
    server.home().admin_token(Some(name))
}

/// A second workspace, `acme`, beside the fixture's: its admin token and an
/// app of it.
struct Acme {
    admin: String,
    app: String,
}

impl Acme {
    async fn create(server: &impl Transport) -> Acme {
        let admin = second_workspace(server, "acme");
        let app = server.create_app(&admin, "acme-app").await;
        Acme { admin, app }
    }

    /// A token of acme's app with these scopes.
    async fn token(&self, server: &impl Transport, scopes: &[&str], format: &str) -> String {
        token_of(&server.issue(&self.admin, &self.app, scopes, format).await)
    }
}

// ---------------------------------------------------------------------------
// 1. The newcomer flow
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_newcomer_goes_from_an_admin_token_to_an_app_tokens_and_contacts() {
    let server = Server::start().await;
    let admin = server.home.admin_token(None);

    // The app.
    let reply = post(
        &server,
        "/v1/apps",
        &admin,
        &json!({"name": "CRM sync", "description": "Nightly import"}),
    )
    .await;
    let app = reply.expect(201);
    let app_id = id_of(&app);
    assert!(app_id.starts_with("app_"), "{app}");
    assert_eq!(app["name"], "CRM sync");
    assert_eq!(app["description"], "Nightly import");
    assert!(is_rfc3339_utc(&app["created_at"]), "{app}");
    assert!(is_rfc3339_utc(&app["updated_at"]), "{app}");
    let apps = get(&server, "/v1/apps", &admin).await.expect(200);
    assert!(
        apps["data"].as_array().unwrap().contains(&app),
        "GET /v1/apps lacks the new app: {apps}"
    );
    assert_eq!(
        get(&server, &format!("/v1/apps/{app_id}"), &admin)
            .await
            .expect(200),
        app
    );

    // Tokens, in both formats: 201 with the record plus the token string.
    let tokens_path = format!("/v1/apps/{app_id}/tokens");
    let paseto = post(
        &server,
        &tokens_path,
        &admin,
        &json!({"name": "importer", "scopes": CONTACT_SCOPES, "expires_in": "30d"}),
    )
    .await
    .expect(201);
    let jwt = post(
        &server,
        &tokens_path,
        &admin,
        &json!({"scopes": ["contacts:read"], "expires_in": 3600, "format": "jwt"}),
    )
    .await
    .expect(201);
    for (record, format, scopes, name) in [
        (&paseto, "paseto", &CONTACT_SCOPES[..], json!("importer")),
        (&jwt, "jwt", &["contacts:read"][..], Value::Null),
    ] {
        assert!(id_of(record).starts_with("tok_"), "{record}");
        assert_eq!(record["app_id"], app_id.as_str(), "{record}");
        assert_eq!(record["name"], name, "{record}");
        assert_eq!(sorted(&record["scopes"]), sorted_strs(scopes), "{record}");
        assert_eq!(record["format"], format, "{record}");
        assert!(record["kid"].as_str().is_some_and(|k| !k.is_empty()));
        assert!(is_rfc3339_utc(&record["created_at"]), "{record}");
        assert!(is_rfc3339_utc(&record["expires_at"]), "{record}");
        assert!(record["revoked_at"].is_null(), "{record}");
    }
    let paseto_token = token_of(&paseto);
    let jwt_token = token_of(&jwt);
    assert!(paseto_token.starts_with("v4.public."), "{paseto_token}");
    assert_eq!(jwt_token.split('.').count(), 3, "{jwt_token}");
    assert!(jwt_token.starts_with("eyJ"), "{jwt_token}");

    // The list of tokens shows the records, never a token string.
    let listed = get(&server, &tokens_path, &admin).await;
    let records = listed.expect(200)["data"].as_array().unwrap().clone();
    assert_eq!(records.len(), 2, "{}", listed.text);
    for issued in [&paseto, &jwt] {
        let mut expected = issued.clone();
        expected.as_object_mut().unwrap().remove("token");
        assert!(
            records.contains(&expected),
            "{} not in {records:?}",
            expected
        );
    }
    for record in &records {
        assert!(
            record.get("token").is_none(),
            "a listed token string: {record}"
        );
    }
    assert!(!listed.text.contains(&paseto_token) && !listed.text.contains(&jwt_token));

    // GET /v1/token: the caller's own token.
    let admin_view = get(&server, "/v1/token", &admin).await.expect(200);
    assert!(admin_view["app"].is_null(), "{admin_view}");
    assert_eq!(sorted(&admin_view["scopes"]), sorted_strs(&ADMIN_SCOPES));
    let workspace = admin_view["workspace"].as_str().expect("workspace");
    assert!(workspace.starts_with("ws_"), "{admin_view}");
    for (record, token, format) in [
        (&paseto, &paseto_token, "paseto"),
        (&jwt, &jwt_token, "jwt"),
    ] {
        let me = get(&server, "/v1/token", token).await.expect(200);
        assert_eq!(me["id"], record["id"], "{me}");
        assert_eq!(me["app"], app_id.as_str(), "{me}");
        assert_eq!(me["workspace"], workspace, "{me}");
        assert_eq!(sorted(&me["scopes"]), sorted(&record["scopes"]), "{me}");
        assert_eq!(me["format"], format, "{me}");
        assert_eq!(me["expires_at"], record["expires_at"], "{me}");
        assert!(!me.to_string().contains(token.as_str()), "echoes the token");
    }

    // Contacts: create, read, update, list, delete.
    let reply = post(
        &server,
        "/v1/contacts",
        &paseto_token,
        &json!({
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+44 20 7946 0000",
            "tags": ["vip", "beta"],
            "attributes": {"plan": "pro", "seats": 5, "trial": false, "ref": null},
        }),
    )
    .await;
    let contact = reply.expect(201);
    let id = id_of(&contact);
    assert!(id.starts_with("ct_"), "{contact}");
    assert_eq!(
        reply.location.as_deref(),
        Some(format!("/v1/contacts/{id}").as_str())
    );
    assert_eq!(contact["email"], "ada@example.com");
    assert_eq!(contact["first_name"], "Ada");
    assert_eq!(contact["last_name"], "Lovelace");
    assert_eq!(contact["phone"], "+44 20 7946 0000");
    assert!(contact["company"].is_null());
    assert_eq!(contact["tags"], json!(["vip", "beta"]));
    assert_eq!(
        contact["attributes"],
        json!({"plan": "pro", "seats": 5, "trial": false, "ref": null})
    );
    assert!(is_rfc3339_utc(&contact["created_at"]), "{contact}");
    assert_eq!(contact["created_at"], contact["updated_at"]);

    let path = format!("/v1/contacts/{id}");
    assert_eq!(
        get(&server, &path, &paseto_token).await.expect(200),
        contact
    );
    // The read-only JWT reads it too.
    assert_eq!(get(&server, &path, &jwt_token).await.expect(200), contact);

    let updated = patch(
        &server,
        &path,
        &paseto_token,
        &json!({"company": "Analytical Engines", "phone": null, "tags": ["vip"]}),
    )
    .await
    .expect(200);
    assert_eq!(updated["company"], "Analytical Engines");
    assert!(updated["phone"].is_null(), "{updated}");
    assert_eq!(updated["tags"], json!(["vip"]));
    assert_eq!(updated["first_name"], "Ada", "untouched fields change");
    assert_eq!(updated["attributes"], contact["attributes"]);
    assert_eq!(updated["created_at"], contact["created_at"]);
    let created_at = OffsetDateTime::parse(contact["created_at"].as_str().unwrap(), &Rfc3339);
    let updated_at = OffsetDateTime::parse(updated["updated_at"].as_str().unwrap(), &Rfc3339);
    assert!(updated_at.unwrap() >= created_at.unwrap());
    assert_eq!(
        get(&server, &path, &paseto_token).await.expect(200),
        updated
    );

    let list = get(&server, "/v1/contacts", &paseto_token)
        .await
        .expect(200);
    assert_eq!(list["data"], json!([updated]), "{list}");
    assert!(list["next_cursor"].is_null(), "{list}");

    delete(&server, &path, &paseto_token)
        .await
        .expect_no_content();
    get(&server, &path, &paseto_token).await.problem(404);
    delete(&server, &path, &paseto_token).await.problem(404);
    patch(&server, &path, &paseto_token, &json!({"first_name": "B"}))
        .await
        .problem(404);
    let list = get(&server, "/v1/contacts", &paseto_token)
        .await
        .expect(200);
    assert_eq!(list["data"], json!([]), "{list}");
}

// ---------------------------------------------------------------------------
// 2. Status codes and problem documents
// ---------------------------------------------------------------------------

#[tokio::test]
async fn requests_without_a_usable_token_get_401_with_the_bearer_challenge() {
    let api = Api::start().await;
    let server = &api.server;

    let reply = call(server, Method::GET, "/v1/contacts", None, None).await;
    reply.problem(401);
    let challenge = reply.challenge.clone().unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{challenge:?}");
    assert!(
        !challenge.contains("error="),
        "bare challenge: {challenge:?}"
    );

    get(server, "/v1/contacts", "not-a-token")
        .await
        .invalid_token();
    get(server, "/v1/token", "v4.public.AAAA")
        .await
        .invalid_token();
    // Authentication comes before the body is looked at.
    let reply = call_raw(
        server,
        Method::POST,
        "/v1/contacts",
        None,
        Some("text/plain"),
        "{",
    )
    .await;
    reply.problem(401);
}

#[tokio::test]
async fn malformed_json_bodies_are_400() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());

    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", br#"{"email": "a@example.com""#.to_vec()),
        (
            "unterminated string",
            br#"{"email": "a@example.com}"#.to_vec(),
        ),
        ("empty", Vec::new()),
        ("not JSON", b"email=a@example.com".to_vec()),
        // I5: trailing garbage after a valid object.
        (
            "trailing garbage",
            br#"{"email": "a@example.com"} garbage"#.to_vec(),
        ),
        ("two objects", br#"{"email": "a@example.com"}{}"#.to_vec()),
        // I6: invalid UTF-8 inside a string.
        (
            "invalid UTF-8",
            b"{\"email\": \"a@example.com\", \"first_name\": \"\xff\xfe\"}".to_vec(),
        ),
        (
            "invalid UTF-8 key",
            b"{\"em\xc3\x28il\": \"a@example.com\"}".to_vec(),
        ),
        // I7: a lone surrogate.
        (
            "lone surrogate",
            br#"{"email": "a@example.com", "first_name": "\ud800"}"#.to_vec(),
        ),
        (
            "lone low surrogate",
            br#"{"email": "a@example.com", "first_name": "x\udc00"}"#.to_vec(),
        ),
    ];
    for (what, body) in bad {
        let reply = post_bytes(server, "/v1/contacts", token, body).await;
        assert_eq!(reply.status, 400, "{what}: {}", reply.text);
        reply.problem(400);
    }
    // The same on the management API.
    post_bytes(
        server,
        "/v1/apps",
        &api.admin,
        br#"{"name": "x"} ]"#.to_vec(),
    )
    .await
    .problem(400);
    post_bytes(
        server,
        &format!("/v1/apps/{}/tokens", api.app),
        &api.admin,
        br#"{"scopes": ["contacts:read"], "expires_in": "1h""#.to_vec(),
    )
    .await
    .problem(400);
    call_raw(
        server,
        Method::PATCH,
        &format!("/v1/apps/{}", api.app),
        Some(&api.admin),
        Some("application/json"),
        "{\"name\": \"\\ud800\"}",
    )
    .await
    .problem(400);
    // Nothing was written.
    assert_eq!(api.contacts().await, Vec::<Value>::new());
}

#[tokio::test]
async fn deeply_nested_json_is_rejected_without_crashing_the_server() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    let depth = 10_000;

    // I14: nesting the parser has to descend into (attributes take any JSON
    // value) hits serde_json's recursion limit: 400.
    let nested = format!(
        r#"{{"email": "deep@example.com", "attributes": {{"a": {}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    post_bytes(server, "/v1/contacts", token, nested)
        .await
        .problem(400);
    let objects = format!(
        r#"{{"email": "deep@example.com", "attributes": {}1{}}}"#,
        r#"{"a":"#.repeat(depth),
        "}".repeat(depth)
    );
    post_bytes(server, "/v1/contacts", token, objects)
        .await
        .problem(400);
    // Unclosed: still 400.
    let unclosed = format!(
        r#"{{"email": "deep@example.com", "attributes": {{"a": {}"#,
        "[".repeat(depth)
    );
    post_bytes(server, "/v1/contacts", token, unclosed)
        .await
        .problem(400);

    // A top-level 10,000-deep array is refused before any deep parsing: the
    // server answers 422 (wrong type for the body) rather than the catalog's
    // 400; either way it is a prompt client error.
    let reply = post_bytes(
        server,
        "/v1/contacts",
        token,
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
    )
    .await;
    assert!(reply.status == 400 || reply.status == 422, "{}", reply.text);
    reply.problem(reply.status);

    // In a batch, each item is its own: a 10,000-deep item is that item's
    // 400 (the recursion limit), and the item beside it is created.
    let batch = format!(
        r#"{{"contacts": [{}{}, {{"email": "beside@example.com"}}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let answer = post_bytes(server, "/v1/contacts/batch", token, batch)
        .await
        .expect(200);
    assert_eq!(answer["results"][0]["status"], 400, "{answer}");
    assert_eq!(answer["results"][1]["status"], 201, "{answer}");

    // The server is alive and only that contact was written.
    let emails: Vec<Value> = api
        .contacts()
        .await
        .iter()
        .map(|c| c["email"].clone())
        .collect();
    assert_eq!(emails, [json!("beside@example.com")]);
    let health = call(server, Method::GET, "/health", None, None).await;
    health.expect(200);
}

#[tokio::test]
async fn bodies_without_a_json_content_type_are_415() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    let body = r#"{"email": "a@example.com"}"#;

    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let reply = call_raw(
            server,
            Method::POST,
            "/v1/contacts",
            Some(token),
            content_type,
            body,
        )
        .await;
        reply.problem(415);
    }
    let created = api.create_contact(&json!({"email": "b@example.com"})).await;
    call_raw(
        server,
        Method::PATCH,
        &format!("/v1/contacts/{}", id_of(&created)),
        Some(token),
        Some("text/plain"),
        r#"{"first_name": "x"}"#,
    )
    .await
    .problem(415);
    call_raw(
        server,
        Method::POST,
        "/v1/apps",
        Some(&api.admin),
        None,
        r#"{"name": "x"}"#,
    )
    .await
    .problem(415);
    call_raw(
        server,
        Method::POST,
        &format!("/v1/apps/{}/tokens", api.app),
        Some(&api.admin),
        Some("text/plain"),
        r#"{"scopes": ["contacts:read"], "expires_in": "1h"}"#,
    )
    .await
    .problem(415);

    // JSON with a charset parameter is JSON.
    let reply = call_raw(
        server,
        Method::POST,
        "/v1/contacts",
        Some(token),
        Some("application/json; charset=utf-8"),
        body,
    )
    .await;
    reply.expect(201);
    // Only the two created above exist.
    assert_eq!(api.contacts().await.len(), 2);
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413_with_or_without_a_content_length() {
    // The real server: a body it stops reading, and chunked bodies, over TCP.
    let api = Api::served().await;
    let (server, token) = (&api.server, api.token.as_str());

    // A JSON body of exactly `size` bytes.
    let body_of = |size: usize| {
        let head = r#"{"email": "big@example.com", "first_name": ""#;
        let tail = r#""}"#;
        format!("{head}{}{tail}", "a".repeat(size - head.len() - tail.len()))
    };

    // At the limit the body is read (and refused for the name's length).
    post_bytes(server, "/v1/contacts", token, body_of(MIB))
        .await
        .invalid("first_name");
    // One byte over: 413.
    post_bytes(server, "/v1/contacts", token, body_of(MIB + 1))
        .await
        .problem(413);
    let description = json!({"description": "d".repeat(MIB)});
    call_raw(
        server,
        Method::PATCH,
        &format!("/v1/apps/{}", api.app),
        Some(&api.admin),
        Some("application/json"),
        description.to_string(),
    )
    .await
    .problem(413);
    let name = "n".repeat(2 * MIB);
    let issue = json!({"scopes": ["contacts:read"], "expires_in": "1h", "name": name});
    post_bytes(
        server,
        &format!("/v1/apps/{}/tokens", api.app),
        &api.admin,
        issue.to_string(),
    )
    .await
    .problem(413);

    // J1: 10 MB announced with a Content-Length.
    let big = 10 * MIB;
    let head = format!(
        "POST /v1/contacts HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {big}\r\nConnection: close\r\n\r\n",
        server.base.trim_start_matches("http://")
    );
    let pieces = vec![body_of(big).into_bytes()];
    let reply = raw_exchange(server, head, pieces).await;
    assert_eq!(reply.status, 413, "{} {}", reply.head, reply.text());
    assert!(
        reply.head.contains("application/problem+json"),
        "{}",
        reply.head
    );

    // J2: a chunked body with no Content-Length, 413 once the limit is crossed.
    let chunked_head = format!(
        "POST /v1/contacts HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.base.trim_start_matches("http://")
    );
    let mut pieces = vec![chunk(
        br#"{"email": "chunked@example.com", "first_name": ""#,
    )];
    pieces.extend((0..40).map(|_| chunk(&[b'a'; 64 * 1024])));
    pieces.push(chunk(br#""}"#));
    pieces.push(b"0\r\n\r\n".to_vec());
    let reply = raw_exchange(server, chunked_head.clone(), pieces).await;
    assert_eq!(reply.status, 413, "{} {}", reply.head, reply.text());
    assert!(
        reply.head.contains("application/problem+json"),
        "{}",
        reply.head
    );
    let problem: Value = serde_json::from_slice(&reply.body).expect("problem JSON");
    assert_eq!(problem["status"], 413);

    // A small chunked body is fine: the 413 above is about size.
    let pieces = vec![
        chunk(br#"{"email": "#),
        chunk(br#""chunked@example.com"}"#),
        b"0\r\n\r\n".to_vec(),
    ];
    let reply = raw_exchange(server, chunked_head, pieces).await;
    assert_eq!(reply.status, 201, "{} {}", reply.head, reply.text());

    // Only the small chunked contact exists.
    let contacts = api.contacts().await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_eq!(contacts[0]["email"], "chunked@example.com");
}

#[tokio::test]
async fn unknown_duplicate_and_server_owned_fields_are_422_and_write_nothing() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());

    // I1, I2: server-owned and unknown fields.
    for (field, value) in [
        ("id", json!(UNKNOWN_CONTACT)),
        ("workspace_id", json!("ws_01ZZZZZZZZZZZZZZZZZZZZZZZZ")),
        ("workspace", json!("acme")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("updated_at", json!("2020-01-01T00:00:00Z")),
        ("isAdmin", json!(true)),
        ("Email", json!("x@example.com")),
    ] {
        let mut body = json!({"email": "mass@example.com"});
        body[field] = value;
        post(server, "/v1/contacts", token, &body)
            .await
            .invalid(field);
    }
    // I3: duplicate keys.
    let reply = post_bytes(
        server,
        "/v1/contacts",
        token,
        r#"{"email": "a@example.com", "email": "b@example.com"}"#,
    )
    .await;
    let problem = reply.problem(422);
    assert!(messages(&problem).contains("email"), "{problem}");
    assert_eq!(
        api.contacts().await,
        Vec::<Value>::new(),
        "a rejected POST wrote"
    );

    // The same on PATCH, leaving the row as it was.
    let contact = api
        .create_contact(&json!({"email": "owner@example.com", "first_name": "Owner"}))
        .await;
    let path = format!("/v1/contacts/{}", id_of(&contact));
    for (field, value) in [
        ("id", json!(UNKNOWN_CONTACT)),
        ("workspace_id", json!("ws_01ZZZZZZZZZZZZZZZZZZZZZZZZ")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("isAdmin", json!(true)),
    ] {
        let mut body = json!({"first_name": "Changed"});
        body[field] = value;
        patch(server, &path, token, &body).await.invalid(field);
    }
    let reply = call_raw(
        server,
        Method::PATCH,
        &path,
        Some(token),
        Some("application/json"),
        r#"{"first_name": "a", "first_name": "b"}"#,
    )
    .await;
    reply.problem(422);
    assert_eq!(api.contact(&id_of(&contact)).await, contact);

    // Apps and tokens refuse them as well.
    let admin = api.admin.as_str();
    for body in [
        json!({"name": "x", "workspace_id": "ws_01ZZZZZZZZZZZZZZZZZZZZZZZZ"}),
        json!({"name": "x", "id": UNKNOWN_APP}),
        json!({"name": "x", "created_at": "2020-01-01T00:00:00Z"}),
        json!({"name": "x", "owner": "me"}),
    ] {
        post(server, "/v1/apps", admin, &body).await.problem(422);
    }
    post_bytes(server, "/v1/apps", admin, r#"{"name": "x", "name": "y"}"#)
        .await
        .problem(422);
    let app_path = format!("/v1/apps/{}", api.app);
    patch(server, &app_path, admin, &json!({"id": UNKNOWN_APP}))
        .await
        .invalid("id");
    let tokens_path = format!("/v1/apps/{}/tokens", api.app);
    for (field, value) in [
        ("app_id", json!(UNKNOWN_APP)),
        ("workspace", json!("ws_01ZZZZZZZZZZZZZZZZZZZZZZZZ")),
        ("kid", json!("k4.pid.x")),
        ("sub", json!("admin:cli")),
        ("revoked_at", Value::Null),
    ] {
        let mut body = json!({"scopes": ["contacts:read"], "expires_in": "1h"});
        body[field] = value;
        post(server, &tokens_path, admin, &body)
            .await
            .invalid(field);
    }
    let apps = get(server, "/v1/apps", admin).await.expect(200);
    assert_eq!(apps["data"].as_array().unwrap().len(), 1, "{apps}");
    let tokens = get(server, &tokens_path, admin).await.expect(200);
    assert_eq!(
        tokens["data"].as_array().unwrap().len(),
        1,
        "only the fixture's token: {tokens}"
    );
}

#[tokio::test]
async fn duplicate_keys_inside_attributes_are_422_not_silently_merged() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());

    // I3 applies to the whole body: a repeated key inside `attributes` must
    // not silently drop one of the two values.
    let reply = post_bytes(
        server,
        "/v1/contacts",
        token,
        r#"{"email": "dup-attr@example.com", "attributes": {"plan": "free", "plan": "pro"}}"#,
    )
    .await;
    reply.problem(422);
    assert!(api.contacts().await.is_empty(), "a rejected POST wrote");

    let contact = api
        .create_contact(&json!({"email": "dup-patch@example.com", "attributes": {"plan": "free"}}))
        .await;
    let reply = call_raw(
        server,
        Method::PATCH,
        &format!("/v1/contacts/{}", id_of(&contact)),
        Some(token),
        Some("application/json"),
        r#"{"attributes": {"plan": "pro", "plan": "enterprise"}}"#,
    )
    .await;
    reply.problem(422);
    assert_eq!(api.contact(&id_of(&contact)).await, contact);
}

#[tokio::test]
async fn a_missing_required_field_is_named_in_the_422() {
    let api = Api::start().await;
    let (server, token, admin) = (&api.server, api.token.as_str(), api.admin.as_str());

    // SPEC: validation errors are `errors: [{field, message}]`; a required
    // field left out is a field error like any other.
    post(
        server,
        "/v1/contacts",
        token,
        &json!({"first_name": "No email"}),
    )
    .await
    .invalid("email");
    post(
        server,
        "/v1/apps",
        admin,
        &json!({"description": "no name"}),
    )
    .await
    .invalid("name");
    post(
        server,
        &format!("/v1/apps/{}/tokens", api.app),
        admin,
        &json!({"expires_in": "1h"}),
    )
    .await
    .invalid("scopes");
    assert!(api.contacts().await.is_empty());
}

#[tokio::test]
async fn invalid_contact_fields_are_422_naming_each_field() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());

    let many_tags: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    // (field set, its value, the field the 422 names); the email is valid
    // unless it is the field under test.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("email", json!("not-an-email"), "email"),
        ("email", json!(""), "email"),
        ("email", json!(5), "email"),
        ("email", Value::Null, "email"),
        (
            "email",
            json!(format!("{}@example.com", "a".repeat(250))),
            "email",
        ),
        // I10: NUL anywhere.
        ("email", json!("a\u{0}b@example.com"), "email"),
        ("first_name", json!("a\u{0}b"), "first_name"),
        ("company", json!("a\u{0}"), "company"),
        ("tags", json!(["a\u{0}b"]), "tags[0]"),
        ("attributes", json!({"k": "a\u{0}b"}), "attributes.k"),
        ("attributes", json!({"k\u{0}": 1}), "attributes.k\u{0}"),
        // Other control characters.
        ("last_name", json!("a\u{7}b"), "last_name"),
        ("phone", json!("1\n2"), "phone"),
        // I12: a 1 MB string inside the body limit; other length limits.
        ("first_name", json!("a".repeat(1_000_000)), "first_name"),
        ("company", json!("a".repeat(201)), "company"),
        ("phone", json!("1".repeat(51)), "phone"),
        // Tags: at most 50, non-empty, at most 100 characters.
        ("tags", json!(many_tags), "tags"),
        ("tags", json!(["ok", ""]), "tags[1]"),
        ("tags", json!(["x".repeat(101)]), "tags[0]"),
        ("tags", json!("vip"), "tags"),
        ("tags", json!([1]), "tags[0]"),
        // Attributes: flat, at most 16 KiB.
        ("attributes", json!({"a": {"b": 1}}), "attributes.a"),
        ("attributes", json!({"a": [1, 2]}), "attributes.a"),
        (
            "attributes",
            json!({"big": "x".repeat(16 * 1024)}),
            "attributes",
        ),
        (
            "attributes",
            json!({"big": "x".repeat(1_000_000)}),
            "attributes",
        ),
        ("attributes", json!([1]), "attributes"),
        ("attributes", json!("flat"), "attributes"),
        // Wrong types.
        ("first_name", json!(5), "first_name"),
        ("last_name", json!(["x"]), "last_name"),
    ];
    for (key, value, field) in cases {
        let mut body = json!({"email": "valid@example.com"});
        body[key] = value;
        let reply = post(server, "/v1/contacts", token, &body).await;
        let short: String = body.to_string().chars().take(120).collect();
        assert_eq!(reply.status, 422, "{short}: {}", reply.text);
        reply.invalid(field);
    }
    let missing = post(server, "/v1/contacts", token, &json!({})).await;
    let problem = missing.problem(422);
    assert!(messages(&problem).contains("email"), "{problem}");

    // Every bad field is reported, not just the first.
    let problem = post(
        server,
        "/v1/contacts",
        token,
        &json!({"email": "nope", "first_name": "a\u{0}", "tags": [""]}),
    )
    .await
    .invalid("email");
    let named = fields(&problem);
    for field in ["email", "first_name", "tags[0]"] {
        assert!(named.contains(&field.to_owned()), "{problem}");
    }
    // I13: a number out of range is a client error (400 or 422), not a 5xx.
    let reply = post_bytes(
        server,
        "/v1/contacts",
        token,
        r#"{"email": "num@example.com", "attributes": {"n": 1e400}}"#,
    )
    .await;
    assert!(reply.status == 400 || reply.status == 422, "{}", reply.text);
    reply.problem(reply.status);

    assert_eq!(
        api.contacts().await,
        Vec::<Value>::new(),
        "a rejected POST wrote"
    );

    // The limits themselves are accepted.
    let ok = api
        .create_contact(&json!({
            "email": "limits@example.com",
            "first_name": "a".repeat(200),
            "phone": "1".repeat(50),
            "tags": (0..50).map(|i| format!("{i}{}", "t".repeat(97))).collect::<Vec<_>>(),
            "attributes": {"big": "x".repeat(16 * 1024 - 20)},
        }))
        .await;
    assert_eq!(ok["tags"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn patching_a_contact_with_invalid_fields_is_422_and_changes_nothing() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    let contact = api
        .create_contact(&json!({
            "email": "keep@example.com",
            "first_name": "Keep",
            "tags": ["a"],
            "attributes": {"k": 1},
        }))
        .await;
    let id = id_of(&contact);
    let path = format!("/v1/contacts/{id}");

    let many_tags: Vec<String> = (0..51).map(|i| i.to_string()).collect();
    let cases: Vec<(Value, &str)> = vec![
        // I15: null for the required field, wrong types.
        (json!({"email": null}), "email"),
        (json!({"email": 5}), "email"),
        (json!({"email": "not-an-email"}), "email"),
        (json!({"first_name": 5}), "first_name"),
        (json!({"tags": "a"}), "tags"),
        (json!({"attributes": {"a": {"b": 1}}}), "attributes.a"),
        // A valid change next to an invalid one: no partial update.
        (json!({"first_name": "Changed", "email": null}), "email"),
        (
            json!({"first_name": "Changed", "last_name": "a\u{0}"}),
            "last_name",
        ),
        (json!({"company": "Changed", "tags": many_tags}), "tags"),
    ];
    for (body, field) in &cases {
        patch(server, &path, token, body).await.invalid(field);
        assert_eq!(api.contact(&id).await, contact, "after PATCH {body}");
    }
}

#[tokio::test]
async fn text_that_looks_hostile_is_stored_and_returned_byte_identical() {
    let api = Api::start().await;
    let sql = "Robert'); DROP TABLE contacts;--";
    let bodies = [
        // I8: SQL metacharacters everywhere.
        json!({
            "email": "o'reilly+x@example.com",
            "first_name": sql,
            "last_name": "' OR '1'='1",
            "company": "%_\\",
            "phone": "1; --",
            "tags": ["'; DELETE FROM contacts; --", "%", "_"],
            "attributes": {"q\"; DROP TABLE apps; --": "' OR 1=1 --", "n": 1},
        }),
        // I11: emoji, ZWJ sequences, RTL override, 4-byte UTF-8, combining marks.
        json!({
            "email": "unicode@example.com",
            "first_name": "👩‍💻 Zoë",
            "last_name": "\u{202e}evil\u{202c}",
            "company": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{200d}\u{200b} e\u{301}",
            "phone": "٠١٢٣",
            "tags": ["日本語", "עברית", "🧑🏽‍🚀"],
            "attributes": {"🔑": "🧑🏽‍🚀", "rtl": "\u{202e}abc"},
        }),
    ];
    for body in &bodies {
        let created = api.create_contact(body).await;
        for field in [
            "email",
            "first_name",
            "last_name",
            "company",
            "phone",
            "tags",
            "attributes",
        ] {
            assert_eq!(created[field], body[field], "{field} changed on the way in");
        }
        let read = api.contact(&id_of(&created)).await;
        assert_eq!(read, created);
        // Byte-identical in the raw body too (no escaping or normalisation).
        let raw = get(
            &api.server,
            &format!("/v1/contacts/{}", id_of(&created)),
            &api.token,
        )
        .await;
        let value: Value = serde_json::from_str(&raw.text).unwrap();
        assert_eq!(value["first_name"].as_str(), body["first_name"].as_str());
    }
    // The table is intact and the email filter treats the input as data.
    let all = api.contacts().await;
    assert_eq!(all.len(), 2, "{all:?}");
    let found = get(
        &api.server,
        "/v1/contacts?email=o%27reilly%2Bx%40example.com",
        &api.token,
    )
    .await
    .expect(200);
    assert_eq!(found["data"].as_array().unwrap().len(), 1, "{found}");
    let none = get(&api.server, "/v1/contacts?email=%25", &api.token)
        .await
        .expect(200);
    assert_eq!(none["data"], json!([]), "`%` is not a wildcard: {none}");
}

#[tokio::test]
async fn a_batch_answers_each_contact_in_order_and_creates_only_the_good_ones() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    let taken = api
        .create_contact(&json!({"email": "taken@example.com"}))
        .await;

    let batch = json!({"contacts": [
        {"email": "Ada@Example.com", "first_name": "Ada", "tags": ["vip"], "attributes": {"plan": "pro"}},
        {"email": "TAKEN@example.com"},
        {"email": "ada@example.com"},
        {"email": "not an address", "first_name": "x"},
        "not an object",
        {"email": "bo@example.com", "bogus": 1},
        {"email": "cy@example.com", "phone": 7},
        {"email": "bo@example.com", "company": "Bo & Co"},
    ]});
    let answer = post(server, "/v1/contacts/batch", token, &batch)
        .await
        .expect(200);
    let results = answer["results"].as_array().expect("results");
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        [201, 409, 409, 422, 422, 422, 422, 201],
        "{answer}"
    );
    assert_eq!(
        (answer["created"].clone(), answer["failed"].clone()),
        (json!(2), json!(6))
    );

    // Created items carry the contact as GET shows it; failed ones a problem
    // document of their own.
    let ada = &results[0]["contact"];
    assert_eq!(api.contact(&id_of(ada)).await, *ada);
    assert_eq!(
        (ada["email"].clone(), ada["tags"].clone()),
        (json!("Ada@example.com"), json!(["vip"]))
    );
    assert!(results[0].get("problem").is_none(), "{answer}");
    for (i, field) in [(3, "email"), (5, "bogus"), (6, "phone")] {
        let problem = &results[i]["problem"];
        assert_eq!(problem["status"], 422, "{answer}");
        assert_eq!(problem["errors"][0]["field"], field, "item {i}: {problem}");
        assert!(results[i].get("contact").is_none(), "{answer}");
    }
    assert_eq!(
        results[4]["problem"]["type"],
        "urn:informly:problem:validation-error"
    );
    // A duplicate of an existing contact, and of an earlier item.
    for i in [1, 2] {
        let problem = &results[i]["problem"];
        assert_eq!(
            problem["type"], "urn:informly:problem:conflict",
            "{problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("already exists"),
            "{problem}"
        );
    }
    assert_eq!(results[7]["contact"]["company"], "Bo & Co");

    let mut emails: Vec<String> = api
        .contacts()
        .await
        .iter()
        .map(|c| c["email"].as_str().expect("email").to_owned())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        ["Ada@example.com", "bo@example.com", "taken@example.com"]
    );
    assert_eq!(api.contact(&id_of(&taken)).await, taken);
}

#[tokio::test]
async fn a_batch_must_hold_one_to_a_thousand_contacts_and_needs_contacts_write() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    let of = |n: usize| json!({"contacts": (0..n).map(|i| json!({"email": format!("c{i}@example.com")})).collect::<Vec<_>>()});
    post(server, "/v1/contacts/batch", token, &of(0))
        .await
        .invalid("contacts");
    post(server, "/v1/contacts/batch", token, &of(1001))
        .await
        .invalid("contacts");
    for body in [
        json!({}),
        json!({"contacts": {}}),
        json!({"contacts": [], "extra": 1}),
        json!([]),
    ] {
        post(server, "/v1/contacts/batch", token, &body)
            .await
            .problem(422);
    }
    post_bytes(
        server,
        "/v1/contacts/batch",
        token,
        r#"{"contacts": [{"email": "a@example.com"},]}"#.to_owned(),
    )
    .await
    .problem(400);
    assert!(
        api.contacts().await.is_empty(),
        "a refused batch creates nothing"
    );

    let reader = api.token_with(&["contacts:read"]).await;
    post(server, "/v1/contacts/batch", &reader, &of(1))
        .await
        .problem(403);
    post(server, "/v1/contacts/batch", "not-a-token", &of(1))
        .await
        .problem(401);

    // A thousand, in one request.
    let answer = post(server, "/v1/contacts/batch", token, &of(1000))
        .await
        .expect(200);
    assert_eq!(
        (answer["created"].clone(), answer["failed"].clone()),
        (json!(1000), json!(0))
    );
    let contacts = api.contacts().await;
    assert_eq!(contacts.len(), 1000);
    // In the batch's order: ids grow item by item.
    let ids: Vec<String> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| id_of(&r["contact"]))
        .collect();
    let listed: Vec<String> = contacts.iter().map(id_of).collect();
    assert_eq!(ids, listed);
}

#[tokio::test]
async fn a_batch_in_another_workspace_does_not_conflict_with_this_ones_contacts() {
    let api = Api::start().await;
    let server = &api.server;
    api.create_contact(&json!({"email": "shared@example.com"}))
        .await;
    let acme = Acme::create(server)
        .await
        .token(server, &CONTACT_SCOPES, "jwt")
        .await;
    let answer = post(
        server,
        "/v1/contacts/batch",
        &acme,
        &json!({"contacts": [{"email": "shared@example.com"}]}),
    )
    .await
    .expect(200);
    assert_eq!(answer["results"][0]["status"], 201, "{answer}");
    assert_eq!(api.contacts().await.len(), 1);
}

#[tokio::test]
async fn duplicate_emails_conflict_case_insensitively_within_one_workspace_only() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    let ada = api
        .create_contact(&json!({"email": "Ada@Example.com"}))
        .await;

    for email in ["Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM"] {
        post(server, "/v1/contacts", token, &json!({"email": email}))
            .await
            .problem(409);
    }
    // A PATCH onto someone else's email conflicts and changes nothing.
    let bob = api
        .create_contact(&json!({"email": "bob@example.com"}))
        .await;
    let bob_path = format!("/v1/contacts/{}", id_of(&bob));
    patch(
        server,
        &bob_path,
        token,
        &json!({"email": "aDa@example.COM", "first_name": "Bob"}),
    )
    .await
    .problem(409);
    assert_eq!(api.contact(&id_of(&bob)).await, bob);
    // Changing the case of one's own email is not a conflict.
    let renamed = patch(
        server,
        &format!("/v1/contacts/{}", id_of(&ada)),
        token,
        &json!({"email": "ada@example.com"}),
    )
    .await
    .expect(200);
    assert_eq!(renamed["email"], "ada@example.com");

    // Another workspace may hold the same email.
    let acme = Acme::create(server)
        .await
        .token(server, &CONTACT_SCOPES, "jwt")
        .await;
    post(
        server,
        "/v1/contacts",
        &acme,
        &json!({"email": "ADA@example.com"}),
    )
    .await
    .expect(201);
    assert_eq!(api.contacts().await.len(), 2);
}

#[tokio::test]
async fn duplicate_app_names_conflict_with_409() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let crm = server.create_app(admin, "CRM").await;

    for name in ["CRM", "crm", "main"] {
        post(server, "/v1/apps", admin, &json!({"name": name}))
            .await
            .problem(409);
    }
    // Renaming onto another app's name conflicts; renaming to itself does not.
    patch(
        server,
        &format!("/v1/apps/{crm}"),
        admin,
        &json!({"name": "Main"}),
    )
    .await
    .problem(409);
    let same = patch(
        server,
        &format!("/v1/apps/{crm}"),
        admin,
        &json!({"name": "crm"}),
    )
    .await
    .expect(200);
    assert_eq!(same["name"], "crm");
    let apps = get(server, "/v1/apps", admin).await.expect(200);
    let names: BTreeSet<&str> = apps["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["crm", "main"]));

    // Names are per workspace.
    let acme_admin = second_workspace(server, "acme");
    post(server, "/v1/apps", &acme_admin, &json!({"name": "CRM"}))
        .await
        .expect(201);
}

#[tokio::test]
async fn malformed_ids_in_paths_are_404() {
    let api = Api::start().await;
    let (server, token, admin) = (&api.server, api.token.as_str(), api.admin.as_str());
    let long = "x".repeat(5000);

    // I16 (decided: 404), including ids that are not valid UTF-8 once decoded.
    for id in [
        "abc",
        "%00",
        "ct_",
        "ct_01zzzzzzzzzzzzzzzzzzzzzzzz",
        "ct_01ZZZZZZZZZZZZZZZZZZZZZZZ",
        "ct_01ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "app_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
        "%20ct_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
        long.as_str(),
        UNKNOWN_CONTACT,
    ] {
        let path = format!("/v1/contacts/{id}");
        get(server, &path, token).await.problem(404);
        patch(server, &path, token, &json!({"first_name": "x"}))
            .await
            .problem(404);
        delete(server, &path, token).await.problem(404);
    }
    for id in [
        "xyz",
        "%00",
        "app_",
        "ct_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
        UNKNOWN_APP,
    ] {
        let path = format!("/v1/apps/{id}");
        get(server, &path, admin).await.problem(404);
        patch(server, &path, admin, &json!({"name": "x"}))
            .await
            .problem(404);
        delete(server, &path, admin).await.problem(404);
        get(server, &format!("{path}/tokens"), admin)
            .await
            .problem(404);
        post(
            server,
            &format!("{path}/tokens"),
            admin,
            &json!({"scopes": ["contacts:read"], "expires_in": "1h"}),
        )
        .await
        .problem(404);
    }
    for id in [
        "xyz",
        "tok_",
        UNKNOWN_TOKEN,
        "ct_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
    ] {
        delete(server, &format!("/v1/apps/{}/tokens/{id}", api.app), admin)
            .await
            .problem(404);
    }
}

#[tokio::test]
async fn ids_that_are_not_utf8_once_decoded_are_404_problem_documents() {
    let api = Api::start().await;
    let (server, token, admin) = (&api.server, api.token.as_str(), api.admin.as_str());

    // I16 (decided: 404), for ids whose percent-decoding is not UTF-8; and
    // every error is application/problem+json.
    for id in ["%FF", "%C3%28", "ct_%FF"] {
        let path = format!("/v1/contacts/{id}");
        get(server, &path, token).await.problem(404);
        patch(server, &path, token, &json!({"first_name": "x"}))
            .await
            .problem(404);
        delete(server, &path, token).await.problem(404);
        let path = format!("/v1/apps/{id}");
        get(server, &path, admin).await.problem(404);
        patch(server, &path, admin, &json!({"name": "x"}))
            .await
            .problem(404);
        delete(server, &path, admin).await.problem(404);
        get(server, &format!("{path}/tokens"), admin)
            .await
            .problem(404);
        delete(server, &format!("/v1/apps/{}/tokens/{id}", api.app), admin)
            .await
            .problem(404);
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_unanswered_methods_are_405() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());

    for path in [
        "/v1/nope",
        "/v2/contacts",
        "/v1/contacts/a/b",
        "/v1/apps/x/y/z/w",
    ] {
        get(server, path, token).await.problem(404);
        call(server, Method::GET, path, None, None)
            .await
            .problem(404);
    }
    // The root is for browsers: it leads to the dashboard.
    let root = call(server, Method::GET, "/", None, None).await;
    assert_eq!(root.status, 303, "{}", root.text);
    assert_eq!(root.location.as_deref(), Some("/dashboard"));
    for (method, path) in [
        (Method::PUT, "/v1/contacts".to_owned()),
        (Method::DELETE, "/v1/contacts".to_owned()),
        (Method::PUT, format!("/v1/contacts/{UNKNOWN_CONTACT}")),
        (Method::POST, format!("/v1/contacts/{UNKNOWN_CONTACT}")),
        (Method::POST, "/health".to_owned()),
        (Method::DELETE, "/v1/token".to_owned()),
        (Method::PUT, format!("/v1/apps/{}", api.app)),
    ] {
        call(server, method, &path, Some(token), None)
            .await
            .problem(405);
    }
}

#[tokio::test]
async fn modules_not_served_yet_answer_501_once_authenticated() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    let routes = [
        (Method::GET, "/v1/surveys"),
        (Method::POST, "/v1/surveys"),
        (Method::GET, "/v1/coupons/123"),
        (Method::POST, "/v1/coupons/123/validate"),
        (Method::DELETE, "/v1/referrals/ref_1"),
        (Method::PATCH, "/v1/testimonials/t/1"),
        (Method::GET, "/v1/tickets"),
        (Method::PUT, "/v1/tickets/9"),
    ];
    for (method, path) in routes.clone() {
        let reply = call(server, method.clone(), path, Some(token), Some(&json!({}))).await;
        let problem = reply.problem(501);
        assert!(
            problem["detail"].as_str().unwrap().contains("coming soon"),
            "{problem}"
        );
        // Any valid token, admin included.
        call(server, method.clone(), path, Some(&api.admin), None)
            .await
            .problem(501);
        // Before authentication: 401.
        call(server, method.clone(), path, None, None)
            .await
            .problem(401);
        call(server, method, path, Some("garbage"), None)
            .await
            .invalid_token();
    }
}

// ---------------------------------------------------------------------------
// 3. Scopes and the management API
// ---------------------------------------------------------------------------

#[tokio::test]
async fn tokens_without_the_routes_scope_get_403_insufficient_scope() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let contact = api
        .create_contact(&json!({"email": "scoped@example.com"}))
        .await;
    let path = format!("/v1/contacts/{}", id_of(&contact));
    let read = api.token_with(&["contacts:read"]).await;
    let write = api.token_with(&["contacts:write"]).await;
    let others = api
        .token_with(&["surveys:read", "coupons:validate", "tickets:delete"])
        .await;

    // H1: a read-only token writing or deleting.
    post(
        server,
        "/v1/contacts",
        &read,
        &json!({"email": "new@example.com"}),
    )
    .await
    .insufficient_scope("contacts:write");
    patch(server, &path, &read, &json!({"first_name": "Hacked"}))
        .await
        .insufficient_scope("contacts:write");
    delete(server, &path, &read)
        .await
        .insufficient_scope("contacts:delete");
    // A write-only token reading or deleting.
    get(server, "/v1/contacts", &write)
        .await
        .insufficient_scope("contacts:read");
    get(server, &path, &write)
        .await
        .insufficient_scope("contacts:read");
    delete(server, &path, &write)
        .await
        .insufficient_scope("contacts:delete");
    // Scopes of other modules grant nothing on contacts.
    get(server, "/v1/contacts", &others)
        .await
        .insufficient_scope("contacts:read");
    // The scope check comes before the body and the id are looked at.
    patch(
        server,
        &format!("/v1/contacts/{UNKNOWN_CONTACT}"),
        &read,
        &json!({"x": 1}),
    )
    .await
    .insufficient_scope("contacts:write");
    let reply = call_raw(
        server,
        Method::POST,
        "/v1/contacts",
        Some(&read),
        Some("text/plain"),
        "garbage",
    )
    .await;
    reply.insufficient_scope("contacts:write");
    // Nothing changed.
    assert_eq!(api.contact(&id_of(&contact)).await, contact);
    assert_eq!(api.contacts().await.len(), 1);

    // H10: app tokens on the management API, even with every contacts scope.
    let app = format!("/v1/apps/{}", api.app);
    let tokens = format!("{app}/tokens");
    let issued = server
        .issue(admin, &api.app, &["contacts:read"], "jwt")
        .await;
    let one_token = format!("{tokens}/{}", id_of(&issued));
    let full = api.token.as_str();
    get(server, "/v1/apps", full)
        .await
        .insufficient_scope("apps:read");
    post(server, "/v1/apps", full, &json!({"name": "rogue"}))
        .await
        .insufficient_scope("apps:write");
    get(server, &app, full)
        .await
        .insufficient_scope("apps:read");
    patch(server, &app, full, &json!({"name": "rogue"}))
        .await
        .insufficient_scope("apps:write");
    delete(server, &app, full)
        .await
        .insufficient_scope("apps:delete");
    get(server, &tokens, full)
        .await
        .insufficient_scope("apps:read");
    post(
        server,
        &tokens,
        full,
        &json!({"scopes": ["contacts:read"], "expires_in": "1h"}),
    )
    .await
    .insufficient_scope("apps:write");
    delete(server, &one_token, full)
        .await
        .insufficient_scope("apps:delete");

    // Admin tokens on the Contacts API.
    get(server, "/v1/contacts", admin)
        .await
        .insufficient_scope("contacts:read");
    get(server, &path, admin)
        .await
        .insufficient_scope("contacts:read");
    post(
        server,
        "/v1/contacts",
        admin,
        &json!({"email": "admin@example.com"}),
    )
    .await
    .insufficient_scope("contacts:write");
    patch(server, &path, admin, &json!({"first_name": "Admin"}))
        .await
        .insufficient_scope("contacts:write");
    delete(server, &path, admin)
        .await
        .insufficient_scope("contacts:delete");

    // Nothing changed anywhere.
    assert_eq!(api.contact(&id_of(&contact)).await, contact);
    let apps = get(server, "/v1/apps", admin).await.expect(200);
    assert_eq!(apps["data"].as_array().unwrap().len(), 1, "{apps}");
    assert_eq!(apps["data"][0]["name"], "main");
    get(server, "/v1/token", &token_of(&issued))
        .await
        .expect(200);
}

#[tokio::test]
async fn apps_can_be_renamed_and_their_description_cleared() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let created = post(
        server,
        "/v1/apps",
        admin,
        &json!({"name": "Old", "description": "first"}),
    )
    .await
    .expect(201);
    let path = format!("/v1/apps/{}", id_of(&created));

    let renamed = patch(server, &path, admin, &json!({"name": "New name"}))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "New name");
    assert_eq!(renamed["description"], "first", "description kept");
    assert_eq!(renamed["created_at"], created["created_at"]);
    let described = patch(server, &path, admin, &json!({"description": "second"}))
        .await
        .expect(200);
    assert_eq!(described["name"], "New name");
    assert_eq!(described["description"], "second");
    let cleared = patch(server, &path, admin, &json!({"description": null}))
        .await
        .expect(200);
    assert!(cleared["description"].is_null(), "{cleared}");
    assert_eq!(cleared["name"], "New name");
    let unchanged = patch(server, &path, admin, &json!({})).await.expect(200);
    assert_eq!(unchanged["name"], "New name");
    assert!(unchanged["description"].is_null());
    assert_eq!(
        get(server, &path, admin).await.expect(200)["name"],
        "New name"
    );

    // Limits: names 1–100 characters, descriptions up to 500, no control
    // characters; counted in characters, not bytes.
    let max_name = "é".repeat(100);
    let ok = patch(
        server,
        &path,
        admin,
        &json!({"name": max_name, "description": "d".repeat(500)}),
    )
    .await
    .expect(200);
    assert_eq!(ok["name"], max_name.as_str());
    let before = get(server, &path, admin).await.expect(200);
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "a".repeat(101)}), "name"),
        (json!({"name": "bad\u{7}name"}), "name"),
        (json!({"name": "line\nbreak"}), "name"),
        (json!({"name": "nul\u{0}"}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"description": "d".repeat(501)}), "description"),
        (json!({"description": "tab\there"}), "description"),
    ] {
        patch(server, &path, admin, &body).await.invalid(field);
        assert_eq!(
            get(server, &path, admin).await.expect(200),
            before,
            "after {body}"
        );
    }
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "a".repeat(101)}), "name"),
        (json!({"name": "ctl\u{1b}[31m"}), "name"),
        (
            json!({"name": "ok", "description": "d".repeat(501)}),
            "description",
        ),
    ] {
        post(server, "/v1/apps", admin, &body).await.invalid(field);
    }
    let apps = get(server, "/v1/apps", admin).await.expect(200);
    assert_eq!(apps["data"].as_array().unwrap().len(), 2, "{apps}");
}

#[tokio::test]
async fn patching_an_app_name_to_null_is_422_and_changes_nothing() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let path = format!("/v1/apps/{}", api.app);
    let before = get(server, &path, admin).await.expect(200);

    // I15: `null` for the required name is refused, not silently ignored
    // (the contacts PATCH does the same for `email`).
    for body in [
        json!({"name": null}),
        json!({"name": null, "description": "changed"}),
    ] {
        patch(server, &path, admin, &body).await.invalid("name");
        assert_eq!(
            get(server, &path, admin).await.expect(200),
            before,
            "after {body}"
        );
    }
}

#[tokio::test]
async fn deleting_an_app_rejects_its_tokens_on_the_next_request() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let doomed = server.create_app(admin, "doomed").await;
    let paseto = token_of(
        &server
            .issue(admin, &doomed, &CONTACT_SCOPES, "paseto")
            .await,
    );
    let jwt = token_of(
        &server
            .issue(admin, &doomed, &["contacts:read"], "jwt")
            .await,
    );
    for token in [&paseto, &jwt] {
        get(server, "/v1/contacts", token).await.expect(200);
    }

    delete(server, &format!("/v1/apps/{doomed}"), admin)
        .await
        .expect_no_content();
    for token in [&paseto, &jwt] {
        get(server, "/v1/contacts", token).await.invalid_token();
        get(server, "/v1/token", token).await.invalid_token();
    }
    post(
        server,
        "/v1/contacts",
        &paseto,
        &json!({"email": "late@example.com"}),
    )
    .await
    .invalid_token();
    let path = format!("/v1/apps/{doomed}");
    get(server, &path, admin).await.problem(404);
    delete(server, &path, admin).await.problem(404);
    get(server, &format!("{path}/tokens"), admin)
        .await
        .problem(404);
    post(
        server,
        &format!("{path}/tokens"),
        admin,
        &json!({"scopes": ["contacts:read"], "expires_in": "1h"}),
    )
    .await
    .problem(404);
    let apps = get(server, "/v1/apps", admin).await.expect(200);
    assert!(!apps.to_string().contains(&doomed), "{apps}");

    // Other apps and the admin token are unaffected.
    get(server, "/v1/contacts", &api.token).await.expect(200);
    get(server, "/v1/token", admin).await.expect(200);
    assert!(api.contacts().await.is_empty());
}

#[tokio::test]
async fn revoking_a_token_rejects_it_on_the_next_request_and_nothing_else() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let tokens = format!("/v1/apps/{}/tokens", api.app);
    let victim = server.issue(admin, &api.app, &CONTACT_SCOPES, "jwt").await;
    let sibling = server
        .issue(admin, &api.app, &["contacts:read"], "paseto")
        .await;
    get(server, "/v1/contacts", &token_of(&victim))
        .await
        .expect(200);

    delete(server, &format!("{tokens}/{}", id_of(&victim)), admin)
        .await
        .expect_no_content();
    get(server, "/v1/contacts", &token_of(&victim))
        .await
        .invalid_token();
    get(server, "/v1/token", &token_of(&victim))
        .await
        .invalid_token();
    // The record says so; the others do not.
    let list = get(server, &tokens, admin).await.expect(200);
    for record in list["data"].as_array().unwrap() {
        let revoked = !record["revoked_at"].is_null();
        assert_eq!(revoked, record["id"] == victim["id"], "{record}");
        if revoked {
            assert!(is_rfc3339_utc(&record["revoked_at"]), "{record}");
        }
    }
    get(server, "/v1/contacts", &token_of(&sibling))
        .await
        .expect(200);
    get(server, "/v1/contacts", &api.token).await.expect(200);
    // Revoking again is harmless.
    let again = delete(server, &format!("{tokens}/{}", id_of(&victim)), admin).await;
    assert!(again.status == 204 || again.status == 404, "{}", again.text);

    // G10: a token can only be revoked through its own app.
    let other = server.create_app(admin, "other").await;
    let path = format!("/v1/apps/{other}/tokens/{}", id_of(&sibling));
    delete(server, &path, admin).await.problem(404);
    get(server, "/v1/contacts", &token_of(&sibling))
        .await
        .expect(200);
    // The admin token's own record is no app's token.
    let me = get(server, "/v1/token", admin).await.expect(200);
    let path = format!("{tokens}/{}", me["id"].as_str().unwrap());
    delete(server, &path, admin).await.problem(404);
    get(server, "/v1/token", admin).await.expect(200);
}

#[tokio::test]
async fn revoking_every_token_of_an_app_keeps_the_app_and_spares_tokens_issued_afterwards() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let tokens = format!("/v1/apps/{}/tokens", api.app);
    let paseto = server
        .issue(admin, &api.app, &CONTACT_SCOPES, "paseto")
        .await;
    let jwt = server
        .issue(admin, &api.app, &["contacts:read"], "jwt")
        .await;
    let other_app = server.create_app(admin, "other").await;
    let bystander = server
        .issue(admin, &other_app, &["contacts:read"], "paseto")
        .await;

    // App tokens manage nothing; an unknown app is not found.
    delete(server, &tokens, &token_of(&paseto))
        .await
        .insufficient_scope("apps:delete");
    delete(
        server,
        "/v1/apps/app_01ZZZZZZZZZZZZZZZZZZZZZZZZ/tokens",
        admin,
    )
    .await
    .problem(404);

    delete(server, &tokens, admin).await.expect_no_content();
    for revoked in [&paseto, &jwt] {
        get(server, "/v1/contacts", &token_of(revoked))
            .await
            .invalid_token();
    }
    get(server, "/v1/contacts", &token_of(&bystander))
        .await
        .expect(200);
    // The app stays; a token issued right after works.
    get(server, &format!("/v1/apps/{}", api.app), admin)
        .await
        .expect(200);
    let fresh = server
        .issue(admin, &api.app, &["contacts:read"], "paseto")
        .await;
    get(server, "/v1/contacts", &token_of(&fresh))
        .await
        .expect(200);
    let list = get(server, &tokens, admin).await.expect(200);
    for record in list["data"].as_array().unwrap() {
        let expected = if record["id"] == fresh["id"] {
            "active"
        } else {
            "revoked"
        };
        assert_eq!(record["status"], expected, "{record}");
    }
    // Again: harmless, and it reaches the fresh one.
    delete(server, &tokens, admin).await.expect_no_content();
    get(server, "/v1/contacts", &token_of(&fresh))
        .await
        .invalid_token();
}

/// The record of `token_id`, as the CLI reads it from the database.
fn record_of(home: &Home, app: &str, token_id: &str) -> Value {
    home.run_json(&["tokens", "list", "--app", app])
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["id"] == token_id)
        .expect("the token's record")
        .clone()
}

#[tokio::test]
async fn a_used_token_shows_when_it_was_last_used_after_a_flush_and_its_unused_scopes() {
    let server = Server::start_in(Home::new(), &[("INFORMLY_USAGE_FLUSH", "1s")]).await;
    let admin = server.home.admin_token(None);
    let app = server.create_app(&admin, "crm").await;
    let issued = server
        .issue(&admin, &app, &["contacts:read", "contacts:write"], "paseto")
        .await;
    let (token, id) = (token_of(&issued), id_of(&issued));
    let untouched = server.issue(&admin, &app, &["contacts:read"], "jwt").await;
    assert_eq!(issued["last_used_at"], Value::Null);
    assert_eq!(issued["uses"], 0);
    for _ in 0..3 {
        get(&server, "/v1/contacts", &token).await.expect(200);
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        let record = record_of(&server.home, &app, &id);
        if record["uses"] == 3 || Instant::now() > deadline {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(record["uses"], 3, "{record}");
    assert!(is_rfc3339_utc(&record["last_used_at"]), "{record}");
    assert_eq!(record["used_scopes"], json!(["contacts:read"]));
    assert_eq!(record["unused_scopes"], json!(["contacts:write"]));

    // The API says the same, and lists what has not been used for a while.
    let tokens = format!("/v1/apps/{app}/tokens");
    let listed = get(&server, &tokens, &admin).await.expect(200);
    let api_record = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(api_record["uses"], 3);
    assert_eq!(api_record["unused_scopes"], json!(["contacts:write"]));
    let unused = get(&server, &format!("{tokens}?unused_for=0s"), &admin)
        .await
        .expect(200);
    let ids: Vec<&str> = unused["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id_of(&untouched).as_str()), "{unused}");
    let recent = get(&server, &format!("{tokens}?unused_for=90d"), &admin)
        .await
        .expect(200);
    assert_eq!(recent["data"], json!([]), "nothing is 90 days old");
    get(&server, &format!("{tokens}?unused_for=3mo"), &admin)
        .await
        .problem(422);
    get(&server, &format!("{tokens}?unused=1d"), &admin)
        .await
        .problem(400);
}

#[tokio::test]
async fn sigterm_writes_out_the_uses_counted_since_the_last_flush() {
    let mut server = Server::start_in(Home::new(), &[("INFORMLY_USAGE_FLUSH", "1h")]).await;
    let admin = server.home.admin_token(None);
    let app = server.create_app(&admin, "crm").await;
    let issued = server.issue(&admin, &app, &["contacts:read"], "jwt").await;
    for _ in 0..2 {
        get(&server, "/v1/token", &token_of(&issued))
            .await
            .expect(200);
    }
    assert_eq!(record_of(&server.home, &app, &id_of(&issued))["uses"], 0);
    assert!(server.terminate().success());
    let record = record_of(&server.home, &app, &id_of(&issued));
    assert_eq!(record["uses"], 2, "{record}");
    assert_eq!(record["used_scopes"], json!([]), "/v1/token needs no scope");
}

#[tokio::test]
async fn rolling_a_token_issues_its_successor_and_keeps_the_old_one_for_the_overlap() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let tokens = format!("/v1/apps/{}/tokens", api.app);
    let old = server
        .issue(admin, &api.app, &["contacts:read", "contacts:write"], "jwt")
        .await;
    let roll = |id: &str| format!("{tokens}/{}/roll", id);

    // Bad requests change nothing.
    for (body, field) in [
        (json!({"expires_in": "30d", "overlap": "8d"}), "overlap"),
        (json!({"expires_in": "30d", "overlap": -1}), "overlap"),
        (json!({"expires_in": "30d", "overlap": "1mo"}), "overlap"),
        (json!({"overlap": "1h"}), "expires_in"),
        (
            json!({"expires_in": "30d", "scopes": ["apps:read"]}),
            "scopes",
        ),
    ] {
        let problem = post(server, &roll(&id_of(&old)), admin, &body)
            .await
            .problem(422);
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    post(
        server,
        &roll("tok_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
        admin,
        &json!({"expires_in": "30d"}),
    )
    .await
    .problem(404);
    post(
        server,
        &roll(&id_of(&old)),
        &token_of(&old),
        &json!({"expires_in": "30d"}),
    )
    .await
    .insufficient_scope("apps:write");

    let new = post(
        server,
        &roll(&id_of(&old)),
        admin,
        &json!({"expires_in": "7d", "overlap": "1h", "scopes": ["contacts:read"], "name": "rolled"}),
    )
    .await
    .expect(201);
    assert_eq!(new["replaces"], old["id"]);
    assert_eq!(new["format"], "jwt", "the old token's format");
    assert_eq!(new["scopes"], json!(["contacts:read"]));
    assert_eq!(new["name"], "rolled");
    assert_eq!(new["status"], "active");
    get(server, "/v1/contacts", &token_of(&new))
        .await
        .expect(200);
    get(server, "/v1/contacts", &token_of(&old))
        .await
        .expect(200);
    let list = get(server, &tokens, admin).await.expect(200);
    let old_record = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == old["id"])
        .unwrap()
        .clone();
    assert_eq!(old_record["status"], "rolling");
    assert_eq!(old_record["replaced_by"], new["id"]);
    let revoked_at = OffsetDateTime::parse(old_record["revoked_at"].as_str().unwrap(), &Rfc3339)
        .unwrap()
        .unix_timestamp();
    let in_an_hour = OffsetDateTime::now_utc().unix_timestamp() + 3600;
    assert!((revoked_at - in_an_hour).abs() <= 5, "{old_record}");

    // Rolled already: 409 naming the successor.
    let problem = post(
        server,
        &roll(&id_of(&old)),
        admin,
        &json!({"expires_in": "7d"}),
    )
    .await
    .problem(409);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(new["id"].as_str().unwrap()),
        "{problem}"
    );
    // Revoked: 409 saying so. And a revocation during the overlap is at once.
    delete(server, &format!("{tokens}/{}", id_of(&old)), admin)
        .await
        .expect_no_content();
    get(server, "/v1/contacts", &token_of(&old))
        .await
        .invalid_token();
    let problem = post(
        server,
        &roll(&id_of(&old)),
        admin,
        &json!({"expires_in": "7d"}),
    )
    .await
    .problem(409);
    assert!(
        problem["detail"].as_str().unwrap().contains("rolled"),
        "{problem}"
    );
    let sibling = server
        .issue(admin, &api.app, &["contacts:read"], "paseto")
        .await;
    delete(server, &format!("{tokens}/{}", id_of(&sibling)), admin)
        .await
        .expect_no_content();
    let problem = post(
        server,
        &roll(&id_of(&sibling)),
        admin,
        &json!({"expires_in": "7d"}),
    )
    .await
    .problem(409);
    assert!(
        problem["detail"].as_str().unwrap().contains("is revoked"),
        "{problem}"
    );
}

#[tokio::test]
async fn the_workspace_token_list_shows_every_apps_tokens_expiring_soon_or_of_a_status() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let other_app = server.create_app(admin, "other").await;
    let issue = |app: String, expires_in: &'static str| async move {
        post(
            server,
            &format!("/v1/apps/{app}/tokens"),
            admin,
            &json!({"scopes": ["contacts:read"], "expires_in": expires_in}),
        )
        .await
        .expect(201)
    };
    let soon = issue(api.app.clone(), "3d").await;
    let later = issue(other_app.clone(), "10d").await;
    let far = issue(other_app.clone(), "60d").await;
    let revoked = issue(api.app.clone(), "2d").await;
    delete(
        server,
        &format!("/v1/apps/{}/tokens/{}", api.app, id_of(&revoked)),
        admin,
    )
    .await
    .expect_no_content();

    let ids = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // The fixture's own token expires in an hour.
    let fixture = get(server, "/v1/token", &api.token).await.expect(200);
    let fixture = fixture["id"].as_str().unwrap().to_owned();
    let expiring = get(server, "/v1/tokens?expiring_within=14d", admin)
        .await
        .expect(200);
    assert_eq!(
        ids(&expiring),
        vec![fixture.clone(), id_of(&soon), id_of(&later)],
        "every app, soonest first"
    );
    let within_a_day = get(server, "/v1/tokens?expiring_within=1d&status=active", admin)
        .await
        .expect(200);
    assert_eq!(ids(&within_a_day), vec![fixture]);
    let revoked_list = get(server, "/v1/tokens?status=revoked", admin)
        .await
        .expect(200);
    assert_eq!(ids(&revoked_list), vec![id_of(&revoked)]);
    let all = get(server, "/v1/tokens", admin).await.expect(200);
    assert!(ids(&all).contains(&id_of(&far)));
    let admin_id = get(server, "/v1/token", admin).await.expect(200)["id"].clone();
    assert!(
        !ids(&all).iter().any(|id| *id == admin_id),
        "app tokens only: not the admin token"
    );
    get(server, "/v1/tokens?expiring_within=2mo", admin)
        .await
        .problem(422);
    get(server, "/v1/tokens?status=happy", admin)
        .await
        .problem(422);
    get(server, "/v1/tokens?within=1d", admin)
        .await
        .problem(400);
    get(server, "/v1/tokens", &token_of(&soon))
        .await
        .insufficient_scope("apps:read");
}

#[tokio::test]
async fn token_issuance_refuses_bad_scopes_with_422_naming_the_scope() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let tokens = format!("/v1/apps/{}/tokens", api.app);

    for bad in [
        "contacts:*",
        "apps:read",
        "apps:write",
        "apps:delete",
        "contacts:admin",
        "Contacts:Read",
        "contacts:read-all",
        "contacts:readcontacts:write",
        "contacts",
        "*",
        "admin:keys",
        " contacts:read",
        "",
    ] {
        let body = json!({"scopes": ["contacts:read", bad], "expires_in": "1h"});
        let problem = post(server, &tokens, admin, &body).await.invalid("scopes");
        if !bad.is_empty() {
            assert!(
                messages(&problem).contains(&format!("`{bad}`")),
                "does not name {bad:?}: {problem}"
            );
        }
    }
    post(
        server,
        &tokens,
        admin,
        &json!({"scopes": [], "expires_in": "1h"}),
    )
    .await
    .invalid("scopes");
    post(
        server,
        &tokens,
        admin,
        &json!({"scopes": "contacts:read", "expires_in": "1h"}),
    )
    .await
    .invalid("scopes");
    post(server, &tokens, admin, &json!({"expires_in": "1h"}))
        .await
        .problem(422);
    let list = get(server, &tokens, admin).await.expect(200);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "only the fixture's token: {list}"
    );
}

#[tokio::test]
async fn token_issuance_refuses_bad_expiry_and_format_with_422() {
    let api = Api::start().await;
    let (server, admin) = (&api.server, api.admin.as_str());
    let tokens = format!("/v1/apps/{}/tokens", api.app);
    let in_days = |days: i64| {
        (OffsetDateTime::now_utc() + time::Duration::days(days))
            .format(&Rfc3339)
            .unwrap()
    };

    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "expires_in"),
        (
            json!({"expires_in": "1h", "expires_at": in_days(1)}),
            "expires_in",
        ),
        (json!({"expires_in": "367d"}), "expires_in"),
        (json!({"expires_in": "3650d"}), "expires_in"),
        (json!({"expires_in": 367 * 86_400}), "expires_in"),
        (json!({"expires_in": i64::MAX}), "expires_in"),
        (json!({"expires_in": "30s"}), "expires_in"),
        (json!({"expires_in": 59}), "expires_in"),
        (json!({"expires_in": 0}), "expires_in"),
        (json!({"expires_in": -3600}), "expires_in"),
        (json!({"expires_in": "-1h"}), "expires_in"),
        (json!({"expires_in": "soon"}), "expires_in"),
        (json!({"expires_in": "99999999999999999999"}), "expires_in"),
        (json!({"expires_in": 1.5}), "expires_in"),
        (json!({"expires_in": u64::MAX}), "expires_in"),
        (json!({"expires_at": "2000-01-01T00:00:00Z"}), "expires_at"),
        (json!({"expires_at": in_days(400)}), "expires_at"),
        (json!({"expires_at": in_days(3650)}), "expires_at"),
        (json!({"expires_at": "tomorrow"}), "expires_at"),
        (json!({"expires_at": "2030-01-01"}), "expires_at"),
        (json!({"expires_at": 1_900_000_000}), "expires_at"),
        (json!({"expires_in": "1h", "format": "xml"}), "format"),
        (json!({"expires_in": "1h", "format": "PASETO"}), "format"),
        (json!({"expires_in": "1h", "format": "v4.local"}), "format"),
        (json!({"expires_in": "1h", "format": ""}), "format"),
        (json!({"expires_in": "1h", "name": "n".repeat(101)}), "name"),
        (json!({"expires_in": "1h", "name": "bad\u{0}name"}), "name"),
    ];
    for (mut body, field) in cases {
        body["scopes"] = json!(["contacts:read"]);
        let reply = post(server, &tokens, admin, &body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
        reply.invalid(field);
    }
    // Nothing was issued.
    let list = get(server, &tokens, admin).await.expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");

    // The limits themselves, and expires_at, work.
    for body in [
        json!({"scopes": ["contacts:read"], "expires_in": "366d"}),
        json!({"scopes": ["contacts:read"], "expires_in": 120}),
        json!({"scopes": ["contacts:read"], "expires_at": in_days(30), "format": "jwt"}),
    ] {
        post(server, &tokens, admin, &body).await.expect(201);
    }
}

// ---------------------------------------------------------------------------
// 4. Tenancy (H7–H9)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn another_workspaces_contacts_are_not_found_and_left_untouched() {
    let api = Api::start().await;
    let server = &api.server;
    let acme_token = Acme::create(server)
        .await
        .token(server, &CONTACT_SCOPES, "jwt")
        .await;
    let acme_contact = post(
        server,
        "/v1/contacts",
        &acme_token,
        &json!({"email": "acme@example.com", "first_name": "Acme"}),
    )
    .await
    .expect(201);
    let default_contact = api
        .create_contact(&json!({"email": "default@example.com", "first_name": "Default"}))
        .await;

    // Each workspace reaching for the other's contact, by every route.
    for (owner_token, owner_contact, intruder) in [
        (api.token.as_str(), &default_contact, acme_token.as_str()),
        (acme_token.as_str(), &acme_contact, api.token.as_str()),
    ] {
        let path = format!("/v1/contacts/{}", id_of(owner_contact));
        let problem = get(server, &path, intruder).await.problem(404);
        assert!(
            !problem
                .to_string()
                .contains(owner_contact["email"].as_str().unwrap())
        );
        patch(server, &path, intruder, &json!({"first_name": "Pwned"}))
            .await
            .problem(404);
        patch(
            server,
            &path,
            intruder,
            &json!({"email": "pwned@example.com"}),
        )
        .await
        .problem(404);
        delete(server, &path, intruder).await.problem(404);
        // Lists and the email filter see only the caller's own contacts.
        let email = owner_contact["email"].as_str().unwrap();
        let found = get(server, &format!("/v1/contacts?email={email}"), intruder)
            .await
            .expect(200);
        assert_eq!(found["data"], json!([]), "{found}");
        let all: Vec<Value> = pages(server, intruder, 100).await.concat();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_ne!(all[0]["id"], owner_contact["id"]);
        // The owner still has it, unchanged.
        assert_eq!(
            get(server, &path, owner_token).await.expect(200),
            *owner_contact
        );
    }
}

#[tokio::test]
async fn another_workspaces_apps_and_tokens_are_not_found_and_left_untouched() {
    let api = Api::start().await;
    let server = &api.server;
    let acme = Acme::create(server).await;
    let acme_issued = server
        .issue(&acme.admin, &acme.app, &CONTACT_SCOPES, "jwt")
        .await;
    let default_issued = server
        .issue(&api.admin, &api.app, &["contacts:read"], "jwt")
        .await;

    for (owner, app, issued, intruder, intruder_app) in [
        (
            api.admin.as_str(),
            api.app.as_str(),
            &default_issued,
            acme.admin.as_str(),
            acme.app.as_str(),
        ),
        (
            acme.admin.as_str(),
            acme.app.as_str(),
            &acme_issued,
            api.admin.as_str(),
            api.app.as_str(),
        ),
    ] {
        let path = format!("/v1/apps/{app}");
        let before_app = get(server, &path, owner).await.expect(200);
        let before_tokens = get(server, &format!("{path}/tokens"), owner)
            .await
            .expect(200);
        let token_id = id_of(issued);

        get(server, &path, intruder).await.problem(404);
        patch(
            server,
            &path,
            intruder,
            &json!({"name": "pwned", "description": null}),
        )
        .await
        .problem(404);
        delete(server, &path, intruder).await.problem(404);
        get(server, &format!("{path}/tokens"), intruder)
            .await
            .problem(404);
        post(
            server,
            &format!("{path}/tokens"),
            intruder,
            &json!({"scopes": CONTACT_SCOPES, "expires_in": "1h"}),
        )
        .await
        .problem(404);
        delete(server, &format!("{path}/tokens/{token_id}"), intruder)
            .await
            .problem(404);
        // The intruder's own app with the other workspace's token id.
        delete(
            server,
            &format!("/v1/apps/{intruder_app}/tokens/{token_id}"),
            intruder,
        )
        .await
        .problem(404);
        // The intruder's list shows only its own app.
        let apps = get(server, "/v1/apps", intruder).await.expect(200);
        assert!(!apps.to_string().contains(app), "{apps}");

        // Nothing changed for the owner, and the token still works.
        assert_eq!(get(server, &path, owner).await.expect(200), before_app);
        assert_eq!(
            get(server, &format!("{path}/tokens"), owner)
                .await
                .expect(200),
            before_tokens
        );
        get(server, "/v1/contacts", &token_of(issued))
            .await
            .expect(200);
    }
    // The two workspaces are really distinct.
    let a = get(server, "/v1/token", &api.admin).await.expect(200);
    let b = get(server, "/v1/token", &acme.admin).await.expect(200);
    assert_ne!(a["workspace"], b["workspace"]);
}

#[tokio::test]
async fn a_workspace_in_the_query_string_is_refused() {
    let api = Api::start().await;
    let server = &api.server;
    let acme = Acme::create(server).await;
    let acme_token = acme.token(server, &CONTACT_SCOPES, "paseto").await;
    post(
        server,
        "/v1/contacts",
        &acme_token,
        &json!({"email": "secret@acme.test"}),
    )
    .await
    .expect(201);
    let acme_ws = get(server, "/v1/token", &acme.admin).await.expect(200)["workspace"]
        .as_str()
        .unwrap()
        .to_owned();

    // H9: unknown query parameters are rejected, whatever they claim.
    for query in [
        format!("workspace_id={acme_ws}"),
        format!("workspace={acme_ws}"),
        "workspace=acme".to_owned(),
        format!("limit=10&workspace_id={acme_ws}"),
    ] {
        let reply = get(server, &format!("/v1/contacts?{query}"), &api.token).await;
        reply.problem(400);
        assert!(!reply.text.contains("secret@acme.test"));
    }
    // A body cannot name a workspace either (422, nothing written there).
    post(
        server,
        "/v1/contacts",
        &api.token,
        &json!({"email": "planted@example.com", "workspace_id": acme_ws}),
    )
    .await
    .invalid("workspace_id");
    let acme_contacts: Vec<Value> = pages(server, &acme_token, 100).await.concat();
    assert_eq!(acme_contacts.len(), 1, "{acme_contacts:?}");
    assert!(api.contacts().await.is_empty());
}

// ---------------------------------------------------------------------------
// 5. Listing and pagination (J4–J9)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn bad_list_query_parameters_are_400() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    api.create_contact(&json!({"email": "one@example.com"}))
        .await;

    for query in [
        "limit=1e9",
        "limit=1000000000",
        "limit=1000",
        "limit=101",
        "limit=0",
        "limit=-1",
        "limit=abc",
        "limit=",
        "limit=1.5",
        "limit=99999999999999999999",
        "limit=1&limit=2",
        "offset=9223372036854775808",
        "offset=0",
        "sort=name",
        "sort=name;DROP%20TABLE%20contacts",
        "order=desc",
        "q=%25",
        "page=2",
        "foo=bar",
    ] {
        let reply = get(server, &format!("/v1/contacts?{query}"), token).await;
        assert_eq!(reply.status, 400, "?{query}: {}", reply.text);
        reply.problem(400);
    }
    // The bounds themselves are fine, and the default is 25.
    for query in ["limit=1", "limit=100", ""] {
        let page = get(server, &format!("/v1/contacts?{query}"), token)
            .await
            .expect(200);
        assert_eq!(page["data"].as_array().unwrap().len(), 1, "?{query}");
    }
    assert_eq!(api.contacts().await.len(), 1, "the table is intact");
}

#[tokio::test]
async fn garbage_and_tampered_cursors_are_400() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    for i in 0..3 {
        api.create_contact(&json!({"email": format!("c{i}@example.com")}))
            .await;
    }
    let page = get(server, "/v1/contacts?limit=1", token).await.expect(200);
    let cursor = page["next_cursor"].as_str().expect("a cursor").to_owned();
    // The genuine cursor works.
    get(
        server,
        &format!("/v1/contacts?limit=1&cursor={cursor}"),
        token,
    )
    .await
    .expect(200);

    let mut bad: Vec<String> = [
        "", "garbage", "!!!", "%00", "AAAA", "null", "-1", "Y3RfMDFa", "%FF%FE",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    bad.push("A".repeat(10_000));
    bad.push(URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0xfd]));
    bad.push(URL_SAFE_NO_PAD.encode("' OR 1=1 --"));
    bad.push(format!("{cursor}="));
    bad.push(format!("{cursor}x"));
    // Tampered: one character of the real cursor changed.
    let mut tampered = cursor.clone().into_bytes();
    tampered[0] = if tampered[0] == b'Z' { b'Y' } else { b'Z' };
    bad.push(String::from_utf8(tampered).unwrap());

    for cursor in &bad {
        let reply = get(
            server,
            &format!("/v1/contacts?limit=1&cursor={cursor}"),
            token,
        )
        .await;
        let short: String = cursor.chars().take(40).collect();
        assert_eq!(reply.status, 400, "cursor {short:?}: {}", reply.text);
        reply.problem(400);
    }
}

#[tokio::test]
async fn forged_cursors_naming_a_well_formed_id_are_400() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    for i in 0..3 {
        api.create_contact(&json!({"email": format!("c{i}@example.com")}))
            .await;
    }
    let page = get(server, "/v1/contacts?limit=1", token).await.expect(200);
    let cursor = page["next_cursor"].as_str().expect("a cursor").to_owned();

    // SPEC: "a forged cursor" is 400 (SECURITY J8: sign or validate cursors).
    let mut forged = Vec::new();
    // Tampered inside: one byte of the decoded cursor changed, at the start
    // (inside the id) and at the end, and re-encoded.
    let decoded = URL_SAFE_NO_PAD.decode(&cursor).expect("base64url");
    for at in [5, decoded.len() - 1] {
        let mut tampered = decoded.clone();
        tampered[at] ^= 1;
        forged.push(URL_SAFE_NO_PAD.encode(tampered));
    }
    // Made up: well-formed ids the server never handed out as cursors.
    forged.push(URL_SAFE_NO_PAD.encode(UNKNOWN_CONTACT));
    forged.push(URL_SAFE_NO_PAD.encode("ct_00000000000000000000000000"));
    for cursor in &forged {
        let reply = get(
            server,
            &format!("/v1/contacts?limit=1&cursor={cursor}"),
            token,
        )
        .await;
        assert_eq!(
            reply.status, 400,
            "forged cursor {cursor:?}: {}",
            reply.text
        );
        reply.problem(400);
    }
}

#[tokio::test]
async fn pages_return_every_contact_exactly_once_in_id_order() {
    let api = Api::start().await;
    let mut ids = Vec::new();
    for i in 0..9 {
        let contact = api
            .create_contact(&json!({"email": format!("page{i}@example.com")}))
            .await;
        ids.push(id_of(&contact));
    }
    ids.sort();

    for (limit, sizes) in [
        (2, vec![2, 2, 2, 2, 1]),
        (3, vec![3, 3, 3]),
        (9, vec![9]),
        (100, vec![9]),
    ] {
        let pages = pages(&api.server, &api.token, limit).await;
        let got_sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(got_sizes, sizes, "limit={limit}");
        let got: Vec<String> = pages.concat().iter().map(id_of).collect();
        assert_eq!(got, ids, "limit={limit}: every contact once, in id order");
    }
    // An empty list has no cursor.
    let acme = Acme::create(&api.server)
        .await
        .token(&api.server, &["contacts:read"], "paseto")
        .await;
    let empty = get(&api.server, "/v1/contacts?limit=2", &acme)
        .await
        .expect(200);
    assert_eq!(empty, json!({"data": [], "next_cursor": null}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paging_while_contacts_are_inserted_never_skips_or_repeats_a_contact() {
    let api = std::sync::Arc::new(Api::start().await);

    // 60 contacts before paging starts, created 6 at a time.
    let mut originals = HashSet::new();
    for batch in 0..10 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..6 {
            let api = api.clone();
            set.spawn(async move {
                let email = format!("old{}@example.com", batch * 6 + i);
                id_of(&api.create_contact(&json!({"email": email})).await)
            });
        }
        while let Some(id) = set.join_next().await {
            originals.insert(id.expect("create"));
        }
    }
    assert_eq!(originals.len(), 60);

    // Page with limit 7 while another task inserts 60 more.
    let inserter = {
        let api = api.clone();
        tokio::spawn(async move {
            let mut added = HashSet::new();
            for i in 0..60 {
                let email = format!("new{i}@example.com");
                added.insert(id_of(&api.create_contact(&json!({"email": email})).await));
            }
            added
        })
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut page_count = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/contacts?limit=7&cursor={cursor}"),
            None => "/v1/contacts?limit=7".to_owned(),
        };
        let page = get(&api.server, &path, &api.token).await.expect(200);
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 7);
        seen.extend(data.iter().map(id_of));
        page_count += 1;
        assert!(page_count < 100, "paging does not end");
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let added = inserter.await.expect("inserter");
    assert_eq!(added.len(), 60);

    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an id repeated across pages");
    let mut ordered = seen.clone();
    ordered.sort();
    assert_eq!(ordered, seen, "pages are in id order");
    for id in &originals {
        assert!(
            seen.contains(id),
            "contact {id} (existing before paging) skipped"
        );
    }
    for id in &seen {
        assert!(
            originals.contains(id) || added.contains(id),
            "an id from nowhere: {id}"
        );
    }
    // Afterwards every contact is listed exactly once.
    let all: Vec<String> = api.contacts().await.iter().map(id_of).collect();
    assert_eq!(all.len(), 120);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 120);
}

#[tokio::test]
async fn the_email_filter_is_exact_and_case_insensitive() {
    let api = Api::start().await;
    let (server, token) = (&api.server, api.token.as_str());
    let target = api
        .create_contact(&json!({"email": "Mixed.Case@Example.com"}))
        .await;
    for email in [
        "mixed.case@example.com.evil",
        "xmixed.case@example.com",
        "mixed.case@example.co",
        "other@example.com",
    ] {
        api.create_contact(&json!({"email": email})).await;
    }

    for query in [
        "Mixed.Case@Example.com",
        "mixed.case@example.com",
        "MIXED.CASE%40EXAMPLE.COM",
    ] {
        let found = get(server, &format!("/v1/contacts?email={query}"), token)
            .await
            .expect(200);
        assert_eq!(found["data"], json!([target]), "email={query}");
        assert!(found["next_cursor"].is_null());
    }
    for query in [
        "mixed",
        "mixed.case",
        "Example.com",
        "%25",
        "_%25",
        "mixed.case@example.c_m",
        "",
    ] {
        let found = get(server, &format!("/v1/contacts?email={query}"), token)
            .await
            .expect(200);
        assert_eq!(found["data"], json!([]), "email={query}");
    }
    // The filter combines with limit and cursor.
    let found = get(
        server,
        "/v1/contacts?limit=1&email=OTHER@example.com",
        token,
    )
    .await
    .expect(200);
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert!(found["next_cursor"].is_null());
}

// ---------------------------------------------------------------------------
// 6. OpenAPI
// ---------------------------------------------------------------------------

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A concrete path for a documented template.
fn concrete(template: &str) -> String {
    template
        .replace("{app}", UNKNOWN_APP)
        .replace("{token}", UNKNOWN_TOKEN)
        .replace("{id}", UNKNOWN_CONTACT)
        .replace("{endpoint}", "we_01ZZZZZZZZZZZZZZZZZZZZZZZZ")
        .replace("{message}", "msg_01ZZZZZZZZZZZZZZZZZZZZZZZZ")
}

#[tokio::test]
async fn the_openapi_document_is_3_1_with_a_bearer_scheme_and_every_route() {
    let api = Api::start().await;
    let server = &api.server;
    let reply = call(server, Method::GET, "/openapi.json", None, None).await;
    let doc = reply.expect(200);

    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi: {}",
        doc["openapi"]
    );
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert!(
        bearer["scheme"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer")),
        "{bearer}"
    );

    let expected: [(&str, &[&str]); 23] = [
        ("/health", &["get"]),
        ("/ready", &["get"]),
        ("/.well-known/jwks.json", &["get"]),
        ("/.well-known/paserk.json", &["get"]),
        ("/v1/revocations", &["get"]),
        ("/v1/token", &["get"]),
        ("/v1/apps", &["get", "post"]),
        ("/v1/apps/{app}", &["get", "patch", "delete"]),
        ("/v1/apps/{app}/tokens", &["delete", "get", "post"]),
        ("/v1/apps/{app}/tokens/{token_id}", &["delete"]),
        ("/v1/apps/{app}/tokens/{token_id}/roll", &["post"]),
        ("/v1/tokens", &["get"]),
        ("/v1/audit-events", &["get"]),
        ("/v1/webhook-endpoints", &["get", "post"]),
        (
            "/v1/webhook-endpoints/{endpoint}",
            &["delete", "get", "patch"],
        ),
        ("/v1/webhook-endpoints/{endpoint}/rotate-secret", &["post"]),
        ("/v1/webhook-endpoints/{endpoint}/test", &["post"]),
        ("/v1/webhook-endpoints/{endpoint}/deliveries", &["get"]),
        ("/v1/webhook-endpoints/{endpoint}/messages", &["get"]),
        (
            "/v1/webhook-endpoints/{endpoint}/messages/{message}/resend",
            &["post"],
        ),
        ("/v1/contacts", &["get", "post"]),
        ("/v1/contacts/batch", &["post"]),
        ("/v1/contacts/{id}", &["get", "patch", "delete"]),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        let documented: BTreeSet<&str> = METHODS
            .iter()
            .copied()
            .filter(|m| item.get(*m).is_some())
            .collect();
        assert_eq!(
            documented,
            methods.iter().copied().collect::<BTreeSet<_>>(),
            "methods of {path}"
        );
    }

    // Protected operations declare the bearer scheme and the scope the
    // server really demands.
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let public = [
                "/health",
                "/ready",
                "/.well-known/jwks.json",
                "/.well-known/paserk.json",
                "/v1/revocations",
            ];
            if public.contains(&path.as_str()) {
                continue;
            }
            let security = &operation["security"];
            let scopes = security[0]["bearer"].as_array().unwrap_or_else(|| {
                panic!("{method} {path} documents no bearer security: {operation}")
            });
            let Some(scope) = scopes.first().and_then(Value::as_str) else {
                continue; // /v1/token: any valid token.
            };
            // A token of the other kind lacks it.
            let admin_scope = ["apps:", "audit:", "webhooks:"];
            let token = if admin_scope.iter().any(|prefix| scope.starts_with(prefix)) {
                api.token.as_str()
            } else {
                api.admin.as_str()
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == Method::POST || method == Method::PATCH).then(|| json!({}));
            call(server, method, &concrete(path), Some(token), body.as_ref())
                .await
                .insufficient_scope(scope);
        }
    }
}

#[tokio::test]
async fn every_documented_route_exists_on_the_real_server() {
    let server = Server::start().await;
    let doc = call(&server, Method::GET, "/openapi.json", None, None)
        .await
        .expect(200);
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 11, "{paths:?}");
    for (template, item) in paths {
        let path = concrete(template);
        for method in METHODS {
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (verb == Method::POST || verb == Method::PATCH).then(|| json!({}));
            let reply = call(&server, verb.clone(), &path, None, body.as_ref()).await;
            match item.get(method) {
                Some(operation) => {
                    assert!(
                        reply.status != 404 && reply.status != 405,
                        "{method} {template} is documented but answers {}",
                        reply.status
                    );
                    // Without a token: 401 where the document asks for one,
                    // 200 where it does not.
                    let expected = if operation.get("security").is_some() {
                        401
                    } else {
                        200
                    };
                    assert_eq!(
                        reply.status, expected,
                        "{method} {template}: {}",
                        reply.text
                    );
                }
                None => {
                    assert_eq!(
                        reply.status, 405,
                        "{method} {template} is not documented but answers {}",
                        reply.status
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 7. System routes and public keys
// ---------------------------------------------------------------------------

#[tokio::test]
async fn health_and_ready_answer_200_without_a_token() {
    let server = Server::start().await;
    let health = call(&server, Method::GET, "/health", None, None).await;
    assert_eq!(health.expect(200), json!({"status": "ok"}));
    let ready = call(&server, Method::GET, "/ready", None, None).await;
    let ready = ready.expect(200);
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["database"], json!({"ok": true}), "{ready}");
    assert_eq!(ready["denylist"]["ok"], true, "{ready}");
    assert_eq!(ready["denylist"]["entries"], 0, "{ready}");
    assert_eq!(ready["denylist"]["staleness_bound_seconds"], 300, "{ready}");
    assert!(
        ready["denylist"]["age_seconds"]
            .as_i64()
            .is_some_and(|age| (0..=5).contains(&age)),
        "the denylist was refreshed just now: {ready}"
    );
    assert_eq!(
        ready["keys"],
        json!({"ok": true, "loaded": 2, "active": ["paseto", "jwt"]}),
        "{ready}"
    );
    assert_eq!(
        ready["outbox"],
        json!({"ok": true, "depth": 0, "oldest_age_seconds": null}),
        "{ready}"
    );
    // A token, even a bad one, does not matter there.
    let health = call(&server, Method::GET, "/health", Some("garbage"), None).await;
    health.expect(200);
}

#[tokio::test]
async fn the_key_documents_have_the_documented_shapes() {
    let server = Server::start().await;

    let reply = call(&server, Method::GET, "/.well-known/jwks.json", None, None).await;
    let jwks = reply.expect(200);
    let keys = jwks["keys"].as_array().expect("keys");
    assert!(!keys.is_empty(), "{jwks}");
    let mut kids = HashSet::new();
    for key in keys {
        assert_eq!(key["kty"], "OKP", "{key}");
        assert_eq!(key["crv"], "Ed25519", "{key}");
        assert_eq!(key["alg"], "EdDSA", "{key}");
        assert_eq!(key["use"], "sig", "{key}");
        let kid = key["kid"].as_str().expect("kid");
        assert!(!kid.is_empty() && kids.insert(kid.to_owned()), "{key}");
        let x = URL_SAFE_NO_PAD
            .decode(key["x"].as_str().expect("x"))
            .expect("x is base64url");
        assert_eq!(x.len(), 32, "{key}");
        assert!(key.get("d").is_none(), "a private key is published: {key}");
    }

    let reply = call(&server, Method::GET, "/.well-known/paserk.json", None, None).await;
    let paserk = reply.expect(200);
    let keys = paserk["keys"].as_array().expect("keys");
    assert!(!keys.is_empty(), "{paserk}");
    for key in keys {
        let object = key.as_object().expect("object");
        assert_eq!(
            object.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            BTreeSet::from(["kid", "paserk", "status"]),
            "{key}"
        );
        assert!(key["kid"].as_str().unwrap().starts_with("k4.pid."), "{key}");
        assert!(
            key["paserk"].as_str().unwrap().starts_with("k4.public."),
            "{key}"
        );
        assert!(
            ["pending", "active", "retiring"].contains(&key["status"].as_str().unwrap()),
            "{key}"
        );
    }
    assert!(
        keys.iter().any(|k| k["status"] == "active"),
        "no active PASETO key: {paserk}"
    );
    for text in [jwks.to_string(), paserk.to_string()] {
        assert!(!text.contains("secret"), "secret material published");
    }
}

#[tokio::test]
async fn issued_tokens_verify_offline_with_the_published_key_documents() {
    let api = Api::start().await;
    let server = &api.server;
    let dir = server.home.path();
    let jwks = call(server, Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .expect(200);
    let paserk = call(server, Method::GET, "/.well-known/paserk.json", None, None)
        .await
        .expect(200);
    let jwks_file = dir.join("jwks.json");
    let paserk_file = dir.join("paserk.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    std::fs::write(&paserk_file, paserk.to_string()).unwrap();
    // The verifier sees no private keys at all: only the documents.
    let empty_keys = dir.join("no-keys");
    std::fs::create_dir(&empty_keys).unwrap();
    std::fs::set_permissions(
        &empty_keys,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();

    let verify = |token: &str, flag: &str, file: &std::path::Path| {
        server
            .home
            .cli()
            .env("INFORMLY_KEYS_DIR", &empty_keys)
            .args(["--json", "verify", token, flag])
            .arg(file)
            .output()
            .expect("run informly verify")
    };

    let paseto = server
        .issue(&api.admin, &api.app, &CONTACT_SCOPES, "paseto")
        .await;
    let jwt = server
        .issue(&api.admin, &api.app, &["contacts:read"], "jwt")
        .await;
    let workspace = get(server, "/v1/token", &api.admin).await.expect(200)["workspace"].clone();
    for (issued, flag, file, doc) in [
        (&paseto, "--paserk", &paserk_file, &paserk),
        (&jwt, "--jwks", &jwks_file, &jwks),
    ] {
        // The record's kid is one the document publishes.
        assert!(
            doc["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == issued["kid"]),
            "kid {} not published: {doc}",
            issued["kid"]
        );
        let output = verify(&token_of(issued), flag, file);
        assert!(
            output.status.success(),
            "verify {flag} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let claims: Value = serde_json::from_slice(&output.stdout).expect("verify --json");
        assert_eq!(claims["valid"], true, "{claims}");
        assert_eq!(claims["token_id"], issued["id"], "{claims}");
        assert_eq!(claims["format"], issued["format"], "{claims}");
        assert_eq!(claims["kid"], issued["kid"], "{claims}");
        assert_eq!(claims["subject"], api.app.as_str(), "{claims}");
        assert_eq!(claims["workspace"], workspace, "{claims}");
        assert_eq!(
            sorted(&claims["scopes"]),
            sorted(&issued["scopes"]),
            "{claims}"
        );
        assert_eq!(claims["expires_at"], issued["expires_at"], "{claims}");
    }
    // Each format verifies only with its own document.
    for (issued, flag, file) in [
        (&paseto, "--jwks", &jwks_file),
        (&jwt, "--paserk", &paserk_file),
    ] {
        let output = verify(&token_of(issued), flag, file);
        assert!(
            !output.status.success(),
            "{flag} accepted a {} token",
            issued["format"]
        );
    }
    // A tampered token does not verify.
    let mut tampered = token_of(&paseto);
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(!verify(&tampered, "--paserk", &paserk_file).status.success());
}

/// 503: a data route that cannot get at the database within the request
/// timeout answers 503 problem+json, and works again once the database is free.
#[tokio::test]
async fn a_request_blocked_on_a_locked_database_times_out_with_503_and_recovers() {
    use sqlx::Connection as _;

    let home = common::Home::new();
    let server = Server::start_in(home.clone(), &[("INFORMLY_REQUEST_TIMEOUT", "1s")]).await;
    let admin = home.admin_token(None);
    let app = server.create_app(&admin, "main").await;
    let token = token_of(&server.issue(&admin, &app, &CONTACT_SCOPES, "paseto").await);

    // Another process holds the database's write lock.
    let mut locker = sqlx::sqlite::SqliteConnection::connect(&home.database_url())
        .await
        .expect("connect");
    sqlx::query("begin exclusive")
        .execute(&mut locker)
        .await
        .expect("lock");
    let response = server
        .post(
            "/v1/contacts",
            &token,
            &json!({"email": "locked@example.com"}),
        )
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["status"], 503);

    sqlx::query("rollback")
        .execute(&mut locker)
        .await
        .expect("unlock");
    let response = server
        .post(
            "/v1/contacts",
            &token,
            &json!({"email": "free@example.com"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    // The request that timed out wrote nothing.
    let list = get(&server, "/v1/contacts", &token).await.expect(200);
    let emails: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|c| c["email"].as_str())
        .collect();
    assert_eq!(emails, ["free@example.com"]);
}

/// J3: request bodies are never decompressed, so a compression bomb costs
/// nothing: a gzip body is just bytes that are not JSON (400), and nothing is
/// written.
#[tokio::test]
async fn a_gzip_encoded_body_is_not_decompressed_and_writes_nothing() {
    // The real server: the body goes over TCP as sent.
    let api = Api::served().await;
    let gzip = hex_bytes(
        "1f8b0800000000000203ab564acd4dcccc51b252aaca2c28484d7148ad48cc2dc849d54bcecf55aa0500459315241e000000",
    );
    let head = format!(
        "POST /v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        api.token,
        gzip.len()
    );
    let reply = raw_exchange(&api.server, head, vec![gzip]).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let list = get(&api.server, "/v1/contacts", &api.token)
        .await
        .expect(200);
    assert_eq!(list["data"], json!([]));
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

informly_postgres_twins! {
    tests: [
        the_workspace_token_list_shows_every_apps_tokens_expiring_soon_or_of_a_status,
        rolling_a_token_issues_its_successor_and_keeps_the_old_one_for_the_overlap,
        a_used_token_shows_when_it_was_last_used_after_a_flush_and_its_unused_scopes,
        sigterm_writes_out_the_uses_counted_since_the_last_flush,
        revoking_every_token_of_an_app_keeps_the_app_and_spares_tokens_issued_afterwards,
        the_openapi_document_declares_problem_json_errors_on_every_protected_route,
        a_newcomer_goes_from_an_admin_token_to_an_app_tokens_and_contacts,
        requests_without_a_usable_token_get_401_with_the_bearer_challenge,
        malformed_json_bodies_are_400,
        deeply_nested_json_is_rejected_without_crashing_the_server,
        bodies_without_a_json_content_type_are_415,
        bodies_over_one_mebibyte_are_413_with_or_without_a_content_length,
        unknown_duplicate_and_server_owned_fields_are_422_and_write_nothing,
        duplicate_keys_inside_attributes_are_422_not_silently_merged,
        a_missing_required_field_is_named_in_the_422,
        invalid_contact_fields_are_422_naming_each_field,
        patching_a_contact_with_invalid_fields_is_422_and_changes_nothing,
        text_that_looks_hostile_is_stored_and_returned_byte_identical,
        duplicate_emails_conflict_case_insensitively_within_one_workspace_only,
        a_batch_answers_each_contact_in_order_and_creates_only_the_good_ones,
        a_batch_must_hold_one_to_a_thousand_contacts_and_needs_contacts_write,
        a_batch_in_another_workspace_does_not_conflict_with_this_ones_contacts,
        duplicate_app_names_conflict_with_409,
        malformed_ids_in_paths_are_404,
        ids_that_are_not_utf8_once_decoded_are_404_problem_documents,
        unknown_routes_are_404_and_unanswered_methods_are_405,
        modules_not_served_yet_answer_501_once_authenticated,
        tokens_without_the_routes_scope_get_403_insufficient_scope,
        apps_can_be_renamed_and_their_description_cleared,
        patching_an_app_name_to_null_is_422_and_changes_nothing,
        deleting_an_app_rejects_its_tokens_on_the_next_request,
        revoking_a_token_rejects_it_on_the_next_request_and_nothing_else,
        token_issuance_refuses_bad_scopes_with_422_naming_the_scope,
        token_issuance_refuses_bad_expiry_and_format_with_422,
        another_workspaces_contacts_are_not_found_and_left_untouched,
        another_workspaces_apps_and_tokens_are_not_found_and_left_untouched,
        a_workspace_in_the_query_string_is_refused,
        bad_list_query_parameters_are_400,
        garbage_and_tampered_cursors_are_400,
        forged_cursors_naming_a_well_formed_id_are_400,
        pages_return_every_contact_exactly_once_in_id_order,
        paging_while_contacts_are_inserted_never_skips_or_repeats_a_contact,
        the_email_filter_is_exact_and_case_insensitive,
        the_openapi_document_is_3_1_with_a_bearer_scheme_and_every_route,
        every_documented_route_exists_on_the_real_server,
        health_and_ready_answer_200_without_a_token,
        the_key_documents_have_the_documented_shapes,
        issued_tokens_verify_offline_with_the_published_key_documents,
        a_gzip_encoded_body_is_not_decompressed_and_writes_nothing,
    ],
    sqlite_only: [
        a_request_blocked_on_a_locked_database_times_out_with_503_and_recovers: "locks the SQLite file; PostgreSQL faults are tested through a TCP proxy in tests/postgres.rs",
    ],
}

/// The error answers are documented where they can happen, as
/// `application/problem+json` (what the server sends), not `application/json`.
#[tokio::test]
async fn the_openapi_document_declares_problem_json_errors_on_every_protected_route() {
    let server = Server::start().await;
    let doc: Value = server.public_json("/openapi.json").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if operation.get("security").is_none() {
                continue;
            }
            let responses = operation["responses"].as_object().expect("responses");
            let mut codes = vec!["401", "403"];
            if operation.get("requestBody").is_some() {
                codes.extend(["413", "415", "422"]);
            }
            if path.contains('{') {
                codes.push("404");
            }
            for code in codes {
                let content = &responses
                    .get(code)
                    .unwrap_or_else(|| panic!("{method} {path}: no {code}"))["content"];
                assert!(
                    content.get("application/problem+json").is_some()
                        && content.get("application/json").is_none(),
                    "{method} {path} {code}: {content}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} protected operations");
}
