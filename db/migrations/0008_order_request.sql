-- The normalized request an order was placed with (core/order_identity.ts: symbol, side, type,
-- qty or notional, prices, time in force, class and legs, extended hours, position intent),
-- with canonical decimals. A repeated client_order_id answers the existing order only when the
-- new request has the same fingerprint; otherwise it is a 422 CLIENT_ORDER_ID_CONFLICT. Null
-- for orders recorded before this column, legs and orders adopted from the venue: their
-- fingerprint is read from the row's own fields.
alter table orders add column request jsonb;
