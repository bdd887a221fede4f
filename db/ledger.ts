/**
 * Ledger writes and reads for orders, fills, positions and trades, always inside the caller's
 * tenant transaction ({@link withTenant}), so that row-level security applies and the
 * caller decides what commits together.
 *
 * Rows keep money and quantities as `numeric` (strings in JS); this module converts to and
 * from {@link Decimal} and the core {@link Order}.
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";
import { Decimal } from "../core/decimal.ts";
import { fillAmount, FLAT, moveBook, type PositionBook } from "../core/money.ts";
import { type BookMoveShare, splitFlattenFill } from "../core/books.ts";
import { OPEN_STATUSES } from "../core/order_state.ts";
import type {
  AssetClass,
  Order,
  OrderClass,
  OrderSide,
  OrderStatus,
  OrderType,
  PositionIntent,
  TimeInForce,
} from "../core/order.ts";

type Tx = TransactionSql | Sql;

/** An order row as stored (numeric columns as strings, timestamps as Dates). */
export interface OrderRow {
  id: string;
  user_id: string;
  bot_id: string | null;
  client_order_id: string;
  broker: string;
  broker_order_id: string | null;
  parent_id: string | null;
  created_at: Date;
  updated_at: Date;
  submitted_at: Date | null;
  filled_at: Date | null;
  expired_at: Date | null;
  expires_at: Date | null;
  canceled_at: Date | null;
  failed_at: Date | null;
  replaced_at: Date | null;
  replaced_by: string | null;
  replaces: string | null;
  asset_id: string | null;
  symbol: string;
  asset_class: string;
  notional: string | null;
  qty: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  order_class: string;
  type: string;
  side: string;
  time_in_force: string;
  limit_price: string | null;
  stop_price: string | null;
  trail_percent: string | null;
  trail_price: string | null;
  hwm: string | null;
  status: string;
  extended_hours: boolean;
  position_intent: string | null;
  subtag: string | null;
  source: string | null;
  reject_reason: string | null;
  external: boolean;
  correlation_id: string | null;
  /** The fingerprint of the request the order was placed with (core/order_identity.ts). */
  request?: unknown;
  /** The earlier attempt this order retries under the same client order id (never sent). */
  retry_of?: string | null;
  /** The order that retried this attempt and took its client order id. */
  retried_by?: string | null;
}

/** Extra columns Tradewind keeps beside the Alpaca fields. */
export interface OrderMeta {
  userId: string;
  botId?: string | null;
  broker: string;
  brokerOrderId?: string | null;
  correlationId?: string | null;
  external?: boolean;
  rejectReason?: string | null;
  /** The request's fingerprint, stored to judge a repeated client order id. */
  request?: Record<string, unknown> | null;
  /** The attempt, never sent, whose client order id this order takes ({@link markRetried}). */
  retryOf?: string | null;
  /** For an order that flattens the account: the books it closes (see {@link queueFill}). */
  bookPlan?: BookPlanItem[] | null;
}

const dec = (v: string | null): Decimal | null => v === null ? null : Decimal.parse(v);
const ms = (d: Date | null): number | null => d === null ? null : d.getTime();
const ts = (n: number | null): Date | null => n === null ? null : new Date(n);
const str = (d: Decimal | null): string | null => d === null ? null : d.toString();

/** Converts a stored row into a core {@link Order} (legs null). */
export function rowToOrder(row: OrderRow): Order {
  return {
    id: row.id,
    client_order_id: row.client_order_id,
    created_at: row.created_at.getTime(),
    updated_at: ms(row.updated_at),
    submitted_at: ms(row.submitted_at),
    filled_at: ms(row.filled_at),
    expired_at: ms(row.expired_at),
    canceled_at: ms(row.canceled_at),
    failed_at: ms(row.failed_at),
    replaced_at: ms(row.replaced_at),
    replaced_by: row.replaced_by,
    replaces: row.replaces,
    asset_id: row.asset_id ?? "",
    symbol: row.symbol,
    asset_class: row.asset_class as AssetClass,
    notional: dec(row.notional),
    qty: dec(row.qty),
    filled_qty: Decimal.parse(row.filled_qty),
    filled_avg_price: dec(row.filled_avg_price),
    order_class: row.order_class as OrderClass,
    type: row.type as OrderType,
    side: row.side as OrderSide,
    position_intent: row.position_intent as PositionIntent | null,
    time_in_force: row.time_in_force as TimeInForce,
    limit_price: dec(row.limit_price),
    stop_price: dec(row.stop_price),
    status: row.status as OrderStatus,
    extended_hours: row.extended_hours,
    legs: null,
    trail_percent: dec(row.trail_percent),
    trail_price: dec(row.trail_price),
    hwm: dec(row.hwm),
    subtag: row.subtag,
    source: row.source,
    expires_at: ms(row.expires_at),
    ratio_qty: null,
    parent_id: row.parent_id,
  };
}

