/**
 * A market bracket order fills at once, and its take-profit becomes active in the same batch
 * of venue events: both exit legs are recorded as legs of the entry (with its bot and
 * correlation), never adopted as external orders.
 */
import { assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST } from "../_helpers.ts";

Deno.test({
  name: "engine: a bracket filled at once keeps both exit legs linked to the entry",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const quote = await t.trading.venue.latestQuote("AAPL");
    const res = await t.as("ann", "/api/v1/orders", {
      method: "POST",
      json: {
        symbol: "AAPL",
        qty: "1",
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
    const rows = await t.db.owner<
      { parent_id: string | null; type: string; source: string | null }[]
    >`
      select parent_id, type, source from orders order by created_at, type`;
    assertEquals(rows.length, 3);
    assertEquals(
      rows.filter((r) => r.parent_id === entry.id).map((r) => r.type).sort(),
      ["limit", "stop"],
    );
    const adopted = await t.db.owner`
      select 1 from execution_logs where payload->>'note' = 'adopted'`;
    assertEquals(adopted.length, 0);
    const view = await (await t.as("ann", `/api/v1/orders/${entry.id}`)).json();
    assertEquals(view.legs.length, 2);
  } finally {
    await t.close();
  }
});
