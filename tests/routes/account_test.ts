import postgres from "postgres";
import { assert, assertEquals } from "../_assert.ts";
import { MessageBus } from "../../actors/bus.ts";
import { ExecutionEngine } from "../../actors/execution_engine.ts";
import { CachedMarketData } from "../../brokers/cache.ts";
import { PaperVenue } from "../../brokers/paper/venue.ts";
import { TestClock } from "../../core/clock.ts";
import { seededIdSource } from "../../core/ids.ts";
import { createAuthenticator } from "../../routes/auth.ts";
import { Metrics } from "../../routes/metrics.ts";
import { createApp } from "../../routes/mod.ts";
import { createTestApp, DB_TEST, TEST_SECRET, TEST_START_MS, tokenFor } from "../_helpers.ts";

Deno.test({
  name: "account: cached for 5 s, positions for 3 s, both refreshed by a fill",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const a1 = await (await t.as("nia", "/api/v1/account")).json();
    assertEquals([a1.status, a1.cash, a1.currency], ["ACTIVE", "100000", "USD"]);
    const stats = () => ({ ...t.trading.engine.cacheStats });
    const before = stats();
    await t.as("nia", "/api/v1/account");
    assertEquals(stats().hits, before.hits + 1);
    await t.trading.advance(5_001);
    await t.as("nia", "/api/v1/account");
    assertEquals(stats().misses, before.misses + 1);

    assertEquals(await (await t.as("nia", "/api/v1/positions")).json(), []);
    const r = await t.as("nia", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "MSFT", qty: "2", side: "buy", type: "market", time_in_force: "day" },
    });
    assertEquals(r.status, 201);
    await t.trading.advance(100);
    // The fill dropped the cached account and positions at once.
    const positions = await (await t.as("nia", "/api/v1/positions")).json();
    assertEquals(positions.map((p: { symbol: string; qty: string }) => [p.symbol, p.qty]), [[
      "MSFT",
      "2",
    ]]);
    const a2 = await (await t.as("nia", "/api/v1/account")).json();
    assert(Number(a2.cash) < 100000, a2.cash);
    const one = await t.as("nia", "/api/v1/positions/msft");
    assertEquals((await one.json()).side, "long");
    const none = await t.as("nia", "/api/v1/positions/AAPL");
    assertEquals([none.status, (await none.json()).error.code], [404, "POSITION_NOT_FOUND"]);
  } finally {
    await t.close();
  }
});

Deno.test({ name: "positions: close by qty and percentage, close all", ...DB_TEST }, async () => {
  const t = await createTestApp({ trading: true });
  try {
    for (const [symbol, qty] of [["AAPL", "10"], ["MSFT", "4"]]) {
      const r = await t.as("oli", "/api/v1/orders", {
        method: "POST",
        json: { symbol, qty, side: "buy", type: "market", time_in_force: "day" },
      });
      assertEquals(r.status, 201);
    }
    await t.trading.advance(100);
    const byQty = await t.as("oli", "/api/v1/positions/AAPL/close", {
      method: "POST",
      json: { qty: "3" },
    });
    assertEquals((await byQty.json()).qty, "3");
    const byPct = await t.as("oli", "/api/v1/positions/AAPL/close", {
      method: "POST",
      json: { percentage: "50" },
    });
    assertEquals((await byPct.json()).qty, "3"); // 50% of 7 whole shares rounds down
    const both = await t.as("oli", "/api/v1/positions/AAPL/close", {
      method: "POST",
      json: { qty: "1", percentage: "5" },
    });
    assertEquals([both.status, (await both.json()).error.code], [400, "VALIDATION_FAILED"]);
    await t.trading.advance(100);
    const all = await t.as("oli", "/api/v1/positions?cancel_orders=true", { method: "DELETE" });
    assertEquals(all.status, 207);
    const items = await all.json();
    assertEquals(items.map((i: { symbol: string; status: number }) => [i.symbol, i.status]), [[
      "AAPL",
      200,
    ], ["MSFT", 200]]);
    await t.trading.advance(100);
    assertEquals(await (await t.as("oli", "/api/v1/positions")).json(), []);
    const trades = await t.db.owner<
      { symbol: string }[]
    >`select symbol from trades order by closed_at, symbol`;
    assertEquals(trades.length, 4);
  } finally {
    await t.close();
  }
});

