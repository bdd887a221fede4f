import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { CsvFeedError, parseCsvBars, replayCsv } from "../../../brokers/paper/csv_feed.ts";
import type { TimedMarketEvent, Trade } from "../../../core/market.ts";

/** Fixed seed: property tests check the same cases on every run. */
const FC = { seed: 20261123, numRuns: 100 } as const;

const DAILY = [
  "Date,Open,High,Low,Close,Adj Close,Volume",
  "2024-03-08,10.00,10.50,9.80,10.20,5.10,1000",
  "2024-03-11,10.20,10.40,10.00,10.10,5.05,2003",
  "",
].join("\n");

Deno.test("csv: daily rows become bars labelled at midnight ET", () => {
  const series = parseCsvBars(DAILY);
  assertEquals(series.kind, "daily");
  assertEquals(series.bars.length, 2);
  const [fri, mon] = series.bars;
  assertEquals(fri!.bar, {
    t: "2024-03-08T05:00:00Z",
    o: 10,
    h: 10.5,
    l: 9.8,
    c: 10.2,
    v: 1000,
    n: 4,
    vw: 10.125, // (10 + 9.8 + 10.5 + 10.2) × 250 / 1000
  });
  assertEquals(fri!.line, 2);
  // Monday is after the switch to daylight time: midnight EDT, session 13:30–20:00 UTC.
  assertEquals(mon!.bar.t, "2024-03-11T04:00:00Z");
  assertEquals(new Date(mon!.startMs).toISOString(), "2024-03-11T13:30:00.000Z");
  assertEquals(new Date(mon!.endMs).toISOString(), "2024-03-11T20:00:00.000Z");
});

Deno.test("csv: columns in any order, adjusted prices, rounding to the tick grid", () => {
  const text = "volume,close,DATE,low,high,open,adj_close,Extra\n" +
    "36301200,2.117284,1995-01-03,2.117284,2.191358,2.179012,1.883304,x\n";
  const [raw] = parseCsvBars(text).bars;
  assertEquals([raw!.bar.o, raw!.bar.h, raw!.bar.l, raw!.bar.c], [2.18, 2.19, 2.12, 2.12]);
  const [adjusted] = parseCsvBars(text, { adjust: true }).bars;
  assertEquals([adjusted!.bar.o, adjusted!.bar.h, adjusted!.bar.l, adjusted!.bar.c], [
    1.94,
    1.95,
    1.88,
    1.88,
  ]);
  const [penny] =
    parseCsvBars("Date,Open,High,Low,Close,Volume\n2020-01-02,0.51234,0.6,0.5,0.55555,10\n")
      .bars;
  assertEquals([penny!.bar.o, penny!.bar.c], [0.5123, 0.5556]);
});

Deno.test("csv: intraday rows are ET wall-clock minutes", () => {
  const text = [
    "Date,Open,High,Low,Close,Volume",
    "2024-01-02 09:30,100,101,99,100.5,400",
    "2024-01-02 09:31:00,100.5,100.7,100.1,100.2,800",
    "2024-07-01T09:30,50,51,49,50,4",
  ].join("\r\n");
  const series = parseCsvBars(text);
  assertEquals(series.kind, "intraday");
  assertEquals(series.barMs, 60_000);
  assertEquals(series.bars.map((b) => b.bar.t), [
    "2024-01-02T14:30:00Z",
    "2024-01-02T14:31:00Z",
    "2024-07-01T13:30:00Z",
  ]);
  assertEquals(series.bars[0]!.endMs - series.bars[0]!.startMs, 60_000);
});

function csvError(text: string, options = {}): CsvFeedError {
  return assertThrows(() => parseCsvBars(text, options), CsvFeedError);
}

Deno.test("csv: errors name the line and quote the value", () => {
  const header = "Date,Open,High,Low,Close,Volume\n";
  const cases: Array<[string, number, string]> = [
    ["", 0, "Cannot parse CSV: the text is empty"],
    ["Date,Open,High,Low,Close\n2024-01-02,1,1,1,1\n", 1, 'missing column "Volume"'],
    ["Date,Open,Open,High,Low,Close,Volume\n", 1, 'duplicate column "Open"'],
    [header, 0, "no data rows after the header on line 1"],
    [header + "2024-01-02,1,2,1,1\n", 2, 'expected 6 fields, found "5"'],
    [header + "02/01/2024,1,2,1,1,5\n", 2, 'invalid date "02/01/2024"'],
    [header + "2024-02-30,1,2,1,1,5\n", 2, 'invalid date "2024-02-30"'],
    [header + "2024-01-02,1,2,1,1,5\n2024-01-02 10:00,1,2,1,1,5\n", 3, "is intraday"],
    [
      header + "2024-01-03,1,2,1,1,5\n\n2024-01-02,1,2,1,1,5\n",
      4,
      'is not after the previous row\'s "2024-01-03"',
    ],
    [header + "2024-01-02,abc,2,1,1,5\n", 2, 'invalid open "abc"'],
    [header + "2024-01-02,null,2,1,1,5\n", 2, 'invalid open "null"'],
    [header + "2024-01-02,1,1.5,1,2,5\n", 2, 'high "1.5" is below close "2"'],
    [header + "2024-01-02,1,2,1.2,1.5,5\n", 2, 'low "1.2" is above open "1"'],
    [header + "2024-01-02,0,2,0,1,5\n", 2, 'open "0" is not positive'],
    [header + "2024-01-02,1,2,1,1,-5\n", 2, 'invalid volume "-5"'],
    [header + "2024-01-02,1,2,1,1,5.5\n", 2, 'invalid volume "5.5"'],
  ];
  for (const [text, line, part] of cases) {
    const e = csvError(text);
    assertEquals(e.line, line, `${part}: ${e.message}`);
    assert(e.message.includes(part), `expected "${part}" in: ${e.message}`);
    assert(/^[A-Z]/.test(e.message) && !e.message.endsWith("."), e.message);
  }
  const adjust = csvError(header + "2024-01-02,1,2,1,1,5\n", { adjust: true });
  assert(adjust.message.includes('no "Adj Close" column'), adjust.message);
});

