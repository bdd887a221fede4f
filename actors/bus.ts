/**
 * The in-process message bus: ledger-committed events fan out to WebSocket subscribers and
 * bot actors. Publishing happens only after the ledger commit that recorded the event.
 *
 * Messages are immutable plain data with a topic; a throwing subscriber is logged and never
 * stops delivery to the others.
 *
 * @module
 */

/** Events Tradewind publishes. `userId` scopes private events to their owner. */
export type BusMessage =
  | {
    topic: "order";
    userId: string;
    /** The ledger sequence of the audit row that recorded the event (for replay). */
    seq: string;
    event: string;
    order: Record<string, unknown>;
    /** The order's book: the bot that placed it, or null (manual). */
    botId?: string | null;
    fill?: { qty: string; price: string; execution_id: string; position_qty: string } | null;
    correlationId: string | null;
    tsMs: number;
  }
  | {
    topic: "account";
    userId: string;
    event: string;
    data: Record<string, unknown>;
    tsMs: number;
  }
  | {
    topic: "bot";
    userId: string;
    botId: string;
    event: string;
    data: Record<string, unknown>;
    tsMs: number;
  }
  /**
   * An order refused before it was placed or replaced (validation, risk, the rate, a client
   * order id conflict): `OrderDenied`, published after its DENIED audit row committed (`seq`;
   * null for a rate-limit refusal within a window already on record).
   */
  | {
    topic: "denial";
    event: "OrderDenied";
    userId: string;
    seq: string | null;
    /** The order a refused replacement was for; null for a new order. */
    orderId: string | null;
    botId: string | null;
    clientOrderId: string | null;
    correlationId: string | null;
    /** The rule: the error code answered (`RISK_MAX_POSITION`, `RATE_LIMITED`, …). */
    code: string;
    message: string;
    details: Record<string, unknown>;
    /** The refused request, bounded. */
    request: Record<string, unknown>;
    tsMs: number;
  }
  /** Public market news, e.g. `market_status_changed` from the market monitor. */
  | {
    topic: "market";
    event: string;
    data: Record<string, unknown>;
    tsMs: number;
  };

/** A topic name. */
export type Topic = BusMessage["topic"];

type Listener<T extends Topic> = (message: Extract<BusMessage, { topic: T }>) => void;

/** Publish/subscribe by topic. */
export class MessageBus {
  #listeners = new Map<Topic, Set<Listener<Topic>>>();
  #onError: (error: unknown, message: BusMessage) => void;

  constructor(onError: (error: unknown, message: BusMessage) => void = () => {}) {
    this.#onError = onError;
  }

  /** Listens to a topic; answers an unsubscribe function. */
  subscribe<T extends Topic>(topic: T, listener: Listener<T>): () => void {
    let set = this.#listeners.get(topic);
    if (!set) this.#listeners.set(topic, set = new Set());
    set.add(listener as unknown as Listener<Topic>);
    return () => set.delete(listener as unknown as Listener<Topic>);
  }

  /** Delivers a message to every listener of its topic, synchronously, in order. */
  publish(message: BusMessage): void {
    const frozen = Object.freeze(message);
    for (const listener of this.#listeners.get(message.topic) ?? []) {
      try {
        listener(frozen as never);
      } catch (e) {
        this.#onError(e, frozen);
      }
    }
  }
}
