//! Contacts, always within one workspace: every query is filtered by it.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{Backend, Error, PartialUpdate, Result, ResultExt, Store, Tx, from_micros, micros};
use crate::ids::{ContactId, WorkspaceId};
use crate::text::Email;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: ContactId,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub tags: Vec<String>,
    pub attributes: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The writable fields of a contact, validated by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFields {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub tags: Vec<String>,
    pub attributes: Map<String, Value>,
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactPatch {
    pub email: Option<String>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub attributes: Option<Map<String, Value>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    tags: String,
    attributes: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<Row> for Contact {
    type Error = Error;

    fn try_from(row: Row) -> Result<Self> {
        let decode = |e: serde_json::Error| Error::Db(sqlx::Error::Decode(e.into()));
        Ok(Contact {
            id: ContactId::trusted(row.id),
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            phone: row.phone,
            company: row.company,
            tags: serde_json::from_str(&row.tags).map_err(decode)?,
            attributes: serde_json::from_str(&row.attributes).map_err(decode)?,
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
        })
    }
}

const COLUMNS: &str =
    "id, email, first_name, last_name, phone, company, tags, attributes, created_at, updated_at";

fn conflict(email: &str) -> impl FnOnce() -> String + '_ {
    move || format!("a contact with email `{email}` already exists")
}

/// A contact to insert: the row of a create, its time given by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub workspace_id: WorkspaceId,
    pub fields: ContactFields,
    pub now: OffsetDateTime,
}

/// Rows per insert statement: 12 parameters each on SQLite (11 on
/// PostgreSQL), under SQLite's limit of 32,766 and PostgreSQL's 65,535.
const INSERT_CHUNK: usize = 1_000;

/// The placeholders of the `i`th row of a multi-row insert, its parameters
/// numbered from `n + 1`. SQLite gets anonymous `?`s, bound in order:
/// looking a numbered parameter up by name costs SQLite a walk of every
/// name, so binding 11,000 of them would take time quadratic in the batch.
/// The time goes in twice, as `created_at` and `updated_at`.
fn values_row(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)".to_owned(),
        Backend::Postgres => {
            let p: Vec<String> = (1..=11)
                .chain([11])
                .map(|k| format!("${}", n + k))
                .collect();
            format!("({})", p.join(", "))
        }
    }
}

fn json(value: &impl Serialize) -> String {
    // Vec<String> and Map<String, Value> always serialise.
    serde_json::to_string(value).unwrap_or_default()
}

