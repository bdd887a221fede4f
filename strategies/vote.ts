/**
 * Majority vote over evaluator signals, with a quorum.
 *
 * Every configured evaluator votes (`hold`, including "still warming up", is a vote for neither
 * side). The leading side is `buy` when buys outnumber sells, `sell` when sells outnumber buys;
 * a tie, zero-zero included, is `hold`. The leader wins only when it also meets the quorum:
 * at least `minVotes` votes and at least `minFraction` of all evaluators. Otherwise `hold`.
 *
 * With the defaults (`minVotes: 1`, `minFraction: 0.5`) and three evaluators: 2 buys + 1 hold is
 * `buy`; 2 buys + 1 sell is `buy`; 1 buy + 2 holds is `hold` (1/3 < 0.5); 1 buy + 1 sell + 1 hold
 * is `hold` (tie).
 *
 * @module
 */

import type { Signal, SignalAction } from "./evaluator_logic.ts";

/** How much agreement a vote needs. */
export interface Quorum {
  /** Least number of votes for the winning side (default 1). */
  minVotes: number;
  /** Least share of all evaluators voting for the winning side, 0–1, inclusive (default 0.5). */
  minFraction: number;
}

/** The default quorum. */
export const DEFAULT_QUORUM: Readonly<Quorum> = { minVotes: 1, minFraction: 0.5 };

/** The outcome of a vote. */
export interface VoteResult {
  action: SignalAction;
  buy: number;
  sell: number;
  hold: number;
  total: number;
  /** Why, e.g. `buy 2 of 3 (sell 0, hold 1)` or `tie: buy 1, sell 1 of 3`. */
  reason: string;
}

/**
 * Counts the votes and applies the quorum. Pure; never throws. No signals at all is `hold`.
 *
 * @example
 * ```ts
 * tallyVotes(["buy", "buy", "hold"]).action; // "buy"
 * tallyVotes(["buy", "sell"]).action; // "hold" (tie)
 * ```
 */
export function tallyVotes(
  votes: readonly (Signal | SignalAction)[],
  quorum: Partial<Quorum> = {},
): VoteResult {
  const { minVotes, minFraction } = { ...DEFAULT_QUORUM, ...quorum };
  let buy = 0;
  let sell = 0;
  for (const v of votes) {
    const action = typeof v === "string" ? v : v.action;
    if (action === "buy") buy++;
    else if (action === "sell") sell++;
  }
  const total = votes.length;
  const hold = total - buy - sell;
  const counts = { buy, sell, hold, total };
  if (buy === sell) {
    return { action: "hold", ...counts, reason: `tie: buy ${buy}, sell ${sell} of ${total}` };
  }
  const leader: SignalAction = buy > sell ? "buy" : "sell";
  const won = Math.max(buy, sell);
  const other = Math.min(buy, sell);
  const tally = `${leader} ${won} of ${total} (${
    leader === "buy" ? "sell" : "buy"
  } ${other}, hold ${hold})`;
  if (won < minVotes) {
    return { action: "hold", ...counts, reason: `no quorum: ${tally}, needs ${minVotes} votes` };
  }
  if (won < minFraction * total) {
    return {
      action: "hold",
      ...counts,
      reason: `no quorum: ${tally}, needs ${minFraction} of ${total}`,
    };
  }
  return { action: leader, ...counts, reason: tally };
}
