import { assertEquals, assertThrows } from "../_assert.ts";
import { TestClock } from "../../core/clock.ts";

Deno.test("TestClock fires due timers in time order with now() at their due time", () => {
  const clock = new TestClock(1_000);
  const seen: string[] = [];
  clock.setTimer(() => seen.push(`b@${clock.now()}`), 20);
  clock.setTimer(() => seen.push(`a@${clock.now()}`), 10);
  const stop = clock.setRepeating(() => seen.push(`r@${clock.now()}`), 15);
  clock.setTimer(() => seen.push(`tie@${clock.now()}`), 10);
  clock.advance(30);
  assertEquals(seen, ["a@1010", "tie@1010", "r@1015", "b@1020", "r@1030"]);
  assertEquals(clock.now(), 1_030);
  stop();
  clock.advance(100);
  assertEquals(seen.length, 5);
  assertEquals(clock.pending, 0);
});

Deno.test("TestClock timers scheduled by timers fire within the same advance", () => {
  const clock = new TestClock(0);
  const seen: number[] = [];
  clock.setTimer(() => {
    seen.push(clock.now());
    clock.setTimer(() => seen.push(clock.now()), 5);
  }, 5);
  clock.advance(10);
  assertEquals(seen, [5, 10]);
});

Deno.test("TestClock refuses to go back", () => {
  const clock = new TestClock(100);
  assertThrows(() => clock.set(50), RangeError);
  assertThrows(() => clock.advance(-1), RangeError);
});
