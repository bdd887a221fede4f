/**
 * Historical bars from CSV text, and a replay that turns them into the same event stream as the
 * simulated market ({@link TimedMarketEvent}), so a backtest can be driven from a file.
 *
 * The format is the common `Date,Open,High,Low,Close,Volume` export, with an optional
 * `Adj Close` column; columns may come in any order, matched case-insensitively; other columns
 * are ignored. The header is required. Dates are either all daily (`YYYY-MM-DD`) or all
 * intraday (`YYYY-MM-DD HH:MM[:SS]`, US Eastern wall-clock time, `T` also accepted as the
 * separator), strictly increasing. Prices are rounded to the tick grid ($0.01 at or above $1,
 * $0.0001 below) so that the replayed prints are valid prices. Every problem is reported as a
 * {@link CsvFeedError} naming the line.
 *
 * The caller reads the file; this module does no I/O.
 *
 * @example
 * ```ts
 * const series = parseCsvBars(await Deno.readTextFile("orcl.csv"));
 * for (const event of replayCsv([{ symbol: "ORCL", series }])) engine.onEvent(event);
 * ```
 *
 * @module
 */

import {
  type Bar,
  defaultEtOffsetMinutes,
  etDayStartMs,
  formatTimestamp,
  type Quote,
  type Trade,
} from "./market_model.ts";
import type { TimedMarketEvent } from "../../core/market.ts";

/** Thrown for unreadable CSV text; `line` is the 1-based line number (0 when not about one line). */
export class CsvFeedError extends Error {
  override name = "CsvFeedError";
  /** The 1-based line the problem is on, or 0. */
  readonly line: number;

  /** An error about `line` (1-based; 0 for the whole text). */
  constructor(message: string, line = 0) {
    super(message);
    this.line = line;
  }
}

/** One bar read from CSV: its Alpaca-shaped bar plus the instants it covers. */
export interface CsvBar {
  /** The bar's label: midnight ET for daily rows, the row's minute for intraday rows. */
  readonly tsMs: number;
  /** Start of the trading the bar covers (09:30 ET for daily rows by default). */
  readonly startMs: number;
  /** End of the interval (16:00 ET for daily rows by default); the bar is known from here on. */
  readonly endMs: number;
  /** 1-based line in the CSV text. */
  readonly line: number;
  /** The bar; `n` and `vw` describe the synthetic prints {@link replayCsv} emits for it. */
  readonly bar: Bar;
}

/** Bars parsed from one CSV text. */
export interface CsvSeries {
  /** `"daily"` for `YYYY-MM-DD` dates, `"intraday"` for dates with a time. */
  readonly kind: "daily" | "intraday";
  /** Bar length in ms: one day for daily rows, the smallest gap between rows for intraday. */
  readonly barMs: number;
  /** The bars, oldest first. */
  readonly bars: readonly CsvBar[];
}

/** Options of {@link parseCsvBars}. */
export interface ParseCsvOptions {
  /**
   * Scale open, high, low and close by `Adj Close / Close` (split and dividend adjustment).
   * Needs the `Adj Close` column. Default false.
   */
  adjust?: boolean;
  /** UTC offset of US Eastern time at an instant, minutes. Default: US DST rules. */
  etOffsetMinutes?: (tsMs: number) => number;
  /** Session a daily bar covers, in minutes after midnight ET. Default 570–960 (09:30–16:00). */
  session?: { open: number; close: number };
}