impl Tx {
    /// Inserts `rows` with one statement per thousand, answering for each row
    /// in order: the contact, or `Conflict` when its email is taken (by a
    /// contact already there or by an earlier row of `rows`). A conflict
    /// skips its row without failing the statement (`on conflict do
    /// nothing`), so the transaction goes on and commits the other rows.
    pub async fn insert_contacts(&mut self, rows: &[&NewContact]) -> Result<Vec<Result<Contact>>> {
        let mut answers = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(INSERT_CHUNK) {
            let ids: Vec<ContactId> = chunk.iter().map(|_| ContactId::generate()).collect();
            let mut sql = String::from(
                "insert into contacts (id, workspace_id, email, email_lower, first_name, last_name, phone,
                                       company, tags, attributes, created_at, updated_at) values ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&values_row(self.backend(), i * 11));
            }
            sql.push_str(&format!(
                " on conflict (workspace_id, email_lower) do nothing returning {COLUMNS}"
            ));
            let backend = self.backend();
            let mut query = sqlx::query_as::<_, Row>(&sql);
            for (id, row) in ids.iter().zip(chunk) {
                let fields = &row.fields;
                query = query
                    .bind(id.as_str())
                    .bind(row.workspace_id.as_str())
                    .bind(&fields.email)
                    .bind(Email::key_of(&fields.email).into_owned())
                    .bind(&fields.first_name)
                    .bind(&fields.last_name)
                    .bind(&fields.phone)
                    .bind(&fields.company)
                    .bind(json(&fields.tags))
                    .bind(json(&fields.attributes))
                    .bind(micros(row.now));
                if backend == Backend::Sqlite {
                    query = query.bind(micros(row.now));
                }
            }
            let mut inserted: HashMap<String, Row> = query
                .fetch_all(self.conn())
                .await?
                .into_iter()
                .map(|row| (row.id.clone(), row))
                .collect();
            for (id, row) in ids.iter().zip(chunk) {
                answers.push(match inserted.remove(id.as_str()) {
                    Some(found) => found.try_into(),
                    None => Err(Error::Conflict(conflict(&row.fields.email)())),
                });
            }
        }
        Ok(answers)
    }

    /// Applies `patch` in one statement that sets only the given columns.
    pub async fn update_contact(
        &mut self,
        workspace_id: &WorkspaceId,
        id: &ContactId,
        patch: &ContactPatch,
        now: OffsetDateTime,
    ) -> Result<Contact> {
        let mut update = PartialUpdate::default();
        if let Some(email) = &patch.email {
            update.set("email", Some(email.clone()));
            update.set("email_lower", Some(Email::key_of(email).into_owned()));
        }
        for (column, value) in [
            ("first_name", &patch.first_name),
            ("last_name", &patch.last_name),
            ("phone", &patch.phone),
            ("company", &patch.company),
        ] {
            if let Some(value) = value {
                update.set(column, value.clone());
            }
        }
        if let Some(tags) = &patch.tags {
            update.set("tags", Some(json(tags)));
        }
        if let Some(attributes) = &patch.attributes {
            update.set("attributes", Some(json(attributes)));
        }
        let row: Option<Row> = update
            .apply(self, "contacts", COLUMNS, workspace_id, id.as_str(), now)
            .await
            .on_unique(conflict(patch.email.as_deref().unwrap_or_default()))?;
        row.ok_or_else(|| Error::not_found(ContactId::WHAT, id))?
            .try_into()
    }

    pub async fn delete_contact(
        &mut self,
        workspace_id: &WorkspaceId,
        id: &ContactId,
    ) -> Result<()> {
        let done = sqlx::query("delete from contacts where workspace_id = $1 and id = $2")
            .bind(workspace_id.as_str())
            .bind(id.as_str())
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(ContactId::WHAT, id));
        }
        Ok(())
    }
}

impl Store {
    pub async fn get_contact(&self, workspace_id: &WorkspaceId, id: &ContactId) -> Result<Contact> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from contacts where workspace_id = $1 and id = $2"
        ))
        .bind(workspace_id.as_str())
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.ok_or_else(|| Error::not_found(ContactId::WHAT, id))?
            .try_into()
    }

    /// Up to `limit` contacts after the id `after`, in id (creation) order, with
    /// the email filter if given. Ids only grow, so paging by id never skips or
    /// repeats a row that existed when paging began.
    pub async fn list_contacts(
        &self,
        workspace_id: &WorkspaceId,
        email: Option<&str>,
        after: Option<&ContactId>,
        limit: u32,
    ) -> Result<Vec<Contact>> {
        let mut sql = format!("select {COLUMNS} from contacts where workspace_id = $1");
        let mut n = 1;
        if email.is_some() {
            n += 1;
            sql.push_str(&format!(" and email_lower = ${n}"));
        }
        if after.is_some() {
            n += 1;
            sql.push_str(&format!(" and id > ${n}"));
        }
        sql.push_str(&format!(" order by id limit ${}", n + 1));

        let mut query = sqlx::query_as(&sql).bind(workspace_id.as_str());
        if let Some(email) = email {
            query = query.bind(Email::key_of(email).into_owned());
        }
        if let Some(after) = after {
            query = query.bind(after.as_str());
        }
        let rows: Vec<Row> = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.into_iter().map(Contact::try_from).collect()
    }
}
