import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import type { Bar, MarketEvent } from "../../core/market.ts";
import { createTestApp, DB_TEST, TEST_START_MS, type TestApp } from "../_helpers.ts";

const API = "/api/v1/market";

async function withApp(
  fn: (t: TestApp) => Promise<void>,
  options: Parameters<typeof createTestApp>[0] = { trading: true },
): Promise<void> {
  const t = await createTestApp(options);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

async function getJson(t: TestApp, path: string, status = 200) {
  const res = await t.as("mia", path);
  const body = await res.json();
  assertEquals(res.status, status, `GET ${path}: ${JSON.stringify(body)}`);
  return body;
}

async function expectError(t: TestApp, path: string, status: number, code: string) {
  const body = await getJson(t, path, status);
  assertEquals(body.error.code, code, `GET ${path}`);
  return body.error as {
    code: string;
    message: string;
    details?: { issues?: { path: string; message: string }[]; symbol?: string };
  };
}

async function expectInvalid(t: TestApp, path: string, fields: string[]) {
  const error = await expectError(t, path, 400, "VALIDATION_FAILED");
  const paths = (error.details?.issues ?? []).map((i) => i.path).sort();
  assertEquals(paths, [...fields].sort(), `GET ${path}: ${error.message}`);
  return error;
}

Deno.test({ name: "market: latest quote and trade, case-insensitive", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    await t.trading.advance(5_000);
    const now = t.trading.clock.now();
    const model = t.trading.venue.model;

    const q = await getJson(t, `${API}/quote/aapl`);
    assertEquals(q.symbol, "AAPL");
    assertEquals(q.quote, model.quoteAt("AAPL", now));
    assertEquals(Object.keys(q.quote).sort(), ["ap", "as", "ax", "bp", "bs", "bx", "c", "t", "z"]);
    assertEquals(typeof q.quote.bp, "number");

    const tr = await getJson(t, `${API}/trade/MSFT`);
    assertEquals(tr.symbol, "MSFT");
    assertEquals(tr.trade, model.latestTrade("MSFT", now));
    assertEquals(Object.keys(tr.trade).sort(), ["c", "i", "p", "s", "t", "x", "z"]);

    const qs = await getJson(t, `${API}/quotes?symbols=msft,AAPL,aapl,%20spy%20`);
    assertEquals(Object.keys(qs.quotes), ["MSFT", "AAPL", "SPY"]);
    assertEquals(qs.quotes.AAPL, q.quote);

    const ts = await getJson(t, `${API}/trades?symbols=MSFT&symbols=nvda`);
    assertEquals(Object.keys(ts.trades), ["MSFT", "NVDA"]);
    assertEquals(ts.trades.MSFT, tr.trade);
  });
});

Deno.test({ name: "market: unknown symbols are 404 ASSET_NOT_FOUND", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    for (
      const path of [
        "/quote/ZZZZ",
        "/trade/ZZZZ",
        "/bars/ZZZZ?timeframe=1Min",
        "/snapshot/zzzz",
        "/assets/ZZZZ",
        "/assets/00000000-0000-4000-8000-000000000000",
        "/quotes?symbols=AAPL,ZZZZ",
        "/trades?symbols=ZZZZ",
        "/snapshots?symbols=AAPL,ZZZZ",
      ]
    ) {
      const error = await expectError(t, API + path, 404, "ASSET_NOT_FOUND");
      assert(error.message.startsWith("Cannot get "), error.message);
    }
    const error = await expectError(t, `${API}/quote/zzzz`, 404, "ASSET_NOT_FOUND");
    assertEquals(error.message, 'Cannot get quote of "ZZZZ": asset "ZZZZ" not found');
    assertEquals(error.details, { symbol: "ZZZZ" });
  });
});

Deno.test({ name: "market: bad symbols and symbol lists are 400", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    await expectInvalid(t, `${API}/quote/A$B`, ["symbol"]);
    await expectInvalid(t, `${API}/quotes`, ["symbols"]);
    await expectInvalid(t, `${API}/quotes?symbols=`, ["symbols"]);
    await expectInvalid(t, `${API}/quotes?symbols=,,`, ["symbols"]);
    await expectInvalid(t, `${API}/trades?symbols=AAPL,1X,MSFT`, ["symbols.1"]);
    const many = Array.from({ length: 101 }, (_, i) => `S${i}`).join(",");
    const e = await expectInvalid(t, `${API}/snapshots?symbols=${many}`, ["symbols"]);
    assertStringIncludes(e.message, "At most 100 symbols");
    // Duplicates count once.
    const dupes = Array.from({ length: 150 }, () => "aapl").join(",");
    assertEquals(Object.keys(await getJson(t, `${API}/snapshots?symbols=${dupes}`)), ["AAPL"]);
  });
});

