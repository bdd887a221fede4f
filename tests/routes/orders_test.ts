import { assert, assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";
import { type Faults, faultyVenue } from "../_faults.ts";

async function json(res: Response) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function place(
  t: TestApp,
  user: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await t.as(user, "/api/v1/orders", { method: "POST", json: body, headers });
  return { status: res.status, body: await json(res), headers: res.headers };
}

async function auditActions(t: TestApp, user: string, orderId: string): Promise<string[]> {
  const res = await t.as(user, `/api/v1/orders/${orderId}/audit`);
  assertEquals(res.status, 200);
  return (await res.json()).map((r: { action: string }) => r.action);
}

Deno.test({
  name: "orders: place a market buy, see it filled, then close the position",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const placed = await place(t, "alice", {
      symbol: "aapl",
      qty: "10",
      side: "buy",
      type: "market",
      time_in_force: "day",
      client_order_id: "first-order",
    });
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    assertEquals(placed.body.symbol, "AAPL");
    assertEquals(placed.body.client_order_id, "first-order");
    await t.trading.advance(1_000);
    const got = await json(await t.as("alice", `/api/v1/orders/${placed.body.id}`));
    assertEquals(got.status, "filled");
    assertEquals(got.filled_qty, "10");
    assertEquals(got.fills.length >= 1, true);
    const fillQty = got.fills.reduce((s: number, f: { qty: string }) => s + Number(f.qty), 0);
    assertEquals(fillQty, 10);

    const positions = await json(await t.as("alice", "/api/v1/positions"));
    assertEquals(positions.map((p: { symbol: string; qty: string }) => [p.symbol, p.qty]), [[
      "AAPL",
      "10",
    ]]);
    const account = await json(await t.as("alice", "/api/v1/account"));
    assert(Number(account.cash) < 100000, `cash went down: ${account.cash}`);

    const closed = await t.as("alice", "/api/v1/positions/AAPL/close", { method: "POST" });
    assertEquals(closed.status, 200, await closed.clone().text());
    const closing = await closed.json();
    assertEquals([closing.side, closing.qty], ["sell", "10"]);
    await t.trading.advance(1_000);
    const after = await json(await t.as("alice", "/api/v1/positions"));
    assertEquals(after, []);
    const trades = await t.db.owner<{ qty: string; side: string }[]>`select qty, side from trades`;
    assertEquals(trades.map((r) => [r.side, r.qty]), [["long", "10"]]);

    assertEquals(await auditActions(t, "alice", placed.body.id), [
      "SUBMITTED",
      "VALIDATED",
      "SENT",
      "PENDING_NEW",
      "ACCEPTED",
      "FILLED",
    ]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "orders: a limit order larger than the quote fills partially, then completely",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const quote = await t.trading.venue.latestQuote("BAC");
    const qty = quote.as + 500;
    const placed = await place(t, "bob", {
      symbol: "BAC",
      qty: String(qty),
      side: "buy",
      type: "limit",
      limit_price: (quote.ap + 0.5).toFixed(2),
      time_in_force: "gtc",
    });
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    assertEquals(placed.body.status, "partially_filled");
    assertEquals(placed.body.filled_qty, String(quote.as));
    await t.trading.advance(5_000);
    const done = await json(await t.as("bob", `/api/v1/orders/${placed.body.id}`));
    assertEquals(done.status, "filled");
    assertEquals(done.filled_qty, String(qty));
    assert(done.fills.length >= 2, "two or more fills");
    const actions = await auditActions(t, "bob", placed.body.id);
    assertEquals(actions.slice(0, 6), [
      "SUBMITTED",
      "VALIDATED",
      "SENT",
      "PENDING_NEW",
      "ACCEPTED",
      "PARTIALLY_FILLED",
    ]);
    assertEquals(actions.at(-1), "FILLED");
    const [pos] = await t.db.owner<{ qty: string }[]>`select qty from positions`;
    assertEquals(pos!.qty, String(qty));
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "orders: every denial has its code, status and a DENIED audit row with the figures",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({
    trading: { limits: {} },
  });
  try {
    const base = { symbol: "AAPL", side: "buy", type: "market", time_in_force: "day" };
    const expectDenied = async (
      user: string,
      body: Record<string, unknown>,
      status: number,
      code: string,
    ) => {
      const r = await place(t, user, body);
      assertEquals([r.status, r.body.error?.code], [status, code], JSON.stringify(r.body));
      return r;
    };
    await expectDenied("carol", { ...base, qty: "100000" }, 403, "INSUFFICIENT_BUYING_POWER");
    // Alpaca answers an order for an unknown symbol with 422 (`asset "ZZZZ" not found`).
    await expectDenied("carol", { ...base, symbol: "ZZZZ", qty: "1" }, 422, "ASSET_NOT_FOUND");
    await expectDenied(
      "carol",
      { ...base, type: "limit", limit_price: "150.123", qty: "1" },
      422,
      "SUB_PENNY_PRICE",
    );
    await expectDenied(
      "carol",
      { ...base, qty: "1", time_in_force: "gtc", notional: "100" },
      400,
      "INVALID_REQUEST",
    );

    const setLimits = async (user: string, limits: Record<string, unknown>) => {
      const r = await t.as(user, "/api/v1/risk/limits", { method: "PUT", json: limits });
      assertEquals(r.status, 200, await r.clone().text());
    };
    await setLimits("dave", { max_order_notional: "1000" });
    const notional = await expectDenied(
      "dave",
      { ...base, qty: "10" },
      422,
      "RISK_MAX_ORDER_NOTIONAL",
    );
    assertEquals(notional.body.error.details.limit, "1000");
    await setLimits("dave", { max_order_notional: null, max_position_value: "500" });
    await expectDenied("dave", { ...base, qty: "10" }, 422, "RISK_MAX_POSITION");
    await setLimits("dave", { max_position_value: null, price_band_pct: "5" });
    const quote = await t.trading.venue.latestQuote("AAPL");
    await expectDenied(
      "dave",
      { ...base, type: "limit", qty: "1", limit_price: (quote.ap * 1.2).toFixed(2) },
      422,
      "RISK_PRICE_BAND",
    );
    await setLimits("dave", { price_band_pct: null, max_orders_per_minute: 2 });
    assertEquals((await place(t, "dave", { ...base, qty: "1" })).status, 201);
    assertEquals((await place(t, "dave", { ...base, qty: "1" })).status, 201);
    const limited = await expectDenied("dave", { ...base, qty: "1" }, 429, "RATE_LIMITED");
    assert(Number(limited.headers.get("retry-after")) >= 1, "Retry-After header");
    await t.trading.advance(61_000);
    assertEquals((await place(t, "dave", { ...base, qty: "1" })).status, 201);

    const halt = await t.as("erin", "/api/v1/risk/halt", {
      method: "POST",
      json: { reason: "testing" },
    });
    assertEquals((await halt.json()).state, "halted");
    await expectDenied("erin", { ...base, qty: "1" }, 403, "TRADING_HALTED");
    await t.as("erin", "/api/v1/risk/resume", { method: "POST" });
    assertEquals((await place(t, "erin", { ...base, qty: "2" })).status, 201);
    await t.trading.advance(1_000);
    await t.as("erin", "/api/v1/risk/reduce", { method: "POST" });
    await expectDenied("erin", { ...base, qty: "1" }, 403, "TRADING_REDUCING");
    assertEquals((await place(t, "erin", { ...base, side: "sell", qty: "1" })).status, 201);

    const denied = await t.db.owner<
      { status: string; payload: { rule: string; details: Record<string, unknown> } }[]
    >`
      select status, payload from execution_logs where action = 'DENIED' order by seq`;
    assertEquals(denied.map((d) => d.status), [
      "INSUFFICIENT_BUYING_POWER",
      "ASSET_NOT_FOUND",
      "SUB_PENNY_PRICE",
      "INVALID_REQUEST",
      "RISK_MAX_ORDER_NOTIONAL",
      "RISK_MAX_POSITION",
      "RISK_PRICE_BAND",
      "RATE_LIMITED",
      "TRADING_HALTED",
      "TRADING_REDUCING",
    ]);
    const bp = denied[0]!.payload.details;
    assert(bp.buying_power && bp.cost_basis, JSON.stringify(bp));
    // A denial writes no order row.
    const carol = await t.db
      .owner`select 1 from orders where user_id = (select id from users where username = 'carol')`;
    assertEquals(carol.length, 0);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "orders: a repeated client_order_id returns the one existing order, also concurrently",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const body = {
      symbol: "MSFT",
      qty: "3",
      side: "buy",
      type: "market",
      time_in_force: "day",
      client_order_id: "same-1",
    };
    const first = await place(t, "fay", body);
    assertEquals(first.status, 201);
    const again = await place(t, "fay", body);
    assertEquals([again.status, again.body.id], [200, first.body.id]);
    const viaHeader = await place(t, "fay", { ...body, client_order_id: undefined }, {
      "Idempotency-Key": "same-1",
    });
    assertEquals([viaHeader.status, viaHeader.body.id], [200, first.body.id]);

    const burst = await Promise.all(
      Array.from({ length: 8 }, () => place(t, "fay", { ...body, client_order_id: "burst-1" })),
    );
    const ids = new Set(burst.map((r) => r.body.id));
    assertEquals(ids.size, 1);
    assertEquals(burst.filter((r) => r.status === 201).length, 1);
    await t.trading.advance(1_000);
    const rows = await t.db
      .owner`select 1 from orders where client_order_id in ('same-1', 'burst-1')`;
    assertEquals(rows.length, 2);
    const venueOrders = await t.trading.venue.brokerFor(
      (await t.db.owner<{ id: string }[]>`select id from users where username='fay'`)[0]!.id,
    ).listOrders({ status: "all" });
    assertEquals(venueOrders.length, 2);
  } finally {
    await t.close();
  }
});

Deno.test({ name: "orders: another user's order is 404 everywhere", ...DB_TEST }, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const placed = await place(t, "gil", {
      symbol: "AAPL",
      qty: "1",
      side: "buy",
      type: "limit",
      limit_price: "1",
      time_in_force: "gtc",
    });
    assertEquals(placed.status, 201);
    const id = placed.body.id;
    for (
      const [method, path] of [
        ["GET", `/api/v1/orders/${id}`],
        ["DELETE", `/api/v1/orders/${id}`],
        ["GET", `/api/v1/orders/${id}/audit`],
        ["GET", `/api/v1/orders/by-client-id/${placed.body.client_order_id}`],
      ] as const
    ) {
      const r = await t.as("hal", path, { method });
      assertEquals(r.status, 404, `${method} ${path}`);
      assertEquals((await r.json()).error.code, "ORDER_NOT_FOUND");
    }
    const patch = await t.as("hal", `/api/v1/orders/${id}`, {
      method: "PATCH",
      json: { limit_price: "2" },
    });
    assertEquals(patch.status, 404);
    assertEquals(await json(await t.as("hal", "/api/v1/orders?status=all")), []);
  } finally {
    await t.close();
  }
});

