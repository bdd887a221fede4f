-- Deleting a bot keeps its history: its orders, trades and audit rows still refer to it, so a
-- deleted bot is marked, hidden from the API, and its name may be used again.
alter table bots add column deleted_at timestamptz;
alter table bots drop constraint bots_user_id_name_key;
create unique index bots_user_name_live on bots (user_id, name) where deleted_at is null;