function prints(events: readonly TimedMarketEvent[], symbol: string): Trade[] {
  return events.flatMap((e) => (e.type === "trade" && e.symbol === symbol ? [e.trade] : []));
}

Deno.test("csv: replay yields quotes, prints and bars in time order", () => {
  const series = parseCsvBars(DAILY);
  const events = [...replayCsv([{ symbol: "XYZ", series }])];
  assertEquals(
    events.map((e) => e.type).join(","),
    [
      "quote,trade,quote,trade,quote,trade,quote,trade,bar",
      "quote,trade,quote,trade,quote,trade,quote,trade,bar",
    ].join(","),
  );
  const friday = prints(events, "XYZ").slice(0, 4);
  assertEquals(friday.map((t) => [t.p, t.s]), [[10, 250], [9.8, 250], [10.5, 250], [10.2, 250]]);
  assertEquals(friday[0]!.t, "2024-03-08T14:30:00Z");
  assertEquals(events[8]!.tsMs, Date.parse("2024-03-08T21:00:00Z"));
  // A down day prints the high before the low; volume 2003 splits 501/501/501/500.
  const monday = prints(events, "XYZ").slice(4);
  assertEquals(monday.map((t) => [t.p, t.s]), [[10.2, 501], [10.4, 501], [10, 501], [10.1, 500]]);
  for (let i = 1; i < events.length; i++) assert(events[i]!.tsMs >= events[i - 1]!.tsMs);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.type !== "trade") continue;
    const q = events[i - 1]!;
    assert(q.type === "quote" && q.quote.bp <= e.trade.p && e.trade.p <= q.quote.ap);
    assert(q.quote.bp > 0 && q.quote.ap > q.quote.bp);
  }
});

Deno.test("csv: replay merges several feeds by time", () => {
  const a = parseCsvBars(
    "Date,Open,High,Low,Close,Volume\n2024-01-02 09:30,1,2,1,2,8\n2024-01-02 09:32,2,2,2,2,8\n",
  );
  const b = parseCsvBars("Date,Open,High,Low,Close,Volume\n2024-01-02 09:31,5,6,4,5,8\n");
  assertEquals(a.barMs, 120_000);
  const events = [
    ...replayCsv([{ symbol: "A", series: a }, { symbol: "B", series: b, tape: "A" }]),
  ];
  for (let i = 1; i < events.length; i++) assert(events[i]!.tsMs >= events[i - 1]!.tsMs);
  assertEquals(new Set(events.map((e) => e.symbol)), new Set(["A", "B"]));
  assertEquals(prints(events, "B")[0]!.z, "A");
});

Deno.test("csv: property: replayed prints aggregate to each bar", () => {
  const row = fc.record({
    low: fc.integer({ min: 1, max: 100_000 }),
    spanHigh: fc.integer({ min: 0, max: 5_000 }),
    openAt: fc.double({ min: 0, max: 1, noNaN: true }),
    closeAt: fc.double({ min: 0, max: 1, noNaN: true }),
    volume: fc.integer({ min: 4, max: 1e9 }),
  });
  fc.assert(
    fc.property(fc.array(row, { minLength: 1, maxLength: 20 }), (rows) => {
      const lines = ["Date,Open,High,Low,Close,Volume"];
      rows.forEach((r, i) => {
        const low = r.low / 100;
        const high = (r.low + r.spanHigh) / 100;
        const open = low + (high - low) * r.openAt;
        const close = low + (high - low) * r.closeAt;
        const day = new Date(Date.UTC(2001, 0, 1 + i)).toISOString().slice(0, 10);
        lines.push(`${day},${open},${high},${low},${close},${r.volume}`);
      });
      const series = parseCsvBars(lines.join("\n"));
      const events = [...replayCsv([{ symbol: "P", series }])];
      let trades: Trade[] = [];
      for (const e of events) {
        if (e.type === "trade") trades.push(e.trade);
        if (e.type !== "bar") continue;
        const bar = e.bar;
        assert(bar.l <= Math.min(bar.o, bar.c) && bar.h >= Math.max(bar.o, bar.c) && bar.l > 0);
        assertEquals(trades.length, bar.n);
        assertEquals(trades[0]!.p, bar.o);
        assertEquals(trades[trades.length - 1]!.p, bar.c);
        assertEquals(Math.max(...trades.map((t) => t.p)), bar.h);
        assertEquals(Math.min(...trades.map((t) => t.p)), bar.l);
        assertEquals(trades.reduce((s, t) => s + t.s, 0), bar.v);
        trades = [];
      }
    }),
    FC,
  );
});
