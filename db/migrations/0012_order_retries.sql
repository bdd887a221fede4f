-- A client order id whose order provably never reached the venue (rejected before it was sent,
-- or timed out and then not found there: core/order_retry.ts) may be submitted again. The
-- earlier attempt keeps its row, its client order id and its audit trail; the retry is a new
-- order linked to it both ways:
--   retry_of   on the new order: the attempt it retries;
--   retried_by on the earlier attempt: the order that took its client order id.
-- A client order id names one live order per user: the one not retried. Superseded attempts
-- share the id with it, outside the unique index. A retry sets retried_by on the attempt
-- before inserting its own row (the index allows one live row at every moment), so two racing
-- retries serialise on that row and place one order.
alter table orders add column retry_of uuid references orders (id);
alter table orders add column retried_by uuid references orders (id) deferrable initially deferred;
alter table orders drop constraint orders_user_id_client_order_id_key;
create unique index orders_live_client_order_id on orders (user_id, client_order_id)
  where retried_by is null;
create index orders_retry_of on orders (retry_of) where retry_of is not null;
