/**
 * {@link AlpacaMarketData}: the {@link MarketData} port over Alpaca's market-data REST API
 * (`/v2/stocks/...`, ALPACA.md §6) through the SDK's `StockApi`: latest quote, trade and bar
 * (one symbol or many), bars with paging, snapshots.
 *
 * Live subscriptions are the market-data stream's (brokers/alpaca/market_stream.ts), or
 * the REST poller's (./poller.ts) when the venue has no stream: the venue plugs one in.
 *
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import { TradeError } from "../../core/errors.ts";
import { TtlCache } from "../cache.ts";
import type { MarketData, Unsubscribe } from "../broker.ts";
import type {
  Bar,
  BarsPage,
  BarsQuery,
  MarketEvent,
  MarketSubscription,
  Quote,
  Snapshot,
  Trade,
} from "../../core/market.ts";
import { AlpacaShapeError } from "./rest_json.ts";
import type { AlpacaRest } from "./rest.ts";

/** Live subscriptions (brokers/alpaca/market_stream.ts `AlpacaMarketStream`). */
export type MarketSubscriber = Pick<MarketData, "subscribe">;

type Json = Record<string, unknown>;

function object(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AlpacaShapeError(`Alpaca sent ${what} that is not an object`);
  }
  return value as Json;
}

function num(o: Json, key: string, what: string): number {
  const v = o[key];
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  if (!Number.isFinite(n)) {
    throw new AlpacaShapeError(`Alpaca sent ${what} without a number "${key}"`);
  }
  return n;
}

function text(o: Json, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== "string") {
    throw new AlpacaShapeError(`Alpaca sent ${what} without a string "${key}"`);
  }
  return v;
}

const conditions = (v: unknown) => Array.isArray(v) ? v.map(String) : [];

/** An Alpaca bar object. Throws {@link AlpacaShapeError}. */
export function barFromAlpaca(value: unknown): Bar {
  const o = object(value, "a bar");
  return {
    t: text(o, "t", "a bar"),
    o: num(o, "o", "a bar"),
    h: num(o, "h", "a bar"),
    l: num(o, "l", "a bar"),
    c: num(o, "c", "a bar"),
    v: num(o, "v", "a bar"),
    n: typeof o.n === "number" ? o.n : 0,
    vw: typeof o.vw === "number" ? o.vw : num(o, "c", "a bar"),
  };
}

/** An Alpaca trade object. Throws {@link AlpacaShapeError}. */
export function tradeFromAlpaca(value: unknown): Trade {
  const o = object(value, "a trade");
  return {
    t: text(o, "t", "a trade"),
    x: typeof o.x === "string" ? o.x : "",
    p: num(o, "p", "a trade"),
    s: num(o, "s", "a trade"),
    c: conditions(o.c),
    i: typeof o.i === "number" ? o.i : Number(o.i ?? 0),
    z: typeof o.z === "string" ? o.z : "",
  };
}

/** An Alpaca quote object. Throws {@link AlpacaShapeError}. */
export function quoteFromAlpaca(value: unknown): Quote {
  const o = object(value, "a quote");
  return {
    t: text(o, "t", "a quote"),
    bx: typeof o.bx === "string" ? o.bx : "",
    bp: num(o, "bp", "a quote"),
    bs: num(o, "bs", "a quote"),
    ax: typeof o.ax === "string" ? o.ax : "",
    ap: num(o, "ap", "a quote"),
    as: num(o, "as", "a quote"),
    c: conditions(o.c),
    z: typeof o.z === "string" ? o.z : "",
  };
}

const orNull = <T>(v: unknown, parse: (v: unknown) => T): T | null =>
  v === null || v === undefined ? null : parse(v);

/** An Alpaca snapshot (camelCase keys). Throws {@link AlpacaShapeError}. */
export function snapshotFromAlpaca(value: unknown): Snapshot {
  const o = object(value, "a snapshot");
  return {
    latestTrade: orNull(o.latestTrade, tradeFromAlpaca),
    latestQuote: orNull(o.latestQuote, quoteFromAlpaca),
    minuteBar: orNull(o.minuteBar, barFromAlpaca),
    dailyBar: orNull(o.dailyBar, barFromAlpaca),
    prevDailyBar: orNull(o.prevDailyBar, barFromAlpaca),
  };
}

