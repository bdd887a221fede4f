import { assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";
import { fillAmount } from "../../core/money.ts";
import { withTenant } from "../../db/database.ts";
import { findOrder, insertOrder, recordFill, rowToOrder } from "../../db/ledger.ts";
import { createOrder } from "../../core/order.ts";
import { seededIdSource } from "../../core/ids.ts";
import { createTestDb, DB_TEST } from "../_helpers.ts";

const d = (s: string) => Decimal.parse(s);

Deno.test({
  name: "recordFill: idempotent on execution id; trades rows carry realized P&L",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const [u] = await db.sql<{ id: string }[]>`select tradewind_ensure_user('ivy', 'trader') as id`;
    const userId = u!.id;
    const ids = seededIdSource(7);
    const buy = createOrder({
      symbol: "AAPL",
      qty: d("10"),
      side: "buy",
      type: "market",
      time_in_force: "day",
    }, {
      ids,
      tsMs: Date.UTC(2026, 10, 23, 15),
      assetId: "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
    }).order;
    const sell = createOrder({
      symbol: "AAPL",
      qty: d("4"),
      side: "sell",
      type: "market",
      time_in_force: "day",
    }, {
      ids,
      tsMs: Date.UTC(2026, 10, 23, 16),
      assetId: "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
    }).order;
    const tenant = { userId, role: "trader" as const };
    await withTenant(db.sql, tenant, async (tx) => {
      await insertOrder(tx, buy, { userId, broker: "paper" });
      await insertOrder(tx, sell, { userId, broker: "paper" });
    });
    const fill = (
      orderId: string,
      side: "buy" | "sell",
      qty: string,
      price: string,
      exec: string,
    ) =>
      withTenant(db.sql, tenant, (tx) =>
        recordFill(tx, {
          userId,
          orderId,
          botId: null,
          executionId: exec,
          symbol: "AAPL",
          assetId: null,
          side,
          qty: d(qty),
          price: d(price),
          tsMs: Date.UTC(2026, 10, 23, 17),
          venue: "paper",
        }));
    const f1 = await fill(buy.id, "buy", "10", "150.25", "x1");
    assertEquals([f1.inserted, f1.positionQty.toString(), f1.avgEntryPrice.toString()], [
      true,
      "10",
      "150.25",
    ]);
    const again = await fill(buy.id, "buy", "10", "150.25", "x1");
    assertEquals(again.inserted, false);
    const f2 = await fill(sell.id, "sell", "4", "151.75", "x2");
    assertEquals([f2.positionQty.toString(), f2.realizedPl.toString()], ["6", "6"]);
    const rows = await withTenant(db.sql, tenant, async (tx) => ({
      fills: await tx`select execution_id from fills order by ts, execution_id`,
      trades: await tx<{ realized_pl: string; qty: string; side: string }[]>`
        select realized_pl, qty, side from trades`,
      pos: await tx<{ qty: string; cost_basis: string }[]>`select qty, cost_basis from positions`,
    }));
    assertEquals(rows.fills.length, 2);
    assertEquals(rows.trades.map((t) => [t.side, t.qty, t.realized_pl]), [["long", "4", "6"]]);
    assertEquals(rows.pos.map((p) => [p.qty, p.cost_basis]), [["6", "901.5"]]);
    const back = await withTenant(db.sql, tenant, (tx) => findOrder(tx, buy.id));
    assertEquals(rowToOrder(back!).qty?.toString(), "10");
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "fills keep their cash amount; the ledger refuses values wider than nine places",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    // the migration's rule for old rows is core's: half-even at the ninth place
    const cases: [string, string][] = [
      ["0.066423869", "84.98"],
      ["0.000000005", "0.1"],
      ["0.000000015", "0.1"],
      ["0.000000025", "0.1"],
      ["1.234567891", "987.654321"],
      ["3", "0.0001"],
    ];
    for (const [q, p] of cases) {
      const [r] = await db.owner<{ a: string }[]>`
        select tradewind_fill_amount(${q}::numeric, ${p}::numeric)::text as a`;
      assertEquals(r!.a, fillAmount(d(q), d(p)).toString(), `${q} × ${p}`);
    }
    const [u] = await db.sql<{ id: string }[]>`select tradewind_ensure_user('ivy', 'trader') as id`;
    const userId = u!.id;
    const tenant = { userId, role: "trader" as const };
    const buy = createOrder({
      symbol: "AAPL",
      qty: d("0.066423869"),
      side: "buy",
      type: "market",
      time_in_force: "day",
    }, { ids: seededIdSource(8), tsMs: Date.UTC(2026, 10, 23, 15), assetId: "" }).order;
    await withTenant(db.sql, tenant, (tx) => insertOrder(tx, buy, { userId, broker: "paper" }));
    const r = await withTenant(db.sql, tenant, (tx) =>
      recordFill(tx, {
        userId,
        orderId: buy.id,
        botId: null,
        executionId: "x1",
        symbol: "AAPL",
        assetId: null,
        side: "buy",
        qty: d("0.066423869"),
        price: d("84.98"),
        tsMs: Date.UTC(2026, 10, 23, 15),
        venue: "paper",
      }));
    assertEquals(r.avgEntryPrice.toString(), "84.98");
    const [row] = await db.owner<{ amount: string; avg: string; cost: string }[]>`
      select f.amount::text as amount, p.avg_entry_price::text as avg, p.cost_basis::text as cost
      from fills f join positions p using (user_id, symbol)`;
    assertEquals(row, { amount: "5.644700388", avg: "84.98", cost: "5.644700388" });
    // a value the engine could not read back is refused where it is written
    const err = await db.owner`update positions set cost_basis = 5.6447003876`.catch((e) => e);
    assertEquals(err.code, "23514");
    assertEquals(err.constraint_name, "positions_cost_basis_nine_places");
  } finally {
    await db.close();
  }
});
