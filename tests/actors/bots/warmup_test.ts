/**
 * Warm-up from the venue's history: a bot's indicators are full at start, so an sma_cross bot on
 * minute bars can act on the first live bar; nothing is traded on the history; `GET /bots/{id}`
 * says `runtime.warm`; when the venue cannot serve history the bot still runs and warms from
 * live bars, and says so.
 */
import { assertEquals } from "../../_assert.ts";
import { botManager, createBot, tenantOf, TREND } from "../../_bots.ts";
import type { Bar } from "../../../core/market.ts";
import { PaperVenue } from "../../../brokers/paper/venue.ts";
import { TestClock } from "../../../core/clock.ts";
import { seededIdSource } from "../../../core/ids.ts";
import { IndicatorSet } from "../../../strategies/indicator_spec.ts";
import { z } from "zod";
import {
  BUILTIN_STRATEGIES,
  findStrategy,
  StrategyRegistry,
} from "../../../strategies/registry.ts";
import {
  createInstance,
  defineStrategy,
  replayBars,
  type StrategyDefinition,
} from "../../../strategies/strategy.ts";
import { createTestApp, DB_TEST, TEST_START_MS, type TestApp } from "../../_helpers.ts";

const MINUTE = 60_000;
const SLOW = TREND.params.slow;

async function minutes(t: TestApp, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await t.trading.advance(MINUTE);
}

/**
 * The start of a minute whose bar is TREND's first cross up when the strategy has seen only the
 * `SLOW + 1` bars before it (what warm-up fetches): a bot started at that minute must buy on it.
 * Found on the same seeded simulated market the test app runs (seed 7).
 */
async function firstCrossMinute(): Promise<number> {
  const searchFrom = TEST_START_MS;
  const clock = new TestClock(searchFrom + 6 * 60 * MINUTE);
  const venue = new PaperVenue({ clock, ids: seededIdSource(1), seed: 7 });
  const page = await venue.marketData.bars("AAPL", {
    timeframe: "1Min",
    start: searchFrom,
    end: clock.now() - 1,
    limit: 10_000,
  });
  return findCross(page.bars);
}

function findCross(bars: Bar[]): number {
  const def = findStrategy("sma_cross");
  for (let i = SLOW + 1; i < bars.length; i++) {
    const window = bars.slice(i - SLOW - 1, i + 1);
    const run = replayBars(
      def,
      createInstance(def, { symbol: "AAPL", params: TREND.params }),
      window,
      new IndicatorSet(),
    );
    const last = window.at(-1)!.t;
    if (run.intents.length === 1 && run.intents[0]!.t === last) {
      const ms = Date.parse(last);
      // Whole minutes in a row, so the history is exactly the previous bars.
      if (Date.parse(window[0]!.t) === ms - (SLOW + 1) * MINUTE) return ms;
    }
  }
  throw new Error("No cross in six hours of the simulated market");
}

