//! Shared helpers for the end-to-end tests: the real `informly` binary, serving
//! on a random port over a real SQLite file in a temporary directory.
#![allow(dead_code)]

pub mod forge;
pub mod raw_http;
pub mod transport;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

/// The database backend the tests of this thread run on: SQLite unless a
/// PostgreSQL twin (see [`informly_postgres_twins!`]) switched it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Sqlite) };
}

pub fn backend() -> Backend {
    BACKEND.with(|b| b.get())
}

/// Runs a test on PostgreSQL: every [`Home`] it makes gets a fresh database
/// of its own on the server `INFORMLY_TEST_POSTGRES_URL` names, dropped
/// afterwards.
pub fn on_postgres(test: fn()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BACKEND.with(|b| b.set(Backend::Sqlite));
        }
    }
    assert!(
        postgres_admin_url().is_some(),
        "INFORMLY_TEST_POSTGRES_URL is not set at run time"
    );
    BACKEND.with(|b| b.set(Backend::Postgres));
    let _reset = Reset;
    test();
}

fn postgres_admin_url() -> Option<String> {
    std::env::var("INFORMLY_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Declares a PostgreSQL twin of each named test, in a module `on_postgres`:
/// the same test body, run with [`Backend::Postgres`]. Without
/// `INFORMLY_TEST_POSTGRES_URL` at build time the twins are ignored, and say
/// why. A companion test checks that every test of the file has its twin, or
/// is listed as SQLite-only with a reason.
#[macro_export]
macro_rules! informly_postgres_twins {
    (tests: [$($name:ident),* $(,)?], sqlite_only: [$($only:ident: $why:literal),* $(,)?] $(,)?) => {
        mod on_postgres {
            $(
                #[test]
                #[cfg_attr(
                    not(postgres_tests),
                    ignore = "PostgreSQL: set INFORMLY_TEST_POSTGRES_URL to run it"
                )]
                fn $name() {
                    $crate::common::on_postgres(super::$name)
                }
            )*
        }

        #[test]
        fn every_test_of_this_file_also_runs_on_postgres_or_says_why_not() {
            let source = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", file!()));
            let twinned = [$(stringify!($name)),*];
            let sqlite_only = [$(stringify!($only)),*];
            for name in $crate::common::test_names(source) {
                if name == "every_test_of_this_file_also_runs_on_postgres_or_says_why_not" {
                    continue;
                }
                assert!(
                    twinned.contains(&name.as_str()) || sqlite_only.contains(&name.as_str()),
                    "test `{name}` has no PostgreSQL twin: add it to postgres_twins!"
                );
            }
        }
    };
}

/// The names of the test functions in a test file's source: those under a
/// test attribute, and those declared with `browser_test!(name, |site| …)`
/// (tests/dashboard_browser.rs), on its first line or the next; not the
/// `$name` of a macro that declares tests.
pub fn test_names(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut attribute = false;
    let mut declared = false;
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            attribute = true;
        } else if attribute && (line.starts_with("fn ") || line.starts_with("async fn ")) {
            let rest = line.trim_start_matches("async ").trim_start_matches("fn ");
            if !rest.starts_with('$') {
                names.push(rest.split(['(', '<']).next().unwrap_or_default().to_owned());
            }
            attribute = false;
        } else if let Some(rest) = line.strip_prefix("browser_test!(") {
            declared = rest.is_empty();
            if !declared {
                names.push(rest.split(',').next().unwrap_or_default().to_owned());
            }
        } else if declared {
            names.push(line.split(',').next().unwrap_or_default().to_owned());
            declared = false;
        }
    }
    names
}

/// A directory with `keys/` (0700) and a database: a SQLite file inside the
/// directory, or a fresh PostgreSQL database when the test runs on
/// PostgreSQL. Several servers may share one.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    database_url: String,
    postgres: Option<PostgresDatabase>,
}

/// A database of its own on the test PostgreSQL server, dropped with it.
struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    fn create() -> (PostgresDatabase, String) {
        let admin_url = postgres_admin_url().expect("INFORMLY_TEST_POSTGRES_URL");
        let name = format!(
            "informly_test_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        postgres_admin(&admin_url, &format!("create database {name}"));
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&admin_url);
        let url = format!("{base}/{name}");
        (PostgresDatabase { admin_url, name }, url)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        postgres_admin(
            &self.admin_url,
            &format!("drop database if exists {} with (force)", self.name),
        );
    }
}

