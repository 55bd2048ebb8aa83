//! Group commit for Contacts writes. Each create, update, delete or batch is
//! handed to one writer task per service, which takes whatever has queued
//! up meanwhile and makes all of it in one transaction: one commit, so one
//! fsync on SQLite, for the lot. Every request still gets its own answer:
//! a write that conflicts or finds nothing fails alone (a conflicting create
//! is skipped by its statement, and on PostgreSQL an update that may
//! conflict runs in a savepoint), and the answers go out only once the
//! commit has returned, so every 2xx is on disk before it is sent, as when
//! each request committed alone.
//!
//! If the group's transaction fails for any other reason, each of its writes
//! is run again in a transaction of its own, so that one write's failure is
//! never another's. If no transaction can be begun (the write lock not had
//! within the busy timeout), each write is answered 503 and nothing is made.
//! A write whose request has gone (timed out while the transaction waited
//! for the lock, or cancelled) is dropped once the lock is held, so a
//! request answered 503 for its timeout wrote nothing.
//!
//! The writes of one group were all in flight at once (a request's answer is
//! sent only after its group commits, so no later request can have seen
//! it), so running the group's creates first, together, then its updates
//! and deletes in arrival order is an order they could have run in.

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::ids::{ContactId, WorkspaceId};
use crate::store::{self, Contact, ContactPatch, NewContact, Store, Tx};

/// `informly_contacts_write_group_size`: writes per committed group.
pub const GROUP_SIZE: &str = "informly_contacts_write_group_size";
/// `informly_contacts_write_group_retries_total`: groups whose transaction
/// failed and whose writes were made one by one.
pub const GROUP_RETRIES: &str = "informly_contacts_write_group_retries_total";

/// Writes waiting for the writer; past this, submitters wait their turn.
const QUEUE: usize = 4_096;

/// At most this many contacts per group (a batch counts as its contacts),
/// bounding the transaction and so the wait of the group's first write.
const GROUP_ROWS: usize = 2_000;

type Reply<T> = oneshot::Sender<store::Result<T>>;

pub(super) enum Write {
    Create {
        row: NewContact,
        reply: Reply<Contact>,
    },
    /// A batch: its own results, in order, all in the group's transaction.
    CreateMany {
        rows: Vec<NewContact>,
        reply: Reply<Vec<store::Result<Contact>>>,
    },
    Update {
        workspace_id: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
        now: OffsetDateTime,
        reply: Reply<Contact>,
    },
    Delete {
        workspace_id: WorkspaceId,
        id: ContactId,
        reply: Reply<()>,
    },
}

impl Write {
    fn rows(&self) -> usize {
        match self {
            Write::CreateMany { rows, .. } => rows.len(),
            _ => 1,
        }
    }

    /// Answers with `e`, a failure of the whole transaction, not the write's.
    fn fail(self, e: &store::Error) {
        let e = || store::Error::Unavailable(sqlx::Error::Io(std::io::Error::other(e.to_string())));
        // A send fails only if the request has gone; nothing to answer then.
        match self {
            Write::Create { reply, .. } | Write::Update { reply, .. } => {
                let _ = reply.send(Err(e()));
            }
            Write::CreateMany { reply, .. } => {
                let _ = reply.send(Err(e()));
            }
            Write::Delete { reply, .. } => {
                let _ = reply.send(Err(e()));
            }
        }
    }

    /// Whoever asked has gone (the request was cancelled): not worth making.
    fn abandoned(&self) -> bool {
        match self {
            Write::Create { reply, .. } => reply.is_closed(),
            Write::CreateMany { reply, .. } => reply.is_closed(),
            Write::Update { reply, .. } => reply.is_closed(),
            Write::Delete { reply, .. } => reply.is_closed(),
        }
    }
}

/// The handle requests submit through. The writer task runs until every
/// handle is dropped, finishing what was queued.
pub(super) struct Writer {
    queue: mpsc::Sender<Write>,
}

