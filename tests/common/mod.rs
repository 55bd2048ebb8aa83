//! Shared helpers for the end-to-end tests: the real `informly` binary, serving
//! on a random port over a real SQLite file in a temporary directory.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

/// A directory with `keys/` (0700) and a database URL inside it. Several
/// servers may share one.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Arc<Home> {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).expect("keys dir");
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(&keys, private).expect("chmod keys dir");
        Arc::new(Home { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("informly.db").display())
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
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.cli().args(args).output().expect("run informly");
        assert!(
            output.status.success(),
            "informly {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// An admin token for a workspace (`default` if None).
    pub fn admin_token(&self, workspace: Option<&str>) -> String {
        match workspace {
            Some(ws) => self.run(&["admin-token", "--workspace", ws]),
            None => self.run(&["admin-token"]),
        }
    }
}

/// A running `informly serve`, killed when dropped.
pub struct Server {
    pub home: Arc<Home>,
    pub base: String,
    pub client: Client,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
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
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(address) = line.split("address=").nth(1) {
                        let _ = tx.send(address.trim().to_owned());
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
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
        }
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
        response.json().await.expect("json")
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.log.lock().unwrap().join("\n")
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
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
