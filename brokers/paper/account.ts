/**
 * Paper accounts: cash, signed positions with weighted-average cost, buying-power reservations,
 * and Alpaca's account and position objects computed from marks (ALPACA.md §5.1, §5.2).
 *
 * A {@link PaperAccount} is plain mutable state owned by the paper exchange
 * (`brokers/paper/exchange.ts`), which is its only writer. Money is exact, by the rules of
 * `core/money.ts` that the ledger follows too: a fill moves cash by its amount (`qty × price`,
 * half-even to nine places) and position cost by the same amount (or, when closing, by the
 * proportional cost), and the difference is the fill's realized P&L, so
 * `cash + Σ cost_basis − Σ realized_pl` never changes.
 *
 * Buying power (§5.1, §3.8): the effective multiplier is the configured one when equity is at
 * least $2,000, else 1.
 * - multiplier 1: `cash − reservations`;
 * - multiplier 2: `max(equity − initial_margin, 0) × 2 − reservations` (Reg-T);
 * - multiplier 4 (legacy): the larger of Reg-T and `4 × (last_equity − last_maintenance_margin)`,
 *   minus reservations.
 * Initial margin is 50% of the absolute market value of marginable positions and 100% of the
 * others. Shorting needs an effective multiplier above 1 and `shortingEnabled`.
 *
 * @module
 */

import { Decimal } from "../../core/decimal.ts";
import { FLAT, moveBook } from "../../core/money.ts";
import type { OrderSide } from "../../core/order.ts";
import { hashString } from "../../core/random.ts";
import type { Account, Position } from "../../core/account.ts";

/** Account multipliers: 1 (cash), 2 (Reg-T margin), 4 (legacy pattern day trader). */
export type Multiplier = "1" | "2" | "4";

/** Options of a new paper account. */
export interface PaperAccountOptions {
  /** Starting cash; default `"100000"`. */
  cash?: Decimal | string;
  /** Default `"2"`. */
  multiplier?: Multiplier;
  /** Whether the account may sell short at all (also needs margin and $2,000 equity); default true. */
  shortingEnabled?: boolean;
}

/** Where an account reads prices: the exchange's latest trade and previous close per symbol. */
export interface MarkSource {
  /** The latest trade (or, lacking one, the quote midpoint), or null when none was seen. */
  currentPrice(symbol: string): Decimal | null;
  /** The last trade before the previous session close the exchange saw, or null. */
  lastdayPrice(symbol: string): Decimal | null;
}

/** What the account remembers of an asset for its positions. */
export interface PositionAsset {
  id: string;
  symbol: string;
  exchange: string;
  marginable: boolean;
}

/** A position's mutable state. `qty` is signed; `cost` is signed too (negative for shorts). */
export interface PositionState {
  readonly asset: PositionAsset;
  qty: Decimal;
  /** Average entry price (positive), from exact products (`core/money.ts`). */
  avg: Decimal;
  /** Signed cost basis: the amounts of the opening fills less the cost closes removed. */
  cost: Decimal;
  /** True when the position was open at the last day roll (intraday P&L uses lastday_price). */
  carried: boolean;
}

/**
 * Everything the exchange tracks per account and symbol: the position (if any), the quantity
 * held by open orders on each side, the open market/stop orders (for the wash-trade check) and
 * the day of the last opening fill (for the legacy PDT rule).
 */
export interface SymbolSlot {
  readonly symbol: string;
  position: PositionState | null;
  /** Remaining qty of open (not `held`) buy orders. */
  heldBuy: Decimal;
  /** Remaining qty of open (not `held`) sell orders. */
  heldSell: Decimal;
  /** Open, not `held`, market/stop/stop_limit/trailing_stop buy orders, oldest first. */
  readonly washBuy: Set<string>;
  /** The same for sells. */
  readonly washSell: Set<string>;
  /** Day index of the last fill that opened or grew the position; -1 for none. */
  openedDay: number;
}

