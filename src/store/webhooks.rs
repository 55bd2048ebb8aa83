//! Webhooks as stored: endpoints, the outbox of messages (one per event and
//! endpoint, in the endpoint's order), delivery attempts, and the expiry
//! notices that make `token.expiring` exactly once.
//!
//! Delivery claims messages with a lease: a run from the first pending
//! message of each enabled endpoint, and only while no lease on it runs, so
//! an endpoint gets its messages one at a time, in order, from whichever
//! instance claimed them. On PostgreSQL the claim skips rows another
//! instance's claim holds (`FOR UPDATE SKIP LOCKED`); SQLite has one writer.

use time::OffsetDateTime;

use super::{Backend, Error, Result, Store, Tx, from_micros, micros};
use crate::ids::{AttemptId, MessageId, WebhookEndpointId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub description: Option<String>,
    /// The events it subscribes to, in the order of [`crate::webhooks::EVENTS`].
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the service disabled it (an admin's disabling has none).
    pub disabled_reason: Option<String>,
    /// The signing secret's generation.
    pub secret_version: i64,
    /// Until then the previous generation signs beside the current one.
    pub previous_secret_until: Option<OffsetDateTime>,
    /// Deliveries have failed since then (none since the last success).
    pub failing_since: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    workspace_id: String,
    url: String,
    description: Option<String>,
    events: String,
    enabled: i64,
    disabled_reason: Option<String>,
    secret_version: i64,
    previous_secret_until: Option<i64>,
    failing_since: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookEndpointId::trusted(row.id),
            workspace_id: WorkspaceId::trusted(row.workspace_id),
            url: row.url,
            description: row.description,
            events: row
                .events
                .split(',')
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect(),
            enabled: row.enabled != 0,
            disabled_reason: row.disabled_reason,
            secret_version: row.secret_version,
            previous_secret_until: row.previous_secret_until.map(from_micros),
            failing_since: row.failing_since.map(from_micros),
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
        }
    }
}

const ENDPOINT_COLUMNS: &str = "id, workspace_id, url, description, events, enabled, \
     disabled_reason, secret_version, previous_secret_until, failing_since, created_at, updated_at";

/// `events` as stored: delimited on both sides, so `like '%,name,%'` finds
/// exactly one name (event names hold no comma, `%` or `_`).
fn stored_events(events: &[&str]) -> String {
    format!(",{},", events.join(","))
}

/// A change to an endpoint: each field given is set, the others kept.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch<'a> {
    pub url: Option<&'a str>,
    pub events: Option<&'a [&'a str]>,
    pub description: Option<Option<&'a str>>,
    pub enabled: Option<bool>,
}

/// A message claimed for delivery, with what the attempt needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedMessage {
    pub id: String,
    pub workspace_id: String,
    pub endpoint_id: String,
    pub seq: i64,
    pub event_type: String,
    pub body: String,
    pub attempts: i64,
    pub give_up_at: i64,
    pub url: String,
    pub secret_version: i64,
    pub previous_secret_until: Option<i64>,
}

/// A message as the deliveries view shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookMessage {
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub body: String,
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookAttempt {
    pub id: String,
    pub message_id: String,
    pub event_type: String,
    pub attempted_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub delivered: i64,
}

impl WebhookAttempt {
    pub fn time(&self) -> OffsetDateTime {
        from_micros(self.attempted_at)
    }
}

/// What an attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// Made when the attempt began: attempts sort in the order they were made.
    pub id: AttemptId,
    pub attempted_at: OffsetDateTime,
    pub duration_ms: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub response_body: Option<String>,
    /// Delivered (a 2xx); otherwise retried at `retry_at`, or given up when
    /// that is `None`.
    pub delivered: bool,
    pub retry_at: Option<OffsetDateTime>,
}

/// A token to warn of: accepted, not revoked, expiring soon or just expired.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpiryCandidate {
    pub id: String,
    pub workspace_id: String,
    pub app_id: String,
    pub name: Option<String>,
    pub issued_at_s: i64,
    pub expires_at_s: i64,
    /// The smallest threshold already noticed (none yet: `None`).
    pub noticed: Option<i64>,
}

