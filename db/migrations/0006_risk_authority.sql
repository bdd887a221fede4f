-- The chain of authority over risk limits and the trading state: limits and states are stored
-- per layer (an admin's for a user, the user's own), so an admin's survives the user's writes,
-- and the database itself refuses a trader's write to an admin's layer.

-- Limits: one row per (user, layer); bot rows keep layer 'bot'.
alter table risk_limits add column layer text not null default 'user'
  check (layer in ('admin', 'user', 'bot'));
-- A row last written by an admin other than its user was the admin's.
update risk_limits r set layer = 'admin'
  where r.bot_id is null and r.updated_by is distinct from r.user_id
    and exists (select 1 from users u where u.id = r.updated_by and u.role = 'admin');
update risk_limits set layer = 'bot' where bot_id is not null;
alter table risk_limits add constraint risk_limits_bot_layer
  check ((layer = 'bot') = (bot_id is not null));
drop index risk_limits_user;
create unique index risk_limits_user on risk_limits (user_id, layer) where bot_id is null;

-- Trading states: one row per (user, layer).
alter table trading_states add column layer text not null default 'user'
  check (layer in ('admin', 'user'));
update trading_states t set layer = 'admin'
  where t.updated_by is distinct from t.user_id
    and exists (select 1 from users u where u.id = t.updated_by and u.role = 'admin');
alter table trading_states drop constraint trading_states_pkey;
alter table trading_states add primary key (user_id, layer);

-- A trader reads their own rows and writes only their own layers; an admin reads and writes all.
drop policy risk_limits_tenant on risk_limits;
create policy risk_limits_read on risk_limits for select to tradewind_app
  using (user_id = tradewind_user_id() or tradewind_user_role() = 'admin');
create policy risk_limits_write on risk_limits for all to tradewind_app
  using ((user_id = tradewind_user_id() and layer <> 'admin') or tradewind_user_role() = 'admin')
  with check (
    (user_id = tradewind_user_id() and layer <> 'admin') or tradewind_user_role() = 'admin');

drop policy trading_states_tenant on trading_states;
create policy trading_states_read on trading_states for select to tradewind_app
  using (user_id = tradewind_user_id() or tradewind_user_role() = 'admin');
create policy trading_states_write on trading_states for all to tradewind_app
  using ((user_id = tradewind_user_id() and layer <> 'admin') or tradewind_user_role() = 'admin')
  with check (
    (user_id = tradewind_user_id() and layer <> 'admin') or tradewind_user_role() = 'admin');
