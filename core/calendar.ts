/**
 * The NYSE market calendar and clock, computed locally: no I/O, no `Intl`, no wall clock.
 *
 * **Time zone.** America/New_York is derived from the US daylight-saving rules: from 2007 on,
 * EDT (UTC-4) runs from the second Sunday of March 02:00 EST to the first Sunday of November
 * 02:00 EDT; from 1987 to 2006, from the first Sunday of April to the last Sunday of October.
 * The 2007 rule is assumed to hold for every later year. Instants outside ET years 1987–9999
 * are refused.
 *
 * **Holidays (2000–2035 only).** Full closures: New Year's Day, Martin Luther King Jr. Day (3rd
 * Monday of January), Washington's Birthday (3rd Monday of February), Good Friday, Memorial Day
 * (last Monday of May), Juneteenth (June 19, from 2022 on), Independence Day, Labor Day (1st
 * Monday of September), Thanksgiving (4th Thursday of November) and Christmas. A holiday on a
 * Saturday is observed on the Friday before, on a Sunday on the Monday after, except that New
 * Year's Day on a Saturday is not observed at all (December 31 trades normally). Unscheduled
 * closures: 2001-09-11..14, 2004-06-11, 2007-01-02, 2012-10-29..30, 2018-12-05, 2025-01-09.
 *
 * **Early closes at 13:00** (after-hours then end at 17:00): July 3 when July 4 falls on a
 * Tuesday, Wednesday or Friday; when July 4 is a Thursday, July 3 from 2013 on and Friday July 5
 * before 2013 (only 2002 in range); the day after Thanksgiving; December 24 when it is Monday to
 * Thursday; and the one-off 2003-12-26. No early close precedes a weekend-shifted Independence
 * Day (e.g. 2026-07-02 is a full day) or Christmas. Late openings and other one-off short days
 * (2002-09-11 noon open, 2005-06-01 15:56 close, moment-of-silence delays) are not modelled.
 *
 * **Sessions.** Pre-market 04:00–09:30, core 09:30–16:00 (13:00 on early closes), after-hours
 * until 20:00 (17:00 on early closes). The overnight session is not modelled. Anything that
 * needs holiday data outside 2000-01-01..2035-12-31 throws a {@link CalendarError}, including
 * the settlement date of 2035-12-31 and clock answers that would fall in 2036.
 *
 * @example
 * ```ts
 * tradingDay("2026-11-27")?.close; // "13:00"
 * marketClock(Date.UTC(2026, 3, 28, 18, 7, 4, 451)).next_close; // "2026-04-28T16:00:00-04:00"
 * ```
 *
 * @module
 */

import type { MarketClock, Session } from "./market.ts";
import {
  CalendarError,
  checkInstant,
  civilFromDays,
  DAY_MS,
  daysFromCivil,
  etOffsetMinutes,
  type EtParts,
  FRI,
  lastWeekday,
  localToEpoch,
  MINUTE_MS,
  MON,
  nthWeekday,
  pad2,
  SAT,
  SUN,
  THU,
  toEt,
  TUE,
  TZ_FIRST_YEAR,
  TZ_LAST_YEAR,
  WED,
  weekdayOf,
} from "./et.ts";

export { CalendarError, etOffsetMinutes, type EtParts, toEt };

/** First year with holiday data. */
export const CALENDAR_FIRST_YEAR = 2000;
/** Last year with holiday data. */
export const CALENDAR_LAST_YEAR = 2035;

/** One trading day, shaped like an Alpaca `/v2/calendar` entry plus epoch milliseconds. */
export interface TradingDay {
  /** `"YYYY-MM-DD"`. */
  readonly date: string;
  /** Core open, always `"09:30"`. */
  readonly open: string;
  /** Core close, `"16:00"` or `"13:00"` on early-close days. */
  readonly close: string;
  /** Pre-market open, always `"0400"`. */
  readonly sessionOpen: string;
  /** After-hours close, `"2000"` or `"1700"` on early-close days. */
  readonly sessionClose: string;
  /** The next trading day (T+1). */
  readonly settlementDate: string;
  /** Core open as epoch ms. */
  readonly openMs: number;
  /** Core close as epoch ms. */
  readonly closeMs: number;
  /** Pre-market open (04:00 ET) as epoch ms. */
  readonly preOpenMs: number;
  /** After-hours close (20:00 or 17:00 ET) as epoch ms. */
  readonly postCloseMs: number;
}

