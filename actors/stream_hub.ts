/**
 * The stream hub: live WebSocket connections, what each subscribed to, and a bounded send
 * buffer per connection. Transport-free: a connection writes to a {@link StreamSink} (a
 * WebSocket satisfies it), so `routes/stream.ts` is the only place that knows about HTTP.
 *
 * Every message is `{"stream", "symbol", "seq", "data"}`:
 *
 * - `orders`: the trader's own order events after their ledger commit; `seq` is the audit
 *   row's sequence (a decimal string) to pass back as `?after=` when reconnecting. Events
 *   come from the local bus and, for events committed by another process, from
 *   LISTEN/NOTIFY; each connection delivers a sequence at most once.
 * - `account`, `bots`: the trader's own account and bot events (`seq` null).
 * - `trades`, `quotes`, `bars`: market data for subscribed symbols; `seq` counts each stream
 *   and symbol from 1, so a gap shows what was dropped.
 * - control messages: `subscription`, `replayed`, `pong`, `ping` (server heartbeat), `lagged`
 *   (market data was dropped), `error` (a bad command; the connection stays open).
 *
 * Back-pressure: a connection holds at most `bufferSize` unsent messages. When full, the
 * oldest market data goes first (a `lagged` notice says how much); private events are never
 * dropped: if they alone fill the buffer the connection is closed with 1013 so the client
 * reconnects with `?after=` and replays. A connection stops receiving writes while its socket
 * holds more than `highWaterBytes` unsent, so one slow reader never slows the others. Market
 * data is written in short slices between which the event loop runs, so order events wait for
 * at most one slice.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { BusMessage, MessageBus } from "./bus.ts";
import type { MarketData } from "../brokers/broker.ts";
import type { MarketEvent, MarketSubscription } from "../core/market.ts";
import { type OrderEventRow, STREAMED_ORDER_EVENTS, type StreamSignal } from "../db/stream.ts";

/** Streams a client can subscribe to. */
export const STREAMS = ["trades", "quotes", "bars", "orders", "bots", "account"] as const;

/** A stream name. */
export type StreamName = typeof STREAMS[number];

type MarketStream = "trades" | "quotes" | "bars";
const MARKET_STREAMS: readonly MarketStream[] = ["trades", "quotes", "bars"];

/** Close codes the hub uses. */
export const CLOSE = {
  /** Normal close by the server (shutdown). */
  goingAway: 1001,
  /** Bad token, bad initial request or a limit at connect. */
  policy: 1008,
  /** The server could not serve the stream (replay failed). */
  internal: 1011,
  /** Private events overflowed the buffer: reconnect with `?after=`. */
  tryAgain: 1013,
} as const;

/** Where a connection writes. A server-side `WebSocket` is one. */
export interface StreamSink {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
}

/** The user behind a connection, from a verified token. */
export interface StreamUser {
  id: string;
  username: string;
  role: string;
}

/** What a client asked for when connecting. */
export interface StreamRequest {
  symbols?: readonly string[];
  /** Default: every stream. */
  streams?: readonly string[];
  /** Replay the trader's order events after this ledger sequence first. */
  after?: string | null;
}

/** The hub's limits (config.ts `STREAM_*`). */
export interface StreamLimits {
  maxSymbols: number;
  maxConnectionsPerUser: number;
  bufferSize: number;
  /** Close a connection whose client answers nothing (not even pings) this long; 0: never. */
  idleTimeoutMs: number;
  /** Heartbeat interval; 0 turns it off. */
  pingMs: number;
}

/** Defaults of {@link StreamLimits}. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxSymbols: 100,
  maxConnectionsPerUser: 10,
  bufferSize: 1000,
  idleTimeoutMs: 60_000,
  pingMs: 20_000,
};

/** The ledger and the cross-process channel, as the hub uses them (db/stream.ts). */
export interface StreamStore {
  orderEventsAfter(userId: string, afterSeq: string, limit: number): Promise<OrderEventRow[]>;
  orderEventsBySeq(userId: string, seqs: readonly string[]): Promise<OrderEventRow[]>;
  listen(onSignal: (signal: StreamSignal) => void): Promise<() => Promise<void>>;
  signal(signal: StreamSignal): Promise<void>;
}

