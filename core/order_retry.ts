/**
 * When a client order id may be used again: its order provably never reached the venue.
 *
 * A client order id names one order. The one exception is an attempt the venue never got:
 * its order is rejected with a reason that only the engine's "not sent" paths write, so a
 * client told "nothing was placed; it is safe to retry with the same client_order_id" can do
 * exactly that, and the retry places the order. The attempt stays in the ledger and its audit
 * trail, linked to the order that took its id (`retried_by`, and `retry_of` on the new order).
 *
 * A venue's own rejection reached the venue and keeps the id (the same request answers the
 * rejected order, another is a CLIENT_ORDER_ID_CONFLICT). A validation or risk denial writes
 * no order at all, so it never holds an id.
 *
 * @module
 */

/**
 * The reject reasons that prove an order never reached the venue, each written by one path
 * of the execution engine and by nothing else:
 * - `NOT_SENT`: the submit was refused before it left (the venue's circuit breaker was open);
 * - `BROKER_TIMEOUT`: the submit timed out and the venue then had no order under its client
 *   order id;
 * - `NOT_RECEIVED`: reconciliation found an order that was never acknowledged and that the
 *   venue has no order for under its client order id (the engine stopped before sending it);
 * - `RATE_LIMITED`: the venue's rate limit refused the submit (Alpaca's 429, which creates no
 *   order, or the engine's request budget at Alpaca, which did not send it). Tradewind's own
 *   order rate limit is a risk denial, which writes no order at all.
 */
export const NEVER_SENT_REASONS: readonly string[] = Object.freeze([
  "NOT_SENT",
  "BROKER_TIMEOUT",
  "NOT_RECEIVED",
  "RATE_LIMITED",
]);

/** The fields of an order row that say whether its client order id may be used again. */
export interface RetryCandidate {
  status: string;
  reject_reason?: string | null;
  broker_order_id?: string | null;
  parent_id?: string | null;
  replaces?: string | null;
  retried_by?: string | null;
}

/**
 * True when `order` (a ledger row, as read or as JSON) provably never reached the venue, so a
 * new order may take its client order id: rejected with a {@link NEVER_SENT_REASONS} reason,
 * never acknowledged by the venue (no venue order id), a top-level order (not a bracket leg
 * nor a replacement) and not already retried. Never throws.
 *
 * @example
 * ```ts
 * retryable({ status: "rejected", reject_reason: "BROKER_TIMEOUT", broker_order_id: null }); // true
 * retryable({ status: "rejected", reject_reason: "INSUFFICIENT_BUYING_POWER" }); // false: the venue refused it
 * ```
 */
export function retryable(order: RetryCandidate): boolean {
  return order.status === "rejected" &&
    typeof order.reject_reason === "string" &&
    NEVER_SENT_REASONS.includes(order.reject_reason) &&
    !order.broker_order_id &&
    !order.parent_id &&
    !order.replaces &&
    !order.retried_by;
}
