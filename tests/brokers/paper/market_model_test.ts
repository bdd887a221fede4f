import fc from "fast-check";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import {
  type Bar,
  defaultEtOffsetMinutes,
  etDayOf,
  etDayStartMs,
  formatTimestamp,
  MarketModel,
  MarketModelError,
  type Quote,
  type Timeframe,
  type Trade,
} from "../../../brokers/paper/market_model.ts";
import type { TimedMarketEvent } from "../../../core/market.ts";
import { buildUniverse, DEFAULT_UNIVERSE } from "../../../brokers/paper/universe.ts";

/** Fixed seed: property tests check the same cases on every run. */
const FC = { seed: 20261123, numRuns: 25 } as const;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** A sub-dollar symbol next to the defaults, to exercise the $0.0001 grid. */
const UNIVERSE = [
  ...DEFAULT_UNIVERSE,
  ...buildUniverse(["PNNY"], {
    overrides: { PNNY: { basePrice: 0.8, volatility: 0.7, spread: 0.0004, dailyVolume: 4e6 } },
  }),
];

/** Weekdays 09:30–16:00 ET (no holidays): the shape of a calendar filter, without importing it. */
function coreSession(tsMs: number): boolean {
  const local = tsMs + defaultEtOffsetMinutes(tsMs) * MIN;
  const weekday = new Date(local).getUTCDay();
  const minute = Math.floor((local % DAY + DAY) % DAY / MIN);
  return weekday >= 1 && weekday <= 5 && minute >= 570 && minute < 960;
}

/** Weekdays 04:00–20:00 ET. */
function extendedSession(tsMs: number): boolean {
  const local = tsMs + defaultEtOffsetMinutes(tsMs) * MIN;
  const weekday = new Date(local).getUTCDay();
  const minute = Math.floor((local % DAY + DAY) % DAY / MIN);
  return weekday >= 1 && weekday <= 5 && minute >= 240 && minute < 1200;
}

function collect(model: MarketModel, fromMs: number, toMs: number, symbols?: string[]) {
  return [...model.ticksBetween(fromMs, toMs, symbols)];
}

/** Aggregates prints exactly as the model does (prices in units of $0.0001). */
function aggregate(t: string, trades: readonly Trade[]): Bar | null {
  if (trades.length === 0) return null;
  let h = -Infinity, l = Infinity, v = 0, pv = 0;
  for (const x of trades) {
    const p = Math.round(x.p * 10_000);
    h = Math.max(h, p);
    l = Math.min(l, p);
    v += x.s;
    pv += p * x.s;
  }
  return {
    t,
    o: trades[0]!.p,
    h: h / 10_000,
    l: l / 10_000,
    c: trades[trades.length - 1]!.p,
    v,
    n: trades.length,
    vw: Math.round(pv / v * 100) / 1e6,
  };
}

/** Aggregates bars into one bar labelled `t`, as the model does. */
function combine(t: string, bars: readonly Bar[]): Bar {
  let h = -Infinity, l = Infinity, v = 0, n = 0, pv = 0;
  for (const b of bars) {
    h = Math.max(h, b.h);
    l = Math.min(l, b.l);
    v += b.v;
    n += b.n;
    // vw is rounded, so rebuild pv from prints is impossible here: compare vw separately.
    pv += b.vw * b.v;
  }
  return {
    t,
    o: bars[0]!.o,
    h,
    l,
    c: bars[bars.length - 1]!.c,
    v,
    n,
    vw: Math.round(pv / v * 1e6) / 1e6,
  };
}

function checkBar(bar: Bar, where: string): void {
  assert(
    bar.l <= bar.o && bar.o <= bar.h,
    `${where}: open outside [low, high] ${JSON.stringify(bar)}`,
  );
  assert(
    bar.l <= bar.c && bar.c <= bar.h,
    `${where}: close outside [low, high] ${JSON.stringify(bar)}`,
  );
  assert(
    bar.l > 0 && bar.v >= bar.n && bar.n >= 1,
    `${where}: bad low/volume ${JSON.stringify(bar)}`,
  );
  assert(Number.isInteger(bar.v) && Number.isInteger(bar.n), `${where}: non-integer v/n`);
  assert(bar.vw >= bar.l - 1e-6 && bar.vw <= bar.h + 1e-6, `${where}: vw outside range`);
}

