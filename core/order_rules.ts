/**
 * Pure order-entry validation with Alpaca's codes and texts (ALPACA.md §3.3–3.5), plus the
 * cost-basis and buy-stop helpers of §3.3 and §3.8.
 *
 * {@link validateOrder} checks one {@link OrderRequest} against an asset and a market context and
 * returns the first violation as a {@link TradeError} (null when the order may be placed).
 * Buying power, positions, wash trades and PDT belong to the venue and risk layers; they use
 * {@link orderCostBasis}.
 *
 * Checks run in this order, the first failure winning: asset exists; client_order_id length;
 * qty XOR notional; order class; positive qty; position_intent vs side; tradable; prices per
 * type; time in force per type; OPG/CLS windows; IOC/FOK outside the core session; extended
 * hours; bracket/oco/oto structure; short sale; fractional rules; sub-penny increments; base
 * prices of bracket legs.
 *
 * @module
 */

import { Decimal } from "./decimal.ts";
import { TradeError, type TradeErrorCode, tradeErrors } from "./errors.ts";
import type { Session } from "./market.ts";
import {
  isFractionalRequest,
  MAX_CLIENT_ORDER_ID_LENGTH,
  normalizeOrderClass,
  type Order,
  type OrderRequest,
  type OrderType,
  type ReplaceRequest,
  type TimeInForce,
} from "./order.ts";

/** What validation needs to know about the asset. Field names follow Alpaca's Asset. */
export interface AssetInfo {
  symbol: string;
  tradable: boolean;
  fractionable: boolean;
  shortable: boolean;
  easy_to_borrow: boolean;
  marginable: boolean;
  /** Alpaca attribute `fractional_eh_enabled`: fractional orders allowed in extended hours. */
  fractional_eh_enabled?: boolean;
}

/** Market context for {@link validateOrder}. */
export interface RuleContext {
  /** Latest trade price: the market base price for bracket legs and the fractional cost basis. */
  lastPrice: Decimal;
  /** The session now. */
  session: Session;
  /** Minutes since midnight, US Eastern time; enables the OPG/CLS window checks. */
  etMinutesOfDay?: number;
  /**
   * True when this sell opens or grows a short (the venue knows the position). Defaults to
   * `position_intent === "sell_to_open"`.
   */
  shortSale?: boolean;
}

/** OPG orders are refused from 9:28 to 19:00 ET; CLS orders from 15:50 to 19:00 ET. */
export const AUCTION_WINDOWS = {
  opg: { closedFrom: 9 * 60 + 28, reopensAt: 19 * 60 },
  cls: { closedFrom: 15 * 60 + 50, reopensAt: 19 * 60 },
} as const;

const CENT = Decimal.parse("0.01");
const ONE = Decimal.ONE;
const HUNDRED = Decimal.int(100);
const MIN_NOTIONAL = Decimal.ONE;
const SHORT_MARGIN = Decimal.parse("1.03");
const BUY_STOP_LOW = Decimal.parse("1.04");
const BUY_STOP_HIGH = Decimal.parse("1.025");
const FIFTY = Decimal.int(50);

const PRICED_TYPES: Record<OrderType, { limit: boolean; stop: boolean; trail: boolean }> = {
  market: { limit: false, stop: false, trail: false },
  limit: { limit: true, stop: false, trail: false },
  stop: { limit: false, stop: true, trail: false },
  stop_limit: { limit: true, stop: true, trail: false },
  trailing_stop: { limit: false, stop: false, trail: true },
};

/** TIF × type for whole-share US equities (ALPACA.md §3.3); trailing stops day/gtc only. */
export const TIME_IN_FORCE_TYPES: Readonly<Record<TimeInForce, readonly OrderType[]>> = {
  day: ["market", "limit", "stop", "stop_limit", "trailing_stop"],
  gtc: ["market", "limit", "stop", "stop_limit", "trailing_stop"],
  ioc: ["market", "limit"],
  fok: ["market", "limit"],
  opg: ["market", "limit"],
  cls: ["market", "limit"],
};

