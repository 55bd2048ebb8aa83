//! The audit log as stored: events appended in the transaction of the change
//! they record, chained per workspace by SHA-256 (see the migration).
//!
//! The chain is per workspace, not one for the whole database: each
//! workspace's log is read, filtered and kept on its own, and changes in
//! different workspaces never wait for one another's chain head.

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{Result, Store, Tx, from_micros, micros};
use crate::ids::WorkspaceId;

/// The `prev_hash` of a workspace's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub actor_type: &'static str,
    pub actor_id: String,
    pub action: &'static str,
    pub target: Option<(&'static str, String)>,
    pub request_id: Option<String>,
    pub client: Option<String>,
    /// `{field: [old, new]}` for an update.
    pub changes: Option<serde_json::Value>,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEvent {
    pub id: String,
    pub workspace_id: String,
    /// Its place in the workspace's chain.
    pub seq: i64,
    #[serde(skip)]
    pub occurred_at: i64,
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    pub client: Option<String>,
    /// JSON text, as hashed.
    #[serde(skip)]
    pub changes: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// When it happened.
    pub fn time(&self) -> OffsetDateTime {
        from_micros(self.occurred_at)
    }

    /// The fields that changed, `{field: [old, new]}`.
    pub fn changes(&self) -> Option<serde_json::Value> {
        self.changes
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
    }

    /// The hash this event's content and `prev_hash` give: what `hash` must
    /// be. The canonical content is a JSON array of every stored field but
    /// the hashes, in a fixed order.
    pub fn expected_hash(&self) -> String {
        let content = serde_json::json!([
            self.id,
            self.workspace_id,
            self.seq,
            self.occurred_at,
            self.actor_type,
            self.actor_id,
            self.action,
            self.target_type,
            self.target_id,
            self.request_id,
            self.client,
            self.changes,
        ]);
        let mut digest = Sha256::new();
        digest.update(self.prev_hash.as_bytes());
        digest.update(b"\n");
        digest.update(content.to_string().as_bytes());
        digest
            .finalize()
            .iter()
            .fold(String::with_capacity(64), |mut hex, byte| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{byte:02x}");
                hex
            })
    }
}

const COLUMNS: &str = "id, workspace_id, seq, occurred_at, actor_type, actor_id, action, target_type, \
     target_id, request_id, client, changes, prev_hash, hash";

impl Tx {
    /// Appends `event` to the workspace's chain, in this transaction: the
    /// change it records and the event commit together or not at all.
    pub async fn record_audit(
        &mut self,
        workspace_id: &WorkspaceId,
        event: NewEvent,
        now: OffsetDateTime,
    ) -> Result<AuditEvent> {
        // One statement makes the head if it is missing and locks it (an
        // update takes the row's lock on PostgreSQL; SQLite has one writer):
        // a concurrent writer waits here, then chains onto ours.
        let (last_seq, prev_hash): (i64, String) = sqlx::query_as(
            "insert into audit_heads (workspace_id, last_seq, last_hash) values ($1, 0, $2)
             on conflict (workspace_id) do update set last_seq = audit_heads.last_seq
             returning last_seq, last_hash",
        )
        .bind(workspace_id.as_str())
        .bind(GENESIS)
        .fetch_one(self.conn())
        .await?;
        let (target_type, target_id) = event.target.unzip();
        let mut recorded = AuditEvent {
            id: format!("evt_{}", ulid::Ulid::new()),
            workspace_id: workspace_id.to_string(),
            seq: last_seq + 1,
            occurred_at: micros(now),
            actor_type: event.actor_type.to_owned(),
            actor_id: event.actor_id,
            action: event.action.to_owned(),
            target_type: target_type.map(str::to_owned),
            target_id,
            request_id: event.request_id,
            client: event.client,
            changes: event.changes.map(|c| c.to_string()),
            prev_hash,
            hash: String::new(),
        };
        recorded.hash = recorded.expected_hash();
        sqlx::query(&format!(
            "insert into audit_events ({COLUMNS})
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&recorded.id)
        .bind(&recorded.workspace_id)
        .bind(recorded.seq)
        .bind(recorded.occurred_at)
        .bind(&recorded.actor_type)
        .bind(&recorded.actor_id)
        .bind(&recorded.action)
        .bind(&recorded.target_type)
        .bind(&recorded.target_id)
        .bind(&recorded.request_id)
        .bind(&recorded.client)
        .bind(&recorded.changes)
        .bind(&recorded.prev_hash)
        .bind(&recorded.hash)
        .execute(self.conn())
        .await?;
        sqlx::query("update audit_heads set last_seq = $1, last_hash = $2 where workspace_id = $3")
            .bind(recorded.seq)
            .bind(&recorded.hash)
            .bind(workspace_id.as_str())
            .execute(self.conn())
            .await?;
        Ok(recorded)
    }
}

/// Where a workspace's chain first fails to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The first event that does not verify.
    pub event_id: String,
    pub reason: &'static str,
}

