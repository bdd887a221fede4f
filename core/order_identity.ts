/**
 * What makes two order requests the same order, for idempotency by `client_order_id`: the
 * same key with the same request answers the existing order; the same key with another
 * request is a conflict (`CLIENT_ORDER_ID_CONFLICT`), never the old order in disguise.
 *
 * "The same request" is the same {@link OrderFingerprint}: the normalized order request
 * (symbol, side, type, qty or notional, limit, stop and trail prices, time in force, class
 * and legs, extended hours, position intent), with every decimal in its canonical form, so
 * `"10"`, `10` and `"10.00"` agree. The client order id itself is not part of it.
 *
 * @module
 */

import { TradeError } from "./errors.ts";
import { normalizeOrderClass, type Order, type OrderRequest } from "./order.ts";

/** The canonical, comparable form of an order request. Decimals are canonical strings. */
export interface OrderFingerprint {
  symbol: string;
  side: string;
  type: string;
  qty: string | null;
  notional: string | null;
  limit_price: string | null;
  stop_price: string | null;
  trail_price: string | null;
  trail_percent: string | null;
  time_in_force: string;
  order_class: string;
  take_profit: { limit_price: string } | null;
  stop_loss: { stop_price: string; limit_price: string | null } | null;
  extended_hours: boolean;
  position_intent: string | null;
}

/** The fields of {@link OrderFingerprint}, in the order differences are reported. */
export const FINGERPRINT_FIELDS = [
  "symbol",
  "side",
  "type",
  "qty",
  "notional",
  "limit_price",
  "stop_price",
  "trail_price",
  "trail_percent",
  "time_in_force",
  "order_class",
  "take_profit",
  "stop_loss",
  "extended_hours",
  "position_intent",
] as const satisfies readonly (keyof OrderFingerprint)[];

const text = (v: { toString(): string } | undefined | null): string | null =>
  v === undefined || v === null ? null : v.toString();

/**
 * The fingerprint of a request as the schema read it. An oco without a top-level limit price
 * takes its take-profit's, as the order itself does. Never throws.
 */
export function orderFingerprint(request: OrderRequest): OrderFingerprint {
  const cls = normalizeOrderClass(request.order_class);
  const limit = request.limit_price ??
    (cls === "oco" ? request.take_profit?.limit_price : undefined);
  return {
    symbol: request.symbol.toUpperCase(),
    side: request.side,
    type: request.type,
    qty: request.notional !== undefined ? null : text(request.qty),
    notional: text(request.notional),
    limit_price: text(limit),
    stop_price: text(request.stop_price),
    trail_price: text(request.trail_price),
    trail_percent: text(request.trail_percent),
    time_in_force: request.time_in_force,
    order_class: cls,
    take_profit: request.take_profit
      ? { limit_price: request.take_profit.limit_price.toString() }
      : null,
    stop_loss: request.stop_loss
      ? {
        stop_price: request.stop_loss.stop_price.toString(),
        limit_price: text(request.stop_loss.limit_price),
      }
      : null,
    extended_hours: request.extended_hours ?? false,
    position_intent: request.position_intent ?? null,
  };
}

/**
 * The best fingerprint of an order recorded without one (before fingerprints were stored, or
 * adopted from the venue): its own fields, without legs; a trailing stop's moving stop price
 * is left out. Never throws.
 */
export function fingerprintOfOrder(order: Order): OrderFingerprint {
  return {
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    qty: order.notional !== null ? null : text(order.qty),
    notional: text(order.notional),
    limit_price: text(order.limit_price),
    stop_price: order.type === "trailing_stop" ? null : text(order.stop_price),
    trail_price: text(order.trail_price),
    trail_percent: text(order.trail_percent),
    time_in_force: order.time_in_force,
    order_class: normalizeOrderClass(order.order_class),
    take_profit: null,
    stop_loss: null,
    extended_hours: order.extended_hours,
    position_intent: order.position_intent,
  };
}

/** One field where two fingerprints differ. */
export interface FingerprintDifference {
  field: string;
  existing: unknown;
  requested: unknown;
}

/**
 * The fields where `requested` differs from `existing` (empty: the same order). `existing` may
 * come back from JSON storage; only the fields of {@link FINGERPRINT_FIELDS} are compared, and
 * with `lenient` (an order recorded without its legs) absent legs are not compared. Never
 * throws.
 */
export function fingerprintDifferences(
  existing: OrderFingerprint,
  requested: OrderFingerprint,
  options: { lenient?: boolean } = {},
): FingerprintDifference[] {
  const out: FingerprintDifference[] = [];
  for (const field of FINGERPRINT_FIELDS) {
    if (options.lenient && (field === "take_profit" || field === "stop_loss")) continue;
    if (options.lenient && field === "stop_price" && existing.type === "trailing_stop") continue;
    const a = existing[field] ?? null;
    const b = requested[field] ?? null;
    if (canonical(a) !== canonical(b)) out.push({ field, existing: a, requested: b });
  }
  return out;
}

/** JSON with object keys sorted, so stored and fresh fingerprints compare by value. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && v !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
}

/**
 * 422 `CLIENT_ORDER_ID_CONFLICT`: the client order id names another order. The message names
 * the existing order and the first differing field; `details.differences` lists them all.
 */
export function clientOrderIdConflict(
  clientOrderId: string,
  existingOrderId: string,
  differences: readonly FingerprintDifference[],
): TradeError {
  const first = differences[0];
  const what = first
    ? `its ${first.field} is ${JSON.stringify(first.existing)}, not ${
      JSON.stringify(first.requested)
    }`
    : "it differs";
  return new TradeError(
    "CLIENT_ORDER_ID_CONFLICT",
    `Cannot place order: client_order_id "${clientOrderId}" already names order "${existingOrderId}" and ${what}; use a new client_order_id for a different order`,
    {
      details: {
        client_order_id: clientOrderId,
        existing_order_id: existingOrderId,
        differences: differences.map((d) => ({ ...d })),
      },
      alpacaExtra: { existing_order_id: existingOrderId },
    },
  );
}
