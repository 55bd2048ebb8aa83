//! Signing keys: rotate (add a key that activates later) and retire. The key
//! files are the record; the live ring is reloaded at once after the change.

use time::{Duration, OffsetDateTime};

use super::{Actor, Error, Result, Service};
use crate::keys::{Generated, KeyRing, LiveKeys};
use crate::store::Store;
use crate::token::Format;

/// A key added by a rotation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotatedKey {
    pub kid: String,
    pub format: Format,
    #[serde(with = "time::serde::rfc3339")]
    pub activates_at: OffsetDateTime,
}

impl Service {
    /// Adds a key of each of `formats` that starts signing `activate_after`
    /// from now (pending until then, so verifiers can fetch it first).
    pub async fn rotate_keys(
        &self,
        actor: &Actor,
        formats: &[Format],
        activate_after: Duration,
    ) -> Result<Vec<RotatedKey>> {
        let keys = self.keys()?;
        let now = self.clock.now();
        let mut ring = KeyRing::load(keys.snapshot().ring.dir())?;
        let mut added = Vec::new();
        for &format in formats {
            let entry = ring.rotate(format, now, activate_after.whole_seconds())?;
            added.push(RotatedKey {
                kid: entry.kid().to_owned(),
                format,
                activates_at: entry.activates_at,
            });
        }
        keys.reload(now)?;
        // The key files are the record: the event follows the change.
        let mut tx = self.store.begin().await?;
        for key in &added {
            let event = actor.event("key.rotated", Some(("key", key.kid.clone())));
            tx.record_audit(actor.workspace(), event, now).await?;
            // Keys sign every workspace's tokens: every workspace hears.
            let data = serde_json::json!({
                "kid": key.kid,
                "format": key.format.to_string(),
                "activates_at": crate::clock::rfc3339_precise(key.activates_at),
            });
            self.queue_webhook(&mut tx, None, "key.rotated", data, now)
                .await?;
        }
        tx.commit().await?;
        self.wake_deliverer();
        Ok(added)
    }

    /// Retires a key: tokens it signed are refused from now on (here at once,
    /// elsewhere at the next key reload). Returns its kid.
    pub async fn retire_key(&self, actor: &Actor, kid: &str) -> Result<String> {
        let keys = self.keys()?;
        let now = self.clock.now();
        let mut ring = KeyRing::load(keys.snapshot().ring.dir())?;
        let retired = ring.retire(kid, now)?;
        let (kid, format) = (retired.kid().to_owned(), retired.format());
        keys.reload(now)?;
        let mut tx = self.store.begin().await?;
        let event = actor.event("key.retired", Some(("key", kid.clone())));
        tx.record_audit(actor.workspace(), event, now).await?;
        let data = serde_json::json!({
            "kid": kid,
            "format": format.to_string(),
            "retired_at": crate::clock::rfc3339_precise(now),
        });
        self.queue_webhook(&mut tx, None, "key.retired", data, now)
            .await?;
        tx.commit().await?;
        self.wake_deliverer();
        Ok(kid)
    }
}

/// Makes sure `format` has a key that signs now, generating the first one;
/// but never while the database records tokens signed by keys that the keys
/// directory does not hold. Then the directory is most likely the wrong one,
/// and a new key would sign tokens the running service rejects.
pub async fn ensure_signing_key(
    store: &Store,
    keys: &LiveKeys,
    format: Format,
    now: OffsetDateTime,
) -> Result<Option<Generated>> {
    let snapshot = keys.snapshot();
    if snapshot.ring.active(format, now).is_none() {
        let held = |kid: &String| snapshot.ring.entries().iter().any(|e| e.kid() == kid);
        let foreign = store
            .token_kids()
            .await?
            .into_iter()
            .filter(|kid| !held(kid))
            .count();
        if foreign > 0 {
            return Err(Error::ForeignKeys {
                dir: snapshot.ring.dir().display().to_string(),
                format,
                foreign,
            });
        }
    }
    Ok(keys.ensure_signing_key(format, now)?)
}
