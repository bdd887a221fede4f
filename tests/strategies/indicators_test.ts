import fc from "fast-check";
import {
  ATR as LibAtr,
  BollingerBands as LibBollinger,
  RSI as LibRsi,
  StochasticOscillator as LibStochastic,
} from "trading-signals";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  Atr,
  Bollinger,
  Ema,
  type Indicator,
  type IndicatorBar,
  type IndicatorValue,
  Macd,
  Obv,
  Rsi,
  Sma,
  Stochastic,
} from "../../strategies/indicators.ts";
import { assertClose, closeBars, hlcBars, randomBars } from "./_bars.ts";

const FC = { seed: 20260207, numRuns: 300 } as const;

function run<V extends IndicatorValue>(ind: Indicator<V>, bars: readonly IndicatorBar[]) {
  return bars.map((b) => ind.update(b));
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("SMA(5) on 1..20: null for four bars, then the exact window means 3..18", () => {
  const values = run(new Sma(5), closeBars(range(1, 20)));
  assertEquals(values, [null, null, null, null, ...range(3, 18)]);
});

Deno.test("SMA: equal windows give equal values whatever came before", () => {
  const window = [0.1, 0.7, 0.2, 0.3];
  const a = new Sma(4);
  const b = new Sma(4);
  const c = new Sma(4);
  run(a, closeBars([1e6, 3.3, 0.01, 77.7, ...window]));
  run(b, closeBars([0.3, 0.2, 0.1, 1 / 3, 2 / 7, ...window]));
  run(c, closeBars([...window].reverse())); // same multiset, other order
  assertEquals(a.value, b.value);
  assertEquals(a.value, c.value);
  assertEquals(a.value, 0.325);
  // A constant window averages to exactly that constant.
  const flat = new Sma(7);
  run(flat, closeBars([5, 1e9, ...Array(7).fill(0.1)]));
  assertEquals(flat.value, 0.1);
});

Deno.test("SMA (property): the incremental value is the exact mean of the window", () => {
  // Dyadic prices (multiples of 1/256 below 2^30): every float sum is exact, so sum / n is the
  // correctly rounded mean, an independent reference.
  const dyadic = fc.integer({ min: -(2 ** 38), max: 2 ** 38 }).map((k) => k / 256);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 30 }), fc.array(dyadic, { maxLength: 120 }), (n, xs) => {
      const sma = new Sma(n);
      return xs.every((x, i) => {
        const got = sma.update({ h: x, l: x, c: x, v: 0 });
        if (i + 1 < n) return got === null;
        const win = xs.slice(i + 1 - n, i + 1);
        return got === win.reduce((s, v) => s + v, 0) / n;
      });
    }),
    FC,
  );
});

/** x as an exact multiple of 2^-1074. */
function scaled(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const units = exp === 0 ? frac : (frac | (1n << 52n)) << BigInt(exp - 1);
  return bits >> 63n ? -units : units;
}

function nextAfter(x: number, up: boolean): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigInt64(0);
  view.setBigInt64(0, x > 0 === up ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

Deno.test("SMA (property): on cent prices the value is the nearest double to the exact mean", () => {
  const cents = fc.integer({ min: 1, max: 10_000_000 }).map((k) => k / 100);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 25 }),
      fc.array(cents, { minLength: 1, maxLength: 80 }),
      (n, xs) => {
        const sma = new Sma(n);
        const fresh = (win: number[]) => {
          const s = new Sma(n);
          return win.map((x) => s.update({ h: x, l: x, c: x, v: 0 })).at(-1);
        };
        return xs.every((x, i) => {
          const got = sma.update({ h: x, l: x, c: x, v: 0 });
          if (got === null) return i + 1 < n;
          const win = xs.slice(i + 1 - n, i + 1);
          // |got − exact| is at most half a unit in the last place, on either side.
          const N = BigInt(n);
          const exact = win.reduce((s, v) => s + scaled(v), 0n); // n · mean, in 2^-1074 units
          const g = scaled(got) * N;
          const below = (scaled(got) - scaled(nextAfter(got, false))) * N;
          const above = (scaled(nextAfter(got, true)) - scaled(got)) * N;
          const ok = 2n * (g - exact) <= below && 2n * (exact - g) <= above;
          return ok && fresh(win) === got;
        });
      },
    ),
    FC,
  );
});

