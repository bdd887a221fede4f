/**
 * The paper venue: Tradewind's built-in simulated exchange, behaving like Alpaca's paper
 * trading. It joins the seeded {@link MarketModel} (prices, quotes, trades, bars), the
 * {@link PaperExchange} (matching, accounts) and a {@link Clock}.
 *
 * Time moves by pumping: every call first feeds the exchange the market's ticks up to the
 * clock's now, so with a `TestClock` the same seed and the same calls give the same events,
 * byte for byte. `start()` pumps on a timer so streams and bots see a live market.
 *
 * Each Tradewind user trades through their own paper account (`brokerFor(userId)`).
 *
 * @module
 */
import {
  calendar,
  etToEpochMs,
  formatEt,
  marketClock,
  sessionAt,
  sessionCloseMs,
  toEt,
  type TradingDay,
} from "../../core/calendar.ts";
import type { Clock } from "../../core/clock.ts";
import type { Decimal } from "../../core/decimal.ts";
import { TradeError, tradeErrors } from "../../core/errors.ts";
import { cryptoIdSource, type IdSource } from "../../core/ids.ts";
import type { Order, OrderRequest, ReplaceRequest } from "../../core/order.ts";
import type { Broker, MarketData, Unsubscribe, Venue } from "../broker.ts";
import type {
  Asset,
  Bar,
  BarsPage,
  BarsQuery,
  MarketClock,
  MarketEvent,
  MarketSubscription,
  Quote,
  Snapshot,
  Trade,
} from "../../core/market.ts";
import type {
  Account,
  CancelResult,
  ClosePositionResult,
  ListOrdersQuery,
  Position,
  TradeUpdate,
} from "../../core/account.ts";
import { type PaperAccountState, PaperExchange, type RestoreResult } from "./exchange.ts";
import { MarketModel, MarketModelError } from "./market_model.ts";
import { buildUniverse, DEFAULT_UNIVERSE, type SymbolSpec, toAsset } from "./universe.ts";

/** Which hours the simulated market keeps. */
export type SimHours = "24x7" | "nyse";

/** Options of {@link PaperVenue}. */
export interface PaperVenueOptions {
  clock: Clock;
  /** Ids of orders and fills; seeded for deterministic runs. */
  ids?: IdSource;
  /** Seed of the simulated market. Default 42. */
  seed?: number;
  /** Symbols to simulate; default the built-in universe of about 20. */
  symbols?: readonly string[];
  /** `24x7` (default: always open) or `nyse` (the NYSE calendar and sessions). */
  hours?: SimHours;
  /** Length of one market tick in ms (divides 60000). Default 1000. */
  tickMs?: number;
  /** Cash of new accounts. Default "100000". */
  startingCash?: string;
  /** Margin multiplier of new accounts. Default "2". */
  multiplier?: "1" | "2" | "4";
  /** The legacy pattern-day-trader rule. Default off. */
  legacyPdt?: boolean;
  /** How often `start()` pumps, in ms. Default 250. */
  pumpEveryMs?: number;
}

const DAY_MS = 86_400_000;
const TIMEFRAME_MS: Record<BarsQuery["timeframe"], number> = {
  "1Min": 60_000,
  "5Min": 300_000,
  "15Min": 900_000,
  "1Hour": 3_600_000,
  "1Day": DAY_MS,
};

/** Next midnight in New York after `tsMs`: the end of a "day" in a 24x7 market. */
function nextEtMidnight(tsMs: number): number {
  const date = toEt(tsMs).dateStr;
  const next = new Date(Date.parse(date + "T00:00:00Z") + DAY_MS).toISOString().slice(0, 10);
  return etToEpochMs(next, "00:00");
}

function modelError(e: unknown, symbol: string): never {
  if (e instanceof MarketModelError && /unknown symbol/i.test(e.message)) {
    throw tradeErrors.assetNotFound(symbol);
  }
  if (e instanceof MarketModelError) {
    throw new TradeError("INVALID_REQUEST", e.message);
  }
  throw e;
}

/** The built-in paper venue. */
export class PaperVenue implements Venue, MarketData {
  readonly name = "paper";
  readonly hours: SimHours;
  readonly model: MarketModel;
  readonly exchange: PaperExchange;
  readonly #clock: Clock;
  readonly #assets = new Map<string, Asset>();
  readonly #specs: readonly SymbolSpec[];
  readonly #accountListeners = new Map<string, Set<(u: TradeUpdate) => void>>();
  readonly #marketListeners = new Set<
    { sub: MarketSubscription; fn: (e: MarketEvent[]) => void }
  >();
  readonly #brokers = new Map<string, PaperBroker>();
  readonly #pumpEvery: number;
  #pumpedTo: number;
  #stopTimer: (() => void) | null = null;

