/**
 * Read queries over a tenant's orders for the Alpaca face (`GET /v2/orders` and friends):
 * the filtered, cursor-paged list with its legs, and the look-up by client order id. Each
 * runs inside the caller's tenant transaction, so row-level security keeps it to one trader.
 *
 * Legs and replacements: a bracket, oco or oto's legs keep the id of the entry they were
 * placed with as `parent_id`, also after that entry is replaced (the venue keeps the group
 * together through `replaced_by`). Nested views here give a group's legs to the group's
 * current entry, the head of its replacement chain (`replaced_by` null), so a program that
 * replaces its entry still sees the exits under the order it holds; a replaced entry shows
 * none (its `replaced_by` names where they went).
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

/** A page of orders and, when nested, the legs of those orders by order id (oldest first). */
export interface OrderListPage {
  orders: OrderRow[];
  legs: Map<string, OrderRow[]>;
}

/**
 * Lists the tenant's orders by submission time (`direction`, ties by id). With `nested`, only
 * top-level orders are listed, each group's legs beside its current entry (see the module
 * doc); an entry is listed when it has a listed status or, being its group's current entry,
 * one of the group's legs has (a filled bracket whose exits still work is open). Cursor ids
 * must name an order of the tenant: check with {@link orderExists} first (an unknown cursor
 * lists nothing).
 */
export async function listOrders(tx: TransactionSql, f: OrderListFilter): Promise<OrderListPage> {
  const statuses = f.statuses as string[] | null;
  const cursor = (id: string, op: "<" | ">") =>
    op === "<"
      ? tx`and (created_at, id) < (select created_at, id from orders where id = ${id})`
      : tx`and (created_at, id) > (select created_at, id from orders where id = ${id})`;
  const orders = await tx<OrderRow[]>`
    ${
    statuses && f.nested
      // The current entries of the groups with a leg of a listed status.
      ? tx`with recursive grp(id, replaced_by) as (
             select p.id, p.replaced_by from orders p
             where p.id in (select l.parent_id from orders l
                            where l.parent_id is not null and l.status = any(${statuses}))
             union
             select n.id, n.replaced_by from orders n join grp g on n.id = g.replaced_by)`
      : tx``
  }
    select * from orders
    where true
      ${
    !statuses ? tx`` : f.nested
      ? tx`and (status = any(${statuses})
                or id in (select id from grp where replaced_by is null))`
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
    ? await groupLegs(tx, orders.map((r) => r.id))
    : new Map<string, OrderRow[]>();
  return { orders, legs };
}

/**
 * The legs of the groups whose current entry is one of `ids` (oldest first), by that entry's
 * id. Ids of legs, of replaced entries and of orders without legs get none.
 */
export async function groupLegs(
  tx: TransactionSql,
  ids: readonly string[],
): Promise<Map<string, OrderRow[]>> {
  const rows = await tx<(OrderRow & { group_head: string })[]>`
    with recursive chain(head, id, replaces) as (
      select o.id, o.id, o.replaces from orders o
      where o.id = any(${ids as string[]}) and o.parent_id is null and o.replaced_by is null
      union
      select c.head, p.id, p.replaces from orders p join chain c on p.id = c.replaces
    )
    select l.*, c.head as group_head from orders l join chain c on l.parent_id = c.id
    order by l.created_at, l.id`;
  const byHead = new Map<string, OrderRow[]>();
  for (const { group_head, ...leg } of rows) {
    const legs = byHead.get(group_head) ?? [];
    legs.push(leg as OrderRow);
    byHead.set(group_head, legs);
  }
  return byHead;
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
