import { assert, assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";
import { rangeWindow, tradeStats } from "../../routes/trades.ts";
import { createTestApp, DB_TEST } from "../_helpers.ts";

Deno.test("trade stats: win rate, averages, profit factor, drawdown, best and worst", () => {
  const s = tradeStats(["10", "-5", "20", "-15", "-5", "30"].map((x) => Decimal.parse(x)));
  assertEquals(s.count, 6);
  assertEquals([s.wins, s.losses, s.win_rate], [3, 3, "0.5"]);
  assertEquals([s.total_pl, s.average_pl], ["35", "5.833333"]);
  assertEquals([s.average_win, s.average_loss], ["20", "-8.333333"]);
  assertEquals(s.profit_factor, "2.4");
  assertEquals(s.max_drawdown, "20"); // peak 25 after +20, trough 5 after -15 and -5
  assertEquals([s.best_trade, s.worst_trade], ["30", "-15"]);
  const empty = tradeStats([]);
  assertEquals([empty.count, empty.win_rate, empty.profit_factor, empty.best_trade], [
    0,
    null,
    null,
    null,
  ]);
});

Deno.test("trade ranges: today, week from Monday, month, in New York time", () => {
  const now = Date.parse("2026-11-26T18:00:00Z"); // Thursday 13:00 in New York
  assertEquals(new Date(rangeWindow("today", now).from!).toISOString(), "2026-11-26T05:00:00.000Z");
  assertEquals(new Date(rangeWindow("week", now).from!).toISOString(), "2026-11-23T05:00:00.000Z");
  assertEquals(new Date(rangeWindow("month", now).from!).toISOString(), "2026-11-01T04:00:00.000Z");
  assertEquals(rangeWindow("all", now), { from: null, to: null });
});

Deno.test({
  name: "trades: closed round trips are listed, sorted, paged, filtered and summarized",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const post = (json: Record<string, unknown>) =>
      t.as("ann", "/api/v1/orders", {
        method: "POST",
        json: { type: "market", time_in_force: "day", ...json },
      });
    for (const symbol of ["AAPL", "MSFT", "NVDA"]) {
      assertEquals((await post({ symbol, qty: "4", side: "buy" })).status, 201);
      assertEquals((await post({ symbol, qty: "4", side: "sell" })).status, 201);
    }
    await t.trading.advance(100);
    const page = await (await t.as("ann", "/api/v1/trades?pageSize=2&sort=symbol&order=asc"))
      .json();
    assertEquals([page.totalItems, page.totalPages, page.page], [3, 2, 1]);
    assertEquals(page.items.map((x: { symbol: string }) => x.symbol), ["AAPL", "MSFT"]);
    assertEquals(page.items[0].side, "long");
    const page2 =
      await (await t.as("ann", "/api/v1/trades?pageSize=2&page=2&sort=symbol&order=asc")).json();
    assertEquals(page2.items.map((x: { symbol: string }) => x.symbol), ["NVDA"]);
    const one = await (await t.as("ann", "/api/v1/trades?symbol=msft&range=today")).json();
    assertEquals(one.totalItems, 1);
    const got = await t.as("ann", `/api/v1/trades/${one.items[0].id}`);
    assertEquals((await got.json()).symbol, "MSFT");
    assertEquals((await t.as("bea", `/api/v1/trades/${one.items[0].id}`)).status, 404);
    const stats = await (await t.as("ann", "/api/v1/trades/stats")).json();
    assertEquals(stats.count, 3);
    // Buying at the ask and selling at the bid at once loses the spread.
    assert(Number(stats.total_pl) <= 0, JSON.stringify(stats));
    const summary = await (await t.as("ann", "/api/v1/summary")).json();
    assertEquals([summary.open_positions, summary.trades_today, summary.running_bots], [0, 3, 0]);
    assertEquals(summary.realized_pl_today, stats.total_pl);
    const bad = await t.as("ann", "/api/v1/trades?sort=password&pageSize=0");
    assertEquals(bad.status, 400);
    const custom = await t.as("ann", "/api/v1/trades?range=custom");
    assertEquals([custom.status, (await custom.json()).error.code], [400, "VALIDATION_FAILED"]);
  } finally {
    await t.close();
  }
});