Deno.test({ name: "market: bars equal what was streamed and the model", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    const streamed: Bar[] = [];
    const stop = t.trading.venue.subscribe({ bars: ["AAPL"] }, (events: MarketEvent[]) => {
      for (const e of events) if (e.type === "bar") streamed.push(e.bar);
    });
    for (let i = 0; i < 12; i++) await t.trading.advance(60_000);
    stop();

    const start = new Date(TEST_START_MS).toISOString();
    const body = await getJson(t, `${API}/bars/aapl?timeframe=1Min&start=${start}`);
    assertEquals(body.symbol, "AAPL");
    assertEquals(body.next_page_token, null);
    assertEquals(Object.keys(body.bars[0]).sort(), ["c", "h", "l", "n", "o", "t", "v", "vw"]);
    // Every minute bar the stream delivered is exactly the bar history serves.
    const live = streamed.filter((b) => b.t >= "2026-11-23T15:00:00Z");
    assert(live.length >= 10, `streamed ${live.length} bars since the start`);
    assertEquals(body.bars.slice(0, live.length), live);
    const now = t.trading.clock.now();
    assertEquals(
      body.bars,
      t.trading.venue.model.bars("AAPL", "1Min", TEST_START_MS, now, { asOfMs: now }),
    );

    // Bounded range, millisecond and plain RFC-3339 both accepted, end inclusive.
    const from = TEST_START_MS + 2 * 60_000, to = TEST_START_MS + 6 * 60_000;
    const ranged = await getJson(
      t,
      `${API}/bars/AAPL?timeframe=1Min&start=${new Date(from).toISOString()}&end=${
        new Date(to).toISOString().replace(".000Z", "Z")
      }`,
    );
    assertEquals(ranged.bars, live.slice(2, 7));

    // Larger timeframe agrees with the model too.
    const five = await getJson(t, `${API}/bars/AAPL?timeframe=5Min&start=${start}`);
    assertEquals(
      five.bars,
      t.trading.venue.model.bars("AAPL", "5Min", TEST_START_MS, now, { asOfMs: now }),
    );

    // Pages of 4 concatenate to the whole; desc gives the newest first.
    const pages: Bar[] = [];
    let token: string | null = null;
    let n = 0;
    do {
      const page: { bars: Bar[]; next_page_token: string | null } = await getJson(
        t,
        `${API}/bars/AAPL?timeframe=1Min&start=${start}&limit=4` +
          (token ? `&page_token=${encodeURIComponent(token)}` : ""),
      );
      assert(page.bars.length <= 4);
      pages.push(...page.bars);
      token = page.next_page_token;
    } while (token && ++n < 10);
    assertEquals(pages, body.bars);
    const desc = await getJson(
      t,
      `${API}/bars/AAPL?timeframe=1Min&start=${start}&sort=desc&limit=3`,
    );
    assertEquals(desc.bars, body.bars.slice(-3).reverse());
  });
});

Deno.test({ name: "market: a date is midnight in New York", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    await t.trading.advance(120_000);
    const body = await getJson(t, `${API}/bars/AAPL?timeframe=1Hour&start=2026-11-23&limit=2`);
    // 2026-11-23 00:00 EST is 05:00 UTC.
    assertEquals(body.bars[0].t, "2026-11-23T05:00:00Z");
    const days = await getJson(
      t,
      `${API}/bars/AAPL?timeframe=1Day&start=2026-11-16&end=2026-11-20`,
    );
    assertEquals(days.bars.map((b: Bar) => b.t), [
      "2026-11-16T05:00:00Z",
      "2026-11-17T05:00:00Z",
      "2026-11-18T05:00:00Z",
      "2026-11-19T05:00:00Z",
      "2026-11-20T05:00:00Z",
    ]);
  });
});

