/**
 * A venue's error retold with Tradewind's order ids, so a trader is never handed an id no
 * route knows.
 *
 * @module
 */
import type { Sql } from "postgres";
import { TradeError } from "../../core/errors.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import { ledgerIdsOf } from "../../db/execution_queries.ts";

/**
 * The venue's error with every order id it names (`existing_order_id`, `order_id`,
 * `related_orders`, and in the messages) replaced by Tradewind's id of that order. Ids the
 * ledger does not know stay as they are. Throws only when the ledger cannot be read.
 */
export async function withLedgerIds(
  sql: Sql,
  tenant: Tenant,
  error: TradeError,
): Promise<TradeError> {
  const named = new Set<string>();
  const collect = (bag: Record<string, unknown>) => {
    for (const key of ["existing_order_id", "order_id"]) {
      if (typeof bag[key] === "string") named.add(bag[key] as string);
    }
    if (Array.isArray(bag.related_orders)) {
      for (const id of bag.related_orders) if (typeof id === "string") named.add(id);
    }
  };
  collect(error.details);
  collect(error.alpacaExtra as Record<string, unknown>);
  if (named.size === 0) return error;
  const ids = await withTenant(sql, tenant, (tx) => ledgerIdsOf(tx, [...named]));
  if (ids.size === 0) return error;
  const swap = (v: unknown): unknown =>
    typeof v === "string" ? ids.get(v) ?? v : Array.isArray(v) ? v.map(swap) : v;
  const mapBag = <T extends object>(bag: T): T =>
    Object.fromEntries(Object.entries(bag).map(([k, v]) => [k, swap(v)])) as T;
  let message = error.message;
  let alpacaMessage = error.alpacaMessage;
  for (const [venueId, id] of ids) {
    message = message.replaceAll(venueId, id);
    alpacaMessage = alpacaMessage.replaceAll(venueId, id);
  }
  return new TradeError(error.code, message, {
    details: mapBag({ ...error.details }),
    alpacaCode: error.alpacaCode,
    alpacaMessage,
    alpacaExtra: mapBag({ ...error.alpacaExtra }),
    cause: error,
  });
}
