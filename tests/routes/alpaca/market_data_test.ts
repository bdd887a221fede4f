import { assert, assertEquals } from "../../_assert.ts";
import { DB_TEST, TEST_START_MS } from "../../_helpers.ts";
import { alpacaSdk, apiKeyFor, servedTestApp } from "../../_alpaca.ts";

const HOUR = 3_600_000;

Deno.test(
  "Market data through the official SDK: latest quote, trade and bar, snapshot, multi-symbol",
  DB_TEST,
  async () => {
    const t = await servedTestApp();
    try {
      await t.trading.advance(120_000);
      const key = await apiKeyFor(t.db.sql, "alice");
      const stocks = alpacaSdk(t.baseUrl, key.keyId, key.secret).marketData.stocks;

      const q = await stocks.stockLatestQuoteSingle({ symbol: "AAPL", feed: "iex" });
      assertEquals(q.symbol, "AAPL");
      assert(Number(q.quote.bp) > 0 && Number(q.quote.ap) >= Number(q.quote.bp), "a real NBBO");
      assert(q.quote.t instanceof Date, "t parsed as a Date");

      const tr = await stocks.stockLatestTradeSingle({ symbol: "aapl" });
      assertEquals(tr.symbol, "AAPL");
      assert(Number(tr.trade.p) > 0);

      const bar = await stocks.stockLatestBarSingle({ symbol: "MSFT" });
      assertEquals(bar.symbol, "MSFT");
      assert(Number(bar.bar.c) > 0);

      const quotes = await stocks.stockLatestQuotes({ symbols: "AAPL,MSFT" });
      assertEquals(Object.keys(quotes.quotes).sort(), ["AAPL", "MSFT"]);
      const trades = await stocks.stockLatestTrades({ symbols: "AAPL,MSFT" });
      assertEquals(Object.keys(trades.trades).sort(), ["AAPL", "MSFT"]);
      const bars = await stocks.stockLatestBars({ symbols: "AAPL,MSFT" });
      assertEquals(Object.keys(bars.bars).sort(), ["AAPL", "MSFT"]);

      const snap = await stocks.stockSnapshotSingle({ symbol: "AAPL" });
      assertEquals(snap.symbol, "AAPL");
      assert(snap.latestTrade && snap.latestQuote && snap.minuteBar && snap.dailyBar);

      // The multi-symbol snapshot answer is the unwrapped map (ALPACA.md §9 item 8).
      const snaps = await stocks.stockSnapshots({ symbols: "AAPL,MSFT" });
      assertEquals(Object.keys(snaps).sort(), ["AAPL", "MSFT"]);
      assert(snaps.AAPL!.latestTrade && snaps.MSFT!.prevDailyBar);
    } finally {
      await t.close();
    }
  },
);

Deno.test(
  "Bars through the official SDK: pages until next_page_token is null, one and several symbols",
  DB_TEST,
  async () => {
    const t = await servedTestApp();
    try {
      await t.trading.advance(60_000);
      const key = await apiKeyFor(t.db.sql, "alice");
      const stocks = alpacaSdk(t.baseUrl, key.keyId, key.secret).marketData.stocks;
      const start = new Date(TEST_START_MS - HOUR);
      const end = new Date(TEST_START_MS);

      const all = await stocks.stockBarSingle({ symbol: "AAPL", timeframe: "1Min", start, end });
      assertEquals(all.symbol, "AAPL");
      assertEquals(all.nextPageToken, null);
      assert(all.bars.length >= 50, `an hour of minute bars, got ${all.bars.length}`);

      const paged: unknown[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await stocks.stockBarSingle({
          symbol: "AAPL",
          timeframe: "1Min",
          start,
          end,
          limit: 25,
          ...(token ? { pageToken: token } : {}),
        });
        assert(page.bars.length <= 25);
        paged.push(...page.bars);
        token = page.nextPageToken ?? undefined;
        pages++;
      } while (token && pages < 20);
      assertEquals(token, undefined);
      assertEquals(JSON.stringify(paged), JSON.stringify(all.bars));

      // Several symbols: the limit caps the total; sorted by symbol, then time.
      const multi: Record<string, unknown[]> = {};
      token = undefined;
      pages = 0;
      do {
        const page = await stocks.stockBars({
          symbols: "MSFT,AAPL",
          timeframe: "1Min",
          start,
          end,
          limit: 40,
          ...(token ? { pageToken: token } : {}),
        });
        const bars = page.bars as Record<string, unknown[]>;
        const count = Object.values(bars).reduce((n, b) => n + b.length, 0);
        assert(count <= 40, `at most 40 bars a page, got ${count}`);
        for (const [symbol, list] of Object.entries(bars)) {
          (multi[symbol] ??= []).push(...list);
        }
        token = page.nextPageToken ?? undefined;
        pages++;
      } while (token && pages < 20);
      assertEquals(token, undefined);
      assertEquals(Object.keys(multi).sort(), ["AAPL", "MSFT"]);
      assertEquals(multi.AAPL!.length, all.bars.length);
      const msft = await stocks.stockBarSingle({ symbol: "MSFT", timeframe: "1Min", start, end });
      assertEquals(multi.MSFT!.length, msft.bars.length);

      const desc = await stocks.stockBarSingle({
        symbol: "AAPL",
        timeframe: "5Min",
        start,
        end,
        sort: "desc",
      });
      const times = desc.bars.map((b) => b.t.getTime());
      assertEquals(times, [...times].sort((a, b) => b - a));
    } finally {
      await t.close();
    }
  },
);

