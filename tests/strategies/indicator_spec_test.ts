import { assert, assertEquals, assertStringIncludes, assertThrows } from "../_assert.ts";
import { TradeError } from "../../core/errors.ts";
import {
  createIndicator,
  INDICATOR_NAMES,
  indicatorKey,
  IndicatorSet,
  parseIndicatorKey,
  parseIndicatorSpec,
  readIndicator,
  specs,
} from "../../strategies/indicator_spec.ts";
import { Ema, Macd } from "../../strategies/indicators.ts";
import { closeBars, randomBars } from "./_bars.ts";

Deno.test("indicator keys: name then params in a fixed order, defaults filled in", () => {
  const cases: [Parameters<typeof parseIndicatorSpec>[0], string][] = [
    [{ name: "ema", params: { period: 20 } }, "ema:20"],
    [{ name: "sma" }, "sma:20"],
    [{ name: "rsi" }, "rsi:14"],
    [{ name: "macd" }, "macd:12,26,9"],
    [{ name: "macd", params: { signal: 5, slow: 30, fast: 8 } }, "macd:8,30,5"],
    [{ name: "bbands", params: { k: 2.5 } }, "bbands:20,2.5"],
    [{ name: "stoch" }, "stoch:14,3,3"],
    [{ name: "obv" }, "obv"],
    [{ name: "atr", params: { period: 10 } }, "atr:10"],
  ];
  for (const [input, key] of cases) {
    const spec = parseIndicatorSpec(input);
    assertEquals(indicatorKey(spec), key);
    assertEquals(parseIndicatorKey(key), spec, key);
  }
  assertEquals(indicatorKey(specs.macd()), "macd:12,26,9");
  assertEquals(indicatorKey(specs.stoch(5, 1, 1)), "stoch:5,1,1");
  assertEquals(INDICATOR_NAMES, ["atr", "bbands", "ema", "macd", "obv", "rsi", "sma", "stoch"]);
});

Deno.test("indicator specs: bad params fail with a clear TradeError", () => {
  const cases: [unknown, string][] = [
    [{ name: "ema", params: { period: 0 } }, 'Cannot create indicator "ema": params.period:'],
    [{ name: "sma", params: { period: 2.5 } }, "params.period: Invalid input: expected int"],
    [{ name: "macd", params: { fast: 30 } }, "params.fast: fast must be below slow"],
    [{ name: "rsi", params: { length: 14 } }, 'Unrecognized key: "length"'],
    [{ name: "bbands", params: { k: -1 } }, "params.k:"],
    [{ name: "vwap" }, 'Cannot create indicator "vwap": unknown name; known indicators are "atr"'],
    [null, 'Cannot create indicator "undefined"'],
  ];
  for (const [input, text] of cases) {
    const err = assertThrows(
      () => createIndicator(input as Parameters<typeof createIndicator>[0]),
      TradeError,
    );
    assertStringIncludes(err.message, text);
    assertEquals(err.code, "INVALID_REQUEST");
    assertEquals(err.status, 400);
  }
  for (const key of ["ema", "ema:", "ema:20,3", "ema:x", "ema:020", "macd:26,12,9", "foo:1"]) {
    assertThrows(() => parseIndicatorKey(key), TradeError, undefined);
  }
  assertStringIncludes(
    assertThrows(() => parseIndicatorKey("ema:020"), TradeError).message,
    'not canonical, use "ema:20"',
  );
});

Deno.test("createIndicator: from a spec or a key, the right indicator with the right params", () => {
  const ema = createIndicator("ema:7");
  assert(ema instanceof Ema);
  assertEquals(ema.warmup, 7);
  const macd = createIndicator({ name: "macd", params: { fast: 5, slow: 10, signal: 3 } });
  assert(macd instanceof Macd);
  assertEquals(macd.warmup, 12);
  for (const name of INDICATOR_NAMES) assert(createIndicator({ name }).warmup >= 1, name);
});

Deno.test("IndicatorSet: one indicator per key, shared and reference-counted", () => {
  const set = new IndicatorSet();
  assertEquals(set.add({ name: "sma", params: { period: 3 } }), "sma:3");
  assertEquals(set.add(specs.sma(3)), "sma:3");
  assertEquals(set.add({ name: "obv" }), "obv");
  assertEquals(set.keys(), ["sma:3", "obv"]);
  const bars = closeBars([1, 2, 3, 4]);
  const snaps = bars.map((b) => set.update(b));
  assertEquals(snaps[1], { "sma:3": null, obv: 2000 });
  assertEquals(snaps[3], { "sma:3": 3, obv: 4000 });
  assertEquals(set.peek(closeBars([0, 0, 0, 0, 10])[4]!), { "sma:3": 17 / 3, obv: 5000 });
  assertEquals(set.snapshot(["sma:3", "rsi:14"]), { "sma:3": 3, "rsi:14": null });
  assertEquals(set.release("sma:3"), false); // one user left
  assertEquals(set.release("sma:3"), true);
  assertEquals(set.keys(), ["obv"]);
  assertEquals(set.release("sma:3"), false);
});

Deno.test("IndicatorSet: a late indicator warms from history and then agrees with an early one", () => {
  const bars = randomBars(21, 80);
  const early = new IndicatorSet();
  early.add(specs.rsi(14));
  bars.slice(0, 50).forEach((b) => early.update(b));
  const late = new IndicatorSet();
  late.add(specs.rsi(14), bars.slice(0, 50));
  for (const b of bars.slice(50)) assertEquals(late.update(b), early.update(b));
});

Deno.test("readIndicator: typed value; a key the strategy did not declare is a loud error", () => {
  const snapshot = { "ema:20": 101.5, "macd:12,26,9": null };
  assertEquals(readIndicator(snapshot, specs.ema(20)), 101.5);
  assertEquals(readIndicator(snapshot, specs.macd()), null);
  assertStringIncludes(
    assertThrows(() => readIndicator(snapshot, specs.rsi())).message,
    'Cannot read indicator "rsi:14": not in the snapshot (has "ema:20", "macd:12,26,9")',
  );
});