/// Runs one statement on the PostgreSQL admin database, from a thread of its
/// own (so it works inside or outside a runtime).
fn postgres_admin(admin_url: &str, sql: &str) {
    let (url, sql) = (admin_url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        use sqlx::Connection as _;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut conn = sqlx::postgres::PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
            sqlx::query(&sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    })
    .join()
    .expect("postgres admin thread");
}

impl Home {
    pub fn new() -> Arc<Home> {
        Arc::new(Home::create())
    }

    /// A home on this thread's backend, not shared.
    pub fn create() -> Home {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).expect("keys dir");
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(&keys, private).expect("chmod keys dir");
        let backend = backend();
        let (postgres, database_url) = match backend {
            Backend::Sqlite => {
                // Only `serve` and `migrate` create a database; every other
                // command needs one to exist. An empty file is an empty SQLite
                // database, which the first command migrates.
                let file = dir.path().join("informly.db");
                std::fs::File::create(&file).expect("database file");
                let owner_only = std::os::unix::fs::PermissionsExt::from_mode(0o600);
                std::fs::set_permissions(&file, owner_only).expect("chmod database");
                (None, format!("sqlite://{}", file.display()))
            }
            Backend::Postgres => {
                let (database, url) = PostgresDatabase::create();
                (Some(database), url)
            }
        };
        Home {
            dir,
            backend,
            database_url,
            postgres,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone()
    }

