//! The deliverer: claims due messages with a lease, sends each signed, and
//! records the attempt and what follows (delivered, retried later, given
//! up; an endpoint failing for five days is disabled). It also makes the
//! `token.expiring` and `token.expired` messages, exactly once per token
//! and threshold.
//!
//! A process killed mid-delivery leaves its lease to run out; the message is
//! then claimable again and sent again (at least once: receivers dedupe by
//! `webhook-id`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::RngCore as _;
use serde_json::json;
use time::OffsetDateTime;

use super::guard::{GuardedResolver, check_address};
use super::{
    DISABLE_AFTER, EXPIRING_THRESHOLDS, EndpointSecret, MasterKey, jittered, retry_delay,
    signature_header,
};
use crate::clock::Clock;
use crate::ids::{AttemptId, WorkspaceId};
use crate::service::Actor;
use crate::store::{self, AttemptRecord, ClaimedMessage, ExpiryCandidate, Store};

/// `informly_webhook_delivery_attempts_total{result}`: `delivered`, `failed`
/// (retried later) or `given_up` (the last try).
pub const DELIVERY_ATTEMPTS: &str = "informly_webhook_delivery_attempts_total";

/// At most this much of a response body is kept.
pub const KEPT_RESPONSE: usize = 1024;

/// `token.expired` is sent for tokens that expired at most this long ago
/// (a service down for longer does not send it late).
const EXPIRED_LOOKBACK: time::Duration = time::Duration::days(1);

const DAY: i64 = 86_400;

#[derive(Debug, Clone)]
pub struct DelivererConfig {
    /// A receiver must answer within this (10 s).
    pub timeout: Duration,
    /// Deliver to private addresses (`--webhook-allow-private`).
    pub allow_private: bool,
    /// Endpoints delivered to at once.
    pub concurrency: usize,
    /// Messages of one endpoint claimed together and sent one after another.
    pub run: usize,
}

impl Default for DelivererConfig {
    fn default() -> DelivererConfig {
        DelivererConfig {
            timeout: Duration::from_secs(10),
            allow_private: false,
            concurrency: 32,
            run: 16,
        }
    }
}

/// Cheap to clone: each delivery runs in a task of its own.
#[derive(Clone)]
pub struct Deliverer {
    store: Store,
    clock: Arc<dyn Clock>,
    key: Arc<MasterKey>,
    client: reqwest::Client,
    /// This process's name on the leases it takes.
    owner: Arc<str>,
    config: DelivererConfig,
}

