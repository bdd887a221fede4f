/**
 * The ports between the engine and a venue: {@link Broker} (orders, account, positions,
 * clock, calendar, assets, trade updates), {@link MarketData} (quotes, trades, bars,
 * snapshots, live subscriptions) and {@link Venue} (a broker per user, shared market data,
 * the venue's hours).
 *
 * The paper venue (`brokers/paper/`) and the Alpaca adapter (`brokers/alpaca/`) implement the
 * same ports, with Alpaca's semantics (see shared ALPACA.md): field names, statuses, event
 * names, and errors as `TradeError` (core/errors.ts) carrying Alpaca's codes and messages.
 * The value types the ports carry live in core: core/market.ts (assets, market data, the
 * session and the venue clock) and core/account.ts (account, positions, trade updates).
 *
 * @module
 */
import type { TradingDay } from "../core/calendar.ts";
import type { Decimal } from "../core/decimal.ts";
import type { Order, OrderRequest, ReplaceRequest } from "../core/order_types.ts";
import type {
  Account,
  CancelResult,
  ClosePositionResult,
  ListOrdersQuery,
  Position,
  TradeUpdate,
} from "../core/account.ts";
import type {
  Asset,
  Bar,
  BarsPage,
  BarsQuery,
  MarketClock,
  MarketEvent,
  MarketSubscription,
  Quote,
  Session,
  Snapshot,
  Trade,
} from "../core/market.ts";

/**
 * The value types, re-exported from their homes in core for code written before they moved
 * (branches in flight). New code imports them from core/market.ts and core/account.ts.
 */
export type {
  Account,
  Asset,
  Bar,
  BarsPage,
  BarsQuery,
  CancelResult,
  ClosePositionResult,
  ListOrdersQuery,
  MarketEvent,
  MarketSubscription,
  Position,
  Quote,
  Snapshot,
  Trade,
  TradeUpdate,
};
export type { Timeframe } from "../core/market.ts";

/** Stops a subscription. */
export type Unsubscribe = () => void;

/**
 * A venue to trade at. Every method may throw a `TradeError` (core/errors.ts) with Alpaca's
 * code and message; network adapters may also throw `BrokerUnavailableError`.
 */
export interface Broker {
  /** `paper` or `alpaca`. */
  readonly name: string;
  submitOrder(request: OrderRequest): Promise<Order>;
  /** Throws `ORDER_NOT_FOUND`. `nested` rolls legs into the parent. */
  getOrder(id: string, options?: { nested?: boolean }): Promise<Order>;
  /** Throws `ORDER_NOT_FOUND`. */
  getOrderByClientId(clientOrderId: string): Promise<Order>;
  listOrders(query?: ListOrdersQuery): Promise<Order[]>;
  /** Answers the new order (new id, `replaces` = old id). */
  replaceOrder(id: string, request: ReplaceRequest): Promise<Order>;
  /** Requests a cancel; the outcome arrives as trade updates. */
  cancelOrder(id: string): Promise<void>;
  cancelAllOrders(): Promise<CancelResult[]>;
  getAccount(): Promise<Account>;
  listPositions(): Promise<Position[]>;
  /** Throws `POSITION_NOT_FOUND`. */
  getPosition(symbol: string): Promise<Position>;
  /** Sends an order that closes all (or `qty`, or `percentage` 0–100) of a position. */
  closePosition(
    symbol: string,
    options?: { qty?: Decimal; percentage?: Decimal },
  ): Promise<Order>;
  closeAllPositions(options?: { cancelOrders?: boolean }): Promise<ClosePositionResult[]>;
  getClock(): Promise<MarketClock>;
  /** Trading days from `start` to `end` inclusive (`YYYY-MM-DD`). */
  getCalendar(start: string, end: string): Promise<TradingDay[]>;
  listAssets(): Promise<Asset[]>;
  /** Throws `ASSET_NOT_FOUND`. */
  getAsset(symbolOrId: string): Promise<Asset>;
  /** Listens to trade updates; events arrive in order. */
  onTradeUpdate(listener: (update: TradeUpdate) => void): Unsubscribe;
}

/** Market data from a venue. Unknown symbols throw `ASSET_NOT_FOUND`. */
export interface MarketData {
  latestQuote(symbol: string): Promise<Quote>;
  latestTrade(symbol: string): Promise<Trade>;
  latestBar(symbol: string): Promise<Bar | null>;
  latestQuotes(symbols: string[]): Promise<Record<string, Quote>>;
  latestTrades(symbols: string[]): Promise<Record<string, Trade>>;
  bars(symbol: string, query: BarsQuery): Promise<BarsPage>;
  snapshot(symbol: string): Promise<Snapshot>;
  snapshots(symbols: string[]): Promise<Record<string, Snapshot>>;
  /** Events arrive in time order; a listener sees only what it subscribed to. */
  subscribe(
    subscription: MarketSubscription,
    listener: (events: MarketEvent[]) => void,
  ): Unsubscribe;
}

/**
 * A venue as the engine sees it: a broker per Tradewind user (the paper venue keeps one
 * account per user; Alpaca one per key), shared market data, and the venue's trading hours.
 */
export interface Venue {
  /** `paper` or `alpaca`. */
  readonly name: string;
  /** The broker acting for one user. */
  brokerFor(userId: string): Broker;
  readonly marketData: MarketData;
  /** The session at an instant, under the venue's hours policy. */
  session(tsMs: number): Session;
  /**
   * The users who hold an account at this venue whether or not they have open orders (the
   * Alpaca account's holder): reconciliation visits them every time, so orders placed outside
   * Tradewind are adopted. Optional; the paper venue has none.
   */
  accountHolders?(): Promise<string[]>;
}
