import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { ExactSum, exactVariance, ratioToNumber, splitDouble } from "../../strategies/_exact.ts";

const FC = { seed: 20260206, numRuns: 500 } as const;

Deno.test("exact: a double splits into an odd integer times a power of two, losslessly", () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      const [m, e] = splitDouble(x);
      if (x === 0) return m === 0n;
      return ((m < 0n ? -m : m) & 1n) === 1n && Object.is(ratioToNumber(m, e, 1n), x);
    }),
    FC,
  );
  assertEquals(splitDouble(100), [25n, 2]);
  assertEquals(splitDouble(-0.5), [-1n, -1]);
  assertEquals(splitDouble(5e-324), [1n, -1074]);
  assertThrows(() => splitDouble(NaN), RangeError, "NaN");
  assertThrows(() => splitDouble(Infinity), RangeError);
});

Deno.test("exact: ratios of safe integers round exactly like IEEE division", () => {
  const safe = fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 });
  fc.assert(
    fc.property(safe, fc.integer({ min: 1, max: 2 ** 53 - 1 }), (a, b) => {
      return Object.is(ratioToNumber(BigInt(a), 0, BigInt(b)), a / b || 0);
    }),
    FC,
  );
  // Scaled by powers of two (no subnormals): (a / b) · 2^e.
  fc.assert(
    fc.property(
      safe,
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: -900, max: 900 }),
      (a, b, e) => {
        return Object.is(ratioToNumber(BigInt(a), e, BigInt(b)), (a / b) * 2 ** e || 0);
      },
    ),
    FC,
  );
});

Deno.test("exact: subnormal results round half to even; huge ones overflow", () => {
  assertEquals(ratioToNumber(1n, -1074, 2n), 0); // half of the smallest subnormal: tie to 0
  assertEquals(ratioToNumber(3n, -1074, 2n), 2 * 5e-324); // 1.5 units: tie to 2
  assertEquals(ratioToNumber(5n, -1074, 4n), 5e-324); // 1.25 units
  assertEquals(ratioToNumber(1n, 1024, 1n), Infinity);
  assertEquals(ratioToNumber(-1n, 1024, 1n), -Infinity);
  assertEquals(ratioToNumber((1n << 54n) - 1n, 970, 1n), Infinity); // rounds up past the max
});

Deno.test("exact: sums leave no residue, whatever the order", () => {
  const s = new ExactSum();
  for (const x of [0.1, 0.2, 0.3, 1e20, -1e20, 1e-300]) s.add(x);
  s.sub(1e-300);
  s.sub(0.2);
  s.sub(0.1);
  s.sub(0.3);
  assertEquals(s.units, 0n);
  assertEquals(s.mean(3), 0);
  // 0.1 + 0.2 + 0.3 over 3: the exact mean of those doubles, rounded once.
  const t = new ExactSum();
  for (const x of [0.3, 0.1, 0.2]) t.add(x);
  assertEquals(t.mean(3), 0.2);
  assert((0.1 + 0.2 + 0.3) / 3 !== 0.2, "the float sum would not give 0.2");
});

Deno.test("exact: population variance of a constant window is exactly zero", () => {
  const sum = new ExactSum();
  const squares = new ExactSum();
  for (let i = 0; i < 7; i++) {
    sum.add(0.1);
    squares.addSquare(0.1);
  }
  assertEquals(exactVariance(sum, squares, 7), 0);
  sum.add(0.3);
  squares.addSquare(0.3);
  sum.sub(0.1);
  squares.subSquare(0.1);
  assert(exactVariance(sum, squares, 7) > 0);
});
