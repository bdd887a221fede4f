/**
 * What the WebSocket stream needs from PostgreSQL: a trader's order events read back from the
 * audit trail (for `?after=` replay, and for events another process committed), and the
 * `tradewind_events` LISTEN/NOTIFY channel that carries events between engine processes on
 * one database.
 *
 * Order events are announced by a trigger on `execution_logs` (migration 0003) on commit;
 * account and bot events, which have no ledger row, are announced by the hub itself.
 *
 * @module
 */
import type { Sql } from "postgres";
import { withTenant } from "./database.ts";

/** The LISTEN/NOTIFY channel of live events. */
export const EVENTS_CHANNEL = "tradewind_events";

/** Broker events the stream sends to traders (the `event` of an order bus message). */
export const STREAMED_ORDER_EVENTS: readonly string[] = [
  "new",
  "accepted",
  "partial_fill",
  "fill",
  "canceled",
  "replaced",
  "rejected",
  "expired",
  "restated",
];

/** One order event as read from the ledger. Quantities and prices are decimal strings. */
export interface OrderEventRow {
  /** The audit row's sequence (bigint as text). */
  seq: string;
  symbol: string | null;
  /** The broker event: `new`, `fill`, … (see {@link STREAMED_ORDER_EVENTS}). */
  event: string;
  orderId: string;
  clientOrderId: string | null;
  /** The order's book: the bot that placed it, or null (manual). */
  botId: string | null;
  fillQty: string | null;
  fillPrice: string | null;
  /** The order's filled quantity once this event applied. */
  totalFilled: string;
  status: string;
  tsMs: number;
  /** `restated` (a trailing stop's mark moved): the new high-water mark and stop price. */
  hwm?: string | null;
  stopPrice?: string | null;
}

/** A live event travelling between processes. `origin` names the process that sent it. */
export type StreamSignal =
  | { kind: "order"; userId: string; seq: string }
  | {
    kind: "account";
    origin: string;
    userId: string;
    event: string;
    data: Record<string, unknown>;
    tsMs: number;
  }
  | {
    kind: "bot";
    origin: string;
    userId: string;
    botId: string;
    event: string;
    data: Record<string, unknown>;
    tsMs: number;
  };

/** The largest NOTIFY payload PostgreSQL accepts is 7999 bytes. */
const MAX_PAYLOAD_BYTES = 7999;

interface Row {
  seq: string;
  ts: Date;
  order_id: string;
  client_order_id: string | null;
  bot_id: string | null;
  event: string;
  fill_qty: string | null;
  fill_price: string | null;
  symbol: string | null;
  total_filled: string;
  status: string;
  hwm: string | null;
  stop_price: string | null;
}