Deno.test("EMA: seeded with the SMA of its first period, then α = 2/(n+1)", () => {
  // EMA(5) on 1..20: seed mean(1..5) = 3 at bar 5; α = 1/3, so it then lags the line by 2.
  const values = run(new Ema(5), closeBars(range(1, 20)));
  assertEquals(values.slice(0, 4), [null, null, null, null]);
  values.slice(4).forEach((v, i) => assertClose(v, i + 3, 1e-12, `bar ${i + 5}`));
  // EMA(3), α = 0.5: seed mean(2, 4, 6) = 4; 4 + (8 − 4)/2 = 6; 6 + (12 − 6)/2 = 9.
  assertEquals(run(new Ema(3), closeBars([2, 4, 6, 8, 12])), [null, null, 4, 6, 9]);
  // The seed is the exact SMA: the two agree bit for bit on the seeding bar.
  const xs = [0.1, 0.7, 0.2, 0.3, 9.99];
  assertEquals(run(new Ema(4), closeBars(xs))[3], run(new Sma(4), closeBars(xs))[3]);
});

// Wilder's RSI worked example as published by StockCharts (the data set every RSI is checked
// against), with its published two-decimal values from the 15th close on.
const WILDER_CLOSES = [
  44.3389,
  44.0902,
  44.1497,
  43.6124,
  44.3278,
  44.8264,
  45.0955,
  45.4245,
  45.8433,
  46.0826,
  45.8931,
  46.0328,
  45.614,
  46.282,
  46.282,
  46.0028,
  46.0328,
  46.4116,
  46.2222,
  45.6439,
  46.2122,
  46.2521,
  45.7137,
  46.4515,
  45.7835,
  45.3548,
  44.0288,
  44.1783,
  44.2181,
  44.5672,
  43.4205,
  42.6628,
  43.1314,
];
const WILDER_RSI = [
  70.53,
  66.32,
  66.55,
  69.41,
  66.36,
  57.97,
  62.93,
  63.26,
  56.06,
  62.38,
  54.71,
  50.42,
  39.99,
  41.46,
  41.87,
  45.46,
  37.30,
  33.08,
  37.77,
];

Deno.test("RSI(14): Wilder's worked example, value for value", () => {
  const values = run(new Rsi(14), closeBars(WILDER_CLOSES));
  assertEquals(values.slice(0, 14), Array(14).fill(null));
  values.slice(14).forEach((v, i) =>
    assertClose(v, WILDER_RSI[i]!, 0.005, `RSI at close ${i + 15}`)
  );
  // Eight-decimal figures for the first and last value (pyalgotrade's reference test).
  assertClose(values[14], 70.53278948, 5e-9);
  assertClose(values.at(-1), 37.77295211, 5e-9);
});

Deno.test("RSI: all gains 100, all losses 0, no movement 50", () => {
  assertEquals(run(new Rsi(3), closeBars([1, 2, 3, 4, 5])).slice(3), [100, 100]);
  assertEquals(run(new Rsi(3), closeBars([5, 4, 3, 2, 1])).slice(3), [0, 0]);
  assertEquals(run(new Rsi(3), closeBars([7, 7, 7, 7, 7])).slice(3), [50, 50]);
  // Hand-computed Wilder smoothing, period 2: changes +1, −1 → gain 0.5, loss 0.5 → 50;
  // then +1: gain (0.5 + 1)/2 = 0.75, loss 0.25 → 75.
  assertEquals(run(new Rsi(2), closeBars([10, 11, 10, 11])), [null, null, 50, 75]);
});

/** MACD the straightforward way: whole arrays, SMA-seeded EMAs. */
function referenceMacd(closes: number[], fast: number, slow: number, signal: number) {
  const ema = (xs: number[], n: number): (number | null)[] => {
    const out: (number | null)[] = [];
    let e = 0;
    xs.forEach((x, i) => {
      if (i < n - 1) return out.push(null);
      if (i === n - 1) e = xs.slice(0, n).reduce((s, v) => s + v, 0) / n;
      else e = e + (2 / (n + 1)) * (x - e);
      out.push(e);
    });
    return out;
  };
  const f = ema(closes, fast);
  const s = ema(closes, slow);
  const line = closes.map((_, i) => (s[i] === null ? null : f[i]! - s[i]!));
  const defined = line.slice(slow - 1) as number[];
  const sig = [...Array(slow - 1).fill(null), ...ema(defined, signal)];
  return line.map((m, i) => (sig[i] === null || m === null ? null : { macd: m, signal: sig[i]! }));
}