Deno.test({
  name:
    "warm-up: an sma_cross bot on minute bars is warm at start and buys on the first live bar; history trades nothing",
  ...DB_TEST,
}, async () => {
  const cross = await firstCrossMinute();
  const t = await createTestApp({ trading: { startMs: cross } });
  try {
    const id = await createBot(t, "ann", TREND);
    assertEquals((await t.as("ann", `/api/v1/bots/${id}/start`, { method: "POST" })).status, 200);
    await t.trading.bots.settle();

    // At start: every indicator has its window, from history; nothing signalled or ordered.
    const detail = await (await t.as("ann", `/api/v1/bots/${id}`)).json();
    assertEquals(detail.runtime.warm, true, JSON.stringify(detail.runtime));
    assertEquals(detail.runtime.warmup_bars, SLOW + 1);
    assertEquals([detail.runtime.bars, detail.runtime.signals, detail.runtime.orders], [0, 0, 0]);

    // The bar that closed at the start is streamed now: the bot had it, it is not run twice.
    await minutes(t, 1);
    const signals = () =>
      t.db.owner<{ payload: { intent: { kind: string; t: string } } }[]>`
        select payload from execution_logs where action = 'SIGNAL' and bot_id = ${id}`;
    assertEquals((await signals()).length, 0);

    // The first live bar (the minute the bot started in) crosses: the bot buys on it.
    await minutes(t, 1);
    const live = await signals();
    assertEquals(live.map((r) => [r.payload.intent.kind, r.payload.intent.t]), [[
      "enter_long",
      new Date(cross).toISOString().replace(".000Z", "Z"),
    ]]);
    const orders = await t.db.owner<{ side: string }[]>`
      select side from orders where bot_id = ${id} and parent_id is null`;
    assertEquals(orders.map((o) => o.side), ["buy"]);
    const after = await (await t.as("ann", `/api/v1/bots/${id}`)).json();
    assertEquals([after.runtime.warm, after.runtime.bars, after.runtime.orders], [true, 1, 1]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "warm-up: when the venue cannot serve history the bot runs, says warm false, and warms from live bars",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  const { venue } = t.trading;
  const manager = botManager(t, {
    venue: {
      subscribe: (sub, fn) => venue.marketData.subscribe(sub, fn),
      bars: () => Promise.reject(new Error("Venue history unavailable")),
    },
  });
  const events: { event: string; data: Record<string, unknown> }[] = [];
  t.trading.bus.subscribe("bot", (m) => events.push({ event: m.event, data: m.data }));
  try {
    const id = await createBot(t, "ann", TREND);
    assertEquals((await manager.start(await tenantOf(t, "ann"), id)).status, "running");
    await manager.settle();
    const warmup = events.find((e) => e.event === "warmup");
    assertEquals(warmup?.data.warm, false);
    assertEquals(warmup?.data.error, "Venue history unavailable");
    type Status = { warm: boolean; warmupBars: number; counts: { bars: number } };
    const status = async () => (await manager.botStatus(id)) as Status;
    assertEquals([(await status()).warm, (await status()).warmupBars], [false, 0]);

    // SMA(5) has its window on the fifth live bar (the first streamed minute is the bar that
    // closed at the start: with no history it is live too).
    for (let i = 1; i <= 4; i++) {
      t.trading.clock.advance(MINUTE);
      venue.pump();
      await manager.settle();
      assertEquals((await status()).warm, false, `after ${i} live bars`);
    }
    t.trading.clock.advance(MINUTE);
    venue.pump();
    await manager.settle();
    assertEquals([(await status()).warm, (await status()).counts.bars], [true, 5]);
  } finally {
    await manager.close();
    await t.close();
  }
});

/** Bars a `records` bot saw live (inline placement: same thread). */
const recorded: Bar[] = [];

const records = defineStrategy<Record<string, never>, Record<string, never>>({
  name: "records",
  description: "Records the live bars it sees (tests)",
  paramsSchema: z.strictObject({}),
  indicators: () => [{ name: "sma", params: { period: 3 } }],
  initialState: () => ({}),
  onBar(ctx, bar) {
    if (!ctx.warmup) recorded.push(bar);
    return { state: ctx.state, intents: [] };
  },
});

Deno.test({
  name:
    "warm-up: a 5Min bot started mid-interval gets that interval's whole bar, as the venue has it",
  ...DB_TEST,
}, async () => {
  recorded.length = 0;
  // 15:02:30: the 15:00 interval has two closed minutes before the live data starts.
  const t = await createTestApp({ trading: { startMs: TEST_START_MS + 2.5 * MINUTE } });
  const registry = new StrategyRegistry([...BUILTIN_STRATEGIES, records as StrategyDefinition]);
  const manager = botManager(t, { registry });
  try {
    const id = await createBot(t, "ann", {
      name: "rec",
      strategy: "sma_cross",
      symbols: ["AAPL"],
    });
    // Stored with a built-in (the HTTP validation knows only those), run as `records`.
    await t.db.owner`
      update bots set strategy = 'records',
        config = ${
      t.db.owner.json({ name: "rec", strategy: "records", symbols: ["AAPL"], timeframe: "5Min" })
    }
      where id = ${id}`;
    await manager.start(await tenantOf(t, "ann"), id);
    await manager.settle();
    const status = await manager.botStatus(id) as { warm: boolean; warmupBars: number };
    assertEquals([status.warm, status.warmupBars], [true, 4]);
    for (let i = 0; i < 8; i++) {
      t.trading.clock.advance(MINUTE);
      t.trading.venue.pump();
      await manager.settle();
    }
    const venue = await t.trading.venue.marketData.bars("AAPL", {
      timeframe: "5Min",
      start: TEST_START_MS,
      end: TEST_START_MS + 10 * MINUTE - 1,
    });
    assertEquals(recorded.map((b) => b.t), ["2026-11-23T15:00:00Z", "2026-11-23T15:05:00Z"]);
    for (const [i, bar] of recorded.entries()) {
      const want = venue.bars[i]!;
      assertEquals([bar.t, bar.o, bar.h, bar.l, bar.c, bar.v, bar.n], [
        want.t,
        want.o,
        want.h,
        want.l,
        want.c,
        want.v,
        want.n,
      ]);
    }
  } finally {
    await manager.close();
    await t.close();
  }
});
