/**
 * `indicator_vote`: a majority vote of configured signal evaluators, with a quorum.
 *
 * On each closed bar every evaluator votes (see evaluators.ts); {@link tallyVotes} decides
 * `buy`, `sell` or `hold` (ties and votes short of the quorum hold). A `buy` takes the strategy
 * long (covering a short first); a `sell` exits a long and, with `allowShort`, goes short. A vote
 * for the side already held does nothing.
 *
 * @example
 * ```ts
 * const params = {
 *   evaluators: [{ type: "rsi" }, { type: "bbands" }, { type: "macd_cross" }],
 *   minVotes: 2,
 * };
 * ```
 *
 * @module
 */

import { z } from "zod";
import {
  createEvaluator,
  type Evaluator,
  evaluatorConfigSchema,
  type EvaluatorState,
  type Signal,
} from "./evaluators.ts";
import type { IndicatorSpec } from "./indicator_spec.ts";
import type { IndicatorValue } from "./indicators.ts";
import {
  defineStrategy,
  type Intent,
  intentsToward,
  positionAfter,
  type PositionSide,
} from "./strategy.ts";
import { tallyVotes } from "./vote.ts";

/** Params of `indicator_vote`. */
export const indicatorVoteParamsSchema = z.strictObject({
  /** The voters, e.g. `[{type: "rsi"}, {type: "bbands", k: 2.5}]`. */
  evaluators: z.array(evaluatorConfigSchema).min(1).max(32),
  /** Least votes for the winning side (default 1). */
  minVotes: z.int().min(1).max(1000).default(1),
  /** Least share of all evaluators for the winning side, inclusive (default 0.5). */
  minFraction: z.number().min(0).max(1).default(0.5),
  /** Go short on a winning `sell` (default false: long-only). */
  allowShort: z.boolean().default(false),
});

/** Params of `indicator_vote`, defaults filled in. */
export type IndicatorVoteParams = z.output<typeof indicatorVoteParamsSchema>;

/** State of `indicator_vote`: plain data. */
export interface IndicatorVoteState {
  /** One state per evaluator, in order. */
  evaluators: EvaluatorState[];
  position: PositionSide;
  /** The last vote's verdict and reason, for inspection. */
  lastVote: { action: Signal["action"]; reason: string } | null;
}

const built = new WeakMap<object, Evaluator[]>();

/** The evaluators of validated params (memoised per params object; pure). */
function evaluatorsOf(params: IndicatorVoteParams): Evaluator[] {
  let list = built.get(params);
  if (!list) {
    list = params.evaluators.map((c) => createEvaluator(c));
    built.set(params, list);
  }
  return list;
}

/** The `indicator_vote` strategy. */
export const indicatorVote = defineStrategy<IndicatorVoteParams, IndicatorVoteState>({
  name: "indicator_vote",
  description: "Majority vote of indicator evaluators (RSI, MACD, moving averages, Bollinger, " +
    "Stochastic, OBV) with a quorum; ties hold",
  paramsSchema: indicatorVoteParamsSchema,
  indicators(params) {
    const out: IndicatorSpec[] = [];
    for (const e of evaluatorsOf(params)) out.push(...e.indicators);
    return out;
  },
  initialState: (params) => ({
    evaluators: evaluatorsOf(params).map((e) => e.initialState()),
    position: "flat",
    lastVote: null,
  }),
  onBar(ctx, bar, indicators) {
    const evaluators = evaluatorsOf(ctx.params);
    const states: EvaluatorState[] = [];
    const signals: Signal[] = [];
    evaluators.forEach((e, i) => {
      const step = e.evaluate(ctx.state.evaluators[i] ?? e.initialState(), bar, indicators);
      states.push(step.state);
      signals.push(step.signal);
    });
    const vote = tallyVotes(signals, ctx.params);
    let position = ctx.state.position;
    const intents: Intent[] = [];
    if (vote.action !== "hold") {
      const why = signals.filter((s) => s.action === vote.action).map((s) => s.reason);
      const reason = `Vote ${vote.reason}: ${why.join("; ")}`;
      const snapshot: Record<string, IndicatorValue | null> = {};
      for (const s of signals) Object.assign(snapshot, s.snapshot);
      for (const kind of intentsToward(position, vote.action, ctx.params.allowShort)) {
        position = positionAfter(position, kind);
        intents.push({ kind, symbol: ctx.symbol, reason, snapshot, t: bar.t });
      }
    }
    return {
      state: {
        evaluators: states,
        position,
        lastVote: { action: vote.action, reason: vote.reason },
      },
      intents,
    };
  },
});
