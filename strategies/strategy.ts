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
 * The schema-free part, {@link StrategyLogic} and the step functions, lives in
 * `strategy_logic.ts` (no zod, so a bot Worker can load it cheaply) and is re-exported here.
 *
 * Intents say what the strategy wants (`enter_long`, `exit_long`, `enter_short`, `exit_short`);
 * the bot actor sizes them into orders. Built-in strategies track the position they have asked
 * for in their state; an exit when nothing is held is for the bot actor to drop.
 *
 * @module
 */

import type { z } from "zod";
import type { Bar } from "../core/market.ts";
import { fieldIssues, TradeError } from "../core/errors.ts";
import { type IndicatorSet, parseIndicatorSpec } from "./indicator_spec.ts";
import {
  type InstanceStep,
  type Intent,
  startInstance,
  stepBar,
  type StrategyInstance,
  type StrategyLogic,
} from "./strategy_logic.ts";

export * from "./strategy_logic.ts";

/**
 * A strategy: its {@link StrategyLogic} plus a description and the zod schema of its params.
 * Handlers must be pure (see {@link StrategyLogic}).
 */
export interface StrategyDefinition<P = unknown, S = unknown> extends StrategyLogic<P, S> {
  readonly description: string;
  /** Validates raw params and fills in defaults. */
  readonly paramsSchema: z.ZodType<P, unknown>;
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
  const issues = fieldIssues(result.error);
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
  return startInstance(definition, { symbol: options.symbol, params });
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