/** A dated calendar event: a full closure or an early close, with its reason. */
export interface NamedDay {
  /** `"YYYY-MM-DD"`. */
  readonly date: string;
  /** What the day is, e.g. `"Good Friday"` or `"Day after Thanksgiving"`. */
  readonly name: string;
}

/** Options for {@link sessionCloseMs}. */
export interface SessionCloseOptions {
  /** Use the end of after-hours (20:00, or 17:00 on early closes) instead of the core close. */
  extendedHours?: boolean;
}

function dateStrOf(dn: number): string {
  const [y, m, d] = civilFromDays(dn);
  return `${y}-${pad2(m)}-${pad2(d)}`;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** Parses a strict `YYYY-MM-DD` calendar date into a day number. */
function parseDate(dateStr: string): number {
  const m = typeof dateStr === "string" ? DATE_RE.exec(dateStr) : null;
  if (m) {
    const y = Number(m[1]), mo = Number(m[2]), d = Number(m[3]);
    if (mo >= 1 && mo <= 12 && d >= 1) {
      const dn = daysFromCivil(y, mo, d);
      if (civilFromDays(dn)[2] === d) return dn;
    }
  }
  throw new CalendarError(`Cannot read date "${String(dateStr)}": expected a real YYYY-MM-DD date`);
}

/**
 * The instant at which an ET wall-clock time occurs on an ET date. `time` is `"HH:MM"` or
 * `"HH:MM:SS"` (24-hour). In the repeated fall-back hour the first (EDT) occurrence is chosen;
 * a time skipped by spring-forward (02:00–02:59) is read as EST, i.e. one hour later in EDT.
 *
 * @example
 * ```ts
 * etToEpochMs("2026-04-28", "09:30") === Date.UTC(2026, 3, 28, 13, 30); // true
 * ```
 * @throws {CalendarError} if the date or time cannot be read, or the year is outside 1987–9999.
 */
export function etToEpochMs(dateStr: string, time: string): number {
  const dn = parseDate(dateStr);
  const m = typeof time === "string" ? TIME_RE.exec(time) : null;
  const h = Number(m?.[1]), mi = Number(m?.[2]), s = Number(m?.[3] ?? 0);
  if (!m || h > 23 || mi > 59 || s > 59) {
    throw new CalendarError(`Cannot read time "${String(time)}": expected HH:MM or HH:MM:SS`);
  }
  const local = dn * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000;
  const year = civilFromDays(dn)[0];
  if (year < TZ_FIRST_YEAR || year > TZ_LAST_YEAR) {
    throw new CalendarError(
      `Cannot convert "${dateStr} ${time}" from ET: years ${TZ_FIRST_YEAR} to ${TZ_LAST_YEAR} only`,
    );
  }
  return localToEpoch(local);
}

/**
 * Formats an instant as RFC 3339 in ET, the way Alpaca's clock does:
 * `"2026-04-28T14:07:04.451-04:00"`. Milliseconds are omitted when zero
 * (`"2026-04-29T09:30:00-04:00"`).
 *
 * @throws {CalendarError} if `tsMs` is not finite or outside the supported years (1987–9999).
 */
export function formatEt(tsMs: number): string {
  const p = toEt(tsMs);
  const frac = p.ms === 0 ? "" : `.${String(p.ms).padStart(3, "0")}`;
  const off = p.offsetMinutes === -240 ? "-04:00" : "-05:00";
  return `${p.dateStr}T${pad2(p.hour)}:${pad2(p.minute)}:${pad2(p.second)}${frac}${off}`;
}

// ---------------------------------------------------------------------------------------------
// Holidays and early closes

const FIRST_DN = daysFromCivil(CALENDAR_FIRST_YEAR, 1, 1);
const LAST_DN = daysFromCivil(CALENDAR_LAST_YEAR, 12, 31);

const UNSCHEDULED_CLOSURES: ReadonlyArray<readonly [string, string]> = [
  ["2001-09-11", "September 11 attacks"],
  ["2001-09-12", "September 11 attacks"],
  ["2001-09-13", "September 11 attacks"],
  ["2001-09-14", "September 11 attacks"],
  ["2004-06-11", "National day of mourning for Ronald Reagan"],
  ["2007-01-02", "National day of mourning for Gerald Ford"],
  ["2012-10-29", "Hurricane Sandy"],
  ["2012-10-30", "Hurricane Sandy"],
  ["2018-12-05", "National day of mourning for George H. W. Bush"],
  ["2025-01-09", "National day of mourning for Jimmy Carter"],
];

const ADHOC_EARLY_CLOSES: ReadonlyArray<readonly [string, string]> = [
  ["2003-12-26", "Day after Christmas"],
];

interface YearEvents {
  holidays: Array<readonly [number, string]>;
  earlyCloses: Array<readonly [number, string]>;
}

/** Easter Sunday (anonymous Gregorian algorithm) as a day number. */
function easter(y: number): number {
  const a = y % 19, b = Math.floor(y / 100), c = y % 100;
  const d = Math.floor(b / 4), e = b % 4, f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4), k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return daysFromCivil(y, month, day);
}

