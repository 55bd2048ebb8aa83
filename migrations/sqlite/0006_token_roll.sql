-- Rolling a token: a new token replaces an old one, which stays valid for an
-- overlap and is then revoked. The revocation is recorded at once with the
-- second it takes effect, so every verifier (the feed carries it) refuses the
-- old token at the same second, even one that cannot reach us then.
alter table tokens add column replaces text;     -- the token this one replaced (rolled)
alter table tokens add column replaced_by text;  -- the token that replaced this one
-- null: at once (every entry before this migration); else unix seconds.
alter table revoked_tokens add column takes_effect_s bigint;
