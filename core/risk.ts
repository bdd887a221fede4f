/**
 * Pre-trade risk: limits, their merge and schema, the trading state, {@link evaluateRisk} (the
 * risk step of "Life of an order", after validation) and {@link validationAdvice} (warnings and
 * recommendations for `POST /orders/validate`).
 *
 * Pure and deterministic: the caller gathers the figures (account, positions, open orders,
 * today's trades, the rate decision of `core/rate_limiter.ts`) into a {@link RiskContext}.
 *
 * Exposure. An order's signed qty is +qty for a buy and -qty for a sell; a notional order's qty
 * is estimated as notional / (limit price, else reference price), rounded away from zero. An
 * order *reduces exposure* ({@link reducesExposure}) when it shrinks |position| without flipping
 * it both against the filled position alone and against the position plus all pending open
 * orders for the symbol; that is conservative whichever pending orders fill. Reducing orders
 * are never denied by the order-qty, position, allocation, open-positions, sector,
 * daily-trades or daily-loss rules, so a trader can always get out (a reducing order is no
 * larger than the position it closes, so the qty cap protects nothing there); the
 * order-notional rule and the price collar (fat-finger guards), the rate limit and a halt
 * still apply to them.
 *
 * Denials come most severe first: `TRADING_HALTED` and `TRADING_REDUCING` (403), then
 * `RATE_LIMITED` (429), then the 422 rules in the order of {@link RISK_RULES}. Each carries
 * `details` with `rule`, `limit`, `actual` and the inputs used, as decimal strings.
 *
 * @module
 */

import { z } from "zod";
import type { Asset, Session } from "./market.ts";
import type { Account } from "./account.ts";
import { Decimal, DecimalError, SCALE } from "./decimal.ts";
import { fieldIssues, TradeError, type TradeErrorCode } from "./errors.ts";
import { decimalTextIssue } from "./input.ts";
import { normalizeOrderClass, type OrderRequest } from "./order.ts";
import { orderCostBasis } from "./order_rules.ts";
import type { RateDecision } from "./rate_limiter.ts";

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * Risk limits; a missing or null field means no limit. Money and percentages (0–100) are
 * decimals; counts are integers. Field names are the wire names of `PUT /risk/limits`.
 */
export interface RiskLimits {
  /** Largest notional of one order (notional, or qty × limit, stop or reference price). */
  max_order_notional?: Decimal | null;
  /**
   * Largest qty of one order (a notional order's estimated qty), for orders that do not reduce
   * exposure. Engine default 1000 (MAX_ORDER_QTY).
   */
  max_order_qty?: Decimal | null;
  /** Largest |position value| per symbol after the order, at the reference price. */
  max_position_value?: Decimal | null;
  /** Largest position value per symbol as a percentage of equity. */
  max_allocation_pct?: Decimal | null;
  /** Most symbols with a position or a pending open order. */
  max_open_positions?: number | null;
  /** Most orders that received a fill today (see {@link RiskContext.tradesToday}). */
  max_daily_trades?: number | null;
  /** Loss today (last_equity - equity) at which exposure-increasing orders stop. */
  daily_loss_limit?: Decimal | null;
  /**
   * Loss today as a percentage of start-of-day equity (`last_equity`) at which
   * exposure-increasing orders stop. Engine default 5 (DAILY_LOSS_PCT).
   */
  daily_loss_pct?: Decimal | null;
  /** Largest gross market value of one sector as a percentage of equity. */
  max_sector_pct?: Decimal | null;
  /** Most orders per user per minute (applied by the rate limiter). */
  max_orders_per_minute?: number | null;
  /**
   * The price collar, in percent: a limit price (of a limit or stop-limit order, or a
   * stop-loss leg) more than this far through the market is refused (a buy limit above the
   * last trade, a sell limit below it); a limit or stop price this far away on the passive
   * side is only a `PRICE_FAR_FROM_MARKET` warning. Engine default 10 (PRICE_BAND_PCT).
   */
  price_band_pct?: Decimal | null;
}

/** Limits with every field present: a value, or null for no limit. */
export type ResolvedRiskLimits = { [K in keyof RiskLimits]-?: Exclude<RiskLimits[K], undefined> };

const DECIMAL_LIMITS = [
  "max_order_notional",
  "max_order_qty",
  "max_position_value",
  "max_allocation_pct",
  "daily_loss_limit",
  "daily_loss_pct",
  "max_sector_pct",
  "price_band_pct",
] as const;
const COUNT_LIMITS = ["max_open_positions", "max_daily_trades", "max_orders_per_minute"] as const;

/** Every limit field name. */
export const RISK_LIMIT_FIELDS = [
  "max_order_notional",
  "max_order_qty",
  "max_position_value",
  "max_allocation_pct",
  "max_open_positions",
  "max_daily_trades",
  "daily_loss_limit",
  "daily_loss_pct",
  "max_sector_pct",
  "max_orders_per_minute",
  "price_band_pct",
] as const satisfies readonly (keyof RiskLimits)[];

/**
 * The strictest of several layers (config defaults, user overrides, bot overrides): for each
 * field the minimum of the values present; null when no layer sets it. A layer can tighten a
 * limit but never loosen one set by another layer. Never throws.
 *
 * @example
 * ```ts
 * mergeLimits(defaults, { max_order_notional: dec("5000") }, botLimits);
 * ```
 */
