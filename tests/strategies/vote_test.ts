import { assertEquals } from "../_assert.ts";
import type { SignalAction } from "../../strategies/evaluators.ts";
import { tallyVotes } from "../../strategies/vote.ts";

const acts = (...a: SignalAction[]) => a;

Deno.test("vote: the majority side wins with the default quorum", () => {
  assertEquals(tallyVotes(acts("buy", "buy", "hold")).action, "buy");
  assertEquals(tallyVotes(acts("buy", "buy", "sell")).action, "buy");
  assertEquals(tallyVotes(acts("sell", "sell", "hold", "buy")).action, "sell");
  assertEquals(tallyVotes(acts("buy", "hold")).action, "buy"); // 1/2 meets the inclusive 0.5
  assertEquals(tallyVotes(acts("buy", "buy", "hold")), {
    action: "buy",
    buy: 2,
    sell: 0,
    hold: 1,
    total: 3,
    reason: "buy 2 of 3 (sell 0, hold 1)",
  });
});

Deno.test("vote: a tie, zero-zero included, holds", () => {
  assertEquals(tallyVotes(acts("buy", "sell")).action, "hold");
  assertEquals(tallyVotes(acts("buy", "sell", "hold")).reason, "tie: buy 1, sell 1 of 3");
  assertEquals(tallyVotes(acts("buy", "buy", "sell", "sell")).action, "hold");
  assertEquals(tallyVotes(acts("hold", "hold")).action, "hold");
  assertEquals(tallyVotes([]).action, "hold");
});

Deno.test("vote: the quorum, by count and by share of all evaluators", () => {
  // 1 buy of 3 is the leader but only a third of the voters.
  const third = tallyVotes(acts("buy", "hold", "hold"));
  assertEquals(third.action, "hold");
  assertEquals(third.reason, "no quorum: buy 1 of 3 (sell 0, hold 2), needs 0.5 of 3");
  assertEquals(tallyVotes(acts("buy", "hold", "hold"), { minFraction: 0 }).action, "buy");
  // minVotes.
  const two = tallyVotes(acts("sell", "hold"), { minVotes: 2, minFraction: 0 });
  assertEquals(two.action, "hold");
  assertEquals(two.reason, "no quorum: sell 1 of 2 (buy 0, hold 1), needs 2 votes");
  assertEquals(tallyVotes(acts("sell", "sell", "buy"), { minVotes: 2 }).action, "sell");
  // Unanimity.
  const all = { minFraction: 1 };
  assertEquals(tallyVotes(acts("buy", "buy", "buy"), all).action, "buy");
  assertEquals(tallyVotes(acts("buy", "buy", "hold"), all).action, "hold");
  // Signals as well as bare actions.
  const sig = (action: SignalAction) => ({ action, reason: "", snapshot: {} });
  assertEquals(tallyVotes([sig("sell"), sig("sell"), sig("buy")]).action, "sell");
});