Deno.test(
  { name: "position snapshots are written for every user's open positions", ...DB_TEST },
  async () => {
    const t = await createTestApp({ trading: true });
    try {
      await t.as("pam", "/api/v1/orders", {
        method: "POST",
        json: { symbol: "NVDA", qty: "1.5", side: "buy", type: "market", time_in_force: "day" },
      });
      await t.trading.advance(60_000);
      assertEquals(await t.trading.engine.snapshotPositions(), 1);
      const [snap] = await t.db.owner<
        { symbol: string; qty: string; unrealized_pl: string | null }[]
      >`
      select symbol, qty, unrealized_pl from position_snapshots`;
      assertEquals([snap!.symbol, snap!.qty], ["NVDA", "1.5"]);
      assert(snap!.unrealized_pl !== null);
    } finally {
      await t.close();
    }
  },
);

Deno.test({
  name: "database unreachable: order routes answer 503 promptly and nothing reaches the venue",
  ...DB_TEST,
}, async () => {
  const sql = postgres("postgres://tradewind_app:x@127.0.0.1:9/tradewind", {
    max: 2,
    connect_timeout: 2,
    onnotice: () => {},
  });
  const clock = new TestClock(TEST_START_MS);
  const venue = new PaperVenue({ clock, ids: seededIdSource(1), seed: 7 });
  const engine = new ExecutionEngine({
    sql,
    venue,
    clock,
    ids: seededIdSource(2),
    bus: new MessageBus(),
    defaultLimits: {},
    reconcileEveryMs: 0,
    snapshotEveryMs: 0,
  });
  const app = createApp({
    sql,
    ready: async () => {
      try {
        await sql`select 1`;
        return true;
      } catch {
        return false;
      }
    },
    auth: createAuthenticator({ secret: TEST_SECRET, issuer: "tradewind", audience: "tradewind" }),
    metrics: new Metrics(),
    version: "test",
    trading: { engine, venue, marketData: new CachedMarketData(venue, clock), clock },
  });
  try {
    const token = await tokenFor("quinn");
    const res = await app.request("/api/v1/orders", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        symbol: "AAPL",
        qty: "1",
        side: "buy",
        type: "market",
        time_in_force: "day",
      }),
    });
    assertEquals(res.status, 503);
    const body = await res.json();
    assertEquals(body.error.code, "DATABASE_UNAVAILABLE");
    assert(res.headers.get("retry-after"));
    assertEquals((await app.request("/ready")).status, 503);
    assertEquals(venue.exchange.listOrders("quinn", { status: "all" }).length, 0);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

Deno.test({
  name: "account: trading_blocked shows the engine's halt, whoever set it",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const blocked = async () =>
      (await (await t.as("pia", "/api/v1/account")).json()).trading_blocked;
    assertEquals(await blocked(), false);
    const halt = await t.as("pia", "/api/v1/risk/halt", {
      method: "POST",
      json: { reason: "lunch" },
    });
    assertEquals(halt.status, 200, await halt.clone().text());
    assertEquals(await blocked(), true);
    const reducing = await t.as("pia", "/api/v1/risk/reduce", { method: "POST", json: {} });
    assertEquals(reducing.status, 200);
    assertEquals(await blocked(), false, "reducing still trades (to shrink exposure)");
    await t.as("pia", "/api/v1/risk/resume", { method: "POST", json: {} });
    assertEquals(await blocked(), false);
  } finally {
    await t.close();
  }
});
