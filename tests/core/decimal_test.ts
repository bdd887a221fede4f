import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { dec, Decimal, DecimalError, type RoundingMode, SCALE } from "../../core/decimal.ts";

/** Fixed seed: property tests check the same cases on every run. */
const FC = { seed: 20261123, numRuns: 500 } as const;
const ONE = 10n ** BigInt(SCALE);

/** Nano-unit counts from tiny to well past 2^64, both signs. */
const units = fc.oneof(
  fc.bigInt({ min: -1_000_000n, max: 1_000_000n }),
  fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }),
);
const nonZeroUnits = units.filter((u) => u !== 0n);
const decimals = units.map((u) => Decimal.fromUnits(u));

function floorDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return (n % d !== 0n) && ((n < 0n) !== (d < 0n)) ? q - 1n : q;
}

Deno.test("Decimal.parse and toString: canonical text", () => {
  const cases: Array<[string | number, string]> = [
    ["0", "0"],
    ["-0", "0"],
    ["+1.50", "1.5"],
    [".5", "0.5"],
    ["-.5", "-0.5"],
    ["1.", "1"],
    ["000123.4500", "123.45"],
    ["150", "150"],
    ["-0.000000001", "-0.000000001"],
    ["1.1234567890", "1.123456789"],
    ["  42.10 ", "42.1"],
    ["123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"],
    [151.1, "151.1"],
    [1e-7, "0.0000001"],
    [1e21, "1000000000000000000000"],
  ];
  for (const [input, expected] of cases) {
    assertEquals(Decimal.parse(input).toString(), expected, `parse(${input})`);
  }
  // -2.5e-9 has ten places: it needs a rounding mode (half-even ties to the even 2)
  assertThrows(() => Decimal.parse(-2.5e-9), DecimalError);
  assertEquals(Decimal.parse(-2.5e-9, "half_even").toString(), "-0.000000002");
});

Deno.test("Decimal.parse: refuses what is not a decimal", () => {
  for (const bad of ["", "abc", "1e5", "1.2.3", "--1", "0x10", "1,5", ".", "+"]) {
    assertThrows(() => Decimal.parse(bad), DecimalError, "Cannot read");
  }
  assertThrows(() => Decimal.parse(Number.NaN), DecimalError);
  assertThrows(() => Decimal.parse(Infinity), DecimalError);
  assertThrows(() => Decimal.parse("1.0000000001"), DecimalError, "more than 9 decimal places");
  assertEquals(Decimal.tryParse("nope"), null);
  assertEquals(Decimal.tryParse("2")?.toString(), "2");
});

Deno.test("Decimal.parse with a rounding mode: beyond nine places", () => {
  const cases: Array<[string, RoundingMode, string]> = [
    ["1.0000000005", "half_even", "1"],
    ["1.0000000015", "half_even", "1.000000002"],
    ["1.0000000005", "half_up", "1.000000001"],
    ["-1.0000000005", "half_up", "-1.000000001"],
    ["1.0000000009", "down", "1"],
    ["-1.0000000001", "floor", "-1.000000001"],
    ["1.0000000001", "ceil", "1.000000001"],
    ["1.0000000001", "up", "1.000000001"],
  ];
  for (const [text, mode, expected] of cases) {
    assertEquals(Decimal.parse(text, mode).toString(), expected, `${text} ${mode}`);
  }
});

Deno.test("Decimal.round: every rounding mode at the tie and off it", () => {
  const cases: Array<[string, number, RoundingMode, string]> = [
    ["2.5", 0, "half_even", "2"],
    ["3.5", 0, "half_even", "4"],
    ["2.5", 0, "half_up", "3"],
    ["2.5", 0, "down", "2"],
    ["2.5", 0, "up", "3"],
    ["2.5", 0, "floor", "2"],
    ["2.5", 0, "ceil", "3"],
    ["-2.5", 0, "half_even", "-2"],
    ["-2.5", 0, "half_up", "-3"],
    ["-2.5", 0, "down", "-2"],
    ["-2.5", 0, "up", "-3"],
    ["-2.5", 0, "floor", "-3"],
    ["-2.5", 0, "ceil", "-2"],
    ["2.51", 0, "half_even", "3"],
    ["2.49", 0, "half_up", "2"],
    ["1.005", 2, "half_even", "1"],
    ["1.015", 2, "half_even", "1.02"],
    ["1.005", 2, "half_up", "1.01"],
    ["290.123", 2, "down", "290.12"],
    ["0.12345", 4, "half_up", "0.1235"],
    ["7", 9, "half_even", "7"],
  ];
  for (const [text, places, mode, expected] of cases) {
    assertEquals(dec(text).round(places, mode).toString(), expected, `${text} ${places} ${mode}`);
  }
  assertThrows(() => dec("1").round(10), DecimalError, "Cannot round");
  assertThrows(() => dec("1").round(1.5), DecimalError);
});

Deno.test("Decimal.mul and div: nine places, rounding, division by zero", () => {
  assertEquals(dec("2.5").mul(dec("174.78")).toString(), "436.95");
  assertEquals(dec("1").div(dec("3")).toString(), "0.333333333");
  assertEquals(dec("2").div(dec("3")).toString(), "0.666666667");
  assertEquals(dec("2").div(dec("3"), "down").toString(), "0.666666666");
  assertEquals(dec("-2").div(dec("3"), "floor").toString(), "-0.666666667");
  assertEquals(dec("0.000000001").mul(dec("0.5")).toString(), "0");
  assertEquals(dec("0.000000003").mul(dec("0.5")).toString(), "0.000000002");
  assertEquals(dec("0.000000003").mul(dec("0.5"), "half_up").toString(), "0.000000002");
  assertThrows(() => dec("1").div(Decimal.ZERO), DecimalError, "Cannot divide by zero");
});

