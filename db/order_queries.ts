/**
 * Read queries over a tenant's orders for the Alpaca face (`GET /v2/orders` and friends):
 * the filtered, cursor-paged list with its legs, and the look-up by client order id. Each
 * runs inside the caller's tenant transaction, so row-level security keeps it to one trader.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import type { OrderRow } from "./ledger.ts";

/** What `GET /v2/orders` may filter on (ALPACA.md §2.2). */
export interface OrderListFilter {
  /** The statuses to list; null for all. */
  statuses: readonly string[] | null;
  /** At most this many (top-level) orders. */
  limit: number;
  direction: "asc" | "desc";
  /** Legs rolled into their parent: only top-level orders are listed, with their legs. */
  nested: boolean;
  /** Exclusive lower bound on submission (creation) time, epoch ms. */
  afterMs?: number | undefined;
  /** Exclusive upper bound on submission (creation) time, epoch ms. */
  untilMs?: number | undefined;
  symbols?: readonly string[] | undefined;
  side?: "buy" | "sell" | undefined;
  assetClasses?: readonly string[] | undefined;
  /** Only orders submitted before this order (exclusive; ties broken by id). */
  beforeOrderId?: string | undefined;
  /** Only orders submitted after this order (exclusive; ties broken by id). */
  afterOrderId?: string | undefined;
}

/** A page of orders and, when nested, the legs of those orders (oldest first). */
export interface OrderListPage {
  orders: OrderRow[];
  legs: OrderRow[];
}

/**
 * Lists the tenant's orders by submission time (`direction`, ties by id). With `nested`, a
 * parent is listed when it or one of its legs has a listed status (a filled bracket whose
 * exits still work is open), and its legs are answered beside it. Cursor ids must name an
 * order of the tenant: check with {@link orderExists} first (an unknown cursor lists nothing).
 */
export async function listOrders(tx: TransactionSql, f: OrderListFilter): Promise<OrderListPage> {
  const statuses = f.statuses as string[] | null;
  const cursor = (id: string, op: "<" | ">") =>
    op === "<"
      ? tx`and (created_at, id) < (select created_at, id from orders where id = ${id})`
      : tx`and (created_at, id) > (select created_at, id from orders where id = ${id})`;
  const orders = await tx<OrderRow[]>`
    select * from orders
    where true
      ${
    !statuses ? tx`` : f.nested
      ? tx`and (status = any(${statuses}) or exists (
             select 1 from orders l where l.parent_id = orders.id and l.status = any(${statuses})))`
      : tx`and status = any(${statuses})`
  }
      ${f.symbols?.length ? tx`and symbol = any(${f.symbols as string[]})` : tx``}
      ${f.side ? tx`and side = ${f.side}` : tx``}
      ${f.assetClasses?.length ? tx`and asset_class = any(${f.assetClasses as string[]})` : tx``}
      ${f.afterMs !== undefined ? tx`and created_at > ${new Date(f.afterMs)}` : tx``}
      ${f.untilMs !== undefined ? tx`and created_at < ${new Date(f.untilMs)}` : tx``}
      ${f.beforeOrderId ? cursor(f.beforeOrderId, "<") : tx``}
      ${f.afterOrderId ? cursor(f.afterOrderId, ">") : tx``}
      ${f.nested ? tx`and parent_id is null` : tx``}
    order by ${f.direction === "asc" ? tx`created_at asc, id asc` : tx`created_at desc, id desc`}
    limit ${f.limit}`;
  const legs = f.nested && orders.length
    ? await tx<OrderRow[]>`
        select * from orders where parent_id = any(${orders.map((r) => r.id)})
        order by created_at, id`
    : [];
  return { orders, legs };
}

/** Whether the tenant has an order with this id (a UUID). */
export async function orderExists(tx: TransactionSql, id: string): Promise<boolean> {
  const [row] = await tx`select 1 from orders where id = ${id}`;
  return row !== undefined;
}

/**
 * The id of the order a client order id names now: after a retry of an attempt that never
 * reached the venue, the retrying order. Null when the tenant has none.
 */
export async function orderIdByClientOrderId(
  tx: TransactionSql,
  clientOrderId: string,
): Promise<string | null> {
  const [row] = await tx<{ id: string }[]>`
    select id from orders where client_order_id = ${clientOrderId} and retried_by is null`;
  return row?.id ?? null;
}