Deno.test(
  { name: "orders: list, replace and cancel a resting limit order", ...DB_TEST },
  async () => {
    const t = await createTestApp({ trading: true });
    try {
      const placed = await place(t, "ida", {
        symbol: "AAPL",
        qty: "2",
        side: "buy",
        type: "limit",
        limit_price: "100",
        time_in_force: "gtc",
      });
      assertEquals([placed.status, placed.body.status], [201, "new"]);
      const open = await json(await t.as("ida", "/api/v1/orders?status=open"));
      assertEquals(open.map((o: { id: string }) => o.id), [placed.body.id]);
      const replaced = await t.as("ida", `/api/v1/orders/${placed.body.id}`, {
        method: "PATCH",
        json: { limit_price: "101.5" },
      });
      assertEquals(replaced.status, 200, await replaced.clone().text());
      const next = await replaced.json();
      assertEquals([next.replaces, next.limit_price], [placed.body.id, "101.5"]);
      await t.trading.advance(500);
      const old = await json(await t.as("ida", `/api/v1/orders/${placed.body.id}`));
      assertEquals([old.status, old.replaced_by], ["replaced", next.id]);
      const del = await t.as("ida", `/api/v1/orders/${next.id}`, { method: "DELETE" });
      assertEquals(del.status, 204);
      await t.trading.advance(500);
      const canceled = await json(await t.as("ida", `/api/v1/orders/${next.id}`));
      assertEquals(canceled.status, "canceled");
      const again = await t.as("ida", `/api/v1/orders/${next.id}`, { method: "DELETE" });
      assertEquals([again.status, (await again.json()).error.code], [422, "ORDER_NOT_CANCELABLE"]);
      const closed = await json(await t.as("ida", "/api/v1/orders?status=closed&direction=asc"));
      assertEquals(closed.map((o: { status: string }) => o.status), ["replaced", "canceled"]);
      assertEquals(await auditActions(t, "ida", next.id), [
        "ACCEPTED",
        "CANCEL_REQUESTED",
        "PENDING_CANCEL",
        "CANCELED",
      ]);
      const oldTrail = await auditActions(t, "ida", placed.body.id);
      assertEquals(oldTrail.slice(-3), ["REPLACE_REQUESTED", "PENDING_REPLACE", "REPLACED"]);
    } finally {
      await t.close();
    }
  },
);

