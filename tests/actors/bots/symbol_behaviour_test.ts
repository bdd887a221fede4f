import { assert, assertEquals } from "../../_assert.ts";
import type { Bar, Trade } from "../../../core/market.ts";
import { IndicatorSet } from "../../../strategies/indicator_spec.ts";
import {
  BarHistory,
  type BarUpdate,
  symbolBehaviour,
  type SymbolMsg,
  type SymbolState,
  type SymbolStatus,
  type WarmupNeed,
  type WarmupResult,
} from "../../../actors/bots/symbol_behaviour.ts";
import type { Transition } from "../../../actors/runtime/behaviour.ts";
import { iso, minuteBar, OPEN_MS, walk } from "./_bars.ts";

function run(state: SymbolState, msg: SymbolMsg): [SymbolState, Transition<SymbolState, never>] {
  const t = symbolBehaviour.receive(state, msg);
  return [t.state, t];
}

function updates(t: Transition<SymbolState, never>, topic: string): BarUpdate[] {
  const p = t.publish?.find((x) => x.topic === topic);
  return p && p.batch.kind === "rows" ? (p.batch.rows as BarUpdate[]) : [];
}

Deno.test("symbol: 1Min bars aggregate into left-labelled 5Min bars on their boundaries", () => {
  let s = symbolBehaviour.init({ symbol: "AAPL", timeframes: ["1Min", "5Min"] });
  const bars = [0, 1, 2, 3, 4, 5, 6].map((i) => minuteBar(i, 100 + i, OPEN_MS, 10 * (i + 1)));
  let t;
  [s, t] = run(s, { type: "bars", bars: bars.slice(0, 4) });
  assertEquals(updates(t, "bars.1Min").length, 4);
  assertEquals(updates(t, "bars.5Min"), []);
  // The 09:34 bar closes the 09:30 interval at once.
  [s, t] = run(s, { type: "bars", bars: bars.slice(4) });
  const five = updates(t, "bars.5Min");
  assertEquals(five.length, 1);
  assertEquals(five[0]!.bar, {
    t: "2024-01-09T14:30:00Z",
    o: 100,
    h: 104.5,
    l: 99.5,
    c: 104,
    v: 150,
    n: 5,
    vw: (100 * 10 + 101 * 20 + 102 * 30 + 103 * 40 + 104 * 50) / 150,
  });
  // A gap: the next bar at 09:41 closes the 09:35 interval (only two minutes in it).
  [s, t] = run(s, { type: "bars", bars: [minuteBar(11, 90)] });
  assertEquals(updates(t, "bars.5Min").map((u) => [u.bar.t, u.bar.v, u.bar.c]), [[
    "2024-01-09T14:35:00Z",
    130,
    106,
  ]]);
  // A tick at the interval end closes the quiet 09:40 interval.
  [s, t] = run(s, { type: "tick", t: iso(OPEN_MS + 14 * 60_000) });
  assertEquals(updates(t, "bars.5Min"), []);
  [, t] = run(s, { type: "tick", t: iso(OPEN_MS + 15 * 60_000) });
  assertEquals(updates(t, "bars.5Min").map((u) => u.bar.t), ["2024-01-09T14:40:00Z"]);
});

Deno.test("symbol: trades build 1-minute bars that close on a later trade or a tick", () => {
  let s = symbolBehaviour.init({ symbol: "AAPL", timeframes: ["1Min"] });
  const trade = (sec: number, p: number, size: number): Trade => ({
    t: iso(OPEN_MS + sec * 1000),
    x: "V",
    p,
    s: size,
    c: [],
    i: sec,
    z: "C",
  });
  let t;
  [s, t] = run(s, {
    type: "trades",
    trades: [trade(1, 10, 100), trade(20, 11, 300), trade(59, 9, 100)],
  });
  assertEquals(t.publish, undefined);
  [s, t] = run(s, { type: "trades", trades: [trade(61, 12, 50), trade(5, 1, 1)] }); // the last is late
  assertEquals(updates(t, "bars.1Min").map((u) => u.bar), [
    {
      t: "2024-01-09T14:30:00Z",
      o: 10,
      h: 11,
      l: 9,
      c: 9,
      v: 500,
      n: 3,
      vw: (1000 + 3300 + 900) / 500,
    },
  ]);
  [s, t] = run(s, { type: "tick", t: iso(OPEN_MS + 120_000) });
  assertEquals(updates(t, "bars.1Min").map((u) => [u.bar.t, u.bar.c]), [[
    "2024-01-09T14:31:00Z",
    12,
  ]]);
  const [, st] = run(s, { type: "status" });
  assertEquals((st.reply as SymbolStatus).lateDropped, 1);
});

