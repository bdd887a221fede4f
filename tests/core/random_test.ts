import fc from "fast-check";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../_assert.ts";
import { fmix32, hashString, mixKey, Rng, rngFor, streamKey } from "../../core/random.ts";

/** Fixed seed: property tests check the same cases on every run. */
const FC = { seed: 20261123, numRuns: 200 } as const;

Deno.test("random: pinned values (simulated history depends on them)", () => {
  assertEquals(hashString("AAPL"), 1220759451);
  assertEquals(hashString("AAPL", 7), 126636214);
  assertEquals(mixKey(1, 2, 3, 4), 3154791521);
  assertEquals(streamKey(42, "AAPL", 28_000_000), 2570308215);
  const rng = new Rng(42);
  assertEquals([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [
    2837322924,
    544945897,
    479756282,
  ]);
  assertEquals(new Rng(42).normal(), -0.8574326558528615);
  assertEquals(new Rng(42).exponential(), 1.523701390297386);
  assertEquals(new Rng(2 ** 40).nextUint32(), 2051726384);
  assertEquals(mixKey(-1, -(2 ** 40)), 206838210);
  assertEquals(mixKey(Number.MAX_SAFE_INTEGER, 0), 507244787);
});

Deno.test("random: same seed, same stream; reseed restarts it", () => {
  const a = new Rng(7);
  const first = Array.from({ length: 50 }, () => a.next());
  const b = new Rng(7);
  assertEquals(Array.from({ length: 50 }, () => b.next()), first);
  b.reseed(7);
  assertEquals(b.next(), first[0]);
  assertNotEquals(Array.from({ length: 50 }, () => new Rng(8).next()), first);
  assertEquals(rngFor(1, "SPY", 5).nextUint32(), new Rng(streamKey(1, "SPY", 5)).nextUint32());
});

Deno.test("random: ranges and distributions", () => {
  const rng = new Rng(123);
  const n = 200_000;
  let sum = 0, sq = 0, exp = 0, uMin = 1, uMax = 0;
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    uMin = Math.min(uMin, u);
    uMax = Math.max(uMax, u);
    const z = rng.normal();
    sum += z;
    sq += z * z;
    exp += rng.exponential();
    counts[rng.int(-1, 2) + 1]!++;
    const o = rng.nextOpen();
    assert(o > 0 && o < 1);
  }
  assert(uMin >= 0 && uMax < 1 && uMin < 0.001 && uMax > 0.999);
  assert(Math.abs(sum / n) < 0.01, `normal mean ${sum / n}`);
  assert(Math.abs(sq / n - 1) < 0.015, `normal variance ${sq / n}`);
  assert(Math.abs(exp / n - 1) < 0.015, `exponential mean ${exp / n}`);
  for (const c of counts) assert(Math.abs(c / n - 1 / 3) < 0.01, `int counts ${counts}`);
  let heads = 0;
  for (let i = 0; i < 10_000; i++) if (rng.chance(0.25)) heads++;
  assert(Math.abs(heads / 10_000 - 0.25) < 0.02);
  assertEquals(new Set(Array.from({ length: 100 }, () => rng.pick(["a", "b", "c"]))).size, 3);
});

Deno.test("random: bulk fills equal the single draws", () => {
  const a = new Rng(99);
  const b = new Rng(99);
  const z = new Float64Array(5000);
  const e = new Float64Array(5000);
  const u = new Uint32Array(5000);
  a.fillNormal(z);
  a.fillExponential(e, 4000);
  a.fillUint32(u, 3000);
  for (let i = 0; i < 5000; i++) assertEquals(z[i], b.normal());
  for (let i = 0; i < 4000; i++) assertEquals(e[i], b.exponential());
  for (let i = 0; i < 3000; i++) assertEquals(u[i], b.nextUint32());
  assertEquals(a.next(), b.next());
  assertEquals(e[4500], 0); // untouched beyond `count`
});

Deno.test("random: hashing accepts any safe integer and rejects the rest", () => {
  assertNotEquals(mixKey(5, 1), mixKey(5, 1 + 2 ** 32));
  assertNotEquals(mixKey(5, -1), mixKey(5, 2 ** 32 - 1));
  assertNotEquals(streamKey(1, "AAPL", 3), streamKey(1, "AAPL", 3, 1));
  assertNotEquals(streamKey(1, "AAPL", 3), streamKey(2, "AAPL", 3));
  assertNotEquals(streamKey(1, "AAPL", 3), streamKey(1, "AAPM", 3));
  assertEquals(fmix32(0), 0);
  assertThrows(() => mixKey(1, 0.5), RangeError, '"0.5"');
  assertThrows(() => hashString("x", 2 ** 53), RangeError, "seed");
  assertThrows(() => new Rng(NaN), RangeError, '"NaN"');
  assertThrows(() => new Rng(1).int(3, 3), RangeError, "[3, 3)");
  assertThrows(() => new Rng(1).pick([]), RangeError, "empty");
});

Deno.test("random: property: stream keys are deterministic and spread out", () => {
  fc.assert(
    fc.property(
      fc.maxSafeInteger(),
      fc.stringMatching(/^[A-Z]{1,5}$/),
      fc.integer({ min: -1e12, max: 1e12 }),
      (seed, symbol, bucket) => {
        const key = streamKey(seed, symbol, bucket);
        assert(Number.isInteger(key) && key >= 0 && key < 2 ** 32);
        assertEquals(streamKey(seed, symbol, bucket), key);
        assertNotEquals(streamKey(seed, symbol, bucket + 1), key);
        const rng = rngFor(seed, symbol, bucket);
        const u = rng.next();
        assert(u >= 0 && u < 1);
      },
    ),
    FC,
  );
});
