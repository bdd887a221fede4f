import { assertEquals, assertStringIncludes, assertThrows } from "../_assert.ts";
import { TradeError } from "../../core/errors.ts";
import { IndicatorSet } from "../../strategies/indicator_spec.ts";
import { smaCross } from "../../strategies/sma_cross.ts";
import {
  createInstance,
  type IntentKind,
  replayBars,
  stepBar,
  warmBar,
} from "../../strategies/strategy.ts";
import { bar, closeBars } from "./_bars.ts";

/** Feeds (fast, slow) pairs straight in as SMA(2)/SMA(4) values; answers intents per bar. */
function drive(pairs: [number | null, number | null][], allowShort = false): IntentKind[][] {
  let instance = createInstance(smaCross, {
    symbol: "AAPL",
    params: { fast: 2, slow: 4, allowShort },
  });
  return pairs.map(([f, s], i) => {
    const step = stepBar(smaCross, instance, bar(i, { c: 100 }), { "sma:2": f, "sma:4": s });
    instance = step.instance;
    return step.intents.map((x) => x.kind);
  });
}

Deno.test("sma_cross: nothing while warming; being above at the start is not a cross", () => {
  assertEquals(drive([[null, null], [10, null], [11, 10], [12, 10]]), [[], [], [], []]);
});

Deno.test("sma_cross: long on an upward cross, flat on a downward cross (long-only)", () => {
  assertEquals(
    drive([[9, 10], [11, 10], [12, 10], [9, 10], [8, 10]]),
    [[], ["enter_long"], [], ["exit_long"], []],
  );
  // A downward cross while flat does nothing when long-only.
  assertEquals(drive([[11, 10], [9, 10], [11, 10]]), [[], [], ["enter_long"]]);
});

Deno.test("sma_cross: equality is a touch; sign 0 keeps the previous non-zero sign", () => {
  // −, 0, −: touch from below and back: no cross.
  assertEquals(drive([[9, 10], [10, 10], [9, 10]]), [[], [], []]);
  // −, 0, 0, +: cross up through touches, on the + bar only.
  assertEquals(drive([[9, 10], [10, 10], [10, 10], [11, 10]]), [[], [], [], ["enter_long"]]);
  // 0 before any sign, then +: the first sign is not a cross.
  assertEquals(drive([[10, 10], [11, 10]]), [[], []]);
  // +, 0, −, 0, +: one cross down, one cross up.
  assertEquals(
    drive([[11, 10], [10, 10], [9, 10], [10, 10], [11, 10]]),
    [[], [], [], [], ["enter_long"]],
  );
});

Deno.test("sma_cross: allowShort reverses on each cross", () => {
  assertEquals(
    drive([[11, 10], [9, 10], [11, 10], [9, 10]], true),
    [[], ["enter_short"], ["exit_short", "enter_long"], ["exit_long", "enter_short"]],
  );
});

Deno.test("sma_cross on real bars: exact SMAs make equal windows a touch", () => {
  // SMA(2) vs SMA(4): 1,1,1,1 touch (0); 2: + (first sign); 0: 1 vs 1 touch; 0: 0 vs 0.75 down
  // (flat, long-only: nothing); 3: 1.5 vs 1.25 up → enter; 1.5: + ; 0: 0.75 vs 1.125 down → exit.
  const bars = closeBars([1, 1, 1, 1, 2, 0, 0, 3, 1.5, 0]);
  const run = (allowShort: boolean) => {
    const instance = createInstance(smaCross, {
      symbol: "AAPL",
      params: { fast: 2, slow: 4, allowShort },
    });
    return replayBars(smaCross, instance, bars, new IndicatorSet()).intents.map((
      i,
    ) => [i.kind, i.t]);
  };
  assertEquals(run(false), [["enter_long", bars[7]!.t], ["exit_long", bars[9]!.t]]);
  assertEquals(run(true), [
    ["enter_short", bars[6]!.t],
    ["exit_short", bars[7]!.t],
    ["enter_long", bars[7]!.t],
    ["exit_long", bars[9]!.t],
    ["enter_short", bars[9]!.t],
  ]);
  // Decimal closes whose window means are equal as exact numbers: a touch, never a cross.
  // (A float running sum would make SMA(4) 0.19999999999999996 here and see a cross up.)
  assertEquals((0.5 + 0.1 + 0.3 + 0.2 - 0.5 + 0.2) / 4, 0.19999999999999996);
  const decimals = closeBars([0.5, 0.1, 0.3, 0.2, 0.2]);
  const instance = createInstance(smaCross, { symbol: "X", params: { fast: 2, slow: 4 } });
  const set = new IndicatorSet();
  const out = replayBars(smaCross, instance, decimals, set);
  assertEquals(set.snapshot(), { "sma:2": 0.2, "sma:4": 0.2 });
  assertEquals(out.instance.state, { sign: -1, position: "flat" }); // 0.25 < 0.275, then a touch
});

Deno.test("sma_cross: the intent carries symbol, reason, snapshot and bar time", () => {
  let instance = createInstance(smaCross, { symbol: "MSFT", params: { fast: 2, slow: 4 } });
  instance = stepBar(smaCross, instance, bar(0, { c: 1 }), { "sma:2": 9, "sma:4": 10 }).instance;
  const step = stepBar(smaCross, instance, bar(1, { c: 1 }), { "sma:2": 10.5, "sma:4": 10 });
  assertEquals(step.intents, [{
    kind: "enter_long",
    symbol: "MSFT",
    reason: "SMA(2) 10.5 crossed above SMA(4) 10",
    snapshot: { "sma:2": 10.5, "sma:4": 10 },
    t: bar(1, { c: 1 }).t,
  }]);
  assertEquals(step.instance.state, { sign: 1, position: "long" });
  assertEquals(instance.state, { sign: -1, position: "flat" }, "the old instance is untouched");
});

Deno.test("sma_cross: params are validated", () => {
  const err = assertThrows(
    () => createInstance(smaCross, { symbol: "AAPL", params: { fast: 30, slow: 10 } }),
    TradeError,
  );
  assertStringIncludes(
    err.message,
    'Cannot configure strategy "sma_cross": fast: fast must be below slow',
  );
  assertEquals(createInstance(smaCross, { symbol: "AAPL" }).params, {
    fast: 10,
    slow: 30,
    allowShort: false,
  });
});

Deno.test("sma_cross: warm-up remembers the sign but not a position; the first live bar can cross", () => {
  let instance = createInstance(smaCross, {
    symbol: "AAPL",
    params: { fast: 2, slow: 4, allowShort: false },
  });
  // History with a cross up on its last bar: learnt, not traded, so the belief stays flat.
  const history: [number, number][] = [[9, 10], [11, 10]];
  for (const [i, [f, s]] of history.entries()) {
    instance = warmBar(smaCross, instance, bar(i, { c: 100 }), { "sma:2": f, "sma:4": s });
  }
  assertEquals(instance.state, { sign: 1, position: "flat" });
  // Live: still above is no cross; the cross down while flat is nothing (long-only); up buys.
  const pairs: [number, number][] = [[12, 10], [9, 10], [11, 10]];
  const live = pairs.map(([f, s], i) => {
    const step = stepBar(smaCross, instance, bar(2 + i, { c: 100 }), { "sma:2": f, "sma:4": s });
    instance = step.instance;
    return step.intents.map((x) => x.kind);
  });
  assertEquals(live, [[], [], ["enter_long"]]);
});