function onGrid(price: number): boolean {
  const scale = price >= 1 ? 100 : 10_000;
  return Math.abs(price * scale - Math.round(price * scale)) < 1e-6;
}

/** Checks a stream: time order, quotes, prints inside the quote in force, ids increasing. */
function checkStream(events: readonly TimedMarketEvent[], model?: MarketModel): void {
  const quote = new Map<string, Quote>();
  const lastId = new Map<string, number>();
  let last = -Infinity;
  for (const e of events) {
    assert(e.tsMs >= last, `events out of order at ${e.tsMs}`);
    last = e.tsMs;
    if (e.type === "quote") {
      const q = e.quote;
      assert(q.bp > 0 && q.ap > q.bp, `bad quote ${JSON.stringify(q)}`);
      assert(onGrid(q.bp) && onGrid(q.ap), `quote off grid ${JSON.stringify(q)}`);
      assert(q.bs > 0 && q.as > 0, "quote sizes");
      assertEquals(Date.parse(q.t), e.tsMs);
      quote.set(e.symbol, q);
    } else if (e.type === "trade") {
      const t = e.trade;
      const q = quote.get(e.symbol) ?? model?.quoteAt(e.symbol, e.tsMs) ?? undefined;
      assert(q !== undefined, `trade before any quote for ${e.symbol}`);
      assert(t.p >= q.bp && t.p <= q.ap, `print ${t.p} outside quote ${q.bp}/${q.ap} at ${t.t}`);
      assert(onGrid(t.p) && t.s >= 1 && Number.isInteger(t.s), `bad print ${JSON.stringify(t)}`);
      assert(t.i > (lastId.get(e.symbol) ?? -1), "trade ids increase");
      lastId.set(e.symbol, t.i);
      assertEquals(Date.parse(t.t), e.tsMs);
    } else {
      checkBar(e.bar, `${e.symbol} ${e.bar.t}`);
      assertEquals(Date.parse(e.bar.t) + MIN, e.tsMs, "a minute bar comes at its minute's end");
    }
  }
}

const T0 = Date.UTC(2025, 0, 6, 14, 30); // Monday 09:30 EST

Deno.test("MarketModel: same seed gives identical streams and bars; another seed differs", () => {
  const a = new MarketModel(UNIVERSE, { seed: 42 });
  const b = new MarketModel(UNIVERSE, { seed: 42 });
  const c = new MarketModel(UNIVERSE, { seed: 43 });
  const symbols = ["AAPL", "SPY", "PNNY"];
  const streamA = collect(a, T0, T0 + 3 * MIN, symbols);
  assert(streamA.length > 500);
  assertEquals(collect(b, T0, T0 + 3 * MIN, symbols), streamA);
  assertNotEquals(collect(c, T0, T0 + 3 * MIN, symbols), streamA);
  assertEquals(
    b.bars("NVDA", "1Day", T0 - 30 * DAY, T0),
    a.bars("NVDA", "1Day", T0 - 30 * DAY, T0),
  );
  assertNotEquals(
    c.bars("NVDA", "1Day", T0 - 30 * DAY, T0),
    a.bars("NVDA", "1Day", T0 - 30 * DAY, T0),
  );
  assertEquals(a.identity, "tradewind-market/v1 seed=42 tickMs=1000 filter=24x7");
});

