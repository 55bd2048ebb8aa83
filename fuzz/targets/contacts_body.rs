//! `contacts_body`: the Contacts request bodies through the real router,
//! in-process over SQLite.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use informly::token::Format;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

use super::{NOW, Seeds, is_ulid_id, lossy, object};

/// The Contacts request bodies through the real router: the input is the
/// body of `POST /v1/contacts` and of `PATCH /v1/contacts/{id}` (an existing
/// contact), sent with a valid token of every contacts scope. Asserts: never
/// a 5xx, only the statuses each route documents, problem+json on every
/// error; what a 201/200 returns is what was sent; and nothing lost, nothing
/// left (SECURITY.md §9 row I): after each input the workspace holds exactly
/// the one contact, unchanged.
pub fn contacts_body(data: &[u8]) {
    let api = Api::get();

    // POST: a new contact, or a 4xx; a created contact is deleted again.
    let created = api.send(Method::POST, "/v1/contacts", data.to_vec());
    created.assert_status("POST", data, &[201, 400, 409, 413, 422]);
    match created.status.as_u16() {
        201 => {
            let sent = body_object(data).expect("a 201 came from a JSON object");
            let contact = created.json();
            let id = contact["id"].as_str().expect("an id");
            assert!(is_ulid_id(id, "ct_"), "{contact}");
            let location = format!("/v1/contacts/{id}");
            assert_eq!(created.headers[header::LOCATION], location.as_str());
            let mut expected = json!({
                "id": id,
                "first_name": null, "last_name": null, "phone": null, "company": null,
                "tags": [], "attributes": {},
                "created_at": api.contact["created_at"],
                "updated_at": api.contact["updated_at"],
            });
            for (name, value) in sent {
                expected[&name] = as_stored(&name, value);
            }
            assert_eq!(contact, expected, "created from {:?}", lossy(data));
            assert_ne!(
                lowercase_email(&contact),
                lowercase_email(&api.contact),
                "two contacts with one email"
            );
            let deleted = api.send(Method::DELETE, &location, Vec::new());
            assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        }
        409 => {
            let sent = Value::Object(body_object(data).expect("JSON").into_iter().collect());
            assert_eq!(
                lowercase_email(&sent),
                lowercase_email(&api.contact),
                "409 without a duplicate email: {:?}",
                lossy(data)
            );
        }
        _ => {}
    }

    // PATCH the existing contact: only the fields sent change, `null` clears.
    let patched = api.send(Method::PATCH, &api.path, data.to_vec());
    patched.assert_status("PATCH", data, &[200, 400, 413, 422]);
    if patched.status == StatusCode::OK {
        let mut expected = api.contact.clone();
        for (name, value) in body_object(data).expect("a 200 came from a JSON object") {
            expected[&name] = as_stored(&name, value);
        }
        assert_eq!(patched.json(), expected, "patched with {:?}", lossy(data));
        let restored = api.send(Method::PATCH, &api.path, api.restore.clone());
        assert_eq!(restored.status, StatusCode::OK);
    }

    // Nothing lost, nothing left.
    let list = api.send(Method::GET, "/v1/contacts", Vec::new());
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json(),
        json!({ "data": [api.contact], "next_cursor": null }),
        "after {:?}",
        lossy(data)
    );
}

/// A request body as the server reads it: a JSON object after any JSON
/// whitespace (unlike a token's claims, which must start with `{`).
fn body_object(data: &[u8]) -> Option<Vec<(String, Value)>> {
    let start = data
        .iter()
        .position(|b| !b" \t\n\r".contains(b))
        .unwrap_or(data.len());
    object(&data[start..], &[])
}

/// A field as the API shows it once stored: `null` tags and attributes are
/// empty ones.
fn as_stored(name: &str, value: Value) -> Value {
    match (name, value) {
        ("tags", Value::Null) => json!([]),
        ("attributes", Value::Null) => json!({}),
        (_, value) => value,
    }
}

fn lowercase_email(contact: &Value) -> Option<String> {
    contact["email"].as_str().map(str::to_lowercase)
}

/// The server in-process: a SQLite store in a temporary directory (on tmpfs
/// where there is one), the real router, and a token issued once. Built on
/// first use and kept for the life of the process.
struct Api {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    authorization: String,
    /// The one contact of the workspace, as the API shows it.
    contact: Value,
    /// Its path, and the body that puts every field back.
    path: String,
    restore: Vec<u8>,
    home: PathBuf,
}

static API: OnceLock<Api> = OnceLock::new();

/// The body of the one contact.
const CONTACT: &str = r#"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace",
    "phone":"+44 20 7946 0000","company":"Analytical Engines","tags":["vip","engine"],
    "attributes":{"plan":"pro","seats":3,"trial":false,"ref":null}}"#;

/// A response, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The status is one the route documents (never a 5xx), and an error is
    /// problem+json saying the same status.
    fn assert_status(&self, route: &str, data: &[u8], allowed: &[u16]) {
        let status = self.status.as_u16();
        assert!(
            allowed.contains(&status),
            "{route} answered {status} {:?} to {:?}",
            String::from_utf8_lossy(&self.body),
            lossy(data)
        );
        let content_type = self.headers.get(header::CONTENT_TYPE);
        if self.status.is_success() {
            assert_eq!(
                content_type.map(|v| v.as_bytes()),
                Some(&b"application/json"[..])
            );
        } else {
            assert_eq!(
                content_type.map(|v| v.as_bytes()),
                Some(&b"application/problem+json"[..]),
                "{route} {status}"
            );
            assert_eq!(self.json()["status"], status, "{route} {status}");
        }
    }
}