/// Which events to read: each filter given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    /// The actor's id: a token id, an email, or `user@host`.
    pub actor: Option<String>,
    /// The target's id.
    pub target: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Only events before this place in the chain (a page's cursor).
    pub before: Option<i64>,
    /// Only events after this place in the chain (following the log).
    pub after: Option<i64>,
}

impl Store {
    /// The workspace's events matching `filter`, newest first (oldest first
    /// when following with `after`), at most `limit`.
    pub async fn find_audit_events(
        &self,
        workspace_id: &WorkspaceId,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let order = if filter.after.is_some() {
            "asc"
        } else {
            "desc"
        };
        Ok(sqlx::query_as(&format!(
            "select {COLUMNS} from audit_events
             where workspace_id = $1
               and ($2 is null or action = $2)
               and ($3 is null or actor_id = $3)
               and ($4 is null or target_id = $4)
               and ($5 is null or occurred_at >= $5)
               and ($6 is null or occurred_at < $6)
               and ($7 is null or seq < $7)
               and ($8 is null or seq > $8)
             order by seq {order} limit $9"
        ))
        .bind(workspace_id.as_str())
        .bind(filter.action.as_deref())
        .bind(filter.actor.as_deref())
        .bind(filter.target.as_deref())
        .bind(filter.since.map(micros))
        .bind(filter.until.map(micros))
        .bind(filter.before)
        .bind(filter.after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Deletes, in every workspace, the events recorded before `before`: a
    /// whole prefix of each chain, whose last event becomes the checkpoint
    /// the rest verifies from. Returns how many went.
    pub async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin().await?;
        let prefixes: Vec<(String, i64)> = sqlx::query_as(
            "select workspace_id, max(seq) from audit_events where occurred_at < $1
             group by workspace_id",
        )
        .bind(micros(before))
        .fetch_all(tx.conn())
        .await?;
        let mut pruned = 0;
        for (workspace_id, last) in prefixes {
            let (hash,): (String,) = sqlx::query_as(
                "select hash from audit_events where workspace_id = $1 and seq = $2",
            )
            .bind(&workspace_id)
            .bind(last)
            .fetch_one(tx.conn())
            .await?;
            sqlx::query(
                "update audit_heads set base_seq = $1, base_hash = $2 where workspace_id = $3",
            )
            .bind(last)
            .bind(&hash)
            .bind(&workspace_id)
            .execute(tx.conn())
            .await?;
            pruned += sqlx::query("delete from audit_events where workspace_id = $1 and seq <= $2")
                .bind(&workspace_id)
                .bind(last)
                .execute(tx.conn())
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(pruned)
    }

    /// The workspace's events, oldest first.
    pub async fn audit_events(&self, workspace_id: &WorkspaceId) -> Result<Vec<AuditEvent>> {
        Ok(sqlx::query_as(&format!(
            "select {COLUMNS} from audit_events where workspace_id = $1 order by seq"
        ))
        .bind(workspace_id.as_str())
        .fetch_all(self.pool())
        .await?)
    }

    /// Walks the workspace's chain from its start: each event's hash must be
    /// what its content gives, its `prev_hash` the hash before it, and the
    /// head must name the last one. Returns how many events verified, or the
    /// first break.
    pub async fn verify_audit(&self, workspace_id: &WorkspaceId) -> Result<Result<usize, Break>> {
        let events = self.audit_events(workspace_id).await?;
        let head: Option<(i64, String, i64, String)> = sqlx::query_as(
            "select last_seq, last_hash, base_seq, base_hash from audit_heads where workspace_id = $1",
        )
        .bind(workspace_id.as_str())
        .fetch_optional(self.pool())
        .await?;
        let (head_seq, head_hash, base_seq, base_hash) =
            head.unwrap_or((0, GENESIS.to_owned(), 0, GENESIS.to_owned()));
        // From the checkpoint retention left (the start, if none).
        let mut prev = base_hash;
        for (at, event) in (base_seq + 1..).zip(&events) {
            let reason = if event.seq != at || event.prev_hash != prev {
                Some("it does not follow the event before it (an event was removed or added)")
            } else if event.hash != event.expected_hash() {
                Some("its content does not match its hash (it was edited)")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Ok(Err(Break {
                    event_id: event.id.clone(),
                    reason,
                }));
            }
            prev = event.hash.clone();
        }
        if head_hash != prev || head_seq != base_seq + events.len() as i64 {
            return Ok(Err(Break {
                event_id: events
                    .last()
                    .map_or_else(|| "(none)".to_owned(), |e| e.id.clone()),
                reason: "the chain's head is not its last event (events at the end were removed)",
            }));
        }
        Ok(Ok(events.len()))
    }
}