impl Deliverer {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        key: Arc<MasterKey>,
        config: DelivererConfig,
    ) -> Result<Deliverer, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: config.allow_private,
            }))
            .user_agent(concat!("Informly-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Deliverer {
            store,
            clock,
            key,
            client,
            owner: format!("dlv_{}", ulid::Ulid::new()).into(),
            config,
        })
    }

    /// How long a claim holds a message: three times the timeout, ample for
    /// an attempt and its record.
    fn lease(&self) -> time::Duration {
        time::Duration::try_from(self.config.timeout * 3).unwrap_or(time::Duration::MINUTE)
    }

    /// Claims the messages due now and delivers them: each endpoint's run in
    /// order, one at a time, the endpoints concurrently; then records every
    /// attempt in one transaction. Returns how many were claimed.
    pub async fn run_once(&self) -> store::Result<usize> {
        let now = self.clock.now();
        let claimed = self
            .store
            .claim_webhook_messages(
                &self.owner,
                now,
                now + self.lease(),
                self.config.run as i64,
                (self.config.concurrency * self.config.run) as i64,
            )
            .await?;
        let count = claimed.len();
        let mut runs: Vec<Vec<ClaimedMessage>> = Vec::new();
        for message in claimed {
            match runs.last_mut() {
                Some(run) if run[0].endpoint_id == message.endpoint_id => run.push(message),
                _ => runs.push(vec![message]),
            }
        }
        let mut deliveries = tokio::task::JoinSet::new();
        for run in runs {
            let this = self.clone();
            deliveries.spawn(async move { this.deliver_run(run).await });
        }
        let mut outcomes = Vec::with_capacity(count);
        while let Some(done) = deliveries.join_next().await {
            // A delivery task that panicked leaves its messages to their
            // lease: they are claimed again when it ends.
            if let Ok(run) = done {
                outcomes.extend(run);
            }
        }
        self.record(outcomes).await?;
        Ok(count)
    }

    /// Delivers one endpoint's run in order, stopping at the first failure
    /// (what follows waits its turn) or when the lease would run short of
    /// another attempt. `None`: not attempted.
    async fn deliver_run(
        &self,
        run: Vec<ClaimedMessage>,
    ) -> Vec<(ClaimedMessage, Option<AttemptRecord>)> {
        let started = Instant::now();
        // The lease is three timeouts: a run starts a new attempt only while
        // one more (at most a timeout) and the round's record still fit.
        let budget = self.config.timeout;
        let mut stop = false;
        let mut outcomes = Vec::with_capacity(run.len());
        for message in run {
            if stop || started.elapsed() > budget {
                outcomes.push((message, None));
                continue;
            }
            let attempt = self.attempt(&message).await;
            stop = !attempt.delivered;
            outcomes.push((message, Some(attempt)));
        }
        outcomes
    }

    /// One attempt at a claimed message, and what follows from it.
    async fn attempt(&self, message: &ClaimedMessage) -> AttemptRecord {
        let id = AttemptId::generate();
        let attempted_at = self.clock.now();
        let started = Instant::now();
        let outcome = self.send(message, attempted_at.unix_timestamp()).await;
        let duration_ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
        let (status_code, response_body, error) = match outcome {
            Ok((status, body)) => (Some(status), Some(body), None),
            Err(error) => (None, None, Some(error)),
        };
        let delivered = status_code.is_some_and(|s| (200..300).contains(&s));
        let retry_at = (!delivered)
            .then(|| {
                let failed = u32::try_from(message.attempts + 1).unwrap_or(u32::MAX);
                let delay = jittered(retry_delay(failed), unit_random());
                attempted_at + time::Duration::try_from(delay).unwrap_or(time::Duration::HOUR)
            })
            .filter(|at| store::micros(*at) < message.give_up_at);
        AttemptRecord {
            id,
            attempted_at,
            duration_ms,
            status_code,
            error,
            response_body,
            delivered,
            retry_at,
        }
    }

    /// Records the attempts of one round, and gives back what was not
    /// attempted, in one transaction; disables an endpoint that has failed
    /// for five days, with its audit event.
    async fn record(
        &self,
        outcomes: Vec<(ClaimedMessage, Option<AttemptRecord>)>,
    ) -> store::Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin().await?;
        for (message, attempt) in outcomes {
            let Some(attempt) = attempt else {
                tx.release_webhook_message(&message.id, &self.owner).await?;
                continue;
            };
            let failing_since = tx
                .record_webhook_attempt(&message, &self.owner, &attempt)
                .await?;
            let result = match (attempt.delivered, attempt.retry_at) {
                (true, _) => "delivered",
                (false, Some(_)) => "failed",
                (false, None) => "given_up",
            };
            metrics::counter!(DELIVERY_ATTEMPTS, "result" => result).increment(1);
            let at = attempt.attempted_at;
            if let Some(since) = failing_since
                && at - since >= DISABLE_AFTER
                && tx
                    .disable_webhook_endpoint(
                        &message.endpoint_id,
                        "every delivery failed for 5 days",
                        at,
                    )
                    .await?
            {
                let workspace = WorkspaceId::trusted(message.workspace_id.clone());
                let actor = Actor::System {
                    workspace: workspace.clone(),
                };
                let mut event = actor.event(
                    "webhook_endpoint.disabled",
                    Some(("webhook_endpoint", message.endpoint_id.clone())),
                );
                event.changes = Some(json!({"enabled": [true, false]}));
                tx.record_audit(&workspace, event, at).await?;
            }
        }
        tx.commit().await
    }

    /// Sends the message: the response's status and up to 1 KiB of its
    /// body, or why no response came.
    async fn send(
        &self,
        message: &ClaimedMessage,
        timestamp: i64,
    ) -> Result<(u16, String), String> {
        let url = url::Url::parse(&message.url).map_err(|e| format!("bad URL: {e}"))?;
        // An address written in the URL is never resolved: check it here
        // (names are checked by the client's resolver, on what they
        // resolve to now).
        if !self.config.allow_private
            && let Some(ip) = literal_address(&url)
            && let Some(class) = check_address(ip)
        {
            return Err(format!(
                "refused: {ip} is a {class} address; only public addresses are accepted"
            ));
        }
        let signature = signature_header(
            &self.secrets(message),
            &message.id,
            timestamp,
            &message.body,
        );
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.clone());
        let exchange = async {
            let mut response = request.send().await.map_err(describe)?;
            let status = response.status().as_u16();
            let mut kept = Vec::new();
            while kept.len() < KEPT_RESPONSE {
                match response.chunk().await {
                    Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                    // The status is the answer: a body cut short is kept as is.
                    Ok(None) | Err(_) => break,
                }
            }
            kept.truncate(KEPT_RESPONSE);
            Ok((status, String::from_utf8_lossy(&kept).into_owned()))
        };
        tokio::time::timeout(self.config.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {} s",
                    self.config.timeout.as_secs()
                ))
            })
    }

    /// The secrets that sign the message: the current one, and the previous
    /// one while a rotation's overlap runs.
    fn secrets(&self, message: &ClaimedMessage) -> Vec<EndpointSecret> {
        let now = store::micros(self.clock.now());
        let mut secrets = vec![
            self.key
                .endpoint_secret(&message.endpoint_id, message.secret_version),
        ];
        if message.secret_version > 1 && message.previous_secret_until.is_some_and(|t| t > now) {
            secrets.push(
                self.key
                    .endpoint_secret(&message.endpoint_id, message.secret_version - 1),
            );
        }
        secrets
    }

    /// Queues `token.expiring` for tokens that crossed a threshold (14, 7 or
    /// 1 days before `exp`) and `token.expired` for those that expired,
    /// each once per token. Only the most urgent threshold due is sent: one
    /// crossed while the service was down is passed over, not sent late.
    /// A threshold that came before the token existed is never sent.
    pub async fn scan_expiring(&self) -> store::Result<usize> {
        let now = self.clock.now();
        let horizon = time::Duration::days(EXPIRING_THRESHOLDS[0]);
        let candidates = self
            .store
            .expiry_candidates(now, horizon, EXPIRED_LOOKBACK)
            .await?;
        let mut queued = 0;
        for token in candidates {
            if self.notice(&token, now).await? {
                queued += 1;
            }
        }
        Ok(queued)
    }

    async fn notice(&self, token: &ExpiryCandidate, now: OffsetDateTime) -> store::Result<bool> {
        let left = token.expires_at_s - now.unix_timestamp();
        let due = if left <= 0 {
            0
        } else {
            match EXPIRING_THRESHOLDS
                .iter()
                .rev()
                .find(|&&days| left <= days * DAY)
            {
                Some(&days) => days,
                None => return Ok(false),
            }
        };
        if token.noticed.is_some_and(|noticed| noticed <= due) {
            return Ok(false);
        }
        // A threshold that came before the token existed is never sent, and
        // nothing is written for it (the next scan skips it just as cheaply).
        if due > 0 && token.issued_at_s > token.expires_at_s - due * DAY {
            return Ok(false);
        }
        let passed_over: Vec<i64> = EXPIRING_THRESHOLDS
            .into_iter()
            .filter(|&days| days > due)
            .collect();
        let mut tx = self.store.begin().await?;
        if !tx.notice_expiry(&token.id, due, &passed_over, now).await? {
            tx.commit().await?;
            return Ok(false);
        }
        let expires_at = crate::clock::rfc3339(token.expires_at_s);
        let (event_type, data) = match due {
            0 => (
                "token.expired",
                json!({"id": token.id, "app_id": token.app_id, "name": token.name,
                       "expired_at": expires_at}),
            ),
            days => (
                "token.expiring",
                json!({"id": token.id, "app_id": token.app_id, "name": token.name,
                       "expires_at": expires_at, "days": days}),
            ),
        };
        let workspace = WorkspaceId::trusted(token.workspace_id.clone());
        let body = super::body(event_type, now, data);
        tx.enqueue_webhook(Some(&workspace), event_type, &body, now)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn literal_address(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Why a request got no response, in one line: the guard's refusal, a
/// timeout, or the innermost cause (connection refused, TLS, …).
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut cause: &dyn std::error::Error = &error;
    while let Some(source) = cause.source() {
        if let Some(refused) = source.downcast_ref::<super::Refused>() {
            return format!("refused: {refused}");
        }
        cause = source;
    }
    cause.to_string()
}

/// A uniform number in [0, 1), for jitter.
fn unit_random() -> f64 {
    f64::from(rand_core::OsRng.next_u32()) / (f64::from(u32::MAX) + 1.0)
}
