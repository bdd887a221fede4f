import { assert, assertEquals, assertStringIncludes, assertThrows } from "../_assert.ts";
import { TradeError } from "../../core/errors.ts";
import { rsiReversion } from "../../strategies/examples/rsi_reversion.ts";
import { IndicatorSet } from "../../strategies/indicator_spec.ts";
import { findStrategy, StrategyRegistry } from "../../strategies/registry.ts";
import { smaCross } from "../../strategies/sma_cross.ts";
import {
  createInstance,
  type Intent,
  replayBars,
  stepBar,
  stepFill,
  type StrategyDefinition,
  type StrategyInstance,
} from "../../strategies/strategy.ts";
import { bar, randomBars } from "./_bars.ts";

Deno.test("registry: the two built-ins and the example custom strategy, by name", () => {
  const registry = new StrategyRegistry();
  assertEquals(registry.names(), ["indicator_vote", "rsi_reversion", "sma_cross"]);
  assertEquals(registry.get("sma_cross"), smaCross as StrategyDefinition);
  assertEquals(findStrategy("rsi_reversion").name, "rsi_reversion");
  assert(registry.has("indicator_vote") && !registry.has("nope"));
});

Deno.test("registry: an unknown name fails listing the known ones", () => {
  const err = assertThrows(() => findStrategy("golden_cross"), TradeError);
  assertEquals(
    err.message,
    'Cannot find strategy "golden_cross": known strategies are "indicator_vote", "rsi_reversion", "sma_cross"',
  );
  assertEquals(err.code, "INVALID_REQUEST");
  assertEquals(err.details, {
    strategy: "golden_cross",
    known: ["indicator_vote", "rsi_reversion", "sma_cross"],
  });
});

Deno.test("registry: duplicate or badly named definitions are refused; params described", () => {
  assertThrows(
    () => new StrategyRegistry([smaCross as StrategyDefinition, smaCross as StrategyDefinition]),
    Error,
    "already registered",
  );
  assertThrows(
    () => new StrategyRegistry([{ ...smaCross, name: "SMA Cross" } as StrategyDefinition]),
    Error,
    "snake_case",
  );
  const custom = new StrategyRegistry([rsiReversion as StrategyDefinition]);
  assertEquals(custom.names(), ["rsi_reversion"]);
  const [described] = new StrategyRegistry([smaCross as StrategyDefinition]).describe();
  assertEquals(described?.name, "sma_cross");
  assertEquals(
    (described?.params.properties as Record<string, { default?: unknown }>).fast?.default,
    10,
  );
});

function feed(
  instance: StrategyInstance<unknown, unknown>,
  def: StrategyDefinition,
  steps: [number, Record<string, number | null>][],
) {
  const intents: Intent[][] = [];
  let current = instance;
  steps.forEach(([c, snap], i) => {
    const step = stepBar(def, current, bar(i, { c }), snap);
    current = step.instance;
    intents.push(step.intents);
  });
  return { instance: current, intents: intents.map((l) => l.map((x) => x.kind)) };
}

Deno.test("rsi_reversion: enters below 30, exits above 50", () => {
  const def = findStrategy("rsi_reversion");
  const start = createInstance(def, { symbol: "AAPL" });
  const out = feed(start, def, [
    [100, { "rsi:14": null, "atr:14": null }],
    [100, { "rsi:14": 35, "atr:14": 1 }],
    [100, { "rsi:14": 25, "atr:14": 1 }],
    [100, { "rsi:14": 20, "atr:14": 1 }],
    [100, { "rsi:14": 50, "atr:14": 1 }],
    [100, { "rsi:14": 55, "atr:14": 1 }],
  ]);
  assertEquals(out.intents, [[], [], ["enter_long"], [], [], ["exit_long"]]);
});

Deno.test("rsi_reversion: learns the entry price from fills and stops out 2 ATR below it", () => {
  const def = findStrategy("rsi_reversion");
  let instance =
    feed(createInstance(def, { symbol: "AAPL" }), def, [[100, { "rsi:14": 25, "atr:14": 1 }]])
      .instance;
  const fill = (side: "buy" | "sell", qty: string, price: string, positionQty: string) =>
    stepFill(def, instance, { symbol: "AAPL", side, qty, price, positionQty, ts: 0 }).instance;
  instance = fill("buy", "10", "100", "10");
  instance = fill("buy", "10", "98", "20"); // average 99
  assertEquals(instance.state, { position: "long", entryPrice: 99 });
  const held = feed(instance, def, [[97.5, { "rsi:14": 40, "atr:14": 0.7 }]]); // stop 97.6
  assertEquals(held.intents, [["exit_long"]]);
  const kept = feed(instance, def, [[97.7, { "rsi:14": 40, "atr:14": 0.7 }]]);
  assertEquals(kept.intents, [[]]);
  // A fill that leaves the position flat (say a broker-side stop) resets the strategy.
  instance = fill("sell", "20", "97", "0");
  assertEquals(instance.state, { position: "flat", entryPrice: null });
});

Deno.test("strategies: deterministic, and a cloned mid-run state resumes identically", () => {
  const bars = randomBars(2024, 500);
  for (
    const [name, params] of [
      ["sma_cross", { fast: 5, slow: 20, allowShort: true }],
      ["rsi_reversion", { period: 7, entryBelow: 35, exitAbove: 55 }],
      ["indicator_vote", {
        evaluators: [{ type: "rsi" }, { type: "ma_cross", ma: "ema", fast: 5, slow: 15 }, {
          type: "obv_trend",
        }],
        minFraction: 0.3,
      }],
    ] as const
  ) {
    const def = findStrategy(name);
    const fresh = () => createInstance(def, { symbol: "QQQ", params });
    const whole = replayBars(def, fresh(), bars, new IndicatorSet());
    assertEquals(replayBars(def, fresh(), bars, new IndicatorSet()), whole, name);
    assert(whole.intents.length > 0, `${name} traded`);
    // Hand the state over half-way, as to a Worker: clone it, keep the indicators.
    const set = new IndicatorSet();
    const first = replayBars(def, fresh(), bars.slice(0, 250), set);
    const moved = structuredClone(first.instance);
    assertEquals(JSON.parse(JSON.stringify(moved)), moved, `${name} state is plain data`);
    const second = replayBars(def, moved, bars.slice(250), set);
    assertEquals([...first.intents, ...second.intents], whole.intents, name);
    assertEquals(second.instance, whole.instance, name);
  }
});

Deno.test("strategies: running a definition on another strategy's instance fails loudly", () => {
  const instance = createInstance(smaCross, { symbol: "AAPL" });
  assertStringIncludes(
    assertThrows(() =>
      stepBar(findStrategy("rsi_reversion"), instance as StrategyInstance, bar(0, { c: 1 }), {})
    )
      .message,
    'Cannot run strategy "rsi_reversion" on an instance of "sma_cross"',
  );
  assertThrows(() => createInstance(smaCross, { symbol: "" }), TradeError, "no symbol");
  // No onOrderFilled: a fill changes nothing.
  const same = stepFill(smaCross, instance, {
    symbol: "AAPL",
    side: "buy",
    qty: "1",
    price: "1",
    positionQty: "1",
    ts: 0,
  });
  assertEquals(same, { instance, intents: [] });
});