// Statements that may be pipelined with COMMIT (withTenant's `finish`) call `.execute()`, so
// that postgres.js queues them at once, in program order, ahead of the COMMIT.

/**
 * Inserts an order row. The order's `id` is Tradewind's own; the broker's id goes in
 * `meta.brokerOrderId` once known. Throws the database's unique violation (code 23505) on a
 * repeated client order id for the same user (unless its order was retried: {@link markRetried}).
 */
export async function insertOrder(tx: Tx, order: Order, meta: OrderMeta): Promise<void> {
  await tx`
    insert into orders (id, user_id, bot_id, client_order_id, broker, broker_order_id, parent_id,
      created_at, updated_at, submitted_at, filled_at, expired_at, expires_at, canceled_at,
      failed_at, replaced_at, replaced_by, replaces, asset_id, symbol, asset_class, notional, qty,
      filled_qty, filled_avg_price, order_class, type, side, time_in_force, limit_price,
      stop_price, trail_percent, trail_price, hwm, status, extended_hours, position_intent,
      subtag, source, reject_reason, external, correlation_id, request, retry_of, book_plan)
    values (${order.id}, ${meta.userId}, ${meta.botId ?? null}, ${order.client_order_id},
      ${meta.broker}, ${meta.brokerOrderId ?? null}, ${order.parent_id},
      ${new Date(order.created_at)}, ${ts(order.updated_at) ?? new Date(order.created_at)},
      ${ts(order.submitted_at)}, ${ts(order.filled_at)}, ${ts(order.expired_at)},
      ${ts(order.expires_at)}, ${ts(order.canceled_at)}, ${ts(order.failed_at)},
      ${ts(order.replaced_at)}, ${order.replaced_by}, ${order.replaces},
      ${order.asset_id || null}, ${order.symbol}, ${order.asset_class}, ${str(order.notional)},
      ${str(order.qty)}, ${order.filled_qty.toString()}, ${str(order.filled_avg_price)},
      ${order.order_class}, ${order.type}, ${order.side}, ${order.time_in_force},
      ${str(order.limit_price)}, ${str(order.stop_price)}, ${str(order.trail_percent)},
      ${str(order.trail_price)}, ${str(order.hwm)}, ${order.status}, ${order.extended_hours},
      ${order.position_intent}, ${order.subtag}, ${order.source}, ${meta.rejectReason ?? null},
      ${meta.external ?? false}, ${meta.correlationId ?? null},
      ${meta.request ? tx.json(JSON.parse(JSON.stringify(meta.request))) : null},
      ${meta.retryOf ?? null},
      ${meta.bookPlan ? tx.json(JSON.parse(JSON.stringify(meta.bookPlan))) : null})`.execute();
}

/**
 * Writes an order's changing fields (status, fills, prices, links, timestamps) and, when
 * given, the broker's order id or a reject reason.
 */
export async function updateOrder(
  tx: Tx,
  order: Order,
  extra: { brokerOrderId?: string | null; rejectReason?: string | null } = {},
): Promise<void> {
  await tx`
    update orders set
      updated_at = ${ts(order.updated_at) ?? new Date()},
      submitted_at = ${ts(order.submitted_at)},
      filled_at = ${ts(order.filled_at)},
      expired_at = ${ts(order.expired_at)},
      expires_at = ${ts(order.expires_at)},
      canceled_at = ${ts(order.canceled_at)},
      failed_at = ${ts(order.failed_at)},
      replaced_at = ${ts(order.replaced_at)},
      replaced_by = ${order.replaced_by},
      replaces = ${order.replaces},
      qty = ${str(order.qty)},
      notional = ${str(order.notional)},
      filled_qty = ${order.filled_qty.toString()},
      filled_avg_price = ${str(order.filled_avg_price)},
      limit_price = ${str(order.limit_price)},
      stop_price = ${str(order.stop_price)},
      trail_percent = ${str(order.trail_percent)},
      trail_price = ${str(order.trail_price)},
      hwm = ${str(order.hwm)},
      time_in_force = ${order.time_in_force},
      status = ${order.status},
      broker_order_id = coalesce(${extra.brokerOrderId ?? null}, broker_order_id),
      reject_reason = coalesce(${extra.rejectReason ?? null}, reject_reason)
    where id = ${order.id}`.execute();
}