/** What the hub needs. */
export interface StreamHubDeps {
  bus: MessageBus;
  /** Market data to relay; absent: the market streams stay silent. */
  marketData?: Pick<MarketData, "subscribe"> | null;
  /** Replay and cross-process events; absent: live events of this process only. */
  store?: StreamStore | null;
  limits?: Partial<StreamLimits>;
  /** Unsent bytes a socket may hold before the hub stops writing to it. Default 64 KiB. */
  highWaterBytes?: number;
  /** Longest run of market-data writes before yielding to the event loop. Default 4 ms. */
  sliceMs?: number;
  /** Most market-data writes before yielding to the event loop. Default 256. */
  sliceMessages?: number;
  log?: (
    level: "info" | "warning" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

/**
 * Thrown by {@link StreamHub.connect} (close the socket with `code` and the message) and by
 * a subscription change (answered as an `error` message with `errorCode`).
 */
export class StreamRefusal extends Error {
  override name = "StreamRefusal";
  readonly code: number;
  readonly errorCode: "LIMIT_EXCEEDED" | "BAD_SUBSCRIPTION";

  constructor(
    message: string,
    errorCode: "LIMIT_EXCEEDED" | "BAD_SUBSCRIPTION",
    code: number = CLOSE.policy,
  ) {
    super(message);
    this.errorCode = errorCode;
    this.code = code;
  }
}

/** Counters of the hub, for metrics and benchmarks. */
export interface StreamStats {
  connections: number;
  /** Market messages dropped because a connection's buffer was full. */
  marketDropped: number;
  /** Connections closed with 1013 because private events overflowed. */
  overflowClosed: number;
  /** Messages written to sockets. */
  sent: number;
}

/** One connection's counters. */
export interface ConnectionStats {
  id: number;
  userId: string;
  username: string;
  queued: number;
  dropped: number;
  sent: number;
  bufferedAmount: number;
}

const SYMBOL_RE = /^[A-Z][A-Z0-9.]{0,9}$/;
const SEQ_RE = /^\d{1,19}$/;
const MAX_COMMAND_CHARS = 16_384;
const REPLAY_PAGE = 500;
const ORDER_EVENT_NAMES: Record<string, string> = {
  new: "order.new",
  accepted: "order.accepted",
  partial_fill: "order.partially_filled",
  fill: "order.filled",
  canceled: "order.canceled",
  replaced: "order.replaced",
  rejected: "order.rejected",
  expired: "order.expired",
  restated: "order.restated",
};

/** A FIFO with O(1) shift. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(v: T): void {
    this.#items.push(v);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const v = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return v;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/** A fixed-capacity FIFO: O(1) at both ends, no allocation after construction. */
class Ring<T> {
  readonly #slots: (T | undefined)[];
  #head = 0;
  #count = 0;

  constructor(capacity: number) {
    this.#slots = new Array(capacity);
  }

  get length(): number {
    return this.#count;
  }

  /** Appends; the caller keeps `length` below the capacity. */
  push(v: T): void {
    this.#slots[(this.#head + this.#count++) % this.#slots.length] = v;
  }

  shift(): T | undefined {
    if (this.#count === 0) return undefined;
    const v = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#count--;
    return v;
  }

  clear(): void {
    this.#slots.fill(undefined);
    this.#head = 0;
    this.#count = 0;
  }

  /** Keeps only the items `keep` accepts, in order. */
  retain(keep: (v: T) => boolean): void {
    const kept: T[] = [];
    for (let v = this.shift(); v !== undefined; v = this.shift()) if (keep(v)) kept.push(v);
    for (const v of kept) this.push(v);
  }
}

/** A market message, shared by every connection it goes to. */
interface MarketItem {
  stream: MarketStream;
  symbol: string;
  text: string;
}

/** The last `capacity` distinct keys seen. */
class RecentKeys {
  readonly #set = new Set<string>();
  readonly #order = new Fifo<string>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  has(key: string): boolean {
    return this.#set.has(key);
  }

  /** Adds a key; false when it was already there. */
  add(key: string): boolean {
    if (this.#set.has(key)) return false;
    this.#set.add(key);
    this.#order.push(key);
    if (this.#set.size > this.#capacity) this.#set.delete(this.#order.shift()!);
    return true;
  }
}

function envelope(stream: string, symbol: string | null, seq: unknown, data: unknown): string {
  return JSON.stringify({ stream, symbol, seq, data });
}

/** An order event as the stream sends it (`data` of an `orders` message). */
export interface OrderEventData {
  event: string;
  order_id: string;
  client_order_id: string | null;
  quantity_filled: string | null;
  price_at_fill: string | null;
  total_filled: string;
  status: string;
  /** The order's book: the bot that placed it, or null (manual). */
  bot_id: string | null;
  timestamp: string;
  /** `order.restated` only: a trailing stop's new high-water mark and stop price. */
  hwm?: string | null;
  stop_price?: string | null;
}

function orderText(row: OrderEventRow): string {
  const data: OrderEventData = {
    event: ORDER_EVENT_NAMES[row.event] ?? `order.${row.event}`,
    order_id: row.orderId,
    client_order_id: row.clientOrderId,
    quantity_filled: row.fillQty,
    price_at_fill: row.fillPrice,
    total_filled: row.totalFilled,
    status: row.status,
    bot_id: row.botId,
    timestamp: new Date(row.tsMs).toISOString(),
  };
  if (row.event === "restated") {
    data.hwm = row.hwm ?? null;
    data.stop_price = row.stopPrice ?? null;
  }
  return envelope("orders", row.symbol, row.seq, data);
}

function rowOfBus(m: Extract<BusMessage, { topic: "order" }>): OrderEventRow {
  const o = m.order as {
    id?: unknown;
    client_order_id?: unknown;
    symbol?: unknown;
    status?: unknown;
    filled_qty?: unknown;
    hwm?: unknown;
    stop_price?: unknown;
  };
  return {
    seq: m.seq,
    symbol: typeof o.symbol === "string" ? o.symbol : null,
    event: m.event,
    orderId: String(o.id),
    clientOrderId: typeof o.client_order_id === "string" ? o.client_order_id : null,
    botId: m.botId ?? null,
    fillQty: m.fill?.qty ?? null,
    fillPrice: m.fill?.price ?? null,
    totalFilled: String(o.filled_qty ?? "0"),
    status: String(o.status),
    tsMs: m.tsMs,
    ...(m.event === "restated"
      ? {
        hwm: typeof o.hwm === "string" ? o.hwm : null,
        stopPrice: typeof o.stop_price === "string" ? o.stop_price : null,
      }
      : {}),
  };
}

function prefixed(prefix: string, event: string): string {
  return event.startsWith(prefix) ? event : prefix + event;
}

/** Cuts a close reason to WebSocket's 123-byte limit. */
export function closeReason(text: string): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= 123) return text;
  return new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, "") + "...";
}

/** One live connection. Created by {@link StreamHub.connect}. */
export class StreamConnection {
  readonly id: number;
  readonly user: StreamUser;
  readonly #hub: StreamHub;
  readonly #sink: StreamSink;
  readonly #symbols = new Set<string>();
  readonly #streams = new Set<StreamName>();
  readonly #private = new Fifo<string>();
  readonly #market: Ring<MarketItem>;
  readonly #delivered = new RecentKeys(4096);
  /** Live order events held while the replay runs. */
  #held: OrderEventRow[] | null = null;
  /** The client's `?after=`: order events at or before it are not sent again. */
  #floor: bigint | null = null;
  #unreported = 0;
  #dropped = 0;
  #sent = 0;
  #lastSent = 0;
  #closed = false;
  #roomWaiters: (() => void)[] = [];
  /** @internal Set while the connection waits in the hub's write list. */
  ready = false;