/** Most decimal places a price may have: 2 at or above $1.00, 4 below. */
export function maxPriceDecimals(price: Decimal): 2 | 4 {
  return price.abs().gte(ONE) ? 2 : 4;
}

/** True when `price` respects the sub-penny rule ({@link maxPriceDecimals}). */
export function isValidPriceIncrement(price: Decimal): boolean {
  return price.decimalPlaces() <= maxPriceDecimals(price);
}

/** Rounds a price to its allowed increment (half-up). Never throws. */
export function roundPrice(price: Decimal): Decimal {
  const r = price.round(2, "half_up");
  return r.abs().gte(ONE) ? r : price.round(4, "half_up");
}

interface Env {
  action: string;
}

function reject(
  env: Env,
  code: TradeErrorCode,
  alpacaText: string,
  options: { reason?: string; details?: Record<string, unknown>; base_price?: Decimal } = {},
): TradeError {
  const details: Record<string, unknown> = { ...options.details };
  if (options.base_price) details.base_price = options.base_price.toString();
  return new TradeError(code, `${env.action}: ${options.reason ?? alpacaText}`, {
    details,
    alpacaMessage: alpacaText,
    alpacaExtra: options.base_price ? { base_price: options.base_price.toString() } : {},
  });
}

type Check = (req: OrderRequest, env: Env) => TradeError | null;

const checkPricesForType: Check = (req, env) => {
  const need = PRICED_TYPES[req.type];
  const cls = normalizeOrderClass(req.order_class);
  const limit = req.limit_price ?? (cls === "oco" ? req.take_profit?.limit_price : undefined);
  const bad = (text: string) => reject(env, "INVALID_ORDER", text);
  if (need.limit && limit === undefined) {
    return bad(`limit_price is required for ${req.type} orders`);
  }
  if (need.stop && req.stop_price === undefined) {
    return bad(`stop_price is required for ${req.type} orders`);
  }
  if (need.trail) {
    if (req.trail_price === undefined && req.trail_percent === undefined) {
      return bad("trail_price or trail_percent is required for trailing_stop orders");
    }
    if (req.trail_price !== undefined && req.trail_percent !== undefined) {
      return bad("trail_price and trail_percent cannot both be specified");
    }
  }
  if (!need.limit && req.limit_price !== undefined) {
    return bad(`limit_price is not allowed for ${req.type} orders`);
  }
  if (!need.stop && req.stop_price !== undefined) {
    return bad(`stop_price is not allowed for ${req.type} orders`);
  }
  if (!need.trail && (req.trail_price !== undefined || req.trail_percent !== undefined)) {
    return bad(`trail_price and trail_percent are only allowed for trailing_stop orders`);
  }
  const prices: Array<[string, Decimal | undefined]> = [
    ["limit_price", req.limit_price],
    ["stop_price", req.stop_price],
    ["trail_price", req.trail_price],
    ["trail_percent", req.trail_percent],
    ["take_profit.limit_price", req.take_profit?.limit_price],
    ["stop_loss.stop_price", req.stop_loss?.stop_price],
    ["stop_loss.limit_price", req.stop_loss?.limit_price],
  ];
  for (const [field, value] of prices) {
    if (value !== undefined && !value.isPositive()) {
      return reject(env, "INVALID_ORDER", `${field} must be > 0`, {
        details: { field, value: value.toString() },
      });
    }
  }
  if (req.trail_percent !== undefined && req.trail_percent.gte(HUNDRED)) {
    return bad("trail_percent must be < 100");
  }
  return null;
};

const checkTimeInForce: Check = (req, env) => {
  if (TIME_IN_FORCE_TYPES[req.time_in_force].includes(req.type)) return null;
  return reject(
    env,
    "INVALID_TIME_IN_FORCE",
    req.type === "trailing_stop"
      ? "trailing_stop orders must be DAY or GTC orders"
      : `time_in_force ${req.time_in_force} is not supported for ${req.type} orders`,
    { details: { time_in_force: req.time_in_force, type: req.type } },
  );
};

