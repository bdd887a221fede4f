/**
 * {@link AlpacaVenue}: the {@link Venue} port on one Alpaca account (the engine's key).
 *
 * **How Tradewind users map onto the account.** Alpaca gives a key one account, and Alpaca
 * nets it: one position per symbol. The ledger keeps each user's orders, books and positions
 * apart, and reconciliation makes a user's ledger equal to the venue's account, so two users
 * on one account would each be "reconciled" to the whole account (each adopting the other's
 * orders as external, each booking the other's shares). So exactly one Tradewind user, the
 * *account holder* (`ALPACA_ACCOUNT_USER`), trades the Alpaca account; inside it, that user's
 * bots and manual trading keep their own books as on the paper venue. Any other user of the
 * engine has no account at this venue: their orders are refused with `FORBIDDEN`, their
 * account reads likewise, and their order and position lists are empty (so reconciliation
 * leaves them alone). Market data, the clock, the calendar and assets are shared by all.
 *
 * Every request of the venue (all users, market data, reconciliation) draws on one
 * {@link AlpacaBudget} of 200 requests a minute.
 *
 * Trade updates and live market data come from the stream clients of
 * brokers/alpaca/trade_stream.ts and market_stream.ts, injected as
 * {@link AlpacaVenueOptions.tradeUpdates} and {@link AlpacaVenueOptions.marketStream}.
 * Without a trade stream, fills reach the ledger by reconciliation (every
 * `RECONCILE_EVERY_MS`); without a market stream, live data is polled over REST.
 *
 * @module
 */
import { sessionAt } from "../../core/calendar.ts";
import type { Clock } from "../../core/clock.ts";
import type { Decimal } from "../../core/decimal.ts";
import { TradeError, tradeErrors } from "../../core/errors.ts";
import type { Order, OrderRequest, ReplaceRequest } from "../../core/order.ts";
import type { Broker, MarketData, Unsubscribe, Venue } from "../broker.ts";
import type { ListOrdersQuery, TradeUpdate } from "../../core/account.ts";
import { AlpacaBroker, type TradeUpdateSource } from "./broker.ts";
import { AlpacaBudget, type AlpacaBudgetOptions } from "./budget.ts";
import { AlpacaMarketData, type MarketSubscriber } from "./market_data.ts";
import { RestPoller } from "./poller.ts";
import { ALPACA_DATA_URL, ALPACA_LIVE_URL, ALPACA_PAPER_URL, AlpacaRest } from "./rest.ts";

export type { TradeUpdateSource } from "./broker.ts";
export type { MarketSubscriber } from "./market_data.ts";

/** Options of {@link AlpacaVenue}. */
export interface AlpacaVenueOptions {
  clock: Clock;
  keyId: string;
  secretKey: string;
  /** Paper (default) or live; only picks the default trading URL. */
  paper?: boolean;
  /** Trading API base; default Alpaca's paper or live host. */
  tradingUrl?: string;
  /** Market-data API base; default `https://data.alpaca.markets`. */
  dataUrl?: string;
  /**
   * The Tradewind user id of the account holder, or null while that user does not exist yet
   * (asked again until it does; main.ts looks `ALPACA_ACCOUNT_USER` up).
   */
  accountHolder: () => Promise<string | null>;
  /** The account's `trade_updates` stream (brokers/alpaca/trade_stream.ts). */
  tradeUpdates?: TradeUpdateSource;
  /**
   * Builds the live market-data stream (brokers/alpaca/market_stream.ts); it gets the REST
   * market data to fill gaps after a reconnect.
   */
  marketStream?: (rest: MarketData) => MarketSubscriber;
  /**
   * Without `marketStream`, live data comes from polling REST (./poller.ts) at these
   * intervals (default trades and quotes every 5 s, bars every 15 s); `onError` hears a
   * failed round.
   */
  poll?: { everyMs?: number; barsEveryMs?: number; onError?: (error: unknown) => void };
  /** Market-data feed (`iex`, `sip`); default the account's. */
  feed?: string;
  /** Per-request timeout in ms, from when it leaves; default 3000. */
  timeoutMs?: number;
  /** The request budget's settings (default 200 a minute). */
  budget?: Omit<AlpacaBudgetOptions, "clock">;
  /** Replaces `fetch` (tests). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** The Alpaca venue. */
export class AlpacaVenue implements Venue {
  readonly name = "alpaca";
  /** The trading API base in use. */
  readonly tradingUrl: string;
  /** The market-data API base in use. */
  readonly dataUrl: string;
  /** The request budget every call of this venue draws on. */
  readonly budget: AlpacaBudget;
  readonly #rest: AlpacaRest;
  readonly #broker: AlpacaBroker;
  readonly #marketData: AlpacaMarketData;
  readonly #resolveHolder: () => Promise<string | null>;
  readonly #brokers = new Map<string, Broker>();
  #holder: string | null = null;

