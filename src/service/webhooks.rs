//! Webhook endpoints (register, change, delete, rotate the secret, test,
//! resend), and the messages the other changes queue: each in the
//! transaction of its change, beside its audit event.

use serde_json::{Value, json};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Actor, Error, Result, Service, invalid};
use crate::ids::{MessageId, WebhookEndpointId, WorkspaceId};
use crate::store::{self, EndpointPatch, Tx, WebhookAttempt, WebhookEndpoint, WebhookMessage};
use crate::text;
use crate::webhooks::{self, EVENTS, MasterKey};

/// Endpoints a workspace may register.
pub const MAX_ENDPOINTS: usize = 20;

/// After a rotation, the previous secret keeps signing this long.
pub const SECRET_OVERLAP: time::Duration = time::Duration::hours(24);

/// What an admin asks to register.
#[derive(Debug, Clone)]
pub struct EndpointRequest {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// A change to an endpoint: each field given is set.
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// An endpoint with its signing secret, shown this once.
pub struct EndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: Zeroizing<String>,
}

impl Service {
    /// The webhook master key (in the keys directory, made on first use).
    pub fn webhook_key(&self) -> Result<std::sync::Arc<MasterKey>> {
        if let Some(key) = self.webhook_key.get() {
            return Ok(key.clone());
        }
        let dir = self.keys()?.snapshot().ring.dir().to_owned();
        let key = std::sync::Arc::new(MasterKey::load_or_create(&dir)?);
        Ok(self.webhook_key.get_or_init(|| key).clone())
    }

    /// Registers an endpoint; the answer holds its secret, the only time it
    /// is shown.
    pub async fn create_webhook_endpoint(
        &self,
        actor: &Actor,
        request: EndpointRequest,
    ) -> Result<EndpointWithSecret> {
        let url = self.check_endpoint_url(&request.url).await?;
        let events = check_events(&request.events)?;
        if let Some(description) = &request.description {
            text::DESCRIPTION.check("description", description)?;
        }
        let existing = self.store.webhook_endpoints(actor.workspace()).await?;
        if existing.len() >= MAX_ENDPOINTS {
            return Err(Error::Store(store::Error::Conflict(format!(
                "a workspace has at most {MAX_ENDPOINTS} webhook endpoints: delete one first"
            ))));
        }
        let key = self.webhook_key()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let endpoint = tx
            .create_webhook_endpoint(
                actor.workspace(),
                &url,
                request.description.as_deref(),
                &events,
                now,
            )
            .await?;
        let event = actor.event(
            "webhook_endpoint.created",
            Some(("webhook_endpoint", endpoint.id.to_string())),
        );
        tx.record_audit(actor.workspace(), event, now).await?;
        tx.commit().await?;
        let secret = key
            .endpoint_secret(endpoint.id.as_str(), endpoint.secret_version)
            .reveal();
        Ok(EndpointWithSecret { endpoint, secret })
    }

    pub async fn webhook_endpoints(&self, actor: &Actor) -> Result<Vec<WebhookEndpoint>> {
        Ok(self.store.webhook_endpoints(actor.workspace()).await?)
    }

    pub async fn webhook_endpoint(
        &self,
        actor: &Actor,
        id: &WebhookEndpointId,
    ) -> Result<WebhookEndpoint> {
        Ok(self.store.webhook_endpoint(actor.workspace(), id).await?)
    }

