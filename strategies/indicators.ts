/**
 * Built-in technical indicators, incremental and O(1) per bar.
 *
 * Each indicator answers `update(bar)` with its value (or `null` until warmed up), keeps the last
 * one in `value`, and can `peek(bar)`: the value `update(bar)` would give, without changing
 * anything, for an in-progress bar. `warmup` is the number of bars that produce the first value.
 * Conventions (see strategies/README.md):
 *
 * - {@link Sma}: exact window mean (nearest double to the exact mean of the window's values).
 * - {@link Ema}: seeded with the SMA of its first `period` values, then `ema += α·(x − ema)`,
 *   `α = 2 / (period + 1)`.
 * - {@link Rsi}: Wilder; average gain and loss seeded with the simple mean of the first `period`
 *   changes, then `avg = (avg·(n − 1) + x) / n`. No movement at all reads 50.
 * - {@link Macd}: fast EMA − slow EMA (both SMA-seeded), signal = SMA-seeded EMA of that line.
 * - {@link Bollinger}: middle = SMA, bands at `k` population standard deviations.
 * - {@link Stochastic}: slow stochastic; %K = SMA(kSmooth) of the fast %K over `k` bars,
 *   %D = SMA(d) of %K. A window whose high equals its low reads a fast %K of 50.
 * - {@link Obv}: starts at the first bar's volume; adds the volume on an up close, subtracts it on
 *   a down close, keeps it on an unchanged close.
 * - {@link Atr}: Wilder; the first true range is high − low, the first ATR is the mean of the
 *   first `period` true ranges, then Wilder smoothing.
 *
 * Nothing of trading-signals is used at run time: each of its indicator classes either follows
 * another convention (EMA seeded with the first price, MACD from those EMAs, OBV starting at zero,
 * RSI of 100 and fast %K of 0 on a flat series) or recomputes its whole window on every bar (SMA,
 * Bollinger, Stochastic, and the SMA inside its Wilder smoothing for RSI and ATR), so it cannot be
 * O(1) nor peek without changing state. Its RSI, ATR, Bollinger Bands and Stochastic serve as
 * test oracles where the conventions coincide. Not importing it keeps about 3 MB out of every
 * Worker that loads this module (each bot Worker and each symbol actor host).
 *
 * @example
 * ```ts
 * const ema = new Ema(3);
 * for (const c of [1, 2, 3, 4]) ema.update({ h: c, l: c, c, v: 0 });
 * ema.value; // 3 (seed 2, then 2 + 0.5 · (4 − 2))
 * ```
 *
 * @module
 */

import type { Bar } from "../core/market.ts";
import { ExactSum, exactVariance } from "./_exact.ts";

/** The fields of a bar the indicators read: high, low, close and volume. */
export type IndicatorBar = Pick<Bar, "h" | "l" | "c" | "v">;

/** MACD's three lines. */
export interface MacdValue {
  /** Fast EMA − slow EMA. */
  macd: number;
  /** EMA of the MACD line. */
  signal: number;
  /** `macd − signal`. */
  histogram: number;
}

/** Bollinger Bands. */
export interface BandsValue {
  upper: number;
  /** The SMA of the window (exactly equal to an {@link Sma} of the same period). */
  middle: number;
  lower: number;
}

/** Slow stochastic lines, 0 to 100. */
export interface StochasticValue {
  /** Slow %K: the SMA of the fast %K. */
  k: number;
  /** %D: the SMA of the slow %K. */
  d: number;
}

/** Any indicator value: plain data, structured-clone friendly. */
export type IndicatorValue = number | MacdValue | BandsValue | StochasticValue;

/** An incremental indicator over bars. */
export interface Indicator<V extends IndicatorValue = IndicatorValue> {
  /** Bars needed for the first value: the value appears on the `warmup`-th bar. */
  readonly warmup: number;
  /** Bars seen so far. */
  readonly count: number;
  /** The value after the last bar, or `null` while warming up. */
  readonly value: V | null;
  /** True once a value exists. */
  readonly isStable: boolean;
  /** Takes a closed bar; answers the new value. Throws a RangeError on a non-finite field. */
  update(bar: IndicatorBar): V | null;
  /** The value `update(bar)` would answer, changing nothing (for an in-progress bar). */
  peek(bar: IndicatorBar): V | null;
}

function checkPeriod(what: string, n: number, min = 1): void {
  if (!Number.isSafeInteger(n) || n < min) {
    throw new RangeError(`Cannot create ${what}: period ${n} is not an integer >= ${min}`);
  }
}