    /// Every byte the database holds, to search for what must never be stored:
    /// the SQLite files, or a `pg_dump` of the PostgreSQL database.
    pub fn database_bytes(&self) -> Vec<u8> {
        match &self.postgres {
            None => {
                let mut bytes = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let path = self.path().join(format!("informly.db{suffix}"));
                    if let Ok(content) = std::fs::read(path) {
                        bytes.extend(content);
                    }
                }
                bytes
            }
            Some(_) => {
                let output = Command::new("pg_dump")
                    .arg("--dbname")
                    .arg(&self.database_url)
                    .output()
                    .expect("pg_dump runs");
                assert!(output.status.success(), "pg_dump failed");
                output.stdout
            }
        }
    }

    /// The CLI, pointed at this home.
    pub fn cli(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_informly"));
        cmd.current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("INFORMLY_DATABASE_URL", self.database_url())
            .env("INFORMLY_KEYS_DIR", self.keys_dir());
        cmd
    }

    /// Runs the CLI and returns stdout, panicking with stderr on failure.
    /// Tokens it prints are remembered; what it logs must hold none, nor any
    /// key secret.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.cli().args(args).output().expect("run informly");
        assert!(
            output.status.success(),
            "informly {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        remember_tokens_in(&String::from_utf8_lossy(&output.stdout));
        assert_no_secrets(
            "the CLI's stderr",
            &String::from_utf8_lossy(&output.stderr),
            &self.key_secrets(),
        );
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// `informly --json …` on this home: its output, parsed.
    pub fn run_json(&self, args: &[&str]) -> Value {
        let args: Vec<&str> = ["--json"].iter().chain(args).copied().collect();
        let out = self.run(&args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("informly {args:?} printed no JSON ({e}): {out}"))
    }

    /// An admin token for a workspace (`default` if None).
    pub fn admin_token(&self, workspace: Option<&str>) -> String {
        let token = match workspace {
            Some(ws) => self.run(&["admin-token", "--workspace", ws]),
            None => self.run(&["admin-token"]),
        };
        remember_secret(&token);
        token
    }

    /// The secret of every key file in the keys directory.
    pub fn key_secrets(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.keys_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .filter_map(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .filter_map(|file| file["secret"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Every token the helpers handed out in this test binary: none may ever
/// appear in a server's log.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub fn remember_secret(secret: &str) {
    SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(secret.to_owned());
}

/// A running `informly serve`, killed when dropped.
pub struct Server {
    pub home: Arc<Home>,
    pub base: String,
    pub client: Client,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// A server in a fresh home.
    pub async fn start() -> Server {
        Server::start_in(Home::new(), &[]).await
    }

    /// A server in `home` (which another server may share), with extra
    /// environment variables.
    pub async fn start_in(home: Arc<Home>, env: &[(&str, &str)]) -> Server {
        let mut cmd = home.cli();
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn informly serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log_reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(address) = line.split("address=").nth(1) {
                        let _ = tx.send(address.trim().to_owned());
                    }
                    log.lock().unwrap().push(line);
                }
            })
        };
        let address = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start:\n{}", log.lock().unwrap().join("\n"));
            }
        };
        Server {
            home,
            base: format!("http://{address}"),
            client: Client::new(),
            child,
            log,
            log_reader: Some(log_reader),
        }
    }

    /// `host:port`, for raw TCP clients.
    pub fn address(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET path` without a token (`/health`, `/ready`): its status.
    pub async fn public_status(&self, path: &str) -> u16 {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .status()
            .as_u16()
    }

    /// `GET path` without a token (the key documents, the OpenAPI document):
    /// its JSON body.
    pub async fn public_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not the JSON expected: {e}"))
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .expect("GET")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token))
            .send()
            .await
            .expect("DELETE")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .json(body)
            .send()
            .await
            .expect("PATCH")
    }

    /// The emails of the contacts `token` lists (`GET /v1/contacts`, its
    /// first page).
    pub async fn contact_emails(&self, token: &str) -> Vec<String> {
        let response = self.get("/v1/contacts", token).await;
        assert_eq!(response.status(), 200, "list the contacts");
        let list: Value = response.json().await.expect("json");
        list["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|c| c["email"].as_str().map(str::to_owned))
            .collect()
    }

    /// Creates an app with the admin token and returns its id.
    pub async fn create_app(&self, admin: &str, name: &str) -> String {
        let response = self
            .post("/v1/apps", admin, &serde_json::json!({ "name": name }))
            .await;
        assert_eq!(response.status(), 201, "create app");
        let app: Value = response.json().await.expect("json");
        app["id"].as_str().expect("id").to_owned()
    }

    /// Issues a token for an app through the API and returns its JSON (record +
    /// `token`).
    pub async fn issue(&self, admin: &str, app: &str, scopes: &[&str], format: &str) -> Value {
        let body = serde_json::json!({ "scopes": scopes, "expires_in": "1h", "format": format });
        let response = self
            .post(&format!("/v1/apps/{app}/tokens"), admin, &body)
            .await;
        assert_eq!(response.status(), 201, "issue token");
        let issued: Value = response.json().await.expect("json");
        if let Some(token) = issued["token"].as_str() {
            remember_secret(token);
        }
        issued
    }

    /// The published PASETO keys, as a downstream verifier reads them.
    pub async fn published_paseto_keys(&self) -> informly::token::KeySet {
        let paserk: informly::token::PaserkKeySet =
            self.public_json("/.well-known/paserk.json").await;
        let mut keys = informly::token::KeySet::new();
        keys.extend_from_paserk(&paserk).expect("valid keys");
        keys
    }

    /// `GET /v1/revocations[?since=…]`: the signed feed string of a 200 answer.
    pub async fn revocation_feed_string(&self, since: Option<&str>) -> String {
        let mut request = self.client.get(self.url("/v1/revocations"));
        if let Some(since) = since {
            request = request.query(&[("since", since)]);
        }
        let response = request.send().await.expect("GET /v1/revocations");
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await.expect("a JSON body");
        str_of(&body["feed"])
    }

    /// A page of the revocation feed, verified offline with the published
    /// keys only, as a downstream verifier does.
    pub async fn revocation_feed(&self, since: Option<&str>) -> informly::token::RevocationFeed {
        let feed = self.revocation_feed_string(since).await;
        let keys = self.published_paseto_keys().await;
        let policy = informly::token::Policy::default();
        informly::token::RevocationFeed::verify(&feed, &keys, &policy, since, unix_now())
            .unwrap_or_else(|e| panic!("the feed does not verify: {e}"))
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Kills it with SIGKILL, as a crash would: no shutdown, no last words.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit (at most 20 s).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    /// Stops the server (SIGTERM, so it writes out its last log lines; SIGKILL
    /// if it has not stopped within 5 s), then checks that nothing it logged
    /// holds a token the helpers handed out, or the secret of any key in its
    /// keys directory.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: plain kill(2) on our own child's pid, not yet reaped.
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The server has exited: its stderr reaches end of file.
        if let Some(reader) = self.log_reader.take() {
            let _ = reader.join();
        }
        if std::thread::panicking() {
            return;
        }
        assert_no_secrets("the server's log", &self.logs(), &self.home.key_secrets());
    }
}

/// Asserts that `text` (a log) holds no token the tests handed out or read
/// from the CLI's output, and none of `key_secrets`.
pub fn assert_no_secrets(what: &str, text: &str, key_secrets: &[String]) {
    let tokens = SECRETS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for secret in tokens.iter().chain(key_secrets) {
        assert!(
            !text.contains(secret.as_str()),
            "{what} holds a token or a key secret"
        );
    }
}

/// Remembers every token the CLI printed (PASETO `v4.public.…` or a JWT), so
/// that no log may hold it later.
pub fn remember_tokens_in(stdout: &str) {
    let words = stdout.split(|c: char| c.is_whitespace() || c == '"' || c == ',');
    for word in words {
        let jwt = word.starts_with("eyJ") && word.matches('.').count() == 2;
        if word.starts_with("v4.public.") || jwt {
            remember_secret(word);
        }
    }
}

/// The time now, in seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An RFC 3339 time (a JSON string), in seconds since the Unix epoch.
pub fn unix_of(rfc3339: &Value) -> i64 {
    let text = rfc3339.as_str().expect("a time");
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .unix_timestamp()
}

/// A JSON string's text.
pub fn str_of(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

/// A running server with an admin token of the default workspace and one
/// app: where the tests that issue and revoke tokens through the API start.
pub struct ServerWithApp {
    pub server: Server,
    pub admin: String,
    pub app: String,
}

/// A token issued through the API.
pub struct Issued {
    pub token: String,
    pub id: String,
    pub expires_at: i64,
}

impl ServerWithApp {
    /// A server in a fresh home, an admin token, and an app named `app_name`.
    pub async fn start(app_name: &str) -> ServerWithApp {
        let server = Server::start().await;
        let admin = server.home.admin_token(None);
        let app = server.create_app(&admin, app_name).await;
        ServerWithApp { server, admin, app }
    }

    /// Issues a token of the app through the API.
    pub async fn issue(&self, scopes: &[&str], format: &str) -> Issued {
        self.issue_for(&self.app, scopes, format).await
    }

    /// Issues a token of `app` (of the same workspace) through the API.
    pub async fn issue_for(&self, app: &str, scopes: &[&str], format: &str) -> Issued {
        let issued = self.server.issue(&self.admin, app, scopes, format).await;
        Issued {
            token: str_of(&issued["token"]),
            id: str_of(&issued["id"]),
            expires_at: unix_of(&issued["expires_at"]),
        }
    }

    /// Revokes a token of the app through the API.
    pub async fn revoke(&self, token_id: &str) {
        self.revoke_on(&self.server, token_id).await;
    }

    /// Revokes a token of the app through the API of `server`: this one, or
    /// another on the same home.
    pub async fn revoke_on(&self, server: &Server, token_id: &str) {
        let response = server
            .delete(
                &format!("/v1/apps/{}/tokens/{token_id}", self.app),
                &self.admin,
            )
            .await;
        assert!(
            response.status().is_success(),
            "revoke: {}",
            response.status()
        );
    }
}

/// Polls `check` until it returns true or `within` passes; returns how long it
/// took. For properties with a stated time bound (propagation, reload).
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

/// A TCP proxy in front of a server (e.g. PostgreSQL) that a test can cut and
/// restore, to see what the service does when its database goes away for
/// real: cutting resets every open connection and refuses new ones.
pub struct Proxy {
    pub port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding a random local port to `upstream` (host:port).
    pub async fn start(upstream: &str) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("address").port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let upstream = upstream.to_owned();
        let accept = {
            let (up, connections) = (up.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the client sees the connection closed
                    }
                    let upstream = upstream.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    connections.lock().unwrap().push(task);
                }
            })
        };
        Proxy {
            port,
            up,
            connections,
            accept,
        }
    }

    /// Resets every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `host:port` of the PostgreSQL server `INFORMLY_TEST_POSTGRES_URL` names
/// (127.0.0.1:5432 if it names none).
pub fn postgres_address() -> String {
    let url = postgres_admin_url().expect("INFORMLY_TEST_POSTGRES_URL");
    url.split_once('@')
        .map_or("127.0.0.1:5432", |(_, rest)| {
            rest.split('/').next().unwrap_or("127.0.0.1:5432")
        })
        .to_owned()
}

/// `url` with its host and port replaced by 127.0.0.1:`port`.
pub fn through_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let userinfo = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"));
    format!(
        "{scheme}://{}127.0.0.1:{port}/{path}",
        userinfo.unwrap_or_default()
    )
}

// ---------------------------------------------------------------------------
// The database's logical content (appended for tests/catalog.rs)
// ---------------------------------------------------------------------------

/// Every row of every table of a database, rendered as text and sorted, by
/// table name: what "the database is unchanged" means in the tests.
pub type Content = std::collections::BTreeMap<String, Vec<String>>;

impl Home {
    /// The logical content of the database: every row of every service table
    /// (sqlx's migration bookkeeping aside), each rendered as `column=value`
    /// text, sorted. Unlike [`Home::database_bytes`] this does not move when
    /// nothing changed: SQLite's files change on reads (WAL, checkpoints, page
    /// reuse) and a `pg_dump` is slow; two snapshots are equal exactly when no
    /// row was added, removed or changed in between.
    pub async fn content(&self) -> Content {
        let tables_sql = match self.backend {
            Backend::Sqlite => "select name from sqlite_master where type = 'table' order by name",
            Backend::Postgres => {
                "select tablename::text from pg_tables where schemaname = current_schema() order by 1"
            }
        };
        let mut conn = self.read_connection().await;
        let tables: Vec<String> = sqlx::query_scalar(tables_sql)
            .fetch_all(&mut conn)
            .await
            .expect("list the tables");
        let mut content = Content::new();
        for table in tables {
            if table.starts_with("_sqlx") || table.starts_with("sqlite_") {
                continue;
            }
            let rows = sqlx::query(&format!("select * from {table}"))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("read {table}: {e}"));
            let mut lines: Vec<String> = rows.iter().map(row_text).collect();
            lines.sort();
            content.insert(table, lines);
        }
        let _ = sqlx::Connection::close(conn).await;
        content
    }

    /// The first column of every row `sql` returns, as text (write the query
    /// so that column is text on both backends, e.g. with `cast(… as text)`).
    pub async fn query_column(&self, sql: &str) -> Vec<String> {
        let mut conn = self.read_connection().await;
        let values = sqlx::query_scalar(sql)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = sqlx::Connection::close(conn).await;
        values
    }

    /// A connection of the test's own, through sqlx's `Any` driver (the
    /// service's tables hold only text and integers); read-only on SQLite.
    /// Runs statements on the database directly, as someone with access to
    /// it could: for tests that tamper with it.
    pub async fn execute(&self, statements: &[&str]) {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.database_url)
            .await
            .unwrap_or_else(|e| panic!("cannot open the database: {e}"));
        for statement in statements {
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let _ = sqlx::Connection::close(conn).await;
    }

    async fn read_connection(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match self.backend {
            Backend::Sqlite => format!("{}?mode=ro", self.database_url),
            Backend::Postgres => self.database_url.clone(),
        };
        <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot read the database {url}: {e}"))
    }
}

/// A row as `column=value` pairs, whatever the columns' types.
fn row_text(row: &sqlx::any::AnyRow) -> String {
    use sqlx::{Column as _, Row as _};
    let value = |i: usize| {
        if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            return format!("{v:?}");
        }
        match row.try_get::<Option<Vec<u8>>, _>(i) {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("<{e}>"),
        }
    };
    row.columns()
        .iter()
        .map(|column| format!("{}={}", column.name(), value(column.ordinal())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What differs between two [`Content`] snapshots, for a failure message
/// (empty when they are equal).
pub fn content_diff(before: &Content, after: &Content) -> String {
    let mut out = Vec::new();
    let tables: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let none = Vec::new();
    for table in tables {
        let (old, new) = (
            before.get(table).unwrap_or(&none),
            after.get(table).unwrap_or(&none),
        );
        for line in new.iter().filter(|l| !old.contains(l)) {
            out.push(format!("{table}: + {line}"));
        }
        for line in old.iter().filter(|l| !new.contains(l)) {
            out.push(format!("{table}: - {line}"));
        }
    }
    out.join("\n")
}
