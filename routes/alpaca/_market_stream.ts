/**
 * One connection of the Alpaca face's market-data stream (`GET /v2/{feed}`, ALPACA.md §7.2):
 * `connected` on open; `auth` (or the key headers of the upgrade) within the auth timeout;
 * `subscribe` / `unsubscribe` of `trades`, `quotes` and `bars` (symbols or `*`), each answered
 * with the full current `subscription`; then data as arrays of `{"T":"t"|"q"|"b",…}`.
 *
 * Errors are Alpaca's `[{"T":"error","code","msg"}]`: 400 invalid syntax, 401 not
 * authenticated, 402 auth failed (closes), 403 already authenticated, 404 auth timeout
 * (closes), 405 symbol limit exceeded (the subscription is unchanged), 406 connection limit
 * exceeded (one connection per key and feed; closes), 407 slow client (closes), 409
 * insufficient subscription (a channel the venue does not publish), 410 invalid subscribe
 * action for this feed, 500 internal error.
 *
 * @module
 */
import type { MarketData, Unsubscribe } from "../../brokers/broker.ts";
import type { Bar, MarketEvent, MarketSubscription, Quote, Trade } from "../../core/market.ts";
import type { StreamUser } from "../../actors/stream_hub.ts";
import type { FrameSink } from "./_trade_stream.ts";

/** Channels served, and their data message types. */
const CHANNELS = ["trades", "quotes", "bars"] as const;
type Channel = typeof CHANNELS[number];
/** Stock channels Alpaca has and the venue does not publish: 409. */
const UNSERVED = ["updatedBars", "dailyBars", "statuses", "lulds", "imbalances"];
/** Channels of other asset classes: 410. */
const OTHER_FEEDS = ["orderbooks", "news"];
const SYMBOL = /^[A-Z][A-Z0-9./-]{0,20}$/;

/** Alpaca's stream error codes and texts. */
export const STREAM_ERRORS = {
  400: "invalid syntax",
  401: "not authenticated",
  402: "auth failed",
  403: "already authenticated",
  404: "auth timeout",
  405: "symbol limit exceeded",
  406: "connection limit exceeded",
  407: "slow client",
  409: "insufficient subscription",
  410: "invalid subscribe action for this feed",
  500: "internal error",
} as const;

/** Which keys hold a connection to which feed (one per key and feed). */
export class FeedSlots {
  readonly #held = new Set<string>();

  /** Takes the slot of a key on a feed; false when another connection holds it. */
  take(keyId: string, feed: string): boolean {
    const slot = `${feed}\u0000${keyId}`;
    if (this.#held.has(slot)) return false;
    this.#held.add(slot);
    return true;
  }

  /** Gives the slot back. */
  release(keyId: string, feed: string): void {
    this.#held.delete(`${feed}\u0000${keyId}`);
  }
}

/** What a market-data stream session needs. */
export interface MarketStreamDeps {
  feed: string;
  marketData: Pick<MarketData, "subscribe">;
  verify(keyId: string, secret: string): Promise<StreamUser | null>;
  slots: FeedSlots;
  /** Distinct symbols over trades, quotes and bars (`*` counts as one). */
  maxSymbols: number;
  authTimeoutMs: number;
  /** Bytes the socket may hold unsent; a data frame past it ends the connection (407). */
  maxBufferedBytes: number;
  /** msgpack clients get `t` as a timestamp (a Date), JSON clients as RFC-3339 text. */
  msgpack: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One `/v2/{feed}` connection. */
export class MarketStreamSession {
  readonly #deps: MarketStreamDeps;
  readonly #sink: FrameSink;
  readonly #subs: Record<Channel, Set<string>> = {
    trades: new Set(),
    quotes: new Set(),
    bars: new Set(),
  };
  #keyId: string | null = null;
  #authenticating = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #upstream: Unsubscribe | null = null;
  #upstreamKey = "";
  #closed = false;

  constructor(deps: MarketStreamDeps, sink: FrameSink) {
    this.#deps = deps;
    this.#sink = sink;
  }

  /** The socket opened: greets, then authenticates by headers or waits for `auth`. */
  async open(headerKey: string | null, headerSecret: string | null): Promise<void> {
    this.#sink.send([{ T: "success", msg: "connected" }]);
    if (headerKey && headerSecret) return await this.#authenticate(headerKey, headerSecret);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      // An auth being checked came in time: its answer decides.
      if (this.#keyId === null && !this.#authenticating && !this.#closed) this.#fail(404);
    }, this.#deps.authTimeoutMs);
  }