Deno.test("MarketModel: a pinned bar (if this changes, bump MODEL_VERSION)", () => {
  const model = new MarketModel(DEFAULT_UNIVERSE, { seed: 1 });
  const [bar] = model.bars("AAPL", "1Min", T0, T0, { asOfMs: Infinity });
  const [day] = model.bars("AAPL", "1Day", Date.UTC(2025, 0, 6), Date.UTC(2025, 0, 6, 23), {
    asOfMs: Infinity,
  });
  assertEquals(bar?.t, "2025-01-06T14:30:00Z");
  assertEquals(day?.t, "2025-01-06T05:00:00Z");
  assertEquals([bar, day].map((b) => JSON.stringify(b)), PINNED);
});

const PINNED = [
  '{"t":"2025-01-06T14:30:00Z","o":291.57,"h":292.24,"l":291.52,"c":292.16,"v":164272,"n":71,"vw":291.879964}',
  '{"t":"2025-01-06T05:00:00Z","o":292.16,"h":298.69,"l":290.63,"c":298.55,"v":44724218,"n":13988,"vw":294.850075}',
];

Deno.test("MarketModel: history regenerated from cold caches equals the live stream", () => {
  const live = new MarketModel(UNIVERSE, { seed: 7, tradingFilter: extendedSession });
  const from = Date.UTC(2024, 2, 8, 20, 30); // Friday 15:30 EST, across the weekend and DST
  const to = Date.UTC(2024, 2, 11, 13, 45); // Monday 09:45 EDT
  const events = collect(live, from, to, ["MSFT", "PNNY"]);
  checkStream(events);
  for (const symbol of ["MSFT", "PNNY"]) {
    const cold = new MarketModel(UNIVERSE, {
      seed: 7,
      tradingFilter: extendedSession,
      cacheDays: 1,
    });
    const streamedBars = events.flatMap((e) =>
      e.type === "bar" && e.symbol === symbol ? [e.bar] : []
    );
    const streamedTrades = events.flatMap((e) =>
      e.type === "trade" && e.symbol === symbol ? [e.trade] : []
    );
    const streamedQuotes = events.flatMap((e) =>
      e.type === "quote" && e.symbol === symbol ? [e.quote] : []
    );
    assert(streamedBars.length > 100, `${symbol}: ${streamedBars.length} bars`);
    // Bars are emitted at the end of their minute: those in [from, to) cover [from − 1m, to − 1m).
    assertEquals(cold.bars(symbol, "1Min", from - MIN, to - MIN - 1), streamedBars);
    assertEquals(cold.trades(symbol, from, to - 1), streamedTrades);
    assertEquals(cold.quotes(symbol, from, to - 1, { limit: 100_000 }), streamedQuotes);
    // Each streamed minute bar is exactly the aggregate of its streamed prints.
    const byMinute = Map.groupBy(streamedTrades, (t) => Math.floor(Date.parse(t.t) / MIN) * MIN);
    for (const bar of streamedBars) {
      const prints = byMinute.get(Date.parse(bar.t));
      if (prints === undefined) continue; // its prints were before `from`
      assertEquals(aggregate(bar.t, prints), bar);
    }
  }
});

Deno.test("MarketModel: coarser bars and daily bars aggregate the minute bars", () => {
  const model = new MarketModel(UNIVERSE, { seed: 11, tradingFilter: extendedSession });
  const dayStart = etDayStartMs(etDayOf(T0));
  const minutes = model.bars("JPM", "1Min", dayStart, dayStart + DAY - 1);
  assert(minutes.length > 500 && minutes.length <= 960, `${minutes.length} minute bars`);
  for (const tf of ["5Min", "15Min", "1Hour"] as const) {
    const size = { "5Min": 5 * MIN, "15Min": 15 * MIN, "1Hour": HOUR }[tf];
    const coarse = model.bars("JPM", tf, dayStart, dayStart + DAY - 1);
    const groups = Map.groupBy(minutes, (b) => Math.floor(Date.parse(b.t) / size) * size);
    assertEquals(coarse.length, groups.size);
    for (const bar of coarse) {
      const expected = combine(bar.t, groups.get(Date.parse(bar.t))!);
      assertEquals({ ...bar, vw: 0 }, { ...expected, vw: 0 });
      assert(Math.abs(bar.vw - expected.vw) < 1e-5, `${tf} vw ${bar.vw} vs ${expected.vw}`);
    }
  }
  const [daily] = model.bars("JPM", "1Day", dayStart, dayStart, { asOfMs: dayStart + DAY });
  assertEquals(daily!.t, formatTimestamp(dayStart));
  const expected = combine(daily!.t, minutes);
  assertEquals({ ...daily!, vw: 0 }, { ...expected, vw: 0 });
  // A second, cold model computes the same daily bar without minute-level caching.
  const cold = new MarketModel(UNIVERSE, {
    seed: 11,
    tradingFilter: extendedSession,
    cacheDays: 1,
  });
  assertEquals(cold.bars("JPM", "1Day", dayStart, dayStart, { asOfMs: Infinity }), [daily]);
  // As of noon the same day, the daily bar is the morning's prints only.
  const noon = dayStart + 12 * HOUR;
  const [morning] = cold.bars("JPM", "1Day", dayStart, noon);
  const morningMinutes = minutes.filter((b) => Date.parse(b.t) < noon);
  assertEquals({ ...morning!, vw: 0 }, { ...combine(daily!.t, morningMinutes), vw: 0 });
});

