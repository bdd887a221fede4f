/**
 * Caching of venue data: a time-to-live cache whose concurrent identical requests share one
 * upstream call, and a {@link MarketData} wrapper using it with Tradewind's TTLs (quotes and
 * trades 1 s, snapshots 2 s, bars 5 min).
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { MarketData, Unsubscribe } from "./broker.ts";
import type {
  Bar,
  BarsPage,
  BarsQuery,
  MarketEvent,
  MarketSubscription,
  Quote,
  Snapshot,
  Trade,
} from "../core/market.ts";

interface Entry<T> {
  value?: T;
  expires: number;
  pending?: Promise<T>;
}

/** Hit/miss counts of a cache. */
export interface CacheStats {
  hits: number;
  misses: number;
  shared: number;
}

/**
 * A TTL cache with single-flight loading: while a value loads, every caller asking for the
 * same key awaits the same promise. Failed loads are not cached.
 */
export class TtlCache {
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry<unknown>>();
  readonly #max: number;
  readonly stats: CacheStats = { hits: 0, misses: 0, shared: 0 };

  constructor(clock: Clock, maxEntries = 10_000) {
    this.#clock = clock;
    this.#max = maxEntries;
  }

  /** The cached value for `key`, loading it with `load` when absent or older than `ttlMs`. */
  get<T>(key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
    const now = this.#clock.now();
    const entry = this.#entries.get(key) as Entry<T> | undefined;
    if (entry?.pending) {
      this.stats.shared++;
      return entry.pending;
    }
    if (entry && "value" in entry && entry.expires > now) {
      this.stats.hits++;
      return Promise.resolve(entry.value as T);
    }
    this.stats.misses++;
    const pending = load().then(
      (value) => {
        this.#entries.set(key, { value, expires: this.#clock.now() + ttlMs });
        return value;
      },
      (e) => {
        this.#entries.delete(key);
        throw e;
      },
    );
    if (this.#entries.size >= this.#max) this.#evict(now);
    this.#entries.set(key, { expires: 0, pending });
    return pending;
  }

  /** Drops every key that starts with `prefix`. */
  invalidate(prefix: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key);
  }

  #evict(now: number): void {
    for (const [key, e] of this.#entries) {
      if (!e.pending && e.expires <= now) this.#entries.delete(key);
    }
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }
}

/** Market-data TTLs in milliseconds. */
export const MARKET_TTL = { quote: 1_000, trade: 1_000, snapshot: 2_000, bars: 300_000 } as const;

/** {@link MarketData} with caching; subscriptions pass straight through. */
export class CachedMarketData implements MarketData {
  readonly #inner: MarketData;
  readonly cache: TtlCache;

  constructor(inner: MarketData, clock: Clock) {
    this.#inner = inner;
    this.cache = new TtlCache(clock);
  }

  latestQuote(symbol: string): Promise<Quote> {
    return this.cache.get(`q:${symbol}`, MARKET_TTL.quote, () => this.#inner.latestQuote(symbol));
  }

  latestTrade(symbol: string): Promise<Trade> {
    return this.cache.get(`t:${symbol}`, MARKET_TTL.trade, () => this.#inner.latestTrade(symbol));
  }

  latestBar(symbol: string): Promise<Bar | null> {
    return this.cache.get(`lb:${symbol}`, MARKET_TTL.quote, () => this.#inner.latestBar(symbol));
  }

  latestQuotes(symbols: string[]): Promise<Record<string, Quote>> {
    return this.cache.get(
      `qs:${[...symbols].sort().join(",")}`,
      MARKET_TTL.quote,
      () => this.#inner.latestQuotes(symbols),
    );
  }

  latestTrades(symbols: string[]): Promise<Record<string, Trade>> {
    return this.cache.get(
      `ts:${[...symbols].sort().join(",")}`,
      MARKET_TTL.trade,
      () => this.#inner.latestTrades(symbols),
    );
  }

  bars(symbol: string, query: BarsQuery): Promise<BarsPage> {
    const key = `b:${symbol}:${query.timeframe}:${query.start ?? ""}:${query.end ?? ""}:${
      query.limit ?? ""
    }:${query.pageToken ?? ""}:${query.sort ?? ""}`;
    return this.cache.get(key, MARKET_TTL.bars, () => this.#inner.bars(symbol, query));
  }

  snapshot(symbol: string): Promise<Snapshot> {
    return this.cache.get(`s:${symbol}`, MARKET_TTL.snapshot, () => this.#inner.snapshot(symbol));
  }

  snapshots(symbols: string[]): Promise<Record<string, Snapshot>> {
    return this.cache.get(
      `ss:${[...symbols].sort().join(",")}`,
      MARKET_TTL.snapshot,
      () => this.#inner.snapshots(symbols),
    );
  }

  subscribe(
    subscription: MarketSubscription,
    listener: (events: MarketEvent[]) => void,
  ): Unsubscribe {
    return this.#inner.subscribe(subscription, listener);
  }
}
