//! Where a test's requests go: the real `informly serve` over TCP
//! ([`Server`]), or the same router in this process ([`InProcess`]: the state
//! `serve` assembles, driven with `tower::ServiceExt::oneshot`, no socket and
//! no process) for tests in which the process does not matter. A test written
//! against [`Transport`] runs on either.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tower::ServiceExt as _;

use super::{Home, Server, remember_secret};

/// A response read whole.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A request, as tests build them.
pub struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    pub token: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: Option<Vec<u8>>,
}

#[allow(async_fn_in_trait)]
pub trait Transport: Sized {
    /// A fresh service on its own database (this thread's backend).
    async fn start() -> Self;

    /// The directory, database and keys the service runs on; the CLI works
    /// on it too.
    fn home(&self) -> &Arc<Home>;

    async fn send(&self, call: Call<'_>) -> Answer;

    /// A JSON request.
    async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let body = body.map(|b| serde_json::to_vec(b).expect("JSON"));
        let content_type = body.as_ref().map(|_| "application/json");
        self.send(Call {
            method,
            path,
            token,
            content_type,
            body,
        })
        .await
    }

    /// Creates an app with the admin token and returns its id.
    async fn create_app(&self, admin: &str, name: &str) -> String {
        let body = serde_json::json!({ "name": name });
        let answer = self
            .json(Method::POST, "/v1/apps", Some(admin), Some(&body))
            .await;
        assert_eq!(answer.status, 201, "create app");
        super::str_of(&answer.json()["id"])
    }

    /// Issues a token for an app through the API and returns its JSON (record +
    /// `token`).
    async fn issue(&self, admin: &str, app: &str, scopes: &[&str], format: &str) -> Value {
        let body = serde_json::json!({ "scopes": scopes, "expires_in": "1h", "format": format });
        let path = format!("/v1/apps/{app}/tokens");
        let answer = self
            .json(Method::POST, &path, Some(admin), Some(&body))
            .await;
        assert_eq!(answer.status, 201, "issue token");
        let issued = answer.json();
        if let Some(token) = issued["token"].as_str() {
            remember_secret(token);
        }
        issued
    }
}

impl Transport for Server {
    async fn start() -> Server {
        Server::start().await
    }

    fn home(&self) -> &Arc<Home> {
        &self.home
    }

    async fn send(&self, call: Call<'_>) -> Answer {
        let what = format!("{} {}", call.method, call.path);
        let mut request = self
            .request(call.method, call.path, call.token)
            // The server may answer without reading the whole body and close
            // the connection, which must not go back to the client's pool.
            .header("connection", "close");
        if let Some(content_type) = call.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(body) = call.body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("read the body").to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// The service's router in this process, on a real database and keys
/// directory, assembled exactly as `informly serve` assembles it.
pub struct InProcess {
    pub home: Arc<Home>,
    router: axum::Router,
}

impl Transport for InProcess {
    async fn start() -> InProcess {
        let home = Home::new();
        let url = home.database_url();
        let keys = home.keys_dir().display().to_string();
        let clock = Arc::new(informly::clock::SystemClock);
        let server = informly::server::Server::from_flags(
            ["--database-url", &url, "--keys-dir", &keys],
            clock,
        )
        .await
        .expect("the service assembles");
        InProcess {
            home,
            router: server.router(),
        }
    }

    fn home(&self) -> &Arc<Home> {
        &self.home
    }

    async fn send(&self, call: Call<'_>) -> Answer {
        let mut request = axum::http::Request::builder()
            .method(call.method)
            .uri(call.path);
        if let Some(token) = call.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = call.content_type {
            request = request.header("content-type", content_type);
        }
        let body = call.body.map_or_else(Body::empty, Body::from);
        oneshot(&self.router, request.body(body).expect("a request")).await
    }
}

/// One request through a router, in this process, read whole.
pub async fn oneshot(router: &axum::Router, request: axum::http::Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("read the body")
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}
