/**
 * The market-data stream protocol of Alpaca (ALPACA.md §7.2) as a pure state machine: each
 * input (socket opened, frame items received, socket lost, listeners changed, a gap filled)
 * answers the effects the I/O shell (`market_stream.ts`) must carry out. No sockets, no
 * timers, no clock: `nowMs` comes in with each input.
 *
 * It keeps one union of what every listener wants (reference-counted per channel and
 * symbol), resends it after each reconnect, and guarantees that bars reach listeners once
 * per symbol and minute, in time order: after a reconnect, live bars of each symbol wait
 * while the missed minutes are fetched over REST, then both are merged by time. Only symbols
 * subscribed by name are filled; those streamed only through `*` are not (one REST request
 * each could exhaust the request budget orders share), and a warning says how many.
 *
 * @module
 */
import { parseTimestamp } from "../../core/order.ts";
import type { Bar, MarketEvent, MarketSubscription, Quote, Trade } from "../../core/market.ts";

/** The channels Tradewind subscribes to. */
export const MARKET_CHANNELS = ["trades", "quotes", "bars"] as const;
/** A channel: `trades`, `quotes` or `bars`. */
export type MarketChannel = typeof MARKET_CHANNELS[number];

/** What the shell must do. */
export type MarketEffect =
  /** Send this frame. */
  | { kind: "send"; frame: Record<string, unknown> }
  /** Hand these events (in order) to the listeners that want them. */
  | { kind: "deliver"; events: MarketEvent[] }
  /** Fetch the minute bars of `symbol` from `fromMs` to `toMs` (inclusive) over REST. */
  | { kind: "fill_gap"; symbol: string; fromMs: number; toMs: number }
  /** Authenticated: the connection is healthy. */
  | { kind: "live"; reconnected: boolean }
  /** Alpaca's current subscription set, after a subscribe or unsubscribe. */
  | { kind: "subscribed"; subscription: Required<MarketSubscription> }
  /** Alpaca refused a subscribe (405, 409, 410, 400): those symbols are not streamed. */
  | { kind: "refused"; code: number; message: string; subscription: MarketSubscription }
  /** Close this connection and reconnect after a backoff. */
  | { kind: "drop"; code: number | null; message: string }
  /** Close and stay closed: only a person can fix this (credentials, plan). */
  | { kind: "fatal"; code: number; message: string }
  /** Something worth a warning in the log; nothing to do. */
  | { kind: "warn"; message: string };

/** Where the session is. */
export type MarketPhase = "offline" | "greeting" | "authenticating" | "live" | "failed";

type Sets = Record<MarketChannel, Set<string>>;
const MINUTE_MS = 60_000;

function emptySets(): Sets {
  return { trades: new Set(), quotes: new Set(), bars: new Set() };
}

/** Whether `subscription` asks for this event (its channel, its symbol or `*`). */
export function wants(subscription: MarketSubscription, event: MarketEvent): boolean {
  const list = event.type === "trade"
    ? subscription.trades
    : event.type === "quote"
    ? subscription.quotes
    : subscription.bars;
  return !!list && (list.includes("*") || list.includes(event.symbol));
}

/** Upper-cases symbols (keeping `*`) and drops duplicates and empties. */
export function normalizeSubscription(sub: MarketSubscription): Required<MarketSubscription> {
  const norm = (list?: string[]) => [
    ...new Set((list ?? []).map((s) => s.trim().toUpperCase()).filter((s) => s !== "")),
  ];
  return { trades: norm(sub.trades), quotes: norm(sub.quotes), bars: norm(sub.bars) };
}