/** The outcome of one fill for the account. */
export interface FillOutcome {
  /** Realized P&L of the closing part (zero for a purely opening fill). */
  realizedPl: Decimal;
  /** Signed position after the fill. */
  positionQty: Decimal;
  /** Quantity that closed existing exposure. */
  closedQty: Decimal;
  /** Quantity that opened or grew exposure. */
  openedQty: Decimal;
  /** The fill's cash amount (`core/money.ts`): what cash moved by. */
  amount: Decimal;
}

/** Aggregates of an account at current marks. */
export interface Valuation {
  longMarketValue: Decimal;
  shortMarketValue: Decimal;
  equity: Decimal;
  initialMargin: Decimal;
  maintenanceMargin: Decimal;
}

/** Buying-power figures (see the module notes). */
export interface BuyingPower {
  /** 1 when equity is under $2,000, else the configured multiplier. */
  multiplier: Multiplier;
  /** What new opening orders may still use: reservations already subtracted, never negative. */
  buyingPower: Decimal;
  regtBuyingPower: Decimal;
  /** `max(cash − reservations, 0)`. */
  nonMarginableBuyingPower: Decimal;
  /** Whether short sales are allowed now. */
  shortingEnabled: boolean;
}

/** What {@link PaperAccount.restore} puts into an account. */
export interface RestoredBalances {
  cash: Decimal;
  /** Alpaca's `last_equity`; null for the equity at restore. */
  lastEquity: Decimal | null;
  /**
   * Signed qty, average entry price and signed cost (negative for shorts); `carried`: held
   * over the last close.
   */
  positions: readonly {
    asset: PositionAsset;
    qty: Decimal;
    avg: Decimal;
    cost: Decimal;
    carried: boolean;
  }[];
}

/** Minimum equity for margin and shorting. */
export const MARGIN_MIN_EQUITY: Decimal = Decimal.int(2000);
/** Legacy PDT: accounts under this equity are limited to three day trades in five days. */
export const PDT_MIN_EQUITY: Decimal = Decimal.int(25000);
/** Legacy PDT: day trades are counted over this many business days, today included. */
export const PDT_WINDOW_DAYS = 5;

const HALF = Decimal.parse("0.5");
const THIRTY_PCT = Decimal.parse("0.3");
const TWO = Decimal.int(2);
const FOUR = Decimal.int(4);
const TWO_FIFTY = Decimal.parse("2.5");
const FIVE = Decimal.int(5);

/**
 * One paper account. The exchange mutates it; readers use {@link PaperAccount.snapshot} and
 * {@link PaperAccount.positionSnapshot}.
 */
export class PaperAccount {
  /** The account id the exchange was given. */
  readonly id: string;
  /** `PA` and ten digits derived from the id (stable across runs). */
  readonly accountNumber: string;
  /** Creation time, epoch ms. */
  readonly createdAt: number;
  /** The configured multiplier (the effective one drops to 1 under $2,000 equity). */
  readonly multiplier: Multiplier;
  /** Whether short sales are allowed at all. */
  readonly shortingEnabled: boolean;
  /** Cash; negative when on margin, above equity when short. */
  cash: Decimal;
  /** Buying power reserved by open opening orders. */
  reserved: Decimal = Decimal.ZERO;
  /** Equity at the previous day roll (starting cash before the first). */
  lastEquity: Decimal;
  lastMaintenanceMargin: Decimal = Decimal.ZERO;
  /** `YYYY-MM-DD` of the last roll (or of creation). */
  balanceAsof: string;
  /** Sum of every fill's realized P&L. */
  realizedPl: Decimal = Decimal.ZERO;
  /** Day index of each day trade (legacy PDT). */
  readonly dayTrades: number[] = [];
  /** Per-symbol state, in first-use order. */
  readonly slots: Map<string, SymbolSlot> = new Map();
  readonly #openingCash: Decimal;
  #restored = false;