const checkExtendedHours: Check = (req, env) => {
  if (!req.extended_hours) return null;
  const cls = normalizeOrderClass(req.order_class);
  if (cls !== "") {
    return reject(
      env,
      "EXTENDED_HOURS_NOT_ALLOWED",
      `extended hours is not supported for ${cls} orders`,
    );
  }
  if (req.type !== "limit" || (req.time_in_force !== "day" && req.time_in_force !== "gtc")) {
    return reject(
      env,
      "EXTENDED_HOURS_NOT_ALLOWED",
      "extended hours order must be DAY or GTC limit orders",
      { details: { type: req.type, time_in_force: req.time_in_force } },
    );
  }
  return null;
};

const checkSubPenny: Check = (req, env) => {
  const prices: Array<[string, Decimal | undefined]> = [
    ["limit_price", req.limit_price],
    ["stop_price", req.stop_price],
    ["take_profit.limit_price", req.take_profit?.limit_price],
    ["stop_loss.stop_price", req.stop_loss?.stop_price],
    ["stop_loss.limit_price", req.stop_loss?.limit_price],
  ];
  for (const [field, value] of prices) {
    if (value === undefined || isValidPriceIncrement(value)) continue;
    const places = maxPriceDecimals(value);
    return reject(
      env,
      "SUB_PENNY_PRICE",
      `invalid ${field} ${value}. sub-penny increment does not fulfill minimum pricing criteria`,
      {
        reason: `${field} "${value}" has more than ${places} decimal places`,
        details: { field, value: value.toString(), max_decimals: places },
      },
    );
  }
  return null;
};

function checkClassStructure(req: OrderRequest, env: Env): TradeError | null {
  const cls = normalizeOrderClass(req.order_class);
  const bad = (text: string) =>
    reject(env, "BRACKET_INVALID", text, { details: { order_class: cls } });
  const tp = req.take_profit;
  const sl = req.stop_loss;
  if (cls === "") {
    if (tp || sl) return bad("take_profit and stop_loss require order_class bracket, oco or oto");
    return null;
  }
  if (cls === "bracket") {
    if (!tp) return bad("bracket orders require take_profit.limit_price");
    if (!sl) return bad("bracket orders require stop_loss.stop_price");
  } else if (cls === "oto") {
    if (!tp === !sl) return bad("oto orders require exactly one of take_profit or stop_loss");
  } else if (cls === "oco") {
    if (!tp) return bad("oco orders require take_profit.limit_price");
    if (!sl) return bad("oco orders require stop_loss.stop_price");
    if (req.type !== "limit") return bad("oco orders must be limit orders");
    if (req.limit_price !== undefined && !req.limit_price.eq(tp.limit_price)) {
      return bad("limit_price must equal take_profit.limit_price for oco orders");
    }
  }
  if (cls !== "oco" && req.type !== "market" && req.type !== "limit") {
    return bad(`${cls} orders must be market or limit orders`);
  }
  if (req.time_in_force !== "day" && req.time_in_force !== "gtc") {
    return bad(`${cls} orders must be DAY or GTC orders`);
  }
  return null;
}

/**
 * Base-price rule (ALPACA.md §3.4): exits that sell need take-profit >= base + 0.01 and stop
 * <= base - 0.01; exits that buy the mirror image. Bases: the entry limit (bracket/oto) or the
 * take-profit limit (oco, for the stop), and always the last trade.
 */
