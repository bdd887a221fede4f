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
import { evaluatorConfigSchema } from "./evaluators.ts";
import {
  indicatorVoteLogic,
  type IndicatorVoteParams,
  type IndicatorVoteState,
} from "./indicator_vote_logic.ts";
import { defineStrategy } from "./strategy.ts";
import type { Quorum } from "./vote.ts";

export * from "./indicator_vote_logic.ts";

/** Schema of a {@link Quorum}; defaults are filled in. */
export const quorumSchema: z.ZodType<Quorum, unknown> = z.strictObject({
  minVotes: z.int().min(1).max(1000).default(1),
  minFraction: z.number().min(0).max(1).default(0.5),
});

/** Params of `indicator_vote`. */
export const indicatorVoteParamsSchema: z.ZodType<IndicatorVoteParams, unknown> = z
  .strictObject({
    /** The voters, e.g. `[{type: "rsi"}, {type: "bbands", k: 2.5}]`. */
    evaluators: z.array(evaluatorConfigSchema).min(1).max(32),
    /** Least votes for the winning side (default 1). */
    minVotes: z.int().min(1).max(1000).default(1),
    /** Least share of all evaluators for the winning side, inclusive (default 0.5). */
    minFraction: z.number().min(0).max(1).default(0.5),
    /** Go short on a winning `sell` (default false: long-only). */
    allowShort: z.boolean().default(false),
  });

/** The `indicator_vote` strategy: {@link indicatorVoteLogic} with its params schema. */
export const indicatorVote = defineStrategy<IndicatorVoteParams, IndicatorVoteState>({
  ...indicatorVoteLogic,
  description: "Majority vote of indicator evaluators (RSI, MACD, moving averages, Bollinger, " +
    "Stochastic, OBV) with a quorum; ties hold",
  paramsSchema: indicatorVoteParamsSchema,
});