  /** Opens an account with its starting cash. Throws `DecimalError` on unreadable cash. */
  constructor(id: string, options: PaperAccountOptions, tsMs: number) {
    this.id = id;
    this.accountNumber = `PA${String(hashString(id) >>> 0).padStart(10, "0")}`;
    this.createdAt = tsMs;
    this.multiplier = options.multiplier ?? "2";
    this.shortingEnabled = options.shortingEnabled ?? true;
    this.cash = Decimal.parse(options.cash ?? "100000");
    this.lastEquity = this.cash;
    this.balanceAsof = isoDate(tsMs);
    this.#openingCash = this.cash;
  }

  /**
   * True while nothing has happened to the account: no fill moved its cash, it holds no
   * position, and it was never restored. Never throws.
   */
  get pristine(): boolean {
    if (this.#restored || !this.cash.eq(this.#openingCash) || !this.realizedPl.isZero()) {
      return false;
    }
    for (const slot of this.slots.values()) if (slot.position !== null) return false;
    return true;
  }

  /**
   * Puts a saved state into a {@link PaperAccount.pristine} account (the exchange's restore
   * after a restart): cash, positions with their signed cost, and `last_equity` (by default the
   * equity at `marks` with the restored positions). A position without `carried` counts as
   * opened on day `today` (legacy PDT) and its intraday figures start from its average entry
   * price. Reservations of open orders are the exchange's. The running realized P&L restarts at
   * zero. Throws `RangeError` when the account is not pristine or a position is flat.
   */
  restore(state: RestoredBalances, marks: MarkSource, today: number): void {
    if (!this.pristine) {
      throw new RangeError(`Cannot restore paper account "${this.id}": it already has activity`);
    }
    for (const p of state.positions) {
      if (p.qty.isZero()) {
        throw new RangeError(
          `Cannot restore paper account "${this.id}": position "${p.asset.symbol}" has qty "0"`,
        );
      }
    }
    this.#restored = true;
    this.cash = state.cash;
    for (const p of state.positions) {
      const slot = this.slot(p.asset.symbol);
      slot.position = {
        asset: p.asset,
        qty: p.qty,
        avg: p.avg,
        cost: p.cost,
        carried: p.carried,
      };
      slot.openedDay = p.carried ? -1 : today;
    }
    this.lastEquity = state.lastEquity ?? this.valuation(marks).equity;
  }

  /** The per-symbol state, created on first use. */
  slot(symbol: string): SymbolSlot {
    let s = this.slots.get(symbol);
    if (s === undefined) {
      s = {
        symbol,
        position: null,
        heldBuy: Decimal.ZERO,
        heldSell: Decimal.ZERO,
        washBuy: new Set(),
        washSell: new Set(),
        openedDay: -1,
      };
      this.slots.set(symbol, s);
    }
    return s;
  }

  /** Signed position qty of a symbol (zero when flat). */
  positionQty(symbol: string): Decimal {
    return this.slots.get(symbol)?.position?.qty ?? Decimal.ZERO;
  }

  /**
   * Books one fill by the rules of `core/money.ts`: cash moves by the fill's amount (`qty ×
   * price`, half-even to nine places), the position by `qty` (signed by side) with its average
   * entry from exact products, and the closing part realizes P&L against the proportional
   * cost. A fill that crosses zero closes the old position and opens the rest at `price`. Never
   * throws.
   */
  applyFill(
    slot: SymbolSlot,
    asset: PositionAsset,
    side: OrderSide,
    qty: Decimal,
    price: Decimal,
  ): FillOutcome {
    const pos = slot.position;
    const move = moveBook(pos ?? FLAT, side, qty, price);
    this.cash = side === "buy" ? this.cash.sub(move.amount) : this.cash.add(move.amount);
    const after = move.book;
    if (after.qty.isZero()) {
      slot.position = null;
    } else if (pos === null || move.flipped) {
      slot.position = { asset, qty: after.qty, avg: after.avg, cost: after.cost, carried: false };
    } else {
      pos.qty = after.qty;
      pos.avg = after.avg;
      pos.cost = after.cost;
    }
    this.realizedPl = this.realizedPl.add(move.realizedPl);
    return {
      realizedPl: move.realizedPl,
      positionQty: after.qty,
      closedQty: move.closedQty,
      openedQty: move.openedQty,
      amount: move.amount,
    };
  }