impl Writer {
    /// Starts the writer task for `store` (in the current Tokio runtime).
    pub(super) fn start(store: Store) -> Writer {
        let (queue, writes) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, writes));
        Writer { queue }
    }

    /// Queues the write `write` makes around its reply channel, and waits
    /// for the answer (sent once the write's group has committed).
    pub(super) async fn submit<T>(
        &self,
        write: impl FnOnce(Reply<T>) -> Write,
    ) -> store::Result<T> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(write(reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> store::Error {
    store::Error::Unavailable(sqlx::Error::PoolClosed)
}

async fn run(store: Store, mut writes: mpsc::Receiver<Write>) {
    let mut group = Vec::new();
    while let Some(first) = writes.recv().await {
        let mut rows = first.rows();
        group.push(first);
        while rows < GROUP_ROWS {
            match writes.try_recv() {
                Ok(write) => {
                    rows += write.rows();
                    group.push(write);
                }
                Err(_) => break,
            }
        }
        commit(&store, std::mem::take(&mut group)).await;
    }
}

/// Makes `group` in one transaction and answers each write; falls back to a
/// transaction per write if the group's fails.
async fn commit(store: &Store, mut group: Vec<Write>) {
    let tx = match store.begin_write().await {
        Ok(tx) => tx,
        // No transaction (the write lock not had within the busy timeout,
        // the pool closed): nothing any write did; each is told so.
        Err(e) => {
            tracing::warn!(error = %e, writes = group.len(), "cannot begin a group commit");
            for write in group {
                write.fail(&e);
            }
            return;
        }
    };
    // A request may have gone (timed out, cancelled) while the transaction
    // waited for the write lock: its write is not made.
    group.retain(|write| !write.abandoned());
    if group.is_empty() {
        return;
    }
    let single = group.len() == 1;
    match together(tx, &group).await {
        Ok(answers) => {
            metrics::histogram!(GROUP_SIZE).record(group.len() as f64);
            for (write, answer) in group.into_iter().zip(answers) {
                answer.send(write);
            }
        }
        Err(e) if single => group.into_iter().for_each(|write| write.fail(&e)),
        Err(e) => {
            metrics::counter!(GROUP_RETRIES).increment(1);
            tracing::warn!(error = %e, writes = group.len(), "a group commit failed; committing its writes one by one");
            alone(store, group).await;
        }
    }
}

/// The answer to one write of a committed group.
enum Answer {
    Contact(store::Result<Contact>),
    Contacts(Vec<store::Result<Contact>>),
    Deleted(store::Result<()>),
}

impl Answer {
    fn send(self, write: Write) {
        // A send fails only if the request has gone; nothing to answer then.
        match (write, self) {
            (Write::Create { reply, .. } | Write::Update { reply, .. }, Answer::Contact(a)) => {
                let _ = reply.send(a);
            }
            (Write::CreateMany { reply, .. }, Answer::Contacts(a)) => {
                let _ = reply.send(Ok(a));
            }
            (Write::Delete { reply, .. }, Answer::Deleted(a)) => {
                let _ = reply.send(a);
            }
            // `together` answers each write in kind; were it not to, the
            // reply is dropped and the request answers 503.
            _ => debug_assert!(false, "an answer of the wrong kind"),
        }
    }
}

/// Runs every write of `group` in one transaction and commits it, returning
/// each write's answer in order. Any error other than a write's own conflict
/// or not-found fails the whole group (and nothing is committed).
async fn together(mut tx: Tx, group: &[Write]) -> store::Result<Vec<Answer>> {
    // Every create of the group, in one insert.
    let rows: Vec<&NewContact> = group
        .iter()
        .flat_map(|write| match write {
            Write::Create { row, .. } => std::slice::from_ref(row),
            Write::CreateMany { rows, .. } => rows.as_slice(),
            _ => &[],
        })
        .collect();
    let mut created = tx.insert_contacts(&rows).await?.into_iter();
    let mut answers = Vec::with_capacity(group.len());
    for write in group {
        answers.push(match write {
            Write::Create { .. } => Answer::Contact(created.next().unwrap_or_else(lost)),
            Write::CreateMany { rows, .. } => {
                Answer::Contacts(created.by_ref().take(rows.len()).collect())
            }
            Write::Update {
                workspace_id,
                id,
                patch,
                now,
                ..
            } => Answer::Contact(own(update(&mut tx, workspace_id, id, patch, *now).await)?),
            Write::Delete {
                workspace_id, id, ..
            } => Answer::Deleted(own(tx.delete_contact(workspace_id, id).await)?),
        });
    }
    tx.commit().await?;
    Ok(answers)
}

/// An update; one that changes the email may conflict, so it is isolated.
async fn update(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    id: &ContactId,
    patch: &ContactPatch,
    now: OffsetDateTime,
) -> store::Result<Contact> {
    if patch.email.is_some() {
        tx.isolated(async |tx| tx.update_contact(workspace_id, id, patch, now).await)
            .await
    } else {
        tx.update_contact(workspace_id, id, patch, now).await
    }
}

/// Splits a write's result: its own failures (conflict, not found) are its
/// answer; anything else fails the group.
fn own<T>(result: store::Result<T>) -> store::Result<store::Result<T>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e @ (store::Error::Conflict(_) | store::Error::NotFound(_))) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}

/// `insert_contacts` answers once per row, so this is never reached.
fn lost() -> store::Result<Contact> {
    Err(store::Error::Db(sqlx::Error::RowNotFound))
}

/// Each write in a transaction of its own, answered as it commits.
async fn alone(store: &Store, group: Vec<Write>) {
    for write in group {
        if write.abandoned() {
            continue;
        }
        match write {
            Write::Create { row, reply } => {
                let answer = one(store, async |tx| {
                    let mut answers = tx.insert_contacts(&[&row]).await?;
                    answers.pop().unwrap_or_else(lost)
                })
                .await;
                let _ = reply.send(answer);
            }
            Write::CreateMany { rows, reply } => {
                let rows: Vec<&NewContact> = rows.iter().collect();
                let answer = one(store, async |tx| tx.insert_contacts(&rows).await).await;
                let _ = reply.send(answer);
            }
            Write::Update {
                workspace_id,
                id,
                patch,
                now,
                reply,
            } => {
                let answer = one(store, async |tx| {
                    tx.update_contact(&workspace_id, &id, &patch, now).await
                })
                .await;
                let _ = reply.send(answer);
            }
            Write::Delete {
                workspace_id,
                id,
                reply,
            } => {
                let answer = one(store, async |tx| {
                    tx.delete_contact(&workspace_id, &id).await
                })
                .await;
                let _ = reply.send(answer);
            }
        }
    }
}

/// `write` in a transaction of its own, committed if it succeeds.
async fn one<T>(
    store: &Store,
    write: impl AsyncFnOnce(&mut Tx) -> store::Result<T>,
) -> store::Result<T> {
    let mut tx = store.begin_write().await?;
    let value = write(&mut tx).await?;
    tx.commit().await?;
    Ok(value)
}