/** The order with this id (of the current tenant), or null. */
export async function findOrder(tx: Tx, id: string): Promise<OrderRow | null> {
  const [row] = await tx<OrderRow[]>`select * from orders where id = ${id}`;
  return row ?? null;
}

/**
 * The live order with this client order id (of the current tenant), or null: the one not
 * retried. Attempts that never reached the venue and were retried keep the id beside it.
 */
export async function findOrderByClientId(tx: Tx, clientOrderId: string): Promise<OrderRow | null> {
  const [row] = await tx<OrderRow[]>`
    select * from orders where client_order_id = ${clientOrderId} and retried_by is null`;
  return row ?? null;
}

/**
 * Frees the client order id of `attemptId`, an order that never reached the venue
 * (core/order_retry.ts), for the order `retryId` about to be inserted with it: sets the
 * attempt's `retried_by`. Answers false when another retry took it first (the row is locked
 * until that transaction ends, then found already retried). Call it before inserting the retry.
 */
export async function markRetried(tx: Tx, attemptId: string, retryId: string): Promise<boolean> {
  const rows = await tx`
    update orders set retried_by = ${retryId}
    where id = ${attemptId} and retried_by is null and status = 'rejected'
    returning id`;
  return rows.length === 1;
}

/** The order with this broker order id (of the current tenant), or null. */
export async function findOrderByBrokerId(tx: Tx, brokerOrderId: string): Promise<OrderRow | null> {
  const [row] = await tx<OrderRow[]>`
    select * from orders where broker_order_id = ${brokerOrderId}`;
  return row ?? null;
}

/** The user owning a broker order id, across tenants (a SECURITY DEFINER lookup). */
export async function orderOwner(sql: Tx, brokerOrderId: string): Promise<string | null> {
  const [row] = await sql<{ id: string | null }[]>`
    select tradewind_order_owner(${brokerOrderId}) as id`;
  return row?.id ?? null;
}

/** A position row. `qty` is signed. */
export interface PositionRow {
  symbol: string;
  asset_id: string | null;
  qty: string;
  avg_entry_price: string;
  cost_basis: string;
  realized_pl: string;
  opened_at: Date | null;
  updated_at: Date;
}

/** A fill to record. */
export interface FillInput {
  userId: string;
  orderId: string;
  botId: string | null;
  executionId: string;
  symbol: string;
  assetId: string | null;
  side: OrderSide;
  qty: Decimal;
  price: Decimal;
  /**
   * The cash the fill moved, when the venue says; by default the rule of `core/money.ts`
   * (`qty × price`, half-even to nine places), which the paper venue follows.
   */
  amount?: Decimal;
  tsMs: number;
  venue: string;
}

/** A book row: the position of one owner (a bot, or manual when `bot_id` is null). */
export interface BookRow extends PositionRow {
  bot_id: string | null;
}

/** What recording a fill did. */
export interface FillResult {
  /** False when this execution id was recorded before (the fill was a repeat). */
  inserted: boolean;
  fillId: string | null;
  /** The account position after the fill (qty 0 when flat): the venue's netted position. */
  positionQty: Decimal;
  avgEntryPrice: Decimal;
  /** The fill's book (its order's bot, null for manual) after the fill. */
  bookQty: Decimal;
  /** Realized P&L of the part of this fill that closed its book (zero for an opening fill). */
  realizedPl: Decimal;
  /** The trades row written for the closing part of the book, if any. */
  tradeId: string | null;
}

/**
 * Applies one fill: inserts it with its cash amount (idempotent on the execution id), moves the
 * account position (the venue's netted one, by the rules of `core/money.ts` the paper venue
 * follows too, so the two agree exactly) and the fill's book (its order's bot, or manual), and
 * writes a `trades` row with the realized P&L of any part that closes the book: a bot's trade is
 * priced against the bot's own entries only. Call it inside the tenant transaction that also
 * updates the order.
 */
export async function recordFill(tx: Tx, fill: FillInput): Promise<FillResult> {
  const { written, ...result } = await queueFill(tx, fill);
  await written;
  return result;
}