  constructor(options: PaperVenueOptions) {
    this.#clock = options.clock;
    this.hours = options.hours ?? "24x7";
    this.#pumpEvery = options.pumpEveryMs ?? 250;
    this.#specs = options.symbols ? buildUniverse(options.symbols) : DEFAULT_UNIVERSE;
    for (const spec of this.#specs) {
      const asset = toAsset(spec);
      this.#assets.set(asset.symbol, asset);
      this.#assets.set(asset.id, asset);
    }
    const nyse = this.hours === "nyse";
    this.model = new MarketModel(this.#specs, {
      seed: options.seed ?? 42,
      tickMs: options.tickMs ?? 1000,
      tradingFilter: nyse ? (ts) => sessionAt(ts) !== "closed" : "24x7",
    });
    this.exchange = new PaperExchange({
      ids: options.ids ?? cryptoIdSource,
      assets: (s) => this.#assets.get(s.toUpperCase()) ?? this.#assets.get(s),
      session: nyse ? sessionAt : () => "core",
      dayOrderExpiry: nyse
        ? (ts, o) => sessionCloseMs(ts, { extendedHours: o.extendedHours })
        : (ts) => nextEtMidnight(ts),
      etMinutesOfDay: nyse ? undefined : null,
      legacyPdt: options.legacyPdt ?? false,
      startingCash: options.startingCash ?? "100000",
      defaultMultiplier: options.multiplier ?? "2",
    });
    // Seed the book with the market as it stands now, so the first order has a quote.
    const now = this.#clock.now();
    this.#pumpedTo = now;
    for (const spec of this.#specs) {
      const q = this.model.quoteAt(spec.symbol, now);
      const t = this.model.latestTrade(spec.symbol, now);
      if (q) this.exchange.onQuote(spec.symbol, q, now);
      if (t) this.exchange.onTrade(spec.symbol, t, now);
    }
    this.exchange.advance(now);
  }

  /**
   * Recreates users' paper accounts after a restart from what the ledger knows (cash, positions,
   * open orders with their venue ids), at the time the venue has reached: right after
   * construction, the initial quote seeding. Emits no events and pumps nothing; the next pump
   * moves the restored orders as the market moves. Accepts a `Map` or an array of
   * `[userId, state]` pairs. Throws `PaperRestoreError` (nothing restored) when a user's
   * account already has activity or a state is inconsistent; see
   * {@link PaperExchange.restoreAccounts} for what is and is not restored exactly.
   */
  restore(
    accounts: Iterable<readonly [userId: string, state: PaperAccountState]>,
  ): RestoreResult[] {
    return this.exchange.restoreAccounts(accounts, this.#pumpedTo);
  }

  /** Symbols of the simulated universe. */
  get symbols(): string[] {
    return this.#specs.map((s) => s.symbol);
  }

  /** Pumps on a timer (live engine). */
  start(): void {
    this.#stopTimer ??= this.#clock.setRepeating(() => this.pump(), this.#pumpEvery);
  }

  stop(): void {
    this.#stopTimer?.();
    this.#stopTimer = null;
  }

  /**
   * Feeds the exchange every market event up to `toMs` (default now), then delivers order
   * events to account listeners and market events to subscribers, in time order.
   */
  pump(toMs: number = this.#clock.now()): void {
    if (toMs <= this.#pumpedTo) {
      this.#dispatch([]);
      return;
    }
    const batch: MarketEvent[] = [];
    const wantMarket = this.#marketListeners.size > 0;
    for (const ev of this.model.ticksBetween(this.#pumpedTo, toMs)) {
      if (ev.type === "quote") {
        this.exchange.onQuote(ev.symbol, ev.quote, ev.tsMs);
        if (wantMarket) batch.push({ type: "quote", symbol: ev.symbol, quote: ev.quote });
      } else if (ev.type === "trade") {
        this.exchange.onTrade(ev.symbol, ev.trade, ev.tsMs);
        if (wantMarket) batch.push({ type: "trade", symbol: ev.symbol, trade: ev.trade });
      } else if (wantMarket) {
        batch.push({ type: "bar", symbol: ev.symbol, bar: ev.bar });
      }
    }
    this.exchange.advance(toMs);
    this.#pumpedTo = toMs;
    this.#dispatch(batch);
  }

  #dispatch(market: MarketEvent[]): void {
    for (const ev of this.exchange.drainEvents()) {
      for (const fn of this.#accountListeners.get(ev.accountId) ?? []) fn(ev.update);
    }
    if (market.length === 0) return;
    for (const { sub, fn } of this.#marketListeners) {
      const picked = market.filter((e) => {
        const list = e.type === "quote" ? sub.quotes : e.type === "trade" ? sub.trades : sub.bars;
        return !!list && (list.includes("*") || list.includes(e.symbol));
      });
      if (picked.length) fn(picked);
    }
  }

  /** Runs an exchange operation at now, then delivers its events. */
  act<T>(fn: (now: number) => T): T {
    this.pump();
    const now = this.#clock.now();
    try {
      return fn(now);
    } finally {
      this.#dispatch([]);
    }
  }

  session(tsMs: number): "pre" | "core" | "post" | "closed" {
    return this.hours === "nyse" ? sessionAt(tsMs) : "core";
  }

  brokerFor(userId: string): Broker {
    let b = this.#brokers.get(userId);
    if (!b) {
      b = new PaperBroker(this, userId);
      this.#brokers.set(userId, b);
    }
    return b;
  }

  get marketData(): MarketData {
    return this;
  }

  /** Listens to one account's trade updates. */
  listen(accountId: string, fn: (u: TradeUpdate) => void): Unsubscribe {
    let set = this.#accountListeners.get(accountId);
    if (!set) this.#accountListeners.set(accountId, set = new Set());
    set.add(fn);
    return () => set.delete(fn);
  }

  /** An asset by symbol or id, or undefined. */
  asset(symbolOrId: string): Asset | undefined {
    return this.#assets.get(symbolOrId.toUpperCase()) ?? this.#assets.get(symbolOrId);
  }

  /** Every asset, sorted by symbol. */
  assets(): Asset[] {
    return this.#specs.map((s) => this.#assets.get(s.symbol)!).sort((a, b) =>
      a.symbol.localeCompare(b.symbol)
    );
  }

  clock(): MarketClock {
    const now = this.#clock.now();
    if (this.hours === "nyse") return marketClock(now);
    return {
      timestamp: formatEt(now),
      is_open: true,
      next_open: formatEt(now),
      next_close: formatEt(nextEtMidnight(now)),
    };
  }

  calendar(start: string, end: string): TradingDay[] {
    return calendar(start, end);
  }

  // MarketData ------------------------------------------------------------------------------

  #sym(symbol: string): string {
    const s = symbol.toUpperCase();
    if (!this.#assets.has(s)) throw tradeErrors.assetNotFound(s);
    return s;
  }

  latestQuote(symbol: string): Promise<Quote> {
    const s = this.#sym(symbol);
    this.pump();
    const q = this.model.quoteAt(s, this.#clock.now());
    if (!q) return Promise.reject(new TradeError("ASSET_NOT_FOUND", `No quote for "${s}" yet`));
    return Promise.resolve(q);
  }

  latestTrade(symbol: string): Promise<Trade> {
    const s = this.#sym(symbol);
    this.pump();
    const t = this.model.latestTrade(s, this.#clock.now());
    if (!t) return Promise.reject(new TradeError("ASSET_NOT_FOUND", `No trade for "${s}" yet`));
    return Promise.resolve(t);
  }

  latestBar(symbol: string): Promise<Bar | null> {
    const s = this.#sym(symbol);
    return Promise.resolve(this.model.snapshot(s, this.#clock.now()).minuteBar);
  }

  async latestQuotes(symbols: string[]): Promise<Record<string, Quote>> {
    const out: Record<string, Quote> = {};
    for (const s of symbols) out[s.toUpperCase()] = await this.latestQuote(s);
    return out;
  }

  async latestTrades(symbols: string[]): Promise<Record<string, Trade>> {
    const out: Record<string, Trade> = {};
    for (const s of symbols) out[s.toUpperCase()] = await this.latestTrade(s);
    return out;
  }

  bars(symbol: string, query: BarsQuery): Promise<BarsPage> {
    const s = this.#sym(symbol);
    const now = this.#clock.now();
    const limit = query.limit ?? 1000;
    let start = query.start ?? etToEpochMs(toEt(now).dateStr, "00:00");
    let end = Math.min(query.end ?? now, now);
    if (query.pageToken) {
      let decoded = NaN;
      try {
        decoded = Number(atob(query.pageToken));
      } catch { /* not base64: reported below */ }
      if (!Number.isFinite(decoded)) {
        return Promise.reject(
          new TradeError("INVALID_REQUEST", `Invalid page_token "${query.pageToken}"`),
        );
      }
      // Ascending pages continue after the token; descending pages continue before it.
      if (query.sort === "desc") end = decoded;
      else start = decoded;
    }
    if (end < start) return Promise.resolve({ bars: [], next_page_token: null });
    try {
      if (query.sort === "desc") {
        // Newest first: widen a window back from `end` until it holds limit + 1 bars.
        const tfMs = TIMEFRAME_MS[query.timeframe];
        let span = tfMs * (limit + 1) * 2;
        let window: Bar[] = [];
        while (true) {
          const from = Math.max(start, end - span);
          window = this.model.bars(s, query.timeframe, from, end, { limit: 100_000, asOfMs: now });
          if (window.length > limit || from === start) break;
          span *= 4;
        }
        const newest = window.slice(-(limit + 1)).reverse();
        const more = newest.length > limit;
        return Promise.resolve({
          bars: newest.slice(0, limit),
          next_page_token: more ? btoa(String(Date.parse(newest[limit]!.t))) : null,
        });
      }
      const bars = this.model.bars(s, query.timeframe, start, end, {
        limit: limit + 1,
        asOfMs: now,
      });
      const more = bars.length > limit;
      const page = more ? bars.slice(0, limit) : bars;
      return Promise.resolve({
        bars: page,
        next_page_token: more ? btoa(String(Date.parse(bars[limit]!.t))) : null,
      });
    } catch (e) {
      return Promise.reject(modelErrorAsync(e, s));
    }
  }

  snapshot(symbol: string): Promise<Snapshot> {
    const s = this.#sym(symbol);
    this.pump();
    return Promise.resolve(this.model.snapshot(s, this.#clock.now()));
  }

  async snapshots(symbols: string[]): Promise<Record<string, Snapshot>> {
    const out: Record<string, Snapshot> = {};
    for (const s of symbols) out[s.toUpperCase()] = await this.snapshot(s);
    return out;
  }

  subscribe(sub: MarketSubscription, fn: (events: MarketEvent[]) => void): Unsubscribe {
    const entry = { sub, fn };
    this.#marketListeners.add(entry);
    return () => this.#marketListeners.delete(entry);
  }
}

function modelErrorAsync(e: unknown, symbol: string): unknown {
  try {
    modelError(e, symbol);
  } catch (mapped) {
    return mapped;
  }
}

/** One user's paper account, as a {@link Broker}. */
class PaperBroker implements Broker {
  readonly name = "paper";
  readonly #venue: PaperVenue;
  readonly #account: string;

  constructor(venue: PaperVenue, accountId: string) {
    this.#venue = venue;
    this.#account = accountId;
    venue.exchange.openAccount(accountId);
  }

  #run<T>(fn: (ex: PaperExchange, now: number) => T): Promise<T> {
    try {
      return Promise.resolve(this.#venue.act((now) => fn(this.#venue.exchange, now)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  submitOrder(request: OrderRequest): Promise<Order> {
    return this.#run((ex, now) => ex.submit(this.#account, request, now));
  }

  getOrder(id: string, options?: { nested?: boolean }): Promise<Order> {
    return this.#run((ex) => ex.getOrder(this.#account, id, options));
  }

  getOrderByClientId(clientOrderId: string): Promise<Order> {
    return this.#run((ex) => ex.getOrderByClientId(this.#account, clientOrderId));
  }

  listOrders(query?: ListOrdersQuery): Promise<Order[]> {
    return this.#run((ex) => ex.listOrders(this.#account, query));
  }

  replaceOrder(id: string, request: ReplaceRequest): Promise<Order> {
    return this.#run((ex, now) => ex.replace(this.#account, id, request, now));
  }

  cancelOrder(id: string): Promise<void> {
    return this.#run((ex, now) => ex.cancel(this.#account, id, now));
  }

  cancelAllOrders(): Promise<CancelResult[]> {
    return this.#run((ex, now) => ex.cancelAll(this.#account, now));
  }

  getAccount(): Promise<Account> {
    return this.#run((ex) => ex.account(this.#account));
  }

  listPositions(): Promise<Position[]> {
    return this.#run((ex) => ex.positions(this.#account));
  }

  getPosition(symbol: string): Promise<Position> {
    return this.#run((ex) => ex.position(this.#account, symbol));
  }

  closePosition(symbol: string, options?: { qty?: Decimal; percentage?: Decimal }): Promise<Order> {
    return this.#run((ex, now) => ex.closePosition(this.#account, symbol, options ?? {}, now));
  }

  closeAllPositions(options?: { cancelOrders?: boolean }): Promise<ClosePositionResult[]> {
    return this.#run((ex, now) => ex.closeAll(this.#account, options ?? {}, now));
  }

  getClock(): Promise<MarketClock> {
    return Promise.resolve(this.#venue.clock());
  }

  getCalendar(start: string, end: string): Promise<TradingDay[]> {
    try {
      return Promise.resolve(this.#venue.calendar(start, end));
    } catch (e) {
      return Promise.reject(new TradeError("INVALID_REQUEST", (e as Error).message));
    }
  }

  listAssets(): Promise<Asset[]> {
    return Promise.resolve(this.#venue.assets());
  }

  getAsset(symbolOrId: string): Promise<Asset> {
    const a = this.#venue.asset(symbolOrId);
    return a ? Promise.resolve(a) : Promise.reject(tradeErrors.assetNotFound(symbolOrId));
  }

  onTradeUpdate(listener: (update: TradeUpdate) => void): Unsubscribe {
    return this.#venue.listen(this.#account, listener);
  }
}
