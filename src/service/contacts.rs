//! Contacts, for app tokens with the contacts scopes. Fields arrive checked
//! by the API's edge (every bad field reported at once); the workspace is
//! the token's. Writes are group-committed (`writer`): concurrent ones share
//! a transaction and its commit, each with its own answer.

use super::writer::{Write, Writer};
use super::{Actor, Result, Service};
use time::OffsetDateTime;

use crate::ids::ContactId;
use crate::store::{self, Contact, ContactFields, ContactPatch, NewContact};

/// The most contacts one batch may create.
pub const MAX_BATCH: usize = 1_000;

impl Service {
    fn writer(&self) -> &Writer {
        self.contact_writer
            .get_or_init(|| Writer::start(self.store.clone()))
    }

    /// The row of a create by `actor`, made at `now`.
    fn new_row(actor: &Actor, fields: ContactFields, now: OffsetDateTime) -> NewContact {
        NewContact {
            workspace_id: actor.workspace().clone(),
            fields,
            now,
        }
    }

    pub async fn create_contact(&self, actor: &Actor, fields: ContactFields) -> Result<Contact> {
        let row = Self::new_row(actor, fields, self.clock.now());
        Ok(self
            .writer()
            .submit(|reply| Write::Create { row, reply })
            .await?)
    }

    /// Creates up to [`MAX_BATCH`] contacts in one transaction, answering
    /// for each in order: the contact, or its own failure (`Conflict` for an
    /// email already taken, by an existing contact or an earlier item).
    pub async fn create_contacts(
        &self,
        actor: &Actor,
        batch: Vec<ContactFields>,
    ) -> Result<Vec<store::Result<Contact>>> {
        if batch.len() > MAX_BATCH {
            return Err(super::invalid(
                "contacts",
                format!(
                    "at most {MAX_BATCH} contacts per batch, got {}",
                    batch.len()
                ),
            ));
        }
        let now = self.clock.now();
        let rows = batch
            .into_iter()
            .map(|fields| Self::new_row(actor, fields, now))
            .collect();
        Ok(self
            .writer()
            .submit(|reply| Write::CreateMany { rows, reply })
            .await?)
    }

    /// Applies `patch`, setting only the fields it gives.
    pub async fn update_contact(
        &self,
        actor: &Actor,
        id: &ContactId,
        patch: ContactPatch,
    ) -> Result<Contact> {
        let (workspace_id, id) = (actor.workspace().clone(), id.clone());
        let now = self.clock.now();
        Ok(self
            .writer()
            .submit(|reply| Write::Update {
                workspace_id,
                id,
                patch,
                now,
                reply,
            })
            .await?)
    }

    pub async fn delete_contact(&self, actor: &Actor, id: &ContactId) -> Result<()> {
        let (workspace_id, id) = (actor.workspace().clone(), id.clone());
        Ok(self
            .writer()
            .submit(|reply| Write::Delete {
                workspace_id,
                id,
                reply,
            })
            .await?)
    }

    pub async fn contact(&self, actor: &Actor, id: &ContactId) -> Result<Contact> {
        Ok(self.store.get_contact(actor.workspace(), id).await?)
    }

    /// A page of contacts, oldest first: after `after`, at most `limit`.
    pub async fn contacts(
        &self,
        actor: &Actor,
        email: Option<&str>,
        after: Option<&ContactId>,
        limit: u32,
    ) -> Result<Vec<Contact>> {
        Ok(self
            .store
            .list_contacts(actor.workspace(), email, after, limit)
            .await?)
    }
}
