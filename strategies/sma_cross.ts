/**
 * `sma_cross`: trade the crossings of a fast and a slow simple moving average of the close.
 *
 * Rules, bar by bar once both SMAs have values:
 * - `d = fast − slow`. Only the sign of `d` matters. The strategy remembers the last non-zero
 *   sign (0 before any).
 * - `d = 0` is a touch, not a cross: the remembered sign stays, nothing happens. So `+, 0, +` never
 *   trades, and `+, 0, −` trades once, on the `−` bar.
 * - The first non-zero sign after warm-up only sets the remembered sign: being above (or below) at
 *   the start is not a cross, so the strategy waits for the next one.
 * - Upward cross (sign − → +): flat → `enter_long`; short → `exit_short` then `enter_long`.
 * - Downward cross (sign + → −): long → `exit_long`; then, only with `allowShort`, `enter_short`.
 *
 * Long-only by default: a downward cross exits to flat. The position in state is the one the
 * strategy asked for.
 *
 * @module
 */

import { z } from "zod";
import { MAX_PERIOD } from "./indicator_keys.ts";
import { smaCrossLogic, type SmaCrossParams, type SmaCrossState } from "./sma_cross_logic.ts";
import { defineStrategy } from "./strategy.ts";

export * from "./sma_cross_logic.ts";

/** Params of `sma_cross`. */
export const smaCrossParamsSchema: z.ZodType<SmaCrossParams, unknown> = z.strictObject({
  /** Fast SMA period (default 10). */
  fast: z.int().min(1).max(MAX_PERIOD).default(10),
  /** Slow SMA period (default 30), greater than `fast`. */
  slow: z.int().min(1).max(MAX_PERIOD).default(30),
  /** Go short on a downward cross (default false: long-only). */
  allowShort: z.boolean().default(false),
}).refine((p) => p.fast < p.slow, { message: "fast must be below slow", path: ["fast"] });

/** The `sma_cross` strategy: {@link smaCrossLogic} with its params schema. */
export const smaCross = defineStrategy<SmaCrossParams, SmaCrossState>({
  ...smaCrossLogic,
  description:
    "Fast/slow SMA crossover: long on an upward cross, flat (or short with allowShort) on a " +
    "downward cross; a touch is not a cross",
  paramsSchema: smaCrossParamsSchema,
});