function checkBasePrices(req: OrderRequest, env: Env, lastPrice: Decimal): TradeError | null {
  const cls = normalizeOrderClass(req.order_class);
  if (cls !== "bracket" && cls !== "oto" && cls !== "oco") return null;
  const exitSells = cls === "oco" ? req.side === "sell" : req.side === "buy";
  const tpBases: Decimal[] = [];
  const slBases: Decimal[] = [];
  if (cls === "oco") {
    if (req.take_profit) slBases.push(req.take_profit.limit_price);
  } else if (req.type === "limit" && req.limit_price) {
    tpBases.push(req.limit_price);
    slBases.push(req.limit_price);
  }
  tpBases.push(lastPrice);
  slBases.push(lastPrice);
  const tp = req.take_profit?.limit_price;
  const sl = req.stop_loss?.stop_price;
  for (const base of tpBases) {
    if (tp === undefined) break;
    if (exitSells && tp.lt(base.add(CENT))) {
      return reject(
        env,
        "BRACKET_INVALID",
        "take_profit.limit_price must be >= base_price + 0.01",
        {
          base_price: base,
        },
      );
    }
    if (!exitSells && tp.gt(base.sub(CENT))) {
      return reject(
        env,
        "BRACKET_INVALID",
        "take_profit.limit_price must be <= base_price - 0.01",
        {
          base_price: base,
        },
      );
    }
  }
  for (const base of slBases) {
    if (sl === undefined) break;
    if (exitSells && sl.gt(base.sub(CENT))) {
      return reject(env, "BRACKET_INVALID", "stop_loss.stop_price must be <= base_price - 0.01", {
        base_price: base,
      });
    }
    if (!exitSells && sl.lt(base.add(CENT))) {
      return reject(env, "BRACKET_INVALID", "stop_loss.stop_price must be >= base_price + 0.01", {
        base_price: base,
      });
    }
  }
  return null;
}

function isShortSale(req: OrderRequest, ctx: { shortSale?: boolean }): boolean {
  if (req.side !== "sell") return false;
  return ctx.shortSale ?? req.position_intent === "sell_to_open";
}

function checkFractional(
  req: OrderRequest,
  env: Env,
  asset: AssetInfo,
  ctx: RuleContext,
): TradeError | null {
  if (!isFractionalRequest(req)) return null;
  const bad = (text: string) => reject(env, "FRACTIONAL_NOT_ALLOWED", text);
  if (!asset.fractionable) return withAction(tradeErrors.assetNotFractionable(asset.symbol), env);
  if (normalizeOrderClass(req.order_class) !== "") {
    return bad("fractional orders must be simple orders");
  }
  if (req.time_in_force !== "day") return bad("fractional orders must be DAY orders");
  if (req.type === "trailing_stop") return bad("fractional orders cannot be trailing_stop orders");
  if (isShortSale(req, ctx)) return bad("fractional orders cannot be sold short");
  if (req.extended_hours && !asset.fractional_eh_enabled) {
    return bad("fractional orders are not eligible for extended hours trading");
  }
  if (req.notional !== undefined && req.notional.lt(MIN_NOTIONAL)) {
    return reject(env, "NOTIONAL_TOO_SMALL", "notional must be >= 1.00", {
      reason: `notional "${req.notional}" is below 1.00`,
      details: { notional: req.notional.toString() },
    });
  }
  if (req.qty !== undefined) {
    const price = req.limit_price ?? req.stop_price ?? ctx.lastPrice;
    const cost = req.qty.mul(price);
    if (cost.lt(MIN_NOTIONAL)) {
      return reject(
        env,
        "COST_BASIS_TOO_SMALL",
        "cost basis must be >= minimal amount of order 1",
        {
          reason: `cost basis "${cost}" is below 1.00`,
          details: { cost_basis: cost.toString() },
        },
      );
    }
  }
  return null;
}

function withAction(err: TradeError, env: Env): TradeError {
  return new TradeError(err.code, `${env.action}: ${err.alpacaMessage}`, {
    details: { ...err.details },
    alpacaMessage: err.alpacaMessage,
    alpacaExtra: { ...err.alpacaExtra },
  });
}