/** Saturday → Friday before, Sunday → Monday after. */
function observed(dn: number): number {
  const wd = weekdayOf(dn);
  return wd === SAT ? dn - 1 : wd === SUN ? dn + 1 : dn;
}

function computeYear(y: number): YearEvents {
  const holidays: Array<readonly [number, string]> = [];
  const newYear = daysFromCivil(y, 1, 1);
  if (weekdayOf(newYear) !== SAT) holidays.push([observed(newYear), "New Year's Day"]);
  holidays.push([nthWeekday(y, 1, MON, 3), "Martin Luther King Jr. Day"]);
  holidays.push([nthWeekday(y, 2, MON, 3), "Washington's Birthday"]);
  holidays.push([easter(y) - 2, "Good Friday"]);
  holidays.push([lastWeekday(y, 5, MON), "Memorial Day"]);
  if (y >= 2022) holidays.push([observed(daysFromCivil(y, 6, 19)), "Juneteenth"]);
  holidays.push([observed(daysFromCivil(y, 7, 4)), "Independence Day"]);
  holidays.push([nthWeekday(y, 9, MON, 1), "Labor Day"]);
  const thanksgiving = nthWeekday(y, 11, THU, 4);
  holidays.push([thanksgiving, "Thanksgiving Day"]);
  holidays.push([observed(daysFromCivil(y, 12, 25)), "Christmas Day"]);
  for (const [date, name] of UNSCHEDULED_CLOSURES) {
    const dn = parseDate(date);
    if (civilFromDays(dn)[0] === y) holidays.push([dn, name]);
  }
  holidays.sort((a, b) => a[0] - b[0]);

  const closed = new Set(holidays.map(([dn]) => dn));
  const earlyCloses: Array<readonly [number, string]> = [];
  const julyFourthWd = weekdayOf(daysFromCivil(y, 7, 4));
  if (julyFourthWd === TUE || julyFourthWd === WED || julyFourthWd === FRI) {
    earlyCloses.push([daysFromCivil(y, 7, 3), "Day before Independence Day"]);
  } else if (julyFourthWd === THU) {
    earlyCloses.push(
      y >= 2013
        ? [daysFromCivil(y, 7, 3), "Day before Independence Day"]
        : [daysFromCivil(y, 7, 5), "Day after Independence Day"],
    );
  }
  earlyCloses.push([thanksgiving + 1, "Day after Thanksgiving"]);
  const christmasEve = daysFromCivil(y, 12, 24);
  const eveWd = weekdayOf(christmasEve);
  if (eveWd >= MON && eveWd <= THU) earlyCloses.push([christmasEve, "Christmas Eve"]);
  for (const [date, name] of ADHOC_EARLY_CLOSES) {
    const dn = parseDate(date);
    if (civilFromDays(dn)[0] === y) earlyCloses.push([dn, name]);
  }
  return {
    holidays,
    earlyCloses: earlyCloses.filter(([dn]) => !closed.has(dn)).sort((a, b) => a[0] - b[0]),
  };
}

const yearCache = new Map<number, YearEvents>();

function yearEvents(y: number): YearEvents {
  let ev = yearCache.get(y);
  if (ev === undefined) {
    ev = computeYear(y);
    yearCache.set(y, ev);
  }
  return ev;
}

const STATUS_CLOSED = 0, STATUS_FULL = 1, STATUS_EARLY = 2;
/** Day status for FIRST_DN..LAST_DN, built on first use; 255 = not built yet. */
const statusTable = new Uint8Array(LAST_DN - FIRST_DN + 1).fill(255);