  /** Handles a decoded client frame (undefined: it could not be decoded). */
  async receive(message: unknown): Promise<void> {
    if (this.#closed) return;
    if (!isRecord(message) || typeof message.action !== "string") return this.#error(400);
    const { action } = message;
    if (action === "auth") {
      if (typeof message.key !== "string" || typeof message.secret !== "string") {
        return this.#error(400);
      }
      return await this.#authenticate(message.key, message.secret);
    }
    if (action !== "subscribe" && action !== "unsubscribe") return this.#error(400);
    if (this.#keyId === null) return this.#error(401);
    for (const channel of OTHER_FEEDS) if (channel in message) return this.#error(410);
    const lists: Partial<Record<Channel, string[]>> = {};
    for (const [name, value] of Object.entries(message)) {
      if (name === "action") continue;
      if (!Array.isArray(value) || value.some((s) => typeof s !== "string")) {
        return this.#error(400);
      }
      const symbols = (value as string[]).map((s) => s.trim().toUpperCase());
      if (symbols.some((s) => s !== "*" && !SYMBOL.test(s))) return this.#error(400);
      if ((CHANNELS as readonly string[]).includes(name)) {
        lists[name as Channel] = symbols;
      } else if (UNSERVED.includes(name) || name === "corrections" || name === "cancelErrors") {
        // Corrections and cancel errors follow trades; asking for them alone is harmless.
        if (symbols.length > 0 && UNSERVED.includes(name)) return this.#error(409);
      } else {
        return this.#error(400);
      }
    }
    const next: Record<Channel, Set<string>> = {
      trades: new Set(this.#subs.trades),
      quotes: new Set(this.#subs.quotes),
      bars: new Set(this.#subs.bars),
    };
    for (const channel of CHANNELS) {
      for (const s of lists[channel] ?? []) {
        if (action === "subscribe") next[channel].add(s);
        else next[channel].delete(s);
      }
    }
    const distinct = new Set([...next.trades, ...next.quotes, ...next.bars]);
    if (action === "subscribe" && distinct.size > this.#deps.maxSymbols) return this.#error(405);
    for (const channel of CHANNELS) this.#subs[channel] = next[channel];
    this.#resubscribe();
    this.#sink.send([this.#subscription()]);
  }

  /** The socket closed: stops the upstream subscription and frees the feed slot. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#upstream?.();
    this.#upstream = null;
    if (this.#keyId !== null) this.#deps.slots.release(this.#keyId, this.#deps.feed);
  }

  async #authenticate(key: string, secret: string): Promise<void> {
    if (this.#keyId !== null) return this.#error(403);
    if (this.#authenticating) return this.#error(400);
    this.#authenticating = true;
    let user: StreamUser | null;
    try {
      user = await this.#deps.verify(key, secret);
    } catch {
      this.#authenticating = false;
      return this.#error(500);
    }
    this.#authenticating = false;
    if (this.#closed) return;
    if (!user) return this.#fail(402);
    if (!this.#deps.slots.take(key, this.#deps.feed)) return this.#fail(406);
    this.#keyId = key;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#sink.send([{ T: "success", msg: "authenticated" }]);
  }

  #subscription(): Record<string, unknown> {
    const sorted = (set: Set<string>) => [...set].sort();
    return {
      T: "subscription",
      trades: sorted(this.#subs.trades),
      quotes: sorted(this.#subs.quotes),
      bars: sorted(this.#subs.bars),
      updatedBars: [],
      dailyBars: [],
      statuses: [],
      lulds: [],
      corrections: sorted(this.#subs.trades),
      cancelErrors: sorted(this.#subs.trades),
    };
  }

  /** One upstream subscription: what this connection wants now. */
  #resubscribe(): void {
    const sub: MarketSubscription = {};
    for (const channel of CHANNELS) {
      if (this.#subs[channel].size > 0) sub[channel] = [...this.#subs[channel]].sort();
    }
    const key = JSON.stringify(sub);
    if (key === this.#upstreamKey) return;
    const previous = this.#upstream;
    this.#upstream = key === "{}"
      ? null
      : this.#deps.marketData.subscribe(sub, (events) => this.#onMarket(events));
    this.#upstreamKey = key === "{}" ? "" : key;
    previous?.();
  }

  #wants(channel: Channel, symbol: string): boolean {
    const set = this.#subs[channel];
    return set.has("*") || set.has(symbol);
  }

  #onMarket(events: MarketEvent[]): void {
    if (this.#closed) return;
    const frames: Record<string, unknown>[] = [];
    for (const ev of events) {
      if (ev.type === "trade" && this.#wants("trades", ev.symbol)) {
        frames.push(this.#trade(ev.symbol, ev.trade));
      } else if (ev.type === "quote" && this.#wants("quotes", ev.symbol)) {
        frames.push(this.#quote(ev.symbol, ev.quote));
      } else if (ev.type === "bar" && this.#wants("bars", ev.symbol)) {
        frames.push(this.#bar(ev.symbol, ev.bar));
      }
    }
    if (frames.length === 0) return;
    // About 100 bytes a message: a client that cannot take this batch too is too slow.
    if (this.#sink.bufferedAmount + frames.length * 100 > this.#deps.maxBufferedBytes) {
      return this.#fail(407);
    }
    this.#sink.send(frames);
  }

  #time(t: string): string | Date {
    return this.#deps.msgpack ? new Date(t) : t;
  }

  #trade(S: string, t: Trade): Record<string, unknown> {
    return { T: "t", S, i: t.i, x: t.x, p: t.p, s: t.s, c: t.c, t: this.#time(t.t), z: t.z };
  }

  #quote(S: string, q: Quote): Record<string, unknown> {
    return {
      T: "q",
      S,
      bx: q.bx,
      bp: q.bp,
      bs: q.bs,
      ax: q.ax,
      ap: q.ap,
      as: q.as,
      c: q.c,
      t: this.#time(q.t),
      z: q.z,
    };
  }

  #bar(S: string, b: Bar): Record<string, unknown> {
    return {
      T: "b",
      S,
      o: b.o,
      h: b.h,
      l: b.l,
      c: b.c,
      v: b.v,
      vw: b.vw,
      n: b.n,
      t: this.#time(b.t),
    };
  }

  #error(code: keyof typeof STREAM_ERRORS): void {
    this.#sink.send([{ T: "error", code, msg: STREAM_ERRORS[code] }]);
  }

  /** Sends an error and closes the connection. */
  #fail(code: keyof typeof STREAM_ERRORS): void {
    this.#error(code);
    this.#sink.close(1008, STREAM_ERRORS[code]);
    this.close();
  }
}
