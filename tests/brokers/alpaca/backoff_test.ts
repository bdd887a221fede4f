import { Backoff } from "../../../brokers/alpaca/_backoff.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";

Deno.test("Backoff grows exponentially with seeded jitter, caps, and resets", () => {
  const delays = (seed: number) => {
    let x = seed;
    const b = new Backoff({
      initialMs: 1000,
      maxMs: 8000,
      jitter: 0.2,
      random: () => (x = (x * 9301 + 49297) % 233280) / 233280,
    });
    return [b.next(), b.next(), b.next(), b.next(), b.next(), b.next()];
  };
  const a = delays(7);
  assertEquals(a, delays(7));
  const bases = [1000, 2000, 4000, 8000, 8000, 8000];
  a.forEach((d, i) => assert(d >= bases[i]! * 0.8 && d <= Math.min(8000, bases[i]! * 1.2), `${d}`));
  const fixed = new Backoff({ initialMs: 500, jitter: 0 });
  assertEquals([fixed.next(), fixed.next()], [500, 1000]);
  fixed.reset();
  assertEquals(fixed.next(), 500);
  assertThrows(() => new Backoff({ initialMs: 0 }), RangeError);
  assertThrows(() => new Backoff({ jitter: 2 }), RangeError);
});
