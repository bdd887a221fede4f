/**
 * "Flatten everything": cancel all cancels every open order of the user, bracket and oto exit
 * legs included; close all cancels first, waits for the cancels to be confirmed, then closes
 * every position, answering per order and per symbol.
 */
import { assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";
import { type Faults, faultyVenue } from "../_faults.ts";
import type { Venue } from "../../brokers/broker.ts";
import { ExecutionEngine } from "../../actors/execution_engine.ts";
import { MessageBus } from "../../actors/bus.ts";
import { seededIdSource } from "../../core/ids.ts";

/** A filled market bracket on AAPL (its take-profit and stop-loss stay open). */
async function filledBracket(t: TestApp, user: string, symbol = "AAPL") {
  const quote = await t.trading.venue.latestQuote(symbol);
  const res = await t.as(user, "/api/v1/orders", {
    method: "POST",
    json: {
      symbol,
      qty: "2",
      side: "buy",
      type: "market",
      time_in_force: "gtc",
      order_class: "bracket",
      take_profit: { limit_price: (quote.ap * 1.2).toFixed(2) },
      stop_loss: { stop_price: (quote.bp * 0.8).toFixed(2) },
    },
  });
  assertEquals(res.status, 201, await res.clone().text());
  const entry = await res.json();
  await t.trading.advance(1_000);
  return entry as { id: string };
}

/** A filled market oto on MSFT (its exit limit stays open). */
async function filledOto(t: TestApp, user: string) {
  const quote = await t.trading.venue.latestQuote("MSFT");
  const res = await t.as(user, "/api/v1/orders", {
    method: "POST",
    json: {
      symbol: "MSFT",
      qty: "3",
      side: "buy",
      type: "market",
      time_in_force: "gtc",
      order_class: "oto",
      take_profit: { limit_price: (quote.ap * 1.2).toFixed(2) },
    },
  });
  assertEquals(res.status, 201, await res.clone().text());
  await t.trading.advance(1_000);
  return await res.json() as { id: string };
}

async function openOrders(t: TestApp, user: string) {
  return (await (await t.as(user, "/api/v1/orders?status=open")).json()) as {
    id: string;
    status: string;
  }[];
}

Deno.test({
  name: "flatten: DELETE /orders cancels the open legs of a filled bracket and of a filled oto",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const bracket = await filledBracket(t, "ana");
    await filledOto(t, "ana");
    const open = await openOrders(t, "ana");
    assertEquals(open.length, 3, JSON.stringify(open)); // take-profit, stop-loss, oto exit

    const nested = await (await t.as("ana", "/api/v1/orders?status=open&nested=true")).json();
    const parent = nested.find((o: { id: string }) => o.id === bracket.id);
    assertEquals(parent?.status, "filled", "a filled parent with open legs is listed as open");
    assertEquals(parent.legs.map((l: { status: string }) => l.status).sort(), ["held", "new"]);

    const res = await t.as("ana", "/api/v1/orders", { method: "DELETE" });
    assertEquals(res.status, 207);
    const items = await res.json() as { id: string; status: number }[];
    assertEquals(
      items.map((i) => i.id).sort(),
      open.map((o) => o.id).sort(),
      "one result per open order, legs included",
    );
    assertEquals(items.map((i) => i.status), [200, 200, 200]);
    await t.trading.advance(100);
    assertEquals(await openOrders(t, "ana"), []);
    const rows = await t.db.owner<{ status: string }[]>`
      select status from orders where parent_id is not null order by status`;
    assertEquals(rows.map((r) => r.status), ["canceled", "canceled", "canceled"]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "flatten: DELETE /positions?cancel_orders=true cancels the legs, then closes every position",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    await filledBracket(t, "ben");
    await filledOto(t, "ben");
    const resting = await t.as("ben", "/api/v1/orders", {
      method: "POST",
      json: {
        symbol: "KO",
        qty: "1",
        side: "buy",
        type: "limit",
        limit_price: "1",
        time_in_force: "gtc",
      },
    });
    assertEquals(resting.status, 201);
    const open = await openOrders(t, "ben");
    assertEquals(open.length, 4);

    const res = await t.as("ben", "/api/v1/positions?cancel_orders=true", { method: "DELETE" });
    assertEquals(res.status, 207);
    const items = await res.json() as {
      symbol: string;
      status: number;
      body: { side?: string; qty?: string; error?: unknown } | null;
      orders: { id: string; status: number }[];
    }[];
    assertEquals(
      items.map((i) => [i.symbol, i.status, i.body?.side ?? null, i.body?.qty ?? null]),
      [["AAPL", 200, "sell", "2"], ["KO", 200, null, null], ["MSFT", 200, "sell", "3"]],
      JSON.stringify(items),
    );
    assertEquals(
      items.flatMap((i) => i.orders.map((o) => o.id)).sort(),
      open.map((o) => o.id).sort(),
    );
    assertEquals(items.flatMap((i) => i.orders.map((o) => o.status)), [200, 200, 200, 200]);
    await t.trading.advance(1_000);
    assertEquals(await (await t.as("ben", "/api/v1/positions")).json(), []);
    assertEquals(await openOrders(t, "ben"), []);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "flatten: a position whose orders are not confirmed canceled is not closed (409)",
  ...DB_TEST,
}, async () => {
  const faults: Faults = {
    hangAfterSubmit: false,
    hangBeforeSubmit: false,
    dropEvents: false,
    down: false,
  };
  let wrapped: Venue | undefined;
  const t = await createTestApp({ trading: { wrap: (v) => (wrapped ??= faultyVenue(v, faults)) } });
  try {
    await filledBracket(t, "cy");
    const [user] = await t.db.owner<{ id: string }[]>`select id from users where username = 'cy'`;
    // The venue cancels, but its events never arrive: the ledger still has the legs open.
    faults.dropEvents = true;
    const engine = new ExecutionEngine({
      sql: t.db.sql,
      venue: wrapped!,
      clock: t.trading.clock,
      ids: seededIdSource(5),
      bus: new MessageBus(),
      defaultLimits: {},
      reconcileEveryMs: 0,
      snapshotEveryMs: 0,
      cancelConfirmMs: 0,
    });
    const items = await engine.closeAll(
      { userId: user!.id, role: "trader" },
      true,
      crypto.randomUUID(),
    );
    assertEquals(items.map((i) => [i.symbol, i.status, i.error?.code, i.order]), [[
      "AAPL",
      409,
      "ORDERS_STILL_OPEN",
      undefined,
    ]]);
    assertEquals(items[0]!.orders.map((o) => o.status), [200, 200]);
    const closing = await t.db
      .owner`select 1 from orders where side = 'sell' and parent_id is null`;
    assertEquals(closing.length, 0, "no closing order was placed");
    await engine.stop();
  } finally {
    await t.close();
  }
});
