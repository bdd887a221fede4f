/**
 * `rsi_reversion`: an example custom strategy, the template for writing your own.
 *
 * A custom strategy is a module exporting a {@link StrategyDefinition}: a name, a description, a
 * zod params schema, the indicators it reads, and pure handlers. Add it to the list in
 * strategies/registry.ts to make it available by name.
 *
 * Rules (long-only): buy when RSI falls below `entryBelow`; sell when RSI rises above
 * `exitAbove`, or when the close drops `stopAtr` ATRs below the average entry price (learned from
 * fills through `onOrderFilled`; `stopAtr: 0` turns the stop off). A fill that leaves the
 * position flat, e.g. a stop order at the broker, resets the strategy to flat.
 *
 * @module
 */

import { z } from "zod";
import { fmt } from "../evaluators.ts";
import { MAX_PERIOD, pickSnapshot, readIndicator, specs } from "../indicator_spec.ts";
import { defineStrategy, type PositionSide, type StrategyDefinition } from "../strategy.ts";

/** Params of `rsi_reversion`. */
export const rsiReversionParamsSchema = z.strictObject({
  period: z.int().min(2).max(MAX_PERIOD).default(14),
  entryBelow: z.number().min(0).max(100).default(30),
  exitAbove: z.number().min(0).max(100).default(50),
  atrPeriod: z.int().min(1).max(MAX_PERIOD).default(14),
  stopAtr: z.number().min(0).max(100).default(2),
}).refine((p) => p.entryBelow < p.exitAbove, {
  message: "entryBelow must be below exitAbove",
  path: ["entryBelow"],
});

/** Params of `rsi_reversion`, defaults filled in. */
export type RsiReversionParams = z.output<typeof rsiReversionParamsSchema>;

/** State of `rsi_reversion`: plain data. */
export interface RsiReversionState {
  position: PositionSide;
  /** Average entry price from fills; null when flat or before the first fill. */
  entryPrice: number | null;
}

/** The `rsi_reversion` example strategy. */
export const rsiReversion: StrategyDefinition<RsiReversionParams, RsiReversionState> =
  defineStrategy<RsiReversionParams, RsiReversionState>({
    name: "rsi_reversion",
    description: "Example custom strategy: buy RSI below 30, sell RSI above 50 or on an ATR stop",
    paramsSchema: rsiReversionParamsSchema,
    indicators: (p) => [specs.rsi(p.period), specs.atr(p.atrPeriod)],
    initialState: () => ({ position: "flat", entryPrice: null }),
    onBar(ctx, bar, indicators) {
      const p = ctx.params;
      const rsiSpec = specs.rsi(p.period);
      const atrSpec = specs.atr(p.atrPeriod);
      const rsi = readIndicator(indicators, rsiSpec);
      const atr = readIndicator(indicators, atrSpec);
      const snapshot = pickSnapshot(indicators, [rsiSpec, atrSpec]);
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
          const reason =
            `Close ${fmt(bar.c)} below stop ${fmt(stop)} (entry ${fmt(entryPrice)} − ` +
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
  });