Deno.test("Decimal: toFixed, decimalPlaces, predicates, min, max, sum, int", () => {
  assertEquals(dec("1.5").toFixed(2), "1.50");
  assertEquals(dec("-0.001").toFixed(2), "0.00");
  assertEquals(dec("2.345").toFixed(2), "2.34");
  assertEquals(dec("10").toFixed(0), "10");
  assertEquals(dec("290.123").decimalPlaces(), 3);
  assertEquals(dec("-0.0001").decimalPlaces(), 4);
  assertEquals(dec("100").decimalPlaces(), 0);
  assert(dec("3").isInteger() && !dec("3.1").isInteger());
  assert(dec("-1").isNegative() && dec("1").isPositive() && Decimal.ZERO.isZero());
  assertEquals(dec("-4").abs().toString(), "4");
  assertEquals(dec("4").neg().toString(), "-4");
  assertEquals(Decimal.min(dec("1"), dec("2")).toString(), "1");
  assertEquals(Decimal.max(dec("1"), dec("2")).toString(), "2");
  assertEquals(Decimal.sum([dec("0.1"), dec("0.2"), dec("0.3")]).toString(), "0.6");
  assertEquals(Decimal.int(100).toString(), "100");
  assertThrows(() => Decimal.int(1.5), DecimalError);
  assertEquals(JSON.stringify({ p: dec("150.25") }), '{"p":"150.25"}');
  assertEquals(dec("0.1").add(dec("0.2")).toNumber(), 0.3);
});

Deno.test("property: toString and parse round-trip every value", () => {
  fc.assert(
    fc.property(decimals, (d) => {
      const back = Decimal.parse(d.toString());
      return back.units === d.units && back.toString() === d.toString();
    }),
    FC,
  );
});

Deno.test("property: toFixed(9) parses back to the same value", () => {
  fc.assert(fc.property(decimals, (d) => Decimal.parse(d.toFixed(9)).eq(d)), FC);
});

Deno.test("property: add, sub, neg and cmp agree with bigint arithmetic", () => {
  fc.assert(
    fc.property(units, units, (a, b) => {
      const x = Decimal.fromUnits(a);
      const y = Decimal.fromUnits(b);
      return x.add(y).units === a + b &&
        x.sub(y).units === a - b &&
        x.add(y).sub(y).eq(x) &&
        x.add(y).eq(y.add(x)) &&
        x.add(x.neg()).isZero() &&
        x.cmp(y) === (a < b ? -1 : a > b ? 1 : 0) &&
        x.lt(y) === a < b && x.gte(y) === a >= b;
    }),
    FC,
  );
});

Deno.test("property: mul agrees with bigint arithmetic in every mode", () => {
  fc.assert(
    fc.property(units, units, (a, b) => {
      const x = Decimal.fromUnits(a);
      const y = Decimal.fromUnits(b);
      const exact = a * b; // in units², i.e. scaled by 10^18
      const trunc = exact / ONE;
      const floor = floorDiv(exact, ONE);
      const ceil = -floorDiv(-exact, ONE);
      const near = x.mul(y).units; // half_even
      const err = near * ONE - exact;
      return x.mul(y, "down").units === trunc &&
        x.mul(y, "floor").units === floor &&
        x.mul(y, "ceil").units === ceil &&
        (err < 0n ? -err : err) * 2n <= ONE &&
        x.mul(y).eq(y.mul(x)) &&
        x.mul(Decimal.ONE).eq(x);
    }),
    FC,
  );
});

Deno.test("property: div agrees with bigint arithmetic and inverts mul by an integer", () => {
  fc.assert(
    fc.property(units, nonZeroUnits, fc.bigInt({ min: 1n, max: 10n ** 6n }), (a, b, k) => {
      const x = Decimal.fromUnits(a);
      const y = Decimal.fromUnits(b);
      const n = a * ONE;
      const kk = Decimal.fromUnits(k * ONE);
      return x.div(y, "floor").units === floorDiv(n, b) &&
        x.div(y, "down").units === n / b &&
        x.mul(kk).div(kk).eq(x) &&
        x.div(Decimal.ONE).eq(x);
    }),
    FC,
  );
});

Deno.test("property: round leaves at most the asked places, within half a step", () => {
  fc.assert(
    fc.property(decimals, fc.integer({ min: 0, max: SCALE }), (d, places) => {
      const r = d.round(places);
      const step = 10n ** BigInt(SCALE - places);
      const diff = r.units - d.units;
      return r.decimalPlaces() <= places &&
        (diff < 0n ? -diff : diff) * 2n <= step &&
        d.round(places, "floor").lte(d) && d.round(places, "ceil").gte(d) &&
        d.round(places, "down").abs().lte(d.abs());
    }),
    FC,
  );
});

Deno.test("property: int(n) times x is exactly n copies of x", () => {
  fc.assert(
    fc.property(decimals, fc.integer({ min: -10_000, max: 10_000 }), (d, n) => {
      return Decimal.int(n).mul(d).units === d.units * BigInt(n);
    }),
    FC,
  );
});