  /** Market values, equity and margin at the given marks. Never throws. */
  valuation(marks: MarkSource): Valuation {
    let longMv = 0n;
    let shortMv = 0n;
    let im = Decimal.ZERO;
    let mm = Decimal.ZERO;
    for (const slot of this.slots.values()) {
      const p = slot.position;
      if (p === null) continue;
      const price = markOf(p, marks);
      const mv = p.qty.mul(price);
      const absMv = mv.abs();
      if (mv.isNegative()) shortMv += mv.units;
      else longMv += mv.units;
      im = im.add(p.asset.marginable ? absMv.mul(HALF) : absMv);
      mm = mm.add(maintenance(p, price, absMv));
    }
    const long = Decimal.fromUnits(longMv);
    const short = Decimal.fromUnits(shortMv);
    return {
      longMarketValue: long,
      shortMarketValue: short,
      equity: this.cash.add(long).add(short),
      initialMargin: im,
      maintenanceMargin: mm,
    };
  }

  /** Buying power from a {@link Valuation} (see the module notes). Never throws. */
  buyingPower(v: Valuation): BuyingPower {
    const margin = this.multiplier !== "1" && v.equity.gte(MARGIN_MIN_EQUITY);
    const multiplier: Multiplier = margin ? this.multiplier : "1";
    const regt = margin
      ? Decimal.max(v.equity.sub(v.initialMargin), Decimal.ZERO).mul(TWO)
      : Decimal.max(this.cash, Decimal.ZERO);
    let gross = margin ? regt : this.cash;
    if (multiplier === "4") {
      const dt = Decimal.max(this.lastEquity.sub(this.lastMaintenanceMargin), Decimal.ZERO)
        .mul(FOUR);
      gross = Decimal.max(gross, dt);
    }
    return {
      multiplier,
      buyingPower: Decimal.max(gross.sub(this.reserved), Decimal.ZERO),
      regtBuyingPower: regt,
      nonMarginableBuyingPower: Decimal.max(this.cash.sub(this.reserved), Decimal.ZERO),
      shortingEnabled: margin && this.shortingEnabled,
    };
  }

  /** Day trades within the legacy PDT window ending on day `today`. */
  dayTradeCount(today: number): number {
    let n = 0;
    for (const d of this.dayTrades) if (d > today - PDT_WINDOW_DAYS && d <= today) n++;
    return n;
  }

  /**
   * Alpaca's account object at the given marks. `legacyPdt` adds `daytrade_count` and
   * `pattern_day_trader` (4+ day trades in the window). Never throws.
   */
  snapshot(marks: MarkSource, options: { legacyPdt?: boolean; today?: number } = {}): Account {
    const v = this.valuation(marks);
    const bp = this.buyingPower(v);
    const out: Account = {
      id: this.id,
      account_number: this.accountNumber,
      status: "ACTIVE",
      currency: "USD",
      cash: this.cash,
      portfolio_value: v.equity,
      equity: v.equity,
      last_equity: this.lastEquity,
      long_market_value: v.longMarketValue,
      short_market_value: v.shortMarketValue,
      buying_power: bp.buyingPower,
      regt_buying_power: bp.regtBuyingPower,
      non_marginable_buying_power: bp.nonMarginableBuyingPower,
      initial_margin: v.initialMargin,
      maintenance_margin: v.maintenanceMargin,
      last_maintenance_margin: this.lastMaintenanceMargin,
      sma: Decimal.ZERO,
      multiplier: bp.multiplier,
      shorting_enabled: bp.shortingEnabled,
      trading_blocked: false,
      transfers_blocked: false,
      account_blocked: false,
      trade_suspended_by_user: false,
      created_at: this.createdAt,
      balance_asof: this.balanceAsof,
      accrued_fees: Decimal.ZERO,
      pending_transfer_in: Decimal.ZERO,
      pending_transfer_out: Decimal.ZERO,
    };
    if (options.legacyPdt) {
      const n = this.dayTradeCount(options.today ?? 0);
      out.daytrade_count = n;
      out.pattern_day_trader = n >= 4;
    }
    return out;
  }

