import { assertEquals, assertStringIncludes, assertThrows } from "../_assert.ts";
import { TradeError } from "../../core/errors.ts";
import {
  createEvaluator,
  type Evaluator,
  type EvaluatorState,
  parseEvaluatorConfig,
  type SignalAction,
} from "../../strategies/evaluators.ts";
import type { IndicatorSnapshot } from "../../strategies/indicator_spec.ts";
import { crossStep } from "../../strategies/cross.ts";

/** Runs an evaluator over (close, snapshot) steps; answers the actions and the last reason. */
function drive(e: Evaluator, steps: [number, IndicatorSnapshot][]) {
  let state: EvaluatorState = e.initialState();
  const actions: SignalAction[] = [];
  let reason = "";
  let snapshot = {};
  for (const [c, snap] of steps) {
    const step = e.evaluate(state, { c }, snap);
    state = step.state;
    actions.push(step.signal.action);
    reason = step.signal.reason;
    snapshot = step.signal.snapshot;
    // State stays plain data.
    assertEquals(structuredClone(state), state);
  }
  return { actions, reason, snapshot, state };
}

const one = (e: Evaluator, c: number, snap: IndicatorSnapshot) => drive(e, [[c, snap]]);

Deno.test("rsi evaluator: below 30 buys, above 70 sells, the thresholds themselves hold", () => {
  const e = createEvaluator({ type: "rsi" });
  assertEquals(e.indicators, [{ name: "rsi", params: { period: 14 } }]);
  const got = (rsi: number | null) => one(e, 100, { "rsi:14": rsi });
  assertEquals(got(24.5).actions, ["buy"]);
  assertEquals(got(24.5).reason, "RSI(14) 24.5 below 30");
  assertEquals(got(24.5).snapshot, { "rsi:14": 24.5 });
  assertEquals(got(70.01).actions, ["sell"]);
  assertEquals(got(70.01).reason, "RSI(14) 70.01 above 70");
  assertEquals(got(30).actions, ["hold"]);
  assertEquals(got(70).actions, ["hold"]);
  assertEquals(got(null).actions, ["hold"]);
  assertStringIncludes(got(null).reason, 'Warming up: "rsi:14"');
  const custom = createEvaluator({ type: "rsi", period: 7, oversold: 20, overbought: 80 });
  assertEquals(one(custom, 1, { "rsi:7": 25 }).actions, ["hold"]);
});

Deno.test("macd_cross evaluator: a change of sign of macd − signal; equality is a touch", () => {
  const e = createEvaluator({ type: "macd_cross" });
  const m = (macd: number, signal: number) => ({
    "macd:12,26,9": { macd, signal, histogram: macd - signal },
  });
  const run = drive(e, [
    [1, { "macd:12,26,9": null }], // warming
    [1, m(0.5, 0.2)], // first sign (+): not a cross
    [1, m(0.3, 0.3)], // touch
    [1, m(0.4, 0.1)], // back above: still no cross
    [1, m(0.2, 0.2)], // touch
    [1, m(-0.1, 0.1)], // below: cross down through the touch
    [1, m(-0.2, 0.1)], // stays below
    [1, m(0.3, 0.1)], // cross up
  ]);
  assertEquals(run.actions, ["hold", "hold", "hold", "hold", "hold", "sell", "hold", "buy"]);
  assertEquals(run.reason, "MACD crossed above signal (MACD 0.3, signal 0.1)");
  assertEquals(run.state, { sign: 1 });
});

Deno.test("price_ma evaluator: close above the MA buys, below sells, at it holds", () => {
  const sma = createEvaluator({ type: "price_ma", period: 50 });
  assertEquals(one(sma, 101, { "sma:50": 100 }).actions, ["buy"]);
  assertEquals(one(sma, 99, { "sma:50": 100 }).actions, ["sell"]);
  assertEquals(one(sma, 100, { "sma:50": 100 }).actions, ["hold"]);
  assertEquals(one(sma, 100, { "sma:50": null }).actions, ["hold"]);
  const ema = createEvaluator({ type: "price_ma", ma: "ema", period: 9 });
  assertEquals(one(ema, 99, { "ema:9": 100 }).reason, "Close 99 below EMA(9) 100");
});