/** The session state machine. See the module doc. */
export class MarketSession {
  readonly #auth: { key: string; secret: string };
  readonly #gapFill: boolean;
  #phase: MarketPhase = "offline";
  /** How many listeners want each channel/symbol. */
  readonly #wanted: Record<MarketChannel, Map<string, number>> = {
    trades: new Map(),
    quotes: new Map(),
    bars: new Map(),
  };
  /** Wanted, but Alpaca refused them; not resent until someone asks again. */
  #refused: Sets = emptySets();
  /** What Alpaca last confirmed. */
  #server: Sets = emptySets();
  /** Subscribe/unsubscribe requests awaiting Alpaca's answer, oldest first. */
  #inflight: { action: "subscribe" | "unsubscribe"; sub: Required<MarketSubscription> }[] = [];
  /** Per symbol: time of the last bar delivered. Only this drops live bars as repeats. */
  readonly #lastBar = new Map<string, number>();
  /**
   * Per symbol subscribed before any bar came: the minute before the subscription, where a
   * gap fill starts if the link drops before the first bar. Never used to drop a live bar, so
   * a local clock that runs ahead of Alpaca's cannot hide bars.
   */
  readonly #barsSince = new Map<string, number>();
  /** Per symbol with a gap fill under way: live bars held back, and whether to fill again. */
  readonly #filling = new Map<string, { held: MarketEvent[]; again: boolean }>();
  #lives = 0;

  /** `gapFill`: whether the shell can fetch REST bars (else gaps stay gaps). */
  constructor(auth: { key: string; secret: string }, options: { gapFill: boolean }) {
    this.#auth = auth;
    this.#gapFill = options.gapFill;
  }

  /** The session's phase. */
  get phase(): MarketPhase {
    return this.#phase;
  }

  /** What Alpaca last confirmed it streams on this connection. */
  get confirmed(): Required<MarketSubscription> {
    return {
      trades: [...this.#server.trades],
      quotes: [...this.#server.quotes],
      bars: [...this.#server.bars],
    };
  }

  /** What listeners want, as one subscription (the union, without refused symbols). */
  get wanted(): Required<MarketSubscription> {
    const out = { trades: [] as string[], quotes: [] as string[], bars: [] as string[] };
    for (const ch of MARKET_CHANNELS) {
      for (const s of this.#wanted[ch].keys()) if (!this.#refused[ch].has(s)) out[ch].push(s);
    }
    return out;
  }

  /** A new connection is open; wait for Alpaca's `connected`. */
  opened(): MarketEffect[] {
    if (this.#phase === "failed") return [];
    this.#phase = "greeting";
    this.#server = emptySets();
    this.#inflight = [];
    return [];
  }

  /** The connection is gone. */
  closed(): MarketEffect[] {
    if (this.#phase !== "failed") this.#phase = "offline";
    this.#inflight = [];
    return [];
  }

  /** A listener arrived: subscribe what nobody wanted yet (and retry what Alpaca refused). */
  addListener(sub: MarketSubscription, nowMs: number): MarketEffect[] {
    const norm = normalizeSubscription(sub);
    const fresh = { trades: [] as string[], quotes: [] as string[], bars: [] as string[] };
    for (const ch of MARKET_CHANNELS) {
      for (const s of norm[ch]) {
        const n = this.#wanted[ch].get(s) ?? 0;
        this.#wanted[ch].set(s, n + 1);
        if (n === 0 || this.#refused[ch].delete(s)) fresh[ch].push(s);
        if (ch === "bars" && s !== "*" && n === 0 && !this.#lastBar.has(s)) {
          // Bars are due from the minute in progress on.
          this.#barsSince.set(s, Math.floor(nowMs / MINUTE_MS) * MINUTE_MS - MINUTE_MS);
        }
      }
    }
    return this.#request("subscribe", fresh);
  }

  /** A listener left: unsubscribe what nobody wants any more. */
  removeListener(sub: MarketSubscription): MarketEffect[] {
    const norm = normalizeSubscription(sub);
    const gone = { trades: [] as string[], quotes: [] as string[], bars: [] as string[] };
    for (const ch of MARKET_CHANNELS) {
      for (const s of norm[ch]) {
        const n = this.#wanted[ch].get(s) ?? 0;
        if (n > 1) {
          this.#wanted[ch].set(s, n - 1);
        } else if (n === 1) {
          this.#wanted[ch].delete(s);
          if (!this.#refused[ch].delete(s)) gone[ch].push(s);
        }
      }
    }
    for (const s of new Set([...this.#lastBar.keys(), ...this.#barsSince.keys()])) {
      if (!this.#barsWanted(s)) {
        this.#lastBar.delete(s);
        this.#barsSince.delete(s);
        this.#filling.delete(s);
      }
    }
    return this.#request("unsubscribe", gone);
  }

  /** Items of one inbound frame (Alpaca sends arrays). */
  received(items: unknown, nowMs: number): MarketEffect[] {
    const list = Array.isArray(items) ? items : [items];
    const out: MarketEffect[] = [];
    let events: MarketEvent[] = [];
    const flush = () => {
      if (events.length) out.push({ kind: "deliver", events });
      events = [];
    };
    for (const item of list) {
      if (!isRecord(item)) {
        out.push({ kind: "warn", message: `Ignored market-data item ${JSON.stringify(item)}` });
        continue;
      }
      const kind = item.T;
      if (kind === "t" || kind === "q" || kind === "b") {
        if (this.#phase !== "live") continue;
        const event = marketEvent(item);
        if (!event) {
          out.push({ kind: "warn", message: `Ignored malformed ${kind} item ${preview(item)}` });
        } else if (event.type !== "bar") {
          events.push(event);
        } else {
          const bar = this.#admitBar(event);
          if (bar) events.push(bar);
        }
        continue;
      }
      flush();
      if (kind === "success") out.push(...this.#success(item, nowMs));
      else if (kind === "subscription") out.push(...this.#subscription(item));
      else if (kind === "error") out.push(...this.#error(item));
      // Other kinds (updated/daily bars, statuses, corrections, cancel errors…) are not used.
    }
    flush();
    return out;
  }

  /** The REST bars of a gap arrived: deliver them and the held live bars, merged by time. */
  gapFilled(symbol: string, bars: readonly Bar[], nowMs: number): MarketEffect[] {
    const state = this.#filling.get(symbol);
    if (!state) return [];
    const fetched = [...bars].map((bar): MarketEvent => ({ type: "bar", symbol, bar }))
      .sort((a, b) => barMs(a) - barMs(b));
    const since = this.#lastBar.has(symbol) ? undefined : this.#barsSince.get(symbol);
    const events: MarketEvent[] = [];
    for (const e of fetched) {
      if (since !== undefined && barMs(e) <= since) continue;
      if (this.#advance(e)) events.push(e);
    }
    if (state.again && this.#phase === "live") {
      state.again = false;
      const more = this.#gapFrom(symbol, nowMs);
      if (more) return events.length ? [{ kind: "deliver", events }, more] : [more];
    }
    this.#filling.delete(symbol);
    for (const e of state.held) if (this.#advance(e)) events.push(e);
    return events.length ? [{ kind: "deliver", events }] : [];
  }

  /** A gap could not be fetched: deliver the held live bars; the gap stays. */
  gapFailed(symbol: string): MarketEffect[] {
    const state = this.#filling.get(symbol);
    if (!state) return [];
    this.#filling.delete(symbol);
    const events = state.held.filter((e) => this.#advance(e));
    return events.length ? [{ kind: "deliver", events }] : [];
  }

  #barsWanted(symbol: string): boolean {
    return this.#wanted.bars.has("*") || this.#wanted.bars.has(symbol);
  }

  #request(
    action: "subscribe" | "unsubscribe",
    sub: Required<MarketSubscription>,
  ): MarketEffect[] {
    if (this.#phase !== "live") return [];
    const frame: Record<string, unknown> = { action };
    for (const ch of MARKET_CHANNELS) if (sub[ch].length) frame[ch] = sub[ch];
    if (Object.keys(frame).length === 1) return [];
    this.#inflight.push({ action, sub });
    return [{ kind: "send", frame }];
  }

  #success(item: Record<string, unknown>, nowMs: number): MarketEffect[] {
    if (item.msg === "connected") {
      if (this.#phase !== "greeting") return [];
      this.#phase = "authenticating";
      return [{ kind: "send", frame: { action: "auth", ...this.#auth } }];
    }
    if (item.msg !== "authenticated" || this.#phase !== "authenticating") return [];
    this.#phase = "live";
    this.#lives++;
    const reconnected = this.#lives > 1;
    const out: MarketEffect[] = [{ kind: "live", reconnected }];
    out.push(...this.#request("subscribe", this.wanted));
    if (reconnected && this.#gapFill) {
      let starOnly = 0;
      for (const symbol of new Set([...this.#lastBar.keys(), ...this.#barsSince.keys()])) {
        if (!this.#wanted.bars.has(symbol) || this.#refused.bars.has(symbol)) {
          // Streamed only through `*`: one REST request per symbol could take the whole
          // request budget orders share; those gaps stay (and are said so).
          if (!this.#refused.bars.has(symbol)) starOnly++;
          continue;
        }
        const state = this.#filling.get(symbol);
        if (state) {
          state.again = true;
          continue;
        }
        const effect = this.#gapFrom(symbol, nowMs);
        if (effect) {
          this.#filling.set(symbol, { held: [], again: false });
          out.push(effect);
        }
      }
      if (starOnly > 0) {
        out.push({
          kind: "warn",
          message:
            `Not filling the bars missed by ${starOnly} symbols streamed only through bars "*": subscribe to them by name to have gaps filled`,
        });
      }
    }
    return out;
  }

  /** The fill of `symbol`'s missed minutes, up to the last complete one; null if none. */
  #gapFrom(symbol: string, nowMs: number): MarketEffect | null {
    const last = this.#lastBar.get(symbol) ?? this.#barsSince.get(symbol);
    if (last === undefined) return null;
    const fromMs = last + MINUTE_MS;
    const toMs = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
    return fromMs <= toMs ? { kind: "fill_gap", symbol, fromMs, toMs } : null;
  }

  #subscription(item: Record<string, unknown>): MarketEffect[] {
    this.#inflight.shift();
    const list = (v: unknown) => Array.isArray(v) ? v.filter((s) => typeof s === "string") : [];
    const subscription = {
      trades: list(item.trades),
      quotes: list(item.quotes),
      bars: list(item.bars),
    };
    this.#server = {
      trades: new Set(subscription.trades),
      quotes: new Set(subscription.quotes),
      bars: new Set(subscription.bars),
    };
    return [{ kind: "subscribed", subscription }];
  }

  #error(item: Record<string, unknown>): MarketEffect[] {
    const code = typeof item.code === "number" ? item.code : Number(item.code);
    const msg = typeof item.msg === "string" ? item.msg : "unknown error";
    const message = `Alpaca market-data stream error ${code} "${msg}"`;
    switch (code) {
      case 401:
      case 402:
      case 408:
        this.#phase = "failed";
        return [{ kind: "fatal", code, message }];
      case 403:
        return [{ kind: "warn", message }];
      case 404:
      case 406:
      case 407:
      case 500:
        return [{ kind: "drop", code, message }];
      case 400:
      case 405:
      case 409:
      case 410: {
        const head = this.#inflight[0];
        if (head?.action === "subscribe") {
          this.#inflight.shift();
          for (const ch of MARKET_CHANNELS) {
            for (const s of head.sub[ch]) if (this.#wanted[ch].has(s)) this.#refused[ch].add(s);
          }
          return [{ kind: "refused", code, message, subscription: head.sub }];
        }
        if (head) this.#inflight.shift();
        if (code === 409 && this.#phase !== "live") {
          this.#phase = "failed";
          return [{ kind: "fatal", code, message }];
        }
        return [{ kind: "warn", message }];
      }
      default:
        return [{ kind: "warn", message }];
    }
  }

  /** A live bar: held during a gap fill, dropped if not newer than the last delivered. */
  #admitBar(event: MarketEvent): MarketEvent | null {
    const state = this.#filling.get(event.symbol);
    if (state) {
      state.held.push(event);
      return null;
    }
    return this.#advance(event) ? event : null;
  }

  /** Moves the symbol's bar cursor to `event` if it is newer; answers whether it did. */
  #advance(event: MarketEvent): boolean {
    const t = barMs(event);
    const last = this.#lastBar.get(event.symbol);
    if (last !== undefined && t <= last) return false;
    if (this.#barsWanted(event.symbol)) {
      this.#lastBar.set(event.symbol, t);
      this.#barsSince.delete(event.symbol);
    }
    return true;
  }
}

function barMs(event: MarketEvent): number {
  return event.type === "bar" ? parseTimestamp(event.bar.t) : 0;
}

/** Reads a `t`, `q` or `b` item into a {@link MarketEvent}; null when malformed. */
export function marketEvent(item: Record<string, unknown>): MarketEvent | null {
  const symbol = item.S;
  const t = timeText(item.t);
  if (typeof symbol !== "string" || t === null) return null;
  const num = (k: string) => typeof item[k] === "number" ? item[k] as number : NaN;
  const str = (k: string) => typeof item[k] === "string" ? item[k] as string : "";
  const conds = Array.isArray(item.c) ? item.c.filter((c) => typeof c === "string") : [];
  if (item.T === "t") {
    const trade: Trade = {
      t,
      x: str("x"),
      p: num("p"),
      s: num("s"),
      c: conds,
      i: num("i"),
      z: str("z"),
    };
    return Number.isFinite(trade.p) && Number.isFinite(trade.s)
      ? { type: "trade", symbol, trade: { ...trade, i: Number.isFinite(trade.i) ? trade.i : 0 } }
      : null;
  }
  if (item.T === "q") {
    const quote: Quote = {
      t,
      bx: str("bx"),
      bp: num("bp"),
      bs: num("bs"),
      ax: str("ax"),
      ap: num("ap"),
      as: num("as"),
      c: conds,
      z: str("z"),
    };
    return [quote.bp, quote.bs, quote.ap, quote.as].every(Number.isFinite)
      ? { type: "quote", symbol, quote }
      : null;
  }
  const ms = parseTimestamp(t);
  const bar: Bar = {
    t: new Date(ms).toISOString().replace(".000Z", "Z"),
    o: num("o"),
    h: num("h"),
    l: num("l"),
    c: num("c"),
    v: num("v"),
    n: Number.isFinite(num("n")) ? num("n") : 0,
    vw: Number.isFinite(num("vw")) ? num("vw") : num("c"),
  };
  return Number.isFinite(ms) && [bar.o, bar.h, bar.l, bar.c, bar.v].every(Number.isFinite)
    ? { type: "bar", symbol, bar }
    : null;
}

function timeText(v: unknown): string | null {
  if (typeof v === "string") {
    try {
      parseTimestamp(v);
      return v;
    } catch {
      return null;
    }
  }
  if (v instanceof Date && Number.isFinite(v.getTime())) return v.toISOString();
  return null;
}

function preview(v: unknown): string {
  const text = JSON.stringify(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