function buildYearStatus(y: number): void {
  const first = daysFromCivil(y, 1, 1);
  const last = daysFromCivil(y + 1, 1, 1) - 1;
  for (let dn = first; dn <= last; dn++) {
    const wd = weekdayOf(dn);
    statusTable[dn - FIRST_DN] = wd === SAT || wd === SUN ? STATUS_CLOSED : STATUS_FULL;
  }
  const ev = yearEvents(y);
  for (const [dn] of ev.holidays) statusTable[dn - FIRST_DN] = STATUS_CLOSED;
  for (const [dn] of ev.earlyCloses) statusTable[dn - FIRST_DN] = STATUS_EARLY;
}

function rangeError(action: string, value: string): CalendarError {
  return new CalendarError(
    `Cannot ${action} "${value}": holiday data covers ${CALENDAR_FIRST_YEAR}-01-01 to ` +
      `${CALENDAR_LAST_YEAR}-12-31`,
  );
}

/** Status of a day number already known to be in range. */
function statusOf(dn: number): number {
  const i = dn - FIRST_DN;
  let s = statusTable[i]!;
  if (s === 255) {
    buildYearStatus(civilFromDays(dn)[0]);
    s = statusTable[i]!;
  }
  return s;
}

function inRange(dn: number): boolean {
  return dn >= FIRST_DN && dn <= LAST_DN;
}

function checkYear(year: number): void {
  if (!Number.isInteger(year) || year < CALENDAR_FIRST_YEAR || year > CALENDAR_LAST_YEAR) {
    throw new CalendarError(
      `Cannot list market days of year "${year}": holiday data covers ${CALENDAR_FIRST_YEAR} ` +
        `to ${CALENDAR_LAST_YEAR}`,
    );
  }
}

/**
 * The weekdays on which the market is fully closed in a year (observed dates), in date order.
 *
 * @example
 * ```ts
 * marketHolidays(2026)[3]; // { date: "2026-04-03", name: "Good Friday" }
 * ```
 * @throws {CalendarError} if `year` is not an integer in 2000–2035.
 */
export function marketHolidays(year: number): NamedDay[] {
  checkYear(year);
  return yearEvents(year).holidays.map(([dn, name]) => ({ date: dateStrOf(dn), name }));
}

/**
 * The days in a year on which the core session closes at 13:00, in date order.
 *
 * @throws {CalendarError} if `year` is not an integer in 2000–2035.
 */
export function earlyCloses(year: number): NamedDay[] {
  checkYear(year);
  return yearEvents(year).earlyCloses.map(([dn, name]) => ({ date: dateStrOf(dn), name }));
}

// ---------------------------------------------------------------------------------------------
// Trading days

interface DayTimes {
  preOpenMs: number;
  openMs: number;
  closeMs: number;
  postCloseMs: number;
}

const timesCache: Array<DayTimes | undefined> = [];
const dayCache: Array<TradingDay | undefined> = [];

/** Session times of an in-range trading day. */
function timesOf(dn: number, status: number): DayTimes {
  const i = dn - FIRST_DN;
  let t = timesCache[i];
  if (t === undefined) {
    const base = dn * DAY_MS;
    const early = status === STATUS_EARLY;
    t = {
      preOpenMs: localToEpoch(base + 240 * MINUTE_MS),
      openMs: localToEpoch(base + 570 * MINUTE_MS),
      closeMs: localToEpoch(base + (early ? 780 : 960) * MINUTE_MS),
      postCloseMs: localToEpoch(base + (early ? 1020 : 1200) * MINUTE_MS),
    };
    timesCache[i] = t;
  }
  return t;
}

/** The first trading day after `dn`, or -1 when holiday data runs out. */
function nextOpenDn(dn: number): number {
  for (let d = Math.max(dn + 1, FIRST_DN); d <= LAST_DN; d++) {
    if (statusOf(d) !== STATUS_CLOSED) return d;
  }
  return -1;
}

/** The last trading day before `dn`, or -1 when holiday data runs out. */
function prevOpenDn(dn: number): number {
  for (let d = Math.min(dn - 1, LAST_DN); d >= FIRST_DN; d--) {
    if (statusOf(d) !== STATUS_CLOSED) return d;
  }
  return -1;
}

function parseInRange(dateStr: string, action: string): number {
  const dn = parseDate(dateStr);
  if (!inRange(dn)) throw rangeError(action, dateStr);
  return dn;
}

