/**
 * A strategy's logic and the pure functions that run an instance of it, without zod: what a bot
 * Worker loads. `strategy.ts` adds the params schema ({@link StrategyDefinition}) and validation,
 * and re-exports all of this.
 *
 * @module
 */

import type { Bar } from "../core/market.ts";
import type { OrderSide } from "../core/order_types.ts";
import { indicatorKey, type IndicatorSnapshot, type IndicatorSpec } from "./indicator_keys.ts";
import type { IndicatorValue } from "./indicators.ts";

/** What a strategy wants done. */
export type IntentKind = "enter_long" | "exit_long" | "enter_short" | "exit_short";

/** The position a strategy believes it has. */
export type PositionSide = "flat" | "long" | "short";

/** A wish for the bot actor to turn into a sized order. Plain data. */
export interface Intent {
  kind: IntentKind;
  symbol: string;
  /** Why, in words, e.g. `SMA(10) 101.2 crossed above SMA(30) 100.9`. */
  reason: string;
  /** The indicator values behind the decision, by key. */
  snapshot: Record<string, IndicatorValue | null>;
  /** The bar's timestamp (`Bar.t`). */
  t: string;
}

/** A fill as a strategy sees it. Amounts are decimal strings, as at every boundary. */
export interface StrategyFill {
  symbol: string;
  side: OrderSide;
  /** Filled quantity of this fill, e.g. `"10"`. */
  qty: string;
  /** Fill price, e.g. `"187.42"`. */
  price: string;
  /** The bot's signed position after this fill (`"-5"` is short five), e.g. `"10"`. */
  positionQty: string;
  /** Epoch milliseconds. */
  ts: number;
  clientOrderId?: string;
}

/** What a handler sees. */
export interface StrategyContext<P, S> {
  readonly symbol: string;
  readonly params: Readonly<P>;
  readonly state: Readonly<S>;
  /**
   * True while the bot replays history before going live (see {@link warmBar}): nothing is
   * traded on such a bar and intents are dropped, so remember what the market did (a cross's
   * last sign, an evaluator's memory) but do not change the position you believe you hold.
   */
  readonly warmup?: boolean;
}

/** What a handler answers: the next state and any intents. */
export interface StrategyStep<S> {
  state: S;
  intents: Intent[];
}

/**
 * What a strategy does, without its params schema: the part a bot Worker runs on params the main
 * thread has already validated. Handlers must be pure: no I/O, no clock, no randomness; state
 * must be plain data (structured-clone friendly) and is replaced, never mutated in place.
 */
export interface StrategyLogic<P = unknown, S = unknown> {
  /** Registry name, snake_case. */
  readonly name: string;
  /** The indicators `onBar` reads, on the bot's symbol and timeframe. */
  indicators(params: P): IndicatorSpec[];
  /** State before the first bar. */
  initialState(params: P): S;
  /**
   * Bars of history the strategy wants at warm-up to act on the first live bar, when it needs
   * more than its indicators' longest window plus one (a look-back of its own); default none.
   */
  warmupBars?(params: P): number;
  /** Handles a closed bar; `indicators` holds at least the declared keys (null while warming). */
  onBar(ctx: StrategyContext<P, S>, bar: Bar, indicators: IndicatorSnapshot): StrategyStep<S>;
  /** Handles a fill of one of this bot's orders. */
  onOrderFilled?(ctx: StrategyContext<P, S>, fill: StrategyFill): StrategyStep<S>;
}

/** Finds strategy logic by name; a {@link StrategyRegistry} is one. */
export interface StrategyLookup {
  /** The strategy called `name`; throws when there is none. */
  get(name: string): StrategyLogic;
}

/** A running strategy: plain data. */
export interface StrategyInstance<P = unknown, S = unknown> {
  strategy: string;
  symbol: string;
  params: P;
  state: S;
}

/**
 * Starts an instance on params that are already validated (defaults filled in), e.g. by
 * `createInstance` or `parseBotConfig` on the main thread. Checks nothing.
 */