Deno.test("MarketModel: bars are as of endMs and never reveal later prints", () => {
  const model = new MarketModel(UNIVERSE, { seed: 5 });
  const end = T0 + 2 * MIN + 31_234;
  const bars = model.bars("TSLA", "1Min", T0, end);
  assertEquals(bars.length, 3);
  const partial = aggregate(bars[2]!.t, model.trades("TSLA", T0 + 2 * MIN, end));
  assertEquals(bars[2], partial);
  const full = model.bars("TSLA", "1Min", T0, T0 + 3 * MIN - 1);
  assertEquals(full.slice(0, 2), bars.slice(0, 2));
  const [fiveMin] = model.bars("TSLA", "5Min", T0, end);
  assertEquals(fiveMin!.v, bars.reduce((s, b) => s + b.v, 0));
  const [day] = model.bars("TSLA", "1Day", etDayStartMs(etDayOf(T0)), end);
  assertEquals(day!.c, model.latestTrade("TSLA", end)!.p);
});

Deno.test("MarketModel: trading filter: nothing outside session, latest quote stays", () => {
  const model = new MarketModel(UNIVERSE, { seed: 9, tradingFilter: coreSession });
  const friClose = Date.UTC(2025, 0, 10, 21, 0); // Friday 16:00 EST
  const weekend = collect(model, friClose, friClose + 2 * DAY, ["AAPL", "KO"]);
  // Only the bars of Friday's last minute, emitted at the close.
  assertEquals(weekend.map((e) => [e.type, e.tsMs]), [["bar", friClose], ["bar", friClose]]);
  const q = model.quoteAt("AAPL", friClose + DAY);
  assertEquals(q?.t, "2025-01-10T20:59:59Z");
  assertEquals(model.latestTrade("AAPL", friClose + DAY)?.t.slice(0, 16), "2025-01-10T20:59");
  assertEquals(model.quotes("AAPL", friClose, friClose + DAY), []);
  assertEquals(model.trades("AAPL", friClose, friClose + DAY), []);
  assertEquals(model.bars("AAPL", "1Day", friClose, friClose + 2 * DAY), []);
  assert(model.isInSession(T0) && !model.isInSession(friClose));
  // Daily bars only on weekdays; minute bars only 09:30–15:59 ET.
  const days = model.bars("KO", "1Day", Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 31, 12), {
    asOfMs: Infinity,
  });
  assertEquals(days.length, 23);
  // As of 07:00 ET on Friday the 31st, that day has no bar yet.
  assertEquals(
    model.bars("KO", "1Day", Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 31, 12)).length,
    22,
  );
  for (const d of days) {
    const weekday = new Date(Date.parse(d.t) - 5 * HOUR).getUTCDay();
    assert(weekday >= 1 && weekday <= 5, `daily bar on ${d.t}`);
  }
  const minutes = model.bars("KO", "1Min", T0 - 2 * HOUR, T0 + 8 * HOUR);
  assertEquals(minutes[0]!.t, "2025-01-06T14:30:00Z");
  assertEquals(minutes[minutes.length - 1]!.t, "2025-01-06T20:59:00Z");
  const snapshot = model.snapshot("KO", Date.UTC(2025, 0, 13, 14, 35));
  assertEquals(snapshot.prevDailyBar?.t, "2025-01-10T05:00:00Z");
  assertEquals(snapshot.dailyBar?.t, "2025-01-13T05:00:00Z");
});