    /// Changes an endpoint's URL, events, description, or whether it is
    /// enabled (enabling starts its failure record afresh).
    pub async fn update_webhook_endpoint(
        &self,
        actor: &Actor,
        id: &WebhookEndpointId,
        update: EndpointUpdate,
    ) -> Result<WebhookEndpoint> {
        let before = self.store.webhook_endpoint(actor.workspace(), id).await?;
        let url = match &update.url {
            Some(url) => Some(self.check_endpoint_url(url).await?),
            None => None,
        };
        let events = update.events.as_deref().map(check_events).transpose()?;
        if let Some(Some(description)) = &update.description {
            text::DESCRIPTION.check("description", description)?;
        }
        let patch = EndpointPatch {
            url: url.as_deref(),
            events: events.as_deref(),
            description: update.description.as_ref().map(Option::as_deref),
            enabled: update.enabled,
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let after = tx
            .update_webhook_endpoint(actor.workspace(), id, &patch, now)
            .await?;
        let mut changes = serde_json::Map::new();
        let mut changed = |field: &str, old: Value, new: Value| {
            if old != new {
                changes.insert(field.to_owned(), json!([old, new]));
            }
        };
        changed("url", json!(before.url), json!(after.url));
        changed("events", json!(before.events), json!(after.events));
        changed(
            "description",
            json!(before.description),
            json!(after.description),
        );
        changed("enabled", json!(before.enabled), json!(after.enabled));
        let mut event = actor.event(
            "webhook_endpoint.updated",
            Some(("webhook_endpoint", id.to_string())),
        );
        event.changes = Some(changes.into());
        tx.record_audit(actor.workspace(), event, now).await?;
        tx.commit().await?;
        self.wake_deliverer();
        Ok(after)
    }

    /// Deletes an endpoint, with its queued messages and its attempts.
    pub async fn delete_webhook_endpoint(
        &self,
        actor: &Actor,
        id: &WebhookEndpointId,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.delete_webhook_endpoint(actor.workspace(), id).await?;
        let event = actor.event(
            "webhook_endpoint.deleted",
            Some(("webhook_endpoint", id.to_string())),
        );
        tx.record_audit(actor.workspace(), event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a new signing secret, shown this once; the previous one signs
    /// beside it for [`SECRET_OVERLAP`], while receivers switch.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: &WebhookEndpointId,
    ) -> Result<EndpointWithSecret> {
        let key = self.webhook_key()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let endpoint = tx
            .rotate_webhook_secret(actor.workspace(), id, now + SECRET_OVERLAP, now)
            .await?;
        let event = actor.event(
            "webhook_endpoint.secret_rotated",
            Some(("webhook_endpoint", id.to_string())),
        );
        tx.record_audit(actor.workspace(), event, now).await?;
        tx.commit().await?;
        let secret = key
            .endpoint_secret(endpoint.id.as_str(), endpoint.secret_version)
            .reveal();
        Ok(EndpointWithSecret { endpoint, secret })
    }

    /// Queues a `webhook.test` message for the endpoint, whatever it
    /// subscribes to. A disabled endpoint is a conflict: nothing would send it.
    pub async fn test_webhook_endpoint(
        &self,
        actor: &Actor,
        id: &WebhookEndpointId,
    ) -> Result<WebhookMessage> {
        let endpoint = self.store.webhook_endpoint(actor.workspace(), id).await?;
        if !endpoint.enabled {
            return Err(Error::Store(store::Error::Conflict(format!(
                "webhook endpoint `{id}` is disabled: enable it first"
            ))));
        }
        let now = self.clock.now();
        let body = webhooks::body(
            webhooks::TEST_EVENT,
            now,
            json!({"endpoint_id": id, "message": "A test message from Informly."}),
        );
        let mut tx = self.store.begin().await?;
        let message = tx
            .enqueue_webhook_to(actor.workspace(), id, webhooks::TEST_EVENT, &body, now)
            .await?;
        tx.commit().await?;
        self.wake_deliverer();
        Ok(self
            .store
            .webhook_message(actor.workspace(), &message)
            .await?)
    }

    /// Sends a message again as it was (same id and body), at once.
    pub async fn resend_webhook_message(
        &self,
        actor: &Actor,
        endpoint: &WebhookEndpointId,
        message: &MessageId,
    ) -> Result<WebhookMessage> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.resend_webhook_message(actor.workspace(), endpoint, message, now)
            .await?;
        let event = actor.event(
            "webhook_message.resent",
            Some(("webhook_message", message.to_string())),
        );
        tx.record_audit(actor.workspace(), event, now).await?;
        tx.commit().await?;
        self.wake_deliverer();
        Ok(self
            .store
            .webhook_message(actor.workspace(), message)
            .await?)
    }

    /// An endpoint's delivery attempts, newest first, before the attempt
    /// `before`.
    pub async fn webhook_attempts(
        &self,
        actor: &Actor,
        endpoint: &WebhookEndpointId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WebhookAttempt>> {
        // Another workspace's endpoint is not found, not an empty list.
        self.store
            .webhook_endpoint(actor.workspace(), endpoint)
            .await?;
        Ok(self
            .store
            .webhook_attempts(actor.workspace(), endpoint, before, limit)
            .await?)
    }

    /// An endpoint's latest messages, newest first.
    pub async fn webhook_messages(
        &self,
        actor: &Actor,
        endpoint: &WebhookEndpointId,
        limit: i64,
    ) -> Result<Vec<WebhookMessage>> {
        self.store
            .webhook_endpoint(actor.workspace(), endpoint)
            .await?;
        Ok(self
            .store
            .webhook_messages(actor.workspace(), endpoint, limit)
            .await?)
    }

    async fn check_endpoint_url(&self, url: &str) -> Result<String> {
        let parsed = webhooks::check_url(url, self.webhook_allow_private)
            .await
            .map_err(|e| invalid("url", e.to_string()))?;
        Ok(parsed.to_string())
    }

    /// Queues `data` as an `event_type` message, in `tx`, for the endpoints
    /// of `workspace` subscribed to it (of every workspace for `None`).
    pub(super) async fn queue_webhook(
        &self,
        tx: &mut Tx,
        workspace: Option<&WorkspaceId>,
        event_type: &'static str,
        data: Value,
        now: OffsetDateTime,
    ) -> Result<()> {
        let body = webhooks::body(event_type, now, data);
        tx.enqueue_webhook(workspace, event_type, &body, now)
            .await?;
        Ok(())
    }

    /// Tells this instance's deliverer that messages may be waiting (after
    /// the commit that queued them).
    pub(super) fn wake_deliverer(&self) {
        if let Some(wake) = &self.webhook_wake {
            wake.notify_one();
        }
    }
}

/// A token as webhook messages describe it: never the token string.
pub(super) fn token_data(record: &store::TokenRecord) -> Value {
    json!({
        "id": record.id,
        "app_id": record.app_id,
        "name": record.name,
        "scopes": record.scopes,
        "format": record.format.to_string(),
        "created_at": crate::clock::rfc3339(record.created_at),
        "expires_at": crate::clock::rfc3339(record.expires_at),
    })
}

/// The events asked for: at least one, each known; in the list's order,
/// each once.
fn check_events(events: &[String]) -> Result<Vec<&'static str>> {
    if events.is_empty() {
        return Err(invalid(
            "events",
            format!("name at least one of: {}", EVENTS.join(", ")),
        ));
    }
    if let Some(unknown) = events.iter().find(|e| !webhooks::is_event(e)) {
        return Err(invalid(
            "events",
            format!(
                "{unknown:?} is not an event; the events are: {}",
                EVENTS.join(", ")
            ),
        ));
    }
    Ok(EVENTS
        .into_iter()
        .filter(|known| events.iter().any(|e| e == known))
        .collect())
}
