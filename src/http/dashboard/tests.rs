//! Session and sign-in limits against a clock the test moves: the whole
//! router in process, on a real SQLite file, with no sleeping.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt as _;
use zeroize::Zeroizing;

use super::Config;
use crate::clock::{Clock, ManualClock};
use crate::server::Server;
use crate::service::{Actor, LOGIN_WINDOW};
use crate::store::Store;

const PASSWORD: &str = "correct horse battery staple";
const MINUTE: i64 = 60;

struct Dashboard {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Store,
    router: Router,
}

impl Dashboard {
    /// A dashboard with one user, `alice@example.com`, and the given limits.
    async fn start(idle: Duration, lifetime: Duration) -> Dashboard {
        Dashboard::with_flags(&[
            "--session-idle",
            &idle.as_secs().to_string(),
            "--session-lifetime",
            &lifetime.as_secs().to_string(),
        ])
        .await
    }

    /// The same, with `serve`'s flags.
    async fn with_flags(flags: &[&str]) -> Dashboard {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir(&keys_dir).expect("keys dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let clock = Arc::new(ManualClock::at(1_900_000_000));
        let keys_dir = keys_dir.display().to_string();
        let mut all = vec!["--database-url", &url, "--keys-dir", &keys_dir];
        all.extend_from_slice(flags);
        let server = Server::from_flags(all, clock.clone())
            .await
            .expect("server");
        let service = server.state.service();
        let workspace = service.ensure_default_workspace().await.expect("workspace");
        service
            .add_user(
                &Actor::cli(workspace.id),
                "alice@example.com",
                Zeroizing::new(PASSWORD.to_owned()),
            )
            .await
            .expect("user");
        Dashboard {
            _dir: dir,
            clock,
            store: service.store().clone(),
            router: server.router(),
        }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Vec<String>, String) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .collect();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, cookies, String::from_utf8_lossy(&body).into_owned())
    }

    /// Signs in (`password` for alice) and returns the status and the
    /// session cookie, if one was set.
    async fn sign_in(&self, email: &str, password: &str) -> (StatusCode, Option<String>) {
        self.sign_in_from(None, email, password).await
    }

    /// Signs in with an `X-Forwarded-For` header, if given.
    async fn sign_in_from(
        &self,
        forwarded_for: Option<&str>,
        email: &str,
        password: &str,
    ) -> (StatusCode, Option<String>) {
        let (_, cookies, page) = self.send(get("/dashboard/login", None)).await;
        let csrf_cookie = cookies.into_iter().next().expect("login csrf cookie");
        let csrf = field_value(&page, "csrf");
        let body = serde_html_form::to_string([
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .expect("form");
        let mut request = Request::post("/dashboard/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, csrf_cookie);
        if let Some(forwarded_for) = forwarded_for {
            request = request.header("x-forwarded-for", forwarded_for);
        }
        let request = request.body(Body::from(body)).expect("request");
        let (status, cookies, _) = self.send(request).await;
        let session = cookies
            .into_iter()
            .find(|c| c.starts_with("informly_session=") && c.len() > "informly_session=".len());
        (status, session)
    }

    /// The status of the apps page with this cookie.
    async fn apps_page(&self, cookie: &str) -> StatusCode {
        self.send(get("/dashboard/settings/apps", Some(cookie)))
            .await
            .0
    }

    async fn sessions(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as("select count(*) from dashboard_sessions")
            .fetch_one(self.store.pool())
            .await
            .expect("count");
        n
    }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::empty()).expect("request")
}

/// The value of the first input named `name` in a page.
fn field_value(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\" value=\""))
        .expect("field");
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').expect("end of value")].to_owned()
}

