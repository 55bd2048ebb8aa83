-- Contacts: the first module served by the API.

create table contacts (
    id           text    not null,  -- ct_…, time-sortable: the list order and cursor
    workspace_id text    not null,
    email        text    not null,  -- as given
    email_lower  text    not null,  -- lower(email): uniqueness and the email filter ignore case
    first_name   text,
    last_name    text,
    phone        text,
    company      text,
    tags         text    not null default '[]',  -- JSON array of strings
    attributes   text    not null default '{}',  -- JSON object, flat
    created_at   bigint  not null,  -- unix microseconds
    updated_at   bigint  not null,  -- unix microseconds
    constraint contacts_pk primary key (id),
    constraint contacts_workspace_fk foreign key (workspace_id) references workspaces (id) on delete cascade,
    constraint contacts_email_unique unique (workspace_id, email_lower)
);
