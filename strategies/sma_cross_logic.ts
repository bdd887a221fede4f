/**
 * The logic of `sma_cross`, without its params schema (no zod): what a bot Worker runs. The rules
 * are in sma_cross.ts, which adds the schema.
 *
 * @module
 */

import { crossStep, type Sign } from "./cross.ts";
import { fmt } from "./evaluator_logic.ts";
import { pickSnapshot, readIndicator, specs } from "./indicator_keys.ts";
import {
  type Intent,
  intentsToward,
  positionAfter,
  type PositionSide,
  type StrategyLogic,
} from "./strategy_logic.ts";

/** Params of `sma_cross`, defaults filled in (see `smaCrossParamsSchema`). */
export interface SmaCrossParams {
  /** Fast SMA period. */
  fast: number;
  /** Slow SMA period, greater than `fast`. */
  slow: number;
  /** Go short on a downward cross. */
  allowShort: boolean;
}

/** State of `sma_cross`: plain data. */
export interface SmaCrossState {
  /** Last non-zero sign of fast − slow; 0 before any. */
  sign: Sign;
  position: PositionSide;
}

/** The logic of `sma_cross` (no params schema: see sma_cross.ts). */
export const smaCrossLogic: StrategyLogic<SmaCrossParams, SmaCrossState> = {
  name: "sma_cross",
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
    // Warm-up (history): remember the sign; nothing is traded, so the position stays.
    if (step.cross === null || ctx.warmup) {
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
};
