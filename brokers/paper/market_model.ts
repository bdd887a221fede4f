/**
 * The paper venue's simulated market: a seeded, procedural price process per symbol from which
 * any past interval can be regenerated exactly, without replaying from the beginning of time.
 * The bars served as history are, by construction, the aggregates of the ticks that were (or
 * would have been) streamed live.
 *
 * Design, top-down in three levels, every level a pure function of (seed, symbol, bucket):
 * 1. **Days.** A daily anchor (log close) per symbol follows a mean-reverting random walk in both
 *    directions from a reference day (2020-01-01, where it equals the spec's `basePrice`), with
 *    the spec's volatility, rare jumps of 2–7 % (about two a year), calm weekends, and a hard
 *    bound of ×/÷ 55 around the base price; anchors are cached per symbol.
 * 2. **Minutes.** Within an ET day, the mid follows a Brownian bridge over the day's in-session
 *    minutes (in "activity time": more variance near the open and close) from the previous anchor
 *    (plus an overnight gap when the market was closed) to the day's anchor, with the day's jump
 *    at a random minute. Each minute's bar (o, h, l, c, v, n, VWAP numerator) is drawn directly
 *    from the mid at its start and end: the high and low from the exact law of a bridge's
 *    extremes. This costs O(minutes of the day) and never touches ticks, so daily bars are the
 *    sum of the day's minute bars and stay cheap.
 * 3. **Ticks.** A minute's trade prints are constructed to reproduce its bar exactly (first =
 *    open, last = close, the high and low printed, sizes summing to the volume, Σ price × size
 *    equal to the bar's), and a quote is made at every tick so that each print lies within the
 *    quote in force. Cost O(ticks + prints of one minute).
 *
 * Prices are integers in units of $0.0001 inside the model, on a $0.01 grid at or above $1 and
 * a $0.0001 grid below (decided per minute from the mid at its start; a sub-dollar minute never
 * prints at $1 or more). They leave as JS numbers (`units / 10000`), as Alpaca's JSON does; the
 * matching engine converts them to exact decimals (`Decimal.parse(String(p))` is exact for every
 * value produced here). VWAP (`vw`) is rounded to $0.000001. Because sums are of integers, a 5Min,
 * 1Hour or 1Day bar is bit-for-bit the aggregate of its minute bars and of its prints.
 *
 * Sessions come from the `tradingFilter` option: `"24x7"`, or a predicate telling whether the
 * market is in session at an instant (plug the NYSE calendar for pre/core/post). It is evaluated
 * at minute starts, sampled every `probeMinutes` (default 15) of each ET day and bisected where
 * the answer changes, so session boundaries must lie at least `probeMinutes` apart (NYSE's do).
 * Outside session there are no quotes or trades; the latest quote stays the last one. Activity
 * (trades, volume, variance) follows an intraday profile by ET time: a U shape in the core
 * session, thin before 09:30 and after 16:00, thinner overnight. Print sizes scale inversely with
 * the price, so traded notional stays near the spec's `basePrice × dailyVolume`.
 *
 * The model's identity is (MODEL_VERSION, seed, tickMs) plus the session filter: bars depend on
 * the seed and the filter only; quotes also on `tickMs`. No wall clock, no I/O: callers pass
 * every timestamp.
 *
 * @example
 * ```ts
 * const model = new MarketModel(DEFAULT_UNIVERSE, { seed: 42 });
 * const day = Date.UTC(2025, 0, 6, 14, 30);
 * model.quoteAt("AAPL", day); // { t, bx, bp, bs, ax, ap, as, c, z }
 * model.bars("AAPL", "5Min", day, day + 3_600_000); // equal to what ticksBetween streamed
 * ```
 *
 * @module
 */

import { hashString, mixKey, Rng } from "../../core/random.ts";
import type {
  Bar,
  Quote,
  Snapshot,
  TimedMarketEvent,
  Timeframe,
  Trade,
} from "../../core/market.ts";
import type { SymbolSpec } from "./universe.ts";

/** Version of the generating algorithm; a change regenerates different history. */
export const MODEL_VERSION = 1;

export type { Bar, Quote, Snapshot, Timeframe, Trade };

/** Every {@link Timeframe}, shortest first. */
export const TIMEFRAMES: readonly Timeframe[] = ["1Min", "5Min", "15Min", "1Hour", "1Day"];

/** `"24x7"`, or a predicate answering whether the market is in session at an instant. */
export type TradingFilter = "24x7" | ((tsMs: number) => boolean);

/** Options of {@link MarketModel}. */
export interface MarketModelOptions {
  /** Seed of the whole market (any safe integer). Default 0. */
  seed?: number;
  /** Tick length in ms; must divide 60000. Default 1000. */
  tickMs?: number;
  /** When the market is in session. Default `"24x7"`. */
  tradingFilter?: TradingFilter;
  /** UTC offset of US Eastern time in minutes at an instant. Default {@link defaultEtOffsetMinutes}. */
  etOffsetMinutes?: (tsMs: number) => number;
  /** Sampling step of the session predicate within a day, 1–60 minutes. Default 15. */
  probeMinutes?: number;
  /** How many days back `quoteAt`, `latestTrade` and `snapshot` look for data. Default 14. */
  lookbackDays?: number;
  /**
   * How many symbol-days of minute data to keep (about 175 KB each in 24x7 mode); at least two
   * per symbol are kept whatever this says, so streaming every symbol never thrashes. Default 64.
   */
  cacheDays?: number;
}

/** Options of range queries. */
export interface RangeOptions {
  /** Maximum number of items, a positive integer. Default 10000. */
  limit?: number;
}

/** Options of {@link MarketModel.bars}. */
export interface BarsOptions {
  /** Maximum number of bars, a positive integer. Default 10000. */
  limit?: number;
  /**
   * Knowledge cut-off: bars aggregate only prints at or before this instant, so a bar still open
   * then is partial and later prints stay unknown. Default `endMs` (safe: asking up to "now"
   * never reveals the future). An Alpaca-style route passes its clock's now, so that a bar
   * labelled at `end` in the past comes complete.
   */
  asOfMs?: number;
}

/** Thrown for a bad argument or an unknown symbol. */
export class MarketModelError extends Error {
  override name = "MarketModelError";
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const UNITS = 10_000;
const REF_DAY = 18262; // 2020-01-01
const KAPPA = 1 / 750;
const MAX_TRADES = 4000;
const ID_STRIDE = 4096;
const SUB_CAP = 9999;
const CENT_CAP = 1e12;
const DEFAULT_LIMIT = 10_000;
const SALT_ANCHOR = 1;
const SALT_DAY = 2;
const SALT_TAPE = 4;

const TF_MS: Readonly<Record<Timeframe, number>> = {
  "1Min": MINUTE_MS,
  "5Min": 5 * MINUTE_MS,
  "15Min": 15 * MINUTE_MS,
  "1Hour": HOUR_MS,
  "1Day": DAY_MS,
};

/** Venue codes (Alpaca's): quotes come from lit venues, trades also from the TRF (`D`). */
const EXCHANGES = ["Q", "N", "P", "K", "Z", "V", "U", "J", "Y", "D"] as const;
const LIT_COUNT = 9;
const TRF = 9;

/** Activity by ET minute of day: U shape 09:30–16:00, thin pre/post market, thinner at night. */
const PROFILE = new Float64Array(1440);
let coreWeight = 0;
for (let m = 0; m < 1440; m++) {
  let w: number;
  if (m >= 570 && m < 960) {
    w = 0.7 + 2.3 * Math.exp(-(m - 570) / 20) + 1.2 * Math.exp(-(959 - m) / 25);
    coreWeight += w;
  } else if (m >= 240 && m < 570) {
    w = 0.04 + (m >= 480 ? 0.1 * (m - 480) / 90 : 0);
  } else if (m >= 960 && m < 1200) {
    w = 0.03 + 0.12 * Math.exp(-(m - 960) / 30);
  } else {
    w = 0.015;
  }
  PROFILE[m] = w;
}
const CORE_WEIGHT = coreWeight;
const PROFILE_SQRT = PROFILE.map(Math.sqrt);

/** Per-day random draws, filled in bulk: a normal, 2 exponentials and 6 words per minute. */
const DRAW_Z = new Float64Array(1500);
const DRAW_E = new Float64Array(2 * 1500);
const DRAW_U = new Uint32Array(6 * 1500);

// ---------------------------------------------------------------------------------------------
// Eastern time

let hotYearStart = 1;
let hotYearEnd = 0;
let hotDstStart = 0;
let hotDstEnd = 0;

function nthSundayMs(year: number, month: number, n: number, hourUtc: number): number {
  const wd = new Date(Date.UTC(year, month, 1)).getUTCDay();
  return Date.UTC(year, month, 1 + ((7 - wd) % 7) + 7 * (n - 1), hourUtc);
}

function lastSundayMs(year: number, month: number, hourUtc: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0));
  return Date.UTC(year, month, last.getUTCDate() - last.getUTCDay(), hourUtc);
}