function mapOf<T>(value: unknown, key: string | null, parse: (v: unknown) => T) {
  const o = object(value, "a multi-symbol answer");
  const inner = key === null ? o : o[key] === null || o[key] === undefined ? {} : o[key];
  const out: Record<string, T> = {};
  for (const [symbol, v] of Object.entries(object(inner, `the "${key}" map`))) {
    if (v !== null && v !== undefined) out[symbol] = parse(v);
  }
  return out;
}

/** Options of {@link AlpacaMarketData}. */
export interface AlpacaMarketDataOptions {
  /**
   * With a clock, one symbol's latest quote and trade are kept `latestTtlMs` (default 1000)
   * and concurrent asks share one request: each order's pre-trade checks read both, and every
   * request counts against the engine's 200 a minute.
   */
  clock?: Clock;
  latestTtlMs?: number;
  /** `iex` or `sip` (historical) / also `delayed_sip` for latest; default: the account's. */
  feed?: string;
  /** Live subscriptions; without one `subscribe` throws. */
  subscriber?: MarketSubscriber;
}

/** The MarketData port on Alpaca's REST API. */
export class AlpacaMarketData implements MarketData {
  readonly #rest: AlpacaRest;
  readonly #feed: Record<string, string>;
  readonly #cache: TtlCache | null;
  readonly #ttl: number;
  #subscriber: MarketSubscriber | null;

  constructor(rest: AlpacaRest, options: AlpacaMarketDataOptions = {}) {
    this.#rest = rest;
    this.#cache = options.clock ? new TtlCache(options.clock, 1_000) : null;
    this.#ttl = options.latestTtlMs ?? 1_000;
    // deno-lint-ignore no-explicit-any
    this.#feed = options.feed ? { feed: options.feed as any } : {};
    this.#subscriber = options.subscriber ?? null;
  }

  /** Plugs in the live stream (after construction: it needs this object to fill gaps). */
  setSubscriber(subscriber: MarketSubscriber): void {
    this.#subscriber = subscriber;
  }