Deno.test({ name: "market: bad bar queries are 400 naming the fields", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    const bars = `${API}/bars/AAPL`;
    await expectInvalid(t, bars, ["timeframe"]);
    await expectInvalid(t, `${bars}?timeframe=2Min`, ["timeframe"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&limit=0`, ["limit"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&limit=10001`, ["limit"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&limit=ten`, ["limit"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&sort=up`, ["sort"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&start=yesterday`, ["start"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&start=2026-02-30`, ["start"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&end=2026-02-29T10:00:00Z`, ["end"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&end=2026-11-23T25:00:00Z`, ["end"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&page_token=!!`, ["page_token"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&page_token=abcde`, ["page_token"]);
    await expectInvalid(t, `${bars}?timeframe=1Min&limit=0&sort=up`, ["limit", "sort"]);
    const e = await expectInvalid(
      t,
      `${bars}?timeframe=1Min&start=2026-11-23T15:00:00Z&end=2026-11-23T14:59:59.999Z`,
      ["end"],
    );
    assertStringIncludes(e.message, "start");
    // Alpaca's aliases and fractional seconds with nanoseconds are accepted.
    await getJson(t, `${bars}?timeframe=1T&start=2026-11-23T14:00:00.123456789-05:00`);
    await getJson(t, `${bars}?timeframe=1D&start=2026-11-20`);
  });
});

Deno.test({ name: "market: snapshots have Alpaca's keys", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    await t.trading.advance(90_000);
    const now = t.trading.clock.now();
    const one = await getJson(t, `${API}/snapshot/nvda`);
    assertEquals(one, { symbol: "NVDA", ...t.trading.venue.model.snapshot("NVDA", now) });
    assertEquals(Object.keys(one).sort(), [
      "dailyBar",
      "latestQuote",
      "latestTrade",
      "minuteBar",
      "prevDailyBar",
      "symbol",
    ]);
    assert(one.latestTrade && one.minuteBar && one.dailyBar && one.prevDailyBar);
    const many = await getJson(t, `${API}/snapshots?symbols=nvda,KO`);
    assertEquals(Object.keys(many), ["NVDA", "KO"]);
    const { symbol: _, ...rest } = one;
    assertEquals(many.NVDA, rest);
  });
});

Deno.test(
  { name: "market: concurrent identical requests share one upstream call", ...DB_TEST },
  async () => {
    await withApp(async (t) => {
      const venue = t.trading.venue;
      const calls: string[] = [];
      const latestQuote = venue.latestQuote.bind(venue);
      const bars = venue.bars.bind(venue);
      venue.latestQuote = (symbol) => {
        calls.push(`quote ${symbol}`);
        return latestQuote(symbol);
      };
      venue.bars = (symbol, query) => {
        calls.push(`bars ${symbol}`);
        return bars(symbol, query);
      };
      const [a, b, c] = await Promise.all([
        getJson(t, `${API}/quote/AAPL`),
        getJson(t, `${API}/quote/aapl`),
        getJson(t, `${API}/quote/Aapl`),
      ]);
      assertEquals(calls, ["quote AAPL"]);
      assertEquals(a, b);
      assertEquals(b, c);

      // Past the 1 s time-to-live, the next request goes upstream again.
      await t.trading.advance(1_000);
      await getJson(t, `${API}/quote/AAPL`);
      assertEquals(calls, ["quote AAPL", "quote AAPL"]);

      calls.length = 0;
      const q = `${API}/bars/AAPL?timeframe=1Min&start=2026-11-23T14:00:00Z`;
      const [x, y] = await Promise.all([getJson(t, q), getJson(t, q)]);
      assertEquals(calls, ["bars AAPL"]);
      assertEquals(x, y);
      // An open end is "now": a later request sees the new minute, not a stale page.
      await t.trading.advance(60_000);
      const z = await getJson(t, q);
      assertEquals(calls, ["bars AAPL", "bars AAPL"]);
      const now = t.trading.clock.now();
      const start = Date.parse("2026-11-23T14:00:00Z");
      assertEquals(z.bars, venue.model.bars("AAPL", "1Min", start, now, { asOfMs: now }));
      assert(z.bars.length > x.bars.length);
    });
  },
);

Deno.test({ name: "market: clock follows the venue's hours", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    // Monday 2026-11-23 10:00 ET.
    assertEquals(await getJson(t, `${API}/clock`), {
      timestamp: "2026-11-23T10:00:00-05:00",
      is_open: true,
      next_open: "2026-11-24T09:30:00-05:00",
      next_close: "2026-11-23T16:00:00-05:00",
    });
    // Thanksgiving is closed; the day after closes at 13:00.
    t.trading.clock.set(Date.parse("2026-11-26T15:00:00Z"));
    assertEquals(await getJson(t, `${API}/clock`), {
      timestamp: "2026-11-26T10:00:00-05:00",
      is_open: false,
      next_open: "2026-11-27T09:30:00-05:00",
      next_close: "2026-11-27T13:00:00-05:00",
    });
  }, { trading: { venue: { hours: "nyse" } } });

  await withApp(async (t) => {
    const clock = await getJson(t, `${API}/clock`);
    assertEquals(clock.is_open, true);
    assertEquals(clock.timestamp, "2026-11-23T10:00:00-05:00");
  });
});