Deno.test("MarketModel: snapshot agrees with the other accessors", () => {
  const model = new MarketModel(UNIVERSE, { seed: 21, tradingFilter: extendedSession });
  const at = T0 + 47 * MIN + 12_345;
  const snap = model.snapshot("AMD", at);
  const trades = model.trades("AMD", at - MIN, at);
  assertEquals(snap.latestTrade, trades[trades.length - 1]);
  assertEquals(snap.latestQuote, model.quoteAt("AMD", at));
  assertEquals(snap.latestQuote?.t, formatTimestamp(Math.floor(at / 1000) * 1000));
  assertEquals(snap.minuteBar, model.bars("AMD", "1Min", at - 5 * MIN, at - 12_346).at(-1));
  const dayStart = etDayStartMs(etDayOf(at));
  assertEquals(snap.dailyBar, model.bars("AMD", "1Day", dayStart, at)[0]);
  // Monday: the previous daily bar is Friday's.
  assertEquals(
    snap.prevDailyBar,
    model.bars("AMD", "1Day", dayStart - 4 * DAY, dayStart - 1).at(-1),
  );
  assertEquals(snap.prevDailyBar?.t, "2025-01-03T05:00:00Z");
  assertEquals(snap.dailyBar?.c, snap.latestTrade?.p);
});

Deno.test("MarketModel: streams tile: [a, b) then [b, c) equals [a, c)", () => {
  const model = new MarketModel(UNIVERSE, { seed: 3, tickMs: 250 });
  const a = T0 + 10_100, b = T0 + 70_000, c = T0 + 150_001;
  const whole = collect(model, a, c, ["V", "PNNY"]);
  assertEquals(
    [...collect(model, a, b, ["V", "PNNY"]), ...collect(model, b, c, ["V", "PNNY"])],
    whole,
  );
  checkStream(whole, model);
  // 250 ms ticks: four quotes a second per symbol; bars do not depend on tickMs.
  const quotes = whole.filter((e) => e.type === "quote" && e.symbol === "V");
  assertEquals(quotes[1]!.tsMs - quotes[0]!.tsMs, 250);
  const oneSecond = new MarketModel(UNIVERSE, { seed: 3 });
  assertEquals(model.bars("V", "1Min", a, c), oneSecond.bars("V", "1Min", a, c));
  assertEquals(model.trades("V", a, c), oneSecond.trades("V", a, c));
});

Deno.test("MarketModel: prices follow the tick grid, sub-dollar too", () => {
  const model = new MarketModel(UNIVERSE, { seed: 8 });
  const events = collect(model, T0, T0 + 5 * MIN, ["PNNY", "INTC"]);
  checkStream(events);
  const pnny = events.flatMap((
    e,
  ) => (e.type === "trade" && e.symbol === "PNNY" ? [e.trade.p] : []));
  assert(pnny.length > 20 && pnny.every((p) => p < 1), "the sub-dollar symbol prints below $1");
  assert(pnny.some((p) => Math.round(p * 100) !== p * 100), "with sub-penny prices");
  const intc = events.flatMap((
    e,
  ) => (e.type === "trade" && e.symbol === "INTC" ? [e.trade.p] : []));
  assert(intc.every((p) => Number.isInteger(Math.round(p * 1e6) / 1e4)), "cents only");
});

