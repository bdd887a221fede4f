/**
 * The ports between the engine and a venue: {@link Broker} (orders, account, positions,
 * clock, calendar, assets, trade updates) and {@link MarketData} (quotes, trades, bars,
 * snapshots, live subscriptions).
 *
 * The paper venue (`brokers/paper/`) and the Alpaca adapter (`brokers/alpaca/`) implement the
 * same ports, with Alpaca's semantics (see shared ALPACA.md): field names, statuses, event
 * names, and errors as `TradeError` (core/errors.ts) carrying Alpaca's codes and messages.
 * Amounts in the trading ports are exact {@link Decimal}s; market data uses plain numbers, as
 * Alpaca's market-data API does.
 *
 * @module
 */
import type { TradingDay } from "../core/calendar.ts";
import type { Decimal } from "../core/decimal.ts";
import type {
  Order,
  OrderRequest,
  OrderSide,
  ReplaceRequest,
  TradeUpdateEvent,
} from "../core/order_types.ts";

/** A tradable instrument, with Alpaca's asset fields (plus `sector`, Tradewind's own). */
export interface Asset {
  id: string;
  class: "us_equity";
  exchange: string;
  symbol: string;
  name: string;
  status: "active" | "inactive";
  tradable: boolean;
  marginable: boolean;
  shortable: boolean;
  easy_to_borrow: boolean;
  fractionable: boolean;
  /** Not an Alpaca field: the asset's sector, for concentration limits. */
  sector: string;
  attributes: string[];
}

/** The account, with Alpaca's fields (money as decimals). */
export interface Account {
  id: string;
  account_number: string;
  status: "ACTIVE";
  currency: "USD";
  cash: Decimal;
  portfolio_value: Decimal;
  equity: Decimal;
  last_equity: Decimal;
  long_market_value: Decimal;
  short_market_value: Decimal;
  buying_power: Decimal;
  regt_buying_power: Decimal;
  non_marginable_buying_power: Decimal;
  initial_margin: Decimal;
  maintenance_margin: Decimal;
  last_maintenance_margin: Decimal;
  sma: Decimal;
  multiplier: "1" | "2" | "4";
  shorting_enabled: boolean;
  trading_blocked: boolean;
  transfers_blocked: boolean;
  account_blocked: boolean;
  trade_suspended_by_user: boolean;
  created_at: number;
  balance_asof: string;
  accrued_fees: Decimal;
  pending_transfer_in: Decimal;
  pending_transfer_out: Decimal;
  /** Only in the legacy pattern-day-trader mode (removed at Alpaca in 2026-07). */
  daytrade_count?: number;
  pattern_day_trader?: boolean;
}

/** An open position, with Alpaca's fields. `qty` is signed: negative is short. */
export interface Position {
  asset_id: string;
  symbol: string;
  exchange: string;
  asset_class: "us_equity";
  asset_marginable: boolean;
  qty: Decimal;
  qty_available: Decimal;
  side: "long" | "short";
  avg_entry_price: Decimal;
  market_value: Decimal;
  cost_basis: Decimal;
  unrealized_pl: Decimal;
  unrealized_plpc: Decimal;
  unrealized_intraday_pl: Decimal;
  unrealized_intraday_plpc: Decimal;
  current_price: Decimal;
  lastday_price: Decimal;
  change_today: Decimal;
}

/** One event on the trade-updates stream (Alpaca's `trade_updates` `data`). */
export interface TradeUpdate {
  event: TradeUpdateEvent;
  /** The order as it is after the event. */
  order: Order;
  /** When the event happened (epoch ms). */
  timestamp: number;
  /** Fills only: this fill's price and quantity, the position after it, a unique id. */
  price?: Decimal;
  qty?: Decimal;
  /**
   * Fills only, when the venue says: the cash the fill moved. Without it the ledger applies
   * the rule of `core/money.ts` (`qty × price`, half-even to nine places), as the paper venue
   * does.
   */
  amount?: Decimal;
  position_qty?: Decimal;
  execution_id?: string;
}

/** Filters of `GET /v2/orders`. */
export interface ListOrdersQuery {
  status?: "open" | "closed" | "all";
  /** 1 to 500; default 50. */
  limit?: number;
  /** Exclusive bounds on submission time (epoch ms). */
  after?: number;
  until?: number;
  direction?: "asc" | "desc";
  nested?: boolean;
  symbols?: string[];
  side?: OrderSide;
}

/** The clock, as Alpaca's `GET /v2/clock`. */
export interface Clock {
  timestamp: string;
  is_open: boolean;
  next_open: string;
  next_close: string;
}

/** One result of closing every position (Alpaca answers 207 with these). */
export interface ClosePositionResult {
  symbol: string;
  /** HTTP status of this item: 200 with the closing order, or an error status. */
  status: number;
  order?: Order;
  error?: { code: number; message: string };
}

/** Answer of cancel-all (Alpaca answers 207 with these). */
export interface CancelResult {
  id: string;
  status: number;
}

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
  getClock(): Promise<Clock>;
  /** Trading days from `start` to `end` inclusive (`YYYY-MM-DD`). */
  getCalendar(start: string, end: string): Promise<TradingDay[]>;
  listAssets(): Promise<Asset[]>;
  /** Throws `ASSET_NOT_FOUND`. */
  getAsset(symbolOrId: string): Promise<Asset>;
  /** Listens to trade updates; events arrive in order. */
  onTradeUpdate(listener: (update: TradeUpdate) => void): Unsubscribe;
}

/** A bar, as Alpaca's market-data API (`t` RFC-3339, left-labelled). */
export interface Bar {
  t: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
  vw: number;
}

/** A trade print. */
export interface Trade {
  t: string;
  x: string;
  p: number;
  s: number;
  c: string[];
  i: number;
  z: string;
}

/** A quote (NBBO). */
export interface Quote {
  t: string;
  bx: string;
  bp: number;
  bs: number;
  ax: string;
  ap: number;
  as: number;
  c: string[];
  z: string;
}

/** A snapshot (note Alpaca's camelCase keys here). */
export interface Snapshot {
  latestTrade: Trade | null;
  latestQuote: Quote | null;
  minuteBar: Bar | null;
  dailyBar: Bar | null;
  prevDailyBar: Bar | null;
}

/** Bar timeframes Tradewind serves. */
export type Timeframe = "1Min" | "5Min" | "15Min" | "1Hour" | "1Day";

/** A bars query. Times are epoch ms, inclusive. */
export interface BarsQuery {
  timeframe: Timeframe;
  start?: number;
  end?: number;
  /** 1 to 10000; default 1000. */
  limit?: number;
  pageToken?: string;
  sort?: "asc" | "desc";
}

/** A page of bars. */
export interface BarsPage {
  bars: Bar[];
  next_page_token: string | null;
}

/** What a live subscription receives. */
export type MarketEvent =
  | { type: "trade"; symbol: string; trade: Trade }
  | { type: "quote"; symbol: string; quote: Quote }
  | { type: "bar"; symbol: string; bar: Bar };

/** Live subscription channels, by symbol (`*` for all). */
export interface MarketSubscription {
  trades?: string[];
  quotes?: string[];
  bars?: string[];
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
  session(tsMs: number): "pre" | "core" | "post" | "closed";
  /**
   * The users who hold an account at this venue whether or not they have open orders (the
   * Alpaca account's holder): reconciliation visits them every time, so orders placed outside
   * Tradewind are adopted. Optional; the paper venue has none.
   */
  accountHolders?(): Promise<string[]>;
}