export function mergeLimits(
  ...layers: ReadonlyArray<RiskLimits | null | undefined>
): ResolvedRiskLimits {
  const out: ResolvedRiskLimits = {
    max_order_notional: null,
    max_order_qty: null,
    max_position_value: null,
    max_allocation_pct: null,
    max_open_positions: null,
    max_daily_trades: null,
    daily_loss_limit: null,
    daily_loss_pct: null,
    max_sector_pct: null,
    max_orders_per_minute: null,
    price_band_pct: null,
  };
  for (const layer of layers) {
    if (!layer) continue;
    for (const k of DECIMAL_LIMITS) {
      const v = layer[k];
      if (v === null || v === undefined) continue;
      const cur = out[k];
      out[k] = cur === null ? v : Decimal.min(cur, v);
    }
    for (const k of COUNT_LIMITS) {
      const v = layer[k];
      if (v === null || v === undefined) continue;
      const cur = out[k];
      out[k] = cur === null ? v : Math.min(cur, v);
    }
  }
  return out;
}

/** The `risk` part of the configuration (config.ts). */
export interface RiskConfig {
  /** MAX_POSITION_SIZE: dollars per symbol. */
  maxPositionSize: string;
  /** MAX_DAILY_TRADES. */
  maxDailyTrades: number;
  /** MAX_OPEN_POSITIONS. */
  maxOpenPositions: number;
  /** MAX_ORDERS_PER_MINUTE. */
  maxOrdersPerMinute: number;
  /** MAX_ORDER_QTY: shares per order; null (`off`) for no default. */
  maxOrderQty?: string | null;
  /** DAILY_LOSS_PCT: percent of start-of-day equity; null (`off`) for no default. */
  dailyLossPct?: string | null;
  /** PRICE_BAND_PCT: the price collar in percent; null (`off`) for no default. */
  priceBandPct?: string | null;
}

/**
 * The protective defaults a fresh install ships with (the figures of the plans): at most 1000
 * shares per order, a daily loss limit of 5% of start-of-day equity, and a 10% price collar.
 * An admin may set a user's value above or below them ({@link ADMIN_OVERRIDABLE_LIMITS} in
 * `core/risk_authority.ts`); traders and bots only tighten.
 */
export const PROTECTIVE_DEFAULTS = {
  max_order_qty: "1000",
  daily_loss_pct: "5",
  price_band_pct: "10",
} as const;

/**
 * The setting (environment variable) behind each engine default, for `GET /risk/limits`; a
 * limit without a default has none.
 */
export const RISK_DEFAULT_SETTINGS: Readonly<Partial<Record<keyof RiskLimits, string>>> = {
  max_order_qty: "MAX_ORDER_QTY",
  max_position_value: "MAX_POSITION_SIZE",
  max_open_positions: "MAX_OPEN_POSITIONS",
  max_daily_trades: "MAX_DAILY_TRADES",
  daily_loss_pct: "DAILY_LOSS_PCT",
  max_orders_per_minute: "MAX_ORDERS_PER_MINUTE",
  price_band_pct: "PRICE_BAND_PCT",
};

/**
 * The config defaults as a limits layer: MAX_POSITION_SIZE → max_position_value,
 * MAX_DAILY_TRADES, MAX_OPEN_POSITIONS, MAX_ORDERS_PER_MINUTE, and the protective
 * MAX_ORDER_QTY, DAILY_LOSS_PCT and PRICE_BAND_PCT (absent: {@link PROTECTIVE_DEFAULTS}; null:
 * none). Throws {@link DecimalError} when a value is not a decimal (config.ts has already
 * checked them).
 */
export function riskLimitsFromConfig(risk: RiskConfig): RiskLimits {
  const protective = (v: string | null | undefined, fallback: string) =>
    v === null ? null : Decimal.parse(v ?? fallback);
  return {
    max_position_value: Decimal.parse(risk.maxPositionSize),
    max_daily_trades: risk.maxDailyTrades,
    max_open_positions: risk.maxOpenPositions,
    max_orders_per_minute: risk.maxOrdersPerMinute,
    max_order_qty: protective(risk.maxOrderQty, PROTECTIVE_DEFAULTS.max_order_qty),
    daily_loss_pct: protective(risk.dailyLossPct, PROTECTIVE_DEFAULTS.daily_loss_pct),
    price_band_pct: protective(risk.priceBandPct, PROTECTIVE_DEFAULTS.price_band_pct),
  };
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return `"${value}"`;
  return value === null ? '"null"' : `a ${Array.isArray(value) ? "list" : typeof value}`;
}

const HUNDRED = Decimal.int(100);
const MAX_COUNT = 1_000_000_000;

function decimalLimit(max?: Decimal) {
  return z.unknown().transform((value, ctx): Decimal | null => {
    if (value === null) return null;
    if (typeof value !== "string" && typeof value !== "number") {
      ctx.addIssue({
        code: "custom",
        message: `Expected a decimal or null, got ${describe(value)}`,
      });
      return z.NEVER;
    }
    const tooLong = decimalTextIssue(value);
    if (tooLong) {
      ctx.addIssue({ code: "custom", message: tooLong });
      return z.NEVER;
    }
    let d: Decimal;
    try {
      d = Decimal.parse(value);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: e instanceof DecimalError ? e.message : String(e) });
      return z.NEVER;
    }
    if (d.isNegative()) {
      ctx.addIssue({ code: "custom", message: `Expected a value >= 0, got "${d}"` });
      return z.NEVER;
    }
    if (max && d.gt(max)) {
      ctx.addIssue({ code: "custom", message: `Expected a value <= ${max}, got "${d}"` });
      return z.NEVER;
    }
    return d;
  }).optional();
}

function countLimit(min: number) {
  return z.unknown().transform((value, ctx): number | null => {
    if (value === null) return null;
    const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min || n > MAX_COUNT) {
      ctx.addIssue({
        code: "custom",
        message: `Expected an integer from ${min} to ${MAX_COUNT} or null, got ${describe(value)}`,
      });
      return z.NEVER;
    }
    return n;
  }).optional();
}

