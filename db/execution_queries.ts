/**
 * The execution engine's small reads and link writes over a tenant's orders and positions
 * (actors/execution/): open orders, look-ups by venue id, a replacement's link, held
 * positions, and the users reconciliation and snapshots visit. Each tenant query runs inside
 * the caller's tenant transaction, so row-level security keeps it to one trader.
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";
import { OPEN_STATUSES } from "../core/order_state.ts";
import type { OrderRow } from "./ledger.ts";

const OPEN = OPEN_STATUSES as string[];

/** The tenant's open orders, parents first, oldest first (what cancel-all walks). */
export function openOrdersForCancel(tx: TransactionSql): Promise<OrderRow[]> {
  return tx<OrderRow[]>`select * from orders where status = any(${OPEN})
                        order by (parent_id is not null), created_at, id`;
}

/** The tenant's open orders, oldest first (what reconciliation checks). */
export function openOrders(tx: TransactionSql): Promise<OrderRow[]> {
  return tx<OrderRow[]>`select * from orders where status = any(${OPEN}) order by created_at`;
}

/** Which of `ids` are still open. */
export async function stillOpen(tx: TransactionSql, ids: string[]): Promise<string[]> {
  const rows = await tx<{ id: string }[]>`select id from orders
                                          where id = any(${ids}) and status = any(${OPEN})`;
  return rows.map((r) => r.id);
}

/** Ledger ids of the orders with these venue ids (`broker_order_id` → `id`). */
export async function ledgerIdsOf(
  tx: TransactionSql,
  venueIds: string[],
): Promise<Map<string, string>> {
  const rows = await tx<{ id: string; broker_order_id: string }[]>`
    select id, broker_order_id from orders where broker_order_id = any(${venueIds})`;
  return new Map(rows.map((r) => [r.broker_order_id, r.id]));
}

/** Links a replaced order to its replacement, unless it already has one. */
export async function linkReplacement(
  tx: TransactionSql,
  orderId: string,
  replacementId: string,
): Promise<void> {
  await tx`update orders set replaced_by = ${replacementId}
           where id = ${orderId} and replaced_by is null`;
}

/**
 * The ledger row of a venue order by its venue id or, failing that, its client order id (the
 * live order under it before a retried attempt).
 */
export async function findByVenueOrder(
  tx: TransactionSql,
  venueId: string,
  clientOrderId: string,
): Promise<OrderRow | null> {
  const [row] = await tx<OrderRow[]>`
    select * from orders
    where broker_order_id = ${venueId} or client_order_id = ${clientOrderId}
    order by (broker_order_id = ${venueId}) desc nulls last, (retried_by is null) desc
    limit 1`;
  return row ?? null;
}

/** An order's legs, oldest first. */
export function legsOf(tx: TransactionSql, parentId: string): Promise<OrderRow[]> {
  return tx<OrderRow[]>`select * from orders where parent_id = ${parentId} order by created_at, id`;
}

/** The tenant's position quantity in a symbol, or null when there is no row. */
export async function positionQty(tx: TransactionSql, symbol: string): Promise<string | null> {
  const [row] = await tx<{ qty: string }[]>`select qty from positions where symbol = ${symbol}`;
  return row?.qty ?? null;
}

/** One held position of the tenant, as snapshots read it. */
export interface HeldPosition {
  symbol: string;
  qty: string;
  avg_entry_price: string;
  cost_basis: string;
}

/** The tenant's non-zero positions, by symbol. */
export function heldPositions(tx: TransactionSql): Promise<HeldPosition[]> {
  return tx<HeldPosition[]>`
    select symbol, qty, avg_entry_price, cost_basis from positions where qty <> 0
    order by symbol`;
}

/** The users with open orders (any tenant; for reconciliation). */
export async function usersWithOpenOrders(sql: Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select tradewind_users_with_open_orders() as id`;
  return rows.map((r) => r.id);
}

/** Every user (any tenant; for snapshots). */
export function allUsers(sql: Sql): Promise<{ id: string; role: string }[]> {
  return sql<{ id: string; role: string }[]>`select id, role from tradewind_all_users()`;
}
