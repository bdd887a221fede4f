/**
 * Warnings reach the trader who places the order: `POST /orders` answers the warnings
 * `POST /orders/validate` gives (same codes and messages), keeps them in the order's VALIDATED
 * audit row, answers them again on a replayed client order id, and a bot's order logs them and
 * carries them on the bots stream. The order itself keeps Alpaca's shape.
 */
import { assert, assertEquals } from "../_assert.ts";
import { createBot, TREND } from "../_bots.ts";
import { type Faults, faultyVenue } from "../_faults.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";
import { configureLogging } from "../../logging.ts";

interface Notice {
  code: string;
  message: string;
  details?: Record<string, string>;
}

async function place(t: TestApp, user: string, body: Record<string, unknown>) {
  const res = await t.as(user, "/api/v1/orders", { method: "POST", json: body });
  return { status: res.status, body: await res.json() };
}

async function validate(t: TestApp, user: string, body: Record<string, unknown>) {
  const res = await t.as(user, "/api/v1/orders/validate", { method: "POST", json: body });
  assertEquals(res.status, 200, await res.clone().text());
  return await res.json() as { valid: boolean; warnings: Notice[]; recommendations: Notice[] };
}

async function validatedPayload(t: TestApp, orderId: string) {
  const rows = await t.db.owner<{ payload: Record<string, unknown>; bot_id: string | null }[]>`
    select payload, bot_id from execution_logs where order_id = ${orderId} and action = 'VALIDATED'`;
  assertEquals(rows.length, 1);
  return rows[0]!;
}

const codes = (list: Notice[]) => list.map((w) => w.code);

/** A passive buy limit 15% under the last trade: placed, resting, and far from the market. */
async function farBelow(t: TestApp, symbol: string): Promise<string> {
  const last = (await t.trading.venue.latestTrade(symbol)).p;
  return (Math.floor(last * 85) / 100).toFixed(2);
}