Deno.test("symbol: trade columns (typed arrays) build the same bars as trade rows", () => {
  const prints = Array.from({ length: 500 }, (_, i) => ({
    ms: OPEN_MS + i * 1_700,
    p: 100 + Math.sin(i / 7) * 3,
    s: 1 + (i * 37) % 200,
  }));
  const rows: Trade[] = prints.map((x, i) => ({
    t: new Date(x.ms).toISOString(),
    x: "V",
    p: x.p,
    s: x.s,
    c: [],
    i,
    z: "C",
  }));
  let a = symbolBehaviour.init({ symbol: "AAPL", timeframes: ["1Min", "5Min"] });
  let b = symbolBehaviour.init({ symbol: "AAPL", timeframes: ["1Min", "5Min"] });
  const fromRows: BarUpdate[] = [];
  const fromColumns: BarUpdate[] = [];
  for (let i = 0; i < prints.length; i += 64) {
    const chunk = prints.slice(i, i + 64);
    let t;
    [a, t] = run(a, {
      type: "batch",
      topic: "trades",
      seq: i / 64 + 1,
      batch: { kind: "rows", rows: rows.slice(i, i + 64) },
    });
    fromRows.push(...updates(t, "bars.1Min"), ...updates(t, "bars.5Min"));
    [b, t] = run(b, {
      type: "batch",
      topic: "trades",
      seq: i / 64 + 1,
      batch: {
        kind: "columns",
        length: chunk.length,
        columns: {
          t: Float64Array.from(chunk, (x) => x.ms),
          p: Float64Array.from(chunk, (x) => x.p),
          s: Uint32Array.from(chunk, (x) => x.s),
        },
      },
    });
    fromColumns.push(...updates(t, "bars.1Min"), ...updates(t, "bars.5Min"));
  }
  assert(fromRows.length > 10);
  assertEquals(fromColumns, fromRows);
});

Deno.test("symbol: trade columns without t, p and s of the batch's length are refused", () => {
  const s = symbolBehaviour.init({ symbol: "AAPL", timeframes: ["1Min"] });
  let error: unknown;
  try {
    symbolBehaviour.receive(s, {
      type: "batch",
      topic: "trades",
      seq: 1,
      batch: {
        kind: "columns",
        length: 3,
        columns: { t: new Float64Array(3), p: new Float64Array(2), s: new Float64Array(3) },
      },
    });
  } catch (e) {
    error = e;
  }
  assert(error instanceof TypeError);
  assertEquals(
    error.message,
    'Cannot read trade columns of "AAPL": need t, p and s of 3 entries',
  );
});

Deno.test("symbol: indicator values equal a direct computation on the aggregated bars", () => {
  let s = symbolBehaviour.init({ symbol: "AAPL" });
  let t;
  [s, t] = run(s, {
    type: "subscribe",
    timeframe: "5Min",
    specs: [{ name: "sma", params: { period: 3 } }, "atr:4"],
  });
  assertEquals(t.reply, { keys: ["sma:3", "atr:4"] });
  const minutes = walk(7, 100);
  const got: BarUpdate[] = [];
  for (let i = 0; i < minutes.length; i += 7) {
    [s, t] = run(s, {
      type: "batch",
      topic: "AAPL",
      seq: i,
      batch: { kind: "rows", rows: minutes.slice(i, i + 7) },
    });
    got.push(...updates(t, "bars.5Min"));
  }
  assertEquals(got.length, 20);
  const direct = new IndicatorSet();
  direct.add({ name: "sma", params: { period: 3 } });
  direct.add({ name: "atr", params: { period: 4 } });
  for (const [k, u] of got.entries()) {
    const slice = minutes.slice(k * 5, k * 5 + 5);
    assertEquals(u.bar.t, slice[0]!.t);
    assertEquals(u.bar.h, Math.max(...slice.map((b) => b.h)));
    assertEquals(u.indicators, direct.update(u.bar));
  }
});

