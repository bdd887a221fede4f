/**
 * The account's value types as a venue reports them, with Alpaca's field names (see shared
 * ALPACA.md): the {@link Account}, its {@link Position}s, the {@link TradeUpdate}s of its
 * orders, the filters of an order listing, and the per-item answers of the bulk cancel and
 * close. Money and quantities are exact {@link Decimal}s. Plain data, no I/O.
 *
 * @module
 */
import type { Decimal } from "./decimal.ts";
import type { Order, OrderSide, TradeUpdateEvent } from "./order_types.ts";

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