Deno.test({
  name:
    "order warnings: a placed order answers validate's warnings and keeps them in its audit row",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const body = {
      symbol: "AAPL",
      qty: "5",
      side: "buy",
      type: "limit",
      limit_price: await farBelow(t, "AAPL"),
      time_in_force: "gtc",
    };
    const v = await validate(t, "wes", body);
    assert(v.valid, JSON.stringify(v));
    assert(codes(v.warnings).includes("PRICE_FAR_FROM_MARKET"), JSON.stringify(v));

    const placed = await place(t, "wes", { ...body, client_order_id: "far-1" });
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    assertEquals(placed.body.warnings, v.warnings);
    assertEquals([placed.body.client_order_id, placed.body.status], ["far-1", "new"]);

    // Kept with the order: its VALIDATED row holds them (and validate's recommendations).
    const audit = await validatedPayload(t, placed.body.id);
    assertEquals(audit.payload.warnings, v.warnings);
    assertEquals(audit.payload.recommendations, v.recommendations);
    const trail = await (await t.as("wes", `/api/v1/orders/${placed.body.id}/audit`)).json();
    const validated = trail.find((r: { action: string }) => r.action === "VALIDATED");
    assertEquals(validated.payload.warnings, v.warnings);

    // The order itself keeps Alpaca's shape: no warnings when it is read.
    const got = await (await t.as("wes", `/api/v1/orders/${placed.body.id}`)).json();
    assertEquals("warnings" in got, false);
    const listed = await (await t.as("wes", "/api/v1/orders")).json();
    assertEquals(listed.map((o: Record<string, unknown>) => "warnings" in o), [false]);

    // A replay, after the market moved, answers the warnings the order was placed with.
    await t.trading.advance(5 * 60_000);
    const again = await place(t, "wes", { ...body, client_order_id: "far-1" });
    assertEquals([again.status, again.body.id], [200, placed.body.id]);
    assertEquals(again.body.warnings, v.warnings);

    // An order nothing warns of says so: an empty list, never a missing field.
    const plain = { symbol: "AAPL", qty: "1", side: "buy", type: "market", time_in_force: "day" };
    assertEquals((await validate(t, "wes", plain)).warnings, []);
    const quiet = await place(t, "wes", plain);
    assertEquals([quiet.status, quiet.body.warnings], [201, []]);
    assertEquals((await validatedPayload(t, quiet.body.id)).payload.warnings, []);
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "order warnings: a market closed and a limit nearly reached both reach the order, replays included",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({
    trading: { venue: { hours: "nyse" }, startMs: Date.parse("2026-11-21T15:00:00Z") }, // a Saturday
  });
  try {
    const last = (await t.trading.venue.latestTrade("MSFT")).p;
    // One share is about 91% of the limit: near it, not over it.
    const limit = Math.ceil(last * 1.1).toString();
    const set = await t.as("xia", "/api/v1/risk/limits", {
      method: "PUT",
      json: { max_order_notional: limit },
    });
    assertEquals(set.status, 200, await set.clone().text());
    const body = { symbol: "MSFT", qty: "1", side: "buy", type: "market", time_in_force: "day" };
    const v = await validate(t, "xia", body);
    assertEquals(codes(v.warnings), ["MARKET_CLOSED_WILL_QUEUE", "RISK_NEAR_LIMIT"]);
    assertEquals(v.warnings[1]!.details?.rule, "max_order_notional");

    // Two identical requests at once: one places, the other answers the same order; both
    // carry the warnings.
    const [a, b] = await Promise.all([
      place(t, "xia", { ...body, client_order_id: "queued-1" }),
      place(t, "xia", { ...body, client_order_id: "queued-1" }),
    ]);
    assertEquals([a.status, b.status].sort(), [200, 201], JSON.stringify([a.body, b.body]));
    assertEquals(a.body.id, b.body.id);
    assertEquals(a.body.warnings, v.warnings);
    assertEquals(b.body.warnings, v.warnings);
    const replay = await place(t, "xia", { ...body, client_order_id: "queued-1" });
    assertEquals([replay.status, replay.body.warnings], [200, v.warnings]);
    assertEquals((await t.db.owner`select 1 from orders`).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "order warnings: an order recovered after a venue timeout still carries its warnings",
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
    const body = {
      symbol: "AAPL",
      qty: "2",
      side: "buy",
      type: "limit",
      limit_price: await farBelow(t, "AAPL"),
      time_in_force: "day",
    };
    const v = await validate(t, "yul", body);
    faults.hangAfterSubmit = true;
    const placed = await place(t, "yul", { ...body, client_order_id: "slow-far" });
    faults.hangAfterSubmit = false;
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    assert(codes(v.warnings).includes("PRICE_FAR_FROM_MARKET"), JSON.stringify(v));
    assertEquals(placed.body.warnings, v.warnings);
    const actions = (await (await t.as("yul", `/api/v1/orders/${placed.body.id}/audit`)).json())
      .map((r: { action: string }) => r.action);
    assert(actions.includes("RECOVERED"), actions.join(","));
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "order warnings: a bot's order logs its warnings and carries them on the bots stream",
  ...DB_TEST,
}, async () => {
  const lines: string[] = [];
  await configureLogging({ level: "warning", format: "json", write: (l) => lines.push(l) });
  const t = await createTestApp({ trading: true });
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const unsubscribe = t.trading.bus.subscribe("bot", (m) => {
    if (m.event === "order") events.push({ event: m.event, data: m.data });
  });
  try {
    // 5% of $100,000 in whole shares is 90% or more of a $5,500 order limit: near it, under it.
    const set = await t.as("zed", "/api/v1/risk/limits", {
      method: "PUT",
      json: { max_order_notional: "5500" },
    });
    assertEquals(set.status, 200, await set.clone().text());
    const id = await createBot(t, "zed", {
      ...TREND,
      name: "near",
      stop_loss: undefined,
      take_profit: undefined,
      sizing: { method: "percent_equity", percent: "5" },
    });
    assertEquals((await t.as("zed", `/api/v1/bots/${id}/start`, { method: "POST" })).status, 200);
    for (let i = 0; i < 180 && events.length === 0; i++) await t.trading.advance(60_000);
    assert(events.length > 0, "the bot placed an order within three simulated hours");

    const first = events[0]!.data;
    const warnings = first.warnings as Notice[];
    assert(codes(warnings).includes("RISK_NEAR_LIMIT"), JSON.stringify(first));
    const orderId = String(first.order_id);
    const audit = await validatedPayload(t, orderId);
    assertEquals([audit.bot_id, audit.payload.warnings], [id, warnings]);

    const logged = lines.map((l) => JSON.parse(l)).find((r) =>
      r.properties?.orderId === orderId && r.level === "WARN"
    );
    assert(logged, `no warning logged for ${orderId}: ${lines.join("")}`);
    assertEquals(logged.properties.botId, id);
    assert(String(logged.message).includes("RISK_NEAR_LIMIT"), logged.message);
    assertEquals(logged.properties.warnings, warnings);
  } finally {
    unsubscribe();
    await t.close();
    await configureLogging({ level: "fatal", format: "json", write: () => {} });
  }
});

Deno.test({
  name: "order warnings: a replace answers the warnings of its validation, as a new order does",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const last = (await t.trading.venue.latestTrade("AAPL")).p;
    const near = (Math.floor(last * 97) / 100).toFixed(2);
    const placed = await place(t, "ora", {
      symbol: "AAPL",
      qty: "3",
      side: "buy",
      type: "limit",
      limit_price: near,
      time_in_force: "gtc",
    });
    assertEquals([placed.status, placed.body.warnings], [201, []], JSON.stringify(placed.body));

    // The new price is far under the market: the replace says so, like validate would.
    const far = await farBelow(t, "AAPL");
    const v = await validate(t, "ora", {
      symbol: "AAPL",
      qty: "3",
      side: "buy",
      type: "limit",
      limit_price: far,
      time_in_force: "gtc",
    });
    assert(codes(v.warnings).includes("PRICE_FAR_FROM_MARKET"), JSON.stringify(v));
    const res = await t.as("ora", `/api/v1/orders/${placed.body.id}`, {
      method: "PATCH",
      json: { limit_price: far },
    });
    assertEquals(res.status, 200, await res.clone().text());
    const replaced = await res.json();
    assertEquals([replaced.replaces, replaced.limit_price], [placed.body.id, far]);
    assertEquals(replaced.warnings, v.warnings);
    const [row] = await t.db.owner<{ payload: Record<string, unknown> }[]>`
      select payload from execution_logs
      where order_id = ${placed.body.id} and action = 'REPLACE_REQUESTED'`;
    assertEquals(row!.payload.warnings, v.warnings);
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "order warnings: the OpenAPI document gives POST /orders its warnings, with references that resolve",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const doc = await (await t.app.request("/openapi.json")).json();
    const responses = doc.paths["/api/v1/orders"].post.responses;
    for (const status of ["200", "201", "202"]) {
      assertEquals(
        responses[status].content["application/json"].schema.$ref,
        "#/components/schemas/PlacedOrder",
      );
    }
    const placed = doc.components.schemas.PlacedOrder;
    assert(placed.required.includes("warnings"), JSON.stringify(placed.required));
    assertEquals(placed.properties.warnings.items.$ref, "#/components/schemas/Notice");
    assertEquals(Object.keys(doc.components.schemas.Notice.properties), [
      "code",
      "message",
      "details",
    ]);
    // Every reference, inside schemas too, names a component that exists.
    const text = JSON.stringify(doc);
    const refs = [...text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    const dangling = refs.filter((r) =>
      !(r.startsWith("#/components/schemas/") &&
        r.slice("#/components/schemas/".length) in doc.components.schemas)
    );
    assertEquals([...new Set(dangling)], []);
  } finally {
    await t.close();
  }
});