/**
 * Zod schema for the `PUT /risk/limits` body: snake_case limit fields, each a decimal string or
 * number (counts: integers), never negative, percentages at most 100, `max_orders_per_minute`
 * at least 1 (use the halted state to stop trading). `null` clears a limit; an absent key is
 * left out of the result (keep the stored value); unknown keys are rejected. Apply a parsed
 * body with `{ ...stored, ...body }`.
 */
export const riskLimitsSchema: z.ZodType<RiskLimits, unknown> = z.strictObject({
  max_order_notional: decimalLimit(),
  max_order_qty: decimalLimit(),
  max_position_value: decimalLimit(),
  max_allocation_pct: decimalLimit(HUNDRED),
  max_open_positions: countLimit(0),
  max_daily_trades: countLimit(0),
  daily_loss_limit: decimalLimit(),
  daily_loss_pct: decimalLimit(HUNDRED),
  max_sector_pct: decimalLimit(HUNDRED),
  max_orders_per_minute: countLimit(1),
  price_band_pct: decimalLimit(HUNDRED),
}, { error: (iss) => iss.code === "unrecognized_keys" ? undefined : "Expected an object" });

/**
 * Reads a `PUT /risk/limits` body with {@link riskLimitsSchema}. Throws {@link TradeError}
 * `INVALID_REQUEST` (400) naming each bad field, e.g.
 * `Cannot read risk limits: max_allocation_pct: Expected a value <= 100, got "150"`.
 */
