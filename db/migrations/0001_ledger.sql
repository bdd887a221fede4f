-- Tradewind ledger: users, orders, fills, positions, snapshots, bots, trades and the
-- append-only, hash-chained audit trail (execution_logs), with row-level security.
--
-- Roles. The engine connects as tradewind_app (no superuser, no BYPASSRLS). The migration
-- owner owns every table, so only SECURITY DEFINER functions below see across tenants.
-- tradewind_compliance is a NOLOGIN role that may read every audit row.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'tradewind_app') then
    create role tradewind_app login nosuperuser nocreatedb nocreaterole noinherit nobypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'tradewind_compliance') then
    create role tradewind_compliance nologin nosuperuser nobypassrls;
  end if;
end
$$;

grant usage on schema public to tradewind_app, tradewind_compliance;
grant select on schema_migrations to tradewind_app;

-- The tenant of the current transaction, set by the engine with set_config(..., true).
create function tradewind_user_id() returns uuid
  language sql stable
  as $$ select nullif(current_setting('tradewind.user_id', true), '')::uuid $$;

create function tradewind_user_role() returns text
  language sql stable
  as $$ select coalesce(nullif(current_setting('tradewind.user_role', true), ''), 'trader') $$;

-- Users ---------------------------------------------------------------------------------

create table users (
  id uuid primary key default gen_random_uuid(),
  username text not null unique check (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
  role text not null check (role in ('trader', 'admin', 'compliance')),
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now()
);

alter table users enable row level security;
create policy users_self on users for select to tradewind_app
  using (id = tradewind_user_id() or tradewind_user_role() in ('admin', 'compliance'));
grant select on users to tradewind_app;

-- Finds or creates the user named by an authenticated token; answers its id. The token is
-- the authority for the role, so the stored role follows the latest token.
create function tradewind_ensure_user(p_username text, p_role text) returns uuid
  language plpgsql security definer set search_path = public
  as $$
declare
  v_id uuid;
begin
  insert into users (username, role) values (p_username, p_role)
  on conflict (username) do update
    set role = excluded.role,
        last_seen_at = case when users.last_seen_at < now() - interval '1 minute'
                            then now() else users.last_seen_at end
  returning id into v_id;
  return v_id;
end
$$;
revoke all on function tradewind_ensure_user(text, text) from public;
grant execute on function tradewind_ensure_user(text, text) to tradewind_app;

-- Bots ----------------------------------------------------------------------------------

create table bots (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  name text not null,
  strategy text not null,
  config jsonb not null default '{}',
  status text not null default 'stopped'
    check (status in ('running', 'paused', 'stopped', 'error')),
  last_run_at timestamptz,
  error_count integer not null default 0,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, name)
);

-- Orders: every Alpaca order field; money and quantities as numeric -------------------

create table orders (
  id uuid primary key,
  user_id uuid not null references users (id),
  bot_id uuid references bots (id),
  client_order_id text not null check (length(client_order_id) between 1 and 128),
  broker text not null default 'paper',
  broker_order_id text unique,
  parent_id uuid references orders (id),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  submitted_at timestamptz,
  filled_at timestamptz,
  expired_at timestamptz,
  expires_at timestamptz,
  canceled_at timestamptz,
  failed_at timestamptz,
  replaced_at timestamptz,
  replaced_by uuid,
  replaces uuid,
  asset_id uuid,
  symbol text not null,
  asset_class text not null default 'us_equity',
  notional numeric check (notional > 0),
  qty numeric check (qty > 0),
  filled_qty numeric not null default 0 check (filled_qty >= 0),
  filled_avg_price numeric,
  order_class text not null default ''
    check (order_class in ('', 'simple', 'bracket', 'oco', 'oto', 'mleg')),
  type text not null
    check (type in ('market', 'limit', 'stop', 'stop_limit', 'trailing_stop')),
  side text not null check (side in ('buy', 'sell')),
  time_in_force text not null
    check (time_in_force in ('day', 'gtc', 'opg', 'cls', 'ioc', 'fok')),
  limit_price numeric,
  stop_price numeric,
  trail_percent numeric,
  trail_price numeric,
  hwm numeric,
  status text not null check (status in (
    'new', 'partially_filled', 'filled', 'done_for_day', 'canceled', 'expired', 'replaced',
    'pending_cancel', 'pending_replace', 'accepted', 'pending_new', 'accepted_for_bidding',
    'stopped', 'rejected', 'suspended', 'calculated', 'held')),
  extended_hours boolean not null default false,
  position_intent text
    check (position_intent in ('buy_to_open', 'buy_to_close', 'sell_to_open', 'sell_to_close')),
  subtag text,
  source text,
  reject_reason text,
  external boolean not null default false,
  correlation_id uuid,
  unique (user_id, client_order_id),
  check (qty is not null or notional is not null),
  check (qty is null or filled_qty <= qty)
);
create index orders_user_created on orders (user_id, created_at desc);
create index orders_user_status on orders (user_id, status);
create index orders_parent on orders (parent_id) where parent_id is not null;