Deno.test("MACD(12,26,9) matches a straightforward implementation; first value on bar 34", () => {
  const bars = randomBars(7, 200);
  const macd = new Macd();
  assertEquals(macd.warmup, 34);
  const got = run(macd, bars);
  const want = referenceMacd(bars.map((b) => b.c), 12, 26, 9);
  assertEquals(got[32], null);
  assert(got[33] !== null, "value on bar 34");
  got.forEach((v, i) => {
    const w = want[i];
    if (w === null || w === undefined) return assertEquals(v, null, `bar ${i + 1}`);
    assertClose(v?.macd, w.macd, 1e-9, `macd ${i + 1}`);
    assertClose(v?.signal, w.signal, 1e-9, `signal ${i + 1}`);
    assertClose(v?.histogram, w.macd - w.signal, 1e-9, `histogram ${i + 1}`);
  });
  assertThrows(() => new Macd({ fast: 26, slow: 12 }), RangeError, "not below slow");
});

Deno.test("Bollinger: population standard deviation on a small set", () => {
  // {2, 4, 4, 4, 5, 5, 7, 9}: mean 5, population SD exactly 2 (the sample SD would be 2.138).
  const bb = new Bollinger({ period: 8, k: 2 });
  const values = run(bb, closeBars([2, 4, 4, 4, 5, 5, 7, 9, 5]));
  assertEquals(values.slice(0, 7), Array(7).fill(null));
  assertEquals(values[7], { upper: 9, middle: 5, lower: 1 });
  // Window {4, 4, 4, 5, 5, 7, 9, 5}: mean 43/8, variance 253/8 − (43/8)² = 175/64.
  const sd = Math.sqrt(175 / 64);
  assertClose(values[8]?.middle, 5.375, 0);
  assertClose(values[8]?.upper, 5.375 + 2 * sd, 1e-12);
  assertClose(values[8]?.lower, 5.375 - 2 * sd, 1e-12);
  // A flat window has zero width, exactly, and its middle equals the SMA bit for bit.
  const flat = new Bollinger({ period: 3 });
  run(flat, closeBars([0.1, 0.1, 0.1]));
  assertEquals(flat.value, { upper: 0.1, middle: 0.1, lower: 0.1 });
  const xs = randomBars(3, 60);
  const sma = new Sma(20);
  const bands = new Bollinger();
  xs.forEach((b) => assertEquals(bands.update(b)?.middle ?? null, sma.update(b)));
});

Deno.test("Stochastic 3/2/2 on a small OHLC set, by hand", () => {
  const st = new Stochastic({ k: 3, kSmooth: 2, d: 2 });
  assertEquals(st.warmup, 5);
  const values = run(
    st,
    hlcBars([[10, 8, 9], [11, 9, 10], [12, 10, 11], [12, 9, 10], [13, 11, 12], [11, 9, 9.5]]),
  );
  // Fast %K from bar 3: 75, 100/3, 75, 12.5. Slow %K: 325/6 (bar 4), 325/6, 43.75.
  // %D: 325/6 (bar 5), 1175/24 (bar 6).
  assertEquals(values.slice(0, 4), [null, null, null, null]);
  assertClose(values[4]?.k, 325 / 6, 1e-12);
  assertClose(values[4]?.d, 325 / 6, 1e-12);
  assertClose(values[5]?.k, 43.75, 1e-12);
  assertClose(values[5]?.d, 1175 / 24, 1e-12);
  // A window whose high equals its low reads 50, not 0.
  const flat = new Stochastic({ k: 2, kSmooth: 1, d: 1 });
  assertEquals(run(flat, closeBars([4, 4, 4])).at(-1), { k: 50, d: 50 });
  assertEquals(new Stochastic().warmup, 18);
});

Deno.test("OBV: starts at the first bar's volume; up adds, down subtracts, equal keeps", () => {
  const obv = new Obv();
  const values = run(
    obv,
    hlcBars([[10, 10, 10, 100], [11, 11, 11, 200], [11, 11, 11, 300], [10, 10, 10, 400], [
      12,
      12,
      12,
      500,
    ]]),
  );
  assertEquals(values, [100, 300, 300, -100, 400]);
  assertEquals(obv.warmup, 1);
});

Deno.test("ATR(3): Wilder smoothing seeded with the mean of the first true ranges", () => {
  const atr = new Atr(3);
  const values = run(
    atr,
    hlcBars([[10, 8, 9], [12, 9, 11], [11.5, 10, 10.5], [14, 13, 13.5], [12, 11, 11.5]]),
  );
  // TR: 2 (first bar: high − low), 3, 1.5, 3.5 (gap up from 10.5), 2.5 (gap down from 13.5).
  assertEquals(values.slice(0, 2), [null, null]);
  assertClose(values[2], 6.5 / 3, 1e-12);
  assertClose(values[3], 47 / 18, 1e-12);
  assertClose(values[4], 139 / 54, 1e-12);
});