  constructor(hub: StreamHub, id: number, sink: StreamSink, user: StreamUser) {
    this.#hub = hub;
    this.id = id;
    this.#sink = sink;
    this.user = user;
    this.#market = new Ring(hub.limits.bufferSize);
  }

  /** True once closed by either side. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Subscribed symbols (market streams), sorted. */
  get symbols(): string[] {
    return [...this.#symbols].sort();
  }

  /** Subscribed streams, in {@link STREAMS} order. */
  get streams(): StreamName[] {
    return STREAMS.filter((s) => this.#streams.has(s));
  }

  /** Whether the connection receives a stream. */
  wants(stream: StreamName): boolean {
    return this.#streams.has(stream);
  }

  /** Handles a client frame: a JSON command, or null for a binary frame. */
  receive(text: string | null): void {
    if (this.#closed) return;
    if (text === null) return this.#error("BAD_COMMAND", "Cannot read a binary frame: send JSON");
    if (text.length > MAX_COMMAND_CHARS) {
      return this.#error(
        "BAD_COMMAND",
        `Cannot read a command of ${text.length} characters: the limit is ${MAX_COMMAND_CHARS}`,
      );
    }
    let cmd: unknown;
    try {
      cmd = JSON.parse(text);
    } catch {
      return this.#error("BAD_COMMAND", "Cannot parse the command: it is not JSON");
    }
    if (typeof cmd !== "object" || cmd === null || Array.isArray(cmd)) {
      return this.#error("BAD_COMMAND", 'Cannot read the command: send an object with "action"');
    }
    const c = cmd as Record<string, unknown>;
    if (c.action === "ping") {
      this.pushPrivate(
        envelope("pong", null, null, {
          timestamp: new Date().toISOString(),
          ...(c.id !== undefined ? { id: c.id } : {}),
        }),
      );
      return;
    }
    if (c.action !== "subscribe" && c.action !== "unsubscribe") {
      return this.#error(
        "BAD_COMMAND",
        `Cannot run action ${
          JSON.stringify(c.action ?? null)
        }: use "subscribe", "unsubscribe" or "ping"`,
      );
    }
    const lists: Record<string, string[]> = {};
    for (const key of ["symbols", "streams"] as const) {
      const v = c[key];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
        return this.#error("BAD_COMMAND", `Cannot ${c.action}: "${key}" must be a list of strings`);
      }
      lists[key] = v as string[];
    }
    if (!lists.symbols && !lists.streams) {
      return this.#error("BAD_COMMAND", `Cannot ${c.action}: give "symbols", "streams" or both`);
    }
    try {
      this.#hub.change(this, c.action, lists.symbols ?? [], lists.streams ?? []);
    } catch (e) {
      if (!(e instanceof StreamRefusal)) throw e;
      return this.#error(e.errorCode, e.message);
    }
    this.sendSubscription();
  }

  /** Sends the current subscription. */
  sendSubscription(): void {
    this.pushPrivate(
      envelope("subscription", null, null, { symbols: this.symbols, streams: this.streams }),
    );
  }