/**
 * Checks an order request against the asset (null: unknown symbol) and the market context,
 * returning the first violation, or null when the order may be placed. Each error carries the
 * Tradewind code and message and Alpaca's code and text (ALPACA.md §3.3, §3.4, §4.2).
 * Buying power and positions are not checked here. Never throws.
 *
 * @example
 * ```ts
 * const err = validateOrder(req, asset, { lastPrice: dec("190"), session: "core" });
 * if (err) throw err;
 * ```
 */
export function validateOrder(
  request: OrderRequest,
  asset: AssetInfo | null,
  context: RuleContext,
): TradeError | null {
  const req = request;
  const env: Env = { action: `Cannot place order for "${req.symbol}"` };
  if (asset === null) return tradeErrors.assetNotFound(req.symbol);
  if (
    req.client_order_id !== undefined && req.client_order_id.length > MAX_CLIENT_ORDER_ID_LENGTH
  ) {
    return reject(
      env,
      "INVALID_ORDER",
      `client_order_id must be no more than ${MAX_CLIENT_ORDER_ID_LENGTH} characters`,
      { details: { length: req.client_order_id.length } },
    );
  }
  if (req.qty !== undefined && req.notional !== undefined) {
    return reject(env, "INVALID_REQUEST", "qty and notional cannot both be specified");
  }
  if (req.qty === undefined && req.notional === undefined) {
    return reject(env, "INVALID_REQUEST", "qty or notional is required");
  }
  const cls = normalizeOrderClass(req.order_class);
  if (cls === "mleg") {
    return reject(env, "INVALID_ORDER", "mleg orders are only supported for options");
  }
  if (req.qty !== undefined && !req.qty.isPositive()) {
    return reject(env, "INVALID_ORDER", "qty must be > 0", {
      reason: `qty "${req.qty}" must be > 0`,
      details: { field: "qty", value: req.qty.toString() },
    });
  }
  if (req.position_intent !== undefined && !req.position_intent.startsWith(req.side)) {
    return reject(
      env,
      "INVALID_ORDER",
      `position_intent ${req.position_intent} does not match side ${req.side}`,
    );
  }
  if (!asset.tradable) return withAction(tradeErrors.assetNotTradable(asset.symbol), env);
  const simple = checkPricesForType(req, env) ?? checkTimeInForce(req, env);
  if (simple) return simple;
  const windows = checkWindows(req, env, context);
  if (windows) return windows;
  const structural = checkExtendedHours(req, env) ?? checkClassStructure(req, env);
  if (structural) return structural;
  if (isShortSale(req, context) && !(asset.shortable && asset.easy_to_borrow)) {
    return withAction(tradeErrors.assetNotShortable(asset.symbol), env);
  }
  return checkFractional(req, env, asset, context) ?? checkSubPenny(req, env) ??
    checkBasePrices(req, env, context.lastPrice);
}

function checkWindows(req: OrderRequest, env: Env, ctx: RuleContext): TradeError | null {
  const tif = req.time_in_force;
  if ((tif === "ioc" || tif === "fok") && ctx.session !== "core") {
    return reject(
      env,
      "MARKET_CLOSED",
      `${tif} orders are only accepted during the core session`,
      { details: { session: ctx.session } },
    );
  }
  const m = ctx.etMinutesOfDay;
  if (m === undefined || (tif !== "opg" && tif !== "cls")) return null;
  const w = AUCTION_WINDOWS[tif];
  if (m >= w.closedFrom && m < w.reopensAt) {
    const from = tif === "opg" ? "9:28am" : "3:50pm";
    return reject(
      env,
      "INVALID_TIME_IN_FORCE",
      `${tif} orders cannot be submitted between ${from} and 7:00pm ET`,
      { details: { time_in_force: tif, et_minutes_of_day: m } },
    );
  }
  return null;
}

/**
 * Like {@link validateOrder} but throws.
 * Throws the first {@link TradeError} found.
 */