const bookOf = (row: { qty: string; avg_entry_price: string; cost_basis: string } | undefined) =>
  row
    ? {
      qty: Decimal.parse(row.qty),
      avg: Decimal.parse(row.avg_entry_price),
      cost: Decimal.parse(row.cost_basis),
    }
    : FLAT;

/** One book's share of a flattening order, as stored in `orders.book_plan` (what is left). */
export interface BookPlanItem {
  bot_id: string | null;
  side: OrderSide;
  qty: string;
}

/**
 * {@link recordFill} without waiting for its last writes: the fill is inserted and the
 * position and book read (one round trip), then the trades rows, the position and book writes
 * are queued on the transaction and `written` settles once they are done. Statements issued
 * afterwards on the same transaction run after them, so the caller can send them (and COMMIT)
 * in the same socket write. The caller must await `written` (a failure there fails the
 * transaction).
 *
 * A fill of an order that flattens the account (`orders.book_plan`, from closing a position)
 * is split among the books the plan closes ({@link splitFlattenFill}); that takes one more
 * round trip to read those books.
 */
export async function queueFill(
  tx: Tx,
  fill: FillInput,
): Promise<FillResult & { written: Promise<void> }> {
  // The statements leave in one socket write (postgres.js pipelines same-tick queries).
  const amount = fill.amount ?? fillAmount(fill.qty, fill.price);
  const [[inserted], [pos], [bookRow], [planRow]] = await Promise.all([
    tx<{ id: string }[]>`
      insert into fills (user_id, order_id, execution_id, symbol, side, qty, price, amount, ts,
        venue)
      values (${fill.userId}, ${fill.orderId}, ${fill.executionId}, ${fill.symbol}, ${fill.side},
        ${fill.qty.toString()}, ${fill.price.toString()}, ${amount.toString()},
        ${new Date(fill.tsMs)}, ${fill.venue})
      on conflict (execution_id) do nothing
      returning id`,
    tx<PositionRow[]>`select * from positions where symbol = ${fill.symbol} for update`,
    tx<BookRow[]>`
      select * from books
      where symbol = ${fill.symbol} and bot_id is not distinct from ${fill.botId}::uuid
      for update`,
    fill.botId === null
      ? tx<{ book_plan: BookPlanItem[] | null }[]>`
          select book_plan from orders where id = ${fill.orderId} and book_plan is not null`
      : Promise.resolve([] as { book_plan: BookPlanItem[] | null }[]),
  ]);
  const book: PositionBook = bookOf(pos);
  const before = book.qty;
  if (!inserted) {
    return {
      inserted: false,
      fillId: null,
      positionQty: before,
      avgEntryPrice: book.avg,
      bookQty: bookOf(bookRow).qty,
      realizedPl: Decimal.ZERO,
      tradeId: null,
      written: Promise.resolve(),
    };
  }
  const moved = moveBook(book, fill.side, fill.qty, fill.price);
  const after = moved.book;
  const at = new Date(fill.tsMs);
  // Queued with execute(), in order, and awaited together below.
  const writes: Promise<unknown>[] = [];

  // The books the fill moves: its own, or the shares of a flattening order's plan.
  const plan = planRow?.book_plan ?? null;
  const shares: BookMoveShare[] = plan && plan.length > 0
    ? splitFlattenFill(
      plan.map((m) => ({ botId: m.bot_id, side: m.side, qty: Decimal.parse(m.qty) })),
      fill.side,
      fill.qty,
    )
    : [{ botId: fill.botId, side: fill.side, qty: fill.qty }];
  const rows = new Map<string | null, BookRow | undefined>([[fill.botId, bookRow]]);
  const others = [...new Set(shares.map((m) => m.botId))].filter((b) => !rows.has(b));
  if (others.length > 0) {
    const more = await tx<BookRow[]>`
      select * from books
      where symbol = ${fill.symbol}
        and (bot_id = any(${others.filter((b) => b !== null) as string[]}::uuid[])
             or (bot_id is null and ${others.includes(null)}))
      for update`;
    for (const b of others) rows.set(b, more.find((r) => r.bot_id === b));
  }
  let tradeId: string | null = null;
  let realizedPl = Decimal.ZERO;
  let bookQty = bookOf(bookRow).qty;
  for (const share of shares) {
    const row = rows.get(share.botId);
    const own = bookOf(row);
    const ownMoved = moveBook(own, share.side, share.qty, fill.price);
    const ownAfter = ownMoved.book;
    if (ownMoved.closedQty.isPositive()) {
      const id = crypto.randomUUID();
      if (share.botId === fill.botId) {
        tradeId ??= id;
        realizedPl = realizedPl.add(ownMoved.realizedPl);
      }
      writes.push(
        tx`
        insert into trades (id, user_id, bot_id, symbol, side, qty, entry_price, exit_price,
          realized_pl, opened_at, closed_at, exit_order_id, fill_id)
        values (${id}, ${fill.userId}, ${share.botId}, ${fill.symbol},
          ${own.qty.isPositive() ? "long" : "short"}, ${ownMoved.closedQty.toString()},
          ${own.avg.toString()}, ${fill.price.toString()}, ${ownMoved.realizedPl.toString()},
          ${row?.opened_at ?? null}, ${at}, ${fill.orderId}, ${inserted.id})`
          .execute(),
      );
    }
    const openedAt = ownAfter.qty.isZero()
      ? null
      : own.qty.isZero() || ownMoved.flipped
      ? at
      : row?.opened_at ?? null;
    const realized = (row ? Decimal.parse(row.realized_pl) : Decimal.ZERO).add(
      ownMoved.realizedPl,
    );
    if (share.botId === fill.botId) bookQty = ownAfter.qty;
    // A share moves its book from the state the previous share left (a book appears once).
    rows.set(share.botId, {
      bot_id: share.botId,
      symbol: fill.symbol,
      asset_id: fill.assetId,
      qty: ownAfter.qty.toString(),
      avg_entry_price: ownAfter.avg.toString(),
      cost_basis: ownAfter.cost.toString(),
      realized_pl: realized.toString(),
      opened_at: openedAt,
      updated_at: at,
    });
    writes.push(tx`
      insert into books (user_id, bot_id, symbol, asset_id, qty, avg_entry_price, cost_basis,
        realized_pl, opened_at, updated_at)
      values (${fill.userId}, ${share.botId}, ${fill.symbol}, ${fill.assetId},
        ${ownAfter.qty.toString()}, ${ownAfter.avg.toString()}, ${ownAfter.cost.toString()},
        ${realized.toString()}, ${openedAt}, ${at})
      on conflict (user_id, bot_id, symbol) do update set
        qty = excluded.qty, avg_entry_price = excluded.avg_entry_price,
        cost_basis = excluded.cost_basis, realized_pl = excluded.realized_pl,
        opened_at = excluded.opened_at, updated_at = excluded.updated_at,
        asset_id = coalesce(excluded.asset_id, books.asset_id)`.execute());
  }
  if (plan && plan.length > 0) {
    // What is left of the plan after this fill's shares.
    const left = plan.map((m) => ({ ...m, qty: Decimal.parse(m.qty) }));
    for (const share of shares) {
      const m = left.find((x) => x.bot_id === share.botId && x.side === share.side);
      if (m) m.qty = Decimal.max(Decimal.ZERO, m.qty.sub(share.qty));
    }
    const rest = left.filter((m) => m.qty.isPositive())
      .map((m) => ({ bot_id: m.bot_id, side: m.side, qty: m.qty.toString() }));
    writes.push(
      tx`update orders set book_plan = ${tx.json(rest)} where id = ${fill.orderId}`.execute(),
    );
  }
  if (after.qty.isZero()) {
    if (pos) writes.push(tx`delete from positions where symbol = ${fill.symbol}`.execute());
  } else {
    const openedAt = before.isZero() || moved.flipped ? at : pos?.opened_at;
    const realized = (pos ? Decimal.parse(pos.realized_pl) : Decimal.ZERO).add(moved.realizedPl);
    writes.push(tx`
      insert into positions (user_id, symbol, asset_id, qty, avg_entry_price, cost_basis,
        realized_pl, opened_at, updated_at)
      values (${fill.userId}, ${fill.symbol}, ${fill.assetId}, ${after.qty.toString()},
        ${after.avg.toString()}, ${after.cost.toString()}, ${realized.toString()},
        ${openedAt ?? null}, ${at})
      on conflict (user_id, symbol) do update set
        qty = excluded.qty, avg_entry_price = excluded.avg_entry_price,
        cost_basis = excluded.cost_basis, realized_pl = excluded.realized_pl,
        opened_at = excluded.opened_at, updated_at = excluded.updated_at,
        asset_id = coalesce(excluded.asset_id, positions.asset_id)`.execute());
  }
  const written = Promise.all(writes).then(() => undefined);
  written.catch(() => {});
  return {
    inserted: true,
    fillId: inserted.id,
    positionQty: after.qty,
    avgEntryPrice: after.avg,
    bookQty,
    realizedPl,
    tradeId,
    written,
  };
}

