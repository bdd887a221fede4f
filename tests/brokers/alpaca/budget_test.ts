/**
 * The Alpaca request budget on a test clock: 200 a minute shared by every request, FIFO
 * waiting, refusal before sending when the wait is too long, and 429 handling that honours
 * Retry-After / X-RateLimit-Reset and repeats only reads.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { AlpacaBudget, retryAfterMs } from "../../../brokers/alpaca/budget.ts";
import { TestClock } from "../../../core/clock.ts";
import { TradeError } from "../../../core/errors.ts";

const START = Date.parse("2026-11-23T15:00:00Z");

/** Lets pending promise callbacks run, until `cond` holds (bounded). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 0));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

Deno.test("alpaca budget: 200 requests a minute, the 201st waits for the oldest to leave", async () => {
  const clock = new TestClock(START);
  const budget = new AlpacaBudget({ clock, maxWaitMs: 120_000 });
  for (let i = 0; i < 200; i++) await budget.acquire("GET /v2/account");
  let done = false;
  const next = budget.acquire("GET /v2/account").then(() => done = true);
  // queued behind it, in order
  let second = false;
  const after = budget.acquire("GET /v2/clock").then(() => second = true);
  await until(() => clock.pending > 0, "the wait timer");
  assertEquals(done, false);
  clock.advance(59_999);
  await until(() => clock.pending > 0, "the wait timer again");
  assertEquals(done, false, "not before a minute has passed");
  clock.advance(1);
  await next;
  await after;
  assert(done && second, "both went once the first slots left the window");
  assertEquals(budget.stats.sent, 202);
  assertEquals(budget.stats.waited, 1, "the second found a slot once it was its turn");
});

Deno.test("alpaca budget: a request that would wait longer than maxWaitMs is refused before sending", async () => {
  const clock = new TestClock(START);
  const budget = new AlpacaBudget({ clock, perMinute: 2 });
  let sent = 0;
  const fetch = budget.fetch(() => {
    sent++;
    return Promise.resolve(new Response("{}", { status: 200 }));
  });
  await fetch("http://alpaca.test/v2/orders", { method: "POST" });
  await fetch("http://alpaca.test/v2/orders", { method: "POST" });
  const e = await assertRejects(
    () => fetch("http://alpaca.test/v2/orders", { method: "POST" }),
    TradeError,
  );
  assertEquals(e.code, "RATE_LIMITED");
  assert(e.message.includes("POST /v2/orders"), e.message);
  assertEquals(sent, 2, "the refused request never left");
  assertEquals(budget.stats.refused, 1);
});

Deno.test("alpaca budget: a 429 pauses everything until X-RateLimit-Reset; reads retry, writes do not", async () => {
  const clock = new TestClock(START);
  const budget = new AlpacaBudget({ clock, maxWaitMs: 10_000 });
  const answers: Response[] = [];
  const seen: string[] = [];
  const fetch = budget.fetch((url, init) => {
    seen.push(`${init.method ?? "GET"} ${new URL(url).pathname}`);
    return Promise.resolve(answers.shift() ?? new Response("{}", { status: 200 }));
  });
  const reset = String((START + 5_000) / 1000);
  answers.push(new Response("{}", { status: 429, headers: { "X-RateLimit-Reset": reset } }));
  let read: Response | null = null;
  const reading = fetch("http://alpaca.test/v2/positions", {}).then((r) => read = r);
  await until(() => clock.pending > 0, "the pause");
  assertEquals(budget.pausedUntil, START + 5_000);
  clock.advance(4_999);
  await until(() => clock.pending > 0, "the pause to go on");
  assertEquals(read, null, "the retry waits for the reset");
  clock.advance(1);
  await reading;
  assertEquals(read!.status, 200);
  assertEquals(seen, ["GET /v2/positions", "GET /v2/positions"]);

  answers.push(new Response("{}", { status: 429, headers: { "Retry-After": "2" } }));
  const posted = await fetch("http://alpaca.test/v2/orders", { method: "POST" });
  assertEquals(posted.status, 429, "a write gets its 429: Alpaca did not take it");
  assertEquals(seen.filter((s) => s.startsWith("POST")).length, 1);
  assertEquals(budget.pausedUntil, clock.now() + 2_000);
});

Deno.test("alpaca budget: retryAfterMs reads Retry-After (seconds or a date) before X-RateLimit-Reset", () => {
  const now = START;
  assertEquals(retryAfterMs(new Headers({ "Retry-After": "3" }), now), 3_000);
  assertEquals(
    retryAfterMs(new Headers({ "Retry-After": new Date(now + 7_000).toUTCString() }), now),
    7_000,
  );
  assertEquals(
    retryAfterMs(new Headers({ "X-RateLimit-Reset": String(now / 1000 + 12) }), now),
    12_000,
  );
  assertEquals(retryAfterMs(new Headers({ "X-RateLimit-Reset": String(now / 1000 - 5) }), now), 0);
  assertEquals(retryAfterMs(new Headers(), now), null);
});
