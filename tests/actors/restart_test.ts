/**
 * Startup and crash recovery are one path: a new paper venue is rebuilt from the ledger, the
 * engine reconciles, and trading carries on with the same positions, cash and open orders.
 */
import { assert, assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";
import { loadPaperState } from "../../db/paper_state.ts";
import { createTestApp, createTestTrading, DB_TEST } from "../_helpers.ts";

Deno.test({
  name:
    "restart: the paper venue is restored from the ledger and reconciliation finds nothing to fix",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const post = (json: Record<string, unknown>) =>
      t.as("rex", "/api/v1/orders", { method: "POST", json });
    assertEquals(
      (await post({ symbol: "AAPL", qty: "10", side: "buy", type: "market", time_in_force: "day" }))
        .status,
      201,
    );
    const quote = await t.trading.venue.latestQuote("MSFT");
    const resting = await (await post({
      symbol: "MSFT",
      qty: "3",
      side: "buy",
      type: "limit",
      limit_price: (quote.bp - 2).toFixed(2),
      time_in_force: "gtc",
    })).json();
    assertEquals(resting.status, "new");
    await t.trading.advance(1_000);
    const userId =
      (await t.db.owner<{ id: string }[]>`select id from users where username = 'rex'`)[0]!.id;
    const before = await t.trading.venue.brokerFor(userId).getAccount();
    const positionsBefore = await t.trading.venue.brokerFor(userId).listPositions();

    // A new process: a fresh venue and engine on the same ledger, later in time.
    await t.trading.engine.stop();
    const second = createTestTrading(t.db, {
      startMs: t.trading.clock.now() + 1_000,
      idSeeds: { venue: 12, engine: 100 },
    });
    const results = second.venue.restore(await loadPaperState(t.db.sql, Decimal.parse("100000")));
    assertEquals(results.length, 1);
    assertEquals(results[0]!.restored.length, 1);
    const report = await second.engine.reconcile([userId]);
    assertEquals(report.changes, 0);

    const broker = second.venue.brokerFor(userId);
    const after = await broker.getAccount();
    assertEquals(after.cash.toString(), before.cash.toString());
    assertEquals(
      (await broker.listPositions()).map((
        p,
      ) => [p.symbol, p.qty.toString(), p.avg_entry_price.toString()]),
      positionsBefore.map((p) => [p.symbol, p.qty.toString(), p.avg_entry_price.toString()]),
    );
    const open = await broker.listOrders({ status: "open" });
    assertEquals(open.length, 1);
    const [row] = await t.db.owner<{ broker_order_id: string; status: string }[]>`
      select broker_order_id, status from orders where id = ${resting.id}`;
    assertEquals([open[0]!.id, row!.status], [row!.broker_order_id, "new"]);

    // Trading carries on through the new engine: the restored order can be replaced.
    await second.engine.brokerFor(userId); // subscribes the engine to the restored account
    const replaced = await second.engine.replace({ userId, role: "trader" }, resting.id, {
      limit_price: Decimal.parse((quote.ap + 2).toFixed(2)),
    }, crypto.randomUUID());
    await second.advance(2_000);
    const view = await second.engine.orderView({ userId, role: "trader" }, replaced.order.id);
    assertEquals(view.status, "filled");
    const [pos] = await t.db.owner<
      { qty: string }[]
    >`select qty from positions where symbol = 'MSFT'`;
    assertEquals(pos!.qty, "3");
    assert((await t.db.owner`select 1 from execution_logs where action = 'REJECTED'`).length === 0);
    await second.engine.stop();
  } finally {
    await t.close();
  }
});