Deno.test("ma_cross evaluator: fast crossing slow, with the same touch rule", () => {
  const e = createEvaluator({ type: "ma_cross", ma: "ema", fast: 5, slow: 20 });
  const s = (f: number | null, sl: number | null) => ({ "ema:5": f, "ema:20": sl });
  const run = drive(e, [
    [0, s(null, null)],
    [0, s(10, null)],
    [0, s(9, 10)], // first sign (−)
    [0, s(10, 10)], // touch
    [0, s(9.5, 10)], // back below: no cross
    [0, s(10.5, 10)], // up
    [0, s(10, 10)], // touch
    [0, s(9, 10)], // down
  ]);
  assertEquals(run.actions, ["hold", "hold", "hold", "hold", "hold", "buy", "hold", "sell"]);
  assertEquals(run.reason, "EMA(5) crossed below EMA(20) (EMA(5) 9, EMA(20) 10)");
});

Deno.test("bbands evaluator: below the lower band buys, above the upper sells", () => {
  const e = createEvaluator({ type: "bbands", period: 20, k: 2 });
  const snap = { "bbands:20,2": { upper: 110, middle: 100, lower: 90 } };
  assertEquals(one(e, 89.99, snap).actions, ["buy"]);
  assertEquals(one(e, 110.5, snap).actions, ["sell"]);
  assertEquals(one(e, 90, snap).actions, ["hold"]);
  assertEquals(one(e, 110, snap).actions, ["hold"]);
  assertEquals(one(e, 100, { "bbands:20,2": null }).actions, ["hold"]);
});

Deno.test("stoch evaluator: slow %K below 20 buys, above 80 sells", () => {
  const e = createEvaluator({ type: "stoch" });
  const s = (k: number) => ({ "stoch:14,3,3": { k, d: 50 } });
  assertEquals(one(e, 0, s(12)).actions, ["buy"]);
  assertEquals(one(e, 0, s(85)).actions, ["sell"]);
  assertEquals(one(e, 0, s(20)).actions, ["hold"]);
  assertEquals(one(e, 0, s(50)).reason, "Stochastic %K 50 within 20–80");
});

Deno.test("obv_trend evaluator: OBV now against OBV N bars ago", () => {
  const e = createEvaluator({ type: "obv_trend", bars: 3 });
  const o = (v: number | null) => ({ obv: v });
  const run = drive(e, [
    [0, o(null)],
    [0, o(100)],
    [0, o(50)],
    [0, o(80)],
    [0, o(120)],
    [
      0,
      o(40),
    ],
    [0, o(80)],
    [0, o(80)],
  ]);
  // History 100, 50, 80, 120 → 120 > 100 buys; then 40 < 50 sells; 80 = 80 holds; 80 < 120 sells.
  assertEquals(run.actions, ["hold", "hold", "hold", "hold", "buy", "sell", "hold", "sell"]);
  assertEquals(run.state, { history: [120, 40, 80, 80] });
  assertEquals(run.reason, "OBV falling over 3 bars (120 → 80)");
});

Deno.test("evaluator configs: defaults filled in; bad ones fail with named fields", () => {
  assertEquals(parseEvaluatorConfig({ type: "stoch" }), {
    type: "stoch",
    k: 14,
    kSmooth: 3,
    d: 3,
    oversold: 20,
    overbought: 80,
  });
  const cases: [unknown, string][] = [
    [{ type: "rsi", oversold: 80, overbought: 20 }, "oversold: oversold must be below overbought"],
    [{ type: "ma_cross", fast: 30, slow: 10 }, "fast: fast must be below slow"],
    [{ type: "astrology" }, "Cannot create evaluator: type:"],
    [{ type: "price_ma", ma: "wma" }, "ma:"],
    [{ type: "obv_trend", bars: 0 }, "bars:"],
  ];
  for (const [input, text] of cases) {
    assertStringIncludes(assertThrows(() => createEvaluator(input), TradeError).message, text);
  }
});

Deno.test("crossStep: the documented touch rule", () => {
  assertEquals(crossStep(0, 0), { sign: 0, cross: null });
  assertEquals(crossStep(0, 2), { sign: 1, cross: null });
  assertEquals(crossStep(1, 0), { sign: 1, cross: null });
  assertEquals(crossStep(1, 3), { sign: 1, cross: null });
  assertEquals(crossStep(1, -3), { sign: -1, cross: "down" });
  assertEquals(crossStep(-1, 1e-12), { sign: 1, cross: "up" });
  assertEquals(crossStep(-1, NaN), { sign: -1, cross: null });
});