  /**
   * Alpaca's position object for a slot with an open position (null when flat).
   * `qty_available` is the qty not held by open closing orders (signed like `qty`). Never throws.
   */
  positionSnapshot(slot: SymbolSlot, marks: MarkSource): Position | null {
    const p = slot.position;
    if (p === null) return null;
    const long = p.qty.isPositive();
    const absQty = p.qty.abs();
    const avg = p.avg;
    const current = markOf(p, marks);
    const lastday = marks.lastdayPrice(p.asset.symbol) ?? avg;
    const marketValue = p.qty.mul(current);
    const unrealized = marketValue.sub(p.cost);
    const base = p.carried ? lastday : avg;
    const intraday = p.qty.mul(current.sub(base));
    const intradayBase = absQty.mul(base);
    const heldAgainst = long ? slot.heldSell : slot.heldBuy;
    const free = Decimal.max(absQty.sub(heldAgainst), Decimal.ZERO);
    return {
      asset_id: p.asset.id,
      symbol: p.asset.symbol,
      exchange: p.asset.exchange,
      asset_class: "us_equity",
      asset_marginable: p.asset.marginable,
      qty: p.qty,
      qty_available: long ? free : free.neg(),
      side: long ? "long" : "short",
      avg_entry_price: avg,
      market_value: marketValue,
      cost_basis: p.cost,
      unrealized_pl: unrealized,
      unrealized_plpc: p.cost.isZero() ? Decimal.ZERO : unrealized.div(p.cost.abs()),
      unrealized_intraday_pl: intraday,
      unrealized_intraday_plpc: intradayBase.isZero() ? Decimal.ZERO : intraday.div(intradayBase),
      current_price: current,
      lastday_price: lastday,
      change_today: lastday.isZero() ? Decimal.ZERO : current.div(lastday).sub(Decimal.ONE),
    };
  }

  /**
   * The day roll at a session close: remembers equity and maintenance margin as `last_*`, dates
   * them, and marks every open position as carried overnight. Never throws.
   */
  roll(marks: MarkSource, tsMs: number): void {
    const v = this.valuation(marks);
    this.lastEquity = v.equity;
    this.lastMaintenanceMargin = v.maintenanceMargin;
    this.balanceAsof = isoDate(tsMs);
    for (const slot of this.slots.values()) {
      if (slot.position !== null) slot.position.carried = true;
    }
  }
}

function markOf(p: PositionState, marks: MarkSource): Decimal {
  return marks.currentPrice(p.asset.symbol) ?? p.avg;
}

/** Maintenance requirement of one position (ALPACA.md §5.1). */
function maintenance(p: PositionState, price: Decimal, absMv: Decimal): Decimal {
  if (p.qty.isPositive()) {
    if (!p.asset.marginable || price.lt(TWO_FIFTY)) return absMv;
    return absMv.mul(THIRTY_PCT);
  }
  const absQty = p.qty.abs();
  if (price.lt(FIVE)) return Decimal.max(absQty.mul(TWO_FIFTY), absMv);
  return Decimal.max(absQty.mul(FIVE), absMv.mul(THIRTY_PCT));
}

function isoDate(tsMs: number): string {
  return Number.isFinite(tsMs) ? new Date(tsMs).toISOString().slice(0, 10) : "1970-01-01";
}
