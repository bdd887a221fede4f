-- Account snapshots: one row per user on the position snapshot timer
-- (POSITION_SNAPSHOT_EVERY_MS), stamped with the same time as that run's position snapshots.
-- The dashboard's equity curve reads them. Append-only for the engine: no update, no delete.
create table account_snapshots (
  id bigint generated always as identity primary key,
  user_id uuid not null references users (id),
  ts timestamptz not null,
  cash numeric not null,
  equity numeric not null,
  last_equity numeric not null,
  long_market_value numeric not null,
  short_market_value numeric not null,
  -- long_market_value + short_market_value (short is negative, as at Alpaca)
  positions_value numeric not null,
  buying_power numeric not null,
  unique (user_id, ts)
);

alter table account_snapshots enable row level security;
create policy account_snapshots_tenant on account_snapshots for all to tradewind_app
  using (user_id = tradewind_user_id()) with check (user_id = tradewind_user_id());
grant select, insert on account_snapshots to tradewind_app;
