-- A bot's orders by bot: its position share (the sum of its orders' fills) is read when it starts
-- and after each of its fills, and must not scan every order in the ledger.
create index orders_bot on orders (bot_id) where bot_id is not null;
