-- Workspaces, apps, token records and revocations.
-- Times are integers: unix microseconds for record times, unix seconds where a
-- value mirrors a token claim (iat, exp), named *_at and *_s respectively.

create table workspaces (
    id          text    not null,
    name        text    not null,
    created_at  bigint  not null,
    updated_at  bigint  not null,
    constraint workspaces_pk primary key (id),
    constraint workspaces_name_unique unique (name),
    constraint workspaces_name_length check (length(name) between 1 and 100)
);

create table apps (
    id           text    not null,
    workspace_id text    not null,
    name         text    not null,
    name_lower   text    not null,  -- the name lowercased (Unicode) by the service: uniqueness ignores case
    description  text,
    created_at   bigint  not null,
    updated_at   bigint  not null,
    constraint apps_pk primary key (id),
    constraint apps_workspace_fk foreign key (workspace_id) references workspaces (id) on delete cascade,
    -- Names are unique per workspace, ignoring case, so lists are unambiguous.
    constraint apps_name_unique unique (workspace_id, name_lower),
    constraint apps_name_length check (length(name) between 1 and 100),
    constraint apps_description_length check (description is null or length(description) <= 500)
);

-- One row per issued token. The token string itself is never stored.
create table tokens (
    id           text    not null,  -- the jti, tok_…
    workspace_id text    not null,
    app_id       text,              -- null for admin tokens
    subject      text    not null,  -- sub / client_id claim
    name         text,
    scopes       text    not null,  -- space-separated, as in the token's scope claim
    format       text    not null,
    kid          text    not null,  -- the key that signed it
    issued_at_s  bigint  not null,  -- iat, unix seconds
    expires_at_s bigint  not null,  -- exp, unix seconds
    revoked_at   bigint,            -- unix microseconds, null while valid
    constraint tokens_pk primary key (id),
    constraint tokens_workspace_fk foreign key (workspace_id) references workspaces (id) on delete cascade,
    constraint tokens_app_fk foreign key (app_id) references apps (id) on delete cascade,
    constraint tokens_format_check check (format in ('paseto', 'jwt')),
    constraint tokens_name_length check (name is null or length(name) <= 100)
);
create index tokens_app_idx on tokens (app_id, issued_at_s);

-- The denylist: revoked token ids until their token would have expired anyway.
-- No foreign key: the entry outlives the token record if its app is deleted.
create table revoked_tokens (
    token_id     text    not null,
    workspace_id text    not null,
    revoked_at   bigint  not null,  -- unix microseconds
    expires_at_s bigint  not null,  -- the token's exp: prune after this
    constraint revoked_tokens_pk primary key (token_id)
);
create index revoked_tokens_expiry_idx on revoked_tokens (expires_at_s);

-- Per-app cutoffs: every token of the app issued at or before cutoff_s is
-- rejected. Recorded when an app is deleted; kept until no token of the app can
-- still be valid.
create table app_cutoffs (
    app_id       text    not null,  -- the client_id claim
    workspace_id text    not null,
    cutoff_s     bigint  not null,  -- unix seconds, inclusive
    expires_at_s bigint  not null,  -- cutoff_s + the maximum token lifetime: prune after this
    created_at   bigint  not null,
    constraint app_cutoffs_pk primary key (app_id)
);
create index app_cutoffs_expiry_idx on app_cutoffs (expires_at_s);

-- Secrets shared by every instance, generated on first use: e.g. the key that
-- authenticates pagination cursors.
create table secrets (
    name        text    not null,
    value       text    not null,  -- base64url
    created_at  bigint  not null,
    constraint secrets_pk primary key (name)
);