Deno.test({
  name: "orders: a broker timeout on submit is resolved by client order id, with no duplicate",
  ...DB_TEST,
}, async () => {
  const faults: Faults = {
    hangAfterSubmit: false,
    hangBeforeSubmit: false,
    dropEvents: false,
    down: false,
  };
  const t = await createTestApp({
    trading: {
      wrap: (v) => faultyVenue(v, faults),
      resilience: { timeoutMs: 100, attempts: 2, initialDelayMs: 1, breakerThreshold: 50 },
    },
  });
  try {
    faults.hangAfterSubmit = true;
    const placed = await place(t, "jan", {
      symbol: "AAPL",
      qty: "1",
      side: "buy",
      type: "market",
      time_in_force: "day",
      client_order_id: "slow-1",
    });
    faults.hangAfterSubmit = false;
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    await t.trading.advance(1_000);
    const got = await json(await t.as("jan", `/api/v1/orders/${placed.body.id}`));
    assertEquals(got.status, "filled");
    const actions = await auditActions(t, "jan", placed.body.id);
    assert(actions.includes("RECOVERED"), actions.join(","));
    const userId =
      (await t.db.owner<{ id: string }[]>`select id from users where username='jan'`)[0]!.id;
    assertEquals((await t.trading.venue.brokerFor(userId).listOrders({ status: "all" })).length, 1);
    assertEquals((await t.db.owner`select 1 from orders`).length, 1);

    // Never reached the venue: rejected in the ledger, 503 to the client, safe to retry.
    faults.hangBeforeSubmit = true;
    const lost = await place(t, "jan", {
      symbol: "AAPL",
      qty: "1",
      side: "buy",
      type: "market",
      time_in_force: "day",
      client_order_id: "lost-1",
    });
    faults.hangBeforeSubmit = false;
    assertEquals([lost.status, lost.body.error.code], [503, "BROKER_UNAVAILABLE"]);
    const [row] = await t.db.owner<
      { status: string }[]
    >`select status from orders where client_order_id = 'lost-1'`;
    assertEquals(row!.status, "rejected");
  } finally {
    await t.close();
  }
});

