-- The dashboard: its users, their sessions, and sign-in attempts.
-- (SQLite has no 0003: that is PostgreSQL's denylist trigger.)

-- A dashboard user belongs to one workspace; an email names one user overall,
-- so signing in needs no workspace.
create table dashboard_users (
    id            text    not null,  -- usr_…
    workspace_id  text    not null,
    email         text    not null,
    email_lower   text    not null,  -- the email lowercased by the service: sign-in ignores case
    password_hash text    not null,  -- Argon2id, PHC string format
    created_at    bigint  not null,
    updated_at    bigint  not null,
    constraint dashboard_users_pk primary key (id),
    constraint dashboard_users_workspace_fk foreign key (workspace_id) references workspaces (id) on delete cascade,
    constraint dashboard_users_email_unique unique (email_lower)
);

-- Sessions live here so any instance can serve them. The cookie holds a
-- random secret; only its SHA-256 is stored.
create table dashboard_sessions (
    id_hash       text    not null,  -- base64url SHA-256 of the cookie's secret
    user_id       text    not null,
    workspace_id  text    not null,
    csrf_token    text    not null,  -- every form of the session carries it
    created_at    bigint  not null,  -- unix microseconds
    last_seen_at  bigint  not null,  -- unix microseconds, refreshed at most once a minute
    expires_at    bigint  not null,  -- unix microseconds: the absolute limit
    constraint dashboard_sessions_pk primary key (id_hash),
    constraint dashboard_sessions_user_fk foreign key (user_id) references dashboard_users (id) on delete cascade
);
create index dashboard_sessions_user_idx on dashboard_sessions (user_id);
create index dashboard_sessions_expiry_idx on dashboard_sessions (expires_at);

-- Sign-in attempts per key (`email:…` or `client:…`) in a fixed window; a
-- successful attempt is taken back.
create table dashboard_login_attempts (
    key           text    not null,
    window_start  bigint  not null,  -- unix seconds
    attempts      bigint  not null,
    constraint dashboard_login_attempts_pk primary key (key)
);
create index dashboard_login_attempts_window_idx on dashboard_login_attempts (window_start);
