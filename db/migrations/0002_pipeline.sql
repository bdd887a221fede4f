-- The order pipeline: per-user and per-bot risk limits, the trading state (kill switch),
-- and the one cross-tenant lookup the engine needs to route a broker event to its owner.

create table risk_limits (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id),
  bot_id uuid references bots (id),
  max_order_notional numeric check (max_order_notional >= 0),
  max_position_value numeric check (max_position_value >= 0),
  max_allocation_pct numeric check (max_allocation_pct between 0 and 100),
  max_open_positions integer check (max_open_positions >= 0),
  max_daily_trades integer check (max_daily_trades >= 0),
  daily_loss_limit numeric check (daily_loss_limit >= 0),
  max_sector_pct numeric check (max_sector_pct between 0 and 100),
  max_orders_per_minute integer check (max_orders_per_minute >= 1),
  price_band_pct numeric check (price_band_pct >= 0),
  updated_at timestamptz not null default now(),
  updated_by uuid references users (id)
);
create unique index risk_limits_user on risk_limits (user_id) where bot_id is null;
create unique index risk_limits_bot on risk_limits (user_id, bot_id) where bot_id is not null;

create table trading_states (
  user_id uuid primary key references users (id),
  state text not null check (state in ('active', 'halted', 'reducing')),
  reason text,
  updated_at timestamptz not null default now(),
  updated_by uuid references users (id)
);

alter table risk_limits enable row level security;
alter table trading_states enable row level security;

-- A trader manages their own limits and state; an admin may set anyone's.
create policy risk_limits_tenant on risk_limits for all to tradewind_app
  using (user_id = tradewind_user_id() or tradewind_user_role() = 'admin')
  with check (user_id = tradewind_user_id() or tradewind_user_role() = 'admin');
create policy trading_states_tenant on trading_states for all to tradewind_app
  using (user_id = tradewind_user_id() or tradewind_user_role() = 'admin')
  with check (user_id = tradewind_user_id() or tradewind_user_role() = 'admin');

grant select, insert, update, delete on risk_limits to tradewind_app;
grant select, insert, update on trading_states to tradewind_app;

-- Admins look users up by name to set their limits.
create function tradewind_user_by_name(p_username text) returns uuid
  language sql stable security definer set search_path = public
  as $$ select id from users where username = p_username $$;
revoke all on function tradewind_user_by_name(text) from public;
grant execute on function tradewind_user_by_name(text) to tradewind_app;

-- Broker events carry the broker's order id (or our client order id) and no user: these
-- answer the owning user so the engine can then act as that tenant.
create function tradewind_order_owner(p_broker_order_id text) returns uuid
  language sql stable security definer set search_path = public
  as $$ select user_id from orders where broker_order_id = p_broker_order_id $$;
revoke all on function tradewind_order_owner(text) from public;
grant execute on function tradewind_order_owner(text) to tradewind_app;

-- Users with orders still open at the broker, for reconciliation at start and on a timer.
create function tradewind_users_with_open_orders() returns setof uuid
  language sql stable security definer set search_path = public
  as $$
    select distinct user_id from orders
    where status in ('new', 'partially_filled', 'accepted', 'pending_new', 'pending_cancel',
                     'pending_replace', 'held', 'accepted_for_bidding', 'done_for_day')
  $$;
revoke all on function tradewind_users_with_open_orders() from public;
grant execute on function tradewind_users_with_open_orders() to tradewind_app;

-- Every user and role, for engine-wide jobs (reconciliation, snapshots).
create function tradewind_all_users() returns table (id uuid, username text, role text)
  language sql stable security definer set search_path = public
  as $$ select id, username, role from users order by created_at $$;
revoke all on function tradewind_all_users() from public;
grant execute on function tradewind_all_users() to tradewind_app;

create index fills_user_symbol on fills (user_id, symbol, ts);

-- alpaca-py's pending_review status, known to the order state machine.
alter table orders drop constraint orders_status_check;
alter table orders add constraint orders_status_check check (status in (
  'new', 'partially_filled', 'filled', 'done_for_day', 'canceled', 'expired', 'replaced',
  'pending_cancel', 'pending_replace', 'accepted', 'pending_new', 'accepted_for_bidding',
  'stopped', 'rejected', 'suspended', 'calculated', 'held', 'pending_review'));