Deno.test(
  { name: "orders: reconciliation applies a fill the ledger missed", ...DB_TEST },
  async () => {
    const faults: Faults = {
      hangAfterSubmit: false,
      hangBeforeSubmit: false,
      dropEvents: false,
      down: false,
    };
    const t = await createTestApp({ trading: { wrap: (v) => faultyVenue(v, faults) } });
    try {
      const quote = await t.trading.venue.latestQuote("AAPL");
      const placed = await place(t, "kim", {
        symbol: "AAPL",
        qty: "5",
        side: "buy",
        type: "limit",
        limit_price: (quote.bp - 5).toFixed(2),
        time_in_force: "gtc",
      });
      assertEquals(placed.body.status, "new");
      faults.dropEvents = true;
      const userId =
        (await t.db.owner<{ id: string }[]>`select id from users where username='kim'`)[0]!.id;
      // The limit is raised at the venue behind the engine's back (as a fill we never heard of).
      const venueBroker = t.trading.venue.brokerFor(userId);
      const [venueOrder] = await venueBroker.listOrders({ status: "open" });
      await venueBroker.replaceOrder(venueOrder!.id, {
        limit_price: (await import("../../core/decimal.ts")).Decimal.parse(
          (quote.ap + 5).toFixed(2),
        ),
      });
      await t.trading.advance(2_000);
      faults.dropEvents = false;
      const before = await json(await t.as("kim", `/api/v1/orders/${placed.body.id}`));
      assertEquals(before.status, "new");
      const report = await t.trading.engine.reconcile();
      assert(report.changes >= 1, JSON.stringify(report));
      const after = await json(await t.as("kim", `/api/v1/orders/${placed.body.id}`));
      assertEquals(after.status, "replaced");
      const all = await json(await t.as("kim", "/api/v1/orders?status=all&direction=asc"));
      const filled = all.find((o: { status: string }) => o.status === "filled");
      assert(filled, JSON.stringify(all.map((o: { status: string }) => o.status)));
      assertEquals(filled.filled_qty, "5");
      const [pos] = await t.db.owner<{ qty: string }[]>`select qty from positions`;
      assertEquals(pos!.qty, "5");
      const reconciled = await t.db.owner`select 1 from execution_logs where action = 'RECONCILED'`;
      assert(reconciled.length >= 1);
      // A second pass finds nothing more to do.
      assertEquals((await t.trading.engine.reconcile()).changes, 0);
    } finally {
      await t.close();
    }
  },
);

