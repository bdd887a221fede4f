/**
 * Broker conformance: fills, account, positions, clock, calendar, assets and trade updates.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";

import { assertAlpacaOrder, type Check, codeOf, d } from "./_conformance_ctx.ts";

/** Registers the checks with `check`. */
export function accountChecks(check: Check): void {
  check("a fill moves the account and the position by exact decimals", async (c) => {
    const before = await c.broker.getAccount();
    assertEquals(before.status, "ACTIVE");
    assertEquals(before.currency, "USD");
    const { order, fills } = await c.buyFilled("AAPL", "7");
    let qty = Decimal.ZERO;
    let cost = Decimal.ZERO;
    for (const f of fills) {
      qty = qty.add(f.qty!);
      cost = cost.add(f.amount ?? f.qty!.mul(f.price!).round(9));
    }
    assert(qty.eq(d("7")), `filled ${qty}`);
    const after = await c.broker.getAccount();
    assert(after.cash.eq(before.cash.sub(cost)), `cash ${after.cash} = ${before.cash} - ${cost}`);
    const pos = await c.broker.getPosition("AAPL");
    assertEquals(pos.symbol, "AAPL");
    assertEquals(pos.side, "long");
    assertEquals(pos.asset_id, order.asset_id);
    assert(pos.qty.eq(d("7")), `position qty ${pos.qty}`);
    assert(pos.cost_basis.eq(cost), `cost_basis ${pos.cost_basis} = ${cost}`);
    const avg = cost.div(qty);
    assert(
      pos.avg_entry_price.sub(avg).abs().lte(d("0.000001")),
      `avg ${pos.avg_entry_price} ~ ${avg}`,
    );
    const listed = await c.broker.listPositions();
    assertEquals(listed.map((p) => p.symbol), ["AAPL"]);
    assert(listed[0]!.qty.eq(pos.qty));
    assertEquals(await codeOf(c.broker.getPosition("MSFT")), "POSITION_NOT_FOUND");
  });

  check("closePosition by qty and percentage; closeAllPositions flattens the rest", async (c) => {
    await c.buyFilled("AAPL", "10");
    await c.buyFilled("MSFT", "4");
    const byQty = await c.broker.closePosition("AAPL", { qty: d("3") });
    assertAlpacaOrder(byQty, { symbol: "AAPL", side: "sell", qty: d("3") });
    assertEquals(byQty.type, "market");
    const filled = (id: string) => c.updates.some((u) => u.order.id === id && u.event === "fill");
    for (let i = 0; i < 20 && !filled(byQty.id); i++) await c.advance(1000);
    await c.until(() => filled(byQty.id), "the close-by-qty fill");
    assert((await c.broker.getPosition("AAPL")).qty.eq(d("7")));
    const byPct = await c.broker.closePosition("AAPL", { percentage: d("50") });
    assert(byPct.qty?.eq(d("3")), `50% of 7 whole shares rounds down to 3: ${byPct.qty}`);
    for (let i = 0; i < 20 && !filled(byPct.id); i++) await c.advance(1000);
    await c.until(() => filled(byPct.id), "the close-by-percentage fill");
    assert((await c.broker.getPosition("AAPL")).qty.eq(d("4")));
    const results = await c.broker.closeAllPositions({ cancelOrders: true });
    assertEquals(results.map((r) => [r.symbol, r.status]), [["AAPL", 200], ["MSFT", 200]]);
    for (const r of results) assert(r.order && r.order.side === "sell", JSON.stringify(r));
    const ids = results.map((r) => r.order!.id);
    for (let i = 0; i < 20 && !ids.every(filled); i++) await c.advance(1000);
    await c.until(() => ids.every(filled), "the close-all fills");
    assertEquals(await c.broker.listPositions(), []);
    assertEquals(await codeOf(c.broker.closePosition("AAPL")), "POSITION_NOT_FOUND");
  });

  check("clock, calendar and assets; an unknown asset is ASSET_NOT_FOUND", async (c) => {
    const clock = await c.broker.getClock();
    assertEquals(typeof clock.is_open, "boolean");
    for (const t of [clock.timestamp, clock.next_open, clock.next_close]) {
      assert(/[+-]\d\d:\d\d$|Z$/.test(t) && Number.isFinite(Date.parse(t)), `RFC-3339: ${t}`);
    }
    assert(Date.parse(clock.next_close) > Date.parse(clock.timestamp), "next_close is ahead");
    const days = await c.broker.getCalendar("2026-11-23", "2026-11-27");
    assertEquals(days.map((x) => x.date), ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27"]);
    assertEquals(days.map((x) => x.close), ["16:00", "16:00", "16:00", "13:00"]);
    assertEquals(days[0]!.open, "09:30");
    assertEquals(days[0]!.settlementDate, "2026-11-24");
    const assets = await c.broker.listAssets();
    const aapl = assets.find((a) => a.symbol === "AAPL");
    assert(aapl, "AAPL is listed");
    assertEquals(aapl.class, "us_equity");
    assertEquals(aapl.tradable, true);
    assertEquals((await c.broker.getAsset("AAPL")).id, aapl.id);
    assertEquals((await c.broker.getAsset(aapl.id)).symbol, "AAPL");
    assertEquals(await codeOf(c.broker.getAsset("NOPEXYZ")), "ASSET_NOT_FOUND");
  });

  check("trade updates arrive in order, every fill with price, qty and execution_id", async (c) => {
    const { order, fills } = await c.buyFilled("AAPL", "25");
    const mine = c.updates.filter((u) => u.order.id === order.id);
    assertEquals(mine.at(-1)!.event, "fill");
    assertEquals(mine.at(-1)!.order.status, "filled");
    let cum = Decimal.ZERO;
    for (const f of fills) {
      assert(f.price?.isPositive(), `fill price ${f.price}`);
      assert(f.qty?.isPositive(), `fill qty ${f.qty}`);
      assert(f.execution_id && f.execution_id.length > 0, "execution_id");
      cum = cum.add(f.qty!);
      assert(f.order.filled_qty.eq(cum), `filled_qty ${f.order.filled_qty} runs with fills ${cum}`);
      assert(f.position_qty?.eq(cum), `position_qty ${f.position_qty} = ${cum}`);
    }
    const execs = new Set(fills.map((f) => f.execution_id));
    assertEquals(execs.size, fills.length, "execution ids are unique");
    const times = mine.map((u) => u.timestamp);
    for (let i = 1; i < times.length; i++) assert(times[i]! >= times[i - 1]!, "in time order");
    const firstFill = mine.findIndex((u) => u.event === "fill" || u.event === "partial_fill");
    assert(
      mine.slice(firstFill).every((u) => u.event === "fill" || u.event === "partial_fill"),
      `no acknowledgement after a fill: ${mine.map((u) => u.event)}`,
    );
  });
}
