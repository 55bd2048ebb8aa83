-- PostgreSQL only: tell listening instances at once when the denylist grows,
-- so a revocation reaches every instance well within the periodic refresh.
-- The payload is empty: listeners re-read the table incrementally.

create function informly_denylist_notify() returns trigger
language plpgsql as $$
begin
    perform pg_notify('informly_denylist', '');
    return null;
end;
$$;

create trigger revoked_tokens_notify
    after insert on revoked_tokens
    for each statement execute function informly_denylist_notify();

create trigger app_cutoffs_notify
    after insert or update on app_cutoffs
    for each statement execute function informly_denylist_notify();