/**
 * Whether the market trades (core session) on an ET date.
 *
 * @throws {CalendarError} if the date cannot be read or lies outside 2000–2035.
 */
export function isTradingDay(dateStr: string): boolean {
  return statusOf(parseInRange(dateStr, "check trading day")) !== STATUS_CLOSED;
}

function buildTradingDay(dn: number, status: number): TradingDay {
  const i = dn - FIRST_DN;
  let td = dayCache[i];
  if (td === undefined) {
    const date = dateStrOf(dn);
    const settle = nextOpenDn(dn);
    if (settle < 0) throw rangeError("compute the settlement date of", date);
    const early = status === STATUS_EARLY;
    td = Object.freeze({
      date,
      open: "09:30",
      close: early ? "13:00" : "16:00",
      sessionOpen: "0400",
      sessionClose: early ? "1700" : "2000",
      settlementDate: dateStrOf(settle),
      ...timesOf(dn, status),
    });
    dayCache[i] = td;
  }
  return td;
}

/**
 * The trading day on an ET date, or `null` on weekends and holidays. The result is frozen and
 * shared between callers. `settlementDate` is the next trading day (T+1 for every year; bank-only
 * holidays such as Columbus Day are not considered).
 *
 * @example
 * ```ts
 * tradingDay("2026-07-02")?.settlementDate; // "2026-07-06"
 * tradingDay("2026-07-03"); // null (Independence Day observed)
 * ```
 * @throws {CalendarError} if the date cannot be read, lies outside 2000–2035, or its settlement
 * date would fall after 2035-12-31.
 */
export function tradingDay(dateStr: string): TradingDay | null {
  const dn = parseInRange(dateStr, "look up trading day");
  const status = statusOf(dn);
  return status === STATUS_CLOSED ? null : buildTradingDay(dn, status);
}

/**
 * The trading days from `startDate` to `endDate`, both inclusive, in order; holidays and
 * weekends are absent. An empty array when `startDate` is after `endDate`.
 *
 * @example
 * ```ts
 * calendar("2026-07-02", "2026-07-06").map((d) => d.date); // ["2026-07-02", "2026-07-06"]
 * ```
 * @throws {CalendarError} if either date cannot be read or lies outside 2000–2035, or the range
 * includes 2035-12-31 (its settlement date is unknown).
 */
export function calendar(startDate: string, endDate: string): TradingDay[] {
  const from = parseInRange(startDate, "list the calendar from");
  const to = parseInRange(endDate, "list the calendar to");
  const out: TradingDay[] = [];
  for (let dn = from; dn <= to; dn++) {
    const status = statusOf(dn);
    if (status !== STATUS_CLOSED) out.push(buildTradingDay(dn, status));
  }
  return out;
}

/**
 * The last trading day strictly before an ET date (which need not be a trading day itself).
 *
 * @throws {CalendarError} if the date cannot be read or lies outside 2000–2035, or no trading
 * day precedes it within 2000–2035.
 */
export function previousTradingDay(dateStr: string): string {
  const dn = prevOpenDn(parseInRange(dateStr, "find the trading day before"));
  if (dn < 0) throw rangeError("find the trading day before", dateStr);
  return dateStrOf(dn);
}

/**
 * The first trading day strictly after an ET date (which need not be a trading day itself).
 *
 * @throws {CalendarError} if the date cannot be read or lies outside 2000–2035, or no trading
 * day follows it within 2000–2035.
 */
export function nextTradingDay(dateStr: string): string {
  const dn = nextOpenDn(parseInRange(dateStr, "find the trading day after"));
  if (dn < 0) throw rangeError("find the trading day after", dateStr);
  return dateStrOf(dn);
}

// ---------------------------------------------------------------------------------------------
// Clock

/** The ET day number of an instant, checked to be within holiday data. */
function etDayOf(tsMs: number, action: string): number {
  const local = Math.floor(tsMs) + etOffsetMinutes(tsMs) * MINUTE_MS;
  const dn = Math.floor(local / DAY_MS);
  if (!inRange(dn)) throw rangeError(action, new Date(tsMs).toISOString());
  return dn;
}

// The ET day of the most recent sessionAt call: [start, end) in epoch ms and its times.
let hotDayStart = NaN;
let hotDayEnd = NaN;
let hotTimes: DayTimes | null = null;

