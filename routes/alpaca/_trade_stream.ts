/**
 * One connection of the Alpaca face's trading stream (`GET /stream`, ALPACA.md §7.1):
 * authenticate, `listen` to `trade_updates`, then every order event of the authenticated user
 * as `{"stream":"trade_updates","data":{"event","order","timestamp",…}}`, with the full Alpaca
 * order and, for fills, `price`, `qty`, `position_qty` and `execution_id`.
 *
 * Events come from the {@link StreamHub}, the same source as the `/api/v1` stream's `orders`:
 * in ledger commit order, this process's and other processes' alike, each at most once. The
 * hub hands this session its order event rows; the session reads the order (and, for a fill,
 * the audited fill) back from the ledger and writes the frames strictly in the hub's order.
 * The order is as the ledger holds it when read, with the status and filled quantity of the
 * event itself.
 *
 * @module
 */
import type { StreamConnection, StreamHub, StreamUser } from "../../actors/stream_hub.ts";
import { StreamRefusal } from "../../actors/stream_hub.ts";
import type { Tenant } from "../../db/database.ts";
import { type AuditedFill, auditedFills } from "../../db/trade_updates.ts";
import type { Order } from "../../core/order_types.ts";
import { toAlpacaJson } from "../../core/order.ts";
import type { Sql } from "postgres";

/** Where the session writes: the face's socket, in the codec the client chose. */
export interface FrameSink {
  send(message: unknown): void;
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
}

/** What a trading stream session needs. */
export interface TradeStreamDeps {
  sql: Sql;
  hub: StreamHub;
  /** Checks an API key pair; null when unknown or revoked. */
  verify(keyId: string, secret: string): Promise<StreamUser | null>;
  /** Reads an order (with its legs) as the user's ledger holds it. */
  orderView(tenant: Tenant, orderId: string): Promise<Order>;
  /** Order events waiting to be written before the connection is closed (1013). */
  maxPending: number;
  /** Unsent bytes the socket may hold before the connection is closed (1013). */
  maxBufferedBytes: number;
}

/** The `/api/v1` stream's event names, back to Alpaca's. */
const EVENTS: Record<string, string> = {
  "order.new": "new",
  "order.accepted": "accepted",
  "order.partially_filled": "partial_fill",
  "order.filled": "fill",
  "order.canceled": "canceled",
  "order.replaced": "replaced",
  "order.rejected": "rejected",
  "order.expired": "expired",
  "order.restated": "restated",
};

const STREAMS = ["trade_updates"];

interface Pending {
  seq: string;
  event: string;
  orderId: string;
  status: string;
  totalFilled: string;
  timestamp: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One `/stream` connection. */
export class TradeStreamSession {
  readonly #deps: TradeStreamDeps;
  readonly #sink: FrameSink;
  #user: StreamUser | null = null;
  #authenticating = false;
  #conn: StreamConnection | null = null;
  #pending: Pending[] = [];
  #draining = false;
  /** Counts listen changes: a batch read under an older one is not sent. */
  #generation = 0;
  #closed = false;

  constructor(deps: TradeStreamDeps, sink: FrameSink) {
    this.#deps = deps;
    this.#sink = sink;
  }