export function parseRiskLimits(input: unknown): RiskLimits {
  const result = riskLimitsSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = fieldIssues(result.error, "(body)");
  const text = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  throw new TradeError("INVALID_REQUEST", `Cannot read risk limits: ${text}`, {
    details: { issues },
    alpacaMessage: `request body format is invalid: ${text}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Context

/**
 * `active` trades normally; `reducing` accepts only orders that reduce exposure; `halted`
 * (the kill switch) accepts no order. Cancels never reach risk, so they are always possible.
 */
export type TradingState = "active" | "halted" | "reducing";

/** Every trading state. */
export const TRADING_STATES = [
  "active",
  "halted",
  "reducing",
] as const satisfies readonly TradingState[];

/** What risk needs of one position. */
export interface RiskPosition {
  /** Signed: negative is short. */
  qty: Decimal;
  /** Signed market value (Alpaca's `market_value`); its magnitude is the exposure. */
  market_value: Decimal;
  /** Sector of the asset; positions without one count toward no sector. */
  sector?: string;
}

/** Everything {@link evaluateRisk} looks at. */
export interface RiskContext {
  /** The order, already through validation. */
  request: OrderRequest;
  /** The asset; `sector` drives the concentration rule (empty: no sector check). */
  asset: Pick<Asset, "symbol" | "sector">;
  /** Reference price: the last trade. Must be positive. */
  refPrice: Decimal;
  /** `last_equity` is the day's starting equity (yesterday's close). */
  account: Pick<Account, "equity" | "last_equity" | "buying_power">;
  /** Current positions by symbol. */
  positions: Readonly<Record<string, RiskPosition>>;
  /** Signed qty not yet filled of open orders, by symbol (buys +, sells -). */
  pendingQty?: Readonly<Record<string, Decimal>>;
  /**
   * Trades today: orders (parents and legs alike) that received at least one fill since the
   * start of the trading day, each counted once however many partial fills it had.
   */
  tradesToday: number;
  /** Realized P&L today; reported in the daily-loss details. */
  realizedPlToday?: Decimal;
  /** Unrealized P&L of open positions; reported in the daily-loss details. */
  unrealizedPl?: Decimal;
  /** The trading state of the user (or bot) placing the order. */
  state: TradingState;
  /** The effective limits, usually {@link mergeLimits} of config, user and bot. */
  limits: RiskLimits;
  /**
   * The rate limiter's answer for this order (`tryAcquire` keyed by user with
   * `max_orders_per_minute`); absent when no rate limit applies.
   */
  rate?: RateDecision;
}

/** A warning or recommendation: a stable code and a sentence. */
export interface RiskNotice {
  code: string;
  message: string;
  /** Figures behind the notice, as decimal strings. */
  details?: Record<string, string>;
}

/** The exposure figures {@link evaluateRisk} computes. All decimals exact to nine places. */
export interface ExposureFigures {
  /** Signed order qty (estimated for notional orders). */
  orderQty: Decimal;
  /** Signed filled position. */
  positionQty: Decimal;
  /** Signed pending qty of open orders. */
  pendingQty: Decimal;
  /** positionQty + pendingQty + orderQty. */
  qtyAfter: Decimal;
  /** The order's notional (notional, or qty × limit, stop or reference price). */
  notional: Decimal;
  /** |qtyAfter| × refPrice. */
  positionValueAfter: Decimal;
  /** See {@link reducesExposure}. */
  reducesExposure: boolean;
}

/** What {@link evaluateRisk} answers. */
export interface RiskResult {
  /** Every rule that denies the order, most severe first; empty when the order may go. */
  denials: TradeError[];
  /** `RISK_NEAR_LIMIT` notices for figures at 80% or more of a limit they do not exceed. */
  warnings: RiskNotice[];
  /** The figures used, for the audit row. */
  exposure: ExposureFigures;
}

/** The 422 rules in the order their denials are listed. */
export const RISK_RULES = [
  "max_order_notional",
  "max_order_qty",
  "price_band_pct",
  "max_position_value",
  "max_allocation_pct",
  "max_open_positions",
  "max_sector_pct",
  "max_daily_trades",
  "daily_loss_limit",
] as const;

// ---------------------------------------------------------------------------------------------
// Exposure math

function shrinks(base: Decimal, orderQty: Decimal): boolean {
  return !base.isZero() && orderQty.sign() === -base.sign() && orderQty.abs().lte(base.abs());
}

/**
 * True when a signed `orderQty` shrinks |position| without flipping it, both against
 * `positionQty` and against `positionQty + pendingQty` (pending open orders, conservatively:
 * whether or not they fill). Closing to exactly zero counts as reducing. Never throws.
 */
export function reducesExposure(
  positionQty: Decimal,
  pendingQty: Decimal,
  orderQty: Decimal,
): boolean {
  return shrinks(positionQty, orderQty) && shrinks(positionQty.add(pendingQty), orderQty);
}

/**
 * The order's figures: signed qty, notional, position after, and whether it reduces exposure.
 * Throws `RangeError` when `refPrice` is not positive.
 */
export function exposureOf(
  ctx: Pick<RiskContext, "request" | "refPrice" | "positions" | "pendingQty">,
): ExposureFigures {
  const { request: req, refPrice } = ctx;
  if (!refPrice.isPositive()) {
    throw new RangeError(`Cannot assess order risk: reference price "${refPrice}" is not positive`);
  }
  let qty: Decimal;
  let notional: Decimal;
  if (req.notional !== undefined) {
    notional = req.notional;
    qty = req.notional.div(req.limit_price ?? refPrice, "up");
  } else {
    qty = req.qty ?? Decimal.ZERO;
    notional = qty.mul(req.limit_price ?? req.stop_price ?? refPrice);
  }
  const orderQty = req.side === "buy" ? qty : qty.neg();
  const positionQty = ctx.positions[req.symbol]?.qty ?? Decimal.ZERO;
  const pendingQty = ctx.pendingQty?.[req.symbol] ?? Decimal.ZERO;
  const qtyAfter = positionQty.add(pendingQty).add(orderQty);
  return {
    orderQty,
    positionQty,
    pendingQty,
    qtyAfter,
    notional,
    positionValueAfter: qtyAfter.abs().mul(refPrice),
    reducesExposure: reducesExposure(positionQty, pendingQty, orderQty),
  };
}

/** part / whole × 100 > pct, exactly (whole > 0). */
function exceedsPct(part: Decimal, whole: Decimal, pct: Decimal): boolean {
  return part.units * 100n * 10n ** BigInt(SCALE) > pct.units * whole.units;
}

function pctOf(part: Decimal, whole: Decimal): Decimal {
  return part.mul(HUNDRED).div(whole);
}

/** For messages: at most two decimals. */
function pctText(pct: Decimal): string {
  return pct.round(2, "half_up").toString();
}

/** actual >= 80% of limit (and limit > 0). */
function isNear(actual: Decimal, limit: Decimal): boolean {
  return limit.isPositive() && actual.mul(Decimal.int(10)).gte(limit.mul(Decimal.int(8)));
}

// ---------------------------------------------------------------------------------------------
// Prices against the market: the price collar and the far-from-market warning

/** Where one price of an order stands against the market. */
export interface PricePlacement {
  /** `limit_price`, `stop_price` or `stop_loss.limit_price`. */
  field: string;
  price: Decimal;
  /** The side of the order (or leg) the price belongs to. */
  side: "buy" | "sell";
  /**
   * What the price is measured against: the last trade; for the limit of a stop-limit (or of
   * a stop-limit stop-loss leg), the stop price when it lies beyond the last trade in the
   * direction that elects it, since the limit goes live only once the market trades there.
   */
  reference: Decimal;
  /** |price - reference| / reference × 100. */
  pct: Decimal;
  /**
   * True on the side that trades at once: a buy limit above its reference, a sell limit below
   * it (marketable); a buy stop at or below the last trade, a sell stop at or above it (it
   * elects at once). False on the passive side, where the order rests.
   */
  through: boolean;
  /** True for a limit price: the collar applies to it. Stop prices are only warned about. */
  limit: boolean;
}

/**
 * The limit and stop prices of an order, each placed against the market (see
 * {@link PricePlacement}): the order's own `limit_price` and `stop_price`, and the limit price of
 * a stop-limit stop-loss leg (on the exit side). Throws `RangeError` when `refPrice` is not
 * positive.
 */
export function pricePlacements(req: OrderRequest, refPrice: Decimal): PricePlacement[] {
  if (!refPrice.isPositive()) {
    throw new RangeError(`Cannot place prices: reference price "${refPrice}" is not positive`);
  }
  const out: PricePlacement[] = [];
  const place = (
    field: string,
    price: Decimal,
    side: "buy" | "sell",
    limit: boolean,
    stop?: Decimal,
  ) => {
    // A buy stop elects when the market trades at or above it; a sell stop at or below.
    const reference = stop === undefined
      ? refPrice
      : side === "buy"
      ? Decimal.max(refPrice, stop)
      : Decimal.min(refPrice, stop);
    const diff = price.sub(reference);
    const through = limit
      ? (side === "buy" ? diff.isPositive() : diff.isNegative())
      : (side === "buy" ? !diff.isPositive() : !diff.isNegative());
    out.push({ field, price, side, reference, pct: pctOf(diff.abs(), reference), through, limit });
  };
  const stopLimit = req.type === "stop_limit" ? req.stop_price : undefined;
  if (req.limit_price !== undefined) {
    place("limit_price", req.limit_price, req.side, true, stopLimit);
  }
  if (req.stop_price !== undefined) place("stop_price", req.stop_price, req.side, false);
  const sl = req.stop_loss;
  if (sl?.limit_price !== undefined) {
    const cls = normalizeOrderClass(req.order_class);
    const exit = cls === "oco" ? req.side : req.side === "buy" ? "sell" : "buy";
    place("stop_loss.limit_price", sl.limit_price, exit, true, sl.stop_price);
  }
  return out;
}

/** True when the collar `pct` refuses `p`: a limit price more than `pct` through the market. */
export function collarRefuses(p: PricePlacement, pct: Decimal): boolean {
  return p.limit && p.through && exceedsPct(p.price.sub(p.reference).abs(), p.reference, pct);
}

/** The furthest a limit on `p`'s side may go through its reference under a collar of `pct`. */
function collarBound(p: PricePlacement, pct: Decimal): Decimal {
  const factor = p.side === "buy" ? HUNDRED.add(pct) : HUNDRED.sub(pct);
  return Decimal.max(Decimal.ZERO, p.reference.mul(factor).div(HUNDRED));
}

// ---------------------------------------------------------------------------------------------
// Evaluation

interface Env {
  action: string;
  base: Record<string, string>;
  denials: TradeError[];
  warnings: RiskNotice[];
}

function deny(
  env: Env,
  code: TradeErrorCode,
  reason: string,
  details: Record<string, string | null>,
): void {
  env.denials.push(
    new TradeError(code, `${env.action}: ${reason}`, { details: { ...details, ...env.base } }),
  );
}

function warnNear(env: Env, rule: string, what: string, actual: string, limit: string): void {
  env.warnings.push({
    code: "RISK_NEAR_LIMIT",
    message: `${what} ${actual} is at 80% or more of limit ${limit} (${rule})`,
    details: { rule, limit, actual },
  });
}

function orderLabel(req: OrderRequest): string {
  return req.client_order_id !== undefined
    ? `Cannot submit order "${req.client_order_id}"`
    : `Cannot submit order for "${req.symbol}"`;
}

/**
 * Runs every pre-trade risk rule on one order and answers all the denials that apply (most
 * severe first) and near-limit warnings. The order may go only when `denials` is empty.
 *
 * Rules: trading state (halted: 403 TRADING_HALTED for any order; reducing: 403
 * TRADING_REDUCING unless the order reduces exposure); rate (429 RATE_LIMITED with
 * `details.retry_after_seconds`); max order notional; max order qty (exposure-increasing
 * orders only); the price collar (`price_band_pct`: a limit price more than that far through
 * the market, see {@link pricePlacements}; exactly at the collar passes; market and stop orders
 * pass); then, for orders that do not reduce exposure only: position value after, allocation
 * after (% of equity), open positions (symbols with a position or a pending order, +1 for a
 * new symbol), sector gross value after (% of equity), trades today (denied once `tradesToday`
 * reaches the limit), daily loss (denied once last_equity - equity is positive and at or
 * beyond the tighter of `daily_loss_limit` and `daily_loss_pct` of last_equity).
 * Figures strictly above a limit deny; equal passes.
 *
 * Throws `RangeError` when `refPrice` is not positive.
 *
 * @example
 * ```ts
 * const { denials } = evaluateRisk(ctx);
 * if (denials.length) await audit.denied(denials); // then throw denials[0]
 * ```
 */
export function evaluateRisk(ctx: RiskContext): RiskResult {
  const req = ctx.request;
  const f = exposureOf(ctx);
  const L = ctx.limits;
  const env: Env = {
    action: orderLabel(req),
    base: {
      symbol: req.symbol,
      side: req.side,
      order_qty: f.orderQty.toString(),
      ref_price: ctx.refPrice.toString(),
      ...(req.client_order_id !== undefined ? { client_order_id: req.client_order_id } : {}),
    },
    denials: [],
    warnings: [],
  };
  const reducing = f.reducesExposure;
  const equity = ctx.account.equity;

  // 403: trading state.
  if (ctx.state === "halted") {
    deny(env, "TRADING_HALTED", "trading is halted", { rule: "trading_state", state: "halted" });
  } else if (ctx.state === "reducing" && !reducing) {
    deny(
      env,
      "TRADING_REDUCING",
      `trading is reduce-only and the order would open, grow or flip the position ` +
        `(${f.positionQty} + pending ${f.pendingQty} + order ${f.orderQty})`,
      {
        rule: "trading_state",
        state: "reducing",
        position_qty: f.positionQty.toString(),
        pending_qty: f.pendingQty.toString(),
        qty_after: f.qtyAfter.toString(),
      },
    );
  }

  // 429: rate.
  if (ctx.rate && !ctx.rate.allowed) {
    const seconds = Math.max(1, Math.ceil(ctx.rate.retryAfterMs / 1000));
    deny(
      env,
      "RATE_LIMITED",
      `${ctx.rate.count} orders in the last minute reach limit ${ctx.rate.limit}; ` +
        `retry in ${seconds} s`,
      {
        rule: "max_orders_per_minute",
        limit: String(ctx.rate.limit),
        actual: String(ctx.rate.count),
        retry_after_seconds: String(seconds),
        retry_after_ms: String(ctx.rate.retryAfterMs),
      },
    );
  }

  // 422: per-order guards, for every order.
  const maxNotional = L.max_order_notional;
  if (maxNotional != null) {
    const inputs = {
      rule: "max_order_notional",
      limit: maxNotional.toString(),
      actual: f.notional.toString(),
      notional: req.notional?.toString() ?? null,
      qty: req.qty?.toString() ?? null,
      price: req.notional !== undefined
        ? null
        : (req.limit_price ?? req.stop_price ?? ctx.refPrice).toString(),
    };
    if (f.notional.gt(maxNotional)) {
      deny(
        env,
        "RISK_MAX_ORDER_NOTIONAL",
        `notional ${f.notional} exceeds limit ${maxNotional}`,
        inputs,
      );
    } else if (isNear(f.notional, maxNotional)) {
      warnNear(env, "max_order_notional", "Notional", inputs.actual, inputs.limit);
    }
  }

  const maxQty = L.max_order_qty;
  if (maxQty != null && !reducing) {
    const qty = f.orderQty.abs();
    const inputs = {
      rule: "max_order_qty",
      limit: maxQty.toString(),
      actual: qty.toString(),
      notional: req.notional?.toString() ?? null,
    };
    if (qty.gt(maxQty)) {
      const what = req.notional !== undefined
        ? `qty ${qty} (notional ${req.notional} at ${req.limit_price ?? ctx.refPrice})`
        : `qty ${qty}`;
      deny(
        env,
        "RISK_MAX_ORDER_QTY",
        `${what} exceeds limit ${maxQty} shares per order; split the order or ask an admin ` +
          `to raise max_order_qty`,
        inputs,
      );
    } else if (isNear(qty, maxQty)) {
      warnNear(env, "max_order_qty", "Order qty", inputs.actual, inputs.limit);
    }
  }

  const band = L.price_band_pct;
  if (band != null) {
    for (const p of pricePlacements(req, ctx.refPrice)) {
      if (!collarRefuses(p, band)) continue;
      const bound = collarBound(p, band);
      const where = p.reference.eq(ctx.refPrice)
        ? `the last trade ${p.reference}`
        : `the stop price ${p.reference} (where the limit goes live)`;
      deny(
        env,
        "RISK_PRICE_BAND",
        `${p.field} ${p.price} is ${pctText(p.pct)}% ${p.side === "buy" ? "above" : "below"} ` +
          `${where}, beyond the price collar of ${band}%: a ${p.side} limit may be at ` +
          `${p.side === "buy" ? "most" : "least"} ${bound}`,
        {
          rule: "price_band_pct",
          limit: band.toString(),
          actual: p.pct.toString(),
          field: p.field,
          price: p.price.toString(),
          reference_price: p.reference.toString(),
          [p.side === "buy" ? "max_price" : "min_price"]: bound.toString(),
        },
      );
      break;
    }
  }

  if (!reducing) {
    checkExposureRules(ctx, f, env, equity);
  }
  return { denials: env.denials, warnings: env.warnings, exposure: f };
}

function checkExposureRules(
  ctx: RiskContext,
  f: ExposureFigures,
  env: Env,
  equity: Decimal,
): void {
  const L = ctx.limits;
  const symbol = ctx.request.symbol;
  const qtyInputs = {
    position_qty: f.positionQty.toString(),
    pending_qty: f.pendingQty.toString(),
    qty_after: f.qtyAfter.toString(),
  };

  const maxValue = L.max_position_value;
  if (maxValue != null) {
    const actual = f.positionValueAfter;
    if (actual.gt(maxValue)) {
      deny(
        env,
        "RISK_MAX_POSITION",
        `position value ${actual} in "${symbol}" after the order exceeds limit ${maxValue}`,
        {
          rule: "max_position_value",
          limit: maxValue.toString(),
          actual: actual.toString(),
          ...qtyInputs,
        },
      );
    } else if (isNear(actual, maxValue)) {
      warnNear(env, "max_position_value", "Position value", actual.toString(), maxValue.toString());
    }
  }

  const maxAlloc = L.max_allocation_pct;
  if (maxAlloc != null) {
    const inputs = {
      rule: "max_allocation_pct",
      limit: maxAlloc.toString(),
      position_value_after: f.positionValueAfter.toString(),
      equity: equity.toString(),
      ...qtyInputs,
    };
    if (!equity.isPositive()) {
      deny(
        env,
        "RISK_MAX_ALLOCATION",
        `equity ${equity} is not positive, so no allocation fits limit ${maxAlloc}%`,
        { ...inputs, actual: null },
      );
    } else {
      const pct = pctOf(f.positionValueAfter, equity);
      if (exceedsPct(f.positionValueAfter, equity, maxAlloc)) {
        deny(
          env,
          "RISK_MAX_ALLOCATION",
          `allocation ${pctText(pct)}% of equity in "${symbol}" after the order exceeds ` +
            `limit ${maxAlloc}%`,
          { ...inputs, actual: pct.toString() },
        );
      } else if (isNear(pct, maxAlloc)) {
        warnNear(env, "max_allocation_pct", "Allocation %", pct.toString(), maxAlloc.toString());
      }
    }
  }

  const maxOpen = L.max_open_positions;
  if (maxOpen != null) {
    const open = new Set<string>();
    for (const [s, p] of Object.entries(ctx.positions)) if (!p.qty.isZero()) open.add(s);
    const positionsOpen = open.size;
    for (const [s, q] of Object.entries(ctx.pendingQty ?? {})) if (!q.isZero()) open.add(s);
    const isNew = !open.has(symbol) && !f.qtyAfter.isZero();
    const after = open.size + (isNew ? 1 : 0);
    if (isNew && after > maxOpen) {
      deny(
        env,
        "RISK_MAX_OPEN_POSITIONS",
        `${after} open positions with "${symbol}" would exceed limit ${maxOpen}`,
        {
          rule: "max_open_positions",
          limit: String(maxOpen),
          actual: String(after),
          open_positions: String(positionsOpen),
          symbols_with_pending_orders: String(open.size - positionsOpen),
        },
      );
    } else if (isNew && isNear(Decimal.int(after), Decimal.int(maxOpen))) {
      warnNear(env, "max_open_positions", "Open positions", String(after), String(maxOpen));
    }
  }

  const maxSector = L.max_sector_pct;
  const sector = ctx.asset.sector;
  if (maxSector != null && sector) {
    let others = Decimal.ZERO;
    for (const [s, p] of Object.entries(ctx.positions)) {
      if (s !== symbol && p.sector === sector) others = others.add(p.market_value.abs());
    }
    const after = others.add(f.positionValueAfter);
    const inputs = {
      rule: "max_sector_pct",
      limit: maxSector.toString(),
      sector,
      sector_value_after: after.toString(),
      other_positions_value: others.toString(),
      position_value_after: f.positionValueAfter.toString(),
      equity: equity.toString(),
    };
    if (!equity.isPositive()) {
      deny(
        env,
        "RISK_SECTOR_CONCENTRATION",
        `equity ${equity} is not positive, so sector "${sector}" cannot fit limit ${maxSector}%`,
        { ...inputs, actual: null },
      );
    } else {
      const pct = pctOf(after, equity);
      if (exceedsPct(after, equity, maxSector)) {
        deny(
          env,
          "RISK_SECTOR_CONCENTRATION",
          `sector "${sector}" at ${pctText(pct)}% of equity after the order exceeds ` +
            `limit ${maxSector}%`,
          { ...inputs, actual: pct.toString() },
        );
      } else if (isNear(pct, maxSector)) {
        warnNear(
          env,
          "max_sector_pct",
          `Sector "${sector}" %`,
          pct.toString(),
          maxSector.toString(),
        );
      }
    }
  }

  const maxTrades = L.max_daily_trades;
  if (maxTrades != null) {
    if (ctx.tradesToday >= maxTrades) {
      deny(
        env,
        "RISK_MAX_DAILY_TRADES",
        `${ctx.tradesToday} trades today reach limit ${maxTrades}`,
        {
          rule: "max_daily_trades",
          limit: String(maxTrades),
          actual: String(ctx.tradesToday),
        },
      );
    } else if (isNear(Decimal.int(ctx.tradesToday + 1), Decimal.int(maxTrades))) {
      warnNear(
        env,
        "max_daily_trades",
        "Trades today with this order",
        String(ctx.tradesToday + 1),
        String(maxTrades),
      );
    }
  }

  // The daily loss: the tighter of the dollar limit and the share of start-of-day equity.
  const lastEquity = ctx.account.last_equity;
  const lossRules: Array<{ rule: string; amount: Decimal; pct?: Decimal }> = [];
  if (L.daily_loss_limit != null) {
    lossRules.push({ rule: "daily_loss_limit", amount: L.daily_loss_limit });
  }
  if (L.daily_loss_pct != null) {
    const amount = Decimal.max(Decimal.ZERO, lastEquity).mul(L.daily_loss_pct).div(HUNDRED);
    lossRules.push({ rule: "daily_loss_pct", amount, pct: L.daily_loss_pct });
  }
  const lossRule = lossRules.reduce<typeof lossRules[number] | null>(
    (a, b) => a === null || b.amount.lt(a.amount) ? b : a,
    null,
  );
  if (lossRule !== null) {
    const lossLimit = lossRule.amount;
    const dayPl = equity.sub(lastEquity);
    const loss = dayPl.neg();
    const limitText = lossRule.pct === undefined
      ? `${lossLimit}`
      : `${lossLimit} (${lossRule.pct}% of start-of-day equity ${lastEquity})`;
    if (loss.isPositive() && loss.gte(lossLimit)) {
      const inputs: Record<string, string> = {
        rule: lossRule.rule,
        limit: lossLimit.toString(),
        actual: loss.toString(),
        equity: equity.toString(),
        last_equity: lastEquity.toString(),
      };
      if (lossRule.pct !== undefined) inputs.limit_pct = lossRule.pct.toString();
      if (ctx.realizedPlToday) inputs.realized_pl_today = ctx.realizedPlToday.toString();
      if (ctx.unrealizedPl) inputs.unrealized_pl = ctx.unrealizedPl.toString();
      deny(
        env,
        "RISK_DAILY_LOSS",
        `loss today ${loss} reaches limit ${limitText}; only orders that reduce exposure are allowed`,
        inputs,
      );
    } else if (loss.isPositive() && isNear(loss, lossLimit)) {
      warnNear(env, lossRule.rule, "Loss today", loss.toString(), lossLimit.toString());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Advice for POST /orders/validate

/** Thresholds of {@link validationAdvice}, in percent. */
export const ADVICE_THRESHOLDS = {
  /** HIGH_BUYING_POWER_USE above this share of buying power. */
  buyingPowerPct: Decimal.int(80),
  /**
   * PRICE_FAR_FROM_MARKET above this distance from the market when no price collar applies;
   * with one, the collar's percentage.
   */
  priceDistancePct: Decimal.int(10),
  /** USE_LIMIT_ORDER for a market order when the spread is wider than this share of the mid. */
  wideSpreadPct: Decimal.parse("0.5"),
} as const;

/** What {@link validationAdvice} looks at. */
export interface AdviceContext
  extends Pick<RiskContext, "request" | "refPrice" | "positions" | "pendingQty"> {
  /** `buying_power` is compared with the order's cost basis. */
  account: Pick<Account, "buying_power">;
  /** The session now. */
  session: Session;
  /** The current quote, when known, for the spread check. */
  quote?: { bid: Decimal; ask: Decimal };
  /**
   * The effective price collar (`price_band_pct`): the PRICE_FAR_FROM_MARKET threshold, and a
   * limit it refuses is an error, not a warning. Absent or null: no collar, threshold 10%.
   */
  priceBandPct?: Decimal | null;
}

/** Warnings and recommendations for `POST /orders/validate`. */
export interface ValidationAdvice {
  warnings: RiskNotice[];
  recommendations: RiskNotice[];
}

/**
 * Advice for `POST /orders/validate` (never a denial):
 * - warning `MARKET_CLOSED_WILL_QUEUE`: the session is not core and the order is not an
 *   extended-hours limit DAY/GTC order in the pre or post session;
 * - warning `HIGH_BUYING_POWER_USE`: cost basis (`orderCostBasis`) above 80% of buying power;
 * - warning `PRICE_FAR_FROM_MARKET`: the order's limit or stop price more than the collar
 *   (`priceBandPct`, else 10%) from the market (see {@link pricePlacements}): on the passive
 *   side, a stop price that elects at once, or any side when no collar applies (a limit the
 *   collar refuses is a `RISK_PRICE_BAND` error instead);
 * - recommendation `USE_BRACKET`: an order that does not reduce exposure and has no exits;
 * - recommendation `ADD_STOP_LOSS`: such an order with a take-profit but no stop-loss;
 * - recommendation `USE_LIMIT_ORDER`: a market order outside the core session, or when the
 *   quote's spread is wider than 0.5% of the mid.
 *
 * Throws `RangeError` when `refPrice` is not positive.
 */
export function validationAdvice(ctx: AdviceContext): ValidationAdvice {
  const req = ctx.request;
  const f = exposureOf(ctx);
  const warnings: RiskNotice[] = [];
  const recommendations: RiskNotice[] = [];

  const ehEligible = req.extended_hours === true && req.type === "limit" &&
    (req.time_in_force === "day" || req.time_in_force === "gtc") &&
    (ctx.session === "pre" || ctx.session === "post");
  if (ctx.session !== "core" && !ehEligible) {
    warnings.push({
      code: "MARKET_CLOSED_WILL_QUEUE",
      message: `The market is not in its core session (session "${ctx.session}"); ` +
        `the order will queue until it can trade`,
      details: { session: ctx.session },
    });
  }

  const shortSale = req.side === "sell" &&
    f.positionQty.add(f.pendingQty).add(f.orderQty).isNegative();
  const cost = orderCostBasis(req, ctx.refPrice, { shortSale });
  const bp = ctx.account.buying_power;
  if (
    cost.isPositive() &&
    (!bp.isPositive() || exceedsPct(cost, bp, ADVICE_THRESHOLDS.buyingPowerPct))
  ) {
    const pct = bp.isPositive() ? pctOf(cost, bp).toString() : null;
    warnings.push({
      code: "HIGH_BUYING_POWER_USE",
      message: `The order's cost basis ${cost} uses ${
        pct === null ? "more than all" : `${pctText(Decimal.parse(pct))}%`
      } of buying power ${bp}`,
      details: {
        cost_basis: cost.toString(),
        buying_power: bp.toString(),
        ...(pct === null ? {} : { pct }),
      },
    });
  }

  const collar = ctx.priceBandPct ?? null;
  const farPct = collar ?? ADVICE_THRESHOLDS.priceDistancePct;
  for (const p of pricePlacements(req, ctx.refPrice)) {
    if (p.field.startsWith("stop_loss.")) continue;
    if (!exceedsPct(p.price.sub(p.reference).abs(), p.reference, farPct)) continue;
    if (collar !== null && collarRefuses(p, collar)) continue;
    const where = p.reference.eq(ctx.refPrice)
      ? `the last trade ${p.reference}`
      : `the stop price ${p.reference}`;
    warnings.push({
      code: "PRICE_FAR_FROM_MARKET",
      message: `${p.field} ${p.price} is ${pctText(p.pct)}% from ${where} (${
        p.through
          ? p.limit ? "marketable: it trades at once" : "it elects at once"
          : "passive: it rests until the market moves there"
      })`,
      details: {
        field: p.field,
        price: p.price.toString(),
        ref_price: p.reference.toString(),
        pct: p.pct.toString(),
        threshold_pct: farPct.toString(),
        placement: p.through ? "through" : "passive",
      },
    });
  }

  if (!f.reducesExposure) {
    const cls = normalizeOrderClass(req.order_class);
    const hasExits = cls === "bracket" || cls === "oto" || cls === "oco";
    if (!hasExits) {
      recommendations.push({
        code: "USE_BRACKET",
        message: "Use a bracket order (take_profit and stop_loss) to set exits with the entry",
      });
    } else if (req.stop_loss === undefined) {
      recommendations.push({
        code: "ADD_STOP_LOSS",
        message: "Add a stop_loss to cap the loss on this position",
      });
    }
  }

  if (req.type === "market") {
    let reason: string | null = null;
    if (ctx.session !== "core") {
      reason = `outside the core session (session "${ctx.session}")`;
    } else if (ctx.quote && ctx.quote.ask.gt(ctx.quote.bid) && ctx.quote.bid.isPositive()) {
      const spread = ctx.quote.ask.sub(ctx.quote.bid);
      const mid = ctx.quote.ask.add(ctx.quote.bid).div(Decimal.int(2));
      if (exceedsPct(spread, mid, ADVICE_THRESHOLDS.wideSpreadPct)) {
        reason = `with a wide spread (${pctText(pctOf(spread, mid))}% of the mid)`;
      }
    }
    if (reason !== null) {
      recommendations.push({
        code: "USE_LIMIT_ORDER",
        message: `Use a limit order: a market order ${reason} may fill far from the last trade`,
      });
    }
  }
  return { warnings, recommendations };
}