/** The books of the current tenant, all symbols or one, open ones only unless `all`. */
export function listBooks(
  tx: Tx,
  opts: { symbol?: string; botId?: string | null; all?: boolean } = {},
): Promise<BookRow[]> {
  return tx<BookRow[]>`
    select bot_id, symbol, asset_id, qty, avg_entry_price, cost_basis, realized_pl, opened_at,
           updated_at
    from books
    where true
      ${opts.symbol ? tx`and symbol = ${opts.symbol}` : tx``}
      ${opts.botId !== undefined ? tx`and bot_id is not distinct from ${opts.botId}::uuid` : tx``}
      ${opts.all ? tx`` : tx`and qty <> 0`}
    order by symbol, bot_id nulls first`;
}

/** What {@link adjustManualBook} did to one symbol. */
export interface BookAdjustment {
  symbol: string;
  /** The venue's signed position. */
  venueQty: Decimal;
  /** The sum of the books before the adjustment. */
  booksQty: Decimal;
  /** The difference booked to the manual book (venue − books). */
  difference: Decimal;
  /** The manual book after it. */
  manualQty: Decimal;
}

/**
 * Makes the books of each symbol sum to the venue's position: a difference nothing in the
 * ledger explains is booked to the manual book, at the venue's average entry price, as an
 * adjustment (no trade, no realized P&L). `venue` holds the venue's signed positions; symbols
 * with books but no venue position are flat there. A symbol with an open order in the ledger is
 * left for a later pass (a fill may be on its way). Answers what it changed.
 */