Deno.test("symbol: indicators are shared per key with reference counts; late timeframes skip partial bars", () => {
  let s = symbolBehaviour.init({ symbol: "AAPL", historyLimit: 10 });
  let t;
  [s, t] = run(s, { type: "subscribe", timeframe: "1Min", specs: ["sma:2"] });
  [s, t] = run(s, { type: "bars", bars: walk(1, 3) });
  // A second user shares the warm indicator.
  [s, t] = run(s, { type: "subscribe", timeframe: "1Min", specs: ["sma:2", "ema:2"] });
  [s, t] = run(s, { type: "status" });
  assertEquals((t.reply as SymbolStatus).refs, { "1Min": { "sma:2": 2, "ema:2": 1 } });
  // A new indicator is warmed from history: ema:2 has a value on the next bar at once.
  [s, t] = run(s, { type: "bars", bars: [walk(1, 4)[3]!] });
  const u = updates(t, "bars.1Min")[0]!;
  assert(typeof u.indicators["ema:2"] === "number");
  [s, t] = run(s, { type: "unsubscribe", timeframe: "1Min", keys: ["sma:2", "ema:2"] });
  [s, t] = run(s, { type: "status" });
  assertEquals((t.reply as SymbolStatus).refs, { "1Min": { "sma:2": 1 } });
  [s, t] = run(s, { type: "unsubscribe", timeframe: "1Min", keys: ["sma:2"] });
  [s, t] = run(s, { type: "status" });
  assertEquals((t.reply as SymbolStatus).timeframes, []);
  // A 5Min timeframe subscribed at 09:34 skips the partial 09:30 interval.
  [s, t] = run(s, { type: "subscribe", timeframe: "5Min", specs: ["sma:2"] });
  const more = walk(2, 12).slice(4);
  [s, t] = run(s, { type: "bars", bars: more });
  assertEquals(updates(t, "bars.5Min").map((x) => x.bar.t), ["2024-01-09T14:35:00Z"]);
});

Deno.test("symbol: bar history keeps the last `limit` bars oldest first, growing as it fills", () => {
  const bar = (i: number) => minuteBar(i, i, OPEN_MS, 10 * i);
  const history = new BarHistory(100);
  for (let i = 1; i <= 70; i++) history.push(bar(i));
  assertEquals(history.size, 70);
  assertEquals(history.bars(), Array.from({ length: 70 }, (_, i) => bar(i + 1)));
  for (let i = 71; i <= 250; i++) history.push(bar(i));
  assertEquals(history.size, 100);
  assertEquals(history.bars(), Array.from({ length: 100 }, (_, i) => bar(i + 151)));
  const none = new BarHistory(0);
  none.push(bar(1));
  assertEquals(none.bars(), []);
  assertEquals(history.firstMs, Date.parse(bar(151).t));
});

Deno.test("symbol: warm-up takes only history before the live bars, rewarms short indicators, and replays", () => {
  const bars = walk(5, 40); // 09:30 … 10:09
  let s = symbolBehaviour.init({ symbol: "AAPL" });
  let t;
  // A first user's sma:3 has been live for 3 bars (09:50 … 09:52): warm, and left alone.
  [s, t] = run(s, { type: "subscribe", timeframe: "1Min", specs: ["sma:3"] });
  [s, t] = run(s, { type: "bars", bars: bars.slice(20, 23) });
  // A new bot asks for sma:10: it lacks 11 − 3 bars before 09:50, the first live bar held.
  [s, t] = run(s, { type: "subscribe", timeframe: "1Min", specs: ["sma:10", "sma:3"] });
  [s, t] = run(s, { type: "warmup_need", timeframe: "1Min", keys: ["sma:10", "sma:3"] });
  assertEquals(t.reply as WarmupNeed, { bars: 8, beforeMs: Date.parse(bars[20]!.t) });
  // The venue answers late: it sends 09:40 … 09:51, overlapping the live 09:50 and 09:51.
  const sma3Before = s.frames["1Min"]!.set.get("sma:3");
  [s, t] = run(s, {
    type: "warmup",
    timeframe: "1Min",
    keys: ["sma:10", "sma:3"],
    bars: bars.slice(10, 22),
  });
  const result = t.reply as WarmupResult;
  assertEquals([result.accepted, result.warm], [10, true]);
  // Every bar held, once, oldest first, with the bot's values as a direct computation gives.
  assertEquals(result.updates.map((u) => u.bar.t), bars.slice(10, 23).map((b) => b.t));
  const direct = new IndicatorSet();
  direct.add({ name: "sma", params: { period: 10 } });
  direct.add({ name: "sma", params: { period: 3 } });
  for (const u of result.updates) assertEquals(u.indicators, direct.update(u.bar));
  assert(s.frames["1Min"]!.set.get("sma:3") === sma3Before, "a warm indicator is not replaced");
  // Live goes on with sma:10 warm, no bar counted twice.
  [s, t] = run(s, { type: "bars", bars: [bars[23]!] });
  const next = updates(t, "bars.1Min")[0]!;
  assertEquals(next.indicators, direct.update(bars[23]!));
  // Nothing more is needed now.
  [s, t] = run(s, { type: "warmup_need", timeframe: "1Min", keys: ["sma:10"] });
  assertEquals((t.reply as WarmupNeed).bars, 0);
});