Deno.test("trading-signals agrees where its conventions coincide (RSI, ATR, Bollinger, Stochastic)", () => {
  const bars = randomBars(11, 400);
  const rsi = new Rsi(14);
  const libRsi = new LibRsi(14);
  const atr = new Atr(14);
  const libAtr = new LibAtr(14);
  const bb = new Bollinger({ period: 20, k: 2 });
  const libBb = new LibBollinger(20, 2);
  const st = new Stochastic();
  const libSt = new LibStochastic({ kPeriod: 14, kSlowingPeriod: 3, dPeriod: 3 });
  bars.forEach((b, i) => {
    const candle = { high: b.h, low: b.l, close: b.c };
    const what = `bar ${i + 1}`;
    const r = rsi.update(b);
    const lr = libRsi.add(b.c);
    if (lr === null) assertEquals(r, null, what);
    else assertClose(r, lr, 1e-9, `RSI ${what}`);
    const a = atr.update(b);
    const la = libAtr.add(candle);
    if (la === null) assertEquals(a, null, what);
    else assertClose(a, la, 1e-9, `ATR ${what}`);
    const band = bb.update(b);
    const lb = libBb.add(b.c);
    if (lb === null) assertEquals(band, null, what);
    else {
      assertClose(band?.upper, lb.upper, 1e-9, `upper ${what}`);
      assertClose(band?.lower, lb.lower, 1e-9, `lower ${what}`);
    }
    const s = st.update(b);
    const ls = libSt.add(candle);
    if (ls === null) assertEquals(s, null, what);
    else {
      assertClose(s?.k, ls.stochK, 1e-9, `%K ${what}`);
      assertClose(s?.d, ls.stochD, 1e-9, `%D ${what}`);
    }
  });
  assert(rsi.isStable && atr.isStable && bb.isStable && st.isStable);
});

function everyIndicator(): Indicator[] {
  return [
    new Sma(5),
    new Ema(5),
    new Rsi(5),
    new Macd({ fast: 3, slow: 6, signal: 4 }),
    new Bollinger({ period: 5, k: 1.5 }),
    new Stochastic({ k: 4, kSmooth: 2, d: 3 }),
    new Obv(),
    new Atr(5),
  ];
}

Deno.test("every indicator: first value exactly on its warm-up bar", () => {
  const bars = randomBars(5, 40);
  for (const ind of [...everyIndicator(), new Macd(), new Stochastic(), new Rsi(14)]) {
    const values = run(ind, bars);
    const first = values.findIndex((v) => v !== null);
    assertEquals(first + 1, ind.warmup, ind.constructor.name);
    assertEquals(ind.count, 40);
    assert(values.slice(first).every((v) => v !== null), ind.constructor.name);
  }
});

Deno.test("every indicator: peek(bar) equals what update(bar) then gives, and changes nothing", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 60 }), (seed, n) => {
      const bars = randomBars(seed, n);
      const probes = randomBars(seed + 1, n, 100);
      const subject = everyIndicator();
      const twin = everyIndicator();
      bars.forEach((b, i) => {
        subject.forEach((ind, k) => {
          ind.peek(probes[i]!); // an in-progress bar that never closes
          const again = ind.peek(b);
          assertEquals(ind.update(b), again, `${ind.constructor.name} bar ${i}`);
          twin[k]!.update(b);
          assertEquals(ind.value, twin[k]!.value, `${ind.constructor.name} untouched by peek`);
        });
      });
      return true;
    }),
    { ...FC, numRuns: 60 },
  );
});

Deno.test("every indicator: deterministic, and a non-finite input is refused", () => {
  const bars = randomBars(9, 120);
  const a = everyIndicator().map((ind) => run(ind, bars));
  const b = everyIndicator().map((ind) => run(ind, bars));
  assertEquals(a, b);
  for (const ind of everyIndicator()) {
    assertThrows(() => ind.update({ h: 1, l: 1, c: NaN, v: 1 }), RangeError, "not finite");
  }
  assertThrows(() => new Sma(0), RangeError, "period 0");
  assertThrows(() => new Ema(2.5), RangeError);
  assertThrows(() => new Bollinger({ k: 0 }), RangeError, "width 0");
});