Deno.test({
  name: "orders: validate answers errors, warnings and recommendations without placing",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const quote = await t.trading.venue.latestQuote("AAPL");
    const r = await t.as("lee", "/api/v1/orders/validate", {
      method: "POST",
      json: {
        symbol: "AAPL",
        qty: "1000",
        side: "buy",
        type: "limit",
        limit_price: (quote.ap * 1.15).toFixed(2),
        time_in_force: "day",
      },
    });
    assertEquals(r.status, 200);
    const v = await r.json();
    const codes = (list: { code: string }[]) => list.map((x) => x.code);
    assert(codes(v.warnings).includes("PRICE_FAR_FROM_MARKET"), JSON.stringify(v));
    assert(codes(v.recommendations).includes("USE_BRACKET"), JSON.stringify(v));
    const bad = await (await t.as("lee", "/api/v1/orders/validate", {
      method: "POST",
      json: { symbol: "AAPL", qty: "100000", side: "buy", type: "market", time_in_force: "day" },
    })).json();
    assertEquals([bad.valid, bad.errors[0].code], [false, "INSUFFICIENT_BUYING_POWER"]);
    assertEquals((await t.db.owner`select 1 from orders`).length, 0);
  } finally {
    await t.close();
  }
});

Deno.test({ name: "orders: bad input is a 400 naming the field", ...DB_TEST }, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const r = await place(t, "max", {
      symbol: "AAPL",
      qty: "abc",
      side: "up",
      type: "market",
      time_in_force: "day",
    });
    assertEquals(r.status, 400);
    assertEquals(r.body.error.code, "VALIDATION_FAILED");
    const paths = r.body.error.details.issues.map((i: { path: string }) => i.path).sort();
    assertEquals(paths, ["qty", "side"]);
    const notJson = await t.as("max", "/api/v1/orders", {
      method: "POST",
      body: "{",
      headers: { "Content-Type": "application/json" },
    });
    assertEquals((await notJson.json()).error.code, "MALFORMED_JSON");
    const badId = await t.as("max", "/api/v1/orders/not-a-uuid");
    assertEquals(badId.status, 400);
    const badList = await t.as("max", "/api/v1/orders?status=maybe&limit=0");
    assertEquals(badList.status, 400);
  } finally {
    await t.close();
  }
});