Deno.test("MarketModel: five years of daily bars are plausible", () => {
  const model = new MarketModel(UNIVERSE, { seed: 2, tradingFilter: coreSession });
  const bars = model.bars("XOM", "1Day", Date.UTC(2020, 0, 1), Date.UTC(2024, 11, 31, 23));
  assert(bars.length > 1290 && bars.length < 1310, `${bars.length} days`);
  const returns: number[] = [];
  for (let i = 0; i < bars.length; i++) {
    checkBar(bars[i]!, bars[i]!.t);
    if (i > 0) {
      assert(Date.parse(bars[i]!.t) > Date.parse(bars[i - 1]!.t));
      returns.push(Math.log(bars[i]!.c / bars[i - 1]!.c));
    }
  }
  const mean = returns.reduce((s, r) => s + r, 0) / returns.length;
  const sd = Math.sqrt(returns.reduce((s, r) => s + (r - mean) ** 2, 0) / returns.length);
  const annual = sd * Math.sqrt(252);
  assert(annual > 0.24 * 0.7 && annual < 0.24 * 1.5, `annualised volatility ${annual}`);
  const volume = bars.reduce((s, b) => s + b.v, 0) / bars.length;
  assert(volume > 15e6 * 0.7 && volume < 15e6 * 1.5, `mean volume ${volume}`);
  // Some day has a jump-sized move.
  assert(returns.some((r) => Math.abs(r) > 0.03), "a jump shows");
});

Deno.test("MarketModel: property: random intervals regenerate and keep invariants", () => {
  const symbols = ["AAPL", "SPY", "GME", "PNNY", "KO"];
  fc.assert(
    fc.property(
      fc.integer({ min: Date.UTC(2019, 0, 1), max: Date.UTC(2027, 0, 1) }),
      fc.integer({ min: 1, max: 12 * MIN }),
      fc.constantFrom(...symbols),
      fc.integer({ min: 0, max: 1000 }),
      fc.boolean(),
      (from, length, symbol, seed, extended) => {
        const filter = extended ? extendedSession : "24x7" as const;
        const live = new MarketModel(UNIVERSE, { seed, tradingFilter: filter });
        const cold = new MarketModel(UNIVERSE, { seed, tradingFilter: filter, cacheDays: 1 });
        const to = from + length;
        const events = collect(live, from, to, [symbol]);
        checkStream(events, live);
        const bars = events.flatMap((e) => (e.type === "bar" ? [e.bar] : []));
        const history = cold.bars(symbol, "1Min", from - MIN, to - MIN - 1, { asOfMs: to - 1 });
        assertEquals(history, bars);
        const trades = events.flatMap((e) => (e.type === "trade" ? [e.trade] : []));
        assertEquals(cold.trades(symbol, from, to - 1), trades);
        for (const tf of ["5Min", "1Day"] satisfies Timeframe[]) {
          for (const bar of cold.bars(symbol, tf, from - DAY, to)) checkBar(bar, `${tf} ${bar.t}`);
        }
        const q = cold.quoteAt(symbol, to);
        if (q) assert(q.ap > q.bp && q.bp > 0 && Date.parse(q.t) <= to);
      },
    ),
    FC,
  );
});

Deno.test("MarketModel: property: any trade lies inside the quote in force", () => {
  const model = new MarketModel(UNIVERSE, { seed: 77 });
  fc.assert(
    fc.property(
      fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2026, 0, 1) }),
      fc.constantFrom("NFLX", "BAC", "PNNY"),
      (at, symbol) => {
        const trades = model.trades(symbol, at, at + 20_000);
        for (const t of trades) {
          const q = model.quoteAt(symbol, Date.parse(t.t))!;
          assert(t.p >= q.bp && t.p <= q.ap, `${symbol} ${t.t}: ${t.p} vs ${q.bp}/${q.ap}`);
        }
      },
    ),
    { ...FC, numRuns: 60 },
  );
});

