//! The operators' view (issue 19): `GET /metrics` on its own listener, read
//! by promtool and by a real Prometheus; the alert rules in
//! deploy/prometheus/ checked and unit-tested by promtool. The Prometheus
//! tests run when `INFORMLY_TEST_PROMETHEUS=1` at build time (Debian's
//! `prometheus` package, which `.ci/run` installs); otherwise they are
//! ignored and say why.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Home, Server};
use reqwest::Method;
use serde_json::{Value, json};

/// A server with its metrics listener on a free port: (server, metrics
/// base URL).
async fn with_metrics(home: std::sync::Arc<Home>, env: &[(&str, &str)]) -> (Server, String) {
    let mut env = env.to_vec();
    env.push(("INFORMLY_METRICS_LISTEN", "127.0.0.1:0"));
    let server = Server::start_in(home, &env).await;
    let address = server
        .logs()
        .lines()
        .find_map(|line| line.split("metrics=").nth(1))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .expect("the metrics listener's address in the log");
    (server, format!("http://{address}"))
}

async fn scrape(metrics: &str) -> String {
    let response = reqwest::get(format!("{metrics}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")),
        "the Prometheus text format's media type"
    );
    response.text().await.expect("text")
}

/// The value of the one sample whose name and labels start `series` (e.g.
/// `informly_keys{format="jwt",state="active"`).
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// Tokens the server accepts and refuses: (valid PASETO, valid JWT, one
/// signed by a key of our own, which the server does not know).
async fn tokens(server: &Server) -> (String, String, String) {
    let admin = server.home.admin_token(None);
    let app = server.create_app(&admin, "metrics").await;
    let paseto = server
        .issue(&admin, &app, &["contacts:read"], "paseto")
        .await;
    let jwt = server.issue(&admin, &app, &["contacts:read"], "jwt").await;
    let stranger = informly::token::SigningKey::generate(informly::token::Format::Paseto)
        .expect("key")
        .sign(
            &informly::token::TokenClaims {
                token_id: "tok_01J0000000000000000000000A".to_owned(),
                workspace: "ws_01J0000000000000000000000B".to_owned(),
                subject: informly::token::Subject::App("app_01J0000000000000000000000C".to_owned()),
                scopes: informly::token::ScopeSet::parse_for_app(["contacts:read"]).unwrap(),
                issued_at: time::OffsetDateTime::now_utc().unix_timestamp(),
                not_before: time::OffsetDateTime::now_utc().unix_timestamp(),
                expires_at: time::OffsetDateTime::now_utc().unix_timestamp() + 600,
            },
            &informly::token::Policy::default(),
        )
        .expect("sign");
    (
        paseto["token"].as_str().unwrap().to_owned(),
        jwt["token"].as_str().unwrap().to_owned(),
        stranger,
    )
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_not_on_the_api_address() {
    let (server, metrics) = with_metrics(Home::new(), &[]).await;
    let (paseto, jwt, stranger) = tokens(&server).await;
    for _ in 0..3 {
        assert_eq!(server.get("/v1/token", &paseto).await.status(), 200);
    }
    assert_eq!(server.get("/v1/token", &jwt).await.status(), 200);
    assert_eq!(server.get("/v1/token", &stranger).await.status(), 401);
    assert_eq!(server.get("/v1/token", "garbage").await.status(), 401);
    let me: Value = server.get("/v1/token", &paseto).await.json().await.unwrap();

    // Not on the API's address, by any method.
    assert_eq!(server.public_status("/metrics").await, 404);
    let head = server.request(Method::POST, "/metrics", None).send().await;
    assert_eq!(head.expect("POST").status(), 404);
    // And the metrics listener serves nothing else.
    let other = reqwest::get(format!("{metrics}/health")).await.unwrap();
    assert_eq!(other.status(), 404);

    let text = scrape(&metrics).await;
    let count = |outcome: &str, format: &str| {
        sample(
            &text,
            &format!(
                "informly_token_verifications_total{{outcome=\"{outcome}\",format=\"{format}\"}}"
            ),
        )
        .unwrap_or(0.0)
    };
    // The admin token's own requests (create app, issue) count too: at
    // least the five below, all accepted.
    assert!(count("accepted", "paseto") >= 4.0, "{text}");
    assert!(count("accepted", "jwt") >= 1.0, "{text}");
    assert_eq!(count("unknown_key", "paseto"), 1.0, "{text}");
    assert_eq!(count("malformed", "unknown"), 1.0, "{text}");
    // The cache saw the same PASETO token again.
    assert!(
        sample(&text, "informly_token_cache_requests_total{result=\"hit\"}").unwrap_or(0.0) >= 3.0,
        "{text}"
    );
    // Requests by route template, never the raw path.
    assert!(
        sample(
            &text,
            "informly_http_requests_total{route=\"/v1/token\",method=\"GET\",status=\"200\"}"
        )
        .unwrap_or(0.0)
            >= 5.0,
        "{text}"
    );
    assert!(
        text.contains("informly_http_requests_total{route=\"/v1/apps/{app}/tokens\""),
        "{text}"
    );
    assert!(
        text.contains("route=\"unmatched\",method=\"GET\",status=\"404\""),
        "{text}"
    );
    assert!(
        text.contains("informly_http_request_duration_seconds_bucket{route=\"/v1/token\""),
        "{text}"
    );
    // The state read at scrape time.
    for series in [
        "informly_keys{format=\"paseto\",state=\"active\"} 1",
        "informly_keys{format=\"jwt\",state=\"active\"} 1",
        "informly_denylist_entries 0",
        "informly_denylist_staleness_bound_seconds 300",
        "informly_webhook_outbox_messages 0",
        "informly_usage_oldest_waiting_seconds",
        "informly_db_connections{state=\"idle\"}",
        "informly_token_cache_entries",
        "informly_key_state{",
        "informly_key_seconds_until_activation{",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_cpu_seconds_total",
    ] {
        assert!(text.contains(series), "no `{series}` in:\n{text}");
    }
    assert!(
        sample(&text, "informly_denylist_age_seconds").is_some_and(|age| age < 5.0),
        "{text}"
    );
    // Labels stay bounded: no token, token id, app id or workspace id.
    for secret in [
        paseto.as_str(),
        jwt.as_str(),
        me["id"].as_str().unwrap(),
        me["app"].as_str().unwrap(),
        me["workspace"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "`{secret}` in the exposition");
    }
}

#[tokio::test]
async fn contacts_writes_report_how_many_each_group_commit_gathered() {
    let (server, metrics) = with_metrics(Home::new(), &[]).await;
    let admin = server.home.admin_token(None);
    let app = server.create_app(&admin, "writer").await;
    let issued = server
        .issue(&admin, &app, &["contacts:write"], "paseto")
        .await;
    let token = issued["token"].as_str().expect("token");
    let created = server
        .post("/v1/contacts", token, &json!({"email": "one@example.com"}))
        .await;
    assert_eq!(created.status(), 201);
    let batch = json!({"contacts": [{"email": "two@example.com"}, {"email": "three@example.com"}]});
    assert_eq!(
        server
            .post("/v1/contacts/batch", token, &batch)
            .await
            .status(),
        200
    );

    let text = scrape(&metrics).await;
    // Two requests, one after the other: two groups of one write each.
    assert_eq!(
        sample(&text, "informly_contacts_write_group_size_count"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "informly_contacts_write_group_size_sum"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "informly_contacts_write_group_size_bucket{le=\"1\"}"),
        Some(2.0),
        "{text}"
    );
    assert!(
        text.contains("# HELP informly_contacts_write_group_size "),
        "{text}"
    );
    assert_eq!(
        sample(&text, "informly_contacts_write_group_retries_total"),
        None,
        "{text}"
    );
}

#[tokio::test]
async fn without_the_flag_no_metrics_listener_is_started() {
    let server = Server::start().await;
    assert!(!server.logs().contains("metrics="), "{}", server.logs());
    assert_eq!(server.public_status("/metrics").await, 404);
}

/// promtool, with the arguments given: its output, having succeeded.
fn promtool(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package `prometheus`)");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
#[cfg_attr(
    not(prometheus_tests),
    ignore = "Prometheus: install Debian's `prometheus` and set INFORMLY_TEST_PROMETHEUS=1 to run it"
)]
fn the_alert_rules_pass_promtool_and_the_staleness_alert_its_unit_tests() {
    let checked = promtool(&["check", "rules", "alerts.yml"], None);
    assert!(checked.contains("SUCCESS: 6 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "alerts_test.yml"], None);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[tokio::test]
#[cfg_attr(
    not(prometheus_tests),
    ignore = "Prometheus: install Debian's `prometheus` and set INFORMLY_TEST_PROMETHEUS=1 to run it"
)]
async fn promtool_finds_nothing_wrong_in_the_exposition() {
    let (server, metrics) = with_metrics(Home::new(), &[]).await;
    let (paseto, _, stranger) = tokens(&server).await;
    server.get("/v1/token", &paseto).await;
    server.get("/v1/token", &stranger).await;
    let text = scrape(&metrics).await;
    let checked = promtool(&["check", "metrics"], Some(&text));
    assert!(checked.trim().is_empty(), "promtool's findings:\n{checked}");
}

/// A Prometheus on loopback scraping `target` every second, killed when
/// dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: informly\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        // Prometheus cannot pick its own port: take a free one.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (Debian package `prometheus`)");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// The value of an instant query returning one number, if it does yet.
    async fn query(&self, query: &str) -> Option<f64> {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query)])
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
#[cfg_attr(
    not(prometheus_tests),
    ignore = "Prometheus: install Debian's `prometheus` and set INFORMLY_TEST_PROMETHEUS=1 to run it"
)]
async fn a_real_prometheus_scrapes_the_counts_of_accepted_and_refused_verifications() {
    let (server, metrics) = with_metrics(Home::new(), &[]).await;
    let (paseto, jwt, stranger) = tokens(&server).await;
    let prometheus = Prometheus::start(metrics.trim_start_matches("http://"));
    for _ in 0..7 {
        assert_eq!(server.get("/v1/token", &jwt).await.status(), 200);
    }
    for _ in 0..4 {
        assert_eq!(server.get("/v1/token", &stranger).await.status(), 401);
    }
    let expected = [
        (
            r#"informly_token_verifications_total{outcome="accepted",format="jwt"}"#,
            7.0,
        ),
        (
            r#"informly_token_verifications_total{outcome="unknown_key",format="paseto"}"#,
            4.0,
        ),
        (
            r#"informly_token_verifications_total{outcome="malformed"}"#,
            0.0,
        ),
        (r#"up{job="informly"}"#, 1.0),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut last = Vec::new();
    loop {
        last.clear();
        for (query, want) in expected {
            let got = prometheus.query(&format!("sum({query})")).await;
            if got != Some(want) {
                last.push(format!("{query}: {got:?}, want {want}"));
            }
        }
        if last.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus never showed the counts: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The PASETO token was never used on the API: no count for it.
    let _ = paseto;
}

/// With the database cut, the scrape still answers at once, from memory,
/// and the denylist's age grows second by second. PostgreSQL only: an
/// embedded SQLite file cannot be made unreachable under a running server.
#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL: set INFORMLY_TEST_POSTGRES_URL to run it"
)]
fn a_scrape_during_a_database_cut_shows_the_denylist_staleness_growing() {
    common::on_postgres(scrape_during_a_cut);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_during_a_cut() {
    let home = Home::new();
    let proxy = common::Proxy::start(&common::postgres_address()).await;
    let url = common::through_port(&home.database_url(), proxy.port);
    let (server, metrics) =
        with_metrics(home.clone(), &[("INFORMLY_DATABASE_URL", url.as_str())]).await;
    let age = |text: &str| sample(text, "informly_denylist_age_seconds").expect("the age");
    let before = age(&scrape(&metrics).await);
    assert!(before <= 2.0, "fresh before the cut: {before}");

    proxy.cut();
    let mut ages = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let started = std::time::Instant::now();
        let text = scrape(&metrics).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a scrape waits for no database: {:?}",
            started.elapsed()
        );
        ages.push(age(&text));
    }
    assert!(
        ages.windows(2).all(|w| w[1] >= w[0]) && ages[3] >= ages[0] + 2.0 && ages[3] >= 3.0,
        "the age grows while the database is cut: {ages:?}"
    );
    let ready = server
        .client
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    proxy.restore();
    let metrics = &metrics;
    common::eventually(Duration::from_secs(15), || async move {
        age(&scrape(metrics).await) <= 2.0
    })
    .await
    .expect("fresh again once the database is back");
}

informly_postgres_twins! {
    tests: [
        metrics_are_served_on_their_own_listener_and_not_on_the_api_address,
        contacts_writes_report_how_many_each_group_commit_gathered,
        without_the_flag_no_metrics_listener_is_started,
    ],
    sqlite_only: [
        the_alert_rules_pass_promtool_and_the_staleness_alert_its_unit_tests:
            "promtool on the rule files: no database",
        promtool_finds_nothing_wrong_in_the_exposition:
            "the exposition's format does not depend on the database",
        a_real_prometheus_scrapes_the_counts_of_accepted_and_refused_verifications:
            "the counts are made in memory, whatever the database",
        a_scrape_during_a_database_cut_shows_the_denylist_staleness_growing:
            "runs on PostgreSQL itself (a SQLite file cannot be cut)",
    ],
}