Deno.test({ name: "market: calendar of Thanksgiving week", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    const days = await getJson(t, `${API}/calendar?start=2026-11-23&end=2026-11-30`);
    assertEquals(days.map((d: { date: string }) => d.date), [
      "2026-11-23",
      "2026-11-24",
      "2026-11-25",
      "2026-11-27",
      "2026-11-30",
    ]);
    assertEquals(days[0], {
      date: "2026-11-23",
      open: "09:30",
      close: "16:00",
      session_open: "0400",
      session_close: "2000",
      settlement_date: "2026-11-24",
    });
    assertEquals(days[2].settlement_date, "2026-11-27");
    assertEquals(days[3], {
      date: "2026-11-27",
      open: "09:30",
      close: "13:00",
      session_open: "0400",
      session_close: "1700",
      settlement_date: "2026-11-30",
    });

    // Defaults: today in New York, then 30 days.
    const month: { date: string }[] = await getJson(t, `${API}/calendar`);
    assertEquals(month[0]!.date, "2026-11-23");
    assertEquals(month.at(-1)!.date, "2026-12-23");
    assert(!month.some((d) => d.date === "2026-11-26" || d.date === "2026-12-25"));
    const from = await getJson(t, `${API}/calendar?start=2026-12-24`);
    assertEquals(from[0], {
      date: "2026-12-24",
      open: "09:30",
      close: "13:00",
      session_open: "0400",
      session_close: "1700",
      settlement_date: "2026-12-28",
    });
    assertEquals(from.at(-1).date, "2027-01-22");
    assertEquals(await getJson(t, `${API}/calendar?start=2026-11-26&end=2026-11-26`), []);
  });
});

Deno.test({ name: "market: bad calendar queries are 400", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    const cal = `${API}/calendar`;
    await expectInvalid(t, `${cal}?start=1999-12-31`, ["start"]);
    await expectInvalid(t, `${cal}?start=2035-12-01&end=2036-01-02`, ["end"]);
    await expectInvalid(t, `${cal}?start=2026-13-01`, ["start"]);
    await expectInvalid(t, `${cal}?start=11/23/2026`, ["start"]);
    await expectInvalid(t, `${cal}?start=2026-11-30&end=2026-11-23`, ["end"]);
    // The last day the calendar can answer.
    const last = await getJson(t, `${cal}?start=2035-12-24&end=2035-12-30`);
    assertEquals(last.at(-1).date, "2035-12-28");
  });
});

Deno.test({ name: "market: assets by symbol or id, and all of them", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    const gme = await getJson(t, `${API}/assets/gme`);
    assertEquals(gme.symbol, "GME");
    assertEquals(gme.class, "us_equity");
    assertEquals(gme.fractionable, false);
    assertEquals(gme.sector, "Consumer Discretionary");
    assertEquals(await getJson(t, `${API}/assets/${gme.id}`), gme);
    const all: { symbol: string }[] = await getJson(t, `${API}/assets`);
    assertEquals(all.length, t.trading.venue.symbols.length);
    assertEquals(all.find((a) => a.symbol === "GME"), gme);
    await expectInvalid(t, `${API}/assets/not%20a%20symbol`, ["symbol"]);
  });
});

Deno.test({ name: "market: routes need a token and are documented", ...DB_TEST }, async () => {
  await withApp(async (t) => {
    const res = await t.app.request(`${API}/quote/AAPL`);
    assertEquals(res.status, 401);
    await res.body?.cancel();
    const doc = await (await t.app.request("/openapi.json")).json();
    for (
      const path of [
        "/api/v1/market/quote/{symbol}",
        "/api/v1/market/quotes",
        "/api/v1/market/trade/{symbol}",
        "/api/v1/market/trades",
        "/api/v1/market/bars/{symbol}",
        "/api/v1/market/snapshot/{symbol}",
        "/api/v1/market/snapshots",
        "/api/v1/market/clock",
        "/api/v1/market/calendar",
        "/api/v1/market/assets",
        "/api/v1/market/assets/{symbol}",
      ]
    ) {
      assert(doc.paths[path]?.get, `documents ${path}`);
    }
    const params = doc.paths["/api/v1/market/bars/{symbol}"].get.parameters.map(
      (p: { name: string }) => p.name,
    );
    assertEquals(params, ["symbol", "timeframe", "start", "end", "limit", "page_token", "sort"]);
    assertEquals(doc.components.schemas.StockBar.type, "object");
  });
});