/** One symbol's series for {@link replayCsv}. */
export interface CsvFeed {
  readonly symbol: string;
  readonly series: CsvSeries;
  /** Exchange code on replayed quotes and prints. Default `"V"`. */
  readonly exchange?: string;
  /** Tape on replayed quotes and prints. Default `"C"`. */
  readonly tape?: string;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const UNITS = 10_000;
const DAILY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INTRADAY_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;

const COLUMN_ALIASES: Readonly<Record<string, Column>> = {
  date: "date",
  datetime: "date",
  timestamp: "date",
  open: "open",
  high: "high",
  low: "low",
  close: "close",
  volume: "volume",
  "adj close": "adjClose",
  adj_close: "adjClose",
  adjclose: "adjClose",
};

type Column = "date" | "open" | "high" | "low" | "close" | "volume" | "adjClose";
const REQUIRED: readonly Column[] = ["date", "open", "high", "low", "close", "volume"];

/** Price in units of $0.0001 on the tick grid: $0.01 at or above $1, $0.0001 below. */
function toUnits(price: number): number {
  const fine = Math.round(price * UNITS);
  return fine >= UNITS ? Math.round(price * 100) * 100 : Math.max(1, fine);
}

/**
 * Parses CSV text into bars (see the module notes for the format).
 *
 * @throws {CsvFeedError} naming the line for a missing or duplicate column, a row with the wrong
 * number of fields, a bad date or number, rows out of order or mixing daily and intraday dates,
 * prices that are not positive, a high below the open/close or a low above them, a volume that
 * is not a non-negative integer, or `adjust` without an `Adj Close` column.
 */
export function parseCsvBars(text: string, options: ParseCsvOptions = {}): CsvSeries {
  const off = options.etOffsetMinutes ?? defaultEtOffsetMinutes;
  const session = options.session ?? { open: 570, close: 960 };
  if (!(session.open >= 0 && session.open < session.close && session.close <= 1440)) {
    throw new CsvFeedError(
      `Invalid session "${session.open}–${session.close}": need 0 <= open < close <= 1440`,
    );
  }
  const lines = text.split(/\r?\n/);
  let headerAt = 0;
  while (headerAt < lines.length && lines[headerAt]!.trim() === "") headerAt++;
  if (headerAt === lines.length) throw new CsvFeedError("Cannot parse CSV: the text is empty");
  const headerLine = headerAt + 1;
  const index = new Map<Column, number>();
  const header = splitRow(lines[headerAt]!);
  header.forEach((raw, i) => {
    const column = COLUMN_ALIASES[raw.trim().toLowerCase()];
    if (column === undefined) return;
    if (index.has(column)) {
      throw new CsvFeedError(
        `Cannot parse CSV line ${headerLine}: duplicate column "${raw.trim()}"`,
        headerLine,
      );
    }
    index.set(column, i);
  });
  for (const column of REQUIRED) {
    if (!index.has(column)) {
      throw new CsvFeedError(
        `Cannot parse CSV line ${headerLine}: missing column "${
          column === "date" ? "Date" : cap(column)
        }" ` +
          `in header "${lines[headerAt]!.trim()}"`,
        headerLine,
      );
    }
  }
  if (options.adjust && !index.has("adjClose")) {
    throw new CsvFeedError(
      `Cannot adjust prices: no "Adj Close" column in header "${lines[headerAt]!.trim()}"`,
      headerLine,
    );
  }
  const bars: CsvBar[] = [];
  let kind: "daily" | "intraday" | null = null;
  let prevTs = -Infinity;
  let prevDate = "";
  let minGap = Infinity;
  for (let i = headerAt + 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const line = i + 1;
    const fail = (what: string): never => {
      throw new CsvFeedError(`Cannot parse CSV line ${line}: ${what}`, line);
    };
    const fields = splitRow(raw);
    if (fields.length !== header.length) {
      fail(`expected ${header.length} fields, found "${fields.length}"`);
    }
    const field = (column: Column) => fields[index.get(column)!]!.trim();
    const dateText = field("date");
    const rowKind = DAILY_RE.test(dateText)
      ? "daily"
      : INTRADAY_RE.test(dateText)
      ? "intraday"
      : null;
    if (rowKind === null) {
      fail(`invalid date "${dateText}": use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]`);
    }
    if (kind !== null && rowKind !== kind) {
      fail(`date "${dateText}" is ${rowKind}, but earlier rows are ${kind}`);
    }
    kind = rowKind;
    const local = parseLocal(dateText);
    if (local === null) fail(`invalid date "${dateText}"`);
    const number = (column: Column, label: string): number => {
      const text = field(column);
      const value = text === "" ? NaN : Number(text);
      if (!Number.isFinite(value)) fail(`invalid ${label} "${text}"`);
      return value;
    };
    let open = number("open", "open");
    let high = number("high", "high");
    let low = number("low", "low");
    let close = number("close", "close");
    const volume = number("volume", "volume");
    if (!(Number.isInteger(volume) && volume >= 0)) {
      fail(`invalid volume "${field("volume")}": must be a non-negative integer`);
    }
    for (
      const [label, value] of [["open", open], ["high", high], ["low", low], [
        "close",
        close,
      ]] as const
    ) {
      if (!(value > 0)) fail(`${label} "${field(label)}" is not positive`);
    }
    if (high < Math.max(open, close)) {
      fail(
        `high "${field("high")}" is below ${high < open ? "open" : "close"} "${
          field(high < open ? "open" : "close")
        }"`,
      );
    }
    if (low > Math.min(open, close)) {
      fail(
        `low "${field("low")}" is above ${low > open ? "open" : "close"} "${
          field(low > open ? "open" : "close")
        }"`,
      );
    }
    if (options.adjust) {
      const adj = number("adjClose", "adj close");
      if (!(adj > 0)) fail(`adj close "${field("adjClose")}" is not positive`);
      const factor = adj / close;
      open *= factor;
      high *= factor;
      low *= factor;
      close = adj;
    }
    const localMs = local!;
    let tsMs: number;
    let startMs: number;
    let endMs: number;
    if (rowKind === "daily") {
      const day = Math.floor(localMs / DAY_MS);
      tsMs = etDayStartMs(day, off);
      startMs = etToUtc(localMs + session.open * MINUTE_MS, off);
      endMs = etToUtc(localMs + session.close * MINUTE_MS, off);
    } else {
      tsMs = etToUtc(localMs, off);
      startMs = tsMs;
      endMs = NaN; // set once the bar length is known
    }
    if (tsMs <= prevTs) fail(`date "${dateText}" is not after the previous row's "${prevDate}"`);
    if (rowKind === "intraday" && prevTs > -Infinity) minGap = Math.min(minGap, tsMs - prevTs);
    prevTs = tsMs;
    prevDate = dateText;
    const o = toUnits(open);
    const h = toUnits(high);
    const l = toUnits(low);
    const c = toUnits(close);
    const prints = syntheticPrints(o, h, l, c, volume);
    let pv = 0;
    for (const [p, s] of prints) pv += p * s;
    bars.push({
      tsMs,
      startMs,
      endMs,
      line,
      bar: {
        t: formatTimestamp(tsMs),
        o: o / UNITS,
        h: h / UNITS,
        l: l / UNITS,
        c: c / UNITS,
        v: volume,
        n: prints.length,
        vw: volume > 0 ? Math.round(pv / volume * 100) / 1e6 : 0,
      },
    });
  }
  if (kind === null) {
    throw new CsvFeedError(`Cannot parse CSV: no data rows after the header on line ${headerLine}`);
  }
  if (kind === "daily") return { kind, barMs: DAY_MS, bars };
  const barMs = minGap === Infinity ? MINUTE_MS : minGap;
  return {
    kind,
    barMs,
    bars: bars.map((b) => ({ ...b, endMs: b.startMs + barMs })),
  };
}

/**
 * The live-style event stream of one or more CSV series, merged in time order: for each bar,
 * four prints (open, then low and high, or high and low on a down bar, then close) spread over
 * the bar's interval, each preceded by a quote one tick either side of its price, and the bar
 * itself at the end of its interval. At equal `tsMs`: bars, then quotes, then trades, then feed
 * order. A bar's prints split its volume as evenly as possible (a print of zero shares is
 * skipped), so with a volume of at least 4 they aggregate exactly to the bar.
 *
 * @example
 * ```ts
 * for (const e of replayCsv([{ symbol: "ORCL", series }])) if (e.type === "bar") onBar(e.bar);
 * ```
 */
export function* replayCsv(
  feeds: readonly CsvFeed[],
): Generator<TimedMarketEvent, void, undefined> {
  const iterators = feeds.map((feed) => feedEvents(feed));
  const heads = iterators.map((it) => it.next());
  for (;;) {
    let best = -1;
    for (let k = 0; k < heads.length; k++) {
      const head = heads[k]!;
      if (head.done) continue;
      if (
        best < 0 ||
        compareEvents(head.value, (heads[best] as IteratorYieldResult<TimedMarketEvent>).value) < 0
      ) {
        best = k;
      }
    }
    if (best < 0) return;
    yield (heads[best] as IteratorYieldResult<TimedMarketEvent>).value;
    heads[best] = iterators[best]!.next();
  }
}

const KIND_RANK = { bar: 0, quote: 1, trade: 2 } as const;

function compareEvents(a: TimedMarketEvent, b: TimedMarketEvent): number {
  return a.tsMs - b.tsMs || KIND_RANK[a.type] - KIND_RANK[b.type];
}

function* feedEvents(feed: CsvFeed): Generator<TimedMarketEvent, void, undefined> {
  const symbol = feed.symbol;
  const x = feed.exchange ?? "V";
  const z = feed.tape ?? "C";
  let id = 0;
  for (const item of feed.series.bars) {
    const { bar } = item;
    const prints = syntheticPrints(
      toUnits(bar.o),
      toUnits(bar.h),
      toUnits(bar.l),
      toUnits(bar.c),
      bar.v,
    );
    const span = Math.max(0, item.endMs - item.startMs - 1000);
    for (let k = 0; k < prints.length; k++) {
      const [p, s] = prints[k]!;
      const tsMs = item.startMs + Math.floor(span * k / 3 / 1000) * 1000;
      const tick = p >= UNITS ? 100 : 1;
      const bid = p - tick >= 1 ? p - tick : p;
      const t = formatTimestamp(tsMs);
      const quote: Quote = {
        t,
        bx: x,
        bp: bid / UNITS,
        bs: 100,
        ax: x,
        ap: (p + tick) / UNITS,
        as: 100,
        c: ["R"],
        z,
      };
      yield { type: "quote", symbol, tsMs, quote };
      const trade: Trade = { t, x, p: p / UNITS, s, c: s < 100 ? ["@", "I"] : ["@"], i: ++id, z };
      yield { type: "trade", symbol, tsMs, trade };
    }
    yield { type: "bar", symbol, tsMs: item.endMs, bar };
  }
}

/** The bar's four prints [price units, size], zero-size ones left out. */
function syntheticPrints(
  o: number,
  h: number,
  l: number,
  c: number,
  volume: number,
): Array<[number, number]> {
  const path = c >= o ? [o, l, h, c] : [o, h, l, c];
  const base = Math.floor(volume / 4);
  const extra = volume - 4 * base;
  const prints: Array<[number, number]> = [];
  for (let k = 0; k < 4; k++) {
    const size = base + (k < extra ? 1 : 0);
    if (size > 0) prints.push([path[k]!, size]);
  }
  return prints;
}

function splitRow(line: string): string[] {
  return line.split(",").map((f) => {
    const t = f.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
  });
}

/** Wall-clock ms of a date text as if ET were UTC, or null for an impossible date. */
function parseLocal(text: string): number | null {
  const m = INTRADAY_RE.exec(text) ?? DAILY_RE.exec(text);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hh, mm, ss] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (mo < 1 || mo > 12 || d < 1 || hh > 23 || mm > 59 || ss > 59) return null;
  const ms = Date.UTC(y, mo - 1, d, hh, mm, ss);
  if (new Date(ms).getUTCDate() !== d) return null; // e.g. 2023-02-30
  return ms;
}

/** ET wall-clock ms (as if UTC) to an instant; a skipped spring-forward time reads as EST. */
function etToUtc(localMs: number, off: (tsMs: number) => number): number {
  const guess = localMs + 300 * MINUTE_MS;
  const first = localMs - off(guess) * MINUTE_MS;
  return localMs - off(first) * MINUTE_MS;
}

function cap(text: string): string {
  return text[0]!.toUpperCase() + text.slice(1);
}
