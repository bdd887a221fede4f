/**
 * The non-order trading routes of the `/v2` face through the official SDK 4.0.2, unmodified,
 * over real HTTP: positions (list, get, close one, close all), clock, calendar and assets; plus
 * raw requests for status codes and Alpaca's error bodies.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { alpacaSdk, apiKeyFor, type ServedTestApp, servedTestApp } from "../../_alpaca.ts";

async function buy(t: ServedTestApp, username: string, symbol: string, qty: string) {
  const r = await t.as(username, "/api/v1/orders", {
    method: "POST",
    json: { symbol, qty, side: "buy", type: "market", time_in_force: "day" },
  });
  assertEquals(r.status, 201, await r.clone().text());
  await r.body?.cancel();
}

function raw(t: ServedTestApp, key: { keyId: string; secret: string }) {
  return (path: string, init: RequestInit = {}) =>
    fetch(`${t.baseUrl}${path}`, {
      ...init,
      headers: { "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret },
    });
}

Deno.test(
  "/v2 positions through the SDK: list, get, close by qty and percentage, close all",
  DB_TEST,
  async () => {
    const t = await servedTestApp();
    try {
      const key = await apiKeyFor(t.db.sql, "alice");
      const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);
      await buy(t, "alice", "AAPL", "10");
      await buy(t, "alice", "MSFT", "4");
      await t.trading.advance(100);

      const all = await alpaca.trading.positions.getAllOpenPositions();
      assertEquals(all.map((p) => [p.symbol, p.qty, p.side]).sort(), [
        ["AAPL", "10", "long"],
        ["MSFT", "4", "long"],
      ]);
      const aapl = await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: "aapl" });
      assertEquals(aapl.qty, "10");
      assertEquals(typeof aapl.marketValue, "string");
      assertEquals(typeof aapl.avgEntryPrice, "string");
      // By asset id as well as by symbol.
      const byId = await alpaca.trading.positions.getOpenPosition({
        symbolOrAssetId: aapl.assetId,
      });
      assertEquals(byId.symbol, "AAPL");

      const byQty = await alpaca.trading.positions.deleteOpenPosition({
        symbolOrAssetId: "AAPL",
        qty: 3,
      });
      assertEquals([byQty.symbol, byQty.qty, byQty.side, byQty.type], [
        "AAPL",
        "3",
        "sell",
        "market",
      ]);
      await t.trading.advance(100);
      const byPct = await alpaca.trading.positions.deleteOpenPosition({
        symbolOrAssetId: "AAPL",
        percentage: 50,
      });
      assertEquals(byPct.qty, "3"); // 50% of 7 whole shares rounds down
      await t.trading.advance(100);

      // The closing orders are ordinary orders on the other face too.
      const v1 = await (await t.as("alice", "/api/v1/orders?status=all")).json();
      assert(v1.some((o: { id: string }) => o.id === byQty.id), "the close is on /api/v1 too");

      // A resting order is canceled first (cancel_orders=true), then the positions are closed.
      const resting = await t.as("alice", "/api/v1/orders", {
        method: "POST",
        json: {
          symbol: "MSFT",
          qty: "1",
          side: "buy",
          type: "limit",
          limit_price: "300",
          time_in_force: "gtc",
        },
      });
      const restingId = (await resting.json()).id;
      const closed = await alpaca.trading.positions.deleteAllOpenPositions({ cancelOrders: true });
      assertEquals(closed.map((r) => [r.symbol, r.status]), [["AAPL", 200], ["MSFT", 200]]);
      assertEquals(closed.map((r) => r.body?.side), ["sell", "sell"]);
      await t.trading.advance(100);
      assertEquals(await alpaca.trading.positions.getAllOpenPositions(), []);
      const canceled = await (await t.as("alice", `/api/v1/orders/${restingId}`)).json();
      assertEquals(canceled.status, "canceled");
    } finally {
      await t.close();
    }
  },
);

Deno.test("/v2 positions: Alpaca's status codes and error bodies", DB_TEST, async () => {
  const t = await servedTestApp();
  try {
    const key = await apiKeyFor(t.db.sql, "bob");
    const get = raw(t, key);
    const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);

    const none = await get("/v2/positions/AAPL");
    assertEquals(none.status, 404);
    assertEquals(await none.json(), { code: 40410000, message: "position does not exist" });
    const err = await assertRejects(() =>
      alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: "AAPL" })
    );
    assertEquals([err.name, (err as unknown as { status: number }).status], ["NotFoundError", 404]);
    const closeNone = await get("/v2/positions/AAPL", { method: "DELETE" });
    assertEquals([closeNone.status, (await closeNone.json()).code], [404, 40410000]);

    await buy(t, "bob", "NVDA", "5");
    await t.trading.advance(100);
    for (
      const [query, status, code] of [
        ["qty=1&percentage=10", 422, 40010001],
        ["qty=abc", 422, 40010001],
        ["qty=-1", 422, 40010001],
        ["qty=0.0000000001", 422, 40010001],
        ["percentage=101", 422, 40010001],
        ["qty=6", 403, 40310000],
      ] as const
    ) {
      const r = await get(`/v2/positions/NVDA?${query}`, { method: "DELETE" });
      const body = await r.json();
      assertEquals([r.status, body.code], [status, code], `${query}: ${JSON.stringify(body)}`);
      assert(typeof body.message === "string" && body.message.length > 0);
    }
    const short = await get("/v2/positions/NVDA?qty=6", { method: "DELETE" });
    assertEquals(
      (await short.json()).message,
      "insufficient qty available for order (requested: 6, available: 5)",
    );
    // Nothing above touched the position or the ledger.
    assertEquals(
      (await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: "NVDA" })).qty,
      "5",
    );
    const [row] = await t.db.owner<{ n: number }[]>`select count(*)::int as n from orders`;
    assertEquals(row!.n, 1);

    const badFlag = await get("/v2/positions?cancel_orders=yes", { method: "DELETE" });
    assertEquals([badFlag.status, (await badFlag.json()).code], [422, 40010001]);
    const empty = await raw(t, await apiKeyFor(t.db.sql, "carol"))("/v2/positions", {
      method: "DELETE",
    });
    assertEquals([empty.status, await empty.json()], [207, []]);
  } finally {
    await t.close();
  }
});

Deno.test("/v2 clock and calendar through the SDK", DB_TEST, async () => {
  const t = await servedTestApp();
  try {
    const key = await apiKeyFor(t.db.sql, "dora");
    const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);
    const clock = await alpaca.trading.clock.legacyClock();
    // The paper venue's own clock: the test clock, and its configured hours.
    assertEquals(clock.timestamp.getTime(), t.trading.clock.now());
    const venue = await t.trading.venue.brokerFor("x").getClock();
    assertEquals(clock.isOpen, venue.is_open);
    assertEquals(clock.nextOpen.getTime(), Date.parse(venue.next_open));
    assertEquals(clock.nextClose.getTime(), Date.parse(venue.next_close));

    // The SDK sends Dates as toISOString(), milliseconds included.
    const days = await alpaca.trading.calendar.legacyCalendar({
      start: new Date("2026-11-25T00:00:00.000Z"),
      end: new Date("2026-11-30T00:00:00.000Z"),
    });
    assertEquals(
      days.map((d) => [d.date.toISOString().slice(0, 10), d.open, d.close]),
      [
        ["2026-11-25", "09:30", "16:00"],
        ["2026-11-27", "09:30", "13:00"], // the day after Thanksgiving closes early
        ["2026-11-30", "09:30", "16:00"],
      ],
    );
    assertEquals(days[0]!.settlementDate.toISOString().slice(0, 10), "2026-11-27");

    const get = raw(t, key);
    const plain = await (await get("/v2/calendar?start=2026-07-02&end=2026-07-06")).json();
    assertEquals(plain, [
      {
        date: "2026-07-02",
        open: "09:30",
        close: "16:00",
        session_open: "0400",
        session_close: "2000",
        settlement_date: "2026-07-06",
      },
      {
        date: "2026-07-06",
        open: "09:30",
        close: "16:00",
        session_open: "0400",
        session_close: "2000",
        settlement_date: "2026-07-07",
      },
    ]);
    const settling = await (await get(
      "/v2/calendar?start=2026-07-06&end=2026-07-06&date_type=SETTLEMENT",
    )).json();
    assertEquals(settling.map((d: { date: string }) => d.date), ["2026-07-02"]);
    const everything = await (await get("/v2/calendar")).json();
    assert(everything.length > 8000, "without bounds: every day the calendar knows");
    for (const q of ["start=tomorrow", "end=2026-02-30", "date_type=LUNAR"]) {
      const r = await get(`/v2/calendar?${q}`);
      const body = await r.json();
      assertEquals([r.status, body.code], [422, 40010001], q);
    }
  } finally {
    await t.close();
  }
});

Deno.test(
  "/v2 assets through the SDK: filters, one by symbol or id, 404 body",
  DB_TEST,
  async () => {
    const t = await servedTestApp();
    try {
      const key = await apiKeyFor(t.db.sql, "erin");
      const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);
      const all = await alpaca.trading.assets.getV2Assets({ status: "active" });
      assertEquals(all.length, 21);
      // Sorted by class, exchange, then symbol.
      assertEquals(all[0]!.exchange, "ARCA");
      const nyse = await alpaca.trading.assets.getV2Assets({ exchange: "NYSE" });
      assert(nyse.length > 0 && nyse.every((a) => a.exchange === "NYSE"));
      assertEquals(nyse.map((a) => a.symbol), [...nyse.map((a) => a.symbol)].sort());
      assertEquals(await alpaca.trading.assets.getV2Assets({ assetClass: "crypto" }), []);
      const fractional = await alpaca.trading.assets.getV2Assets({
        attributes: ["fractional_eh_enabled"],
      });
      assert(!fractional.some((a) => a.symbol === "GME"), "GME is not fractionable");

      const gme = await alpaca.trading.assets.getV2AssetsSymbolOrAssetId({
        symbolOrAssetId: "gme",
      });
      assertEquals([gme.symbol, gme.fractionable, gme.borrowStatus], [
        "GME",
        false,
        "hard_to_borrow",
      ]);
      const byId = await alpaca.trading.assets.getV2AssetsSymbolOrAssetId({
        symbolOrAssetId: gme.id,
      });
      assertEquals(byId.symbol, "GME");

      const get = raw(t, key);
      const one = await (await get("/v2/assets/AAPL")).json();
      assertEquals(one.class, "us_equity");
      assertEquals("sector" in one, false);
      const repeated = await get("/v2/assets?asset_class=crypto&asset_class=us_equity");
      assertEquals((await repeated.json()).length, 21);
      const missing = await get("/v2/assets/ZZZZQX");
      assertEquals([missing.status, await missing.json()], [404, {
        code: 40410000,
        message: "asset not found for ZZZZQX",
      }]);
      for (const q of ["status=dormant", "asset_class=stocks", "exchange=LSE"]) {
        const r = await get(`/v2/assets?${q}`);
        assertEquals([r.status, (await r.json()).code], [422, 40010001], q);
      }
    } finally {
      await t.close();
    }
  },
);