export function assertValidOrder(
  request: OrderRequest,
  asset: AssetInfo | null,
  context: RuleContext,
): void {
  const err = validateOrder(request, asset, context);
  if (err) throw err;
}

/** The request an existing order corresponds to (for re-validating a replace). */
function requestOf(order: Order): OrderRequest {
  const r: OrderRequest = {
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    time_in_force: order.time_in_force,
    order_class: order.parent_id === null ? order.order_class : "",
    extended_hours: order.extended_hours,
  };
  if (order.qty !== null) r.qty = order.qty;
  if (order.notional !== null) r.notional = order.notional;
  if (order.limit_price !== null) r.limit_price = order.limit_price;
  if (order.stop_price !== null && order.type !== "trailing_stop") r.stop_price = order.stop_price;
  if (order.trail_price !== null) r.trail_price = order.trail_price;
  if (order.trail_percent !== null) r.trail_percent = order.trail_percent;
  return r;
}

const REPLACEABLE = new Set(["new", "partially_filled", "held"]);
const NOT_SENT = new Set(["accepted", "pending_new", "pending_review", "accepted_for_bidding"]);

/**
 * Checks a replace (PATCH) of `order` (ALPACA.md §3.5), returning the first violation or null.
 * `ORDER_NOT_REPLACEABLE` (Alpaca 422/40010001 `unable to replace order, …`) for the order's
 * state: not yet routed, not open, notional, OTO parent, qty not above filled_qty, a fractional
 * qty change; otherwise the field errors of {@link validateOrder} for the merged order.
 * Never throws.
 */
export function validateReplace(order: Order, request: ReplaceRequest): TradeError | null {
  const notReplaceable = (reason: string, details: Record<string, unknown> = {}) =>
    tradeErrors.orderNotReplaceable(order.id, reason, { status: order.status, ...details });
  if (NOT_SENT.has(order.status)) return notReplaceable("order isn't sent to exchange yet");
  if (order.status === "pending_cancel" || order.status === "pending_replace") {
    return notReplaceable(`order is in "${order.status}" state`);
  }
  if (!REPLACEABLE.has(order.status)) return notReplaceable("order is not open");
  if (order.notional !== null) return notReplaceable("notional orders cannot be replaced");
  if (order.order_class === "oto" && order.parent_id === null) {
    return notReplaceable("oto orders cannot be replaced");
  }
  const env: Env = { action: `Cannot replace order "${order.id}"` };
  if (request.qty !== undefined) {
    if (!request.qty.isInteger() || (order.qty !== null && !order.qty.isInteger())) {
      if (order.qty === null || !request.qty.eq(order.qty)) {
        return notReplaceable("fractional qty cannot be changed");
      }
    }
    if (!request.qty.gt(order.filled_qty)) {
      return notReplaceable("qty must be > filled_qty", {
        qty: request.qty.toString(),
        filled_qty: order.filled_qty.toString(),
      });
    }
  }
  if (
    request.client_order_id !== undefined &&
    request.client_order_id.length > MAX_CLIENT_ORDER_ID_LENGTH
  ) {
    return reject(
      env,
      "INVALID_ORDER",
      `client_order_id must be no more than ${MAX_CLIENT_ORDER_ID_LENGTH} characters`,
    );
  }
  if (request.trail !== undefined && order.type !== "trailing_stop") {
    return reject(env, "INVALID_ORDER", "trail is only allowed for trailing_stop orders");
  }
  const merged = requestOf(order);
  if (request.qty !== undefined) merged.qty = request.qty;
  if (request.time_in_force !== undefined) merged.time_in_force = request.time_in_force;
  if (request.limit_price !== undefined) merged.limit_price = request.limit_price;
  if (request.stop_price !== undefined) merged.stop_price = request.stop_price;
  if (request.trail !== undefined) {
    if (order.trail_percent !== null) merged.trail_percent = request.trail;
    else merged.trail_price = request.trail;
  }
  const isLeg = order.parent_id !== null;
  const tifForClass = order.order_class !== "" && order.order_class !== "simple" &&
      merged.time_in_force !== "day" && merged.time_in_force !== "gtc"
    ? reject(env, "BRACKET_INVALID", `${order.order_class} orders must be DAY or GTC orders`)
    : null;
  return checkPricesForType(merged, env) ?? checkTimeInForce(merged, env) ?? tifForClass ??
    (isLeg ? null : checkExtendedHours({ ...merged, order_class: "" }, env)) ??
    (isFractionalRequest(merged) && merged.time_in_force !== "day"
      ? reject(env, "FRACTIONAL_NOT_ALLOWED", "fractional orders must be DAY orders")
      : null) ??
    checkSubPenny(merged, env);
}

