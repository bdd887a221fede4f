/**
 * Signal evaluators: each reads indicator values for a closed bar and says `buy`, `sell` or
 * `hold`, with a reason and the indicator snapshot that produced it.
 *
 * An evaluator is pure: `evaluate(state, bar, snapshot) → {state, signal}`, where the state is
 * plain data (the remembered sign for crossovers, recent OBV values for the OBV trend, `null` for
 * the rest). While an indicator it needs is warming up it holds and keeps its state.
 *
 * | type         | buy                                  | sell                                 |
 * | ------------ | ------------------------------------ | ------------------------------------ |
 * | `rsi`        | RSI < oversold (30)                  | RSI > overbought (70)                |
 * | `macd_cross` | MACD crosses above its signal line   | MACD crosses below its signal line   |
 * | `price_ma`   | close > MA                           | close < MA                           |
 * | `ma_cross`   | fast MA crosses above slow MA        | fast MA crosses below slow MA        |
 * | `bbands`     | close < lower band                   | close > upper band                   |
 * | `stoch`      | slow %K < oversold (20)              | slow %K > overbought (80)            |
 * | `obv_trend`  | OBV now > OBV `bars` bars ago        | OBV now < OBV `bars` bars ago        |
 *
 * Everything else, equality included, is `hold`. Crosses follow {@link crossStep}: a change of
 * sign of the difference; equality is a touch, not a cross.
 *
 * @module
 */

import { z } from "zod";
import { fieldIssues, TradeError } from "../core/errors.ts";
import { buildEvaluator, type Evaluator, type EvaluatorConfig } from "./evaluator_logic.ts";
import { MAX_PERIOD } from "./indicator_keys.ts";

export * from "./evaluator_logic.ts";

const period = (fallback: number) => z.int().min(1).max(MAX_PERIOD).default(fallback);
const level = (fallback: number) => z.number().min(0).max(100).default(fallback);
const maKind = z.enum(["sma", "ema"]).default("sma");

const thresholds = {
  message: "oversold must be below overbought",
  path: ["oversold"],
};

/** Schema of one evaluator's configuration; defaults are filled in. */
export const evaluatorConfigSchema: z.ZodType<EvaluatorConfig, unknown> = z.discriminatedUnion(
  "type",
  [
    z.strictObject({
      type: z.literal("rsi"),
      period: period(14),
      oversold: level(30),
      overbought: level(70),
    }).refine((c) => c.oversold < c.overbought, thresholds),
    z.strictObject({
      type: z.literal("macd_cross"),
      fast: period(12),
      slow: period(26),
      signal: period(9),
    }).refine((c) => c.fast < c.slow, { message: "fast must be below slow", path: ["fast"] }),
    z.strictObject({ type: z.literal("price_ma"), ma: maKind, period: period(20) }),
    z.strictObject({ type: z.literal("ma_cross"), ma: maKind, fast: period(10), slow: period(30) })
      .refine((c) => c.fast < c.slow, { message: "fast must be below slow", path: ["fast"] }),
    z.strictObject({
      type: z.literal("bbands"),
      period: period(20),
      k: z.number().positive().max(100).default(2),
    }),
    z.strictObject({
      type: z.literal("stoch"),
      k: period(14),
      kSmooth: period(3),
      d: period(3),
      oversold: level(20),
      overbought: level(80),
    }).refine((c) => c.oversold < c.overbought, thresholds),
    z.strictObject({ type: z.literal("obv_trend"), bars: z.int().min(1).max(1000).default(10) }),
  ],
);

/**
 * Validates an evaluator configuration (e.g. `{type: "rsi"}`), filling in defaults.
 * Throws {@link TradeError} `INVALID_REQUEST` naming each bad field.
 */
export function parseEvaluatorConfig(input: unknown): EvaluatorConfig {
  const result = evaluatorConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = fieldIssues(result.error);
  throw new TradeError(
    "INVALID_REQUEST",
    `Cannot create evaluator: ${
      issues.map((i) => `${i.path || "(config)"}: ${i.message}`).join("; ")
    }`,
    { details: { issues } },
  );
}

/**
 * Builds the evaluator a configuration describes (validating it first).
 * Throws {@link TradeError} `INVALID_REQUEST` on a bad configuration.
 *
 * @example
 * ```ts
 * const rsi = createEvaluator({ type: "rsi", oversold: 25 });
 * rsi.indicators; // [{ name: "rsi", params: { period: 14 } }]
 * ```
 */
export function createEvaluator(input: unknown): Evaluator {
  return buildEvaluator(parseEvaluatorConfig(input));
}
