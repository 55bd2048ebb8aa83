-- Token usage as this service saw it: counted in memory by each instance on
-- verified requests and written out in batches (never on the request path).
-- used_scopes is a bitmask over the scope list in src/token/scope.rs, whose
-- order is therefore fixed: new scopes are only ever appended.
alter table tokens add column last_used_at bigint;                  -- unix microseconds; null: never seen
alter table tokens add column uses bigint not null default 0;       -- verified requests, over every instance
alter table tokens add column used_scopes bigint not null default 0; -- scopes a route required of it