/**
 * The UTC offset of US Eastern time in minutes (-240 in EDT, -300 in EST) by the US rules:
 * since 2007 DST runs from the second Sunday of March to the first Sunday of November, 1987–2006
 * from the first Sunday of April to the last Sunday of October, 1967–1986 from the last Sunday
 * of April; none before 1967. Changes happen at 02:00 local time. Never throws (NaN in, -300 out).
 */
export function defaultEtOffsetMinutes(tsMs: number): number {
  if (!(tsMs >= hotYearStart && tsMs < hotYearEnd)) {
    if (!Number.isFinite(tsMs)) return -300;
    const year = new Date(tsMs).getUTCFullYear();
    hotYearStart = Date.UTC(year, 0, 1);
    hotYearEnd = Date.UTC(year + 1, 0, 1);
    if (year >= 2007) {
      hotDstStart = nthSundayMs(year, 2, 2, 7);
      hotDstEnd = nthSundayMs(year, 10, 1, 6);
    } else if (year >= 1987) {
      hotDstStart = nthSundayMs(year, 3, 1, 7);
      hotDstEnd = lastSundayMs(year, 9, 6);
    } else if (year >= 1967) {
      hotDstStart = lastSundayMs(year, 3, 7);
      hotDstEnd = lastSundayMs(year, 9, 6);
    } else {
      hotDstStart = hotDstEnd = 0;
    }
  }
  return tsMs >= hotDstStart && tsMs < hotDstEnd ? -240 : -300;
}

/**
 * The ET calendar day (days since 1970-01-01) containing an instant, given an ET offset function.
 * Never throws.
 */
export function etDayOf(
  tsMs: number,
  etOffsetMinutes: (tsMs: number) => number = defaultEtOffsetMinutes,
): number {
  return Math.floor((tsMs + etOffsetMinutes(tsMs) * MINUTE_MS) / DAY_MS);
}

/**
 * The instant of midnight ET starting ET day `day` (days since 1970-01-01): the label of that
 * day's 1Day bar, e.g. 2022-08-16 → `2022-08-16T04:00:00Z`. Never throws.
 */
export function etDayStartMs(
  day: number,
  etOffsetMinutes: (tsMs: number) => number = defaultEtOffsetMinutes,
): number {
  // 05:00 UTC is midnight EST / 01:00 EDT: before any 02:00-local DST change of that day.
  return day * DAY_MS - etOffsetMinutes(day * DAY_MS + 5 * HOUR_MS) * MINUTE_MS;
}

let fmtDay = NaN;
let fmtPrefix = "";

/**
 * RFC 3339 text of an instant as Alpaca writes it: `2022-08-16T04:00:00Z`, with `.mmm` only when
 * the milliseconds are not zero. Never throws for finite input.
 */
export function formatTimestamp(tsMs: number): string {
  const day = Math.floor(tsMs / DAY_MS);
  if (day !== fmtDay) {
    fmtDay = day;
    fmtPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
  }
  let rest = tsMs - day * DAY_MS;
  const hh = Math.floor(rest / HOUR_MS);
  rest -= hh * HOUR_MS;
  const mm = Math.floor(rest / MINUTE_MS);
  rest -= mm * MINUTE_MS;
  const ss = Math.floor(rest / 1000);
  const ms = Math.floor(rest - ss * 1000);
  const text = fmtPrefix + pad2(hh) + ":" + pad2(mm) + ":" + pad2(ss);
  return ms === 0 ? text + "Z" : text + "." + (ms < 10 ? "00" : ms < 100 ? "0" : "") + ms + "Z";
}

function pad2(n: number): string {
  return n < 10 ? "0" + n : "" + n;
}

// ---------------------------------------------------------------------------------------------
// Internal state

interface SymbolState {
  readonly spec: SymbolSpec;
  readonly index: number;
  readonly hash: number;
  readonly sigmaDay: number;
  readonly lambda: number;
  /** Mean print size in shares at the base price (sizes scale with basePrice / price). */
  readonly meanSize: number;
  readonly spreadFrac: number;
  readonly tape: string;
  readonly listing: number;
  readonly mu: number;
  /** Log anchors: fwd[i] is day REF_DAY + i, bwd[i] is day REF_DAY - i. */
  readonly fwd: number[];
  readonly bwd: number[];
  readonly dailyAgg: Map<number, Agg | null>;
}

interface DaySessions {
  /** Session intervals as absolute minute indices [start, end). */
  readonly intervals: readonly number[];
  readonly count: number;
  /** Whether the minute before the first session minute was in session (no opening gap). */
  readonly prevOpen: boolean;
  /** ET offset at noon, minutes. */
  readonly offsetNoon: number;
}

/** A bar accumulator in model units (prices in $0.0001, pv in $0.0001 × shares). */
interface Agg {
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
  pv: number;
}

class DayData {
  count = 0;
  readonly minute: Int32Array;
  readonly mid: Float64Array;
  readonly sig: Float64Array;
  readonly w: Float64Array;
  readonly core: Uint8Array;
  readonly g: Uint8Array;
  readonly n: Int32Array;
  readonly v: Float64Array;
  readonly o: Float64Array;
  readonly h: Float64Array;
  readonly l: Float64Array;
  readonly c: Float64Array;
  readonly pv: Float64Array;
  /** Minutes of at most three prints: the middle print's price and every print's size. */
  readonly xMid: Float64Array;
  readonly xSize: Float64Array;
  agg: Agg | null = null;

  constructor(capacity: number) {
    this.minute = new Int32Array(capacity);
    this.mid = new Float64Array(capacity + 1);
    this.sig = new Float64Array(capacity);
    this.w = new Float64Array(capacity);
    this.core = new Uint8Array(capacity);
    this.g = new Uint8Array(capacity);
    this.n = new Int32Array(capacity);
    this.v = new Float64Array(capacity);
    this.o = new Float64Array(capacity);
    this.h = new Float64Array(capacity);
    this.l = new Float64Array(capacity);
    this.c = new Float64Array(capacity);
    this.pv = new Float64Array(capacity);
    this.xMid = new Float64Array(capacity);
    this.xSize = new Float64Array(3 * capacity);
  }

  /** Index of the last session minute ≤ `minute`, or -1. */
  indexAtOrBefore(minute: number): number {
    let lo = 0;
    let hi = this.count - 1;
    if (hi < 0 || this.minute[0]! > minute) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.minute[mid]! <= minute) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** The ticks of one minute: a quote per tick and the trade prints. */
interface Tape {
  readonly startMs: number;
  readonly minute: number;
  readonly core: boolean;
  readonly bid: Float64Array;
  readonly ask: Float64Array;
  readonly bidSize: Float64Array;
  readonly askSize: Float64Array;
  readonly bidEx: Uint8Array;
  readonly askEx: Uint8Array;
  readonly tMs: Float64Array;
  readonly price: Float64Array;
  readonly size: Float64Array;
  readonly ex: Uint8Array;
}

function newAgg(): Agg {
  return { o: 0, h: -Infinity, l: Infinity, c: 0, v: 0, n: 0, pv: 0 };
}

function addToAgg(
  a: Agg,
  o: number,
  h: number,
  l: number,
  c: number,
  v: number,
  n: number,
  pv: number,
): void {
  if (a.n === 0) a.o = o;
  if (h > a.h) a.h = h;
  if (l < a.l) a.l = l;
  a.c = c;
  a.v += v;
  a.n += n;
  a.pv += pv;
}

function toBar(tsMs: number, a: Agg): Bar {
  return {
    t: formatTimestamp(tsMs),
    o: a.o / UNITS,
    h: a.h / UNITS,
    l: a.l / UNITS,
    c: a.c / UNITS,
    v: a.v,
    n: a.n,
    vw: Math.round(a.pv / a.v * 100) / 1e6,
  };
}

function spreadFactor(w: number): number {
  return w < 0.3 ? 3 : 1;
}

/** A print size around `mean` shares from a uniform `u`: 15 % odd lots (1–99), else round lots. */
function drawSize(u: number, mean: number): number {
  if (mean < 60) return 1 + Math.floor(u * Math.min(99, Math.max(1, 2 * mean)));
  if (u < 0.15) return 1 + Math.floor(u / 0.15 * 99);
  return 100 * Math.max(1, Math.round((u - 0.15) / 0.85 * 2 * mean / 100));
}

/** The nearest grid price to `units`, within [g, cap]; `inv` is 1 / g (a product is cheaper). */
function toGrid(g: number, inv: number, cap: number, units: number): number {
  const p = Math.round(units * inv) * g;
  return p < g ? g : p > cap ? cap : p;
}

/**
 * Mean print size at mid price `price`: share counts scale inversely with the price, so the
 * traded notional (and Σ price × size, kept as an exact integer) stays near the spec's.
 */
function sizeAt(sym: SymbolState, price: number): number {
  return Math.max(1, sym.meanSize * sym.spec.basePrice / price);
}

/** A triangular variate with mean 0 and standard deviation 1 from the two halves of a word. */
function triangular(word: number): number {
  return 2.449489742783178 * (((word & 0xffff) + (word >>> 16)) / 65536 - 1);
}

/** Keeps a log anchor within ±4 (a factor of 55) of the log base price, by reflection. */
function fold(x: number, mu: number): number {
  const d = x - mu;
  return d > 4 ? mu + 8 - d : d < -4 ? mu - 8 - d : x;
}

function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7; // 0 = Sunday; 1970-01-01 was a Thursday
}

