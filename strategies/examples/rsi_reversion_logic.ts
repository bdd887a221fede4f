/**
 * The logic of the example custom strategy `rsi_reversion`, without its params schema (no zod):
 * what a bot Worker runs. The rules are in rsi_reversion.ts, which adds the schema.
 *
 * @module
 */

import { fmt } from "../evaluator_logic.ts";
import { pickSnapshot, readIndicator, specs } from "../indicator_keys.ts";
import type { PositionSide, StrategyLogic } from "../strategy_logic.ts";

/** Params of `rsi_reversion`, defaults filled in (see `rsiReversionParamsSchema`). */
export interface RsiReversionParams {
  period: number;
  entryBelow: number;
  exitAbove: number;
  atrPeriod: number;
  stopAtr: number;
}

/** State of `rsi_reversion`: plain data. */
export interface RsiReversionState {
  position: PositionSide;
  /** Average entry price from fills; null when flat or before the first fill. */
  entryPrice: number | null;
}

/** The logic of `rsi_reversion` (no params schema: see rsi_reversion.ts). */
export const rsiReversionLogic: StrategyLogic<RsiReversionParams, RsiReversionState> = {
  name: "rsi_reversion",
  indicators: (p) => [specs.rsi(p.period), specs.atr(p.atrPeriod)],
  initialState: () => ({ position: "flat", entryPrice: null }),
  onBar(ctx, bar, indicators) {
    const p = ctx.params;
    const rsiSpec = specs.rsi(p.period);
    const atrSpec = specs.atr(p.atrPeriod);
    const rsi = readIndicator(indicators, rsiSpec);
    const atr = readIndicator(indicators, atrSpec);
    const snapshot = pickSnapshot(indicators, [rsiSpec, atrSpec]);
    // It remembers nothing of the market but its position: history (warm-up) changes nothing.
    if (ctx.warmup) return { state: ctx.state, intents: [] };
    const { position, entryPrice } = ctx.state;
    const intent = (kind: "enter_long" | "exit_long", reason: string) => ({
      kind,
      symbol: ctx.symbol,
      reason,
      snapshot,
      t: bar.t,
    });
    if (position === "flat" && rsi !== null && rsi < p.entryBelow) {
      return {
        state: { position: "long", entryPrice: null },
        intents: [intent("enter_long", `RSI(${p.period}) ${fmt(rsi)} below ${p.entryBelow}`)],
      };
    }
    if (position !== "long") return { state: ctx.state, intents: [] };
    if (rsi !== null && rsi > p.exitAbove) {
      return {
        state: { position: "flat", entryPrice: null },
        intents: [intent("exit_long", `RSI(${p.period}) ${fmt(rsi)} above ${p.exitAbove}`)],
      };
    }
    if (p.stopAtr > 0 && entryPrice !== null && atr !== null) {
      const stop = entryPrice - p.stopAtr * atr;
      if (bar.c < stop) {
        const reason = `Close ${fmt(bar.c)} below stop ${fmt(stop)} (entry ${fmt(entryPrice)} − ` +
          `${p.stopAtr} × ATR ${fmt(atr)})`;
        return {
          state: { position: "flat", entryPrice: null },
          intents: [intent("exit_long", reason)],
        };
      }
    }
    return { state: ctx.state, intents: [] };
  },
  onOrderFilled(ctx, fill) {
    const after = Number(fill.positionQty);
    if (!(after > 0)) return { state: { position: "flat", entryPrice: null }, intents: [] };
    const qty = Number(fill.qty);
    const price = Number(fill.price);
    const before = fill.side === "buy" ? after - qty : after + qty;
    const old = ctx.state.entryPrice;
    const entryPrice = fill.side === "sell"
      ? old
      : old === null || before <= 0
      ? price
      : (old * before + price * qty) / after;
    return { state: { position: "long", entryPrice }, intents: [] };
  },
};
