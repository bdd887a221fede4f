/**
 * `rsi_reversion`: an example custom strategy, the template for writing your own.
 *
 * A custom strategy is a {@link StrategyDefinition}: its logic (rsi_reversion_logic.ts: the
 * indicators it reads and pure handlers, no zod, so bot Workers stay small) plus a description and
 * a zod params schema (this module). List the logic in `BUILTIN_LOGIC` (builtin_logic.ts) and the
 * definition in `BUILTIN_STRATEGIES` (registry.ts) to make it available by name; see
 * strategies/README.md for a one-module strategy in a registry of your own.
 *
 * Rules (long-only): buy when RSI falls below `entryBelow`; sell when RSI rises above
 * `exitAbove`, or when the close drops `stopAtr` ATRs below the average entry price (learned from
 * fills through `onOrderFilled`; `stopAtr: 0` turns the stop off). A fill that leaves the
 * position flat, e.g. a stop order at the broker, resets the strategy to flat.
 *
 * @module
 */

import { z } from "zod";
import { MAX_PERIOD } from "../indicator_keys.ts";
import { defineStrategy, type StrategyDefinition } from "../strategy.ts";
import {
  rsiReversionLogic,
  type RsiReversionParams,
  type RsiReversionState,
} from "./rsi_reversion_logic.ts";

export * from "./rsi_reversion_logic.ts";

/** Params of `rsi_reversion`. */
export const rsiReversionParamsSchema: z.ZodType<RsiReversionParams, unknown> = z.strictObject({
  period: z.int().min(2).max(MAX_PERIOD).default(14),
  entryBelow: z.number().min(0).max(100).default(30),
  exitAbove: z.number().min(0).max(100).default(50),
  atrPeriod: z.int().min(1).max(MAX_PERIOD).default(14),
  stopAtr: z.number().min(0).max(100).default(2),
}).refine((p) => p.entryBelow < p.exitAbove, {
  message: "entryBelow must be below exitAbove",
  path: ["entryBelow"],
});

/** The `rsi_reversion` example strategy: {@link rsiReversionLogic} with its params schema. */
export const rsiReversion: StrategyDefinition<RsiReversionParams, RsiReversionState> =
  defineStrategy<RsiReversionParams, RsiReversionState>({
    ...rsiReversionLogic,
    description: "Example custom strategy: buy RSI below 30, sell RSI above 50 or on an ATR stop",
    paramsSchema: rsiReversionParamsSchema,
  });
