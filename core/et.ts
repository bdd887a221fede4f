/**
 * America/New_York wall-clock time, computed locally from the US daylight-saving rules (no
 * `Intl`): from 2007 on, EDT (UTC-4) runs from the second Sunday of March 02:00 EST to the first
 * Sunday of November 02:00 EDT; from 1987 to 2006, from the first Sunday of April to the last
 * Sunday of October. Instants outside ET years 1987–9999 are refused.
 *
 * Split from calendar.ts (which re-exports it) so code that only needs ET time, such as a bot
 * Worker checking its trading window, does not load the holiday tables.
 *
 * @module
 */

/** Thrown when a date, time or instant cannot be read, or falls outside the supported range. */
export class CalendarError extends Error {
  override name = "CalendarError";
}

/** Wall-clock fields of an instant in America/New_York. */
export interface EtParts {
  /** Four-digit year. */
  year: number;
  /** Month, 1–12. */
  month: number;
  /** Day of month, 1–31. */
  day: number;
  /** Hour, 0–23. */
  hour: number;
  /** Minute, 0–59. */
  minute: number;
  /** Second, 0–59. */
  second: number;
  /** Millisecond, 0–999. */
  ms: number;
  /** Day of week, 0 = Sunday … 6 = Saturday (as `Date#getDay`). */
  weekday: number;
  /** The ET calendar date, `"YYYY-MM-DD"`. */
  dateStr: string;
  /** UTC offset in minutes: -240 (EDT) or -300 (EST). */
  offsetMinutes: number;
}

// ---------------------------------------------------------------------------------------------
// Civil-date arithmetic (days since 1970-01-01, proleptic Gregorian)

export const DAY_MS = 86_400_000;
export const MINUTE_MS = 60_000;
export const SUN = 0, MON = 1, TUE = 2, WED = 3, THU = 4, FRI = 5, SAT = 6;

export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Returns [year, month, day] for a day number. */
export function civilFromDays(dn: number): [number, number, number] {
  const z = dn + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

export function weekdayOf(dn: number): number {
  return (((dn + 4) % 7) + 7) % 7;
}

/** The n-th (1-based) given weekday of a month. */
export function nthWeekday(y: number, m: number, wd: number, n: number): number {
  const first = daysFromCivil(y, m, 1);
  return first + ((wd - weekdayOf(first) + 7) % 7) + (n - 1) * 7;
}

/** The last given weekday of a month. */
export function lastWeekday(y: number, m: number, wd: number): number {
  const last = m === 12 ? daysFromCivil(y + 1, 1, 1) - 1 : daysFromCivil(y, m + 1, 1) - 1;
  return last - ((weekdayOf(last) - wd + 7) % 7);
}

export function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

// ---------------------------------------------------------------------------------------------
// America/New_York offsets

export const TZ_FIRST_YEAR = 1987;
export const TZ_LAST_YEAR = 9999;
// ET midnight (EST, UTC-5) at the start of the first year and after the end of the last one.
export const TZ_MIN_MS = Date.UTC(TZ_FIRST_YEAR, 0, 1, 5);
export const TZ_MAX_MS = Date.UTC(TZ_LAST_YEAR + 1, 0, 1, 5);

/** Per year: [DST start, DST end) in epoch ms. */
const dstCache = new Map<number, readonly [number, number]>();

export function dstRange(year: number): readonly [number, number] {
  let r = dstCache.get(year);
  if (r === undefined) {
    // Transitions happen at 02:00 local: 07:00Z when entering EDT, 06:00Z when leaving it.
    const start = year >= 2007 ? nthWeekday(year, 3, SUN, 2) : nthWeekday(year, 4, SUN, 1);
    const end = year >= 2007 ? nthWeekday(year, 11, SUN, 1) : lastWeekday(year, 10, SUN);
    r = [start * DAY_MS + 7 * 3_600_000, end * DAY_MS + 6 * 3_600_000] as const;
    dstCache.set(year, r);
  }
  return r;
}

// The most recently used UTC year, so per-tick calls skip the year computation.
let hotYearStart = NaN;
let hotYearEnd = NaN;
let hotDstStart = NaN;
let hotDstEnd = NaN;

export function checkInstant(tsMs: number, action: string): void {
  if (typeof tsMs !== "number" || !Number.isFinite(tsMs)) {
    throw new CalendarError(`Cannot ${action} "${String(tsMs)}": not a finite epoch ms`);
  }
  if (tsMs < TZ_MIN_MS || tsMs >= TZ_MAX_MS) {
    throw new CalendarError(
      `Cannot ${action} "${tsMs}": ET offsets are known from ${TZ_FIRST_YEAR} to ${TZ_LAST_YEAR}`,
    );
  }
}

/**
 * The America/New_York UTC offset at an instant: -240 during EDT, -300 during EST.
 *
 * @throws {CalendarError} if `tsMs` is not finite or its ET year is outside 1987–9999.
 */
export function etOffsetMinutes(tsMs: number): number {
  if (!(tsMs >= hotYearStart && tsMs < hotYearEnd)) {
    checkInstant(tsMs, "find the ET offset of");
    const year = civilFromDays(Math.floor(tsMs / DAY_MS))[0];
    hotYearStart = Math.max(Date.UTC(year, 0, 1), TZ_MIN_MS);
    hotYearEnd = Math.min(Date.UTC(year + 1, 0, 1), TZ_MAX_MS);
    [hotDstStart, hotDstEnd] = dstRange(year);
  }
  return tsMs >= hotDstStart && tsMs < hotDstEnd ? -240 : -300;
}

/**
 * Converts ET wall-clock milliseconds (as if ET were UTC) to an epoch instant. A wall time that
 * occurs twice (the November fall-back hour) maps to the first occurrence (EDT); a wall time that
 * does not exist (the March spring-forward hour) is read with the EST offset, landing one hour
 * later in EDT, like Temporal's "compatible" disambiguation.
 */
export function localToEpoch(localMs: number): number {
  const [dstStart, dstEnd] = dstRange(civilFromDays(Math.floor(localMs / DAY_MS))[0]);
  const asEdt = localMs + 240 * MINUTE_MS;
  return asEdt >= dstStart && asEdt < dstEnd ? asEdt : localMs + 300 * MINUTE_MS;
}

/**
 * Splits an instant into America/New_York wall-clock fields.
 *
 * @example
 * ```ts
 * toEt(Date.UTC(2026, 3, 28, 18, 7, 4, 451)).dateStr; // "2026-04-28" (14:07:04.451 EDT)
 * ```
 * @throws {CalendarError} if `tsMs` is not finite or outside the supported years (1987–9999).
 */
export function toEt(tsMs: number): EtParts {
  const offsetMinutes = etOffsetMinutes(tsMs);
  const local = Math.floor(tsMs) + offsetMinutes * MINUTE_MS;
  const dn = Math.floor(local / DAY_MS);
  let rest = local - dn * DAY_MS;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / MINUTE_MS);
  rest -= minute * MINUTE_MS;
  const second = Math.floor(rest / 1000);
  const [year, month, day] = civilFromDays(dn);
  return {
    year,
    month,
    day,
    hour,
    minute,
    second,
    ms: rest - second * 1000,
    weekday: weekdayOf(dn),
    dateStr: `${year}-${pad2(month)}-${pad2(day)}`,
    offsetMinutes,
  };
}
