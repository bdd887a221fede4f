import { assertEquals } from "../_assert.ts";
import fc from "fast-check";
import { Decimal } from "../../core/decimal.ts";
import { withTenant } from "../../db/database.ts";
import {
  applyToPosition,
  findOrder,
  insertOrder,
  recordFill,
  rowToOrder,
} from "../../db/ledger.ts";
import { createOrder } from "../../core/order.ts";
import { seededIdSource } from "../../core/ids.ts";
import { createTestDb, DB_TEST } from "../_helpers.ts";

const d = (s: string) => Decimal.parse(s);

Deno.test("applyToPosition: average cost, partial close, flip", () => {
  let m = applyToPosition(Decimal.ZERO, Decimal.ZERO, d("10"), d("100"));
  assertEquals([m.qty.toString(), m.avg.toString()], ["10", "100"]);
  m = applyToPosition(m.qty, m.avg, d("10"), d("110"));
  assertEquals([m.qty.toString(), m.avg.toString()], ["20", "105"]);
  m = applyToPosition(m.qty, m.avg, d("-5"), d("120"));
  assertEquals([
    m.qty.toString(),
    m.avg.toString(),
    m.realizedPl.toString(),
    m.closedQty.toString(),
  ], [
    "15",
    "105",
    "75",
    "5",
  ]);
  m = applyToPosition(m.qty, m.avg, d("-20"), d("100"));
  assertEquals([m.qty.toString(), m.avg.toString(), m.realizedPl.toString(), m.flipped], [
    "-5",
    "100",
    "-75",
    true,
  ]);
  m = applyToPosition(m.qty, m.avg, d("5"), d("90"));
  assertEquals([m.qty.toString(), m.realizedPl.toString()], ["0", "50"]);
});

Deno.test("applyToPosition: cash plus position cost is conserved (property)", () => {
  const qtyArb = fc.integer({ min: -500, max: 500 }).filter((n) => n !== 0);
  const priceArb = fc.integer({ min: 100, max: 100_000 }); // cents
  fc.assert(
    fc.property(fc.array(fc.tuple(qtyArb, priceArb), { minLength: 1, maxLength: 40 }), (fills) => {
      let qty = Decimal.ZERO;
      let avg = Decimal.ZERO;
      let cash = Decimal.ZERO;
      let realized = Decimal.ZERO;
      for (const [q, cents] of fills) {
        const fill = Decimal.int(q);
        const price = Decimal.int(cents).div(Decimal.int(100));
        cash = cash.sub(fill.mul(price));
        const m = applyToPosition(qty, avg, fill, price);
        realized = realized.add(m.realizedPl);
        qty = m.qty;
        avg = m.avg;
      }
      // cash + cost basis of what is held = realized P&L, up to the rounding of the average
      // entry price to 9 places (well under a tenth of a cent here).
      const held = qty.mul(avg);
      const diff = cash.add(held).sub(realized).abs();
      return diff.lte(Decimal.parse("0.001"));
    }),
    { seed: 4242, numRuns: 300 },
  );
});

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