  #symbol(symbol: string): string {
    return symbol.toUpperCase();
  }

  #cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    return this.#cache ? this.#cache.get(key, this.#ttl, load) : load();
  }

  /** `GET /v2/stocks/{symbol}/quotes/latest`. Throws `ASSET_NOT_FOUND`. */
  latestQuote(symbol: string): Promise<Quote> {
    const s = this.#symbol(symbol);
    return this.#cached(`q:${s}`, () => this.#latestQuote(s));
  }

  #latestQuote(s: string): Promise<Quote> {
    return this.#rest.json(
      `latest quote of "${s}"`,
      () => this.#rest.stocks.stockLatestQuoteSingleRaw({ symbol: s, ...this.#feed }),
      (b) => quoteFromAlpaca(object(b, "a latest quote").quote),
      "ASSET_NOT_FOUND",
    );
  }

  /** `GET /v2/stocks/{symbol}/trades/latest`. Throws `ASSET_NOT_FOUND`. */
  latestTrade(symbol: string): Promise<Trade> {
    const s = this.#symbol(symbol);
    return this.#cached(`t:${s}`, () => this.#latestTrade(s));
  }

  #latestTrade(s: string): Promise<Trade> {
    return this.#rest.json(
      `latest trade of "${s}"`,
      () => this.#rest.stocks.stockLatestTradeSingleRaw({ symbol: s, ...this.#feed }),
      (b) => tradeFromAlpaca(object(b, "a latest trade").trade),
      "ASSET_NOT_FOUND",
    );
  }

  /** `GET /v2/stocks/{symbol}/bars/latest` (the latest minute bar, or null). */
  latestBar(symbol: string): Promise<Bar | null> {
    const s = this.#symbol(symbol);
    return this.#rest.json(
      `latest bar of "${s}"`,
      () => this.#rest.stocks.stockLatestBarSingleRaw({ symbol: s, ...this.#feed }),
      (b) => orNull(object(b, "a latest bar").bar, barFromAlpaca),
      "ASSET_NOT_FOUND",
    );
  }

  /** `GET /v2/stocks/quotes/latest?symbols=`; symbols Alpaca has nothing for are left out. */
  latestQuotes(symbols: string[]): Promise<Record<string, Quote>> {
    if (symbols.length === 0) return Promise.resolve({});
    const list = symbols.map((s) => this.#symbol(s)).join(",");
    return this.#rest.json(
      "latest quotes",
      () => this.#rest.stocks.stockLatestQuotesRaw({ symbols: list, ...this.#feed }),
      (b) => mapOf(b, "quotes", quoteFromAlpaca),
    );
  }

  /** `GET /v2/stocks/bars/latest?symbols=` (latest minute bars); symbols without one are left out. */
  latestBars(symbols: string[]): Promise<Record<string, Bar>> {
    if (symbols.length === 0) return Promise.resolve({});
    const list = symbols.map((s) => this.#symbol(s)).join(",");
    return this.#rest.json(
      "latest bars",
      () => this.#rest.stocks.stockLatestBarsRaw({ symbols: list, ...this.#feed }),
      (b) => mapOf(b, "bars", barFromAlpaca),
    );
  }

  /** `GET /v2/stocks/trades/latest?symbols=`; symbols Alpaca has nothing for are left out. */
  latestTrades(symbols: string[]): Promise<Record<string, Trade>> {
    if (symbols.length === 0) return Promise.resolve({});
    const list = symbols.map((s) => this.#symbol(s)).join(",");
    return this.#rest.json(
      "latest trades",
      () => this.#rest.stocks.stockLatestTradesRaw({ symbols: list, ...this.#feed }),
      (b) => mapOf(b, "trades", tradeFromAlpaca),
    );
  }

  /**
   * `GET /v2/stocks/{symbol}/bars`: one page (follow `next_page_token` for the next). Throws
   * `INVALID_REQUEST` for a limit outside 1–10000, `ASSET_NOT_FOUND` for an unknown symbol.
   */
  bars(symbol: string, query: BarsQuery): Promise<BarsPage> {
    const s = this.#symbol(symbol);
    if (query.limit !== undefined && (query.limit < 1 || query.limit > 10_000)) {
      return Promise.reject(
        new TradeError(
          "INVALID_REQUEST",
          `Cannot read bars of "${s}": limit "${query.limit}" must be from 1 to 10000`,
        ),
      );
    }
    return this.#rest.json(
      `bars of "${s}"`,
      () =>
        this.#rest.stocks.stockBarSingleRaw({
          symbol: s,
          timeframe: query.timeframe,
          ...(query.start !== undefined ? { start: new Date(query.start) } : {}),
          ...(query.end !== undefined ? { end: new Date(query.end) } : {}),
          ...(query.limit !== undefined ? { limit: query.limit } : {}),
          ...(query.pageToken ? { pageToken: query.pageToken } : {}),
          // deno-lint-ignore no-explicit-any
          ...(query.sort ? { sort: query.sort as any } : {}),
          ...this.#feed,
        }),
      (b) => {
        const o = object(b, "a bars page");
        const bars = o.bars === null || o.bars === undefined ? [] : o.bars;
        if (!Array.isArray(bars)) {
          throw new AlpacaShapeError("Alpaca sent bars that are not a list");
        }
        const token = o.next_page_token;
        return {
          bars: bars.map(barFromAlpaca),
          next_page_token: typeof token === "string" && token !== "" ? token : null,
        };
      },
      "ASSET_NOT_FOUND",
    );
  }

  /** `GET /v2/stocks/{symbol}/snapshot`. Throws `ASSET_NOT_FOUND`. */
  snapshot(symbol: string): Promise<Snapshot> {
    const s = this.#symbol(symbol);
    return this.#rest.json(
      `snapshot of "${s}"`,
      () => this.#rest.stocks.stockSnapshotSingleRaw({ symbol: s, ...this.#feed }),
      snapshotFromAlpaca,
      "ASSET_NOT_FOUND",
    );
  }

  /** `GET /v2/stocks/snapshots?symbols=` (a top-level map); unknown symbols are left out. */
  snapshots(symbols: string[]): Promise<Record<string, Snapshot>> {
    if (symbols.length === 0) return Promise.resolve({});
    const list = symbols.map((s) => this.#symbol(s)).join(",");
    return this.#rest.json(
      "snapshots",
      () => this.#rest.stocks.stockSnapshotsRaw({ symbols: list, ...this.#feed }),
      (b) => mapOf(b, null, snapshotFromAlpaca),
    );
  }

  /**
   * Live trades, quotes and bars through the market-data stream (or the venue's REST poller
   * when it has no stream). Throws `VENUE_UNAVAILABLE` when it has neither.
   */
  subscribe(
    subscription: MarketSubscription,
    listener: (events: MarketEvent[]) => void,
  ): Unsubscribe {
    if (!this.#subscriber) {
      throw new TradeError(
        "VENUE_UNAVAILABLE",
        "Cannot subscribe to Alpaca market data: this engine has no Alpaca market-data stream",
      );
    }
    return this.#subscriber.subscribe(subscription, listener);
  }
}