export async function adjustManualBook(
  tx: Tx,
  userId: string,
  venue: { symbol: string; assetId: string | null; qty: Decimal; avgEntryPrice: Decimal }[],
  tsMs: number,
): Promise<BookAdjustment[]> {
  // A symbol with an open order may have a fill on its way: it is settled by that fill.
  const [sums, busy] = await Promise.all([
    tx<{ symbol: string; qty: string }[]>`
      select symbol, sum(qty)::text as qty from books group by symbol`,
    tx<{ symbol: string }[]>`
      select distinct symbol from orders where status = any(${OPEN_STATUSES as string[]})`,
  ]);
  const open = new Set(busy.map((r) => r.symbol));
  const bySymbol = new Map(sums.map((r) => [r.symbol, Decimal.parse(r.qty)]));
  const symbols = [...new Set([...bySymbol.keys(), ...venue.map((v) => v.symbol)])]
    .filter((s) => !open.has(s)).sort();
  const out: BookAdjustment[] = [];
  for (const symbol of symbols) {
    const v = venue.find((x) => x.symbol === symbol);
    const venueQty = v?.qty ?? Decimal.ZERO;
    const booksQty = bySymbol.get(symbol) ?? Decimal.ZERO;
    const difference = venueQty.sub(booksQty);
    if (difference.isZero()) continue;
    const [row] = await tx<BookRow[]>`
      select * from books where symbol = ${symbol} and bot_id is null for update`;
    const own = bookOf(row);
    const price = v && v.avgEntryPrice.isPositive() ? v.avgEntryPrice : own.avg;
    const moved = price.isPositive()
      ? moveBook(own, difference.isPositive() ? "buy" : "sell", difference.abs(), price).book
      : { qty: own.qty.add(difference), avg: own.avg, cost: own.cost };
    const at = new Date(tsMs);
    const openedAt = moved.qty.isZero() ? null : row?.opened_at ?? at;
    await tx`
      insert into books (user_id, bot_id, symbol, asset_id, qty, avg_entry_price, cost_basis,
        realized_pl, opened_at, updated_at)
      values (${userId}, null, ${symbol}, ${v?.assetId ?? null}, ${moved.qty.toString()},
        ${moved.avg.toString()}, ${moved.cost.toString()}, ${row?.realized_pl ?? "0"},
        ${openedAt}, ${at})
      on conflict (user_id, bot_id, symbol) do update set
        qty = excluded.qty, avg_entry_price = excluded.avg_entry_price,
        cost_basis = excluded.cost_basis, opened_at = excluded.opened_at,
        updated_at = excluded.updated_at`;
    out.push({ symbol, venueQty, booksQty, difference, manualQty: moved.qty });
  }
  return out;
}
