/**
 * What the execution engine's parts share: the dependencies, the per-user queue that orders
 * every ledger write of a user, and publishing committed events on the bus.
 *
 * @module
 */
import { type Order, toAlpacaJson } from "../../core/order.ts";
import type { OrderRequest, ReplaceRequest } from "../../core/order.ts";
import type { Broker } from "../../brokers/broker.ts";
import type { Applied, EngineLog, ExecutionDeps, FillView } from "./types.ts";

/** What every part of the engine is given (built once by `ExecutionEngine`). */
export interface EngineContext {
  readonly deps: ExecutionDeps;
  readonly queues: UserQueues;
  /** The broker acting for a user (resilient, and feeding the engine its trade updates). */
  brokerFor(userId: string): Broker;
  /**
   * Publishes applied events (after their commit) and refreshes what they made stale: the
   * submit in flight, the venue cache, close-all's waiters.
   */
  announce(userId: string, results: Applied[]): void;
  log: EngineLog;
}

/**
 * One promise chain per user: ledger work of a user runs one task at a time, in the order it
 * was queued (venue events in arrival order, acknowledgements after the events before them).
 */
export class UserQueues {
  readonly #queues = new Map<string, Promise<void>>();
  readonly #log: EngineLog;

  constructor(log: EngineLog) {
    this.#log = log;
  }

  /** Queues a task for the user; a failure is logged, never thrown to the queue. */
  enqueue(userId: string, task: () => Promise<unknown>): Promise<void> {
    const tail = this.#queues.get(userId) ?? Promise.resolve();
    const next = tail.then(task).then(
      () => {},
      (e) =>
        this.#log("error", "Ledger update failed", { user: userId, error: String(e?.stack ?? e) }),
    );
    this.#queues.set(userId, next);
    next.then(() => {
      if (this.#queues.get(userId) === next) this.#queues.delete(userId);
    });
    return next;
  }

  /** Queues a task for the user and answers its result (or its error). */
  enqueueAndWait<T>(userId: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue(userId, async () => {
        try {
          resolve(await task());
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** Resolves when every queue is empty (tasks queued meanwhile included). */
  async drain(): Promise<void> {
    while (true) {
      const tails = [...this.#queues.values()];
      await Promise.all(tails.map((p) => p.catch(() => {})));
      await Promise.resolve();
      if (
        [...this.#queues.values()].every((p, i) => p === tails[i]) &&
        this.#queues.size === tails.length
      ) {
        return;
      }
    }
  }
}

/** An order as Alpaca's JSON, for the bus. */
export function orderJson(order: Order): Record<string, unknown> {
  return toAlpacaJson(order) as unknown as Record<string, unknown>;
}

/** A request as plain JSON, for an audit payload. */
export function requestJson(request: OrderRequest | ReplaceRequest): Record<string, unknown> {
  return JSON.parse(JSON.stringify(request));
}

/** One committed order event to publish (see {@link publishOrder}). */
export interface OrderEvent {
  userId: string;
  /** The ledger sequence of the audit row that recorded it. */
  seq: string;
  event: string;
  order: Order;
  fill: FillView | null;
  correlationId: string | null;
  /** The audit row's own time; now when absent. */
  ts?: Date | undefined;
  botId?: string | null | undefined;
}

/**
 * Publishes a committed order event on the bus (topic `order`), and for a fill the account
 * change (topic `account`). Call only after the commit that recorded it.
 */
export function publishOrder(deps: ExecutionDeps, e: OrderEvent): void {
  // The audit row's own time, so live and replayed events carry the same timestamp.
  const tsMs = e.ts ? e.ts.getTime() : deps.clock.now();
  const { userId, order, fill } = e;
  deps.bus.publish({
    topic: "order",
    userId,
    seq: e.seq,
    event: e.event,
    order: orderJson(order),
    botId: e.botId ?? null,
    fill,
    correlationId: e.correlationId,
    tsMs,
  });
  if (fill) {
    // The account moved: cash, buying power and the position changed with this fill.
    deps.bus.publish({
      topic: "account",
      userId,
      event: "account.fill",
      data: {
        order_id: order.id,
        symbol: order.symbol,
        side: order.side,
        qty: fill.qty,
        price: fill.price,
        position_qty: fill.position_qty,
      },
      tsMs,
    });
  }
}
