import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { OncePerWindow, type RateDecision, SlidingWindowLimiter } from "../../core/rate_limiter.ts";

const FC = { seed: 20261123, numRuns: 300 } as const;
const MINUTE = 60_000;

function fill(limiter: SlidingWindowLimiter, key: string, limit: number, times: number[]): void {
  for (const t of times) {
    assertEquals(limiter.tryAcquire(key, limit, t), { allowed: true }, `acquire at ${t}`);
  }
}

const range = (n: number, from = 0, step = 1) =>
  Array.from({ length: n }, (_, i) => from + i * step);

Deno.test("rate limiter: the 101st order in a minute is denied until the oldest leaves", () => {
  const limiter = new SlidingWindowLimiter();
  fill(limiter, "u1", 100, range(100, 1_000, 10)); // 1000, 1010, …, 1990
  const denied = limiter.tryAcquire("u1", 100, 31_000);
  assertEquals(denied, { allowed: false, retryAfterMs: 30_000, count: 100, limit: 100 });
  assertEquals(limiter.tryAcquire("u1", 100, 60_999), {
    allowed: false,
    retryAfterMs: 1,
    count: 100,
    limit: 100,
  });
  // Exactly when the oldest (t=1000) leaves the window, one slot frees.
  assertEquals(limiter.tryAcquire("u1", 100, 61_000), { allowed: true });
  // The next oldest (t=1010) is still inside: full again.
  const again = limiter.tryAcquire("u1", 100, 61_000);
  assert(!again.allowed);
  assertEquals(again.retryAfterMs, 10);
  assertEquals(limiter.tryAcquire("u1", 100, 61_010), { allowed: true });
});

Deno.test("rate limiter: the window slides exactly, with no bucket boundaries", () => {
  const limiter = new SlidingWindowLimiter();
  fill(limiter, "u", 100, range(50, 0, 0)); // 50 at t=0
  fill(limiter, "u", 100, range(50, 30_000, 0)); // 50 at t=30000
  const d = limiter.tryAcquire("u", 100, 59_999);
  assertEquals(d, { allowed: false, retryAfterMs: 1, count: 100, limit: 100 });
  fill(limiter, "u", 100, range(50, 60_000, 0)); // the first 50 left at t=60000
  const full = limiter.tryAcquire("u", 100, 60_000);
  assertEquals(full, { allowed: false, retryAfterMs: 30_000, count: 100, limit: 100 });
  assertEquals(limiter.count("u", 60_000), 100);
  assertEquals(limiter.count("u", 90_000), 50);
});

Deno.test("rate limiter: denied attempts do not count against the window", () => {
  const limiter = new SlidingWindowLimiter();
  fill(limiter, "u", 2, [0, 1]);
  for (let t = 2; t < 1_000; t++) assert(!limiter.tryAcquire("u", 2, t).allowed);
  assertEquals(limiter.tryAcquire("u", 2, MINUTE), { allowed: true });
  assertEquals(limiter.tryAcquire("u", 2, MINUTE + 1), { allowed: true });
});

Deno.test("rate limiter: keys are independent", () => {
  const limiter = new SlidingWindowLimiter();
  fill(limiter, "a", 3, [0, 0, 0]);
  assert(!limiter.tryAcquire("a", 3, 5).allowed);
  fill(limiter, "b", 3, [5, 5, 5]);
  assertEquals(limiter.count("a", 5), 3);
  assertEquals(limiter.count("b", 5), 3);
});

Deno.test("rate limiter: peek answers like tryAcquire without taking a slot", () => {
  const limiter = new SlidingWindowLimiter();
  assertEquals(limiter.peek("new", 1, 0), { allowed: true });
  assertEquals(limiter.size, 0, "peek on an unknown key keeps nothing");
  fill(limiter, "u", 2, [0]);
  for (let i = 0; i < 10; i++) assertEquals(limiter.peek("u", 2, 10), { allowed: true });
  fill(limiter, "u", 2, [10]);
  assertEquals(limiter.peek("u", 2, 20), {
    allowed: false,
    retryAfterMs: 59_980,
    count: 2,
    limit: 2,
  });
  assertEquals(limiter.peek("u", 2, MINUTE), { allowed: true });
  assertEquals(limiter.count("u", MINUTE), 1);
});

Deno.test("rate limiter: a lowered limit waits for enough of the oldest to leave", () => {
  const limiter = new SlidingWindowLimiter();
  fill(limiter, "u", 100, range(100, 0, 100)); // 0, 100, …, 9900
  // Limit now 10: 100 counted, 91 must leave; the 91st oldest is at t=9000.
  const d = limiter.tryAcquire("u", 10, 10_000);
  assertEquals(d, { allowed: false, retryAfterMs: 59_000, count: 100, limit: 10 });
  assert(!limiter.tryAcquire("u", 10, 68_999).allowed);
  assertEquals(limiter.tryAcquire("u", 10, 69_000), { allowed: true });
});