export function startInstance<P, S>(
  logic: StrategyLogic<P, S>,
  options: { symbol: string; params: P },
): StrategyInstance<P, S> {
  return {
    strategy: logic.name,
    symbol: options.symbol,
    params: options.params,
    state: logic.initialState(options.params),
  };
}

/** The distinct indicator keys an instance reads. */
export function instanceIndicatorKeys<P, S>(
  logic: StrategyLogic<P, S>,
  instance: StrategyInstance<P, S>,
): string[] {
  return [...new Set(logic.indicators(instance.params).map(indicatorKey))];
}

/** What one step of an instance gives. */
export interface InstanceStep<P, S> {
  instance: StrategyInstance<P, S>;
  intents: Intent[];
}

function contextOf<P, S>(
  instance: StrategyInstance<P, S>,
  warmup = false,
): StrategyContext<P, S> {
  const ctx = { symbol: instance.symbol, params: instance.params, state: instance.state };
  return warmup ? { ...ctx, warmup } : ctx;
}

/**
 * Runs `onBar` for a closed bar. Pure: answers a new instance, leaves the given one as it was.
 * Throws an Error naming the strategy when the logic does not match the instance.
 */
export function stepBar<P, S>(
  logic: StrategyLogic<P, S>,
  instance: StrategyInstance<P, S>,
  bar: Bar,
  indicators: IndicatorSnapshot,
): InstanceStep<P, S> {
  checkMatch(logic, instance);
  const { state, intents } = logic.onBar(contextOf(instance), bar, indicators);
  return { instance: { ...instance, state }, intents };
}

/**
 * Runs `onBar` for a historical bar during warm-up, with `ctx.warmup` true, and answers the new
 * instance: whatever intents the strategy gives are dropped (a bot never trades on the past).
 * Pure. Throws as {@link stepBar} does.
 */
export function warmBar<P, S>(
  logic: StrategyLogic<P, S>,
  instance: StrategyInstance<P, S>,
  bar: Bar,
  indicators: IndicatorSnapshot,
): StrategyInstance<P, S> {
  checkMatch(logic, instance);
  const { state } = logic.onBar(contextOf(instance, true), bar, indicators);
  return { ...instance, state };
}

/** Runs `onOrderFilled` (if the strategy has one) for a fill. Pure. */
export function stepFill<P, S>(
  logic: StrategyLogic<P, S>,
  instance: StrategyInstance<P, S>,
  fill: StrategyFill,
): InstanceStep<P, S> {
  checkMatch(logic, instance);
  if (!logic.onOrderFilled) return { instance, intents: [] };
  const { state, intents } = logic.onOrderFilled(contextOf(instance), fill);
  return { instance: { ...instance, state }, intents };
}

function checkMatch(logic: { name: string }, instance: { strategy: string }): void {
  if (logic.name !== instance.strategy) {
    throw new Error(
      `Cannot run strategy "${logic.name}" on an instance of "${instance.strategy}"`,
    );
  }
}

/** Applies an intent to a believed position (what built-ins use to track theirs). */
export function positionAfter(position: PositionSide, kind: IntentKind): PositionSide {
  switch (kind) {
    case "enter_long":
      return "long";
    case "enter_short":
      return "short";
    case "exit_long":
      return position === "long" ? "flat" : position;
    case "exit_short":
      return position === "short" ? "flat" : position;
  }
}

/**
 * The intents that take `position` to the side a signal asks for. `buy`: cover a short, then go
 * long. `sell`: sell a long, then go short only when `allowShort`. Already there: nothing.
 */
export function intentsToward(
  position: PositionSide,
  action: "buy" | "sell",
  allowShort: boolean,
): IntentKind[] {
  if (action === "buy") {
    if (position === "long") return [];
    return position === "short" ? ["exit_short", "enter_long"] : ["enter_long"];
  }
  const out: IntentKind[] = [];
  if (position === "long") out.push("exit_long");
  if (allowShort && position !== "short") out.push("enter_short");
  return out;
}
