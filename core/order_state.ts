/**
 * The order state machine: the one table of legal status changes, and the only function that
 * changes an order's status ({@link transition}).
 *
 * The table follows Alpaca's paper lifecycle (ALPACA.md §3.7) and bracket leg states (§3.4):
 * ```
 * accepted → pending_new → new → partially_filled → filled
 * new/partially_filled → pending_cancel → canceled      (or back: order_cancel_rejected)
 * new/partially_filled → pending_replace → replaced     (or back: order_replace_rejected)
 * held (bracket/oco/oto leg) → new / canceled / replaced / filled
 * new/partially_filled → done_for_day → calculated, expired, rejected …
 * ```
 * Forward skips Alpaca is seen to make (a market order going from `accepted` straight to
 * `filled`, a take-profit leg going from `new` to `replaced`) are legal so the live adapter does
 * not trip on them. A status may repeat only where fills arrive without a status change:
 * `partially_filled`, `pending_cancel`, `pending_replace`.
 *
 * @module
 */

import { type TradeError, tradeErrors } from "./errors.ts";
import type { Order, OrderStatus, TradeUpdateEvent } from "./order.ts";

/** Every legal status change: `ORDER_TRANSITIONS[from]` lists the statuses `from` may move to. */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  accepted: [
    "pending_review",
    "pending_new",
    "new",
    "partially_filled",
    "filled",
    "pending_cancel",
    "canceled",
    "expired",
    "rejected",
    "suspended",
  ],
  pending_review: [
    "accepted",
    "pending_new",
    "new",
    "pending_cancel",
    "canceled",
    "expired",
    "rejected",
  ],
  accepted_for_bidding: [
    "pending_new",
    "new",
    "partially_filled",
    "filled",
    "pending_cancel",
    "canceled",
    "expired",
    "rejected",
  ],
  pending_new: [
    "new",
    "partially_filled",
    "filled",
    "pending_cancel",
    "canceled",
    "expired",
    "rejected",
    "suspended",
  ],
  new: [
    "partially_filled",
    "filled",
    "pending_cancel",
    "canceled",
    "pending_replace",
    "replaced",
    "expired",
    "done_for_day",
    "rejected",
    "stopped",
    "suspended",
  ],
  held: [
    "accepted",
    "pending_new",
    "new",
    "partially_filled",
    "filled",
    "pending_cancel",
    "canceled",
    "pending_replace",
    "replaced",
    "expired",
    "rejected",
  ],
  partially_filled: [
    "partially_filled",
    "filled",
    "pending_cancel",
    "canceled",
    "pending_replace",
    "replaced",
    "expired",
    "done_for_day",
    "stopped",
  ],
  done_for_day: [
    "new",
    "partially_filled",
    "filled",
    "calculated",
    "pending_cancel",
    "canceled",
    "expired",
  ],
  calculated: ["filled", "canceled", "expired"],
  pending_cancel: [
    "pending_cancel",
    "canceled",
    "filled",
    "expired",
    // the cancel was refused: back to where the order was (event order_cancel_rejected)
    "accepted",
    "held",
    "new",
    "partially_filled",
  ],
  pending_replace: [
    "pending_replace",
    "replaced",
    "filled",
    "canceled",
    "expired",
    // the replace was refused: back to where the order was (event order_replace_rejected)
    "held",
    "new",
    "partially_filled",
  ],
  stopped: ["partially_filled", "filled", "canceled", "expired", "done_for_day"],
  suspended: ["new", "pending_cancel", "canceled", "expired", "rejected"],
  filled: [],
  canceled: [],
  expired: [],
  replaced: [],
  rejected: [],
};

/** Statuses an order may be created in (`held` for bracket/oco/oto legs). */
export const INITIAL_STATUSES: readonly OrderStatus[] = [
  "accepted",
  "pending_review",
  "accepted_for_bidding",
  "pending_new",
  "new",
  "held",
];

/** Statuses with no way out: the order is closed. */
export const TERMINAL_STATUSES: readonly OrderStatus[] = [
  "filled",
  "canceled",
  "expired",
  "replaced",
  "rejected",
];

