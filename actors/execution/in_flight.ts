/**
 * The orders in flight: one record per user and client order id while a submit is in
 * progress. It referees the race between the submit path and the venue's callback, which may
 * apply an order's events before its submit returns:
 *
 * - a second submit under the same key joins the first (or waits for it, if it asks for a
 *   different order);
 * - `live`: the order as its placement committed it, until something touches its row; the
 *   first batch of its venue events starts from it instead of reading the row back;
 * - `known`: the order as its latest applied venue event left it; the submit answers from it.
 *
 * @module
 */
import type { Order } from "../../core/order.ts";
import type { OrderFingerprint } from "../../core/order_identity.ts";
import type { LiveOrder, SubmitResult } from "./types.ts";

/** One submit in progress under a user's client order id. */
export interface InFlightOrder {
  /** What is being placed (a second submit asking for something else waits). */
  readonly fingerprint: OrderFingerprint;
  /** The submit's answer. */
  result: Promise<SubmitResult>;
  /** The ledger order once placed and being sent; null before, and once the venue refused. */
  orderId: string | null;
  /** The committed order whose row nothing has touched since (simple orders only). */
  live: LiveOrder | null;
  /** The order as its latest applied venue event left it. */
  known: Order | null;
}

function keyOf(userId: string, clientOrderId: string): string {
  return `${userId}\u0000${clientOrderId}`;
}

/** The records of the submits in progress. */
export class InFlightOrders {
  readonly #records = new Map<string, InFlightOrder>();

  /** The submit in progress under this key, if any. */
  get(userId: string, clientOrderId: string): InFlightOrder | null {
    return this.#records.get(keyOf(userId, clientOrderId)) ?? null;
  }

  /**
   * Runs a submit under its key: the record exists from before `run` starts until its answer
   * settles, and is then removed.
   */
  async run(
    userId: string,
    clientOrderId: string,
    fingerprint: OrderFingerprint,
    run: (record: InFlightOrder) => Promise<SubmitResult>,
  ): Promise<SubmitResult> {
    const key = keyOf(userId, clientOrderId);
    const record: InFlightOrder = {
      fingerprint,
      result: Promise.resolve(null as unknown as SubmitResult),
      orderId: null,
      live: null,
      known: null,
    };
    this.#records.set(key, record);
    const p = run(record);
    record.result = p;
    try {
      return await p;
    } finally {
      if (this.#records.get(key) === record) this.#records.delete(key);
    }
  }

  /** Notes an applied venue event: the submit placing this order answers with it. */
  noteApplied(userId: string, order: Order): void {
    const record = this.#records.get(keyOf(userId, order.client_order_id));
    if (record && record.orderId === order.id) record.known = order;
  }

  /** Takes (removes) the live order a venue order stands for, if a submit in progress has one. */
  takeLive(userId: string, venueOrder: Order): LiveOrder | null {
    if (venueOrder.parent_id || venueOrder.replaces) return null;
    const record = this.#records.get(keyOf(userId, venueOrder.client_order_id));
    const live = record?.live ?? null;
    if (record) record.live = null;
    return live;
  }

  /** Drops the user's live orders: something else is about to write their rows. */
  dropLive(userId: string): void {
    const prefix = keyOf(userId, "");
    for (const [key, record] of this.#records) {
      if (key.startsWith(prefix)) record.live = null;
    }
  }
}