function toEvent(r: Row): OrderEventRow {
  return {
    seq: r.seq,
    symbol: r.symbol,
    event: r.event,
    orderId: r.order_id,
    clientOrderId: r.client_order_id,
    botId: r.bot_id,
    fillQty: r.fill_qty,
    fillPrice: r.fill_price,
    totalFilled: r.total_filled,
    status: r.status,
    tsMs: r.ts.getTime(),
    ...(r.event === "restated" ? { hwm: r.hwm, stopPrice: r.stop_price } : {}),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads a `tradewind_events` payload; answers null for anything malformed. */
export function parseSignal(payload: string): StreamSignal | null {
  let m: unknown;
  try {
    m = JSON.parse(payload);
  } catch {
    return null;
  }
  if (!isRecord(m) || typeof m.u !== "string") return null;
  if (m.k === "order") {
    return typeof m.s === "string" && /^\d{1,19}$/.test(m.s)
      ? { kind: "order", userId: m.u, seq: m.s }
      : null;
  }
  if (
    typeof m.o !== "string" || typeof m.e !== "string" || !isRecord(m.d) ||
    typeof m.t !== "number"
  ) {
    return null;
  }
  if (m.k === "account") {
    return { kind: "account", origin: m.o, userId: m.u, event: m.e, data: m.d, tsMs: m.t };
  }
  if (m.k === "bot" && typeof m.b === "string") {
    return {
      kind: "bot",
      origin: m.o,
      userId: m.u,
      botId: m.b,
      event: m.e,
      data: m.d,
      tsMs: m.t,
    };
  }
  return null;
}

function wire(signal: StreamSignal): Record<string, unknown> {
  switch (signal.kind) {
    case "order":
      return { k: "order", u: signal.userId, s: signal.seq };
    case "account":
      return {
        k: "account",
        o: signal.origin,
        u: signal.userId,
        e: signal.event,
        d: signal.data,
        t: signal.tsMs,
      };
    case "bot":
      return {
        k: "bot",
        o: signal.origin,
        u: signal.userId,
        b: signal.botId,
        e: signal.event,
        d: signal.data,
        t: signal.tsMs,
      };
  }
}

/**
 * The stream's PostgreSQL side. Reads run as the trader (`withTenant`), so row-level
 * security keeps each trader to their own audit rows.
 */
export class PostgresStreamStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** The user's order events with a sequence above `afterSeq`, oldest first, at most `limit`. */
  orderEventsAfter(userId: string, afterSeq: string, limit: number): Promise<OrderEventRow[]> {
    return this.#read(userId, this.#sql`e.seq > ${afterSeq}::bigint`, limit);
  }

  /** The user's order events among these sequences, oldest first. */
  orderEventsBySeq(userId: string, seqs: readonly string[]): Promise<OrderEventRow[]> {
    if (seqs.length === 0) return Promise.resolve([]);
    return this.#read(userId, this.#sql`e.seq = any(${seqs as string[]}::bigint[])`, seqs.length);
  }

  async #read(userId: string, where: ReturnType<Sql>, limit: number): Promise<OrderEventRow[]> {
    // total_filled: the running sum of the order's audited fills up to this row.
    const rows = await withTenant(this.#sql, { userId, role: "trader" }, (tx) =>
      tx<Row[]>`
        select e.seq::text as seq, e.ts, e.order_id, e.client_order_id, o.symbol, o.bot_id,
               coalesce(e.payload ->> 'event',
                        case e.action when 'REJECTED' then 'rejected' else 'accepted' end)
                 as event,
               case e.action when 'REJECTED' then 'rejected' when 'SENT' then 'accepted'
                 else e.status end as status,
               e.payload -> 'fill' ->> 'qty' as fill_qty,
               e.payload -> 'fill' ->> 'price' as fill_price,
               e.payload ->> 'hwm' as hwm, e.payload ->> 'stop_price' as stop_price,
               (select trim_scale(coalesce(sum((f.payload -> 'fill' ->> 'qty')::numeric), 0))
                  from execution_logs f
                 where f.order_id = e.order_id and f.seq <= e.seq and f.payload ? 'fill')::text
                 as total_filled
          from execution_logs e
          left join orders o on o.id = e.order_id
         where e.user_id = ${userId} and ${where}
           and (e.payload ->> 'event' in ${this.#sql(STREAMED_ORDER_EVENTS as string[])}
                or (e.action in ('REJECTED', 'RECOVERED') and not e.payload ? 'event'))
         order by e.seq
         limit ${limit}`);
    return rows.map(toEvent);
  }

  /**
   * Listens on {@link EVENTS_CHANNEL} (one dedicated connection, re-established by
   * postgres.js after a drop); answers a function that stops listening.
   */
  async listen(onSignal: (signal: StreamSignal) => void): Promise<() => Promise<void>> {
    const meta = await this.#sql.listen(EVENTS_CHANNEL, (payload) => {
      const signal = parseSignal(payload);
      if (signal) onSignal(signal);
    });
    return () => meta.unlisten();
  }

  /**
   * Announces an event to every process listening on this database.
   *
   * @throws {Error} when the event is over NOTIFY's 8000-byte payload limit.
   */
  async signal(signal: StreamSignal): Promise<void> {
    const text = JSON.stringify(wire(signal));
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_PAYLOAD_BYTES) {
      throw new Error(
        `Cannot announce ${signal.kind} event for user "${signal.userId}": ${bytes} bytes exceed NOTIFY's limit of ${MAX_PAYLOAD_BYTES}`,
      );
    }
    await this.#sql.notify(EVENTS_CHANNEL, text);
  }
}