impl Tx {
    /// Registers an endpoint; its values must already be checked.
    pub async fn create_webhook_endpoint(
        &mut self,
        workspace_id: &WorkspaceId,
        url: &str,
        description: Option<&str>,
        events: &[&str],
        now: OffsetDateTime,
    ) -> Result<WebhookEndpoint> {
        let row: EndpointRow = sqlx::query_as(&format!(
            "insert into webhook_endpoints (id, workspace_id, url, description, events, enabled,
                secret_version, last_seq, created_at, updated_at)
             values ($1, $2, $3, $4, $5, 1, 1, 0, $6, $6) returning {ENDPOINT_COLUMNS}"
        ))
        .bind(WebhookEndpointId::generate().as_str())
        .bind(workspace_id.as_str())
        .bind(url)
        .bind(description)
        .bind(stored_events(events))
        .bind(micros(now))
        .fetch_one(self.conn())
        .await?;
        Ok(row.into())
    }

    /// Changes the fields `patch` gives, in one statement. Enabling clears
    /// the failure record (a fresh start); disabling by hand leaves no
    /// reason.
    pub async fn update_webhook_endpoint(
        &mut self,
        workspace_id: &WorkspaceId,
        id: &WebhookEndpointId,
        patch: &EndpointPatch<'_>,
        now: OffsetDateTime,
    ) -> Result<WebhookEndpoint> {
        let row: Option<EndpointRow> = sqlx::query_as(&format!(
            "update webhook_endpoints set
                url = coalesce($1, url),
                events = coalesce($2, events),
                description = case when $3 = 1 then $4 else description end,
                enabled = coalesce($5, enabled),
                disabled_reason = case when $5 is null then disabled_reason else null end,
                failing_since = case when $5 = 1 then null else failing_since end,
                updated_at = $6
             where workspace_id = $7 and id = $8
             returning {ENDPOINT_COLUMNS}"
        ))
        .bind(patch.url)
        .bind(patch.events.map(stored_events))
        .bind(i64::from(patch.description.is_some()))
        .bind(patch.description.flatten())
        .bind(patch.enabled.map(i64::from))
        .bind(micros(now))
        .bind(workspace_id.as_str())
        .bind(id.as_str())
        .fetch_optional(self.conn())
        .await?;
        row.map(WebhookEndpoint::from)
            .ok_or_else(|| Error::not_found(WebhookEndpointId::WHAT, id))
    }

    /// Starts a new secret generation; the previous one keeps signing until
    /// `previous_until`.
    pub async fn rotate_webhook_secret(
        &mut self,
        workspace_id: &WorkspaceId,
        id: &WebhookEndpointId,
        previous_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<WebhookEndpoint> {
        let row: Option<EndpointRow> = sqlx::query_as(&format!(
            "update webhook_endpoints set secret_version = secret_version + 1,
                previous_secret_until = $1, updated_at = $2
             where workspace_id = $3 and id = $4 returning {ENDPOINT_COLUMNS}"
        ))
        .bind(micros(previous_until))
        .bind(micros(now))
        .bind(workspace_id.as_str())
        .bind(id.as_str())
        .fetch_optional(self.conn())
        .await?;
        row.map(WebhookEndpoint::from)
            .ok_or_else(|| Error::not_found(WebhookEndpointId::WHAT, id))
    }

    /// Deletes an endpoint with its messages and attempts.
    pub async fn delete_webhook_endpoint(
        &mut self,
        workspace_id: &WorkspaceId,
        id: &WebhookEndpointId,
    ) -> Result<()> {
        for table in ["webhook_attempts", "webhook_messages"] {
            sqlx::query(&format!(
                "delete from {table} where endpoint_id = $1 and workspace_id = $2"
            ))
            .bind(id.as_str())
            .bind(workspace_id.as_str())
            .execute(self.conn())
            .await?;
        }
        let deleted =
            sqlx::query("delete from webhook_endpoints where id = $1 and workspace_id = $2")
                .bind(id.as_str())
                .bind(workspace_id.as_str())
                .execute(self.conn())
                .await?;
        if deleted.rows_affected() == 0 {
            return Err(Error::not_found(WebhookEndpointId::WHAT, id));
        }
        Ok(())
    }

    /// Queues `body` (an event of `event_type`) for every enabled endpoint
    /// subscribed to it: in `workspace`, or in every workspace for events
    /// of the whole service (keys). Returns how many messages were queued.
    pub async fn enqueue_webhook(
        &mut self,
        workspace: Option<&WorkspaceId>,
        event_type: &str,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<usize> {
        // Taking the next place in each endpoint's order locks its row until
        // commit: messages of one endpoint commit in the order of `seq`.
        let endpoints: Vec<(String, String, i64)> = sqlx::query_as(
            "update webhook_endpoints set last_seq = last_seq + 1
             where ($1 is null or workspace_id = $1) and enabled = 1 and events like $2
             returning id, workspace_id, last_seq",
        )
        .bind(workspace.map(WorkspaceId::as_str))
        .bind(format!("%,{event_type},%"))
        .fetch_all(self.conn())
        .await?;
        for (endpoint, workspace_id, seq) in &endpoints {
            self.insert_message(workspace_id, endpoint, *seq, event_type, body, now)
                .await?;
        }
        Ok(endpoints.len())
    }

    /// Queues `body` for one endpoint, whatever it subscribes to (a test
    /// message). Returns the message's id.
    pub async fn enqueue_webhook_to(
        &mut self,
        workspace_id: &WorkspaceId,
        endpoint: &WebhookEndpointId,
        event_type: &str,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<MessageId> {
        let (seq,): (i64,) = sqlx::query_as(
            "update webhook_endpoints set last_seq = last_seq + 1
             where workspace_id = $1 and id = $2 returning last_seq",
        )
        .bind(workspace_id.as_str())
        .bind(endpoint.as_str())
        .fetch_optional(self.conn())
        .await?
        .ok_or_else(|| Error::not_found(WebhookEndpointId::WHAT, endpoint))?;
        self.insert_message(
            workspace_id.as_str(),
            endpoint.as_str(),
            seq,
            event_type,
            body,
            now,
        )
        .await
    }

    async fn insert_message(
        &mut self,
        workspace_id: &str,
        endpoint: &str,
        seq: i64,
        event_type: &str,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<MessageId> {
        let id = MessageId::generate();
        sqlx::query(
            "insert into webhook_messages (id, workspace_id, endpoint_id, seq, event_type, body,
                created_at, state, attempts, next_attempt_at, give_up_at, lease_until)
             values ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $7, $8, 0)",
        )
        .bind(id.as_str())
        .bind(workspace_id)
        .bind(endpoint)
        .bind(seq)
        .bind(event_type)
        .bind(body)
        .bind(micros(now))
        .bind(micros(now + crate::webhooks::RETRY_FOR))
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    /// Queues a message again, as it was (same id and body), to be sent at
    /// once and retried for another day.
    pub async fn resend_webhook_message(
        &mut self,
        workspace_id: &WorkspaceId,
        endpoint: &WebhookEndpointId,
        message: &MessageId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let updated = sqlx::query(
            "update webhook_messages set state = 'pending', next_attempt_at = $1, give_up_at = $2
             where workspace_id = $3 and endpoint_id = $4 and id = $5",
        )
        .bind(micros(now))
        .bind(micros(now + crate::webhooks::RETRY_FOR))
        .bind(workspace_id.as_str())
        .bind(endpoint.as_str())
        .bind(message.as_str())
        .execute(self.conn())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::not_found(MessageId::WHAT, message));
        }
        Ok(())
    }

    /// Records that `threshold` (and every larger one, passed over) was
    /// noticed for `token`. Returns whether `threshold` is new: then, and
    /// only then, its message is queued in this transaction.
    pub async fn notice_expiry(
        &mut self,
        token: &str,
        threshold: i64,
        passed_over: &[i64],
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut new = false;
        for (i, t) in std::iter::once(threshold)
            .chain(passed_over.iter().copied())
            .enumerate()
        {
            let inserted = sqlx::query(
                "insert into webhook_expiry_notices (token_id, threshold, noticed_at)
                 values ($1, $2, $3) on conflict (token_id, threshold) do nothing",
            )
            .bind(token)
            .bind(t)
            .bind(micros(now))
            .execute(self.conn())
            .await?
            .rows_affected();
            if i == 0 {
                new = inserted == 1;
                if !new {
                    return Ok(false);
                }
            }
        }
        Ok(new)
    }

    /// Records an attempt at a message this instance holds the lease of,
    /// and its outcome: delivered, to retry, or given up. Keeps the
    /// endpoint's failure record; returns when its failures began (`None`
    /// after a delivery).
    pub async fn record_webhook_attempt(
        &mut self,
        message: &ClaimedMessage,
        owner: &str,
        attempt: &AttemptRecord,
    ) -> Result<Option<OffsetDateTime>> {
        let at = micros(attempt.attempted_at);
        // Nothing, if the endpoint was deleted while its message was out.
        sqlx::query(
            "insert into webhook_attempts (id, message_id, endpoint_id, workspace_id, attempted_at,
                duration_ms, status_code, error, response_body, delivered)
             select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
             where exists (select 1 from webhook_endpoints where id = $3)",
        )
        .bind(attempt.id.as_str())
        .bind(&message.id)
        .bind(&message.endpoint_id)
        .bind(&message.workspace_id)
        .bind(at)
        .bind(attempt.duration_ms)
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.error.as_deref())
        .bind(attempt.response_body.as_deref())
        .bind(i64::from(attempt.delivered))
        .execute(self.conn())
        .await?;
        let state = match (attempt.delivered, attempt.retry_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        // Only while the lease is ours: past it, another instance may have
        // claimed the message, and its outcome is the one that counts.
        sqlx::query(
            "update webhook_messages set state = $1, attempts = attempts + 1,
                next_attempt_at = coalesce($2, next_attempt_at), lease_until = 0, lease_owner = null,
                delivered_at = case when $1 = 'delivered' then $3 else delivered_at end
             where id = $4 and lease_owner = $5",
        )
        .bind(state)
        .bind(attempt.retry_at.map(micros))
        .bind(at)
        .bind(&message.id)
        .bind(owner)
        .execute(self.conn())
        .await?;
        let failing_since: Option<(Option<i64>,)> = sqlx::query_as(
            "update webhook_endpoints set failing_since =
                case when $1 = 1 then null else coalesce(failing_since, $2) end
             where id = $3 returning failing_since",
        )
        .bind(i64::from(attempt.delivered))
        .bind(at)
        .bind(&message.endpoint_id)
        .fetch_optional(self.conn())
        .await?;
        Ok(failing_since.and_then(|(since,)| since).map(from_micros))
    }

    /// Gives back a claimed message not attempted (one before it failed,
    /// or the lease ran short): claimable again at once.
    pub async fn release_webhook_message(&mut self, message: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "update webhook_messages set lease_until = 0, lease_owner = null
             where id = $1 and lease_owner = $2",
        )
        .bind(message)
        .bind(owner)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Disables an endpoint the service gave up on, saying why.
    pub async fn disable_webhook_endpoint(
        &mut self,
        endpoint: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "update webhook_endpoints set enabled = 0, disabled_reason = $1, updated_at = $2
             where id = $3 and enabled = 1",
        )
        .bind(reason)
        .bind(micros(now))
        .bind(endpoint)
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1)
    }
}