/** Options for {@link orderCostBasis}. */
export interface CostBasisOptions {
  /** The sell opens or grows a short; defaults to `position_intent === "sell_to_open"`. */
  shortSale?: boolean;
}

/**
 * The buying power an opening order reserves (ALPACA.md §3.8). `refPrice` is the reference
 * price: for buys the price a market order is expected to pay (the caller picks far side, mid
 * or last per session); for short sales the ask.
 * - buy: notional, or qty × limit (limit, stop_limit), × {@link buyStopLimitPrice} (stop),
 *   × refPrice (market), × refPrice plus the trail (trailing_stop);
 * - short sale: qty × max(limit, ask × 1.03), or qty × ask × 1.03 without a limit;
 * - sell of a long position: zero (sells never add buying power before they fill).
 * Exact to nine places, not rounded to cents. Never throws.
 */
export function orderCostBasis(
  request: OrderRequest,
  refPrice: Decimal,
  options: CostBasisOptions = {},
): Decimal {
  if (request.side === "sell") {
    if (!isShortSale(request, options)) return Decimal.ZERO;
    const floor = refPrice.mul(SHORT_MARGIN);
    const limit = request.type === "limit" || request.type === "stop_limit"
      ? request.limit_price ?? request.take_profit?.limit_price
      : undefined;
    const price = limit === undefined ? floor : Decimal.max(limit, floor);
    return (request.qty ?? Decimal.ZERO).mul(price);
  }
  if (request.notional !== undefined) return request.notional;
  const qty = request.qty ?? Decimal.ZERO;
  switch (request.type) {
    case "limit":
    case "stop_limit":
      return qty.mul(request.limit_price ?? request.take_profit?.limit_price ?? refPrice);
    case "stop":
      return qty.mul(request.stop_price ? buyStopLimitPrice(request.stop_price) : refPrice);
    case "trailing_stop": {
      const worst = request.trail_price !== undefined
        ? refPrice.add(request.trail_price)
        : refPrice.mul(ONE.add((request.trail_percent ?? Decimal.ZERO).div(HUNDRED)));
      return qty.mul(worst);
    }
    case "market":
      return qty.mul(refPrice);
  }
}

/**
 * The limit Alpaca gives a buy stop when converting it to a stop-limit (ALPACA.md §3.3):
 * stop × 1.04 below $50, × 1.025 at or above, rounded half-up to the price increment.
 * Never throws.
 */
export function buyStopLimitPrice(stopPrice: Decimal): Decimal {
  return roundPrice(stopPrice.mul(stopPrice.lt(FIFTY) ? BUY_STOP_LOW : BUY_STOP_HIGH));
}

/**
 * A buy `stop` request converted to the `stop_limit` Alpaca actually works
 * ({@link buyStopLimitPrice}); any other request is returned unchanged. Never throws.
 */
export function convertBuyStop(request: OrderRequest): OrderRequest {
  if (request.side !== "buy" || request.type !== "stop" || request.stop_price === undefined) {
    return request;
  }
  return { ...request, type: "stop_limit", limit_price: buyStopLimitPrice(request.stop_price) };
}