function reflect(x: number, w: number): number {
  if (w <= 0) return 0;
  const period = 2 * w;
  let y = x % period;
  if (y < 0) y += period;
  return y > w ? period - y : y;
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new MarketModelError(`Invalid limit "${limit}": must be a positive integer`);
  }
  return limit;
}

function checkInstant(value: number, what: string): void {
  if (!Number.isFinite(value)) {
    throw new MarketModelError(`Invalid ${what} "${value}": must be a finite epoch ms`);
  }
}

function checkRange(fromMs: number, toMs: number): void {
  checkInstant(fromMs, "start");
  checkInstant(toMs, "end");
  if (fromMs > toMs) {
    throw new MarketModelError(`Invalid range "${fromMs}..${toMs}": start is after end`);
  }
}

// ---------------------------------------------------------------------------------------------
// The model

/**
 * A seeded market for a universe of symbols. Every accessor is a pure function of the model's
 * options and its arguments (caches only make repeats cheaper); each throws
 * {@link MarketModelError} for an unknown symbol or an invalid argument.
 */
export class MarketModel {
  /** The seed. */
  readonly seed: number;
  /** Tick length in ms. */
  readonly tickMs: number;
  /** Ticks per minute. */
  readonly ticksPerMinute: number;
  /** `tradewind-market/v1 seed=… tickMs=… filter=…`: persist it next to anything generated. */
  readonly identity: string;

  readonly #symbols = new Map<string, SymbolState>();
  readonly #order: SymbolState[] = [];
  readonly #filter: ((tsMs: number) => boolean) | null;
  readonly #off: (tsMs: number) => number;
  readonly #probe: number;
  readonly #lookback: number;
  readonly #cacheDays: number;
  readonly #sessions = new Map<number, DaySessions>();
  readonly #dayStarts = new Map<number, number>();
  readonly #days = new Map<number, DayData>();
  readonly #tapes = new Map<number, Tape>();
  readonly #scratch = new DayData(1500);
  readonly #rngDay = new Rng();
  readonly #rngTape = new Rng();