impl Store {
    pub async fn webhook_endpoints(
        &self,
        workspace_id: &WorkspaceId,
    ) -> Result<Vec<WebhookEndpoint>> {
        let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
            "select {ENDPOINT_COLUMNS} from webhook_endpoints where workspace_id = $1
             order by created_at, id"
        ))
        .bind(workspace_id.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(WebhookEndpoint::from).collect())
    }

    pub async fn webhook_endpoint(
        &self,
        workspace_id: &WorkspaceId,
        id: &WebhookEndpointId,
    ) -> Result<WebhookEndpoint> {
        let row: Option<EndpointRow> = sqlx::query_as(&format!(
            "select {ENDPOINT_COLUMNS} from webhook_endpoints where workspace_id = $1 and id = $2"
        ))
        .bind(workspace_id.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(WebhookEndpoint::from)
            .ok_or_else(|| Error::not_found(WebhookEndpointId::WHAT, id))
    }

    /// Claims messages for `owner` until `lease_until`: of each enabled
    /// endpoint whose first pending message is due at `now` and not leased,
    /// that message and up to `run - 1` more behind it, in order; at most
    /// `limit` in all, the endpoints waiting longest first.
    pub async fn claim_webhook_messages(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        run: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedMessage>> {
        let lock = match self.backend() {
            Backend::Postgres => "for update of m skip locked",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        let mut claimed: Vec<ClaimedMessage> = sqlx::query_as(&format!(
            "update webhook_messages set lease_until = $1, lease_owner = $2
             where id in (
                select m.id from webhook_messages m
                join webhook_endpoints e on e.id = m.endpoint_id
                join (select endpoint_id, min(seq) as seq from webhook_messages
                      where state = 'pending' group by endpoint_id) head
                    on head.endpoint_id = m.endpoint_id
                join webhook_messages h on h.endpoint_id = head.endpoint_id and h.seq = head.seq
                where m.state = 'pending' and e.enabled = 1
                  and h.next_attempt_at <= $3 and h.lease_until <= $3
                  and m.seq >= h.seq and m.seq < h.seq + $4 and m.lease_until <= $3
                order by h.next_attempt_at, m.endpoint_id, m.seq
                limit $5
                {lock})
             returning id, workspace_id, endpoint_id, seq, event_type, body, attempts, give_up_at,
                (select url from webhook_endpoints e where e.id = endpoint_id) as url,
                (select secret_version from webhook_endpoints e where e.id = endpoint_id) as secret_version,
                (select previous_secret_until from webhook_endpoints e where e.id = endpoint_id)
                    as previous_secret_until"
        ))
        .bind(micros(lease_until))
        .bind(owner)
        .bind(micros(now))
        .bind(run)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        claimed.sort_by(|a, b| (&a.endpoint_id, a.seq).cmp(&(&b.endpoint_id, b.seq)));
        Ok(claimed)
    }

    /// One message of the workspace.
    pub async fn webhook_message(
        &self,
        workspace_id: &WorkspaceId,
        id: &MessageId,
    ) -> Result<WebhookMessage> {
        sqlx::query_as(
            "select id, endpoint_id, event_type, body, state, attempts, created_at,
                next_attempt_at, delivered_at
             from webhook_messages where workspace_id = $1 and id = $2",
        )
        .bind(workspace_id.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| Error::not_found(MessageId::WHAT, id))
    }

    /// An endpoint's messages, newest first.
    pub async fn webhook_messages(
        &self,
        workspace_id: &WorkspaceId,
        endpoint: &WebhookEndpointId,
        limit: i64,
    ) -> Result<Vec<WebhookMessage>> {
        Ok(sqlx::query_as(
            "select id, endpoint_id, event_type, body, state, attempts, created_at,
                next_attempt_at, delivered_at
             from webhook_messages where workspace_id = $1 and endpoint_id = $2
             order by seq desc limit $3",
        )
        .bind(workspace_id.as_str())
        .bind(endpoint.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// An endpoint's delivery attempts, newest first, before the attempt
    /// `before` (a page's cursor).
    pub async fn webhook_attempts(
        &self,
        workspace_id: &WorkspaceId,
        endpoint: &WebhookEndpointId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WebhookAttempt>> {
        Ok(sqlx::query_as(
            "select a.id, a.message_id, m.event_type, a.attempted_at, a.duration_ms,
                a.status_code, a.error, a.response_body, a.delivered
             from webhook_attempts a join webhook_messages m on m.id = a.message_id
             where a.workspace_id = $1 and a.endpoint_id = $2 and ($3 is null or a.id < $3)
             order by a.id desc limit $4",
        )
        .bind(workspace_id.as_str())
        .bind(endpoint.as_str())
        .bind(before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Messages not yet delivered nor given up, and the oldest one's queue
    /// time: the outbox's depth and age.
    pub async fn webhook_backlog(&self) -> Result<(i64, Option<OffsetDateTime>)> {
        let (depth, oldest): (i64, Option<i64>) = sqlx::query_as(
            "select count(*), min(created_at) from webhook_messages where state = 'pending'",
        )
        .fetch_one(self.pool())
        .await?;
        Ok((depth, oldest.map(from_micros)))
    }

    /// App tokens, not revoked, that expire within `horizon` of `now` or
    /// expired less than `lookback` ago, with the thresholds noticed so far.
    pub async fn expiry_candidates(
        &self,
        now: OffsetDateTime,
        horizon: time::Duration,
        lookback: time::Duration,
    ) -> Result<Vec<ExpiryCandidate>> {
        Ok(sqlx::query_as(
            "select t.id, t.workspace_id, t.app_id, t.name, t.issued_at_s, t.expires_at_s,
                (select min(n.threshold) from webhook_expiry_notices n where n.token_id = t.id)
                    as noticed
             from tokens t
             where t.app_id is not null and t.revoked_at is null
               and t.expires_at_s <= $1 and t.expires_at_s > $2",
        )
        .bind((now + horizon).unix_timestamp())
        .bind((now - lookback).unix_timestamp())
        .fetch_all(self.pool())
        .await?)
    }

    /// Deletes the expiry notices of tokens that expired before
    /// `tokens_expired_before` or are gone: none can be due again.
    pub async fn prune_expiry_notices(&self, tokens_expired_before: OffsetDateTime) -> Result<u64> {
        Ok(sqlx::query(
            "delete from webhook_expiry_notices where token_id in
                (select id from tokens where expires_at_s < $1)
             or token_id not in (select id from tokens)",
        )
        .bind(tokens_expired_before.unix_timestamp())
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}