  /** Handles a decoded client frame (null: it could not be decoded). */
  async receive(message: unknown): Promise<void> {
    if (this.#closed) return;
    if (!isRecord(message)) return this.#error("invalid syntax: send a JSON object with action");
    const action = message.action;
    if (action === "authenticate" || action === "auth") {
      const data = isRecord(message.data) ? message.data : message;
      const key = data.key_id ?? data.key;
      const secret = data.secret_key ?? data.secret;
      return await this.#authenticate(
        typeof key === "string" ? key : "",
        typeof secret === "string" ? secret : "",
      );
    }
    if (action === "listen") {
      if (!this.#user) {
        this.#sink.send({
          stream: "authorization",
          data: { status: "unauthorized", action: "listen" },
        });
        return;
      }
      const data = isRecord(message.data) ? message.data : {};
      const streams = data.streams;
      if (!Array.isArray(streams) || streams.some((s) => typeof s !== "string")) {
        return this.#error('invalid syntax: listen takes {"data":{"streams":["trade_updates"]}}');
      }
      return this.#listen(streams as string[]);
    }
    return this.#error(
      `invalid syntax: unknown action ${
        JSON.stringify(action ?? null)
      }; use authenticate or listen`,
    );
  }

  /** The socket closed: stop listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#conn?.close();
    this.#conn = null;
  }

  async #authenticate(key: string, secret: string): Promise<void> {
    if (this.#user || this.#authenticating) {
      this.#sink.send({
        stream: "authorization",
        data: { status: "authorized", action: "authenticate" },
      });
      return;
    }
    this.#authenticating = true;
    let user: StreamUser | null = null;
    try {
      user = key && secret ? await this.#deps.verify(key, secret) : null;
    } catch {
      this.#authenticating = false;
      this.#error("internal error: cannot check the key now, try again shortly");
      return;
    }
    this.#authenticating = false;
    if (this.#closed) return;
    if (!user) {
      this.#sink.send({
        stream: "authorization",
        data: { status: "unauthorized", action: "authenticate" },
      });
      this.#sink.close(1008, "Unauthorized: unknown or revoked API key");
      this.close();
      return;
    }
    this.#user = user;
    this.#sink.send({
      stream: "authorization",
      data: { status: "authorized", action: "authenticate" },
    });
  }

  /** Replaces the streams listened to (Alpaca: the list replaces the previous one). */
  #listen(streams: string[]): void {
    const wanted = STREAMS.filter((s) => streams.includes(s));
    if (wanted.length > 0 && !this.#conn) {
      try {
        this.#conn = this.#deps.hub.connect(this.#hubSink(), this.#user!, {
          streams: ["orders"],
          symbols: [],
        });
      } catch (e) {
        if (!(e instanceof StreamRefusal)) throw e;
        this.#error(e.message);
        this.#sink.send({ stream: "listening", data: { streams: [] } });
        return;
      }
    } else if (wanted.length === 0 && this.#conn) {
      this.#conn.close();
      this.#conn = null;
      this.#pending = [];
      this.#generation++;
    }
    this.#sink.send({ stream: "listening", data: { streams: wanted } });
  }

  /** The hub writes `/api/v1` envelopes here; order events are queued, the rest ignored. */
  #hubSink() {
    return {
      send: (text: string) => this.#fromHub(text),
      close: (code: number, reason: string) => {
        this.#sink.close(code, reason);
        this.close();
      },
      get bufferedAmount() {
        return 0;
      },
    };
  }

  #fromHub(text: string): void {
    if (this.#closed) return;
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (!isRecord(m) || m.stream !== "orders" || !isRecord(m.data)) return;
    const d = m.data;
    this.#pending.push({
      seq: String(m.seq),
      event: EVENTS[String(d.event)] ?? String(d.event).replace(/^order\./, ""),
      orderId: String(d.order_id),
      status: String(d.status),
      totalFilled: String(d.total_filled ?? "0"),
      timestamp: String(d.timestamp),
    });
    if (this.#pending.length > this.#deps.maxPending) {
      this.#sink.close(1013, "Trade updates overflowed: the client reads too slowly");
      this.close();
      return;
    }
    if (!this.#draining) {
      this.#draining = true;
      this.#drain().catch(() => {});
    }
  }

  /** Writes queued events in order, reading their orders and fills a batch at a time. */
  async #drain(): Promise<void> {
    try {
      await this.#drainBatches();
    } finally {
      // In the same turn as the last check for more: an event queued later starts a drain.
      this.#draining = false;
    }
  }

  async #drainBatches(): Promise<void> {
    while (!this.#closed && this.#pending.length > 0) {
      const batch = this.#pending;
      const generation = this.#generation;
      this.#pending = [];
      const tenant: Tenant = { userId: this.#user!.id, role: this.#user!.role as Tenant["role"] };
      let fills: Map<string, AuditedFill>;
      const orders = new Map<string, Order | null>();
      try {
        fills = await auditedFills(
          this.#deps.sql,
          tenant,
          batch.filter((p) => p.event === "fill" || p.event === "partial_fill").map((p) => p.seq),
        );
        for (const id of new Set(batch.map((p) => p.orderId))) {
          // An order the ledger no longer shows the user is skipped; any other failure ends
          // the connection below, so the client reconnects rather than miss an event.
          orders.set(
            id,
            await this.#deps.orderView(tenant, id).catch((e) => {
              if ((e as { code?: unknown }).code === "ORDER_NOT_FOUND") return null;
              throw e;
            }),
          );
        }
      } catch {
        this.#sink.close(1011, "Cannot read trade updates now: reconnect");
        this.close();
        return;
      }
      for (const p of batch) {
        if (this.#closed || generation !== this.#generation) break;
        const order = orders.get(p.orderId);
        if (!order) continue;
        const json: Record<string, unknown> = {
          ...toAlpacaJson(order),
          status: p.status,
          filled_qty: p.totalFilled,
        };
        if (Number(p.totalFilled) === 0) {
          // Read after a later fill: as of this event, nothing was filled yet.
          json.filled_avg_price = null;
          json.filled_at = null;
        }
        const data: Record<string, unknown> = {
          event: p.event,
          order: json,
          timestamp: p.timestamp,
        };
        const fill = fills.get(p.seq);
        if (fill) {
          data.price = fill.price;
          data.qty = fill.qty;
          data.position_qty = fill.position_qty;
          data.execution_id = fill.execution_id;
        }
        if (this.#sink.bufferedAmount > this.#deps.maxBufferedBytes) {
          this.#sink.close(1013, "Trade updates overflowed: the client reads too slowly");
          this.close();
          return;
        }
        this.#sink.send({ stream: "trade_updates", data });
      }
    }
  }

  #error(message: string): void {
    this.#sink.send({ action: "error", data: { error_message: message } });
  }
}
