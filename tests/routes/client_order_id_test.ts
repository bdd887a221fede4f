/**
 * A client order id names one order: the same key with the same request answers that order;
 * the same key with another request is a 422 CLIENT_ORDER_ID_CONFLICT (never the old order),
 * also when the requests race.
 */
import { assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";

async function place(
  t: TestApp,
  user: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await t.as(user, "/api/v1/orders", { method: "POST", json: body, headers });
  return { status: res.status, body: await res.json() };
}

const AAPL_BUY = {
  symbol: "AAPL",
  qty: "10",
  side: "buy",
  type: "limit",
  limit_price: "100",
  time_in_force: "gtc",
  client_order_id: "k-1",
};

Deno.test({
  name: "client_order_id: the same key with another order is a 422 conflict, not the old order",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const first = await place(t, "cal", AAPL_BUY);
    assertEquals(first.status, 201, JSON.stringify(first.body));

    // The same request, written differently: the existing order.
    const same = await place(t, "cal", {
      ...AAPL_BUY,
      symbol: "aapl",
      qty: 10,
      limit_price: "100.00",
      order_class: "simple",
    });
    assertEquals([same.status, same.body.id], [200, first.body.id], JSON.stringify(same.body));

    const msftSell = { ...AAPL_BUY, symbol: "MSFT", side: "sell", qty: "5" };
    const conflict = await place(t, "cal", msftSell);
    assertEquals(conflict.status, 422, JSON.stringify(conflict.body));
    assertEquals(conflict.body.error.code, "CLIENT_ORDER_ID_CONFLICT");
    assertEquals(conflict.body.error.details.existing_order_id, first.body.id);
    assertEquals(
      conflict.body.error.details.differences.map((d: { field: string }) => d.field),
      ["symbol", "side", "qty"],
    );
    assertEquals(
      conflict.body.error.message,
      `Cannot place order: client_order_id "k-1" already names order "${first.body.id}" and its symbol is "AAPL", not "MSFT"; use a new client_order_id for a different order`,
    );
    for (
      const change of [{ limit_price: "101" }, { time_in_force: "day" }, { extended_hours: true }]
    ) {
      const r = await place(t, "cal", { ...AAPL_BUY, ...change });
      assertEquals([r.status, r.body.error?.code], [422, "CLIENT_ORDER_ID_CONFLICT"]);
    }
    const viaHeader = await place(t, "cal", { ...msftSell, client_order_id: undefined }, {
      "Idempotency-Key": "k-1",
    });
    assertEquals([viaHeader.status, viaHeader.body.error?.code], [
      422,
      "CLIENT_ORDER_ID_CONFLICT",
    ]);

    // Nothing was placed or changed; each conflict left a DENIED audit row.
    const rows = await t.db.owner<{ symbol: string; side: string; qty: string }[]>`
      select symbol, side, qty from orders`;
    assertEquals(rows.map((r) => [r.symbol, r.side, r.qty]), [["AAPL", "buy", "10"]]);
    const denied = await t.db.owner<{ status: string }[]>`
      select status from execution_logs where action = 'DENIED' and client_order_id = 'k-1'`;
    assertEquals(denied.map((r) => r.status), Array(5).fill("CLIENT_ORDER_ID_CONFLICT"));
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "client_order_id: racing requests with one key place one order and refuse other bodies",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const key = { ...AAPL_BUY, client_order_id: "race-1" };
    const other = { ...key, qty: "7" };
    const results = await Promise.all([
      place(t, "dan", key),
      place(t, "dan", other),
      place(t, "dan", key),
      place(t, "dan", other),
      place(t, "dan", key),
    ]);
    // Whichever body came first is the order; every request with it answers that order.
    const rows = await t.db.owner<{ id: string; qty: string }[]>`select id, qty from orders`;
    assertEquals(rows.length, 1);
    const bodies = [key, other, key, other, key];
    assertEquals(results.filter((r) => r.status === 201).length, 1);
    results.forEach((r, i) => {
      if (bodies[i]!.qty === rows[0]!.qty) {
        assertEquals([r.status === 422, r.body.id], [false, rows[0]!.id]);
      } else {
        assertEquals([r.status, r.body.error?.code], [422, "CLIENT_ORDER_ID_CONFLICT"]);
      }
    });
  } finally {
    await t.close();
  }
});
