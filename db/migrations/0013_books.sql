-- Books: a position per (account, owner, symbol), the owner a bot or manual (bot_id null).
--
-- The venue nets one position per symbol per account (`positions` mirrors it). Inside the ledger
-- every order and fill belongs to one book (its order's `bot_id`), and a book's position, average
-- cost, realized P&L and trades come from its own fills alone, by the rules of core/money.ts
-- (`moveBook`). The account position is the sum of the books' quantities; reconciliation books
-- a difference it cannot attribute to the manual book.
--
-- A book whose position is flat keeps its row: its realized P&L is the book's history.
-- Ledgers recorded before this migration get their books replayed from their fills, in the
-- order they were recorded; their trades rows stay as they were written.

create table books (
  user_id uuid not null references users (id),
  bot_id uuid references bots (id),
  symbol text not null,
  asset_id uuid,
  qty numeric not null check (qty = round(qty, 9)),
  avg_entry_price numeric not null default 0 check (avg_entry_price = round(avg_entry_price, 9)),
  cost_basis numeric not null default 0 check (cost_basis = round(cost_basis, 9)),
  realized_pl numeric not null default 0 check (realized_pl = round(realized_pl, 9)),
  opened_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint books_owner_symbol unique nulls not distinct (user_id, bot_id, symbol)
);
create index books_user_symbol on books (user_id, symbol);
comment on table books is
  'A position per (user, owner, symbol): owner a bot (bot_id) or manual (null); sum = positions';

alter table books enable row level security;
create policy books_tenant on books for all to tradewind_app
  using (user_id = tradewind_user_id()) with check (user_id = tradewind_user_id());
grant select, insert, update on books to tradewind_app;

-- Which book a trade closed: trades carry bot_id (null: manual), read per book.
create index trades_user_bot_closed on trades (user_id, bot_id, closed_at desc);

-- An order that flattens the account (closing a position from the API) closes every book in
-- the symbol: book_plan holds what is left of each book's share, [{bot_id, side, qty}], and each
-- fill of the order is split among them (core/books.ts splitFlattenFill).
alter table orders add column book_plan jsonb;

-- An order's book, for GET /orders?bot_id=… (manual orders: bot_id is null).
create index orders_user_manual on orders (user_id, created_at desc) where bot_id is null;

-- Exact half-even division of integers (numeric with scale 0), as core/decimal.ts divRound.
create function tradewind_div_half_even(n numeric, d numeric) returns numeric
language plpgsql immutable strict parallel safe
as $$
declare
  q numeric;
  twice numeric;
begin
  if d < 0 then
    n := -n;
    d := -d;
  end if;
  q := div(n, d); -- truncated toward zero
  twice := abs(n - q * d) * 2;
  if twice > d or (twice = d and mod(q, 2) <> 0) then
    return q + sign(n);
  end if;
  return q;
end
$$;

-- Replays every fill into its book (core/money.ts moveBook), fills in the order recorded.
do $$
declare
  f record;
  b record;
  vk text;
  held numeric;
  abs_held numeric;
  total numeric;
  amt numeric;
  close_amt numeric;
  closed numeric;
  opened numeric;
  cost_removed numeric;
  v_realized numeric;
  nq numeric;
  navg numeric;
  ncost numeric;
  nopened timestamptz;
  buy boolean;
begin
  create temporary table _books (
    k text primary key, user_id uuid, bot_id uuid, symbol text, asset_id uuid, qty numeric,
    avg numeric, cost numeric, realized numeric, opened_at timestamptz, updated_at timestamptz
  ) on commit drop;
  for f in
    select fl.user_id, o.bot_id, fl.symbol, o.asset_id, fl.side, fl.qty, fl.price, fl.amount, fl.ts
    from fills fl join orders o on o.id = fl.order_id
    order by fl.created_at, fl.ts, fl.id
  loop
    vk := f.user_id::text || '/' || coalesce(f.bot_id::text, 'manual') || '/' || f.symbol;
    select * into b from _books where _books.k = vk;
    if not found then
      insert into _books values (vk, f.user_id, f.bot_id, f.symbol, f.asset_id, 0, 0, 0, 0, null,
        f.ts);
      select * into b from _books where _books.k = vk;
    end if;
    buy := f.side = 'buy';
    amt := f.amount;
    held := b.qty;
    abs_held := abs(held);
    v_realized := 0;
    nopened := b.opened_at;
    if held = 0 or (held > 0) = buy then
      total := abs_held + f.qty;
      nq := case when buy then held + f.qty else held - f.qty end;
      navg := tradewind_div_half_even(
        abs_held * 1e9 * b.avg * 1e9 + f.qty * 1e9 * f.price * 1e9, total * 1e9) / 1e9;
      ncost := case when buy then b.cost + amt else b.cost - amt end;
      if held = 0 then nopened := f.ts; end if;
    else
      closed := least(f.qty, abs_held);
      opened := f.qty - closed;
      close_amt := case when opened = 0 then amt else tradewind_fill_amount(closed, f.price) end;
      cost_removed := case when closed = abs_held then b.cost
        else tradewind_div_half_even(b.cost * 1e9 * closed * 1e9, abs_held * 1e9) / 1e9 end;
      v_realized := (case when buy then -close_amt else close_amt end) - cost_removed;
      if opened > 0 then
        nq := case when buy then opened else -opened end;
        navg := f.price;
        ncost := case when buy then amt - close_amt else -(amt - close_amt) end;
        nopened := f.ts;
      elsif closed = abs_held then
        nq := 0; navg := 0; ncost := 0; nopened := null;
      else
        nq := case when buy then held + closed else held - closed end;
        navg := b.avg;
        ncost := b.cost - cost_removed;
      end if;
    end if;
    update _books set qty = trim_scale(nq), avg = trim_scale(navg), cost = trim_scale(ncost),
      realized = trim_scale(b.realized + v_realized), opened_at = nopened, updated_at = f.ts,
      asset_id = coalesce(f.asset_id, _books.asset_id)
    where _books.k = vk;
  end loop;
  insert into books (user_id, bot_id, symbol, asset_id, qty, avg_entry_price, cost_basis,
    realized_pl, opened_at, updated_at)
  select user_id, bot_id, symbol, asset_id, qty, avg, cost, realized, opened_at, updated_at
  from _books;
end
$$;
