/**
 * The order model's plain types and enum values, without the schemas: what code that only builds
 * or reads orders needs (e.g. a bot Worker) without loading zod. `order.ts` re-exports
 * all of it.
 *
 * @module
 */

import type { Decimal } from "./decimal.ts";

/** Order sides. */
export const ORDER_SIDES = ["buy", "sell"] as const;
/** `buy` or `sell`. */
export type OrderSide = typeof ORDER_SIDES[number];

/** Order types. */
export const ORDER_TYPES = ["market", "limit", "stop", "stop_limit", "trailing_stop"] as const;
/** An order type. */
export type OrderType = typeof ORDER_TYPES[number];

/** Time-in-force values. */
export const TIME_IN_FORCES = ["day", "gtc", "opg", "cls", "ioc", "fok"] as const;
/** A time in force. */
export type TimeInForce = typeof TIME_IN_FORCES[number];

/** Order classes; `""` (what Alpaca returns for simple equity orders) and `"simple"` mean simple. */
export const ORDER_CLASSES = ["", "simple", "bracket", "oco", "oto", "mleg"] as const;
/** An order class. */
export type OrderClass = typeof ORDER_CLASSES[number];

/** Every order status Alpaca reports (SDK `OrderStatus`, plus alpaca-py's `pending_review`). */
export const ORDER_STATUSES = [
  "accepted",
  "pending_review",
  "accepted_for_bidding",
  "pending_new",
  "new",
  "held",
  "partially_filled",
  "filled",
  "done_for_day",
  "calculated",
  "pending_cancel",
  "canceled",
  "pending_replace",
  "replaced",
  "expired",
  "rejected",
  "stopped",
  "suspended",
] as const;
/** An order status. */
export type OrderStatus = typeof ORDER_STATUSES[number];

/** `trade_updates` event names (ALPACA.md §7.1, plus alpaca-py's `accepted` and `restated`). */
export const TRADE_UPDATE_EVENTS = [
  "new",
  "fill",
  "partial_fill",
  "canceled",
  "expired",
  "done_for_day",
  "replaced",
  "rejected",
  "pending_new",
  "stopped",
  "pending_cancel",
  "pending_replace",
  "calculated",
  "suspended",
  "order_replace_rejected",
  "order_cancel_rejected",
  "accepted",
  "restated",
] as const;
/** A `trade_updates` event name. */
export type TradeUpdateEvent = typeof TRADE_UPDATE_EVENTS[number];

/** Asset classes an order may carry. */
export const ASSET_CLASSES = ["us_equity", "us_option", "crypto"] as const;
/** An asset class. */
export type AssetClass = typeof ASSET_CLASSES[number];

/** Position intents. */
export const POSITION_INTENTS = [
  "buy_to_open",
  "buy_to_close",
  "sell_to_open",
  "sell_to_close",
] as const;
/** A position intent. */
export type PositionIntent = typeof POSITION_INTENTS[number];

/** Longest `client_order_id` Alpaca accepts. */
export const MAX_CLIENT_ORDER_ID_LENGTH = 128;

/**
 * An order, with every field of Alpaca's Order object (ALPACA.md §3.2). Amounts are
 * {@link Decimal}, timestamps epoch ms. `legs` is a nested snapshot, `null` unless built with
 * {@link withLegs}; the store keeps each leg as its own order, linked by `parent_id`.
 */
export interface Order {
  readonly id: string;
  readonly client_order_id: string;
  readonly created_at: number;
  readonly updated_at: number | null;
  readonly submitted_at: number | null;
  readonly filled_at: number | null;
  readonly expired_at: number | null;
  readonly canceled_at: number | null;
  readonly failed_at: number | null;
  readonly replaced_at: number | null;
  readonly replaced_by: string | null;
  readonly replaces: string | null;
  readonly asset_id: string;
  readonly symbol: string;
  readonly asset_class: AssetClass;
  readonly notional: Decimal | null;
  readonly qty: Decimal | null;
  readonly filled_qty: Decimal;
  readonly filled_avg_price: Decimal | null;
  readonly order_class: OrderClass;
  readonly type: OrderType;
  readonly side: OrderSide;
  readonly position_intent: PositionIntent | null;
  readonly time_in_force: TimeInForce;
  readonly limit_price: Decimal | null;
  readonly stop_price: Decimal | null;
  readonly status: OrderStatus;
  readonly extended_hours: boolean;
  readonly legs: readonly Order[] | null;
  readonly trail_percent: Decimal | null;
  readonly trail_price: Decimal | null;
  readonly hwm: Decimal | null;
  readonly subtag: string | null;
  readonly source: string | null;
  readonly expires_at: number | null;
  /** mleg legs only. */
  readonly ratio_qty: Decimal | null;
  /** Tradewind only, never on the wire: the parent of a bracket/oco/oto leg. */
  readonly parent_id: string | null;
}

/** The take-profit leg of a bracket, oco or oto request. */
export interface TakeProfit {
  limit_price: Decimal;
}

/** The stop-loss leg of a bracket, oco or oto request; with `limit_price` it is a stop-limit. */
export interface StopLoss {
  stop_price: Decimal;
  limit_price?: Decimal;
}

/** What a client (HTTP or bot) submits. `order_class` `""` means simple. */
export interface OrderRequest {
  symbol: string;
  qty?: Decimal;
  notional?: Decimal;
  side: OrderSide;
  type: OrderType;
  time_in_force: TimeInForce;
  limit_price?: Decimal;
  stop_price?: Decimal;
  trail_price?: Decimal;
  trail_percent?: Decimal;
  extended_hours?: boolean;
  client_order_id?: string;
  order_class?: OrderClass;
  take_profit?: TakeProfit;
  stop_loss?: StopLoss;
  position_intent?: PositionIntent;
}

/** A PATCH /v2/orders/{id} body. `trail` is a new trail_price or trail_percent (same kind). */
export interface ReplaceRequest {
  qty?: Decimal;
  time_in_force?: TimeInForce;
  limit_price?: Decimal;
  stop_price?: Decimal;
  trail?: Decimal;
  client_order_id?: string;
}