/**
 * The session an instant falls in: `"pre"` 04:00–09:30, `"core"` 09:30–close, `"post"`
 * close–20:00 (17:00 on early closes), otherwise `"closed"` (also all day on weekends and
 * holidays). Each boundary belongs to the session it opens. Cheap on repeated calls within one
 * ET day, so it can run per tick.
 *
 * @throws {CalendarError} if `tsMs` is not finite or its ET date lies outside 2000–2035.
 */
export function sessionAt(tsMs: number): Session {
  if (!(tsMs >= hotDayStart && tsMs < hotDayEnd)) {
    checkInstant(tsMs, "find the session at");
    const dn = etDayOf(tsMs, "find the session at");
    const status = statusOf(dn);
    hotTimes = status === STATUS_CLOSED ? null : timesOf(dn, status);
    hotDayStart = localToEpoch(dn * DAY_MS);
    hotDayEnd = localToEpoch((dn + 1) * DAY_MS);
  }
  const t = hotTimes;
  if (t === null || tsMs < t.preOpenMs || tsMs >= t.postCloseMs) return "closed";
  if (tsMs < t.openMs) return "pre";
  if (tsMs < t.closeMs) return "core";
  return "post";
}

type TimeKey = keyof DayTimes;

/** The first `key` instant of any trading day strictly after `tsMs`. */
function nextBoundary(tsMs: number, key: TimeKey, action: string): number {
  checkInstant(tsMs, action);
  let dn = etDayOf(tsMs, action);
  for (;;) {
    const status = statusOf(dn);
    if (status !== STATUS_CLOSED) {
      const at = timesOf(dn, status)[key];
      if (at > tsMs) return at;
    }
    dn = nextOpenDn(dn);
    if (dn < 0) throw rangeError(action, new Date(tsMs).toISOString());
  }
}

/**
 * The next core-session open strictly after an instant (at exactly 09:30 ET it is the next
 * trading day's open).
 *
 * @throws {CalendarError} if `tsMs` is not finite, its ET date lies outside 2000–2035, or the
 * answer would fall after 2035-12-31.
 */
export function nextOpenMs(tsMs: number): number {
  return nextBoundary(tsMs, "openMs", "find the next open after");
}

/**
 * The next core-session close strictly after an instant: today's close while the market is open
 * or before today's open on a trading day, otherwise the close of the next trading day.
 *
 * @throws {CalendarError} if `tsMs` is not finite, its ET date lies outside 2000–2035, or the
 * answer would fall after 2035-12-31.
 */
export function nextCloseMs(tsMs: number): number {
  return nextBoundary(tsMs, "closeMs", "find the next close after");
}

/**
 * Alpaca's `GET /v2/clock` at an instant. `is_open` is true during the core session only;
 * `next_open` and `next_close` are {@link nextOpenMs} and {@link nextCloseMs}, formatted with
 * {@link formatEt}.
 *
 * @example
 * ```ts
 * marketClock(Date.UTC(2026, 3, 24, 20, 0)); // Friday 16:00 EDT
 * // { timestamp: "2026-04-24T16:00:00-04:00", is_open: false,
 * //   next_open: "2026-04-27T09:30:00-04:00", next_close: "2026-04-27T16:00:00-04:00" }
 * ```
 * @throws {CalendarError} if `tsMs` is not finite, its ET date lies outside 2000–2035, or the
 * next open or close would fall after 2035-12-31.
 */
export function marketClock(tsMs: number): MarketClock {
  return {
    timestamp: formatEt(tsMs),
    is_open: sessionAt(tsMs) === "core",
    next_open: formatEt(nextOpenMs(tsMs)),
    next_close: formatEt(nextCloseMs(tsMs)),
  };
}

/**
 * When a DAY order placed at `tsMs` expires: the first core close strictly after `tsMs`. That is
 * today's close if placed on a trading day before its close (pre-market included), otherwise
 * the close of the next trading day (after-hours, nights, weekends, holidays, and exactly at the
 * close). With `extendedHours`, the first after-hours end (20:00, or 17:00 on early closes)
 * strictly after `tsMs` instead.
 *
 * @throws {CalendarError} if `tsMs` is not finite, its ET date lies outside 2000–2035, or the
 * expiry would fall after 2035-12-31.
 */
export function sessionCloseMs(tsMs: number, options: SessionCloseOptions = {}): number {
  return options.extendedHours
    ? nextBoundary(tsMs, "postCloseMs", "find the session close after")
    : nextBoundary(tsMs, "closeMs", "find the session close after");
}
