-- Webhooks: endpoints per workspace, and the transactional outbox of messages
-- to deliver to them, written in the transaction of the change they report.

create table webhook_endpoints (
    id                    text    not null,  -- we_…
    workspace_id          text    not null,
    url                   text    not null,
    description           text,
    events                text    not null,  -- ",token.created,token.revoked," (delimited, for like)
    enabled               bigint  not null,  -- 1 or 0
    disabled_reason       text,              -- set when the service disabled it
    secret_version        bigint  not null,  -- the signing secret's generation: 1, 2, …
    previous_secret_until bigint,            -- the previous generation signs too until then (µs)
    failing_since         bigint,            -- first failed attempt since the last delivery (µs)
    last_seq              bigint  not null,  -- messages queued so far: their order
    created_at            bigint  not null,
    updated_at            bigint  not null,
    constraint webhook_endpoints_pk primary key (id),
    constraint webhook_endpoints_workspace_fk foreign key (workspace_id) references workspaces (id) on delete cascade
);
create index webhook_endpoints_workspace_idx on webhook_endpoints (workspace_id, created_at);

-- The outbox: one message per event and endpoint, delivered in `seq` order.
create table webhook_messages (
    id              text    not null,  -- msg_…: the webhook-id, the same on every attempt
    workspace_id    text    not null,
    endpoint_id     text    not null,
    seq             bigint  not null,  -- its place in the endpoint's order
    event_type      text    not null,
    body            text    not null,  -- the JSON sent, exactly as signed
    created_at      bigint  not null,
    state           text    not null,  -- pending | delivered | failed
    attempts        bigint  not null,
    next_attempt_at bigint  not null,
    give_up_at      bigint  not null,  -- retried until then (µs)
    lease_until     bigint  not null,  -- an instance is delivering it until then (µs)
    lease_owner     text,
    delivered_at    bigint,
    constraint webhook_messages_pk primary key (id),
    constraint webhook_messages_seq_unique unique (endpoint_id, seq),
    constraint webhook_messages_endpoint_fk foreign key (endpoint_id) references webhook_endpoints (id) on delete cascade,
    constraint webhook_messages_state_check check (state in ('pending', 'delivered', 'failed'))
);
create index webhook_messages_pending_idx on webhook_messages (endpoint_id, seq) where state = 'pending';

-- Every delivery attempt, for the deliveries view.
create table webhook_attempts (
    id            text    not null,  -- att_…, time-sortable
    message_id    text    not null,
    endpoint_id   text    not null,
    workspace_id  text    not null,
    attempted_at  bigint  not null,
    duration_ms   bigint  not null,
    status_code   bigint,            -- the response's status; null when none came
    error         text,              -- why, when no response came (timeout, refused address, …)
    response_body text,              -- at most 1 KiB of it
    delivered     bigint  not null,  -- 1 for a 2xx
    constraint webhook_attempts_pk primary key (id),
    constraint webhook_attempts_endpoint_fk foreign key (endpoint_id) references webhook_endpoints (id) on delete cascade
);
create index webhook_attempts_endpoint_idx on webhook_attempts (endpoint_id, id);

-- token.expiring (14, 7, 1 days before exp) and token.expired (0) notices
-- made: the key makes each exactly once per token, whichever instance, after
-- any restart.
create table webhook_expiry_notices (
    token_id    text    not null,
    threshold   bigint  not null,  -- days before exp; 0 for token.expired
    noticed_at  bigint  not null,
    constraint webhook_expiry_notices_pk primary key (token_id, threshold)
);
