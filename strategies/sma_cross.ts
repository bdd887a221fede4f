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
import { crossStep, type Sign } from "./cross.ts";
import { fmt } from "./evaluators.ts";
import { MAX_PERIOD, pickSnapshot, readIndicator, specs } from "./indicator_spec.ts";
import {
  defineStrategy,
  type Intent,
  intentsToward,
  positionAfter,
  type PositionSide,
} from "./strategy.ts";

/** Params of `sma_cross`. */
export const smaCrossParamsSchema = z.strictObject({
  /** Fast SMA period (default 10). */
  fast: z.int().min(1).max(MAX_PERIOD).default(10),
  /** Slow SMA period (default 30), greater than `fast`. */
  slow: z.int().min(1).max(MAX_PERIOD).default(30),
  /** Go short on a downward cross (default false: long-only). */
  allowShort: z.boolean().default(false),
}).refine((p) => p.fast < p.slow, { message: "fast must be below slow", path: ["fast"] });

/** Params of `sma_cross`, defaults filled in. */
export type SmaCrossParams = z.output<typeof smaCrossParamsSchema>;

/** State of `sma_cross`: plain data. */
export interface SmaCrossState {
  /** Last non-zero sign of fast − slow; 0 before any. */
  sign: Sign;
  position: PositionSide;
}

/** The `sma_cross` strategy. */
export const smaCross = defineStrategy<SmaCrossParams, SmaCrossState>({
  name: "sma_cross",
  description:
    "Fast/slow SMA crossover: long on an upward cross, flat (or short with allowShort) on a " +
    "downward cross; a touch is not a cross",
  paramsSchema: smaCrossParamsSchema,
  indicators: (p) => [specs.sma(p.fast), specs.sma(p.slow)],
  initialState: () => ({ sign: 0, position: "flat" }),
  onBar(ctx, bar, indicators) {
    const { fast, slow, allowShort } = ctx.params;
    const fastSpec = specs.sma(fast);
    const slowSpec = specs.sma(slow);
    const f = readIndicator(indicators, fastSpec);
    const s = readIndicator(indicators, slowSpec);
    if (f === null || s === null) return { state: ctx.state, intents: [] };
    const step = crossStep(ctx.state.sign, f - s);
    if (step.cross === null) {
      return { state: { ...ctx.state, sign: step.sign }, intents: [] };
    }
    const kinds = intentsToward(
      ctx.state.position,
      step.cross === "up" ? "buy" : "sell",
      allowShort,
    );
    const reason = `SMA(${fast}) ${fmt(f)} crossed ${step.cross === "up" ? "above" : "below"} ` +
      `SMA(${slow}) ${fmt(s)}`;
    const snapshot = pickSnapshot(indicators, [fastSpec, slowSpec]);
    let position = ctx.state.position;
    const intents: Intent[] = kinds.map((kind) => {
      position = positionAfter(position, kind);
      return { kind, symbol: ctx.symbol, reason, snapshot, t: bar.t };
    });
    return { state: { sign: step.sign, position }, intents };
  },
});