  /**
   * A model over `universe` (symbols must be unique).
   *
   * @throws {MarketModelError} for a bad option or a duplicate symbol.
   */
  constructor(universe: readonly SymbolSpec[], options: MarketModelOptions = {}) {
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed)) {
      throw new MarketModelError(`Invalid seed "${seed}": must be a safe integer`);
    }
    const tickMs = options.tickMs ?? 1000;
    if (!(Number.isInteger(tickMs) && tickMs >= 1 && MINUTE_MS % tickMs === 0)) {
      throw new MarketModelError(`Invalid tickMs "${tickMs}": must be an integer dividing 60000`);
    }
    const probe = options.probeMinutes ?? 15;
    if (!(Number.isInteger(probe) && probe >= 1 && probe <= 60)) {
      throw new MarketModelError(`Invalid probeMinutes "${probe}": must be an integer in 1..60`);
    }
    const lookback = options.lookbackDays ?? 14;
    if (!(Number.isInteger(lookback) && lookback >= 1 && lookback <= 366)) {
      throw new MarketModelError(`Invalid lookbackDays "${lookback}": must be in 1..366`);
    }
    const cacheDays = options.cacheDays ?? 64;
    if (!(Number.isInteger(cacheDays) && cacheDays >= 1)) {
      throw new MarketModelError(`Invalid cacheDays "${cacheDays}": must be a positive integer`);
    }
    const filter = options.tradingFilter ?? "24x7";
    if (filter !== "24x7" && typeof filter !== "function") {
      throw new MarketModelError(`Invalid tradingFilter "${String(filter)}"`);
    }
    this.seed = seed;
    this.tickMs = tickMs;
    this.ticksPerMinute = MINUTE_MS / tickMs;
    this.#filter = filter === "24x7" ? null : filter;
    this.#off = options.etOffsetMinutes ?? defaultEtOffsetMinutes;
    this.#probe = probe;
    this.#lookback = lookback;
    this.#cacheDays = Math.max(cacheDays, 2 * universe.length);
    this.identity = `tradewind-market/v${MODEL_VERSION} seed=${seed} tickMs=${tickMs} filter=${
      filter === "24x7" ? "24x7" : "custom"
    }`;
    for (const spec of universe) {
      if (this.#symbols.has(spec.symbol)) {
        throw new MarketModelError(`Duplicate symbol "${spec.symbol}" in the universe`);
      }
      if (this.#order.length >= 65536) {
        throw new MarketModelError(`Too many symbols "${universe.length}": at most 65536`);
      }
      const lambda = Math.min(
        60,
        Math.max(3, Math.round(8 + 10 * Math.log10(spec.dailyVolume / 1e5))),
      );
      const state: SymbolState = {
        spec,
        index: this.#order.length,
        hash: hashString(spec.symbol, seed),
        sigmaDay: spec.volatility / Math.sqrt(252),
        lambda,
        meanSize: Math.max(1, spec.dailyVolume / (lambda * CORE_WEIGHT)),
        spreadFrac: spec.spread / spec.basePrice,
        tape: spec.exchange === "NYSE" ? "A" : spec.exchange === "ARCA" ? "B" : "C",
        listing: spec.exchange === "NYSE" ? 1 : spec.exchange === "ARCA" ? 2 : 0,
        mu: Math.log(spec.basePrice),
        fwd: [Math.log(spec.basePrice)],
        bwd: [Math.log(spec.basePrice)],
        dailyAgg: new Map(),
      };
      this.#symbols.set(spec.symbol, state);
      this.#order.push(state);
    }
  }

  /** The symbols of the universe, in universe order. */
  get symbols(): string[] {
    return this.#order.map((s) => s.spec.symbol);
  }

  /** The spec of a symbol, or undefined. Never throws. */
  spec(symbol: string): SymbolSpec | undefined {
    return this.#symbols.get(symbol)?.spec;
  }

  /** The ET day (days since 1970-01-01) containing an instant, by this model's ET offsets. */
  etDay(tsMs: number): number {
    return etDayOf(tsMs, this.#off);
  }

  /** Midnight ET of ET day `day`, by this model's ET offsets (memoised). */
  dayStartMs(day: number): number {
    let start = this.#dayStarts.get(day);
    if (start === undefined) {
      start = etDayStartMs(day, this.#off);
      if (this.#dayStarts.size > 20000) this.#dayStarts.clear();
      this.#dayStarts.set(day, start);
    }
    return start;
  }

  /**
   * Whether the market is in session during the minute containing `tsMs`, as this model sees it
   * (after probing). Throws only for a non-finite instant.
   */
  isInSession(tsMs: number): boolean {
    checkInstant(tsMs, "instant");
    const minute = Math.floor(tsMs / MINUTE_MS);
    const iv = this.#daySessions(this.etDay(tsMs)).intervals;
    for (let i = 0; i < iv.length; i += 2) {
      if (minute >= iv[i]! && minute < iv[i + 1]!) return true;
    }
    return false;
  }

  /** The latest quote at or before `tsMs` (looking back `lookbackDays`), or null. */
  quoteAt(symbol: string, tsMs: number): Quote | null {
    const sym = this.#sym(symbol);
    checkInstant(tsMs, "instant");
    let minute = Math.floor(tsMs / MINUTE_MS);
    let day = this.etDay(tsMs);
    for (let k = 0; k <= this.#lookback; k++, day--, minute = Infinity) {
      const data = this.#day(sym, day);
      const j = data.indexAtOrBefore(minute);
      if (j < 0) continue;
      const tape = this.#tape(sym, data, j);
      const tick = data.minute[j] === minute
        ? Math.floor((tsMs - tape.startMs) / this.tickMs)
        : this.ticksPerMinute - 1;
      return this.#quote(sym, tape, tick);
    }
    return null;
  }

  /** The latest trade at or before `tsMs` (looking back `lookbackDays`), or null. */
  latestTrade(symbol: string, tsMs: number): Trade | null {
    const sym = this.#sym(symbol);
    checkInstant(tsMs, "instant");
    let minute = Math.floor(tsMs / MINUTE_MS);
    let day = this.etDay(tsMs);
    for (let k = 0; k <= this.#lookback; k++, day--, minute = Infinity) {
      const data = this.#day(sym, day);
      for (let j = data.indexAtOrBefore(minute); j >= 0; j--) {
        if (data.n[j] === 0) continue;
        const tape = this.#tape(sym, data, j);
        let last = tape.tMs.length - 1;
        while (last >= 0 && tape.tMs[last]! > tsMs) last--;
        if (last >= 0) return this.#trade(sym, tape, last);
      }
    }
    return null;
  }

  /**
   * Trades with `fromMs <= t <= toMs` (both inclusive, like Alpaca's start/end), oldest first, at
   * most `limit` (default 10000).
   */
  trades(symbol: string, fromMs: number, toMs: number, options: RangeOptions = {}): Trade[] {
    const sym = this.#sym(symbol);
    checkRange(fromMs, toMs);
    const limit = checkLimit(options.limit);
    const out: Trade[] = [];
    this.#eachMinute(sym, fromMs, toMs, (data, j) => {
      if (data.n[j] === 0) return true;
      const tape = this.#tape(sym, data, j);
      for (let k = 0; k < tape.tMs.length; k++) {
        const t = tape.tMs[k]!;
        if (t < fromMs || t > toMs) continue;
        out.push(this.#trade(sym, tape, k));
        if (out.length >= limit) return false;
      }
      return true;
    });
    return out;
  }

  /**
   * Quotes (one per in-session tick) with `fromMs <= t <= toMs`, oldest first, at most `limit`
   * (default 10000).
   */
  quotes(symbol: string, fromMs: number, toMs: number, options: RangeOptions = {}): Quote[] {
    const sym = this.#sym(symbol);
    checkRange(fromMs, toMs);
    const limit = checkLimit(options.limit);
    const out: Quote[] = [];
    this.#eachMinute(sym, fromMs, toMs, (data, j) => {
      const tape = this.#tape(sym, data, j);
      const first = Math.max(0, Math.ceil((fromMs - tape.startMs) / this.tickMs));
      const last = Math.min(
        this.ticksPerMinute - 1,
        Math.floor((toMs - tape.startMs) / this.tickMs),
      );
      for (let k = first; k <= last; k++) {
        out.push(this.#quote(sym, tape, k));
        if (out.length >= limit) return false;
      }
      return true;
    });
    return out;
  }

  /**
   * Bars with label `t` in [startMs, endMs] (both inclusive, like Alpaca's start/end), oldest
   * first, at most `limit` (default 10000; a number or {@link BarsOptions}). Bars hold the
   * prints up to `asOfMs` (default `endMs`): a bar still open then is partial, so asking up to
   * "now" never reveals the future. Intraday bars are aligned to UTC multiples of their length;
   * 1Day bars are ET calendar days labelled at midnight ET and include every session of the day.
   * An interval without prints has no bar.
   *
   * @example
   * ```ts
   * model.bars("AAPL", "1Day", Date.UTC(2020, 0, 1), now); // today's bar is partial, as of now
   * model.bars("AAPL", "1Min", t, t, { asOfMs: now }); // the complete bar labelled t
   * ```
   * @throws {MarketModelError} for an unknown symbol or timeframe, a bad range, limit or asOfMs.
   */
  bars(
    symbol: string,
    timeframe: Timeframe,
    startMs: number,
    endMs: number,
    limit?: number | BarsOptions,
  ): Bar[] {
    const sym = this.#sym(symbol);
    const tfMs = TF_MS[timeframe];
    if (tfMs === undefined || !Object.hasOwn(TF_MS, timeframe)) {
      throw new MarketModelError(
        `Unsupported timeframe "${timeframe}": use one of ${TIMEFRAMES.join(", ")}`,
      );
    }
    checkRange(startMs, endMs);
    const options = typeof limit === "object" ? limit : { limit };
    const max = checkLimit(options.limit);
    const asOfMs = options.asOfMs ?? endMs;
    if (Number.isNaN(asOfMs)) throw new MarketModelError(`Invalid asOfMs "${asOfMs}"`);
    return timeframe === "1Day"
      ? this.#dailyBars(sym, startMs, endMs, asOfMs, max)
      : this.#intradayBars(sym, tfMs, startMs, endMs, asOfMs, max);
  }

  /** Alpaca's snapshot of a symbol as of `tsMs` (see {@link Snapshot}). */
  snapshot(symbol: string, tsMs: number): Snapshot {
    const sym = this.#sym(symbol);
    checkInstant(tsMs, "instant");
    const latestTrade = this.latestTrade(symbol, tsMs);
    const latestQuote = this.quoteAt(symbol, tsMs);
    let minuteBar: Bar | null = null;
    const lastDone = Math.floor(tsMs / MINUTE_MS) - 1;
    let day = this.etDay(tsMs);
    search: for (let k = 0, minute = lastDone; k <= this.#lookback; k++, day--, minute = Infinity) {
      const data = this.#day(sym, day);
      for (let j = data.indexAtOrBefore(minute); j >= 0; j--) {
        if (data.n[j]! > 0) {
          minuteBar = this.#minuteBar(data, j);
          break search;
        }
      }
    }
    day = this.etDay(tsMs);
    let dailyBar: Bar | null = null;
    const partial = this.#partialDay(sym, day, tsMs);
    if (partial) dailyBar = toBar(this.dayStartMs(day), partial);
    let prevDailyBar: Bar | null = null;
    for (let k = 0; k < this.#lookback && prevDailyBar === null; k++) {
      day--;
      const agg = this.#dayAgg(sym, day);
      if (!agg) continue;
      if (dailyBar === null) dailyBar = toBar(this.dayStartMs(day), agg);
      else prevDailyBar = toBar(this.dayStartMs(day), agg);
    }
    return { latestTrade, latestQuote, minuteBar, dailyBar, prevDailyBar };
  }

  /**
   * The live event stream for `[fromMs, toMs)` (half-open, so consecutive calls tile time):
   * every in-session tick's quote, every trade, and each completed minute bar at the end of its
   * minute, ordered by `tsMs`; at equal `tsMs` bars come before quotes before trades, then symbols
   * in the order given. Lazy: it computes one minute at a time.
   *
   * @throws {MarketModelError} for an unknown symbol or a bad range (when iteration starts).
   */
  *ticksBetween(
    fromMs: number,
    toMs: number,
    symbols: readonly string[] = this.symbols,
  ): Generator<TimedMarketEvent, void, undefined> {
    checkRange(fromMs, toMs);
    const syms = symbols.map((s) => this.#sym(s));
    if (fromMs >= toMs || syms.length === 0) return;
    const minuteFrom = Math.floor(fromMs / MINUTE_MS) - 1; // its bar may fall in range
    const minuteTo = Math.floor((toMs - 1) / MINUTE_MS);
    const events: TimedMarketEvent[] = [];
    for (
      let day = this.etDay(minuteFrom * MINUTE_MS);
      day <= this.etDay(minuteTo * MINUTE_MS);
      day++
    ) {
      const iv = this.#daySessions(day).intervals;
      let j = 0;
      for (let i = 0; i < iv.length; i += 2) {
        for (let minute = iv[i]!; minute < iv[i + 1]!; minute++, j++) {
          if (minute < minuteFrom || minute > minuteTo) continue;
          const startMs = minute * MINUTE_MS;
          const endMs = startMs + MINUTE_MS;
          events.length = 0;
          if (endMs > fromMs && startMs < toMs) {
            for (const sym of syms) {
              this.#minuteEvents(sym, this.#day(sym, day), j, fromMs, toMs, events);
            }
            events.sort(byTimeThenKind);
            yield* events;
          }
          if (endMs >= fromMs && endMs < toMs) {
            for (const sym of syms) {
              const data = this.#day(sym, day);
              if (data.n[j]! > 0) {
                yield {
                  type: "bar",
                  symbol: sym.spec.symbol,
                  tsMs: endMs,
                  bar: this.#minuteBar(data, j),
                };
              }
            }
          }
        }
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Lookups and caches

  #sym(symbol: string): SymbolState {
    const sym = this.#symbols.get(symbol);
    if (!sym) throw new MarketModelError(`Unknown symbol "${symbol}"`);
    return sym;
  }

  #anchor(sym: SymbolState, day: number): number {
    if (day >= REF_DAY) {
      const fwd = sym.fwd;
      while (fwd.length <= day - REF_DAY) {
        const d = REF_DAY + fwd.length;
        const x = fwd[fwd.length - 1]!;
        fwd.push(fold(x + KAPPA * (sym.mu - x) + this.#anchorStep(sym, d), sym.mu));
      }
      return fwd[day - REF_DAY]!;
    }
    const bwd = sym.bwd;
    while (bwd.length <= REF_DAY - day) {
      const d = REF_DAY - bwd.length; // the day being computed; the step belongs to d + 1
      const x = bwd[bwd.length - 1]!;
      bwd.push(fold(x + KAPPA * (sym.mu - x) - this.#anchorStep(sym, d + 1), sym.mu));
    }
    return bwd[REF_DAY - day]!;
  }

  /** Log change from day - 1 to day (before mean reversion); the jump part goes to #jump. */
  #anchorStep(sym: SymbolState, day: number): number {
    const rng = this.#rngDay.reseed(mixKey(sym.hash, day, SALT_ANCHOR));
    const wd = weekday(day);
    const weekend = wd === 0 || wd === 6;
    const sigma = sym.sigmaDay * (weekend ? 0.3 : 1);
    const z = rng.normal();
    return sigma * z - sigma * sigma / 2 + this.#jumpFrom(rng, weekend);
  }

  #jump(sym: SymbolState, day: number): number {
    const rng = this.#rngDay.reseed(mixKey(sym.hash, day, SALT_ANCHOR));
    const wd = weekday(day);
    rng.normal();
    return this.#jumpFrom(rng, wd === 0 || wd === 6);
  }

  #jumpFrom(rng: Rng, weekend: boolean): number {
    const u = rng.next();
    const size = 0.02 + 0.05 * rng.next();
    const sign = rng.next() < 0.5 ? -1 : 1;
    return !weekend && u < 1 / 120 ? sign * size : 0;
  }

  #daySessions(day: number): DaySessions {
    let s = this.#sessions.get(day);
    if (s) return s;
    const startMin = this.dayStartMs(day) / MINUTE_MS;
    const endMin = this.dayStartMs(day + 1) / MINUTE_MS;
    const offsetNoon = this.#off(this.dayStartMs(day) + 12 * HOUR_MS);
    const filter = this.#filter;
    if (filter === null) {
      s = { intervals: [startMin, endMin], count: endMin - startMin, prevOpen: true, offsetNoon };
    } else {
      const open = (minute: number) => filter(minute * MINUTE_MS) === true;
      const len = endMin - startMin;
      const intervals: number[] = [];
      let prev = open(startMin);
      if (prev) intervals.push(startMin);
      let at = 0;
      while (at < len - 1) {
        const next = Math.min(at + this.#probe, len - 1);
        const state = open(startMin + next);
        if (state !== prev) {
          let lo = at;
          let hi = next;
          while (hi - lo > 1) {
            const mid = (lo + hi) >> 1;
            if (open(startMin + mid) === prev) lo = mid;
            else hi = mid;
          }
          intervals.push(startMin + hi);
          prev = state;
        }
        at = next;
      }
      if (prev) intervals.push(endMin);
      let count = 0;
      for (let i = 0; i < intervals.length; i += 2) count += intervals[i + 1]! - intervals[i]!;
      const prevOpen = count > 0 && intervals[0] === startMin ? open(startMin - 1) : false;
      s = { intervals, count, prevOpen, offsetNoon };
    }
    if (this.#sessions.size > 20000) this.#sessions.clear();
    this.#sessions.set(day, s);
    return s;
  }

  #day(sym: SymbolState, day: number): DayData {
    const key = day * 65536 + sym.index;
    const hit = this.#days.get(key);
    if (hit) {
      this.#days.delete(key);
      this.#days.set(key, hit);
      return hit;
    }
    const data = new DayData(this.#daySessions(day).count);
    this.#buildDay(sym, day, data);
    this.#days.set(key, data);
    if (this.#days.size > this.#cacheDays) this.#days.delete(this.#days.keys().next().value!);
    return data;
  }

  #dayAgg(sym: SymbolState, day: number): Agg | null {
    const cached = sym.dailyAgg.get(day);
    if (cached !== undefined) return cached;
    const inCache = this.#days.get(day * 65536 + sym.index);
    let data: DayData;
    if (inCache) {
      data = inCache;
    } else {
      const count = this.#daySessions(day).count;
      data = count <= 1500 ? this.#scratch : new DayData(count);
      this.#buildDay(sym, day, data);
    }
    return data.agg;
  }

  #tape(sym: SymbolState, data: DayData, j: number): Tape {
    const minute = data.minute[j]!;
    const key = minute * 65536 + sym.index;
    const hit = this.#tapes.get(key);
    if (hit) return hit;
    const tape = this.#buildTape(sym, data, j);
    this.#tapes.set(key, tape);
    if (this.#tapes.size > 256) this.#tapes.delete(this.#tapes.keys().next().value!);
    return tape;
  }

  /** Calls `visit` for each in-session minute overlapping [fromMs, toMs] until it answers false. */
  #eachMinute(
    sym: SymbolState,
    fromMs: number,
    toMs: number,
    visit: (data: DayData, j: number) => boolean,
  ): void {
    const first = Math.floor(fromMs / MINUTE_MS);
    const last = Math.floor(toMs / MINUTE_MS);
    for (let day = this.etDay(fromMs); day <= this.etDay(toMs); day++) {
      if (this.#daySessions(day).count === 0) continue;
      const data = this.#day(sym, day);
      for (let j = 0; j < data.count; j++) {
        const minute = data.minute[j]!;
        if (minute < first) continue;
        if (minute > last) return;
        if (!visit(data, j)) return;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Level 2: a day of minutes

  #buildDay(sym: SymbolState, day: number, data: DayData): void {
    const sess = this.#daySessions(day);
    const count = sess.count;
    data.count = count;
    data.agg = null;
    if (count === 0) {
      sym.dailyAgg.set(day, null);
      return;
    }
    const rng = this.#rngDay;
    const x1 = this.#anchor(sym, day);
    const x0base = this.#anchor(sym, day - 1);
    const jump = this.#jump(sym, day);
    rng.reseed(mixKey(sym.hash, day, SALT_DAY));
    const gap = rng.normal() * 0.5 * sym.sigmaDay;
    const jumpAt = Math.floor(rng.next() * count);
    const x0 = x0base + (sess.prevOpen ? 0 : gap);
    const wd = weekday(day);
    const dayVar = (sym.sigmaDay * (wd === 0 || wd === 6 ? 0.3 : 1)) ** 2;
    const dayOffset = day * 1440 - sess.offsetNoon;
    // Minutes, activity weights.
    const iv = sess.intervals;
    let j = 0;
    let wSum = 0;
    for (let i = 0; i < iv.length; i += 2) {
      for (let minute = iv[i]!; minute < iv[i + 1]!; minute++, j++) {
        let mod = minute - dayOffset;
        if (mod < 0) mod = 0;
        else if (mod > 1439) mod = 1439;
        const w = PROFILE[mod]!;
        data.minute[j] = minute;
        data.w[j] = w;
        data.sig[j] = PROFILE_SQRT[mod]!;
        data.core[j] = mod >= 570 && mod < 960 ? 1 : 0;
        wSum += w;
      }
    }
    // Brownian bridge in activity time. For now mid[j + 1] holds minute j's log step and sig[j]
    // the square root of its activity weight; both are turned into USD below.
    const mid = data.mid;
    const sig = data.sig;
    rng.fillNormal(DRAW_Z, count);
    rng.fillExponential(DRAW_E, 2 * count);
    rng.fillUint32(DRAW_U, 6 * count);
    const scale = Math.sqrt(dayVar / wSum);
    let b = 0;
    for (j = 0; j < count; j++) {
      const step = scale * sig[j]! * DRAW_Z[j]! + (j === jumpAt ? jump : 0);
      mid[j + 1] = step;
      b += step;
    }
    // mid[j + 1] = mid[j] × exp(step − w × correction); small steps take a 5-term series.
    const correction = (b - (x1 - x0)) / wSum;
    let price = Math.exp(x0);
    mid[0] = price;
    for (j = 0; j < count; j++) {
      const d = mid[j + 1]! - data.w[j]! * correction;
      sig[j] = price * scale * sig[j]!;
      price *= d > -0.01 && d < 0.01
        ? 1 + d * (1 + d * (0.5 + d * (1 / 6 + d * (1 / 24 + d / 120))))
        : Math.exp(d);
      mid[j + 1] = price;
    }
    // Minute bars, from the day's bulk draws.
    let agg: Agg | null = null;
    for (j = 0; j < count; j++) {
      drawMinute(sym, data, j);
      if (data.n[j] === 0) continue;
      agg ??= newAgg();
      addToAgg(
        agg,
        data.o[j]!,
        data.h[j]!,
        data.l[j]!,
        data.c[j]!,
        data.v[j]!,
        data.n[j]!,
        data.pv[j]!,
      );
    }
    if (agg && agg.pv > Number.MAX_SAFE_INTEGER) {
      throw new MarketModelError(
        `Cannot simulate "${sym.spec.symbol}" on day "${day}": notional exceeds 2^53 units`,
      );
    }
    data.agg = agg;
    sym.dailyAgg.set(day, agg);
  }

  // -------------------------------------------------------------------------------------------
  // Level 3: the ticks of a minute

  #buildTape(sym: SymbolState, data: DayData, j: number): Tape {
    const minute = data.minute[j]!;
    const startMs = minute * MINUTE_MS;
    const ticks = this.ticksPerMinute;
    const tickMs = this.tickMs;
    const n = data.n[j]!;
    const g = data.g[j]!;
    const xsU = data.mid[j]! * UNITS;
    const xeU = data.mid[j + 1]! * UNITS;
    const sigU = data.sig[j]! * UNITS;
    const w = data.w[j]!;
    const cap = g === 1 ? SUB_CAP : CENT_CAP;
    const rng = this.#rngTape.reseed(mixKey(sym.hash, minute, SALT_TAPE));
    // Print times: sorted uniform milliseconds within the minute.
    const tMs = new Float64Array(n);
    for (let k = 0; k < n; k++) tMs[k] = Math.floor(rng.next() * MINUTE_MS);
    tMs.sort();
    const price = new Float64Array(n);
    const size = new Float64Array(n);
    if (n > 0 && n <= 3) {
      for (let k = 0; k < n; k++) {
        price[k] = k === 0 ? data.o[j]! : k === n - 1 ? data.c[j]! : data.xMid[j]!;
        size[k] = data.xSize[3 * j + k]!;
      }
    } else if (n > 3) {
      solvePrints(rng, data, j, sizeAt(sym, data.mid[j]!), price, size);
    }
    const ex = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      const u = rng.next();
      ex[k] = u < 0.35 ? TRF : u < 0.6 ? sym.listing : Math.floor(rng.next() * LIT_COUNT);
      tMs[k] = tMs[k]! + startMs;
    }
    // Quotes: each tick's mid interpolates between anchors (the minute's ends and the ticks with
    // prints) with bridge-like jitter; ticks with prints quote around them.
    const bid = new Float64Array(ticks);
    const ask = new Float64Array(ticks);
    const bidSize = new Float64Array(ticks);
    const askSize = new Float64Array(ticks);
    const bidEx = new Uint8Array(ticks);
    const askEx = new Uint8Array(ticks);
    const tickLo = new Float64Array(ticks).fill(Infinity);
    const tickHi = new Float64Array(ticks).fill(-Infinity);
    for (let k = 0; k < n; k++) {
      const tick = Math.floor((tMs[k]! - startMs) / tickMs);
      const p = price[k]!;
      if (p < tickLo[tick]!) tickLo[tick] = p;
      if (p > tickHi[tick]!) tickHi[tick] = p;
    }
    const half = Math.max(g, xsU * sym.spreadFrac * spreadFactor(w)) / 2;
    const tickSig = sigU / Math.sqrt(ticks);
    const lotK = Math.min(30, Math.max(1, sizeAt(sym, data.mid[j]!) / 200));
    let prevTick = 0;
    let prevMid = xsU;
    let nextTick = -1;
    let nextMid = xeU;
    for (let tick = 0; tick < ticks; tick++) {
      const traded = tickLo[tick]! !== Infinity;
      let steps = Math.max(1, Math.round(2 * half / g * Math.exp(0.25 * rng.normal())));
      let b: number;
      if (traded) {
        const lo = tickLo[tick]!;
        const hi = tickHi[tick]!;
        const range = (hi - lo) / g;
        if (steps < range) steps = range;
        if (steps < 1) steps = 1;
        b = lo - Math.floor(rng.next() * (steps - range + 1)) * g;
        prevTick = tick;
        prevMid = (lo + hi) / 2;
      } else {
        if (nextTick <= tick) {
          nextTick = tick + 1;
          while (nextTick < ticks && tickLo[nextTick]! === Infinity) nextTick++;
          nextMid = nextTick < ticks ? (tickLo[nextTick]! + tickHi[nextTick]!) / 2 : xeU;
        }
        const span = (nextTick < ticks ? nextTick : ticks) - prevTick;
        const along = tick - prevTick;
        const m = prevMid + (nextMid - prevMid) * along / span +
          rng.normal() * tickSig * Math.sqrt(along * (span - along) / span);
        b = Math.floor((m - steps * g / 2) / g) * g;
      }
      if (b < g) b = g;
      let a = b + steps * g;
      if (a > cap) {
        a = cap;
        if (b > a - g) b = a - g;
        if (traded && b > tickLo[tick]!) b = tickLo[tick]!;
      }
      bid[tick] = b;
      ask[tick] = a;
      bidSize[tick] = 100 * (1 + Math.floor(rng.exponential() * lotK));
      askSize[tick] = 100 * (1 + Math.floor(rng.exponential() * lotK));
      bidEx[tick] = rng.next() < 0.4 ? sym.listing : Math.floor(rng.next() * LIT_COUNT);
      askEx[tick] = rng.next() < 0.4 ? sym.listing : Math.floor(rng.next() * LIT_COUNT);
    }
    return {
      startMs,
      minute,
      core: data.core[j] === 1,
      bid,
      ask,
      bidSize,
      askSize,
      bidEx,
      askEx,
      tMs,
      price,
      size,
      ex,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Rendering and aggregation

  #quote(sym: SymbolState, tape: Tape, tick: number): Quote {
    return {
      t: formatTimestamp(tape.startMs + tick * this.tickMs),
      bx: EXCHANGES[tape.bidEx[tick]!]!,
      bp: tape.bid[tick]! / UNITS,
      bs: tape.bidSize[tick]!,
      ax: EXCHANGES[tape.askEx[tick]!]!,
      ap: tape.ask[tick]! / UNITS,
      as: tape.askSize[tick]!,
      c: ["R"],
      z: sym.tape,
    };
  }

  #trade(sym: SymbolState, tape: Tape, k: number): Trade {
    const s = tape.size[k]!;
    const c = tape.core ? ["@"] : ["@", "T"];
    if (s < 100) c.push("I");
    return {
      t: formatTimestamp(tape.tMs[k]!),
      x: EXCHANGES[tape.ex[k]!]!,
      p: tape.price[k]! / UNITS,
      s,
      c,
      i: tape.minute * ID_STRIDE + k,
      z: sym.tape,
    };
  }

  #minuteBar(data: DayData, j: number): Bar {
    const a = newAgg();
    addToAgg(
      a,
      data.o[j]!,
      data.h[j]!,
      data.l[j]!,
      data.c[j]!,
      data.v[j]!,
      data.n[j]!,
      data.pv[j]!,
    );
    return toBar(data.minute[j]! * MINUTE_MS, a);
  }

  #minuteEvents(
    sym: SymbolState,
    data: DayData,
    j: number,
    fromMs: number,
    toMs: number,
    events: TimedMarketEvent[],
  ): void {
    const tape = this.#tape(sym, data, j);
    const symbol = sym.spec.symbol;
    for (let tick = 0; tick < this.ticksPerMinute; tick++) {
      const ts = tape.startMs + tick * this.tickMs;
      if (ts >= fromMs && ts < toMs) {
        events.push({ type: "quote", symbol, tsMs: ts, quote: this.#quote(sym, tape, tick) });
      }
    }
    for (let k = 0; k < tape.tMs.length; k++) {
      const ts = tape.tMs[k]!;
      if (ts >= fromMs && ts < toMs) {
        events.push({ type: "trade", symbol, tsMs: ts, trade: this.#trade(sym, tape, k) });
      }
    }
  }

  /** Adds minute j of a day to `agg` as of `asOfMs` (prints after it left out). */
  #addMinute(sym: SymbolState, data: DayData, j: number, asOfMs: number, agg: Agg): void {
    if (data.n[j] === 0) return;
    const startMs = data.minute[j]! * MINUTE_MS;
    if (startMs + MINUTE_MS - 1 <= asOfMs) {
      addToAgg(
        agg,
        data.o[j]!,
        data.h[j]!,
        data.l[j]!,
        data.c[j]!,
        data.v[j]!,
        data.n[j]!,
        data.pv[j]!,
      );
      return;
    }
    if (startMs > asOfMs) return;
    const tape = this.#tape(sym, data, j);
    for (let k = 0; k < tape.tMs.length && tape.tMs[k]! <= asOfMs; k++) {
      const p = tape.price[k]!;
      const s = tape.size[k]!;
      addToAgg(agg, p, p, p, p, s, 1, p * s);
    }
  }

  #partialDay(sym: SymbolState, day: number, asOfMs: number): Agg | null {
    if (this.dayStartMs(day + 1) - 1 <= asOfMs) return this.#dayAgg(sym, day);
    if (this.#daySessions(day).count === 0) return null;
    const data = this.#day(sym, day);
    const agg = newAgg();
    const last = data.indexAtOrBefore(Math.floor(asOfMs / MINUTE_MS));
    for (let j = 0; j <= last; j++) this.#addMinute(sym, data, j, asOfMs, agg);
    return agg.n > 0 ? agg : null;
  }

  #dailyBars(
    sym: SymbolState,
    startMs: number,
    endMs: number,
    asOfMs: number,
    limit: number,
  ): Bar[] {
    const out: Bar[] = [];
    let day = this.etDay(startMs);
    if (this.dayStartMs(day) < startMs) day++;
    for (; out.length < limit; day++) {
      const label = this.dayStartMs(day);
      if (label > endMs || label > asOfMs) break;
      const agg = this.#partialDay(sym, day, asOfMs);
      if (agg) out.push(toBar(label, agg));
    }
    return out;
  }

  #intradayBars(
    sym: SymbolState,
    tfMs: number,
    startMs: number,
    endMs: number,
    asOfMs: number,
    limit: number,
  ): Bar[] {
    const out: Bar[] = [];
    const firstLabel = Math.ceil(startMs / tfMs) * tfMs;
    // The last minute to visit: the end of the last bucket, cut at the knowledge cut-off.
    const lastMs = Math.min(Math.floor(endMs / tfMs) * tfMs + tfMs - 1, asOfMs);
    if (firstLabel > endMs || firstLabel > lastMs) return out;
    let label = NaN;
    let agg = newAgg();
    this.#eachMinute(sym, firstLabel, lastMs, (data, j) => {
      if (data.n[j] === 0) return true;
      const minuteMs = data.minute[j]! * MINUTE_MS;
      const bucket = Math.floor(minuteMs / tfMs) * tfMs;
      if (bucket !== label) {
        if (agg.n > 0) {
          out.push(toBar(label, agg));
          if (out.length >= limit) return false;
        }
        label = bucket;
        agg = newAgg();
      }
      this.#addMinute(sym, data, j, asOfMs, agg);
      return true;
    });
    if (agg.n > 0 && out.length < limit) out.push(toBar(label, agg));
    return out;
  }
}

/**
 * Draws minute j's bar into `data` from the day's bulk draws (DRAW_Z/E/U), the mid at the
 * minute's start and end (USD), the mid's standard deviation over the minute (USD) and the
 * activity weight. A minute of at most three prints keeps its prints (middle price, sizes).
 * Only objects and small integers cross the call and no random-number method is called, so no
 * number is boxed per minute.
 */
function drawMinute(sym: SymbolState, data: DayData, j: number): void {
  const xs = data.mid[j]!;
  const xe = data.mid[j + 1]!;
  const sig = data.sig[j]!;
  const w = data.w[j]!;
  const g = xs < 1 ? 1 : 100;
  const inv = xs < 1 ? 1 : 0.01;
  const cap = g === 1 ? SUB_CAP : CENT_CAP;
  data.g[j] = g;
  // Low-precision uniforms come in 16-bit pairs from one draw.
  const u1 = DRAW_U[6 * j]!;
  const u2 = DRAW_U[6 * j + 1]!;
  const u3 = DRAW_U[6 * j + 2]!;
  const u4 = DRAW_U[6 * j + 3]!;
  const u5 = DRAW_U[6 * j + 4]!;
  // Trade count: λ·w times a triangular factor with mean 1 and sd 0.35, randomly rounded.
  const burst = 0.35 * triangular(u5);
  let n = Math.floor(sym.lambda * w * (1 + burst) + (u1 & 0xffff) / 65536);
  if (n < 0) n = 0;
  else if (n > MAX_TRADES) n = MAX_TRADES;
  data.n[j] = n;
  if (n === 0) {
    data.v[j] = 0;
    return;
  }
  const half = Math.max(g, xs * UNITS * sym.spreadFrac * spreadFactor(w)) / 2;
  const xsU = xs * UNITS;
  const xeU = xe * UNITS;
  const meanSize = sizeAt(sym, xs);
  if (n <= 3) {
    const p0 = toGrid(g, inv, cap, xsU + half * ((u1 >>> 16) / 32768 - 1));
    const pLast = n === 1 ? p0 : toGrid(g, inv, cap, xeU + half * ((u2 & 0xffff) / 32768 - 1));
    const pMid = n < 3 ? p0 : toGrid(
      g,
      inv,
      cap,
      (xsU + xeU) / 2 + 0.5 * sig * UNITS * triangular(DRAW_U[6 * j + 5]!) +
        half * ((u2 >>> 16) / 32768 - 1),
    );
    let h = p0 > pLast ? p0 : pLast;
    let l = p0 < pLast ? p0 : pLast;
    if (pMid > h) h = pMid;
    if (pMid < l) l = pMid;
    let v = 0;
    let pv = 0;
    for (let k = 0; k < n; k++) {
      const s = drawSize(
        (k === 0 ? u3 & 0xffff : k === 1 ? u3 >>> 16 : u4 & 0xffff) / 65536,
        meanSize,
      );
      data.xSize[3 * j + k] = s;
      v += s;
      pv += (k === 0 ? p0 : k === n - 1 ? pLast : pMid) * s;
    }
    data.xMid[j] = pMid;
    data.o[j] = p0;
    data.h[j] = h;
    data.l[j] = l;
    data.c[j] = pLast;
    data.v[j] = v;
    data.pv[j] = pv;
    return;
  }
  const o = toGrid(g, inv, cap, xsU + half * ((u1 >>> 16) / 32768 - 1));
  const c = toGrid(g, inv, cap, xeU + half * ((u2 & 0xffff) / 32768 - 1));
  // Extremes of a Brownian bridge from o to c: P(max > m) = exp(-2 (m - o)(m - c) / s²).
  const s2 = (sig * UNITS) ** 2;
  const dd = (c - o) * (c - o);
  const bounce = half * (u2 >>> 16) / 65536;
  const hiU = (o + c + Math.sqrt(dd + 2 * s2 * DRAW_E[2 * j]!)) / 2 + bounce;
  const loU = (o + c - Math.sqrt(dd + 2 * s2 * DRAW_E[2 * j + 1]!)) / 2 - bounce;
  const top = o > c ? o : c;
  const bottom = o < c ? o : c;
  let h = Math.ceil(hiU * inv) * g;
  h = h < top ? top : h > cap ? cap : h;
  let l = Math.floor(loU * inv) * g;
  l = l > bottom ? bottom : l < g ? g : l;
  let hSep = h !== top;
  let lSep = l !== bottom;
  // Each role (open, close, separate high, separate low) takes a print; two more stay free.
  if (n < 4 + (hSep ? 1 : 0) + (lSep ? 1 : 0)) {
    if (hSep && lSep && n === 5) {
      if (h - top >= bottom - l) {
        l = bottom;
        lSep = false;
      } else {
        h = top;
        hSep = false;
      }
    } else {
      h = top;
      l = bottom;
      hSep = lSep = false;
    }
  }
  const v = Math.max(n, Math.round(n * meanSize * (0.4 + 1.2 * (u3 & 0xffff) / 65536)));
  const width = Math.round((h - l) * inv);
  const aO = Math.round((o - l) * inv);
  const aC = Math.round((c - l) * inv);
  const roles = 2 + (hSep ? 1 : 0) + (lSep ? 1 : 0);
  let phi = width > 0 ? 0.15 + 0.25 * (aO + aC) / width + 0.2 * (u3 >>> 16) / 65536 : 0;
  phi = phi < 0 ? 0 : phi > 1 ? 1 : phi;
  const s = aO + aC + (hSep ? width : 0) + Math.round(phi * width * (v - roles));
  data.o[j] = o;
  data.h[j] = h;
  data.l[j] = l;
  data.c[j] = c;
  data.v[j] = v;
  data.pv[j] = l * v + g * s;
}

function byTimeThenKind(a: TimedMarketEvent, b: TimedMarketEvent): number {
  return a.tsMs - b.tsMs || KIND_RANK[a.type] - KIND_RANK[b.type];
}

const KIND_RANK = { bar: 0, quote: 1, trade: 2 } as const;

/**
 * Builds the prints (prices in units, sizes in shares) of a minute of four or more prints so
 * that they aggregate exactly to the minute's bar: roles (open first, close last, a separate
 * high and low when the bar has them), free prints along a jittered path, natural sizes fitted
 * to the volume, then Σ price × size matched exactly by moving free prices and, last, a pair of
 * adjacent-price "balancer" prints.
 */
function solvePrints(
  rng: Rng,
  data: DayData,
  j: number,
  meanSize: number,
  price: Float64Array,
  size: Float64Array,
): void {
  const n = data.n[j]!;
  const g = data.g[j]!;
  const o = data.o[j]!;
  const h = data.h[j]!;
  const l = data.l[j]!;
  const c = data.c[j]!;
  const v = data.v[j]!;
  const width = (h - l) / g;
  const target = (data.pv[j]! - l * v) / g;
  const hSep = h !== o && h !== c;
  const lSep = l !== o && l !== c;
  // Roles: 0 free, 1 open, 2 close, 3 high, 4 low. `a` holds grid steps above the low.
  const role = new Uint8Array(n);
  const a = price;
  role[0] = 1;
  a[0] = (o - l) / g;
  role[n - 1] = 2;
  a[n - 1] = (c - l) / g;
  if (hSep) {
    const at = 1 + Math.floor(rng.next() * (n - 2));
    role[at] = 3;
    a[at] = width;
  }
  if (lSep) {
    let at = 1 + Math.floor(rng.next() * (n - 2));
    while (role[at] !== 0) at = at >= n - 2 ? 1 : at + 1;
    role[at] = 4;
    a[at] = 0;
  }
  // Free prints: interpolate between neighbouring role prints, jitter, reflect into [0, width].
  let prev = 0;
  for (let k = 1; k < n - 1; k++) {
    if (role[k] !== 0) {
      prev = k;
      continue;
    }
    let next = k + 1;
    while (role[next] === 0) next++;
    const span = next - prev;
    const along = k - prev;
    const line = a[prev]! + (a[next]! - a[prev]!) * along / span;
    const jitter = 0.5 * width * Math.sqrt(along * (span - along) / span / (span + 1));
    a[k] = Math.round(reflect(line + jitter * rng.normal(), width));
  }
  // Sizes: natural draws scaled to the volume (each at least 1).
  let natural = 0;
  for (let k = 0; k < n; k++) {
    size[k] = drawSize(rng.next(), meanSize);
    natural += size[k]!;
  }
  let assigned = 0;
  let biggest = 0;
  for (let k = 0; k < n; k++) {
    const s = Math.max(1, Math.floor(size[k]! * v / natural));
    size[k] = s;
    assigned += s;
    if (s > size[biggest]!) biggest = k;
  }
  if (assigned < v) size[biggest] = size[biggest]! + (v - assigned);
  while (assigned > v) {
    let top = 0;
    for (let k = 1; k < n; k++) if (size[k]! > size[top]!) top = k;
    const take = Math.min(assigned - v, size[top]! - 1);
    size[top] = size[top]! - take;
    assigned -= take;
  }
  // Balancers: the two largest free prints.
  let b1 = -1;
  let b2 = -1;
  for (let k = 1; k < n - 1; k++) {
    if (role[k] !== 0) continue;
    if (b1 < 0 || size[k]! > size[b1]!) {
      b2 = b1;
      b1 = k;
    } else if (b2 < 0 || size[k]! > size[b2]!) {
      b2 = k;
    }
  }
  // What the free prints must contribute; if the role prints' natural sizes make that
  // impossible, shrink them to one share each (their volume moves to a balancer).
  let roleSum = 0;
  let freeVolume = 0;
  for (let k = 0; k < n; k++) {
    if (role[k] === 0) freeVolume += size[k]!;
    else roleSum += a[k]! * size[k]!;
  }
  let rest = target - roleSum;
  if (rest < 0 || rest > width * freeVolume) {
    roleSum = 0;
    for (let k = 0; k < n; k++) {
      if (role[k] === 0) continue;
      size[b1] = size[b1]! + size[k]! - 1;
      freeVolume += size[k]! - 1;
      size[k] = 1;
      roleSum += a[k]!;
    }
    rest = target - roleSum;
  }
  // Shift the other free prints toward the needed mean, then adjust them one by one until the
  // remainder fits the balancer pair: rest ∈ [0, width × m].
  const m = size[b1]! + size[b2]!;
  let otherSum = 0;
  let otherVolume = 0;
  for (let k = 1; k < n - 1; k++) {
    if (role[k] !== 0 || k === b1 || k === b2) continue;
    otherSum += a[k]! * size[k]!;
    otherVolume += size[k]!;
  }
  if (otherVolume > 0) {
    const shift = Math.round(rest / freeVolume - otherSum / otherVolume);
    otherSum = 0;
    for (let k = 1; k < n - 1; k++) {
      if (role[k] !== 0 || k === b1 || k === b2) continue;
      const moved = Math.min(width, Math.max(0, a[k]! + shift));
      a[k] = moved;
      otherSum += moved * size[k]!;
    }
  }
  let r = rest - otherSum;
  for (let k = 1; k < n - 1 && (r < 0 || r > width * m); k++) {
    if (role[k] !== 0 || k === b1 || k === b2) continue;
    const s = size[k]!;
    if (r > width * m) {
      const up = Math.min(width - a[k]!, Math.ceil((r - width * m) / s));
      a[k] = a[k]! + up;
      r -= up * s;
    } else {
      const down = Math.min(a[k]!, Math.ceil(-r / s));
      a[k] = a[k]! - down;
      r += down * s;
    }
  }
  const base = Math.floor(r / m);
  const extra = r - base * m;
  const upper = a[b1]! >= a[b2]! ? b1 : b2;
  const lower = upper === b1 ? b2 : b1;
  a[b1] = base;
  a[b2] = base;
  if (extra > 0) {
    a[upper] = base + 1;
    size[upper] = extra;
    size[lower] = m - extra;
  }
  // Back to price units, checking the bar is reproduced exactly.
  let sumV = 0;
  let sumPv = 0;
  for (let k = 0; k < n; k++) {
    const p = l + a[k]! * g;
    price[k] = p;
    sumV += size[k]!;
    sumPv += p * size[k]!;
    if (!(p >= l && p <= h && size[k]! >= 1)) sumV = NaN;
  }
  if (sumV !== v || sumPv !== data.pv[j]) {
    throw new MarketModelError(
      `Cannot build the prints of minute "${data.minute[j]}": they do not aggregate to its bar`,
    );
  }
}
