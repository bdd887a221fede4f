import { assert, assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";

async function order(t: TestApp, user: string, body: Record<string, unknown>) {
  const res = await t.as(user, "/api/v1/orders", {
    method: "POST",
    json: { side: "buy", type: "market", time_in_force: "day", ...body },
  });
  return { status: res.status, body: await res.json() };
}

async function limits(t: TestApp, user: string, json: Record<string, unknown>) {
  const res = await t.as(user, "/api/v1/risk/limits", { method: "PUT", json });
  assertEquals(res.status, 200, await res.clone().text());
  return await res.json();
}

Deno.test({
  name:
    "risk: open positions, trades per day, allocation and sector limits deny with their figures",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    await limits(t, "una", { max_open_positions: 1 });
    assertEquals((await order(t, "una", { symbol: "AAPL", qty: "1" })).status, 201);
    await t.trading.advance(100);
    const second = await order(t, "una", { symbol: "MSFT", qty: "1" });
    assertEquals([second.status, second.body.error.code], [422, "RISK_MAX_OPEN_POSITIONS"]);
    assertEquals(second.body.error.details.limit, "1");

    await limits(t, "una", { max_open_positions: null, max_daily_trades: 1 });
    const third = await order(t, "una", { symbol: "AAPL", qty: "1" });
    assertEquals([third.status, third.body.error.code], [422, "RISK_MAX_DAILY_TRADES"]);
    // Exits are always allowed past exposure limits.
    assertEquals((await order(t, "una", { symbol: "AAPL", qty: "1", side: "sell" })).status, 201);

    await limits(t, "val", { max_allocation_pct: "1" });
    const alloc = await order(t, "val", { symbol: "AAPL", qty: "20" });
    assertEquals([alloc.status, alloc.body.error.code], [422, "RISK_MAX_ALLOCATION"]);

    await limits(t, "wes", { max_sector_pct: "1" });
    const sector = await order(t, "wes", { symbol: "MSFT", qty: "20" });
    assertEquals([sector.status, sector.body.error.code], [422, "RISK_SECTOR_CONCENTRATION"]);

    const view = await (await t.as("wes", "/api/v1/risk/limits")).json();
    assertEquals(view.limits.max_sector_pct, "1");
    assertEquals(view.effective.max_sector_pct, "1");
    assertEquals(view.state, "active");
  } finally {
    await t.close();
  }
});

Deno.test(
  { name: "risk: a daily loss at the limit stops new exposure but not exits", ...DB_TEST },
  async () => {
    const t = await createTestApp({ trading: true });
    try {
      // Buy at the ask and sell half at the bid at the same instant: the spread is a realized
      // loss, and the rest is marked below its entry. Any loss trips a limit of 0.
      assertEquals((await order(t, "xia", { symbol: "AAPL", qty: "100" })).status, 201);
      assertEquals(
        (await order(t, "xia", { symbol: "AAPL", qty: "50", side: "sell" })).status,
        201,
      );
      await t.trading.engine.settle();
      await limits(t, "xia", { daily_loss_limit: "0" });
      const denied = await order(t, "xia", { symbol: "MSFT", qty: "1" });
      assertEquals(
        [denied.status, denied.body.error?.code],
        [422, "RISK_DAILY_LOSS"],
        JSON.stringify(denied.body),
      );
      assert(
        Number(denied.body.error.details.actual) > 0,
        JSON.stringify(denied.body.error.details),
      );
      // Reducing the position is still allowed.
      assertEquals(
        (await order(t, "xia", { symbol: "AAPL", qty: "50", side: "sell" })).status,
        201,
      );
    } finally {
      await t.close();
    }
  },
);

Deno.test({
  name: "risk: an immediate-or-cancel order outside the core session is MARKET_CLOSED",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({
    trading: { venue: { hours: "nyse" }, startMs: Date.parse("2026-11-21T15:00:00Z") }, // a Saturday
  });
  try {
    const r = await order(t, "yan", { symbol: "AAPL", qty: "1", time_in_force: "ioc" });
    assertEquals([r.status, r.body.error.code], [422, "MARKET_CLOSED"]);
    // A day order is accepted and queues for the open, as at Alpaca.
    const queued = await order(t, "yan", { symbol: "AAPL", qty: "1" });
    assertEquals([queued.status, queued.body.status], [201, "accepted"]);
    const v = await (await t.as("yan", "/api/v1/orders/validate", {
      method: "POST",
      json: { symbol: "AAPL", qty: "1", side: "buy", type: "market", time_in_force: "day" },
    })).json();
    assert(
      v.warnings.some((w: { code: string }) => w.code === "MARKET_CLOSED_WILL_QUEUE"),
      JSON.stringify(v),
    );
  } finally {
    await t.close();
  }
});

Deno.test(
  { name: "risk: only an admin may set another user's limits or halt them", ...DB_TEST },
  async () => {
    const t = await createTestApp({ trading: true });
    try {
      await t.as("zoe", "/api/v1/me");
      const forbidden = await t.as("amy", "/api/v1/risk/limits?username=zoe", {
        method: "PUT",
        json: { max_order_notional: "5" },
      });
      assertEquals([forbidden.status, (await forbidden.json()).error.code], [403, "FORBIDDEN"]);
      const set = await t.as("root", "/api/v1/risk/limits?username=zoe", {
        method: "PUT",
        role: "admin",
        json: { max_order_notional: "5" },
      });
      assertEquals(set.status, 200);
      const halted = await t.as("root", "/api/v1/risk/halt", {
        method: "POST",
        role: "admin",
        json: { username: "zoe", reason: "review" },
      });
      assertEquals((await halted.json()).state, "halted");
      const denied = await order(t, "zoe", { symbol: "AAPL", qty: "1" });
      assertEquals([denied.status, denied.body.error.code], [403, "TRADING_HALTED"]);
      const unknown = await t.as("root", "/api/v1/risk/limits?username=nobody", { role: "admin" });
      assertEquals(unknown.status, 404);
      const bad = await t.as("zoe", "/api/v1/risk/limits", {
        method: "PUT",
        json: { max_allocation_pct: "150", nope: 1 },
      });
      assertEquals(bad.status, 400);
      // The change and the halt are on zoe's audit trail, naming who did it.
      const rows = await t.db.owner<{ action: string; payload: { by: string } }[]>`
      select action, payload from execution_logs
      where user_id = (select id from users where username = 'zoe') and action like 'RISK%' or action = 'TRADING_HALTED'`;
      assertEquals(rows.map((r) => [r.action, r.payload.by]), [["RISK_LIMITS_SET", "root"], [
        "TRADING_HALTED",
        "root",
      ]]);
    } finally {
      await t.close();
    }
  },
);