Deno.test(
  "Market data errors: Alpaca's bodies for bad parameters, unknown symbols left out of maps",
  DB_TEST,
  async () => {
    const t = await servedTestApp();
    try {
      const key = await apiKeyFor(t.db.sql, "alice");
      const headers = { "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret };
      const get = async (path: string) => {
        const res = await fetch(`${t.baseUrl}${path}`, { headers });
        return { status: res.status, body: await res.json() };
      };
      const unauthorized = await fetch(`${t.baseUrl}/v2/stocks/AAPL/quotes/latest`);
      assertEquals(unauthorized.status, 401);
      await unauthorized.body?.cancel();

      const cases: [string, number, string][] = [
        ["/v2/stocks/AAPL/bars?timeframe=7Week", 422, "invalid timeframe"],
        ["/v2/stocks/AAPL/bars?timeframe=2Min", 422, "not served here"],
        ["/v2/stocks/AAPL/bars", 400, "missing timeframe"],
        ["/v2/stocks/AAPL/bars?timeframe=1Min&limit=0", 422, "invalid limit"],
        ["/v2/stocks/AAPL/bars?timeframe=1Min&start=yesterday", 422, "invalid start"],
        ["/v2/stocks/AAPL/bars?timeframe=1Min&sort=up", 422, "invalid sort"],
        [
          "/v2/stocks/AAPL/bars?timeframe=1Min&start=2026-11-23&end=2026-11-20",
          422,
          "invalid end",
        ],
        ["/v2/stocks/bars?symbols=AAPL&timeframe=1Min&page_token=bm9wZQ", 422, "page_token"],
        ["/v2/stocks/AAPL/bars?timeframe=1Min&page_token=zzz", 422, "invalid page_token"],
        ["/v2/stocks/AAPL/quotes/latest?feed=nasdaq", 422, "invalid feed"],
        ["/v2/stocks/AAPL/quotes/latest?currency=EUR", 422, "invalid currency"],
        ["/v2/stocks/quotes/latest", 400, "missing symbols"],
        ["/v2/stocks/quotes/latest?symbols=AAPL,%24%24", 400, "invalid symbol"],
        ["/v2/stocks/AB%25/quotes/latest", 400, "invalid symbol"],
        ["/v2/stocks/ZZZZQX/quotes/latest", 404, "asset not found for ZZZZQX"],
        ["/v2/stocks/ZZZZQX/snapshot", 404, "asset not found for ZZZZQX"],
      ];
      for (const [path, status, text] of cases) {
        const r = await get(path);
        assertEquals(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
        assertEquals(typeof r.body.code, "number", path);
        assert(String(r.body.message).includes(text), `${path}: ${r.body.message}`);
      }

      const quotes = await get("/v2/stocks/quotes/latest?symbols=AAPL,ZZZZQX");
      assertEquals(quotes.status, 200);
      assertEquals(Object.keys(quotes.body.quotes), ["AAPL"]);
      const snaps = await get("/v2/stocks/snapshots?symbols=ZZZZQX,MSFT");
      assertEquals(Object.keys(snaps.body), ["MSFT"]);
      const bars = await get("/v2/stocks/bars?symbols=ZZZZQX,AAPL&timeframe=1Hour&feed=sip");
      assertEquals(bars.status, 200);
      assertEquals(Object.keys(bars.body.bars), ["AAPL"]);
      assertEquals(bars.body.next_page_token, null);
    } finally {
      await t.close();
    }
  },
);
