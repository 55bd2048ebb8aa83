-- The audit log: one event per state change, written in the change's own
-- transaction. Events of a workspace form a hash chain: each stores the hash
-- of the previous one and its own, a SHA-256 over that and its canonical
-- content, so an edited or deleted row shows as a break.
create table audit_events (
    id           text    not null,  -- evt_…, a ULID
    workspace_id text    not null,
    seq          bigint  not null,  -- its place in the workspace's chain: 1, 2, …
    occurred_at  bigint  not null,  -- unix microseconds
    actor_type   text    not null,  -- admin_token | user | cli
    actor_id     text    not null,  -- the token id, the user's email, or user@host
    action       text    not null,  -- app.created, token.revoked, …
    target_type  text,
    target_id    text,
    request_id   text,
    client       text,              -- the client address, as the sign-in limit sees it
    changes      text,              -- JSON {field: [old, new]} for updates
    prev_hash    text    not null,  -- hex; 64 zeros for a workspace's first event
    hash         text    not null,  -- hex SHA-256 over prev_hash and the canonical content
    constraint audit_events_pk primary key (id),
    constraint audit_events_seq_unique unique (workspace_id, seq)
);

-- The head of each workspace's chain. A writer locks its row (an update) so
-- that two transactions never chain onto the same event.
create table audit_heads (
    workspace_id text not null,
    last_seq     bigint not null,  -- 0 before the first event
    last_hash    text not null,
    constraint audit_heads_pk primary key (workspace_id)
);
