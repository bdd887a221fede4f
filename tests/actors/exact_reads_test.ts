/**
 * What the engine reads back from the ledger keeps its exact decimal text: a position or an
 * open order whose quantity JSON would print in exponent form (1e-7) or round as a float does
 * not break the next order's risk check; a fill the ledger missed is recorded at its exact price.
 */
import { assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";
import { createTestApp, DB_TEST } from "../_helpers.ts";

Deno.test({
  name: "risk snapshot: a residual position of 0.0000001 and wide open quantities read exactly",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const post = (json: Record<string, unknown>) =>
      t.as("remy", "/api/v1/orders", { method: "POST", json });
    const market = { type: "market", time_in_force: "day" };
    const buy = await post({ symbol: "AAPL", qty: "2.0000001", side: "buy", ...market });
    assertEquals(buy.status, 201, await buy.text());
    await t.trading.advance(1_000);
    const sell = await post({ symbol: "AAPL", qty: "2", side: "sell", ...market });
    assertEquals(sell.status, 201, await sell.text());
    await t.trading.advance(1_000);
    const [pos] = await t.db.owner<{ qty: string }[]>`select qty::text from positions`;
    assertEquals(pos!.qty, "0.0000001");
    // a resting order whose open qty has 17 significant digits (a float keeps about 16)
    const quote = await t.trading.venue.latestQuote("MSFT");
    const rest = await post({
      symbol: "MSFT",
      qty: "1.234567891",
      side: "buy",
      type: "limit",
      limit_price: (quote.bp * 0.9).toFixed(2),
      time_in_force: "day",
    });
    assertEquals(rest.status, 201, await rest.text());
    // the next order reads both back for its risk check
    const next = await post({ symbol: "AAPL", qty: "1", side: "buy", ...market });
    assertEquals(next.status, 201, await next.text());

    // a limit whose JSON number would print as 1e-7: the order is judged by it, not a 500
    await t.db.owner`
      insert into risk_limits (user_id, daily_loss_limit)
      select id, 0.0000001 from users where username = 'remy'`;
    await t.trading.advance(1_000);
    const judged = await post({ symbol: "AAPL", qty: "1", side: "buy", ...market });
    const body = await judged.json();
    assertEquals(
      judged.status === 201 || (judged.status >= 400 && judged.status < 500),
      true,
      JSON.stringify(body),
    );
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "reconcile: a missed fractional fill is recorded at its exact price and amount",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const [u] = await t.db.owner<{ id: string }[]>`
      select tradewind_ensure_user('rhea', 'trader') as id`;
    const userId = u!.id;
    // an order the ledger never saw, filled at the venue (placed from outside the engine)
    const venueOrder = await t.trading.venue.brokerFor(userId).submitOrder({
      symbol: "AAPL",
      qty: Decimal.parse("0.066423869"),
      side: "buy",
      type: "market",
      time_in_force: "day",
    });
    const filled = await t.trading.venue.brokerFor(userId).getOrder(venueOrder.id);
    assertEquals(filled.status, "filled");
    const report = await t.trading.engine.reconcile([userId]);
    assertEquals(report.changes > 0, true);
    const [f] = await t.db.owner<{ price: string; amount: string }[]>`
      select price::text, amount::text from fills where user_id = ${userId}`;
    assertEquals(f!.price, filled.filled_avg_price!.toString());
    const acct = await t.trading.venue.brokerFor(userId).getAccount();
    assertEquals(
      Decimal.parse("100000").sub(Decimal.parse(f!.amount)).toString(),
      acct.cash.toString(),
    );
    const [p] = await t.db.owner<{ avg: string; cost: string }[]>`
      select avg_entry_price::text as avg, cost_basis::text as cost from positions
      where user_id = ${userId}`;
    const [vp] = await t.trading.venue.brokerFor(userId).listPositions();
    assertEquals([p!.avg, p!.cost], [vp!.avg_entry_price.toString(), vp!.cost_basis.toString()]);
  } finally {
    await t.close();
  }
});
