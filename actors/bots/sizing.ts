/**
 * Sizing: turns a strategy intent into an order request, or a reason not to trade. Pure.
 *
 * Entries are market, day orders sized by the bot's {@link SizingConfig}:
 * - `fixed_qty`: `qty` shares;
 * - `notional`: `amount` dollars; `percent_equity`: `percent`% of equity;
 * - `risk`: `percent`% of equity at risk between the entry and the stop, so
 *   `qty = equity·percent/100 ÷ |price − stop|`, capped at what equity buys (no leverage).
 *
 * Quantities are whole shares (rounded down), unless the method allows `fractional`; a fractional
 * dollar entry becomes a `notional` order, but only for a simple long entry (Alpaca accepts no
 * fractional brackets or short sales), otherwise whole shares. A size that rounds to zero is a
 * reason not to trade.
 *
 * With a `stop_loss` and/or `take_profit` (a percentage of the price, or a multiple of ATR) the
 * entry carries those legs: both make a `bracket`, one makes an `oto`. Leg prices are rounded to
 * valid increments (0.01 at or above $1, 0.0001 below), away from the entry, so a distance is
 * never shorter than asked. Exits close the whole held quantity, with no legs.
 *
 * @module
 */

import { Decimal } from "../../core/decimal.ts";
import type { OrderRequest } from "../../core/order_types.ts";
import type { Intent } from "../../strategies/strategy_logic.ts";
import type { BotConfig, ExitDistance } from "./bot_config_data.ts";

/** What sizing needs to know besides the intent and the config. */
export interface SizingContext {
  /** Account equity (decimal text); needed by `percent_equity` and `risk`. */
  equity?: string | null;
  /** The price to size at, usually the last close. */
  price: number;
  /**
   * ATR when a leg uses `atr_multiple`: one value for any period, or values by period
   * (`{14: 1.25}`); `null` while warming up.
   */
  atr?: number | null | Readonly<Record<number, number | null>>;
  /** The bot's signed position in the symbol (decimal text), `"0"` when flat. */
  position: string;
  /** Becomes the order's `client_order_id`. */
  clientOrderId?: string;
}

/** The outcome: an order to place, or why not. */
export type SizingResult =
  | { ok: true; request: OrderRequest }
  | { ok: false; reason: string };

const CENT = Decimal.parse("0.01");
const TEN_THOUSANDTH = Decimal.parse("0.0001");

/** The price increment at `price`: 0.01 at or above $1, 0.0001 below. */
export function tickSize(price: Decimal): Decimal {
  return price.gte(Decimal.ONE) ? CENT : TEN_THOUSANDTH;
}

/** Rounds `price` to a multiple of its tick, `up` or `down`. */
export function roundToTick(price: Decimal, direction: "up" | "down"): Decimal {
  const tick = tickSize(price);
  const steps = price.div(tick, direction === "up" ? "ceil" : "floor");
  const stepped = steps.round(0, direction === "up" ? "ceil" : "floor").mul(tick);
  return stepped;
}

function no(reason: string): SizingResult {
  return { ok: false, reason };
}

/** The distance of a leg from the entry price, or a reason it cannot be had. */
function legDistance(
  leg: ExitDistance,
  price: Decimal,
  atrs: SizingContext["atr"],
): Decimal | string {
  if ("percent" in leg) return price.mul(Decimal.parse(leg.percent)).div(Decimal.int(100));
  const atr = typeof atrs === "object" && atrs !== null ? atrs[leg.atr_period] : atrs;
  if (atr === null || atr === undefined || !Number.isFinite(atr) || atr <= 0) {
    return `ATR(${leg.atr_period}) has no value yet`;
  }
  return Decimal.parse(atr, "half_even").mul(Decimal.parse(leg.atr_multiple));
}

/**
 * Sizes `intent` into an order request under `config`, or answers why not (e.g.
 * `"size rounds to zero"`, `"no long position to close"`, `"equity unknown"`). Never throws for
 * a parsed config.
 */
