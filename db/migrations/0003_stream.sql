-- Live order events across processes: every engine on this database LISTENs on
-- tradewind_events, and each audit row that records an order event streamed to traders
-- announces itself there. NOTIFY inside the ledger transaction is delivered only on commit,
-- so nothing is announced that the ledger does not hold. The payload carries the owner and
-- the sequence only (NOTIFY payloads are capped at 8000 bytes): a listener that serves that
-- trader reads the row back under the trader's row-level security.

create function execution_logs_announce() returns trigger
  language plpgsql
  as $$
begin
  perform pg_notify('tradewind_events',
    json_build_object('k', 'order', 'u', new.user_id, 's', new.seq::text)::text);
  return null;
end
$$;

-- Broker events carry payload.event; a rejection before the broker answered (REJECTED) and a
-- submit recovered by client order id (RECOVERED, streamed as "accepted") carry none.
create trigger execution_logs_announce after insert on execution_logs
  for each row
  when (new.user_id is not null and (
    new.payload ->> 'event' in
      ('new', 'accepted', 'partial_fill', 'fill', 'canceled', 'replaced', 'rejected', 'expired')
    or (new.action in ('REJECTED', 'RECOVERED') and not new.payload ? 'event')))
  execute function execution_logs_announce();
