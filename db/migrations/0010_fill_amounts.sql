-- Exact money end to end (core/money.ts).
--
-- Each fill's cash amount is computed once, by one rule (qty × price rounded half-even to nine
-- places), and stored: the venue's cash, the ledger and the restore of the paper venue after a
-- restart all use the same amounts, so their sums agree to the last nano-unit. Fills recorded
-- before this migration get the amount the rule gives.
--
-- Every numeric the engine reads back into its nine-place decimals is held to nine places by a
-- check, so an over-wide value is refused where it is written instead of stopping the engine
-- when it is read.

create function tradewind_fill_amount(p_qty numeric, p_price numeric) returns numeric
language sql immutable strict parallel safe
as $$
  -- round() breaks ties away from zero; a tie at the tenth place goes to the even neighbour
  select trim_scale(case
    when x * 1e9 - trunc(x * 1e9) = 0.5 and mod(trunc(x * 1e9), 2) = 0 then trunc(x, 9)
    when x * 1e9 - trunc(x * 1e9) = -0.5 and mod(trunc(x * 1e9), 2) = 0 then trunc(x, 9)
    else round(x, 9)
  end)
  from (select p_qty * p_price as x) s
$$;
comment on function tradewind_fill_amount(numeric, numeric) is
  'A fill''s cash amount: qty × price rounded half-even to nine places (core/money.ts fillAmount)';

alter table fills add column amount numeric;
update fills set amount = tradewind_fill_amount(qty, price);
alter table fills alter column amount set not null;
alter table fills add constraint fills_amount_nonnegative check (amount >= 0);

do $$
declare
  c record;
begin
  for c in
    select * from (values
      ('fills', 'qty'), ('fills', 'price'), ('fills', 'amount'),
      ('orders', 'notional'), ('orders', 'qty'), ('orders', 'filled_qty'),
      ('orders', 'filled_avg_price'), ('orders', 'limit_price'), ('orders', 'stop_price'),
      ('orders', 'trail_percent'), ('orders', 'trail_price'), ('orders', 'hwm'),
      ('positions', 'qty'), ('positions', 'avg_entry_price'), ('positions', 'cost_basis'),
      ('positions', 'realized_pl'),
      ('trades', 'qty'), ('trades', 'entry_price'), ('trades', 'exit_price'),
      ('trades', 'realized_pl')
    ) as t (tbl, col)
  loop
    execute format(
      'alter table %I add constraint %I check (%I = round(%I, 9))',
      c.tbl, c.tbl || '_' || c.col || '_nine_places', c.col, c.col);
  end loop;
end
$$;
