/**
 * The `data` of Alpaca's `trade_updates` frames (ALPACA.md §7.1) as Tradewind's
 * {@link TradeUpdate}: the event name, the order (read by `rest_json.ts`'s `orderFromAlpaca`),
 * and a fill's price, quantity, signed position and execution id as exact decimals.
 *
 * @module
 */
import { Decimal } from "../../core/decimal.ts";
import { parseTimestamp } from "../../core/order.ts";
import type { Order, TradeUpdateEvent } from "../../core/order_types.ts";
import { TRADE_UPDATE_EVENTS } from "../../core/order_types.ts";
import type { TradeUpdate } from "../../core/account.ts";
import { orderFromAlpaca } from "./rest_json.ts";

/** A `trade_updates` event Tradewind cannot read; `payload` is the event (no credentials). */
export class TradeUpdateError extends Error {
  override name = "TradeUpdateError";
  readonly payload: unknown;
  constructor(message: string, payload: unknown) {
    super(message);
    this.payload = payload;
  }
}

/**
 * Reads the `data` of a `trade_updates` frame into a {@link TradeUpdate}. `timestamp` falls
 * back to the order's `updated_at` (then `created_at`) for events that carry none (`new`,
 * `pending_*`); fills carry `price`, `qty`, `position_qty` (signed) and `execution_id` as
 * given. The statuses Alpaca announces with no event of their own (`held`,
 * `accepted_for_bidding`, `pending_review`), if ever sent as events, become `restated` with the
 * order as sent; other unknown events are refused rather than guessed.
 *
 * @throws {TradeUpdateError} when the event name, the order or an amount does not read.
 */
export function tradeUpdateFromAlpaca(data: unknown): TradeUpdate {
  if (!isRecord(data)) {
    throw new TradeUpdateError("Cannot read trade update: not an object", data);
  }
  const named = data.event;
  // Alpaca names no event after these statuses; should one arrive, it still carries the order's
  // new state, which `restated` (the venue changed the order) conveys without inventing a step.
  const event = typeof named === "string" && STATUS_ONLY.has(named) ? "restated" : named;
  if (typeof event !== "string" || !(TRADE_UPDATE_EVENTS as readonly string[]).includes(event)) {
    throw new TradeUpdateError(
      `Cannot read trade update: unknown event "${String(event)}"`,
      data,
    );
  }
  if (!isRecord(data.order)) {
    throw new TradeUpdateError(`Cannot read trade update "${event}": no order object`, data);
  }
  let order: Order;
  try {
    order = orderFromAlpaca(data.order);
  } catch (e) {
    throw new TradeUpdateError(
      `Cannot read trade update "${event}": ${(e as Error).message}`,
      data,
    );
  }
  const update: TradeUpdate = {
    event: event as TradeUpdateEvent,
    order,
    timestamp: eventTime(data.timestamp, order, event, data),
  };
  const price = amount(data, "price", event);
  const qty = amount(data, "qty", event);
  const positionQty = amount(data, "position_qty", event);
  if (price !== undefined) update.price = price;
  if (qty !== undefined) update.qty = qty;
  if (positionQty !== undefined) update.position_qty = positionQty;
  if (typeof data.execution_id === "string" && data.execution_id !== "") {
    update.execution_id = data.execution_id;
  }
  if ((event === "fill" || event === "partial_fill") && (!update.price || !update.qty)) {
    throw new TradeUpdateError(
      `Cannot read trade update "${event}" of order "${order.id}": a fill needs price and qty`,
      data,
    );
  }
  return update;
}

const STATUS_ONLY = new Set(["held", "accepted_for_bidding", "pending_review"]);

function eventTime(
  value: unknown,
  order: Order,
  event: string,
  data: unknown,
): number {
  if (value === undefined || value === null || value === "") {
    return order.updated_at ?? order.created_at;
  }
  if (typeof value === "string") {
    try {
      return parseTimestamp(value);
    } catch (e) {
      throw new TradeUpdateError(
        `Cannot read trade update "${event}": ${(e as Error).message}`,
        data,
      );
    }
  }
  throw new TradeUpdateError(
    `Cannot read trade update "${event}": timestamp ${JSON.stringify(value)} is not RFC-3339 text`,
    data,
  );
}

function amount(data: Record<string, unknown>, key: string, event: string): Decimal | undefined {
  const v = data[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string" && typeof v !== "number") {
    throw new TradeUpdateError(
      `Cannot read trade update "${event}": ${key} ${JSON.stringify(v)} is not a decimal`,
      data,
    );
  }
  const d = Decimal.tryParse(v);
  if (d === null) {
    throw new TradeUpdateError(
      `Cannot read trade update "${event}": ${key} "${v}" is not a decimal`,
      data,
    );
  }
  return d;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