  constructor(options: AlpacaVenueOptions) {
    this.tradingUrl = options.tradingUrl ??
      (options.paper === false ? ALPACA_LIVE_URL : ALPACA_PAPER_URL);
    this.dataUrl = options.dataUrl ?? ALPACA_DATA_URL;
    this.budget = new AlpacaBudget({ ...options.budget, clock: options.clock });
    this.#rest = new AlpacaRest({
      tradingUrl: this.tradingUrl,
      dataUrl: this.dataUrl,
      keyId: options.keyId,
      secretKey: options.secretKey,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    }, this.budget);
    this.#broker = new AlpacaBroker(this.#rest, options.tradeUpdates ?? null);
    this.#marketData = new AlpacaMarketData(this.#rest, {
      clock: options.clock,
      ...(options.feed ? { feed: options.feed } : {}),
    });
    this.#marketData.setSubscriber(
      options.marketStream
        ? options.marketStream(this.#marketData)
        : new RestPoller(this.#marketData, { clock: options.clock, ...options.poll }),
    );
    this.#resolveHolder = options.accountHolder;
  }

  /** The REST market data (quotes, trades, bars, snapshots; live data through the stream). */
  get marketData(): MarketData {
    return this.#marketData;
  }

  /** Alpaca keeps NYSE hours: the session of the NYSE calendar (core/calendar.ts). */
  session(tsMs: number): "pre" | "core" | "post" | "closed" {
    return sessionAt(tsMs);
  }

  /** The account holder's id, looked up until found (then kept). */
  async holder(): Promise<string | null> {
    this.#holder ??= await this.#resolveHolder();
    return this.#holder;
  }

  /** The users with an account at this venue (the holder, once known): reconciled always. */
  async accountHolders(): Promise<string[]> {
    const id = await this.holder();
    return id ? [id] : [];
  }

  /** The broker acting for `userId`: the account for its holder, no account for anyone else. */
  brokerFor(userId: string): Broker {
    let broker = this.#brokers.get(userId);
    if (!broker) {
      broker = new HolderGate(this, this.#broker, userId);
      this.#brokers.set(userId, broker);
    }
    return broker;
  }

  /** The holder known now (no lookup), for routing stream events. */
  get knownHolder(): string | null {
    return this.#holder;
  }
}

/**
 * The account for its holder; for any other user, a venue where that user has nothing:
 * empty lists, not-found lookups, and `FORBIDDEN` for orders and the account.
 */
class HolderGate implements Broker {
  readonly name = "alpaca";
  readonly #venue: AlpacaVenue;
  readonly #inner: AlpacaBroker;
  readonly #userId: string;

  constructor(venue: AlpacaVenue, inner: AlpacaBroker, userId: string) {
    this.#venue = venue;
    this.#inner = inner;
    this.#userId = userId;
  }

  async #isHolder(): Promise<boolean> {
    return (await this.#venue.holder()) === this.#userId;
  }

  async #only<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (await this.#isHolder()) return await fn();
    throw new TradeError(
      "FORBIDDEN",
      `Cannot ${what}: this engine's Alpaca account is held by another user (ALPACA_ACCOUNT_USER); your user has no account at the alpaca venue`,
      { alpacaMessage: "forbidden" },
    );
  }

  submitOrder(request: OrderRequest): Promise<Order> {
    return this.#only("place an order", () => this.#inner.submitOrder(request));
  }

  async getOrder(id: string, options?: { nested?: boolean }): Promise<Order> {
    if (!(await this.#isHolder())) throw tradeErrors.orderNotFound(id);
    return await this.#inner.getOrder(id, options);
  }

  async getOrderByClientId(clientOrderId: string): Promise<Order> {
    if (!(await this.#isHolder())) throw tradeErrors.orderNotFound(clientOrderId);
    return await this.#inner.getOrderByClientId(clientOrderId);
  }

  async listOrders(query?: ListOrdersQuery): Promise<Order[]> {
    return (await this.#isHolder()) ? await this.#inner.listOrders(query) : [];
  }

  replaceOrder(id: string, request: ReplaceRequest): Promise<Order> {
    return this.#only(`replace order "${id}"`, () => this.#inner.replaceOrder(id, request));
  }

  cancelOrder(id: string): Promise<void> {
    return this.#only(`cancel order "${id}"`, () => this.#inner.cancelOrder(id));
  }

  cancelAllOrders() {
    return this.#only("cancel all orders", () => this.#inner.cancelAllOrders());
  }

  getAccount() {
    return this.#only("read the account", () => this.#inner.getAccount());
  }

  async listPositions() {
    return (await this.#isHolder()) ? await this.#inner.listPositions() : [];
  }

  async getPosition(symbol: string) {
    if (!(await this.#isHolder())) throw tradeErrors.positionNotFound(symbol);
    return await this.#inner.getPosition(symbol);
  }

  closePosition(symbol: string, options?: { qty?: Decimal; percentage?: Decimal }) {
    return this.#only(
      `close position "${symbol}"`,
      () => this.#inner.closePosition(symbol, options),
    );
  }

  closeAllPositions(options?: { cancelOrders?: boolean }) {
    return this.#only("close all positions", () => this.#inner.closeAllPositions(options));
  }

  getClock() {
    return this.#inner.getClock();
  }

  getCalendar(start: string, end: string) {
    return this.#inner.getCalendar(start, end);
  }

  listAssets() {
    return this.#inner.listAssets();
  }

  getAsset(symbolOrId: string) {
    return this.#inner.getAsset(symbolOrId);
  }

  /** The account's updates reach its holder only (an unknown holder has no orders yet). */
  onTradeUpdate(listener: (update: TradeUpdate) => void): Unsubscribe {
    return this.#inner.onTradeUpdate((update) => {
      if (this.#venue.knownHolder === this.#userId) listener(update);
    });
  }
}
