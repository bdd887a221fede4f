/**
 * Read model of a trader's orders behind `/api/v1/orders`: the filtered list with legs, one
 * order's fills and retry links, the look-up by client order id, an order's book and its audit
 * trail. Every read runs in a transaction acting for the caller ({@link withTenant}), so
 * row-level security keeps it to that trader (another trader's order reads as absent).
 *
 * The Alpaca face's cursor-paged listing is db/order_queries.ts.
 *
 * @module
 */
import type { Sql } from "postgres";
import { type Tenant, withTenant } from "../database.ts";
import type { OrderRow } from "../ledger.ts";
import { bookCondition, type BookId } from "./books.ts";

/** Filters of {@link listOrderRows} (`GET /api/v1/orders`). */
export interface OrderRowFilter {
  /** The statuses to list; null for all. */
  statuses: readonly string[] | null;
  /** At most this many (top-level, when nested) orders. */
  limit: number;
  /** By submission time; ties by id. */
  direction: "asc" | "desc";
  /** Legs rolled into their parent: only top-level orders are listed, with their legs. */
  nested: boolean;
  /** Exclusive bounds on submission (creation) time, epoch ms. */
  afterMs?: number | undefined;
  untilMs?: number | undefined;
  /** Only these symbols (an empty list matches none). */
  symbols?: readonly string[] | undefined;
  side?: "buy" | "sell" | undefined;
  botId?: BookId;
}

/**
 * The caller's orders matching `filter` and, when nested, the legs of those orders (oldest
 * first). With `nested`, a parent is listed while it or one of its legs has a listed status
 * (a filled bracket whose exits still work is open).
 */
export function listOrderRows(
  sql: Sql,
  tenant: Tenant,
  filter: OrderRowFilter,
): Promise<{ orders: OrderRow[]; legs: OrderRow[] }> {
  const f = filter;
  const statuses = f.statuses as string[] | null;
  return withTenant(sql, tenant, async (tx) => {
    const orders = await tx<OrderRow[]>`
      select * from orders
      where true
        ${
      !statuses ? tx`` : f.nested
        // A group is listed while any of its orders matches: a filled bracket's open legs.
        ? tx`and (status = any(${statuses}) or exists (
               select 1 from orders l
               where l.parent_id = orders.id and l.status = any(${statuses})))`
        : tx`and status = any(${statuses})`
    }
        ${f.symbols ? tx`and symbol = any(${f.symbols as string[]})` : tx``}
        ${f.side ? tx`and side = ${f.side}` : tx``}
        ${bookCondition(tx, f.botId)}
        ${f.afterMs !== undefined ? tx`and created_at > ${new Date(f.afterMs)}` : tx``}
        ${f.untilMs !== undefined ? tx`and created_at < ${new Date(f.untilMs)}` : tx``}
        ${f.nested ? tx`and parent_id is null` : tx``}
      order by created_at ${f.direction === "asc" ? tx`asc` : tx`desc`}, id
      limit ${f.limit}`;
    const legs = f.nested && orders.length
      ? await tx<OrderRow[]>`select * from orders where parent_id = any(${orders.map((r) => r.id)})
                              order by created_at, id`
      : [];
    return { orders, legs };
  });
}

/** One fill of an order, as the API reads it. */
export interface OrderFillRow {
  id: string;
  execution_id: string;
  qty: string;
  price: string;
  side: string;
  ts: Date;
  venue: string;
}

/** An order's fills (by time) and its ledger links: its book and its retry links. */
export interface OrderDetailRows {
  fills: OrderFillRow[];
  /** The order's book: a bot's id, or null (manual, or no such order). */
  botId: string | null;
  /** The attempt, never sent, whose client order id this order took. */
  retryOf: string | null;
  /** The order that took this attempt's client order id. */
  retriedBy: string | null;
}

/** The fills, book and retry links of one of the caller's orders (empty when there is none). */
export function orderDetailRows(sql: Sql, tenant: Tenant, id: string): Promise<OrderDetailRows> {
  return withTenant(sql, tenant, async (tx) => {
    const [fills, [links]] = await Promise.all([
      tx<OrderFillRow[]>`
        select id, execution_id, qty, price, side, ts, venue from fills
        where order_id = ${id} order by ts, execution_id`,
      tx<{ retry_of: string | null; retried_by: string | null; bot_id: string | null }[]>`
        select retry_of, retried_by, bot_id from orders where id = ${id}`,
    ]);
    return {
      fills,
      botId: links?.bot_id ?? null,
      retryOf: links?.retry_of ?? null,
      retriedBy: links?.retried_by ?? null,
    };
  });
}

/** The book (`bot_id`) of one of the caller's orders: null for manual or no such order. */
export async function orderBookId(sql: Sql, tenant: Tenant, id: string): Promise<string | null> {
  const [row] = await withTenant(
    sql,
    tenant,
    (tx) => tx<{ bot_id: string | null }[]>`select bot_id from orders where id = ${id}`,
  );
  return row?.bot_id ?? null;
}

/**
 * The id of the caller's order a client order id names now: after a retry of an attempt that
 * never reached the venue, the retrying order. Null when there is none.
 */
export async function currentOrderIdByClientId(
  sql: Sql,
  tenant: Tenant,
  clientOrderId: string,
): Promise<string | null> {
  const row = await withTenant(sql, tenant, async (tx) => {
    const [r] = await tx<{ id: string }[]>`
      select id from orders
      where client_order_id = ${clientOrderId} and retried_by is null`;
    return r;
  });
  return row?.id ?? null;
}

/** One audit row of an order's trail. */
export interface OrderAuditRow {
  seq: string;
  ts: Date;
  action: string;
  status: string;
  reason: string | null;
  payload: unknown;
  correlation_id: string | null;
  causation_id: string | null;
  hash: string;
  prev_hash: string;
}

/**
 * The audit trail of one of the caller's orders in sequence order: its own rows, its legs',
 * and the rows about its client order id written before it had an id (a denial). Null when
 * the caller has no such order.
 */
export function orderAuditRows(
  sql: Sql,
  tenant: Tenant,
  id: string,
): Promise<OrderAuditRow[] | null> {
  return withTenant(sql, tenant, async (tx) => {
    const [o] = await tx`select 1 from orders where id = ${id}`;
    if (!o) return null;
    return await tx<OrderAuditRow[]>`
      select seq, ts, action, status, reason, payload, correlation_id, causation_id, hash, prev_hash
      from execution_logs
      where order_id = ${id}
         or order_id in (select id from orders where parent_id = ${id})
         or (order_id is null and client_order_id = (
               select client_order_id from orders where id = ${id} and retried_by is null))
      order by seq`;
  });
}