Deno.test("MarketModel: limits and errors", () => {
  const model = new MarketModel(UNIVERSE, { seed: 1 });
  assertEquals(model.trades("AAPL", T0, T0 + HOUR, { limit: 7 }).length, 7);
  assertEquals(model.quotes("AAPL", T0, T0 + HOUR, { limit: 3 }).length, 3);
  assertEquals(model.bars("AAPL", "1Min", T0, T0 + HOUR, 4).length, 4);
  assertEquals(model.quotes("AAPL", T0, T0 + 2_500).map((q) => q.t), [
    "2025-01-06T14:30:00Z",
    "2025-01-06T14:30:01Z",
    "2025-01-06T14:30:02Z",
  ]);
  const e = assertThrows(() => model.quoteAt("ZZZZ", T0), MarketModelError);
  assertEquals(e.message, 'Unknown symbol "ZZZZ"');
  assertThrows(() => model.bars("AAPL", "2Min" as Timeframe, T0, T0), MarketModelError, '"2Min"');
  assertThrows(
    () => model.bars("AAPL", "1Min", T0 + 1, T0),
    MarketModelError,
    "start is after end",
  );
  assertThrows(() => model.trades("AAPL", T0, T0, { limit: 0 }), MarketModelError, 'limit "0"');
  assertThrows(() => model.quoteAt("AAPL", NaN), MarketModelError, '"NaN"');
  assertThrows(() => [...model.ticksBetween(T0, T0 + 1, ["NOPE"])], MarketModelError, '"NOPE"');
  assertThrows(() => new MarketModel(UNIVERSE, { tickMs: 7 }), MarketModelError, 'tickMs "7"');
  assertThrows(() => new MarketModel(UNIVERSE, { seed: 0.5 }), MarketModelError, 'seed "0.5"');
  assertThrows(
    () => new MarketModel([...UNIVERSE, UNIVERSE[0]!]),
    MarketModelError,
    'Duplicate symbol "AAPL"',
  );
  assertEquals(collect(model, T0, T0), []);
});

Deno.test("ET helpers: DST rules, day labels, timestamps", () => {
  assertEquals(defaultEtOffsetMinutes(Date.UTC(2024, 2, 10, 6, 59)), -300);
  assertEquals(defaultEtOffsetMinutes(Date.UTC(2024, 2, 10, 7, 0)), -240);
  assertEquals(defaultEtOffsetMinutes(Date.UTC(2024, 10, 3, 5, 59)), -240);
  assertEquals(defaultEtOffsetMinutes(Date.UTC(2024, 10, 3, 6, 0)), -300);
  assertEquals(defaultEtOffsetMinutes(Date.UTC(2006, 3, 2, 7, 0)), -240); // first Sunday of April
  assertEquals(defaultEtOffsetMinutes(Date.UTC(2006, 2, 12, 12)), -300);
  assertEquals(defaultEtOffsetMinutes(Date.UTC(2006, 9, 29, 6, 0)), -300); // last Sunday of Oct
  assertEquals(defaultEtOffsetMinutes(Date.UTC(1960, 6, 1)), -300);
  const day = etDayOf(Date.UTC(2022, 7, 16, 15));
  assertEquals(formatTimestamp(etDayStartMs(day)), "2022-08-16T04:00:00Z");
  assertEquals(formatTimestamp(etDayStartMs(day + 122)), "2022-12-16T05:00:00Z");
  assertEquals(etDayOf(Date.UTC(2022, 7, 17, 3, 59)), day);
  assertEquals(etDayOf(Date.UTC(2022, 7, 17, 4, 0)), day + 1);
  assertEquals(formatTimestamp(Date.UTC(2024, 0, 2, 3, 4, 5, 67)), "2024-01-02T03:04:05.067Z");
  // An injected offset function is honoured.
  const utc = new MarketModel(UNIVERSE, { etOffsetMinutes: () => 0 });
  const [utcDay] = utc.bars("KO", "1Day", Date.UTC(2025, 0, 6), Date.UTC(2025, 0, 6), {
    asOfMs: Infinity,
  });
  assertEquals(utcDay?.t, "2025-01-06T00:00:00Z");
});