/** Every non-terminal status: what `GET /v2/orders?status=open` lists. */
export const OPEN_STATUSES: readonly OrderStatus[] = Object.keys(ORDER_TRANSITIONS).filter(
  (s) => !TERMINAL_STATUSES.includes(s as OrderStatus),
) as OrderStatus[];

/** True when `from → to` is in {@link ORDER_TRANSITIONS}. Never throws. */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from]?.includes(to) ?? false;
}

/** True for a status that can still change (not filled, canceled, expired, replaced, rejected). */
export function isOpen(status: OrderStatus): boolean {
  return !isTerminal(status);
}

/** True for filled, canceled, expired, replaced and rejected. */
export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/**
 * Moves `order` to status `to` at `tsMs`: returns a new order with `status` and `updated_at`
 * set, and the matching `filled_at`, `canceled_at`, `expired_at`, `failed_at` or `replaced_at`
 * stamped (and `submitted_at` if it was null). It changes nothing else; fills, `replaced_by`
 * and the like are the caller's.
 * Throws {@link TradeError} `ILLEGAL_TRANSITION` when the table forbids the change.
 */
export function transition(order: Order, to: OrderStatus, tsMs: number): Order {
  if (!canTransition(order.status, to)) {
    throw tradeErrors.illegalTransition(order, to);
  }
  return {
    ...order,
    status: to,
    updated_at: tsMs,
    submitted_at: order.submitted_at ?? tsMs,
    filled_at: to === "filled" ? tsMs : order.filled_at,
    canceled_at: to === "canceled" ? tsMs : order.canceled_at,
    expired_at: to === "expired" ? tsMs : order.expired_at,
    failed_at: to === "rejected" ? tsMs : order.failed_at,
    replaced_at: to === "replaced" ? tsMs : order.replaced_at,
  };
}

/**
 * The `trade_updates` event announcing that an order entered a status, or null where Alpaca
 * sends none (`accepted`, `pending_review`, `accepted_for_bidding`, `held`).
 */
export const STATUS_EVENTS: Readonly<Record<OrderStatus, TradeUpdateEvent | null>> = {
  accepted: null,
  pending_review: null,
  accepted_for_bidding: null,
  held: null,
  pending_new: "pending_new",
  new: "new",
  partially_filled: "partial_fill",
  filled: "fill",
  done_for_day: "done_for_day",
  calculated: "calculated",
  pending_cancel: "pending_cancel",
  canceled: "canceled",
  pending_replace: "pending_replace",
  replaced: "replaced",
  expired: "expired",
  rejected: "rejected",
  stopped: "stopped",
  suspended: "suspended",
};

/**
 * The `trade_updates` event for the change `from → to`: `order_cancel_rejected` or
 * `order_replace_rejected` when a pending cancel or replace falls back, `partial_fill` for a
 * repeated status (a fill that changed no status), otherwise {@link STATUS_EVENTS}. Never throws;
 * does not check legality (see {@link canTransition}).
 */
export function transitionEvent(from: OrderStatus, to: OrderStatus): TradeUpdateEvent | null {
  if (from === to) return "partial_fill";
  const done = to === "filled" || to === "canceled" || to === "expired";
  if (from === "pending_cancel" && !done) return "order_cancel_rejected";
  if (from === "pending_replace" && !done && to !== "replaced") return "order_replace_rejected";
  return STATUS_EVENTS[to];
}

/**
 * Why `order` cannot be canceled now, or null when it can. An order can be canceled until it
 * is closed; one already `pending_cancel`, or `pending_replace` (which refuses cancels), cannot.
 * The error is `ORDER_NOT_CANCELABLE` with Alpaca's `order is already in "<status>" state`.
 * Never throws.
 */
export function cancelError(order: Order): TradeError | null {
  if (
    isTerminal(order.status) || order.status === "pending_cancel" ||
    order.status === "pending_replace"
  ) {
    return tradeErrors.orderNotCancelable(order.id, order.status);
  }
  return null;
}
