/**
 * The bot manager with production placement: every bot actor in its own Worker, symbol actors
 * shared on a pool of Worker hosts, market data between them over MessageChannels. A bot
 * trades end to end; a strategy that hangs is terminated by the heartbeat while a bot in
 * another Worker on the same symbol actor keeps trading; fills carry the bot's own position.
 *
 * Workers answer in real time, so these tests wait for conditions (a bot's bar count, a row
 * in the ledger) before moving the test clock, never for a fixed time.
 */
import { assert, assertEquals } from "../../_assert.ts";
import type { BotManager, BotManagerOptions } from "../../../actors/bots/manager.ts";
import { botManager, createBot, tenantOf, TREND } from "../../_bots.ts";
import { createTestApp, DB_TEST, type TestApp } from "../../_helpers.ts";
import { TEST_BOT_BEHAVIOUR, testRegistry } from "./_strategies.ts";

const MINUTE = 60_000;

/** Resolves once `check` answers true; fails after `timeoutMs` of real time. */
async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function workerManager(t: TestApp, options: Partial<BotManagerOptions>): BotManager {
  return botManager(t, { placement: "worker", poolSize: 1, ...options });
}

/** The bars the bot has seen, from its Worker. */
async function barsSeen(manager: BotManager, botId: string): Promise<number> {
  const status = await manager.botStatus(botId) as { counts: { bars: number } } | null;
  return status?.counts.bars ?? -1;
}

/**
 * Moves the test clock a minute (the `minutes`-th since the bot started, on the minute) and waits
 * until `botId` has processed that minute's bar. The bar streamed after the first minute is the
 * one that closed at the start: the bot already had it from the venue's history (warm-up), so it
 * is not run twice and live bars number one less than the minutes.
 */
async function minute(t: TestApp, manager: BotManager, botId: string, minutes: number) {
  t.trading.clock.advance(MINUTE);
  t.trading.venue.pump();
  await until(`bar ${minutes - 1} of ${botId}`, async () => {
    return await barsSeen(manager, botId) >= minutes - 1;
  });
  await manager.settle();
  await t.trading.engine.settle();
}

Deno.test({
  name: "bot manager (Workers): an sma_cross bot in its own Worker trades a bracket end to end",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  const manager = workerManager(t, {});
  try {
    const id = await createBot(t, "ann", TREND);
    const tenant = await tenantOf(t, "ann");
    assertEquals((await manager.start(tenant, id)).status, "running");
    const actors = manager.actors();
    assertEquals(actors.bots.map((c) => [c.id, c.status]), [[`bot:${id}`, "running"]]);
    assertEquals(actors.symbols.map((c) => [c.id, c.status]), [["sym:AAPL", "running"]]);

    let filled: { status: string; order_class: string }[] = [];
    for (let i = 1; i <= 120 && filled.length === 0; i++) {
      await minute(t, manager, id, i);
      filled = await t.db.owner<{ status: string; order_class: string }[]>`
        select status, order_class from orders
        where bot_id = ${id} and parent_id is null and status = 'filled'`;
    }
    assert(filled.length > 0, "the bot's entry filled within two simulated hours");
    assertEquals(filled[0]!.order_class, "bracket");
    const legs = await t.db.owner<{ n: number }[]>`
      select count(*)::int as n from orders where bot_id = ${id} and parent_id is not null`;
    assert(legs[0]!.n >= 1, "the bracket's exit legs are in the ledger, with the bot's id");

    // The bot's view of its position is its own fills' sum, and matches the account's.
    const status = await manager.botStatus(id) as { positions: Record<string, string> };
    const [pos] = await t.db.owner<{ qty: string }[]>`
      select qty::text from positions where symbol = 'AAPL'`;
    assertEquals(status.positions.AAPL, pos?.qty ?? "0");
  } finally {
    await manager.close();
    await t.close();
  }
});

Deno.test({
  name:
    "bot manager (Workers): a hanging strategy is terminated by the heartbeat and ends in error; another bot trades on",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: { registry: testRegistry() } });
  const manager = workerManager(t, {
    registry: testRegistry(),
    botBehaviour: TEST_BOT_BEHAVIOUR,
    // Generous for a loaded machine: a healthy Worker must never miss it.
    heartbeat: { intervalMs: 100, timeoutMs: 4_000 },
    maxRestarts: 1,
  });
  try {
    const stuck = await createBot(t, "ann", {
      name: "stuck",
      strategy: "hangs",
      symbols: ["AAPL"],
    });
    const good = await createBot(t, "ann", { ...TREND, take_profit: undefined });
    const tenant = await tenantOf(t, "ann");
    await manager.start(tenant, stuck);
    await manager.start(tenant, good);
    // Both bots share the one AAPL symbol actor.
    assertEquals(manager.actors().symbols.length, 1);

    const row = async (id: string) =>
      (await t.db.owner<{ status: string; error_count: number; last_error: string | null }[]>`
        select status, error_count, last_error from bots where id = ${id}`)[0]!;

    await minute(t, manager, good, 1);
    await until("the heartbeat to kill the hung Worker", async () => {
      return (await row(stuck)).error_count === 1;
    });
    const first = await row(stuck);
    assertEquals(first.status, "running");
    assert(first.last_error?.includes("heartbeat"), String(first.last_error));

    // The restart (after a 1 s backoff on the test clock) hangs again on its first bar: one
    // restart is allowed, so the second hang escalates.
    let bars = 1;
    for (let i = 0; i < 5 && (await row(stuck)).status !== "error"; i++) {
      await minute(t, manager, good, ++bars);
    }
    await until("the stuck bot to end in error", async () => {
      return (await row(stuck)).status === "error";
    });
    const last = await row(stuck);
    assertEquals(last.error_count, 2);
    await until("the run to end", () => !manager.isRunning(stuck));

    // The other bot, on the same symbol actor, saw every bar (the first from history).
    await minute(t, manager, good, ++bars);
    assertEquals(await barsSeen(manager, good), bars - 1);
    assertEquals((await row(good)).status, "running");
  } finally {
    await manager.close();
    await t.close();
  }
});
