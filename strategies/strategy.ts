/**
 * What a strategy is, and the pure functions that run one.
 *
 * A strategy is a {@link StrategyDefinition}: a name, a zod schema for its params, the indicators
 * it reads, and pure handlers `onBar(ctx, bar, indicators) → {state, intents}` and
 * `onOrderFilled(ctx, fill) → {state, intents}`. Its running instance, {@link StrategyInstance},
 * is plain data (name, symbol, params, state), so it can be cloned into a Worker, stored, or
 * replayed; the definition's functions are found again by name in the registry. The same
 * functions run inline in tests and backtests ({@link replayBars}) and inside bot actors.
 *
 * Intents say what the strategy wants (`enter_long`, `exit_long`, `enter_short`, `exit_short`);
 * the bot actor sizes them into orders. Built-in strategies track the position they have asked
 * for in their state; an exit when nothing is held is for the bot actor to drop.
 *
 * @module
 */

import type { z } from "zod";
import type { Bar } from "../brokers/broker.ts";
import type { OrderSide } from "../core/order_types.ts";
import { TradeError } from "../core/errors.ts";
import {
  indicatorKey,
  type IndicatorSet,
  type IndicatorSnapshot,
  type IndicatorSpec,
  parseIndicatorSpec,
} from "./indicator_spec.ts";
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
}

/** What a handler answers: the next state and any intents. */
export interface StrategyStep<S> {
  state: S;
  intents: Intent[];
}

/**
 * A strategy. Handlers must be pure: no I/O, no clock, no randomness; state must be plain data
 * (structured-clone friendly) and is replaced, never mutated in place.
 */
export interface StrategyDefinition<P = unknown, S = unknown> {
  /** Registry name, snake_case. */
  readonly name: string;
  readonly description: string;
  /** Validates raw params and fills in defaults. */
  readonly paramsSchema: z.ZodType<P, unknown>;
  /** The indicators `onBar` reads, on the bot's symbol and timeframe. */
  indicators(params: P): IndicatorSpec[];
  /** State before the first bar. */
  initialState(params: P): S;
  /** Handles a closed bar; `indicators` holds at least the declared keys (null while warming). */
  onBar(ctx: StrategyContext<P, S>, bar: Bar, indicators: IndicatorSnapshot): StrategyStep<S>;
  /** Handles a fill of one of this bot's orders. */
  onOrderFilled?(ctx: StrategyContext<P, S>, fill: StrategyFill): StrategyStep<S>;
}

/** A running strategy: plain data. */
export interface StrategyInstance<P = unknown, S = unknown> {
  strategy: string;
  symbol: string;
  params: P;
  state: S;
}

/** Types a definition (identity at run time). */
export function defineStrategy<P, S>(
  definition: StrategyDefinition<P, S>,
): StrategyDefinition<P, S> {
  return definition;
}

/**
 * Validates raw params against a definition's schema, filling in defaults. Throws
 * {@link TradeError} `INVALID_REQUEST` naming each bad field, e.g.
 * `Cannot configure strategy "sma_cross": fast: fast must be below slow`.
 */
export function parseStrategyParams<P>(
  definition: StrategyDefinition<P, unknown>,
  raw: unknown,
): P {
  const result = definition.paramsSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({
    path: i.path.map(String).join("."),
    message: i.message,
  }));
  throw new TradeError(
    "INVALID_REQUEST",
    `Cannot configure strategy "${definition.name}": ${
      issues.map((i) => `${i.path || "(params)"}: ${i.message}`).join("; ")
    }`,
    { details: { strategy: definition.name, issues } },
  );
}

/**
 * Starts an instance: validates params and the indicators they imply, and builds the initial
 * state. Throws {@link TradeError} `INVALID_REQUEST` on bad params or an empty symbol.
 */
export function createInstance<P, S>(
  definition: StrategyDefinition<P, S>,
  options: { symbol: string; params?: unknown },
): StrategyInstance<P, S> {
  if (!options.symbol) {
    throw new TradeError(
      "INVALID_REQUEST",
      `Cannot start strategy "${definition.name}": no symbol`,
    );
  }
  const params = parseStrategyParams(definition, options.params);
  for (const spec of definition.indicators(params)) parseIndicatorSpec(spec);
  return {
    strategy: definition.name,
    symbol: options.symbol,
    params,
    state: definition.initialState(params),
  };
}

/** The distinct indicator keys an instance reads. */
export function instanceIndicatorKeys<P, S>(
  definition: StrategyDefinition<P, S>,
  instance: StrategyInstance<P, S>,
): string[] {
  return [...new Set(definition.indicators(instance.params).map(indicatorKey))];
}

/** What one step of an instance gives. */
export interface InstanceStep<P, S> {
  instance: StrategyInstance<P, S>;
  intents: Intent[];
}

function contextOf<P, S>(instance: StrategyInstance<P, S>): StrategyContext<P, S> {
  return { symbol: instance.symbol, params: instance.params, state: instance.state };
}

/**
 * Runs `onBar` for a closed bar. Pure: answers a new instance, leaves the given one as it was.
 * Throws an Error naming the strategy when the definition does not match the instance.
 */
export function stepBar<P, S>(
  definition: StrategyDefinition<P, S>,
  instance: StrategyInstance<P, S>,
  bar: Bar,
  indicators: IndicatorSnapshot,
): InstanceStep<P, S> {
  checkMatch(definition, instance);
  const { state, intents } = definition.onBar(contextOf(instance), bar, indicators);
  return { instance: { ...instance, state }, intents };
}

/** Runs `onOrderFilled` (if the strategy has one) for a fill. Pure. */
export function stepFill<P, S>(
  definition: StrategyDefinition<P, S>,
  instance: StrategyInstance<P, S>,
  fill: StrategyFill,
): InstanceStep<P, S> {
  checkMatch(definition, instance);
  if (!definition.onOrderFilled) return { instance, intents: [] };
  const { state, intents } = definition.onOrderFilled(contextOf(instance), fill);
  return { instance: { ...instance, state }, intents };
}

function checkMatch(definition: { name: string }, instance: { strategy: string }): void {
  if (definition.name !== instance.strategy) {
    throw new Error(
      `Cannot run strategy "${definition.name}" on an instance of "${instance.strategy}"`,
    );
  }
}

/**
 * Runs an instance over closed bars inline, computing its indicators in `indicators` (a fresh
 * {@link IndicatorSet}-like holder the caller owns). Answers the final instance and every intent
 * in order. For tests and backtests; deterministic.
 */
export function replayBars<P, S>(
  definition: StrategyDefinition<P, S>,
  instance: StrategyInstance<P, S>,
  bars: Iterable<Bar>,
  indicators: IndicatorSet,
): InstanceStep<P, S> {
  for (const spec of definition.indicators(instance.params)) indicators.add(spec);
  let current = instance;
  const intents: Intent[] = [];
  for (const bar of bars) {
    const step = stepBar(definition, current, bar, indicators.update(bar));
    current = step.instance;
    intents.push(...step.intents);
  }
  return { instance: current, intents };
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
