/**
 * Bots over HTTP and the bot manager on the simulated market: config CRUD with validation and
 * conflicts, an sma_cross bot trading end to end through the execution engine, a crashing
 * strategy stopped with status error while another bot runs on, and resuming running bots.
 */
import { assert, assertEquals } from "../_assert.ts";
import { botManager, createBot, tenantOf, TREND } from "../_bots.ts";
import type { Bar, MarketEvent } from "../../core/market.ts";
import { symbolBehaviour } from "../../actors/bots/symbol_behaviour.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";
import { testRegistry } from "../actors/bots/_strategies.ts";

const MINUTE = 60_000;

async function action(t: TestApp, user: string, id: string, name: string) {
  return await t.as(user, `/api/v1/bots/${id}/${name}`, { method: "POST" });
}

async function minutes(t: TestApp, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await t.trading.advance(MINUTE);
}

Deno.test({
  name: "bots: create, list, get, update and delete with validation, 404s and 409s",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const bad = await t.as("ann", "/api/v1/bots", {
      method: "POST",
      json: { name: "x", strategy: "sma_cross", symbols: [], params: { fast: 9, slow: 3 } },
    });
    assertEquals(bad.status, 400);
    const paths = (await bad.json()).error.details.issues.map((i: { path: string }) => i.path);
    assert(paths.includes("symbols") && paths.includes("params.fast"), String(paths));

    // A symbol the venue does not list is a field error, not a bot that never sees a bar.
    const unknown = await t.as("ann", "/api/v1/bots", {
      method: "POST",
      json: { ...TREND, symbols: ["AAPL", "ZZZZZ"] },
    });
    assertEquals(unknown.status, 400);
    const unknownBody = await unknown.json();
    assertEquals(unknownBody.error.code, "VALIDATION_FAILED");
    assertEquals(unknownBody.error.details.issues, [
      { path: "symbols.1", message: 'Unknown symbol "ZZZZZ"' },
    ]);

    const id = await createBot(t, "ann", TREND);
    const dup = await t.as("ann", "/api/v1/bots", { method: "POST", json: TREND });
    assertEquals([dup.status, (await dup.json()).error.code], [409, "BOT_NAME_TAKEN"]);
    // Names are per user.
    await createBot(t, "bob", TREND);

    const list = await (await t.as("ann", "/api/v1/bots")).json();
    assertEquals(list.length, 1);
    assertEquals(Object.keys(list[0]).sort(), [
      "config",
      "created_at",
      "error_count",
      "id",
      "last_error",
      "last_run_at",
      "name",
      "status",
      "strategy",
      "updated_at",
    ]);
    assertEquals([list[0].status, list[0].strategy, list[0].error_count], [
      "stopped",
      "sma_cross",
      0,
    ]);
    assertEquals((await t.as("bob", `/api/v1/bots/${id}`)).status, 404);
    assertEquals((await action(t, "bob", id, "start")).status, 404);

    const patched = await t.as("ann", `/api/v1/bots/${id}`, {
      method: "PATCH",
      json: { params: { fast: 3, slow: 8 } },
    });
    assertEquals(patched.status, 200);
    assertEquals((await patched.json()).config.params, { fast: 3, slow: 8 });
    const badPatch = await t.as("ann", `/api/v1/bots/${id}`, {
      method: "PATCH",
      json: { sizing: { method: "coin_flip" } },
    });
    assertEquals(badPatch.status, 400);

    const started = await (await action(t, "ann", id, "start")).json();
    assertEquals(started.status, "running");
    assert(started.last_run_at !== null);
    for (const init of [{ method: "PATCH", json: { name: "other" } }, { method: "DELETE" }]) {
      const res = await t.as("ann", `/api/v1/bots/${id}`, init);
      assertEquals([res.status, (await res.json()).error.code], [409, "BOT_RUNNING"]);
    }
    assertEquals((await (await action(t, "ann", id, "pause")).json()).status, "paused");
    assertEquals((await (await action(t, "ann", id, "resume")).json()).status, "running");
    assertEquals((await (await action(t, "ann", id, "stop")).json()).status, "stopped");
    assertEquals((await action(t, "ann", id, "resume")).status, 409);

    assertEquals((await t.as("ann", `/api/v1/bots/${id}`, { method: "DELETE" })).status, 204);
    assertEquals((await t.as("ann", `/api/v1/bots/${id}`)).status, 404);
    assertEquals((await (await t.as("ann", "/api/v1/bots")).json()).length, 0);
    // The row stays for the ledger's sake, marked deleted, with an audit row; the name is free.
    const [kept] = await t.db.owner<{ deleted_at: Date | null }[]>`
      select deleted_at from bots where id = ${id}`;
    assert(kept!.deleted_at !== null);
    assertEquals(
      (await t.db.owner`select 1 from execution_logs where action = 'BOT_DELETED'`).length,
      1,
    );
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "bots: an sma_cross bot trades the simulated market through the engine",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const id = await createBot(t, "ann", TREND);
    assertEquals((await action(t, "ann", id, "start")).status, 200);
    await minutes(t, 90);

    const orders = await t.db.owner<
      { bot_id: string | null; order_class: string; client_order_id: string; status: string }[]
    >`select bot_id, order_class, client_order_id, status from orders
      where bot_id = ${id} order by created_at`;
    assert(orders.length >= 2, `expected bot orders, got ${orders.length}`);
    assert(orders.some((o) => o.order_class === "bracket"), JSON.stringify(orders));
    assert(orders.some((o) => o.status === "filled"), JSON.stringify(orders));
    assert(orders.some((o) => o.client_order_id.startsWith("trend-")), JSON.stringify(orders));

    const signals = await t.db.owner<{ status: string; payload: Record<string, unknown> }[]>`
      select status, payload from execution_logs where action = 'SIGNAL' and bot_id = ${id}`;
    assert(signals.length >= 1);
    assertEquals(signals[0]!.payload.symbol, "AAPL");
    assert("intent" in signals[0]!.payload && "snapshot" in signals[0]!.payload);

    const status = await t.trading.bots.botStatus(id) as { counts: { bars: number } };
    assert(status.counts.bars >= 85, JSON.stringify(status));
    // GET /bots/{id} shows the actor's live figures.
    const detail = await (await t.as("ann", `/api/v1/bots/${id}`)).json();
    assertEquals(detail.runtime.bars, status.counts.bars);
    assert(detail.runtime.signals >= 1 && detail.runtime.market_open === true, detail.runtime);

    // A paused bot keeps computing but places nothing.
    const parents = () =>
      t.db.owner<{ n: number }[]>`
        select count(*)::int as n from orders where bot_id = ${id} and parent_id is null`;
    assertEquals((await action(t, "ann", id, "pause")).status, 200);
    await t.trading.bots.settle();
    const [before] = await parents();
    await minutes(t, 60);
    assertEquals((await parents())[0]!.n, before!.n);
    const paused = await t.trading.bots.botStatus(id) as { counts: { bars: number } };
    assert(paused.counts.bars >= status.counts.bars + 60);

    // A bot with orders and trades can be deleted once stopped; its history stays, its name frees.
    assertEquals((await action(t, "ann", id, "stop")).status, 200);
    assertEquals((await t.as("ann", `/api/v1/bots/${id}`, { method: "DELETE" })).status, 204);
    assert((await t.db.owner`select 1 from orders where bot_id = ${id}`).length > 0);
    const again = await t.as("ann", "/api/v1/bots", { method: "POST", json: TREND });
    assertEquals(again.status, 201);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "bots: a throwing strategy ends in status error; another bot keeps running",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: { registry: testRegistry() } });
  try {
    const bad = await createBot(t, "ann", {
      name: "boom",
      strategy: "always_throws",
      symbols: ["AAPL"],
    });
    const good = await createBot(t, "ann", { ...TREND, take_profit: undefined });
    assertEquals((await action(t, "ann", bad, "start")).status, 200);
    assertEquals((await action(t, "ann", good, "start")).status, 200);
    // It throws on its first bar, the history it warms up with at start. Each crash is
    // restarted after a backoff (1 s, 2 s, 4 s on the test clock, so one per minute here) and
    // throws again; the fourth crash is one more than the three restarts allowed within ten
    // minutes, and escalates. Crashes at start count: the run's error count starts at zero.
    const seen: string[] = [];
    const unsubscribe = t.trading.bus.subscribe("bot", (m) => {
      if (m.botId === bad && m.event !== "warmup") seen.push(m.event);
    });
    await minutes(t, 2);
    const early = await (await t.as("ann", `/api/v1/bots/${bad}`)).json();
    assertEquals([early.status, early.error_count], ["running", 3]);
    assert(early.last_error.includes("Strategy blew up"), early.last_error);
    await minutes(t, 1);
    unsubscribe();
    const boom = await (await t.as("ann", `/api/v1/bots/${bad}`)).json();
    assertEquals([boom.status, boom.error_count], ["error", 4]);
    assert(boom.last_error.includes("Strategy blew up"), boom.last_error);
    assertEquals(t.trading.bots.isRunning(bad), false);
    // Heard since the start answered (its own crash and restart came before).
    assertEquals(seen, [
      ...["crashed", "restarted", "crashed", "restarted"],
      ...["crashed", "status", "error"],
    ]);
    // Each crash and each status change is an audit row of the bot.
    const audit = await t.db.owner<{ action: string; status: string }[]>`
      select action, status from execution_logs where bot_id = ${bad} order by seq`;
    assertEquals(audit.filter((r) => r.action === "BOT_CRASHED").length, 4);
    assertEquals(
      audit.filter((r) => r.action === "BOT_STATUS").map((r) => r.status),
      ["running", "error"],
    );

    await minutes(t, 3);
    const trend = await (await t.as("ann", `/api/v1/bots/${good}`)).json();
    assertEquals([trend.status, trend.error_count], ["running", 0]);
    // Six minutes: the bar that closed at its start came from history, five streamed.
    const status = await t.trading.bots.botStatus(good) as { counts: { bars: number } };
    assertEquals(status.counts.bars, 5);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "bots: running bots resume when a new manager starts on the same database",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const running = await createBot(t, "ann", TREND);
    const stopped = await createBot(t, "bob", { ...TREND, name: "idle" });
    const other = await createBot(t, "bob", { ...TREND, name: "bobs" });
    assertEquals((await action(t, "ann", running, "start")).status, 200);
    assertEquals((await action(t, "bob", other, "start")).status, 200);
    await minutes(t, 2);
    await t.trading.bots.close();

    const { venue, clock } = t.trading;
    const next = botManager(t);
    try {
      assertEquals(await next.resumeRunning(), 2);
      assert(next.isRunning(running) && next.isRunning(other) && !next.isRunning(stopped));
      for (let i = 0; i < 3; i++) {
        clock.advance(MINUTE);
        venue.pump();
        await next.settle();
      }
      // The bar that closed at the resume came from the venue's history (warm-up), not live.
      const status = await next.botStatus(running) as {
        counts: { bars: number };
        warm: boolean;
        warmupBars: number;
      };
      assertEquals(status.counts.bars, 2);
      assert(status.warm && status.warmupBars >= 6, JSON.stringify(status));
    } finally {
      await next.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "bots: percent-of-equity sizing uses the account's equity",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const id = await createBot(t, "cy", {
      ...TREND,
      name: "sized",
      stop_loss: undefined,
      take_profit: undefined,
      sizing: { method: "percent_equity", percent: "5" },
    });
    assertEquals((await action(t, "cy", id, "start")).status, 200);
    let entries: { qty: string; filled_avg_price: string | null }[] = [];
    for (let i = 0; i < 180 && entries.length === 0; i += 10) {
      await minutes(t, 10);
      entries = await t.db.owner<{ qty: string; filled_avg_price: string | null }[]>`
        select qty, filled_avg_price from orders
        where bot_id = ${id} and side = 'buy' and parent_id is null order by created_at`;
    }
    assert(entries.length > 0, "the bot entered within three simulated hours");
    const qty = Number(entries[0]!.qty);
    const price = Number(entries[0]!.filled_avg_price ?? "0");
    // 5% of $100,000 in whole shares: far more than the default of one share.
    assert(qty > 1, `qty ${qty}`);
    assert(price === 0 || qty * price <= 5_000 + price, `qty ${qty} at ${price}`);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "bots: a resumed bot starts with its own positions from the ledger and hears market status",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    // A take-profit far away keeps the position open across the restart.
    const id = await createBot(t, "ann", {
      ...TREND,
      stop_loss: undefined,
      take_profit: undefined,
    });
    assertEquals((await action(t, "ann", id, "start")).status, 200);
    const held = async () =>
      (await t.db.owner<{ qty: string }[]>`
        select qty::text from positions where symbol = 'AAPL' and qty <> 0`)[0]?.qty;
    for (let i = 0; i < 180 && !(await held()); i++) await minutes(t, 1);
    const qty = await held();
    assert(qty, "the bot entered within three simulated hours");
    await t.trading.bots.close();

    const { bus, clock } = t.trading;
    const next = botManager(t);
    const events: string[] = [];
    const unsubscribe = bus.subscribe("bot", (m) => {
      if (m.botId === id) events.push(m.event);
    });
    try {
      assertEquals(await next.resumeRunning(), 1);
      await next.settle();
      const status = await next.botStatus(id) as {
        positions: Record<string, string>;
        marketOpen: boolean;
      };
      assertEquals(status.positions.AAPL, qty);

      // The market monitor's news reaches the bot and its stream.
      bus.publish({
        topic: "market",
        event: "market_status_changed",
        data: { is_open: false },
        tsMs: clock.now(),
      });
      await next.settle();
      const closed = await next.botStatus(id) as { marketOpen: boolean };
      assertEquals(closed.marketOpen, false);
      assert(events.includes("market_status_changed"), events.join());
    } finally {
      unsubscribe();
      await next.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "bots: a symbol actor that crashes is restarted and its bots are wired to it again",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  // A symbol actor that dies on a bar with negative volume; the test feeds one in.
  const fragile: typeof symbolBehaviour = {
    ...symbolBehaviour,
    receive(state, msg) {
      if (msg.type === "batch" && msg.batch.kind === "rows") {
        if (msg.batch.rows.some((row) => (row as Bar).v < 0)) throw new Error("Poisoned bar");
      }
      return symbolBehaviour.receive(state, msg);
    },
  };
  const { venue, clock } = t.trading;
  const feeds: ((events: MarketEvent[]) => void)[] = [];
  const manager = botManager(t, {
    venue: {
      subscribe: (sub, fn) => {
        feeds.push(fn);
        return venue.marketData.subscribe(sub, fn);
      },
      bars: (symbol, query) => venue.marketData.bars(symbol, query),
    },
    symbolBehaviour: fragile,
  });
  const minute = async () => {
    clock.advance(MINUTE);
    venue.pump();
    await manager.settle();
  };
  try {
    const id = await createBot(t, "ann", TREND);
    await manager.start(await tenantOf(t, "ann"), id);
    await minute();
    await minute();
    const bars = async () =>
      ((await manager.botStatus(id)) as { counts: { bars: number } }).counts.bars;
    // The first bar streamed closed at the start: it came from the venue's history.
    assertEquals(await bars(), 1);

    const poison = { t: new Date(clock.now()).toISOString(), o: 1, h: 1, l: 1, c: 1, v: -1 };
    feeds[0]!([{ type: "bar", symbol: "AAPL", bar: poison as Bar }]);
    await manager.settle();
    assertEquals(manager.actors().symbols.map((c) => c.status), ["restarting"]);

    await minute(); // the restart (after 100 ms) happens in this minute: its bar is missed
    await minute();
    await minute();
    const [symbol] = manager.actors().symbols;
    assertEquals([symbol!.status, symbol!.incarnation], ["running", 2]);
    // The bars closed while the actor restarted come from the venue's history as warm-up (the
    // indicators have no gap, nothing is traded on them); two more streamed since.
    const after = await manager.botStatus(id) as { counts: { bars: number }; warmupBars: number };
    assertEquals(after.counts.bars, 2);
    assertEquals(after.warmupBars, 8);
    // The bot itself never crashed.
    assertEquals(manager.actors().bots.map((c) => [c.status, c.incarnation]), [["running", 1]]);
  } finally {
    await manager.close();
    await t.close();
  }
});
