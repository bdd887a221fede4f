import { assert, assertEquals, assertStringIncludes, assertThrows } from "../_assert.ts";
import { TradeError } from "../../core/errors.ts";
import { IndicatorSet, type IndicatorSnapshot } from "../../strategies/indicator_spec.ts";
import { indicatorVote } from "../../strategies/indicator_vote.ts";
import {
  createInstance,
  instanceIndicatorKeys,
  type IntentKind,
  replayBars,
  stepBar,
  warmBar,
} from "../../strategies/strategy.ts";
import { bar, randomBars } from "./_bars.ts";

const EVALUATORS = [{ type: "rsi" }, { type: "bbands" }, { type: "stoch" }];
const BANDS = { upper: 110, middle: 100, lower: 90 };

/** A snapshot where RSI, Bollinger and Stochastic vote as asked (close is 100). */
function snap(
  rsi: "buy" | "sell" | "hold",
  bb: "buy" | "sell" | "hold",
  st: "buy" | "sell" | "hold",
): IndicatorSnapshot {
  const level = { buy: 10, sell: 90, hold: 50 };
  const shift = { buy: 5, sell: -5, hold: 0 };
  const s = shift[bb] * 3; // close 100 against bands moved by ±15
  return {
    "rsi:14": level[rsi],
    "bbands:20,2": { upper: BANDS.upper + s, middle: 100 + s, lower: BANDS.lower + s },
    "stoch:14,3,3": { k: level[st], d: 50 },
  };
}

function drive(snaps: IndicatorSnapshot[], params: Record<string, unknown> = {}): IntentKind[][] {
  let instance = createInstance(indicatorVote, {
    symbol: "AAPL",
    params: { evaluators: EVALUATORS, ...params },
  });
  return snaps.map((s, i) => {
    const step = stepBar(indicatorVote, instance, bar(i, { c: 100 }), s);
    instance = step.instance;
    assertEquals(structuredClone(instance), instance);
    return step.intents.map((x) => x.kind);
  });
}

Deno.test("indicator_vote: declares every evaluator's indicators, once per key", () => {
  const instance = createInstance(indicatorVote, {
    symbol: "AAPL",
    params: { evaluators: [...EVALUATORS, { type: "rsi", oversold: 20, overbought: 80 }] },
  });
  assertEquals(instanceIndicatorKeys(indicatorVote, instance), [
    "rsi:14",
    "bbands:20,2",
    "stoch:14,3,3",
  ]);
});

Deno.test("indicator_vote: a majority enters and exits; ties and minorities hold", () => {
  assertEquals(
    drive([
      snap("buy", "hold", "hold"), // 1 of 3: below the 0.5 quorum
      snap("buy", "sell", "hold"), // tie
      snap("buy", "buy", "sell"), // 2 of 3 buy
      snap("buy", "buy", "buy"), // already long
      snap("sell", "sell", "hold"), // 2 of 3 sell
      snap("sell", "sell", "sell"), // flat, long-only
    ]),
    [[], [], ["enter_long"], [], ["exit_long"], []],
  );
});

Deno.test("indicator_vote: quorum settings and allowShort", () => {
  const buy2 = snap("buy", "buy", "hold");
  assertEquals(drive([buy2], { minVotes: 3 }), [[]]);
  assertEquals(drive([snap("buy", "hold", "hold")], { minFraction: 0 }), [["enter_long"]]);
  assertEquals(
    drive([snap("sell", "sell", "hold"), buy2], { allowShort: true }),
    [["enter_short"], ["exit_short", "enter_long"]],
  );
});

Deno.test("indicator_vote: the intent explains the vote and carries the snapshot", () => {
  let instance = createInstance(indicatorVote, {
    symbol: "AAPL",
    params: { evaluators: EVALUATORS },
  });
  const s = snap("buy", "buy", "sell");
  const step = stepBar(indicatorVote, instance, bar(3, { c: 100 }), s);
  instance = step.instance;
  const [intent] = step.intents;
  assert(intent);
  assertEquals(intent.kind, "enter_long");
  assertEquals(
    intent.reason,
    "Vote buy 2 of 3 (sell 1, hold 0): RSI(14) 10 below 30; Close 100 below lower band 105",
  );
  assertEquals(intent.snapshot, s);
  assertEquals(instance.state.lastVote?.action, "buy");
});

Deno.test("indicator_vote: warming evaluators vote hold; a full run on bars is deterministic", () => {
  const bars = randomBars(99, 400);
  const params = {
    evaluators: [
      { type: "rsi", oversold: 40, overbought: 60 },
      { type: "macd_cross" },
      { type: "price_ma", ma: "ema", period: 10 },
      { type: "bbands", k: 1 },
      { type: "stoch" },
      { type: "obv_trend", bars: 5 },
    ],
    minVotes: 2,
    minFraction: 0.3,
    allowShort: true,
  };
  const run = () =>
    replayBars(
      indicatorVote,
      createInstance(indicatorVote, { symbol: "SPY", params }),
      bars,
      new IndicatorSet(),
    );
  const a = run();
  const b = run();
  assertEquals(a, b);
  assert(a.intents.length > 4, `expected some trading, got ${a.intents.length} intents`);
  // Two votes need two warm evaluators: OBV trend (6 bars) and EMA(10) are the first.
  assert(a.intents[0]!.t >= bars[9]!.t);
});

Deno.test("indicator_vote: bad params name the field", () => {
  const cases: [unknown, string][] = [
    [{ evaluators: [] }, "evaluators:"],
    [{ evaluators: [{ type: "rsi", period: 0 }] }, "evaluators.0.period:"],
    [{ evaluators: [{ type: "rsi" }], minFraction: 2 }, "minFraction:"],
    [{}, "evaluators:"],
  ];
  for (const [params, text] of cases) {
    const err = assertThrows(
      () => createInstance(indicatorVote, { symbol: "A", params }),
      TradeError,
    );
    assertStringIncludes(err.message, `Cannot configure strategy "indicator_vote": ${text}`);
  }
});

Deno.test("indicator_vote: warm-up votes change no position; live votes trade", () => {
  let instance = createInstance(indicatorVote, {
    symbol: "AAPL",
    params: { evaluators: EVALUATORS },
  });
  instance = warmBar(indicatorVote, instance, bar(0, { c: 100 }), snap("buy", "buy", "buy"));
  assertEquals(instance.state.position, "flat");
  assertEquals(instance.state.lastVote?.action, "buy");
  const step = stepBar(indicatorVote, instance, bar(1, { c: 100 }), snap("buy", "buy", "hold"));
  assertEquals(step.intents.map((x) => x.kind), ["enter_long"]);
});

Deno.test("indicator_vote: obv_trend's look-back is asked for at warm-up", () => {
  const params = (evaluators: unknown[]) =>
    createInstance(indicatorVote, { symbol: "AAPL", params: { evaluators } }).params;
  assertEquals(indicatorVote.warmupBars?.(params(EVALUATORS)), 0);
  assertEquals(
    indicatorVote.warmupBars?.(params([...EVALUATORS, { type: "obv_trend", bars: 40 }])),
    41,
  );
});
