/**
 * The logic of `indicator_vote`, without its params schema (no zod): what a bot Worker runs. The
 * rules are in indicator_vote.ts, which adds the schema.
 *
 * @module
 */

import {
  buildEvaluator,
  type Evaluator,
  type EvaluatorConfig,
  type EvaluatorState,
  type Signal,
} from "./evaluator_logic.ts";
import type { IndicatorSpec } from "./indicator_keys.ts";
import type { IndicatorValue } from "./indicators.ts";
import {
  type Intent,
  intentsToward,
  positionAfter,
  type PositionSide,
  type StrategyLogic,
} from "./strategy_logic.ts";
import { tallyVotes } from "./vote.ts";

/** Params of `indicator_vote`, defaults filled in (see `indicatorVoteParamsSchema`). */
export interface IndicatorVoteParams {
  /** The voters, validated. */
  evaluators: EvaluatorConfig[];
  /** Least votes for the winning side. */
  minVotes: number;
  /** Least share of all evaluators for the winning side, inclusive. */
  minFraction: number;
  /** Go short on a winning `sell`. */
  allowShort: boolean;
}

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
    list = params.evaluators.map((c) => buildEvaluator(c));
    built.set(params, list);
  }
  return list;
}

/** The logic of `indicator_vote` (no params schema: see indicator_vote.ts). */
export const indicatorVoteLogic: StrategyLogic<IndicatorVoteParams, IndicatorVoteState> = {
  name: "indicator_vote",
  indicators(params) {
    const out: IndicatorSpec[] = [];
    for (const e of evaluatorsOf(params)) out.push(...e.indicators);
    return out;
  },
  // `obv_trend` compares OBV with its value `bars` bars ago: that many values before the first
  // live bar.
  warmupBars: (params) =>
    Math.max(0, ...params.evaluators.map((e) => e.type === "obv_trend" ? e.bars + 1 : 0)),
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
    // Warm-up (history): the evaluators learn the market; nothing is traded, the position stays.
    if (vote.action !== "hold" && !ctx.warmup) {
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
};
