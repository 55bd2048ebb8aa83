-- Retention (--audit-retention) prunes whole prefixes of a workspace's
-- chain and keeps a checkpoint: the place and hash of the last event pruned,
-- from which the rest still verifies.
alter table audit_heads add column base_seq bigint not null default 0;
alter table audit_heads add column base_hash text not null default '0000000000000000000000000000000000000000000000000000000000000000';