function finite(x: number, field: string): number {
  if (!Number.isFinite(x)) throw new RangeError(`Cannot use bar ${field} ${x}: not finite`);
  return x;
}

/** A fixed-size ring of numbers. */
class Ring {
  readonly #data: Float64Array;
  #head = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    this.#data = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  get full(): boolean {
    return this.#size === this.capacity;
  }

  /** The value the next push will evict (only when full). */
  get oldest(): number {
    return this.#data[this.#head]!;
  }

  /** Appends `x`; answers the evicted value, or `undefined` when not yet full. */
  push(x: number): number | undefined {
    if (this.#size < this.capacity) {
      this.#data[(this.#head + this.#size) % this.capacity] = x;
      this.#size++;
      return undefined;
    }
    const out = this.#data[this.#head]!;
    this.#data[this.#head] = x;
    this.#head = (this.#head + 1) % this.capacity;
    return out;
  }
}

/** The exact mean of the last `period` numbers. */
class MeanWindow {
  readonly #ring: Ring;
  readonly #sum = new ExactSum();
  #value: number | null = null;

  constructor(readonly period: number) {
    this.#ring = new Ring(period);
  }

  get value(): number | null {
    return this.#value;
  }

  push(x: number): number | null {
    const out = this.#ring.push(x);
    this.#sum.add(x);
    if (out !== undefined) this.#sum.sub(out);
    if (this.#ring.full) this.#value = this.#sum.mean(this.period);
    return this.#value;
  }

  peek(x: number): number | null {
    if (this.#ring.size + 1 < this.period) return null;
    const sum = this.#sum.clone();
    sum.add(x);
    if (this.#ring.full) sum.sub(this.#ring.oldest);
    return sum.mean(this.period);
  }
}

/** A smoothed average seeded with the exact mean of its first `period` inputs. */
class SeededAverage {
  readonly #seed = new ExactSum();
  #count = 0;
  #value: number | null = null;

  /** `wilder`: `(avg·(n−1) + x)/n`; otherwise EMA `avg + α·(x − avg)` with `α = 2/(n+1)`. */
  constructor(readonly period: number, readonly wilder: boolean) {}

  get value(): number | null {
    return this.#value;
  }

  #next(prev: number, x: number): number {
    const n = this.period;
    return this.wilder ? (prev * (n - 1) + x) / n : prev + (2 / (n + 1)) * (x - prev);
  }

  push(x: number): number | null {
    this.#count++;
    if (this.#value !== null) {
      this.#value = this.#next(this.#value, x);
    } else {
      this.#seed.add(x);
      if (this.#count === this.period) this.#value = this.#seed.mean(this.period);
    }
    return this.#value;
  }

  peek(x: number): number | null {
    if (this.#value !== null) return this.#next(this.#value, x);
    if (this.#count + 1 < this.period) return null;
    const seed = this.#seed.clone();
    seed.add(x);
    return seed.mean(this.period);
  }
}

abstract class BaseIndicator<V extends IndicatorValue> implements Indicator<V> {
  abstract readonly warmup: number;
  protected current: V | null = null;
  protected seen = 0;

  get count(): number {
    return this.seen;
  }

  get value(): V | null {
    return this.current;
  }

  get isStable(): boolean {
    return this.current !== null;
  }

  update(bar: IndicatorBar): V | null {
    const v = this.step(bar);
    this.seen++;
    this.current = v;
    return v;
  }

  abstract peek(bar: IndicatorBar): V | null;
  protected abstract step(bar: IndicatorBar): V | null;
}

/**
 * Simple moving average of the close over `period` bars, exact: the double nearest to the exact
 * mean of the window's closes, so equal windows give equal values whatever came before.
 * Warm-up: `period` bars. Throws a RangeError on a bad period.
 */
export class Sma extends BaseIndicator<number> {
  readonly warmup: number;
  readonly #window: MeanWindow;

  constructor(readonly period: number) {
    super();
    checkPeriod("SMA", period);
    this.warmup = period;
    this.#window = new MeanWindow(period);
  }

  protected step(bar: IndicatorBar): number | null {
    return this.#window.push(finite(bar.c, "close"));
  }

  peek(bar: IndicatorBar): number | null {
    return this.#window.peek(finite(bar.c, "close"));
  }
}

/**
 * Exponential moving average of the close, `α = 2 / (period + 1)`, seeded with the SMA of the
 * first `period` closes. Warm-up: `period` bars. Throws a RangeError on a bad period.
 */
export class Ema extends BaseIndicator<number> {
  readonly warmup: number;
  readonly #avg: SeededAverage;

  constructor(readonly period: number) {
    super();
    checkPeriod("EMA", period);
    this.warmup = period;
    this.#avg = new SeededAverage(period, false);
  }

  protected step(bar: IndicatorBar): number | null {
    return this.#avg.push(finite(bar.c, "close"));
  }

  peek(bar: IndicatorBar): number | null {
    return this.#avg.peek(finite(bar.c, "close"));
  }
}

function rsiOf(gain: number | null, loss: number | null): number | null {
  if (gain === null || loss === null) return null;
  const total = gain + loss;
  return total === 0 ? 50 : (100 * gain) / total;
}

/**
 * Wilder's Relative Strength Index of the close, 0 to 100. Average gain and loss start as the
 * simple means of the first `period` changes and then follow Wilder smoothing. RSI is
 * `100·gain/(gain + loss)` (= `100 − 100/(1 + RS)`); 50 when both are zero.
 * Warm-up: `period + 1` bars. Throws a RangeError on a bad period.
 */
export class Rsi extends BaseIndicator<number> {
  readonly warmup: number;
  readonly #gain: SeededAverage;
  readonly #loss: SeededAverage;
  #prev: number | null = null;

  constructor(readonly period: number) {
    super();
    checkPeriod("RSI", period);
    this.warmup = period + 1;
    this.#gain = new SeededAverage(period, true);
    this.#loss = new SeededAverage(period, true);
  }

  protected step(bar: IndicatorBar): number | null {
    const c = finite(bar.c, "close");
    const prev = this.#prev;
    this.#prev = c;
    if (prev === null) return null;
    const change = c - prev;
    const gain = this.#gain.push(change > 0 ? change : 0);
    const loss = this.#loss.push(change < 0 ? -change : 0);
    return rsiOf(gain, loss);
  }

  peek(bar: IndicatorBar): number | null {
    const c = finite(bar.c, "close");
    if (this.#prev === null) return null;
    const change = c - this.#prev;
    return rsiOf(
      this.#gain.peek(change > 0 ? change : 0),
      this.#loss.peek(change < 0 ? -change : 0),
    );
  }
}

/** MACD periods. */
export interface MacdOptions {
  /** Fast EMA period (default 12). */
  fast?: number;
  /** Slow EMA period (default 26), greater than `fast`. */
  slow?: number;
  /** Signal EMA period (default 9). */
  signal?: number;
}

/**
 * Moving Average Convergence/Divergence of the close: the MACD line (fast EMA − slow EMA, both
 * SMA-seeded) from bar `slow`, and its signal line (an EMA seeded with the SMA of the first
 * `signal` MACD values). Warm-up: `slow + signal − 1` bars (34 for 12/26/9).
 * Throws a RangeError on a bad period or `fast >= slow`.
 */
export class Macd extends BaseIndicator<MacdValue> {
  readonly warmup: number;
  readonly fast: number;
  readonly slow: number;
  readonly signal: number;
  readonly #fast: SeededAverage;
  readonly #slow: SeededAverage;
  readonly #signal: SeededAverage;

  constructor(options: MacdOptions = {}) {
    super();
    const { fast = 12, slow = 26, signal = 9 } = options;
    checkPeriod("MACD fast EMA", fast);
    checkPeriod("MACD slow EMA", slow);
    checkPeriod("MACD signal EMA", signal);
    if (fast >= slow) {
      throw new RangeError(`Cannot create MACD: fast period ${fast} is not below slow ${slow}`);
    }
    this.fast = fast;
    this.slow = slow;
    this.signal = signal;
    this.warmup = slow + signal - 1;
    this.#fast = new SeededAverage(fast, false);
    this.#slow = new SeededAverage(slow, false);
    this.#signal = new SeededAverage(signal, false);
  }

  protected step(bar: IndicatorBar): MacdValue | null {
    const c = finite(bar.c, "close");
    const f = this.#fast.push(c);
    const s = this.#slow.push(c);
    if (f === null || s === null) return null;
    const line = f - s;
    const sig = this.#signal.push(line);
    return sig === null ? null : { macd: line, signal: sig, histogram: line - sig };
  }

  peek(bar: IndicatorBar): MacdValue | null {
    const c = finite(bar.c, "close");
    const f = this.#fast.peek(c);
    const s = this.#slow.peek(c);
    if (f === null || s === null) return null;
    const line = f - s;
    const sig = this.#signal.peek(line);
    return sig === null ? null : { macd: line, signal: sig, histogram: line - sig };
  }
}

/** Bollinger Bands options. */
export interface BollingerOptions {
  /** Window length (default 20). */
  period?: number;
  /** Band width in population standard deviations (default 2). */
  k?: number;
}

/**
 * Bollinger Bands of the close: middle = exact SMA, bands at `k` population standard deviations
 * (divided by `period`, not `period − 1`), the variance computed exactly from exact sums so a flat
 * window has zero width. Warm-up: `period` bars. Throws a RangeError on a bad period or `k`.
 */
export class Bollinger extends BaseIndicator<BandsValue> {
  readonly warmup: number;
  readonly period: number;
  readonly k: number;
  readonly #ring: Ring;
  readonly #sum = new ExactSum();
  readonly #squares = new ExactSum();

  constructor(options: BollingerOptions = {}) {
    super();
    const { period = 20, k = 2 } = options;
    checkPeriod("Bollinger Bands", period);
    if (!Number.isFinite(k) || k <= 0) {
      throw new RangeError(`Cannot create Bollinger Bands: width ${k} is not a positive number`);
    }
    this.period = period;
    this.k = k;
    this.warmup = period;
    this.#ring = new Ring(period);
  }

  #bands(sum: ExactSum, squares: ExactSum): BandsValue {
    const middle = sum.mean(this.period);
    const width = this.k * Math.sqrt(exactVariance(sum, squares, this.period));
    return { upper: middle + width, middle, lower: middle - width };
  }

  protected step(bar: IndicatorBar): BandsValue | null {
    const c = finite(bar.c, "close");
    const out = this.#ring.push(c);
    this.#sum.add(c);
    this.#squares.addSquare(c);
    if (out !== undefined) {
      this.#sum.sub(out);
      this.#squares.subSquare(out);
    }
    return this.#ring.full ? this.#bands(this.#sum, this.#squares) : null;
  }

  peek(bar: IndicatorBar): BandsValue | null {
    const c = finite(bar.c, "close");
    if (this.#ring.size + 1 < this.period) return null;
    const sum = this.#sum.clone();
    const squares = this.#squares.clone();
    sum.add(c);
    squares.addSquare(c);
    if (this.#ring.full) {
      sum.sub(this.#ring.oldest);
      squares.subSquare(this.#ring.oldest);
    }
    return this.#bands(sum, squares);
  }
}

/**
 * Sliding-window maximum (or minimum) over the last `size` pushes: a monotonic deque, amortised
 * O(1) per push, O(1) to peek with one more value.
 */
class Extreme {
  #idx: number[] = [];
  #val: number[] = [];
  #head = 0;

  constructor(readonly size: number, readonly max: boolean) {}

  #beats(a: number, b: number): boolean {
    return this.max ? a >= b : a <= b;
  }

  /** Pushes the value of bar number `i` (0, 1, 2, …). */
  push(i: number, v: number): void {
    while (this.#val.length > this.#head && this.#beats(v, this.#val[this.#val.length - 1]!)) {
      this.#val.pop();
      this.#idx.pop();
    }
    this.#idx.push(i);
    this.#val.push(v);
    while (this.#idx[this.#head]! <= i - this.size) this.#head++;
    if (this.#head > 32 && this.#head * 2 > this.#idx.length) {
      this.#idx = this.#idx.slice(this.#head);
      this.#val = this.#val.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The extreme of the window ending at bar `i` after pushing `v` as bar `i`, changing nothing. */
  peek(i: number, v: number): number {
    let h = this.#head;
    if (h < this.#idx.length && this.#idx[h]! <= i - this.size) h++;
    if (h >= this.#idx.length) return v;
    const best = this.#val[h]!;
    return this.#beats(v, best) ? v : best;
  }

  /** The extreme of the current window (after at least one push). */
  get value(): number {
    return this.#val[this.#head]!;
  }
}

/** Stochastic periods. */
export interface StochasticOptions {
  /** Look-back of the fast %K (default 14). */
  k?: number;
  /** SMA smoothing the fast %K into the slow %K (default 3). */
  kSmooth?: number;
  /** SMA of the slow %K giving %D (default 3). */
  d?: number;
}

function fastK(close: number, high: number, low: number): number {
  const range = high - low;
  return range === 0 ? 50 : (100 * (close - low)) / range;
}

/**
 * Slow stochastic oscillator (14/3/3 by default). Fast %K = `100·(close − LL)/(HH − LL)` over `k`
 * bars (50 when `HH = LL`); %K = SMA(kSmooth) of the fast %K; %D = SMA(d) of %K.
 * Warm-up: `k + kSmooth + d − 2` bars (18 for 14/3/3). Throws a RangeError on a bad period.
 */
export class Stochastic extends BaseIndicator<StochasticValue> {
  readonly warmup: number;
  readonly k: number;
  readonly kSmooth: number;
  readonly d: number;
  readonly #high: Extreme;
  readonly #low: Extreme;
  readonly #slowK: MeanWindow;
  readonly #dLine: MeanWindow;

  constructor(options: StochasticOptions = {}) {
    super();
    const { k = 14, kSmooth = 3, d = 3 } = options;
    checkPeriod("Stochastic %K", k);
    checkPeriod("Stochastic %K smoothing", kSmooth);
    checkPeriod("Stochastic %D", d);
    this.k = k;
    this.kSmooth = kSmooth;
    this.d = d;
    this.warmup = k + kSmooth + d - 2;
    this.#high = new Extreme(k, true);
    this.#low = new Extreme(k, false);
    this.#slowK = new MeanWindow(kSmooth);
    this.#dLine = new MeanWindow(d);
  }

  protected step(bar: IndicatorBar): StochasticValue | null {
    const h = finite(bar.h, "high");
    const l = finite(bar.l, "low");
    const c = finite(bar.c, "close");
    const i = this.seen;
    this.#high.push(i, h);
    this.#low.push(i, l);
    if (i + 1 < this.k) return null;
    const sk = this.#slowK.push(fastK(c, this.#high.value, this.#low.value));
    if (sk === null) return null;
    const d = this.#dLine.push(sk);
    return d === null ? null : { k: sk, d };
  }

  peek(bar: IndicatorBar): StochasticValue | null {
    const h = finite(bar.h, "high");
    const l = finite(bar.l, "low");
    const c = finite(bar.c, "close");
    const i = this.seen;
    if (i + 1 < this.k) return null;
    const sk = this.#slowK.peek(fastK(c, this.#high.peek(i, h), this.#low.peek(i, l)));
    if (sk === null) return null;
    const d = this.#dLine.peek(sk);
    return d === null ? null : { k: sk, d };
  }
}

/**
 * On-Balance Volume: the first bar's volume, then plus the volume on a higher close, minus it on
 * a lower close, unchanged on an equal close. Warm-up: 1 bar.
 */
export class Obv extends BaseIndicator<number> {
  readonly warmup = 1;
  #prevClose: number | null = null;

  #next(bar: IndicatorBar): number {
    const c = finite(bar.c, "close");
    const v = finite(bar.v, "volume");
    if (this.current === null || this.#prevClose === null) return v;
    return c > this.#prevClose
      ? this.current + v
      : c < this.#prevClose
      ? this.current - v
      : this.current;
  }

  protected step(bar: IndicatorBar): number {
    const next = this.#next(bar);
    this.#prevClose = bar.c;
    return next;
  }

  peek(bar: IndicatorBar): number {
    return this.#next(bar);
  }
}

/**
 * Wilder's Average True Range. True range is `max(h − l, |h − prevClose|, |l − prevClose|)`
 * (as trading-signals' `getTrueRange`), `h − l` on the first bar; the first ATR is the mean of the
 * first `period` true ranges, then `atr = (atr·(n − 1) + tr) / n`. Warm-up: `period` bars.
 * Throws a RangeError on a bad period.
 */
export class Atr extends BaseIndicator<number> {
  readonly warmup: number;
  readonly #avg: SeededAverage;
  #prevClose: number | undefined = undefined;

  constructor(readonly period: number) {
    super();
    checkPeriod("ATR", period);
    this.warmup = period;
    this.#avg = new SeededAverage(period, true);
  }

  #trueRange(bar: IndicatorBar): number {
    const high = finite(bar.h, "high");
    const low = finite(bar.l, "low");
    finite(bar.c, "close");
    const prev = this.#prevClose;
    const range = high - low;
    return prev === undefined
      ? range
      : Math.max(range, Math.abs(high - prev), Math.abs(low - prev));
  }

  protected step(bar: IndicatorBar): number | null {
    const tr = this.#trueRange(bar);
    this.#prevClose = bar.c;
    return this.#avg.push(tr);
  }

  peek(bar: IndicatorBar): number | null {
    return this.#avg.peek(this.#trueRange(bar));
  }
}
