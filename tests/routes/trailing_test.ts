/**
 * Trailing stops show their current `hwm` and `stop_price`: the paper venue announces each move
 * (a `restated` event, at most once a second), the ledger applies it, `GET /orders/{id}` and the
 * order stream show it, and a restarted venue takes it back from the ledger.
 */
import { assert, assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";
import { loadPaperState } from "../../db/paper_state.ts";
import { createTestApp, createTestTrading, DB_TEST } from "../_helpers.ts";

Deno.test({
  name: "trailing stop: GET /orders/{id} shows the venue's current hwm and stop_price",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const post = async (json: Record<string, unknown>) => {
      const res = await t.as("tia", "/api/v1/orders", { method: "POST", json });
      assertEquals(res.status, 201, await res.clone().text());
      return await res.json();
    };
    await post({ symbol: "AAPL", qty: "10", side: "buy", type: "market", time_in_force: "day" });
    await t.trading.advance(1_000);
    const published: { id: string; event: string }[] = [];
    t.trading.bus.subscribe("order", (m) => {
      published.push({ id: String(m.order.id), event: m.event });
    });
    const trail = await post({
      symbol: "AAPL",
      qty: "10",
      side: "sell",
      type: "trailing_stop",
      trail_percent: "20",
      time_in_force: "gtc",
    });
    const userId =
      (await t.db.owner<{ id: string }[]>`select id from users where username = 'tia'`)[0]!.id;
    const [row] = await t.db.owner<{ broker_order_id: string }[]>`
      select broker_order_id from orders where id = ${trail.id}`;
    const venueId = row!.broker_order_id;
    const venue = t.trading.venue.brokerFor(userId);

    const seen = new Set<string>();
    for (let s = 0; s < 30; s++) {
      await t.trading.advance(1_000);
      const live = await venue.getOrder(venueId);
      assertEquals(live.status, "new");
      const shown = await (await t.as("tia", `/api/v1/orders/${trail.id}`)).json();
      // What the venue tracks is what the API shows, second by second.
      assertEquals(shown.hwm, live.hwm?.toString() ?? null, `after ${s + 1} s`);
      assertEquals(shown.stop_price, live.stop_price?.toString() ?? null, `after ${s + 1} s`);
      seen.add(shown.hwm);
    }
    const shown = await (await t.as("tia", `/api/v1/orders/${trail.id}`)).json();
    assert(shown.hwm !== null, "hwm is shown");
    assert(seen.size > 1, `the high-water mark moved during 30 s of prints: ${[...seen]}`);
    // stop = hwm × (1 − 20%), to the cent.
    const stop = Number(shown.hwm) * 0.8;
    assert(Math.abs(Number(shown.stop_price) - stop) <= 0.005, `${shown.stop_price} vs ${stop}`);

    // The moves are on the order's audit trail and its stream, never more than once a second.
    const audit = await (await t.as("tia", `/api/v1/orders/${trail.id}/audit`)).json();
    const restated = audit.filter((r: { action: string }) => r.action === "RESTATED");
    // (The first mark may come with the venue's answer to the submit.)
    assert(restated.length >= seen.size - 1, `${restated.length} rows for ${seen.size} marks`);
    assert(restated.length <= 31, `${restated.length} rows`);
    assertEquals(restated.at(-1).payload.hwm, shown.hwm);
    assertEquals(restated.at(-1).payload.stop_price, shown.stop_price);
    const events = published.filter((e) => e.id === trail.id && e.event === "restated");
    assertEquals(events.length, restated.length);
    const list = await (await t.as("tia", "/api/v1/orders?status=open")).json();
    assertEquals(list.find((o: { id: string }) => o.id === trail.id).hwm, shown.hwm);

    // A restart restores the venue from the ledger: the stop does not fall back.
    await t.trading.engine.stop();
    const second = createTestTrading(t.db, {
      startMs: t.trading.clock.now() + 1_000,
      idSeeds: { venue: 12, engine: 100 },
    });
    second.venue.restore(await loadPaperState(t.db.sql, Decimal.parse("100000")));
    const restored = await second.venue.brokerFor(userId).getOrder(venueId);
    assertEquals(restored.hwm?.toString(), shown.hwm);
    assertEquals(restored.stop_price?.toString(), shown.stop_price);
    await second.bots.close();
    await second.engine.stop();
  } finally {
    await t.close();
  }
});
