//! Contacts, for app tokens with the contacts scopes. Fields arrive checked
//! by the API's edge (every bad field reported at once); the workspace is
//! the token's.

use super::{Actor, Result, Service};
use crate::ids::ContactId;
use crate::store::{Contact, ContactFields, ContactPatch};

impl Service {
    pub async fn create_contact(&self, actor: &Actor, fields: &ContactFields) -> Result<Contact> {
        let mut tx = self.store.begin().await?;
        let contact = tx
            .create_contact(actor.workspace(), fields, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(contact)
    }

    /// Applies `patch`, setting only the fields it gives.
    pub async fn update_contact(
        &self,
        actor: &Actor,
        id: &ContactId,
        patch: &ContactPatch,
    ) -> Result<Contact> {
        let mut tx = self.store.begin().await?;
        let contact = tx
            .update_contact(actor.workspace(), id, patch, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(contact)
    }

    pub async fn delete_contact(&self, actor: &Actor, id: &ContactId) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.delete_contact(actor.workspace(), id).await?;
        tx.commit().await?;
        Ok(())
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