/// Removes the homes left by earlier processes that died without running
/// their exit handler (a crash, or libFuzzer's crash minimisation): those
/// named `informly-fuzz-<pid>-…` whose process is gone.
fn remove_stale_homes(parent: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("informly-fuzz-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Api {
    fn get() -> &'static Api {
        API.get_or_init(Api::start)
    }

    fn start() -> Api {
        use informly::clock::{Clock, ManualClock};
        use informly::server::Server;
        use informly::service::{Actor, IssueRequest};
        use informly::token::Expiry;

        let shm = std::path::Path::new("/dev/shm");
        let parent = match shm.is_dir() {
            true => shm.to_owned(),
            false => std::env::temp_dir(),
        };
        remove_stale_homes(&parent);
        let home = tempfile::Builder::new()
            .prefix(&format!("informly-fuzz-{}-", std::process::id()))
            .tempdir_in(&parent)
            .expect("a temporary directory")
            .keep();
        // Statics are never dropped: remove the directory at exit instead.
        extern "C" fn remove_home() {
            if let Some(api) = API.get() {
                let _ = std::fs::remove_dir_all(&api.home);
            }
        }
        // SAFETY: registers a plain function taking and returning nothing.
        unsafe { libc::atexit(remove_home) };
        let keys_dir = home.join("keys");
        std::fs::create_dir(&keys_dir).expect("keys dir");
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(&keys_dir, private).expect("chmod 700");

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (router, authorization) = runtime.block_on(async {
            let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(NOW));
            let url = format!("sqlite://{}", home.join("informly.db").display());
            let keys = keys_dir.display().to_string();
            let flags = [
                "--database-url",
                &url,
                "--keys-dir",
                &keys,
                "--token-cache",
                "16",
            ];
            let server = Server::from_flags(flags, clock).await.expect("server");
            let service = server.state.service();
            let workspace = service.ensure_default_workspace().await.expect("workspace");
            let actor = Actor::cli(workspace.id);
            let app = service.create_app(&actor, "fuzz", None).await.expect("app");
            let issued = service
                .issue_token(
                    &actor,
                    &app.id,
                    IssueRequest {
                        name: None,
                        scopes: vec![
                            "contacts:read".into(),
                            "contacts:write".into(),
                            "contacts:delete".into(),
                        ],
                        expiry: Expiry::In(3600),
                        format: Format::Paseto,
                    },
                )
                .await
                .expect("token");
            let router = server.router();
            (router, format!("Bearer {}", issued.token.as_str()))
        });
        let mut api = Api {
            runtime,
            router,
            authorization,
            contact: Value::Null,
            path: String::new(),
            restore: Vec::new(),
            home,
        };
        let created = api.send(Method::POST, "/v1/contacts", CONTACT.into());
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        api.contact = created.json();
        api.path = format!("/v1/contacts/{}", api.contact["id"].as_str().expect("id"));
        let fields: Map<String, Value> = serde_json::from_str(CONTACT).expect("JSON");
        api.restore = serde_json::to_vec(&fields).expect("JSON");
        api
    }

    fn send(&self, method: Method, uri: &str, body: Vec<u8>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, &self.authorization)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request");
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await;
            let response = response.unwrap_or_else(|e| match e {});
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
            Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        })
    }
}

/// The seeds of `contacts_body`: contact bodies.
pub(super) fn seeds(seeds: &mut Seeds) {
    for (name, body) in [
        ("full", CONTACT.replace("ada@", "grace@")),
        ("minimal", r#"{"email":"a@b.co"}"#.to_owned()),
        (
            "patch-clear",
            r#"{"first_name":null,"tags":null,"attributes":null}"#.to_owned(),
        ),
        ("email-null", r#"{"email":null}"#.to_owned()),
        (
            "duplicate-email",
            r#"{"email":"ADA@example.com"}"#.to_owned(),
        ),
        (
            "unknown-field",
            r#"{"email":"a@b.co","workspace_id":"ws_x"}"#.to_owned(),
        ),
        (
            "duplicate-key",
            r#"{"email":"a@b.co","email":"c@d.co"}"#.to_owned(),
        ),
        (
            "nested-attribute",
            r#"{"email":"a@b.co","attributes":{"a":{"b":1}}}"#.to_owned(),
        ),
        (
            "duplicate-attribute",
            r#"{"email":"a@b.co","attributes":{"a":1,"a":2}}"#.to_owned(),
        ),
        (
            "nul",
            r#"{"email":"a@b.co","first_name":"a\u0000b"}"#.to_owned(),
        ),
        (
            "unicode",
            "{\"email\":\"a@b.co\",\"company\":\"\u{202e}Ünïcödé 🦀\"}".to_owned(),
        ),
        ("tags", r#"{"email":"a@b.co","tags":["", "x"]}"#.to_owned()),
        ("not-json", "{\"email\":".to_owned()),
        ("deep", format!("{}{}", "[".repeat(200), "]".repeat(200))),
        ("surrogate", r#"{"email":"\ud800@b.co"}"#.to_owned()),
        (
            "numbers",
            r#"{"email":"a@b.co","attributes":{"n":1e400}}"#.to_owned(),
        ),
    ] {
        seeds.push(("contacts_body", name.to_owned(), body.into_bytes()));
    }
}