Deno.test("rate limiter: raising the limit grows a wrapped ring without losing order", () => {
  const limiter = new SlidingWindowLimiter({ windowMs: 1_000 });
  fill(limiter, "u", 64, range(64, 0, 10)); // 0 … 630, ring full at its initial 64 slots
  fill(limiter, "u", 64, range(20, 1_000, 10)); // wrap: each pushes out one of 0 … 190
  fill(limiter, "u", 1_000, range(500, 1_195, 0)); // grow past 64 while wrapped
  assertEquals(limiter.count("u", 1_195), 564);
  // Oldest still counted is t=200: it leaves at 1200.
  const d = limiter.tryAcquire("u", 564, 1_199);
  assert(!d.allowed);
  assertEquals(d.retryAfterMs, 1);
  assertEquals(limiter.tryAcquire("u", 564, 1_200), { allowed: true });
  assertEquals(limiter.count("u", 1_200), 564);
});

Deno.test("rate limiter: a timestamp that goes backwards is recorded as the newest", () => {
  const limiter = new SlidingWindowLimiter();
  fill(limiter, "u", 2, [1_000, 500]);
  const d = limiter.tryAcquire("u", 2, 900);
  assertEquals(d, { allowed: false, retryAfterMs: 60_100, count: 2, limit: 2 });
  assertEquals(limiter.tryAcquire("u", 2, 61_000), { allowed: true });
});

Deno.test("rate limiter: idle keys are swept once per window, bounding memory", () => {
  const limiter = new SlidingWindowLimiter();
  for (let i = 0; i < 10_000; i++) limiter.tryAcquire(`user-${i}`, 100, i);
  assertEquals(limiter.size, 10_000);
  limiter.tryAcquire("late", 100, 10_000 + MINUTE);
  assertEquals(limiter.size, 1, "every other key has nothing left in the window");
  assertEquals(limiter.sweep(10_000 + 2 * MINUTE), 1);
  assertEquals(limiter.size, 0);
  fill(limiter, "r", 1, [0]);
  limiter.reset("r");
  assertEquals(limiter.tryAcquire("r", 1, 1), { allowed: true });
});

Deno.test("rate limiter: bad limits, times and windows throw RangeError", () => {
  const limiter = new SlidingWindowLimiter();
  assertThrows(() => limiter.tryAcquire("u", 0, 0), RangeError, "rate limit 0");
  assertThrows(() => limiter.tryAcquire("u", 1.5, 0), RangeError, "rate limit 1.5");
  assertThrows(() => limiter.tryAcquire("u", 1, NaN), RangeError, "at time NaN");
  assertThrows(() => limiter.peek("u", -1, 0), RangeError);
  assertThrows(() => new SlidingWindowLimiter({ windowMs: 0 }), RangeError);
});

Deno.test("rate limiter: matches a naive exact model on random traffic", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 100, max: 5_000 }),
      fc.array(
        fc.record({
          key: fc.constantFrom("a", "b", "c"),
          dt: fc.integer({ min: 0, max: 700 }),
          limit: fc.integer({ min: 1, max: 12 }),
          peek: fc.boolean(),
        }),
        { maxLength: 300 },
      ),
      (windowMs, steps) => {
        const limiter = new SlidingWindowLimiter({ windowMs });
        const model = new Map<string, number[]>();
        let t = 0;
        for (const s of steps) {
          t += s.dt;
          const live = (model.get(s.key) ?? []).filter((x) => x > t - windowMs);
          model.set(s.key, live);
          let expected: RateDecision;
          if (live.length < s.limit) {
            expected = { allowed: true };
            if (!s.peek) live.push(t);
          } else {
            const leaving = live[live.length - s.limit]!;
            expected = {
              allowed: false,
              retryAfterMs: leaving + windowMs - t,
              count: live.length,
              limit: s.limit,
            };
          }
          const got = s.peek
            ? limiter.peek(s.key, s.limit, t)
            : limiter.tryAcquire(s.key, s.limit, t);
          assertEquals(got, expected, `at t=${t} key=${s.key} limit=${s.limit}`);
          assertEquals(limiter.count(s.key, t), model.get(s.key)!.length);
        }
      },
    ),
    FC,
  );
});

Deno.test("OncePerWindow: one call per key per window, counting the ones it passed over", () => {
  const gate = new OncePerWindow({ windowMs: 1_000 });
  assertEquals(gate.take("a", 0), { first: true, skipped: 0 });
  assertEquals(gate.take("a", 10), { first: false, skipped: 0 });
  assertEquals(gate.take("a", 999), { first: false, skipped: 0 });
  assertEquals(gate.take("b", 500), { first: true, skipped: 0 });
  assertEquals(gate.take("a", 1_000), { first: true, skipped: 2 });
  assertEquals(gate.take("a", 1_500), { first: false, skipped: 0 });
  assertEquals(gate.take("b", 5_000), { first: true, skipped: 0 });
  assertEquals(gate.take("a", 5_000), { first: true, skipped: 1 });
});