  /** The client went away: forget the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#private.clear();
    this.#market.clear();
    for (const w of this.#roomWaiters.splice(0)) w();
    this.#hub.forget(this);
  }

  /** Closes the socket with a code and reason, then forgets the connection. */
  shut(code: number, reason: string): void {
    if (this.#closed) return;
    try {
      this.#sink.close(code, closeReason(reason));
    } catch {
      // Already closing.
    }
    this.close();
  }

  /**
   * Replaces the subscription sets (the hub validated them) and drops queued market data
   * the connection no longer wants, so nothing of it follows the confirmation.
   */
  setSubscription(symbols: Set<string>, streams: Set<StreamName>): void {
    this.#symbols.clear();
    for (const s of symbols) this.#symbols.add(s);
    this.#streams.clear();
    for (const s of streams) this.#streams.add(s);
    if (this.#market.length > 0) {
      this.#market.retain((m) => symbols.has(m.symbol) && streams.has(m.stream));
    }
  }

  // -- delivery ---------------------------------------------------------------------------

  /** Queues an order event unless this connection already sent its sequence. */
  deliverOrder(row: OrderEventRow, text?: string): void {
    if (this.#closed || !this.#streams.has("orders")) return;
    if (this.#floor !== null && BigInt(row.seq) <= this.#floor) return;
    if (this.#held) {
      this.#held.push(row);
      if (this.#held.length > this.#hub.limits.bufferSize) {
        this.#hub.noteOverflow();
        this.shut(
          CLOSE.tryAgain,
          "Order events overflowed while replaying: reconnect with ?after=",
        );
      }
      return;
    }
    if (!this.#delivered.add(row.seq)) return;
    this.pushPrivate(text ?? orderText(row));
  }

  /**
   * Holds live order events until {@link endReplay}. From now on an event at or before `after`
   * (committed earlier, its live delivery still on its way, e.g. read back after a NOTIFY) is
   * one the client already has, and is not sent.
   */
  beginReplay(after: string): void {
    this.#held = [];
    this.#floor = BigInt(after);
  }

  /** Sends replayed rows (oldest first), skipping sequences already sent. */
  replayRows(rows: readonly OrderEventRow[]): void {
    for (const row of rows) {
      if (this.#closed) return;
      if (this.#delivered.add(row.seq)) this.pushPrivate(orderText(row));
    }
  }

  /** Ends the replay: sends the held live events not already replayed, in sequence order. */
  endReplay(after: string, lastSeq: string, count: number): void {
    const held = this.#held ?? [];
    this.#held = null;
    this.pushPrivate(
      envelope("replayed", null, null, { after, last_seq: lastSeq, count }),
    );
    held.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    for (const row of held) this.deliverOrder(row);
  }

  /** Resolves when the buffer is at most half full (or the connection closed). */
  room(): Promise<void> {
    if (this.#closed || this.queued <= this.#hub.limits.bufferSize / 2) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Messages waiting to be written. */
  get queued(): number {
    return this.#private.length + this.#market.length;
  }

  /** Queues a message that must not be dropped, and writes at once if the socket has room. */
  pushPrivate(text: string): void {
    if (this.#closed) return;
    if (this.queued >= this.#hub.limits.bufferSize) {
      if (this.#market.length === 0) {
        this.#hub.noteOverflow();
        this.shut(
          CLOSE.tryAgain,
          "Private events overflowed the send buffer: reconnect with ?after=<last seq>",
        );
        return;
      }
      this.#market.shift();
      this.#drop(1);
    }
    this.#private.push(text);
    if (this.flush(0)) this.#hub.markReady(this);
  }

  /** Queues market data; the hub writes it in slices. Drops the oldest when full. */
  pushMarket(item: MarketItem): void {
    if (this.#closed) return;
    if (this.queued >= this.#hub.limits.bufferSize) {
      if (this.#market.length === 0) {
        this.#drop(1);
        return;
      }
      this.#market.shift();
      this.#drop(1);
    }
    this.#market.push(item);
  }

  #drop(n: number): void {
    this.#dropped += n;
    this.#unreported += n;
    this.#hub.noteDropped(n);
  }

  /**
   * Writes queued messages, private ones first, while the socket has room and at most
   * `budget` market messages. Answers true when something is still queued.
   */
  flush(budget: number): boolean {
    this.#lastSent = this.#sent;
    if (this.#closed) return false;
    const high = this.#hub.highWaterBytes;
    const sink = this.#sink;
    try {
      while (this.#private.length > 0 && sink.bufferedAmount < high) {
        sink.send(this.#private.shift()!);
        this.#sent++;
        this.#hub.noteSent();
      }
      if (this.#unreported > 0 && this.#private.length === 0 && sink.bufferedAmount < high) {
        sink.send(
          envelope("lagged", null, null, {
            dropped: this.#unreported,
            total_dropped: this.#dropped,
            message: "Market data was dropped because this connection read too slowly",
          }),
        );
        this.#unreported = 0;
      }
      while (
        budget > 0 && this.#private.length === 0 && this.#market.length > 0 &&
        sink.bufferedAmount < high
      ) {
        sink.send(this.#market.shift()!.text);
        this.#sent++;
        this.#hub.noteSent();
        budget--;
      }
    } catch {
      // The socket closed under us; its close event follows.
      this.close();
      return false;
    }
    if (this.#roomWaiters.length > 0 && this.queued <= this.#hub.limits.bufferSize / 2) {
      for (const w of this.#roomWaiters.splice(0)) w();
    }
    return this.queued > 0;
  }

  /** @internal Messages written by the last {@link flush}. */
  get lastFlushed(): number {
    return this.#sent - this.#lastSent;
  }

  /** This connection's counters. */
  stats(): ConnectionStats {
    return {
      id: this.id,
      userId: this.user.id,
      username: this.user.username,
      queued: this.queued,
      dropped: this.#dropped,
      sent: this.#sent,
      bufferedAmount: this.#closed ? 0 : this.#sink.bufferedAmount,
    };
  }

  #error(code: string, message: string): void {
    this.pushPrivate(envelope("error", null, null, { code, message }));
  }
}

/**
 * The hub. `start()` listens to the bus (and the database, when a store is given);
 * `connect()` registers a socket; `stop()` closes every connection.
 *
 * @example
 * ```ts
 * const hub = new StreamHub({ bus, marketData, store: new PostgresStreamStore(sql) });
 * await hub.start();
 * const conn = hub.connect(socket, user, { symbols: ["AAPL"], streams: ["trades", "orders"] });
 * socket.onmessage = (e) => conn.receive(String(e.data));
 * socket.onclose = () => conn.close();
 * ```
 */
export class StreamHub {
  readonly limits: StreamLimits;
  readonly highWaterBytes: number;
  /** Names this process on the cross-process channel. */
  readonly origin: string = crypto.randomUUID();
  readonly #deps: StreamHubDeps;
  readonly #sliceMs: number;
  readonly #sliceMessages: number;
  readonly #byUser = new Map<string, Set<StreamConnection>>();
  readonly #market = new Map<MarketStream, Map<string, Set<StreamConnection>>>(
    MARKET_STREAMS.map((s) => [s, new Map()]),
  );
  readonly #marketSeq = new Map<string, number>();
  /** Order sequences this process published, so their notifications need no read. */
  readonly #localSeqs = new RecentKeys(16_384);
  readonly #toFetch = new Map<string, Set<string>>();
  /**
   * Each user's reads of announced events, one after another: notifications arrive in commit
   * order, and two reads racing could deliver a later event before an earlier one.
   */
  readonly #fetchChains = new Map<string, Promise<void>>();
  /** Connections with queued messages, each once (`conn.ready`). */
  #ready: StreamConnection[] = [];
  #fetchScheduled = false;
  #pumpScheduled = false;
  #upstream: (() => void) | null = null;
  #upstreamKey = "";
  #resubscribeScheduled = false;
  #unsubscribers: (() => void)[] = [];
  #unlisten: (() => Promise<void>) | null = null;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #nextId = 1;
  #started = false;
  #stats = { marketDropped: 0, overflowClosed: 0, sent: 0 };
  /** Reads in progress (replays, fetches), awaited by stop(). */
  readonly #inflight = new Set<Promise<void>>();

  constructor(deps: StreamHubDeps) {
    this.#deps = deps;
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...deps.limits };
    this.highWaterBytes = deps.highWaterBytes ?? 64 * 1024;
    this.#sliceMs = deps.sliceMs ?? 4;
    this.#sliceMessages = deps.sliceMessages ?? 256;
  }

  /** Listens to the bus, the database channel (if a store is set) and starts heartbeats. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { bus, store } = this.#deps;
    this.#unsubscribers.push(
      bus.subscribe("order", (m) => this.#onOrder(m)),
      bus.subscribe("account", (m) => {
        this.#onAccount(m.userId, m.event, m.data, m.tsMs);
        this.#announce({
          kind: "account",
          origin: this.origin,
          userId: m.userId,
          event: m.event,
          data: m.data,
          tsMs: m.tsMs,
        });
      }),
      bus.subscribe("bot", (m) => {
        this.#onBot(m.userId, m.botId, m.event, m.data, m.tsMs);
        this.#announce({
          kind: "bot",
          origin: this.origin,
          userId: m.userId,
          botId: m.botId,
          event: m.event,
          data: m.data,
          tsMs: m.tsMs,
        });
      }),
    );
    if (store) this.#unlisten = await store.listen((s) => this.#onSignal(s));
    if (this.limits.pingMs > 0) {
      this.#pingTimer = setInterval(() => this.#heartbeat(), this.limits.pingMs);
    }
  }

  /** Closes every connection (1001) and stops listening. */
  async stop(): Promise<void> {
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    for (const u of this.#unsubscribers.splice(0)) u();
    for (const set of [...this.#byUser.values()]) {
      for (const conn of [...set]) conn.shut(CLOSE.goingAway, "Server shutting down");
    }
    this.#upstream?.();
    this.#upstream = null;
    this.#upstreamKey = "";
    const unlisten = this.#unlisten;
    this.#unlisten = null;
    this.#started = false;
    await unlisten?.().catch(() => {});
    await Promise.allSettled([...this.#inflight]);
  }

  #track(work: Promise<void>): void {
    this.#inflight.add(work);
    work.finally(() => this.#inflight.delete(work));
  }

  /**
   * Registers a connection, sends its subscription and, with `after`, replays the trader's
   * order events after that sequence before live ones.
   *
   * @throws {StreamRefusal} for a bad request or a limit reached; close the socket with its
   * code and message.
   */
  connect(sink: StreamSink, user: StreamUser, request: StreamRequest = {}): StreamConnection {
    const open = this.#byUser.get(user.id);
    if (open && open.size >= this.limits.maxConnectionsPerUser) {
      throw new StreamRefusal(
        `Cannot open another stream for "${user.username}": the limit is ${this.limits.maxConnectionsPerUser} connections per user`,
        "LIMIT_EXCEEDED",
      );
    }
    const after = request.after ?? null;
    if (after !== null && !SEQ_RE.test(after)) {
      throw new StreamRefusal(
        `Cannot replay after "${after.slice(0, 24)}": give a ledger sequence number`,
        "BAD_SUBSCRIPTION",
      );
    }
    const streams = request.streams && request.streams.length > 0
      ? this.#streamSet(request.streams, new Set())
      : new Set<StreamName>(STREAMS);
    const symbols = this.#symbolSet(request.symbols ?? [], new Set());
    const conn = new StreamConnection(this, this.#nextId++, sink, user);
    conn.setSubscription(symbols, streams);
    let set = this.#byUser.get(user.id);
    if (!set) this.#byUser.set(user.id, set = new Set());
    set.add(conn);
    this.#index(conn, new Set(), new Set(), symbols, streams);
    conn.sendSubscription();
    if (after !== null && streams.has("orders")) this.#track(this.#replay(conn, after));
    return conn;
  }

  /** Applies a subscribe or unsubscribe command. @throws {StreamRefusal} */
  change(
    conn: StreamConnection,
    action: "subscribe" | "unsubscribe",
    symbols: readonly string[],
    streams: readonly string[],
  ): void {
    const oldSymbols = new Set(conn.symbols);
    const oldStreams = new Set(conn.streams);
    let nextSymbols: Set<string>;
    let nextStreams: Set<StreamName>;
    if (action === "subscribe") {
      nextSymbols = this.#symbolSet(symbols, oldSymbols);
      nextStreams = this.#streamSet(streams, oldStreams);
    } else {
      nextSymbols = new Set(oldSymbols);
      for (const s of symbols) nextSymbols.delete(s.trim().toUpperCase());
      nextStreams = new Set(oldStreams);
      for (const s of streams) nextStreams.delete(s.trim().toLowerCase() as StreamName);
    }
    conn.setSubscription(nextSymbols, nextStreams);
    this.#index(conn, oldSymbols, oldStreams, nextSymbols, nextStreams);
  }

  /** Called by a connection as it closes. */
  forget(conn: StreamConnection): void {
    const set = this.#byUser.get(conn.user.id);
    if (set?.delete(conn) && set.size === 0) this.#byUser.delete(conn.user.id);
    this.#index(conn, new Set(conn.symbols), new Set(conn.streams), new Set(), new Set());
  }

  /** Hub counters. */
  stats(): StreamStats {
    let connections = 0;
    for (const set of this.#byUser.values()) connections += set.size;
    return { connections, ...this.#stats };
  }

  /** Every connection's counters. */
  connectionStats(): ConnectionStats[] {
    return [...this.#byUser.values()].flatMap((set) => [...set].map((c) => c.stats()));
  }

  /** @internal */
  noteDropped(n: number): void {
    this.#stats.marketDropped += n;
  }

  /** @internal */
  noteOverflow(): void {
    this.#stats.overflowClosed++;
  }

  /** @internal */
  noteSent(): void {
    this.#stats.sent++;
  }

  /** @internal Lists a connection for the next slice without scheduling one. */
  markReadyQuietly(conn: StreamConnection): void {
    if (!conn.ready) {
      conn.ready = true;
      this.#ready.push(conn);
    }
  }

  /** @internal Schedules a write slice for a connection with queued messages. */
  markReady(conn: StreamConnection): void {
    if (!conn.ready) {
      conn.ready = true;
      this.#ready.push(conn);
    }
    this.#schedulePump();
  }

  // -- subscriptions ----------------------------------------------------------------------

  #symbolSet(symbols: readonly string[], base: Set<string>): Set<string> {
    const out = new Set(base);
    for (const raw of symbols) {
      const s = raw.trim().toUpperCase();
      if (!SYMBOL_RE.test(s)) {
        throw new StreamRefusal(
          `Cannot subscribe to symbol ${
            JSON.stringify(raw.slice(0, 20))
          }: use 1 to 10 letters, digits or dots, like AAPL`,
          "BAD_SUBSCRIPTION",
        );
      }
      out.add(s);
    }
    if (out.size > this.limits.maxSymbols) {
      throw new StreamRefusal(
        `Cannot subscribe to ${out.size} symbols: the limit is ${this.limits.maxSymbols} per connection`,
        "LIMIT_EXCEEDED",
      );
    }
    return out;
  }

  #streamSet(streams: readonly string[], base: Set<StreamName>): Set<StreamName> {
    const out = new Set(base);
    for (const raw of streams) {
      const s = raw.trim().toLowerCase();
      if (!(STREAMS as readonly string[]).includes(s)) {
        throw new StreamRefusal(
          `Cannot subscribe to stream ${JSON.stringify(raw.slice(0, 20))}: use ${
            STREAMS.join(", ")
          }`,
          "BAD_SUBSCRIPTION",
        );
      }
      out.add(s as StreamName);
    }
    return out;
  }

  #index(
    conn: StreamConnection,
    oldSymbols: Set<string>,
    oldStreams: Set<StreamName>,
    symbols: Set<string>,
    streams: Set<StreamName>,
  ): void {
    let changed = false;
    for (const stream of MARKET_STREAMS) {
      const bySymbol = this.#market.get(stream)!;
      const had = oldStreams.has(stream);
      const has = streams.has(stream);
      for (const s of had ? oldSymbols : []) {
        if (has && symbols.has(s)) continue;
        const set = bySymbol.get(s);
        if (set?.delete(conn) && set.size === 0) {
          bySymbol.delete(s);
          changed = true;
        }
      }
      for (const s of has ? symbols : []) {
        if (had && oldSymbols.has(s)) continue;
        let set = bySymbol.get(s);
        if (!set) {
          bySymbol.set(s, set = new Set());
          changed = true;
        }
        set.add(conn);
      }
    }
    if (changed) this.#scheduleResubscribe();
  }

  /** Keeps one upstream market subscription: the union of what connections want. */
  #scheduleResubscribe(): void {
    if (this.#resubscribeScheduled || !this.#deps.marketData) return;
    this.#resubscribeScheduled = true;
    queueMicrotask(() => {
      this.#resubscribeScheduled = false;
      const sub: MarketSubscription = {};
      for (const stream of MARKET_STREAMS) {
        const symbols = [...this.#market.get(stream)!.keys()].sort();
        if (symbols.length > 0) sub[stream] = symbols;
      }
      const key = JSON.stringify(sub);
      if (key === this.#upstreamKey) return;
      const previous = this.#upstream;
      this.#upstream = key === "{}"
        ? null
        : this.#deps.marketData!.subscribe(sub, (events) => this.#onMarket(events));
      this.#upstreamKey = key === "{}" ? "" : key;
      previous?.();
    });
  }

  // -- events -----------------------------------------------------------------------------

  #onMarket(events: MarketEvent[]): void {
    for (const ev of events) {
      const stream: MarketStream = ev.type === "trade"
        ? "trades"
        : ev.type === "quote"
        ? "quotes"
        : "bars";
      const conns = this.#market.get(stream)!.get(ev.symbol);
      if (!conns || conns.size === 0) continue;
      const key = `${stream}:${ev.symbol}`;
      const seq = (this.#marketSeq.get(key) ?? 0) + 1;
      this.#marketSeq.set(key, seq);
      const data = ev.type === "trade" ? ev.trade : ev.type === "quote" ? ev.quote : ev.bar;
      const item = { stream, symbol: ev.symbol, text: envelope(stream, ev.symbol, seq, data) };
      for (const conn of conns) {
        conn.pushMarket(item);
        if (!conn.ready) {
          conn.ready = true;
          this.#ready.push(conn);
        }
      }
    }
    if (this.#ready.length > 0) this.#schedulePump();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => this.#pump());
  }

  /**
   * Writes market data round-robin for one slice (at most `sliceMs` and `sliceMessages`),
   * then yields. The socket writes a slice issues run after it, so both bounds keep a loop
   * turn short: an order event waits for at most about one slice.
   */
  #pump(): void {
    this.#pumpScheduled = false;
    const deadline = performance.now() + this.#sliceMs;
    let budget = this.#sliceMessages;
    const ready = this.#ready;
    this.#ready = [];
    let progressed = false;
    let i = 0;
    for (; i < ready.length && budget > 0; i++) {
      const conn = ready[i]!;
      conn.ready = false;
      if (conn.closed) continue;
      const more = conn.flush(Math.min(budget, 16));
      budget -= conn.lastFlushed;
      if (conn.lastFlushed > 0) progressed = true;
      if (more) this.markReadyQuietly(conn);
      if ((i & 15) === 15 && performance.now() > deadline) {
        i++;
        break;
      }
    }
    // Those not reached keep their turn, ahead of the ones just served.
    if (i < ready.length) this.#ready = ready.slice(i).concat(this.#ready);
    if (this.#ready.length === 0) return;
    if (progressed) {
      this.#schedulePump();
    } else {
      // Every ready socket is full: look again shortly rather than spin.
      this.#pumpScheduled = true;
      setTimeout(() => this.#pump(), 5);
    }
  }

  #onOrder(m: Extract<BusMessage, { topic: "order" }>): void {
    if (!STREAMED_ORDER_EVENTS.includes(m.event)) return;
    this.#localSeqs.add(m.seq);
    const conns = this.#byUser.get(m.userId);
    if (!conns) return;
    const row = rowOfBus(m);
    const text = orderText(row);
    for (const conn of conns) conn.deliverOrder(row, text);
  }

  #onAccount(userId: string, event: string, data: Record<string, unknown>, tsMs: number): void {
    const conns = this.#byUser.get(userId);
    if (!conns) return;
    const text = envelope("account", null, null, {
      event: prefixed("account.", event),
      ...data,
      timestamp: new Date(tsMs).toISOString(),
    });
    for (const conn of conns) if (conn.wants("account")) conn.pushPrivate(text);
  }

  #onBot(
    userId: string,
    botId: string,
    event: string,
    data: Record<string, unknown>,
    tsMs: number,
  ): void {
    const conns = this.#byUser.get(userId);
    if (!conns) return;
    const symbol = typeof data.symbol === "string" ? data.symbol : null;
    const text = envelope("bots", symbol, null, {
      event: prefixed("bot.", event),
      bot_id: botId,
      ...data,
      timestamp: new Date(tsMs).toISOString(),
    });
    for (const conn of conns) if (conn.wants("bots")) conn.pushPrivate(text);
  }

  /** Sends account and bot events to the other processes on this database. */
  #announce(signal: StreamSignal): void {
    const store = this.#deps.store;
    if (!store) return;
    store.signal(signal).catch((e) =>
      this.#log("warning", "Cannot announce a stream event to other processes", {
        kind: signal.kind,
        error: String(e),
      })
    );
  }

  #onSignal(signal: StreamSignal): void {
    if (signal.kind === "account") {
      if (signal.origin !== this.origin) {
        this.#onAccount(signal.userId, signal.event, signal.data, signal.tsMs);
      }
      return;
    }
    if (signal.kind === "bot") {
      if (signal.origin !== this.origin) {
        this.#onBot(signal.userId, signal.botId, signal.event, signal.data, signal.tsMs);
      }
      return;
    }
    const conns = this.#byUser.get(signal.userId);
    if (!conns || ![...conns].some((c) => c.wants("orders"))) return;
    let seqs = this.#toFetch.get(signal.userId);
    if (!seqs) this.#toFetch.set(signal.userId, seqs = new Set());
    seqs.add(signal.seq);
    if (this.#fetchScheduled) return;
    this.#fetchScheduled = true;
    // One turn of the event loop lets this process's own bus publication (racing its
    // notification) land first, so its events need no read.
    setImmediate(() => {
      this.#fetchScheduled = false;
      if (!this.#started) return;
      const batch = [...this.#toFetch];
      this.#toFetch.clear();
      for (const [userId, set] of batch) {
        const wanted = [...set].filter((s) => !this.#localSeqs.has(s));
        if (wanted.length === 0) continue;
        const next = (this.#fetchChains.get(userId) ?? Promise.resolve())
          .then(() => this.#fetch(userId, wanted));
        this.#fetchChains.set(userId, next);
        next.finally(() => {
          if (this.#fetchChains.get(userId) === next) this.#fetchChains.delete(userId);
        });
        this.#track(next);
      }
    });
  }

  async #fetch(userId: string, seqs: string[]): Promise<void> {
    try {
      const rows = await this.#deps.store!.orderEventsBySeq(userId, seqs);
      const conns = this.#byUser.get(userId);
      if (!conns) return;
      for (const row of rows) {
        const text = orderText(row);
        for (const conn of conns) conn.deliverOrder(row, text);
      }
    } catch (e) {
      this.#log("error", "Cannot read order events announced by another process", {
        user: userId,
        seqs: seqs.join(","),
        error: String(e),
      });
    }
  }

  async #replay(conn: StreamConnection, after: string): Promise<void> {
    const store = this.#deps.store;
    conn.beginReplay(after);
    let cursor = after;
    let count = 0;
    try {
      while (store && !conn.closed) {
        const rows = await store.orderEventsAfter(conn.user.id, cursor, REPLAY_PAGE);
        conn.replayRows(rows);
        count += rows.length;
        if (rows.length > 0) cursor = rows.at(-1)!.seq;
        if (rows.length < REPLAY_PAGE) break;
        await conn.room();
      }
    } catch (e) {
      this.#log("error", "Cannot replay order events", { user: conn.user.id, error: String(e) });
      conn.shut(CLOSE.internal, "Cannot replay order events now: reconnect with the same ?after=");
      return;
    }
    if (!conn.closed) conn.endReplay(after, cursor, count);
  }

  #heartbeat(): void {
    const text = envelope("ping", null, null, { timestamp: new Date().toISOString() });
    for (const set of this.#byUser.values()) for (const conn of set) conn.pushPrivate(text);
  }

  #log(
    level: "info" | "warning" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ): void {
    this.#deps.log?.(level, message, fields);
  }
}