-- Fills ---------------------------------------------------------------------------------

create table fills (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  order_id uuid not null references orders (id),
  execution_id text not null unique,
  symbol text not null,
  side text not null check (side in ('buy', 'sell')),
  qty numeric not null check (qty > 0),
  price numeric not null check (price > 0),
  ts timestamptz not null,
  venue text not null,
  created_at timestamptz not null default now()
);
create index fills_order on fills (order_id);
create index fills_user_ts on fills (user_id, ts desc);

-- Positions: signed qty (negative is short) ---------------------------------------------

create table positions (
  user_id uuid not null references users (id),
  symbol text not null,
  asset_id uuid,
  qty numeric not null,
  avg_entry_price numeric not null default 0,
  cost_basis numeric not null default 0,
  realized_pl numeric not null default 0,
  opened_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (user_id, symbol)
);

create table position_snapshots (
  id bigint generated always as identity primary key,
  user_id uuid not null references users (id),
  ts timestamptz not null,
  symbol text not null,
  qty numeric not null,
  avg_entry_price numeric not null,
  current_price numeric,
  market_value numeric,
  cost_basis numeric not null,
  unrealized_pl numeric
);
create index position_snapshots_user_ts on position_snapshots (user_id, ts desc);

-- Trades: one row per closing fill, with its realized P&L --------------------------------

create table trades (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  bot_id uuid references bots (id),
  symbol text not null,
  side text not null check (side in ('long', 'short')),
  qty numeric not null check (qty > 0),
  entry_price numeric not null,
  exit_price numeric not null,
  realized_pl numeric not null,
  opened_at timestamptz,
  closed_at timestamptz not null,
  entry_order_id uuid references orders (id),
  exit_order_id uuid references orders (id),
  fill_id uuid references fills (id)
);
create index trades_user_closed on trades (user_id, closed_at desc);

-- The audit trail: append-only and hash-chained -----------------------------------------

create table execution_logs (
  seq bigint primary key,
  ts timestamptz not null,
  user_id uuid references users (id),
  order_id uuid references orders (id),
  bot_id uuid references bots (id),
  client_order_id text,
  action text not null check (action ~ '^[A-Z_]+$'),
  status text not null,
  reason text,
  payload jsonb not null default '{}',
  correlation_id uuid,
  causation_id uuid,
  prev_hash text not null,
  hash text not null
);
create sequence execution_logs_seq owned by execution_logs.seq;
create index execution_logs_user_seq on execution_logs (user_id, seq);
create index execution_logs_system_seq on execution_logs (seq) where user_id is null;
create index execution_logs_order on execution_logs (order_id, seq) where order_id is not null;

-- The hash of one row: SHA-256 over a JSON array of its content and the previous hash.
-- Timestamps enter as epoch microseconds so the session time zone cannot change the hash.
create function execution_log_hash(
  p_seq bigint, p_ts timestamptz, p_user_id uuid, p_order_id uuid, p_bot_id uuid,
  p_client_order_id text, p_action text, p_status text, p_reason text, p_payload jsonb,
  p_correlation_id uuid, p_causation_id uuid, p_prev_hash text
) returns text
  language sql immutable
  as $$
    select encode(sha256(convert_to(jsonb_build_array(
      p_seq, (extract(epoch from p_ts) * 1000000)::bigint, p_user_id, p_order_id, p_bot_id,
      p_client_order_id, p_action, p_status, p_reason, p_payload, p_correlation_id,
      p_causation_id, p_prev_hash)::text, 'UTF8')), 'hex')
  $$;