#[tokio::test]
async fn a_session_ends_after_the_idle_timeout_and_activity_keeps_it_alive() {
    let dashboard =
        Dashboard::start(Duration::from_secs(30 * 60), Duration::from_secs(12 * 3600)).await;
    let (status, cookie) = dashboard.sign_in("alice@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.expect("a session cookie");
    assert_eq!(dashboard.apps_page(&cookie).await, StatusCode::OK);

    // Used every 29 minutes, it lives well past 30 minutes.
    for _ in 0..4 {
        dashboard.clock.advance(29 * MINUTE);
        assert_eq!(dashboard.apps_page(&cookie).await, StatusCode::OK);
    }
    // Left alone for 30 minutes, it is over, and its row is gone.
    dashboard.clock.advance(30 * MINUTE);
    assert_eq!(dashboard.apps_page(&cookie).await, StatusCode::SEE_OTHER);
    assert_eq!(dashboard.sessions().await, 0);
    // Coming back later does not revive it.
    dashboard.clock.advance(-60 * MINUTE);
    assert_eq!(dashboard.apps_page(&cookie).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_busy() {
    let dashboard =
        Dashboard::start(Duration::from_secs(30 * 60), Duration::from_secs(2 * 3600)).await;
    let (_, cookie) = dashboard.sign_in("alice@example.com", PASSWORD).await;
    let cookie = cookie.expect("a session cookie");
    for _ in 0..5 {
        dashboard.clock.advance(20 * MINUTE);
        assert_eq!(dashboard.apps_page(&cookie).await, StatusCode::OK);
    }
    // 100 minutes in, busy all along: at 120 minutes it ends.
    dashboard.clock.advance(19 * MINUTE);
    assert_eq!(dashboard.apps_page(&cookie).await, StatusCode::OK);
    dashboard.clock.advance(MINUTE);
    assert_eq!(dashboard.apps_page(&cookie).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn failed_sign_ins_lock_an_email_for_the_window_then_it_reopens() {
    let dashboard = Dashboard::start(Config::DEFAULT_IDLE, Config::DEFAULT_LIFETIME).await;
    for email in ["alice@example.com", "nobody@example.com"] {
        for _ in 0..5 {
            let (status, _) = dashboard.sign_in(email, "wrong password!").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{email}");
        }
    }
    // Locked: even the right password is not checked.
    let (status, session) = dashboard.sign_in("ALICE@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(session.is_none());
    let (status, _) = dashboard
        .sign_in("nobody@example.com", "wrong password!")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // The window is 15 minutes from the first failure.
    dashboard.clock.advance(15 * MINUTE - 1);
    let (status, _) = dashboard.sign_in("alice@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    dashboard.clock.advance(1);
    let (status, session) = dashboard.sign_in("alice@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(session.is_some());
}

#[tokio::test]
async fn pruning_deletes_ended_sessions_and_closed_windows_only() {
    let dashboard = Dashboard::start(Config::DEFAULT_IDLE, Config::DEFAULT_LIFETIME).await;
    let (_, old) = dashboard.sign_in("alice@example.com", PASSWORD).await;
    dashboard
        .sign_in("nobody@example.com", "wrong password!")
        .await;
    dashboard.clock.advance(31 * MINUTE);
    let (_, fresh) = dashboard.sign_in("alice@example.com", PASSWORD).await;
    let idle = time::Duration::minutes(30);
    let pruned = dashboard
        .store
        .prune_dashboard(dashboard.clock.now(), idle, LOGIN_WINDOW)
        .await
        .expect("prune");
    assert_eq!(pruned, 2, "the idle session and the closed failure window");
    assert_eq!(dashboard.sessions().await, 1);
    assert_eq!(
        dashboard.apps_page(&fresh.expect("cookie")).await,
        StatusCode::OK
    );
    assert_eq!(
        dashboard.apps_page(&old.expect("cookie")).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_failures_count_per_forwarded_client() {
    let dashboard = Dashboard::with_flags(&["--trust-forwarded-for"]).await;
    // 20 failures over 20 emails from one client (spoofed entries first:
    // only the proxy's last one counts).
    for i in 0..20 {
        let (status, _) = dashboard
            .sign_in_from(
                Some("9.9.9.9, 203.0.113.7"),
                &format!("u{i}@example.com"),
                "wrong password!",
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = dashboard
        .sign_in_from(Some("203.0.113.7"), "alice@example.com", PASSWORD)
        .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "that client is locked"
    );
    let (status, session) = dashboard
        .sign_in_from(
            Some("203.0.113.7, 198.51.100.2"),
            "alice@example.com",
            PASSWORD,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "another client is not");
    assert!(session.is_some());
}
