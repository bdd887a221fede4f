/**
 * What a trader reads about an order names Tradewind's own ids and carries what the README
 * promises: an error naming another order names its Tradewind id (not the venue's), an order
 * read by client order id carries its fills, and `order.accepted` is streamed (live and in
 * replay) once the order is recorded, before the venue's events.
 */
import { assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";
import { PostgresStreamStore, STREAMED_ORDER_EVENTS } from "../../db/stream.ts";

async function place(t: TestApp, user: string, body: Record<string, unknown>) {
  const res = await t.as(user, "/api/v1/orders", { method: "POST", json: body });
  return { status: res.status, body: await res.json() };
}

async function userId(t: TestApp, username: string): Promise<string> {
  return (await t.db.owner<{ id: string }[]>`select id from users where username = ${username}`)[0]!
    .id;
}

Deno.test({
  name: "order ids: a WASH_TRADE denial names Tradewind's id of the resting order",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const last = Number((await t.trading.venue.marketData.latestTrade("AAPL")).p);
    const stop = await place(t, "ivy", {
      symbol: "AAPL",
      qty: "1",
      side: "buy",
      type: "stop",
      stop_price: (last * 1.2).toFixed(2),
      time_in_force: "gtc",
    });
    assertEquals(stop.status, 201, JSON.stringify(stop.body));
    const [row] = await t.db.owner<{ broker_order_id: string }[]>`
      select broker_order_id from orders where id = ${stop.body.id}`;
    const venueId = row!.broker_order_id;

    const sell = await place(t, "ivy", {
      symbol: "AAPL",
      qty: "1",
      side: "sell",
      type: "market",
      time_in_force: "day",
    });
    assertEquals([sell.status, sell.body.error?.code], [403, "WASH_TRADE"]);
    assertEquals(sell.body.error.details.existing_order_id, stop.body.id);
    assertEquals(sell.body.error.message.includes(`"${stop.body.id}"`), true);
    assertEquals(JSON.stringify(sell.body).includes(venueId), false, "no venue id leaks");
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "order ids: GET /orders/by-client-id/{cid} carries the order's fills",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const placed = await place(t, "jon", {
      symbol: "MSFT",
      qty: "2",
      side: "buy",
      type: "market",
      time_in_force: "day",
      client_order_id: "with-fills",
    });
    assertEquals(placed.status, 201);
    await t.trading.advance(1_000);
    const byId = await (await t.as("jon", `/api/v1/orders/${placed.body.id}`)).json();
    const byCid = await (await t.as("jon", "/api/v1/orders/by-client-id/with-fills")).json();
    assertEquals(byCid.fills?.length >= 1, true, JSON.stringify(byCid));
    assertEquals(byCid, byId);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "order ids: order.accepted is streamed once the order is recorded, live and in replay",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const live: { event: string; seq: string; status: unknown }[] = [];
    t.trading.bus.subscribe("order", (m) => {
      if (STREAMED_ORDER_EVENTS.includes(m.event)) {
        live.push({ event: m.event, seq: m.seq, status: m.order.status });
      }
    });
    const placed = await place(t, "kim", {
      symbol: "KO",
      qty: "1",
      side: "buy",
      type: "market",
      time_in_force: "day",
      client_order_id: "watch-me",
    });
    assertEquals(placed.status, 201);
    await t.trading.advance(1_000);
    assertEquals(live.map((e) => e.event), ["accepted", "new", "fill"]);
    assertEquals(live[0]!.status, "accepted");

    const replay = await new PostgresStreamStore(t.db.sql).orderEventsAfter(
      await userId(t, "kim"),
      "0",
      100,
    );
    assertEquals(replay.map((r) => [r.event, r.status, r.seq]), [
      ["accepted", "accepted", live[0]!.seq],
      ["new", "new", live[1]!.seq],
      ["fill", "filled", live[2]!.seq],
    ]);
  } finally {
    await t.close();
  }
});