-- Each user's rows form one chain (rows with no user form the system chain), so traders'
-- transactions never wait on each other and a trader can verify their own chain.
-- Before each insert: take that chain's lock (held to commit), number the row, link it to
-- the chain's previous row and hash it. SECURITY DEFINER so the link is found whatever the
-- caller may read.
create function execution_logs_chain() returns trigger
  language plpgsql security definer set search_path = public
  as $$
declare
  v_prev text;
begin
  perform pg_advisory_xact_lock(727001002, hashtext(coalesce(new.user_id::text, 'system')));
  -- Two indexable forms (IS NOT DISTINCT FROM would scan the whole table).
  if new.user_id is null then
    select hash into v_prev from execution_logs
      where user_id is null order by seq desc limit 1;
  else
    select hash into v_prev from execution_logs
      where user_id = new.user_id order by seq desc limit 1;
  end if;
  new.seq := nextval('execution_logs_seq');
  new.ts := clock_timestamp();
  new.payload := coalesce(new.payload, '{}'::jsonb);
  new.prev_hash := coalesce(v_prev, repeat('0', 64));
  new.hash := execution_log_hash(new.seq, new.ts, new.user_id, new.order_id, new.bot_id,
    new.client_order_id, new.action, new.status, new.reason, new.payload,
    new.correlation_id, new.causation_id, new.prev_hash);
  return new;
end
$$;

create function execution_logs_refuse() returns trigger
  language plpgsql
  as $$
begin
  raise exception 'execution_logs is append-only: % is refused', tg_op
    using errcode = '42501';
end
$$;

create trigger execution_logs_chain before insert on execution_logs
  for each row execute function execution_logs_chain();
create trigger execution_logs_no_change before update or delete on execution_logs
  for each row execute function execution_logs_refuse();
create trigger execution_logs_no_truncate before truncate on execution_logs
  for each statement execute function execution_logs_refuse();
-- ALWAYS: the triggers fire even under session_replication_role = replica.
alter table execution_logs enable always trigger execution_logs_chain;
alter table execution_logs enable always trigger execution_logs_no_change;
alter table execution_logs enable always trigger execution_logs_no_truncate;

-- Row-level security ---------------------------------------------------------------------

alter table orders enable row level security;
alter table fills enable row level security;
alter table positions enable row level security;
alter table position_snapshots enable row level security;
alter table bots enable row level security;
alter table trades enable row level security;
alter table execution_logs enable row level security;

create policy orders_tenant on orders for all to tradewind_app
  using (user_id = tradewind_user_id()) with check (user_id = tradewind_user_id());
create policy fills_tenant on fills for all to tradewind_app
  using (user_id = tradewind_user_id()) with check (user_id = tradewind_user_id());
create policy positions_tenant on positions for all to tradewind_app
  using (user_id = tradewind_user_id()) with check (user_id = tradewind_user_id());
create policy position_snapshots_tenant on position_snapshots for all to tradewind_app
  using (user_id = tradewind_user_id()) with check (user_id = tradewind_user_id());
create policy bots_tenant on bots for all to tradewind_app
  using (user_id = tradewind_user_id()) with check (user_id = tradewind_user_id());
create policy trades_tenant on trades for all to tradewind_app
  using (user_id = tradewind_user_id()) with check (user_id = tradewind_user_id());

create policy execution_logs_read on execution_logs for select to tradewind_app
  using (user_id = tradewind_user_id() or tradewind_user_role() in ('admin', 'compliance')
         or (user_id is null and tradewind_user_role() = 'system'));
create policy execution_logs_write on execution_logs for insert to tradewind_app
  with check (user_id = tradewind_user_id()
              or (user_id is null and tradewind_user_role() = 'system'));
create policy execution_logs_compliance on execution_logs for select to tradewind_compliance
  using (true);

grant select, insert, update on orders, positions, bots to tradewind_app;
grant delete on positions, bots to tradewind_app;
grant select, insert on fills, trades, position_snapshots to tradewind_app;
grant select, insert on execution_logs to tradewind_app;
grant select on execution_logs to tradewind_compliance;
grant usage on sequence execution_logs_seq to tradewind_app;
revoke update, delete, truncate on execution_logs from public, tradewind_app, tradewind_compliance;
