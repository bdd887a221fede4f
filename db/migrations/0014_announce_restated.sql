-- A working trailing stop's moved hwm and stop_price (payload.event 'restated') reach the
-- order streams of every engine on this database, as every other order event does.

drop trigger execution_logs_announce on execution_logs;

create trigger execution_logs_announce after insert on execution_logs
  for each row
  when (new.user_id is not null and (
    new.payload ->> 'event' in
      ('new', 'accepted', 'partial_fill', 'fill', 'canceled', 'replaced', 'rejected', 'expired',
       'restated')
    or (new.action in ('REJECTED', 'RECOVERED') and not new.payload ? 'event')))
  execute function execution_logs_announce();
