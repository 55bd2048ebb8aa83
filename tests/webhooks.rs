//! Webhooks end to end: the real server delivers to a real receiver on
//! loopback, which checks every signature with the `standardwebhooks`
//! package (tests/webhooks/receiver.py); and the deliverer driven by hand
//! against a clock the test moves, for the retry schedule, the disabling
//! after five days, and `token.expiring` exactly once.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Home, Server};
use informly::clock::{Clock as _, ManualClock};
use informly::ids::{AppId, WebhookEndpointId};
use informly::service::{Actor, EndpointRequest, IssueRequest};
use informly::token::{Expiry, Format};
use serde_json::{Value, json};

/// The receiver: a Python process checking signatures with `standardwebhooks`.
struct Receiver {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Receiver {
    fn start() -> Receiver {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webhooks/receiver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the receiver says its port");
        let port = line.trim().strip_prefix("listening ").unwrap_or_else(|| {
            panic!("the receiver did not start ({line:?}): pip install standardwebhooks==1.3.0")
        });
        Receiver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn control(&self, path: &str, body: Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("receiver control");
        assert_eq!(response.status(), 204);
    }

    async fn secrets(&self, secrets: &[&str]) {
        self.control("/_control/secrets", json!({ "secrets": secrets }))
            .await;
    }

    async fn behave(&self, status: u16, delay: f64) {
        self.control(
            "/_control/behaviour",
            json!({"status": status, "delay": delay}),
        )
        .await;
    }

    async fn get(&self, path: &str) -> Vec<Value> {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("receiver log")
            .json()
            .await
            .expect("log JSON")
    }

    async fn log(&self) -> Vec<Value> {
        self.get("/_control/log").await
    }

    /// The log once it holds `n` deliveries (within `within`).
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log().await;
            if log.len() >= n {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} deliveries within {within:?}: {log:#?}",
                log.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ALLOW_PRIVATE: (&str, &str) = ("INFORMLY_WEBHOOK_ALLOW_PRIVATE", "true");

/// Registers an endpoint for `events`; returns (id, secret).
async fn register(server: &Server, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let response = server
        .post(
            "/v1/webhook-endpoints",
            admin,
            &json!({"url": url, "events": events, "description": "test receiver"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("JSON");
    let secret = body["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    common::remember_secret(&secret);
    (body["id"].as_str().expect("id").to_owned(), secret)
}

/// The endpoint's recorded attempts, newest first, once there are `n`
/// (an attempt is recorded just after the receiver answers).
async fn attempts(server: &Server, admin: &str, endpoint: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let deliveries: Value = server
            .get(
                &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
                admin,
            )
            .await
            .json()
            .await
            .expect("deliveries");
        let data = deliveries["data"].as_array().cloned().unwrap_or_default();
        if data.len() >= n {
            return data;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} attempts at {endpoint}",
            data.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const ALL_EVENTS: [&str; 8] = informly::webhooks::EVENTS;

#[tokio::test]
#[cfg_attr(
    not(interop_tests),
    ignore = "needs the standardwebhooks package: set INFORMLY_TEST_INTEROP=1"
)]
async fn each_change_reaches_the_receiver_signed_per_standard_webhooks_in_order() {
    let receiver = Receiver::start();
    let server = Server::start_in(Home::new(), &[ALLOW_PRIVATE]).await;
    let admin = server.home.admin_token(None);
    let (endpoint, secret) = register(&server, &admin, &receiver.url("/hooks"), &ALL_EVENTS).await;
    receiver.secrets(&[&secret]).await;

    let app = server.create_app(&admin, "crm").await;
    let issued = server
        .issue(&admin, &app, &["contacts:read"], "paseto")
        .await;
    let token_id = issued["id"].as_str().expect("id").to_owned();
    let rolled: Value = server
        .post(
            &format!("/v1/apps/{app}/tokens/{token_id}/roll"),
            &admin,
            &json!({"expires_in": "1h"}),
        )
        .await
        .json()
        .await
        .expect("rolled");
    common::remember_secret(rolled["token"].as_str().expect("token"));
    let successor = rolled["id"].as_str().expect("id").to_owned();
    let revoked = server
        .delete(&format!("/v1/apps/{app}/tokens/{successor}"), &admin)
        .await;
    assert!(revoked.status().is_success());
    // A key rotated from the command line: that process queues the message,
    // the server delivers it.
    server.home.run(&["keys", "rotate", "--format", "jwt"]);
    assert_eq!(
        server
            .delete(&format!("/v1/apps/{app}"), &admin)
            .await
            .status(),
        204
    );
    let test = server
        .post(
            &format!("/v1/webhook-endpoints/{endpoint}/test"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(test.status(), 202);

    let log = receiver.wait_for(6, Duration::from_secs(20)).await;
    let types: Vec<&str> = log
        .iter()
        .map(|d| d["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        types,
        [
            "token.created",
            "token.rolled",
            "token.revoked",
            "key.rotated",
            "app.deleted",
            "webhook.test"
        ]
    );
    let now = common::unix_now();
    for delivery in &log {
        assert_eq!(delivery["verified_by"], json!([0]), "{delivery:#}");
        assert_eq!(delivery["path"], "/hooks");
        let timestamp: i64 = delivery["timestamp"]
            .as_str()
            .expect("ts")
            .parse()
            .expect("int");
        assert!((now - timestamp).abs() < 120, "{delivery:#}");
        assert!(
            delivery["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("msg_"))
        );
        assert!(delivery["body"]["timestamp"].is_string());
    }
    let mut ids: Vec<&str> = log.iter().filter_map(|d| d["id"].as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "one id per message: {log:#?}");
    assert_eq!(log[0]["body"]["data"]["id"], token_id.as_str());
    assert_eq!(log[0]["body"]["data"]["app_id"], app.as_str());
    assert_eq!(log[0]["body"]["data"]["scopes"], json!(["contacts:read"]));
    assert_eq!(log[1]["body"]["data"]["replaced_by"], successor.as_str());
    assert_eq!(log[2]["body"]["data"]["id"], successor.as_str());
    assert!(
        log[3]["body"]["data"]["kid"]
            .as_str()
            .is_some_and(|k| k.starts_with("k4.pid.") || !k.is_empty())
    );
    assert_eq!(log[4]["body"]["data"]["id"], app.as_str());
    let raw = serde_json::to_string(&log).expect("JSON");
    assert!(
        !raw.contains(issued["token"].as_str().expect("token")),
        "no token string is sent"
    );

    // Every attempt is visible, newest first, and so is every message.
    let deliveries = attempts(&server, &admin, &endpoint, 6).await;
    assert_eq!(deliveries.len(), 6);
    for attempt in &deliveries {
        assert_eq!(attempt["status_code"], 200, "{attempt:#}");
        assert_eq!(attempt["delivered"], true);
        assert_eq!(attempt["response_body"], r#"{"received": true}"#);
        assert!(attempt["duration_ms"].as_i64().is_some_and(|ms| ms >= 0));
    }
    assert_eq!(deliveries[0]["event_type"], "webhook.test");
    let messages: Value = server
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/messages"),
            &admin,
        )
        .await
        .json()
        .await
        .expect("messages");
    for message in messages["data"].as_array().expect("data") {
        assert_eq!(message["state"], "delivered", "{message:#}");
        assert_eq!(message["attempts"], 1);
    }

    // A message resent arrives again with the same id and body.
    let first = log[0]["id"].as_str().expect("id");
    let resent = server
        .post(
            &format!("/v1/webhook-endpoints/{endpoint}/messages/{first}/resend"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(resent.status(), 202);
    let log = receiver.wait_for(7, Duration::from_secs(20)).await;
    assert_eq!(log[6]["id"], first);
    assert_eq!(log[6]["body"], log[0]["body"]);
    assert_eq!(log[6]["verified_by"], json!([0]));

    // The endpoint's changes are in the audit log.
    let audit = server
        .home
        .run_json(&["audit", "list", "--target", &endpoint]);
    let actions: Vec<&str> = audit
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["webhook_endpoint.created"]);
}

#[tokio::test]
#[cfg_attr(
    not(interop_tests),
    ignore = "needs the standardwebhooks package: set INFORMLY_TEST_INTEROP=1"
)]
async fn after_a_rotation_both_secrets_sign_and_only_subscribed_events_are_sent() {
    let receiver = Receiver::start();
    let server = Server::start_in(Home::new(), &[ALLOW_PRIVATE]).await;
    let admin = server.home.admin_token(None);
    let (endpoint, old) = register(&server, &admin, &receiver.url("/"), &["token.revoked"]).await;
    let rotated = server
        .post(
            &format!("/v1/webhook-endpoints/{endpoint}/rotate-secret"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: Value = rotated.json().await.expect("JSON");
    let new = rotated["secret"].as_str().expect("secret").to_owned();
    common::remember_secret(&new);
    assert_ne!(new, old);
    let overlap_ends = common::unix_of(&rotated["previous_secret_expires_at"]);
    assert!((overlap_ends - common::unix_now() - 24 * 3600).abs() < 120);
    receiver.secrets(&[&old, &new]).await;

    // token.created is not subscribed to: only the revocation is sent.
    let app = server.create_app(&admin, "crm").await;
    let issued = server.issue(&admin, &app, &["contacts:read"], "jwt").await;
    let token_id = issued["id"].as_str().expect("id");
    server
        .delete(&format!("/v1/apps/{app}/tokens/{token_id}"), &admin)
        .await;
    let log = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(log[0]["type"], "token.revoked");
    assert_eq!(
        log[0]["verified_by"],
        json!([0, 1]),
        "each secret verifies its own signature"
    );
    assert_eq!(log[0]["signatures"].as_array().map(Vec::len), Some(2));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.log().await.len(), 1, "nothing else was sent");

    // Disabled, it is sent nothing; enabled again, it hears what happens
    // from then on.
    let disabled = server
        .patch(
            &format!("/v1/webhook-endpoints/{endpoint}"),
            &admin,
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(disabled.status(), 200);
    let second = server.issue(&admin, &app, &["contacts:read"], "jwt").await;
    let second_id = second["id"].as_str().expect("id");
    server
        .delete(&format!("/v1/apps/{app}/tokens/{second_id}"), &admin)
        .await;
    server
        .patch(
            &format!("/v1/webhook-endpoints/{endpoint}"),
            &admin,
            &json!({"enabled": true}),
        )
        .await;
    let third = server.issue(&admin, &app, &["contacts:read"], "jwt").await;
    let third_id = third["id"].as_str().expect("id");
    server
        .delete(&format!("/v1/apps/{app}/tokens/{third_id}"), &admin)
        .await;
    let log = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(
        log[1]["body"]["data"]["id"], third_id,
        "what happened while it was disabled is not sent: {second_id}"
    );
}

#[tokio::test]
async fn registration_refuses_every_internal_address_class_without_the_flag() {
    let server = Server::start().await;
    let admin = server.home.admin_token(None);
    let refused = [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://localhost:9/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://172.16.0.1/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://[fd00::1]/hook", "private"),
        ("http://169.254.1.1/hook", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("ftp://93.184.215.14/hook", "only https and http"),
        (
            "https://user:pw@93.184.215.14/hook",
            "user name or password",
        ),
    ];
    for (url, why) in refused {
        let response = server
            .post(
                "/v1/webhook-endpoints",
                &admin,
                &json!({"url": url, "events": ["token.created"]}),
            )
            .await;
        assert_eq!(response.status(), 422, "{url}");
        let problem: Value = response.json().await.expect("problem");
        let text = problem.to_string();
        assert!(text.contains(why) && text.contains("url"), "{url}: {text}");
    }
    let unknown_event = server
        .post(
            "/v1/webhook-endpoints",
            &admin,
            &json!({"url": "https://93.184.215.14/hook", "events": ["token.eaten"]}),
        )
        .await;
    assert_eq!(unknown_event.status(), 422);
    assert!(
        unknown_event
            .text()
            .await
            .unwrap_or_default()
            .contains("token.eaten")
    );
    // A public address is accepted (an address literal: no DNS needed).
    let public = server
        .post(
            "/v1/webhook-endpoints",
            &admin,
            &json!({"url": "https://93.184.215.14/hook", "events": ["token.created"]}),
        )
        .await;
    assert_eq!(public.status(), 201);
    let secret: Value = public.json().await.expect("JSON");
    common::remember_secret(secret["secret"].as_str().expect("secret"));
    // App tokens never manage webhooks.
    let app = server.create_app(&admin, "crm").await;
    let issued = server
        .issue(&admin, &app, &["contacts:read"], "paseto")
        .await;
    let app_token = issued["token"].as_str().expect("token");
    assert_eq!(
        server
            .get("/v1/webhook-endpoints", app_token)
            .await
            .status(),
        403
    );
}

#[tokio::test]
#[cfg_attr(
    not(interop_tests),
    ignore = "needs the standardwebhooks package: set INFORMLY_TEST_INTEROP=1"
)]
async fn delivery_checks_the_address_again_after_resolving_and_refuses_internal_ones() {
    let receiver = Receiver::start();
    let home = Home::new();
    let admin;
    let (by_address, by_name);
    {
        let lenient = Server::start_in(home.clone(), &[ALLOW_PRIVATE]).await;
        admin = home.admin_token(None);
        by_address = register(&lenient, &admin, &receiver.url("/a"), &["token.created"])
            .await
            .0;
        let name = receiver.url("/n").replace("127.0.0.1", "localhost");
        by_name = register(&lenient, &admin, &name, &["token.created"])
            .await
            .0;
    }
    // The same endpoints, on a server that keeps to public addresses.
    let server = Server::start_in(home.clone(), &[]).await;
    for endpoint in [&by_address, &by_name] {
        let test = server
            .post(
                &format!("/v1/webhook-endpoints/{endpoint}/test"),
                &admin,
                &json!({}),
            )
            .await;
        assert_eq!(test.status(), 202);
    }
    for (endpoint, why) in [
        (&by_address, "refused: 127.0.0.1 is a loopback address"),
        (&by_name, "refused: localhost resolves to"),
    ] {
        let attempt = attempts(&server, &admin, endpoint, 1).await[0].clone();
        assert_eq!(attempt["delivered"], false);
        assert_eq!(attempt["status_code"], Value::Null);
        let error = attempt["error"].as_str().unwrap_or_default();
        assert!(error.contains(why) && error.contains("loopback"), "{error}");
    }
    assert!(
        receiver.get("/_control/arrivals").await.is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
#[cfg_attr(
    not(interop_tests),
    ignore = "needs the standardwebhooks package: set INFORMLY_TEST_INTEROP=1"
)]
async fn a_delivery_cut_by_kill_9_arrives_again_once_its_lease_ends() {
    let receiver = Receiver::start();
    receiver.behave(200, 3.0).await;
    let home = Home::new();
    // A 2 s timeout: a claim is held 6 s.
    let env = [ALLOW_PRIVATE, ("INFORMLY_WEBHOOK_TIMEOUT", "2s")];
    let mut first = Server::start_in(home.clone(), &env).await;
    let admin = home.admin_token(None);
    let (endpoint, secret) = register(&first, &admin, &receiver.url("/"), &ALL_EVENTS).await;
    receiver.secrets(&[&secret]).await;
    let test = first
        .post(
            &format!("/v1/webhook-endpoints/{endpoint}/test"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(test.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.get("/_control/arrivals").await.is_empty() {
        assert!(Instant::now() < deadline, "the delivery never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Mid-delivery: the receiver holds the request.
    first.kill();
    receiver.behave(200, 0.0).await;

    let second = Server::start_in(home.clone(), &env).await;
    let arrivals = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let arrivals = receiver.get("/_control/arrivals").await;
            if arrivals.len() >= 2 {
                break arrivals;
            }
            assert!(
                Instant::now() < deadline,
                "not delivered again: {arrivals:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert_eq!(
        arrivals[0], arrivals[1],
        "the same message, by its webhook-id"
    );
    let log = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert!(log.iter().all(|d| d["verified_by"] == json!([0])));
    let messages: Value = second
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/messages"),
            &admin,
        )
        .await
        .json()
        .await
        .expect("messages");
    assert_eq!(messages["data"][0]["state"], "delivered");
}

#[tokio::test]
#[cfg_attr(
    not(interop_tests),
    ignore = "needs the standardwebhooks package: set INFORMLY_TEST_INTEROP=1"
)]
async fn two_instances_deliver_every_message_once_in_order_and_never_at_once() {
    let receiver = Receiver::start();
    receiver.behave(200, 0.2).await;
    let home = Home::new();
    let a = Server::start_in(home.clone(), &[ALLOW_PRIVATE]).await;
    let b = Server::start_in(home.clone(), &[ALLOW_PRIVATE]).await;
    let admin = home.admin_token(None);
    let (_, secret) = register(&a, &admin, &receiver.url("/"), &["token.created"]).await;
    receiver.secrets(&[&secret]).await;
    let app = a.create_app(&admin, "crm").await;
    let mut issued = Vec::new();
    for i in 0..12 {
        let server = if i % 2 == 0 { &a } else { &b };
        let token = server
            .issue(&admin, &app, &["contacts:read"], "paseto")
            .await;
        issued.push(token["id"].as_str().expect("id").to_owned());
    }
    let log = receiver.wait_for(12, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log_after = receiver.log().await;
    assert_eq!(log_after.len(), 12, "each message once: {log_after:#?}");
    assert!(
        log.iter().all(|d| d["overlapping"] == false),
        "never two at once"
    );
    assert!(log.iter().all(|d| d["verified_by"] == json!([0])));
    let order: Vec<&str> = log
        .iter()
        .filter_map(|d| d["body"]["data"]["id"].as_str())
        .collect();
    assert_eq!(order, issued.iter().map(String::as_str).collect::<Vec<_>>());
    // One at a time: each began after the one before it ended.
    for pair in log.windows(2) {
        assert!(pair[1]["started"].as_f64() >= pair[0]["finished"].as_f64().map(|f| f - 0.01));
    }
}

// The deliverer driven by hand, on a clock the test moves.

const T0: i64 = 1_900_000_000;
const DAY: i64 = 86_400;

async fn instance(home: &Home, clock: Arc<ManualClock>) -> informly::server::Server {
    let url = home.database_url();
    let keys = home.keys_dir().display().to_string();
    informly::server::Server::from_flags(
        [
            "--database-url",
            &url,
            "--keys-dir",
            &keys,
            "--webhook-allow-private",
            "--revocation-staleness",
            "400d",
        ],
        clock,
    )
    .await
    .expect("instance")
}

/// A port nothing listens on: every attempt is refused at once.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

async fn endpoint_for(
    server: &informly::server::Server,
    actor: &Actor,
    events: &[&str],
) -> WebhookEndpointId {
    server
        .state
        .service()
        .create_webhook_endpoint(
            actor,
            EndpointRequest {
                url: format!("http://127.0.0.1:{}/", closed_port()),
                events: events.iter().map(|e| e.to_string()).collect(),
                description: None,
            },
        )
        .await
        .expect("endpoint")
        .endpoint
        .id
}

async fn default_actor(server: &informly::server::Server) -> Actor {
    let workspace = server
        .state
        .service()
        .ensure_default_workspace()
        .await
        .expect("workspace");
    Actor::cli(workspace.id)
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_the_schedule_for_a_day_then_disabled_after_five() {
    let home = Home::new();
    let clock = Arc::new(ManualClock::at(T0));
    let server = instance(&home, clock.clone()).await;
    let service = server.state.service();
    let actor = default_actor(&server).await;
    let endpoint = endpoint_for(&server, &actor, &["token.created"]).await;
    let message = service
        .test_webhook_endpoint(&actor, &endpoint)
        .await
        .expect("queued");
    let message_id = informly::ids::MessageId::parse(&message.id).expect("id");
    let deliverer = server.deliverer();

    let mut attempts = 0u32;
    loop {
        assert_eq!(deliverer.run_once().await.expect("ran"), 1, "due now");
        attempts += 1;
        let after = service
            .store()
            .webhook_message(actor.workspace(), &message_id)
            .await
            .expect("message");
        assert_eq!(after.attempts, i64::from(attempts));
        if after.state == "failed" {
            break;
        }
        assert_eq!(after.state, "pending");
        // The clock moves in whole seconds: the first one at or past it.
        let due = (after.next_attempt_at + 999_999) / 1_000_000;
        let waited = due - clock.unix();
        let planned = informly::webhooks::retry_delay(attempts).as_secs() as i64;
        assert!(
            (planned * 8 / 10 - 1..=planned * 12 / 10 + 1).contains(&waited),
            "attempt {attempts}: waited {waited} s, planned {planned} s ± 20 %"
        );
        // Not before it is due.
        clock.set(due - 1);
        assert_eq!(deliverer.run_once().await.expect("ran"), 0, "not yet due");
        clock.set(due);
    }
    assert!(
        (11..=15).contains(&attempts),
        "{attempts} attempts in a day"
    );
    assert!(clock.unix() - T0 <= DAY, "never retried past the day");
    let listed = service
        .webhook_attempts(&actor, &endpoint, None, 100)
        .await
        .expect("attempts");
    assert_eq!(listed.len(), attempts as usize);
    assert!(
        listed
            .iter()
            .all(|a| a.delivered == 0 && a.status_code.is_none())
    );
    assert!(
        listed[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("refused")),
        "{:?}",
        listed[0]
    );

    // Still failing five days after the first failure: disabled, and the
    // audit log says so.
    clock.set(T0 + 5 * DAY + 1);
    service
        .test_webhook_endpoint(&actor, &endpoint)
        .await
        .expect("queued");
    assert_eq!(deliverer.run_once().await.expect("ran"), 1);
    let disabled = service
        .webhook_endpoint(&actor, &endpoint)
        .await
        .expect("endpoint");
    assert!(!disabled.enabled);
    assert_eq!(
        disabled.disabled_reason.as_deref(),
        Some("every delivery failed for 5 days")
    );
    let events = service
        .audit_events(
            &actor,
            &informly::store::AuditFilter {
                action: Some("webhook_endpoint.disabled".to_owned()),
                ..Default::default()
            },
            10,
        )
        .await
        .expect("audit");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_type, "system");
    assert_eq!(events[0].target_id.as_deref(), Some(endpoint.as_str()));
}

#[tokio::test]
async fn token_expiring_is_queued_once_per_threshold_across_instances_and_a_restart() {
    let home = Home::new();
    let clock = Arc::new(ManualClock::at(T0));
    let a = instance(&home, clock.clone()).await;
    let b = instance(&home, clock.clone()).await;
    let actor = default_actor(&a).await;
    let service = a.state.service();
    let endpoint = endpoint_for(&a, &actor, &["token.expiring", "token.expired"]).await;
    let app: AppId = service
        .create_app(&actor, "crm", None)
        .await
        .expect("app")
        .id;
    let issue = |days: i64| {
        let app = app.clone();
        let actor = actor.clone();
        async move {
            service
                .issue_token(
                    &actor,
                    &app,
                    IssueRequest {
                        name: None,
                        scopes: vec!["contacts:read".to_owned()],
                        expiry: Expiry::In(days * DAY),
                        format: Format::Paseto,
                    },
                )
                .await
                .expect("issued")
                .record
        }
    };
    let month = issue(30).await;
    let revoked = issue(30).await;
    service
        .revoke_token(&actor, None, &revoked.id)
        .await
        .expect("revoked");

    // Both instances scan at each moment, at once; then one restarts.
    let both = || async {
        let (x, y) = tokio::join!(a.deliverer().scan_expiring(), b.deliverer().scan_expiring());
        x.expect("scan") + y.expect("scan")
    };
    let exp = month.expires_at;
    assert_eq!(both().await, 0);
    clock.set(exp - 14 * DAY + 1);
    // Issued with 10 days left: it never gets a 14-day notice.
    let ten_days = issue(10).await;
    assert_eq!(both().await, 1, "the 30-day token's 14-day notice");
    assert_eq!(both().await, 0, "once");
    let c = instance(&home, clock.clone()).await;
    assert_eq!(
        c.deliverer().scan_expiring().await.expect("scan"),
        0,
        "after a restart too"
    );
    clock.set(exp - 7 * DAY + 1);
    // 7 days left for the month token, 3 for the 10-day one: each queues its
    // 7-day notice (the most urgent due), the 10-day one once only.
    assert_eq!(both().await, 2);
    clock.set(exp - DAY + 1);
    // The 10-day token expired 3 days ago, unseen: not sent late.
    let (x, y) = tokio::join!(c.deliverer().scan_expiring(), b.deliverer().scan_expiring());
    assert_eq!(
        x.expect("scan") + y.expect("scan"),
        1,
        "the month token's last day"
    );
    clock.set(exp + 1);
    assert_eq!(both().await, 1, "the month token expired");
    assert_eq!(both().await, 0);

    let messages = service
        .webhook_messages(&actor, &endpoint, 100)
        .await
        .expect("messages");
    let mut notices: Vec<(String, i64, String)> = messages
        .iter()
        .map(|m| {
            let body: Value = serde_json::from_str(&m.body).expect("JSON");
            (
                body["data"]["id"].as_str().unwrap_or_default().to_owned(),
                body["data"]["days"].as_i64().unwrap_or(0),
                m.event_type.clone(),
            )
        })
        .collect();
    notices.reverse();
    let (m, t) = (month.id.to_string(), ten_days.id.to_string());
    assert_eq!(
        notices,
        [
            (m.clone(), 14, "token.expiring".to_owned()),
            // Same moment: in the order the scan found them.
            notices[1].clone(),
            notices[2].clone(),
            (m.clone(), 1, "token.expiring".to_owned()),
            (m.clone(), 0, "token.expired".to_owned()),
        ]
    );
    let mut sevens = [notices[1].clone(), notices[2].clone()];
    sevens.sort();
    let mut expected = [
        (m.clone(), 7, "token.expiring".to_owned()),
        (t.clone(), 7, "token.expiring".to_owned()),
    ];
    expected.sort();
    assert_eq!(sevens, expected);
    assert!(
        notices.iter().all(|(id, ..)| id != revoked.id.as_str()),
        "a revoked token is not warned of"
    );
}

#[tokio::test]
async fn a_change_whose_message_cannot_be_queued_is_not_made_and_records_no_event() {
    let home = Home::new();
    let clock = Arc::new(ManualClock::at(common::unix_now()));
    let server = instance(&home, clock).await;
    let actor = default_actor(&server).await;
    endpoint_for(&server, &actor, &["token.revoked"]).await;
    let app = home.run_json(&["apps", "create", "--name", "crm"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let issued = home.run_json(&[
        "tokens",
        "issue",
        "--app",
        &app,
        "--scope",
        "contacts:read",
        "--expires-in",
        "1h",
    ]);
    common::remember_secret(issued["token"].as_str().expect("token"));
    let refuse: &[&str] = match home.backend {
        common::Backend::Sqlite => &[
            "create trigger refuse_outbox before insert on webhook_messages \
             begin select raise(abort, 'the outbox refuses'); end",
        ],
        common::Backend::Postgres => &[
            "create function refuse_outbox() returns trigger language plpgsql as \
             $$ begin raise exception 'the outbox refuses'; end; $$",
            "create trigger refuse_outbox before insert on webhook_messages \
             for each row execute function refuse_outbox()",
        ],
    };
    home.execute(refuse).await;
    let before = home.content().await;
    let output = home
        .cli()
        .args(["tokens", "revoke", issued["id"].as_str().expect("id")])
        .output()
        .expect("run informly");
    assert!(!output.status.success(), "the revocation went through");
    let after = home.content().await;
    assert_eq!(
        common::content_diff(&before, &after),
        "",
        "neither the revocation nor its audit event was written"
    );
}

informly_postgres_twins! {
    tests: [
        each_change_reaches_the_receiver_signed_per_standard_webhooks_in_order,
        two_instances_deliver_every_message_once_in_order_and_never_at_once,
        a_delivery_cut_by_kill_9_arrives_again_once_its_lease_ends,
        a_failing_receiver_is_retried_on_the_schedule_for_a_day_then_disabled_after_five,
        token_expiring_is_queued_once_per_threshold_across_instances_and_a_restart,
        a_change_whose_message_cannot_be_queued_is_not_made_and_records_no_event,
    ],
    sqlite_only: [
        after_a_rotation_both_secrets_sign_and_only_subscribed_events_are_sent:
            "signing and subscriptions do not touch the database's dialect",
        registration_refuses_every_internal_address_class_without_the_flag:
            "the guard runs before any database write",
        delivery_checks_the_address_again_after_resolving_and_refuses_internal_ones:
            "the guard runs in the delivery client, whatever the database",
    ],
}