Deno.test("symbol: history fed before any live bar marks those minutes as seen", () => {
  const bars = walk(6, 12);
  let s = symbolBehaviour.init({ symbol: "AAPL" });
  let t;
  [s, t] = run(s, { type: "subscribe", timeframe: "1Min", specs: ["sma:4"] });
  [s, t] = run(s, { type: "warmup_need", timeframe: "1Min", keys: ["sma:4"] });
  assertEquals(t.reply as WarmupNeed, { bars: 5, beforeMs: null });
  [s, t] = run(s, { type: "warmup", timeframe: "1Min", keys: ["sma:4"], bars: bars.slice(0, 5) });
  assertEquals((t.reply as WarmupResult).warm, true);
  // The stream then delivers the last history bar again, and the next one.
  [s, t] = run(s, { type: "bars", bars: bars.slice(4, 6) });
  const live = updates(t, "bars.1Min");
  assertEquals(live.map((u) => u.bar.t), [bars[5]!.t]);
  const direct = new IndicatorSet();
  direct.add({ name: "sma", params: { period: 4 } });
  for (const bar of bars.slice(0, 5)) direct.update(bar);
  assertEquals(live[0]!.indicators, direct.update(bars[5]!));
});

/** The 5-minute bar of minutes `from` … `from + 4` of `bars`, as the actor aggregates them. */
function fiveMinuteBar(bars: Bar[], from: number): Bar {
  let s = symbolBehaviour.init({ symbol: "AAPL", timeframes: ["5Min"] });
  const t = symbolBehaviour.receive(s, { type: "bars", bars: bars.slice(from, from + 5) });
  s = t.state;
  return updates(t, "bars.5Min")[0]!.bar;
}

Deno.test("symbol: warm-up completes a longer bar that live data joined mid-interval", () => {
  const bars = walk(7, 30); // 09:30 …; 5Min intervals at 09:30, 09:35 …
  let s = symbolBehaviour.init({ symbol: "AAPL" });
  let t;
  [s, t] = run(s, { type: "subscribe", timeframe: "5Min", specs: ["sma:2"] });
  // Live from 09:47: the 09:45 interval lacks 09:45 and 09:46.
  [s, t] = run(s, { type: "bars", bars: bars.slice(17, 18) });
  // History: 5Min bars before 09:45, and the interval's minutes 09:45 … 09:47 (one overlaps).
  const history = [0, 5, 10].map((i) => fiveMinuteBar(bars, i));
  [s, t] = run(s, {
    type: "warmup",
    timeframe: "5Min",
    keys: ["sma:2"],
    bars: history,
    minutes: bars.slice(15, 18),
  });
  assertEquals((t.reply as WarmupResult).accepted, 3);
  [s, t] = run(s, { type: "bars", bars: bars.slice(18, 20) });
  const [bar] = updates(t, "bars.5Min");
  assertEquals(bar?.bar, fiveMinuteBar(bars, 15));
});

Deno.test("symbol: warm-up fills the interval a timeframe added mid-stream would skip", () => {
  const bars = walk(8, 30);
  let s = symbolBehaviour.init({ symbol: "AAPL", timeframes: ["1Min"] });
  let t;
  [s, t] = run(s, { type: "bars", bars: bars.slice(0, 16) }); // up to 09:45
  [s, t] = run(s, { type: "subscribe", timeframe: "5Min", specs: ["sma:2"] });
  [s, t] = run(s, { type: "bars", bars: bars.slice(16, 17) }); // 09:46: the frame skips 09:45
  [s, t] = run(s, {
    type: "warmup",
    timeframe: "5Min",
    keys: ["sma:2"],
    bars: [0, 5, 10].map((i) => fiveMinuteBar(bars, i)),
    minutes: bars.slice(15, 17),
  });
  [s, t] = run(s, { type: "bars", bars: bars.slice(17, 20) });
  assertEquals(updates(t, "bars.5Min").map((u) => u.bar), [fiveMinuteBar(bars, 15)]);
  // The next interval follows as usual.
  [s, t] = run(s, { type: "bars", bars: bars.slice(20, 25) });
  assertEquals(updates(t, "bars.5Min").map((u) => u.bar), [fiveMinuteBar(bars, 20)]);
});

Deno.test("symbol: a strategy's own look-back asks for more history than the windows", () => {
  let s = symbolBehaviour.init({ symbol: "AAPL", historyLimit: 20 });
  let t;
  [s, t] = run(s, { type: "subscribe", timeframe: "1Min", specs: ["obv"] });
  [s, t] = run(s, { type: "warmup_need", timeframe: "1Min", keys: ["obv"] });
  assertEquals((t.reply as WarmupNeed).bars, 2);
  [s, t] = run(s, { type: "warmup_need", timeframe: "1Min", keys: ["obv"], minBars: 31 });
  assertEquals((t.reply as WarmupNeed).bars, 31);
  const bars = walk(9, 31);
  [s, t] = run(s, { type: "warmup", timeframe: "1Min", keys: ["obv"], bars });
  // All kept, past the limit of 20, for the strategy to replay.
  assertEquals((t.reply as WarmupResult).updates.length, 31);
});