export function sizeIntent(intent: Intent, config: BotConfig, ctx: SizingContext): SizingResult {
  const position = Decimal.parse(ctx.position);
  const base: Pick<OrderRequest, "symbol" | "type" | "time_in_force"> = {
    symbol: intent.symbol,
    type: "market",
    time_in_force: "day",
  };
  const withId = (r: OrderRequest): OrderRequest =>
    ctx.clientOrderId ? { ...r, client_order_id: ctx.clientOrderId } : r;

  if (intent.kind === "exit_long" || intent.kind === "exit_short") {
    const long = intent.kind === "exit_long";
    if (long ? !position.isPositive() : !position.isNegative()) {
      return no(`no ${long ? "long" : "short"} position to close`);
    }
    return {
      ok: true,
      request: withId({
        ...base,
        qty: position.abs(),
        side: long ? "sell" : "buy",
        order_class: "",
        position_intent: long ? "sell_to_close" : "buy_to_close",
      }),
    };
  }

  const long = intent.kind === "enter_long";
  if (!Number.isFinite(ctx.price) || ctx.price <= 0) return no(`no valid price (${ctx.price})`);
  const price = Decimal.parse(ctx.price, "half_even");
  const sizing = config.sizing;
  const needsEquity = sizing.method === "percent_equity" || sizing.method === "risk";
  const equity = ctx.equity ? Decimal.tryParse(ctx.equity) : null;
  if (needsEquity && (equity === null || !equity.isPositive())) return no("equity unknown");

  // Legs.
  let stop: Decimal | undefined;
  let target: Decimal | undefined;
  if (config.stop_loss) {
    const d = legDistance(config.stop_loss, price, ctx.atr);
    if (typeof d === "string") return no(`stop loss: ${d}`);
    stop = long ? roundToTick(price.sub(d), "down") : roundToTick(price.add(d), "up");
    if (!stop.isPositive()) return no(`stop loss at ${stop} is not a valid price`);
  }
  if (config.take_profit) {
    const d = legDistance(config.take_profit, price, ctx.atr);
    if (typeof d === "string") return no(`take profit: ${d}`);
    target = long ? roundToTick(price.add(d), "up") : roundToTick(price.sub(d), "down");
    if (!target.isPositive()) return no(`take profit at ${target} is not a valid price`);
  }
  const hasLegs = stop !== undefined || target !== undefined;

  // Size.
  let qty: Decimal | undefined;
  let notional: Decimal | undefined;
  const fractionalOk = "fractional" in sizing && sizing.fractional && long && !hasLegs;
  switch (sizing.method) {
    case "fixed_qty":
      qty = Decimal.parse(sizing.qty);
      if (!fractionalOk) qty = qty.round(0, "floor");
      break;
    case "notional":
    case "percent_equity": {
      const dollars = sizing.method === "notional"
        ? Decimal.parse(sizing.amount)
        : equity!.mul(Decimal.parse(sizing.percent)).div(Decimal.int(100));
      if (fractionalOk) notional = dollars.round(2, "floor");
      else qty = dollars.div(price, "floor").round(0, "floor");
      break;
    }
    case "risk": {
      const distance = price.sub(stop!).abs();
      if (distance.isZero()) return no("stop distance is zero");
      const atRisk = equity!.mul(Decimal.parse(sizing.percent)).div(Decimal.int(100));
      const byRisk = atRisk.div(distance, "floor").round(0, "floor");
      const affordable = equity!.div(price, "floor").round(0, "floor");
      qty = Decimal.min(byRisk, affordable);
      break;
    }
  }
  if (
    (qty !== undefined && !qty.isPositive()) || (notional !== undefined && !notional.isPositive())
  ) {
    return no("size rounds to zero");
  }

  const request: OrderRequest = {
    ...base,
    side: long ? "buy" : "sell",
    order_class: stop && target ? "bracket" : hasLegs ? "oto" : "",
    position_intent: long ? "buy_to_open" : "sell_to_open",
  };
  if (qty !== undefined) request.qty = qty;
  if (notional !== undefined) request.notional = notional;
  if (target) request.take_profit = { limit_price: target };
  if (stop) request.stop_loss = { stop_price: stop };
  return { ok: true, request: withId(request) };
}

/** Alpaca-style order body as plain data (decimal strings), readable by `parseOrderRequest`. */
export type OrderBody = Record<string, unknown>;

/**
 * An order request as a plain JSON body (decimals as strings), safe for structured clone; read
 * it back with `parseOrderRequest` from core/order.ts.
 */
export function toOrderBody(request: OrderRequest): OrderBody {
  return JSON.parse(JSON.stringify(request));
}
