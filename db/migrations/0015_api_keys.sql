-- API keys for the Alpaca-compatible face (/v2): a key id and a secret, sent as the headers
-- APCA-API-KEY-ID and APCA-API-SECRET-KEY, name one Tradewind user. Only a SHA-256 hash of the
-- secret is stored; the secret is shown once, when the key is made.
--
-- Row-level security: a trader sees (and revokes) only their own keys; an admin sees every
-- key. The application role verifies a presented key through the SECURITY DEFINER function
-- below, which answers only for the one key id asked about.

create table api_keys (
  key_id text primary key check (key_id ~ '^[A-Z0-9]{16,40}$'),
  user_id uuid not null references users (id),
  secret_hash bytea not null check (length(secret_hash) = 32),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create index api_keys_user on api_keys (user_id, created_at);

alter table api_keys enable row level security;
create policy api_keys_tenant on api_keys for all to tradewind_app
  using (user_id = tradewind_user_id() or tradewind_user_role() = 'admin')
  with check (user_id = tradewind_user_id() or tradewind_user_role() = 'admin');
-- Every column but the secret's hash: only the lookup below compares it.
grant select (key_id, user_id, created_at, last_used_at, revoked_at) on api_keys
  to tradewind_app;
grant insert on api_keys to tradewind_app;
-- A key is never edited or deleted: revoking stamps revoked_at, which stays.
grant update (revoked_at) on api_keys to tradewind_app;

-- The user behind an unrevoked key and the key's secret hash, for the engine to compare in
-- constant time; no row for an unknown or revoked key. Records the use (at most once a minute
-- per key, so a busy client does not write a row version per request).
create function tradewind_api_key_lookup(p_key_id text)
  returns table (user_id uuid, username text, role text, secret_hash bytea)
  language plpgsql security definer set search_path = public
  as $$
begin
  return query
    select u.id, u.username, u.role, k.secret_hash
      from api_keys k join users u on u.id = k.user_id
     where k.key_id = p_key_id and k.revoked_at is null;
end
$$;
revoke all on function tradewind_api_key_lookup(text) from public;
grant execute on function tradewind_api_key_lookup(text) to tradewind_app;

-- Stamps a verified key's last use (at most once a minute).
create function tradewind_api_key_used(p_key_id text) returns void
  language sql security definer set search_path = public
  as $$
    update api_keys set last_used_at = now()
     where key_id = p_key_id and revoked_at is null
       and (last_used_at is null or last_used_at < now() - interval '1 minute')
  $$;
revoke all on function tradewind_api_key_used(text) from public;
grant execute on function tradewind_api_key_used(text) to tradewind_app;
