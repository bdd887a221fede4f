import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  calendar,
  CALENDAR_FIRST_YEAR,
  CALENDAR_LAST_YEAR,
  CalendarError,
  earlyCloses,
  etOffsetMinutes,
  etToEpochMs,
  formatEt,
  isTradingDay,
  marketClock,
  marketHolidays,
  nextCloseMs,
  nextOpenMs,
  nextTradingDay,
  previousTradingDay,
  sessionAt,
  sessionCloseMs,
  toEt,
  tradingDay,
} from "../../core/calendar.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

const HOUR = 3_600_000;

/** Deterministic PRNG (mulberry32) so every run checks the same instants. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const intlFormat = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  weekday: "short",
  hourCycle: "h23",
});
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** Reference ET fields from the platform's tz database. */
function intlEt(tsMs: number) {
  const p: Record<string, string> = {};
  for (const part of intlFormat.formatToParts(tsMs)) p[part.type] = part.value;
  const year = Number(p.year), month = Number(p.month), day = Number(p.day);
  const hour = Number(p.hour), minute = Number(p.minute), second = Number(p.second);
  const ms = ((tsMs % 1000) + 1000) % 1000;
  const wallAsUtc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return {
    year,
    month,
    day,
    hour,
    minute,
    second,
    ms,
    weekday: WEEKDAYS.indexOf(p.weekday!),
    dateStr: `${p.year}-${p.month}-${p.day}`,
    offsetMinutes: (wallAsUtc - tsMs) / 60_000,
  };
}

/** Reference RFC 3339 rendering built from Intl fields. */
function intlRfc3339(tsMs: number): string {
  const r = intlEt(tsMs);
  const two = (n: number) => String(n).padStart(2, "0");
  const frac = r.ms === 0 ? "" : `.${String(r.ms).padStart(3, "0")}`;
  const off = r.offsetMinutes === -240 ? "-04:00" : "-05:00";
  return `${r.dateStr}T${two(r.hour)}:${two(r.minute)}:${two(r.second)}${frac}${off}`;
}

const et = etToEpochMs;

function throwsCalendar(fn: () => unknown, message: RegExp): void {
  throws(fn, (e: unknown) => {
    ok(e instanceof CalendarError, `expected CalendarError, got ${String(e)}`);
    ok(message.test(e.message), `message ${JSON.stringify(e.message)} does not match ${message}`);
    ok(/^[A-Z]/.test(e.message), `message must start with a capital: ${e.message}`);
    ok(!e.message.endsWith("."), `message must not end with a period: ${e.message}`);
    return true;
  });
}

function addDays(dateStr: string, n: number): string {
  const d = new Date(`${dateStr}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------
// Time zone

Deno.test("toEt and etOffsetMinutes agree with Intl across 2000-2035", () => {
  const next = rng(20260428);
  const end = Date.UTC(2036, 0, 1);
  let checked = 0;
  // Step 3h 17m plus a random jitter so every hour of the day and every minute get visited.
  for (let ts = Date.UTC(2000, 0, 1); ts < end; ts += 11_820_000 + Math.floor(next() * 600_000)) {
    deepStrictEqual(toEt(ts), intlEt(ts), `at ${new Date(ts).toISOString()}`);
    strictEqual(etOffsetMinutes(ts), intlEt(ts).offsetMinutes);
    checked++;
  }
  ok(checked > 90_000);
});

Deno.test("etOffsetMinutes switches exactly where Intl does around every transition, 1987-2100", () => {
  for (let year = 1987; year <= 2100; year++) {
    for (const month of [2, 3, 9, 10]) { // March, April, October, November (0-based)
      for (let day = 1; day <= 31; day++) {
        for (const hour of [6, 7]) {
          const at = Date.UTC(year, month, day, hour);
          for (const ts of [at - 1, at]) {
            strictEqual(etOffsetMinutes(ts), intlEt(ts).offsetMinutes, new Date(ts).toISOString());
          }
        }
      }
    }
  }
});

Deno.test("etOffsetMinutes at known DST boundaries", () => {
  const table: Array<[string, number, number]> = [
    // [what, instant, offset]
    ["2026 spring, last EST ms", Date.UTC(2026, 2, 8, 6, 59, 59, 999), -300],
    ["2026 spring, first EDT ms", Date.UTC(2026, 2, 8, 7), -240],
    ["2026 fall, last EDT ms", Date.UTC(2026, 10, 1, 5, 59, 59, 999), -240],
    ["2026 fall, first EST ms", Date.UTC(2026, 10, 1, 6), -300],
    ["2006 old rule, 1st Sunday of April", Date.UTC(2006, 3, 2, 7), -240],
    ["2006 old rule, before", Date.UTC(2006, 3, 2, 6, 59, 59, 999), -300],
    ["2006 old rule, last Sunday of October", Date.UTC(2006, 9, 29, 6), -300],
    ["2006 old rule, before fall back", Date.UTC(2006, 9, 29, 5, 59, 59, 999), -240],
    ["2007 new rule, 2nd Sunday of March", Date.UTC(2007, 2, 11, 7), -240],
    ["2007 new rule, 1st Sunday of November", Date.UTC(2007, 10, 4, 6), -300],
    ["2007 late October is still EDT", Date.UTC(2007, 9, 30, 12), -240],
    ["2000 first Sunday of April", Date.UTC(2000, 3, 2, 7), -240],
    ["2035 mid-winter", Date.UTC(2035, 0, 15), -300],
    ["2035 mid-summer", Date.UTC(2035, 6, 15), -240],
  ];
  for (const [what, ts, offset] of table) strictEqual(etOffsetMinutes(ts), offset, what);
});

Deno.test("toEt splits instants into ET fields", () => {
  deepStrictEqual(toEt(Date.UTC(2026, 3, 28, 18, 7, 4, 451)), {
    year: 2026,
    month: 4,
    day: 28,
    hour: 14,
    minute: 7,
    second: 4,
    ms: 451,
    weekday: 2,
    dateStr: "2026-04-28",
    offsetMinutes: -240,
  });
  // New Year's Eve in ET while UTC is already in the new year.
  deepStrictEqual(toEt(Date.UTC(2026, 0, 1, 4, 59, 59, 999)), {
    year: 2025,
    month: 12,
    day: 31,
    hour: 23,
    minute: 59,
    second: 59,
    ms: 999,
    weekday: 3,
    dateStr: "2025-12-31",
    offsetMinutes: -300,
  });
  strictEqual(toEt(Date.UTC(2026, 0, 1, 5)).dateStr, "2026-01-01");
  strictEqual(toEt(Date.UTC(2024, 1, 29, 12)).dateStr, "2024-02-29");
});

Deno.test("formatEt renders Alpaca-style RFC 3339", () => {
  const table: Array<[number, string]> = [
    [Date.UTC(2026, 3, 28, 18, 7, 4, 451), "2026-04-28T14:07:04.451-04:00"],
    [Date.UTC(2022, 3, 29, 13, 30), "2022-04-29T09:30:00-04:00"],
    [Date.UTC(2026, 0, 2, 14, 30), "2026-01-02T09:30:00-05:00"],
    [Date.UTC(2026, 0, 2, 14, 30, 0, 7), "2026-01-02T09:30:00.007-05:00"],
    [Date.UTC(2026, 0, 1, 4, 59, 59, 999), "2025-12-31T23:59:59.999-05:00"],
    [Date.UTC(2026, 10, 1, 5, 30), "2026-11-01T01:30:00-04:00"], // first 01:30
    [Date.UTC(2026, 10, 1, 6, 30), "2026-11-01T01:30:00-05:00"], // second 01:30
  ];
  for (const [ts, want] of table) strictEqual(formatEt(ts), want);
  const next = rng(7);
  for (let i = 0; i < 5000; i++) {
    const ts = Date.UTC(2000, 0, 1) +
      Math.floor(next() * (Date.UTC(2036, 0, 1) - Date.UTC(2000, 0, 1)));
    strictEqual(formatEt(ts), intlRfc3339(ts));
  }
});

Deno.test("etToEpochMs converts ET wall time to instants", () => {
  const table: Array<[string, string, number, string]> = [
    ["2026-04-28", "09:30", Date.UTC(2026, 3, 28, 13, 30), "EDT"],
    ["2026-01-02", "09:30", Date.UTC(2026, 0, 2, 14, 30), "EST"],
    ["2026-01-02", "00:00", Date.UTC(2026, 0, 2, 5), "midnight"],
    ["2026-01-02", "23:59:59", Date.UTC(2026, 0, 3, 4, 59, 59), "with seconds"],
    ["2026-03-08", "01:59", Date.UTC(2026, 2, 8, 6, 59), "just before spring forward"],
    ["2026-03-08", "02:30", Date.UTC(2026, 2, 8, 7, 30), "skipped hour reads as EST (03:30 EDT)"],
    ["2026-03-08", "03:00", Date.UTC(2026, 2, 8, 7), "first EDT wall time"],
    ["2026-11-01", "01:30", Date.UTC(2026, 10, 1, 5, 30), "repeated hour takes the EDT one"],
    ["2026-11-01", "02:00", Date.UTC(2026, 10, 1, 7), "after fall back"],
    ["2006-04-02", "03:00", Date.UTC(2006, 3, 2, 7), "old rule"],
  ];
  for (const [date, time, want, what] of table) strictEqual(et(date, time), want, what);
});

Deno.test("etToEpochMs round-trips through toEt outside the transition hours", () => {
  const next = rng(99);
  for (let i = 0; i < 20_000; i++) {
    const ts = Date.UTC(2000, 0, 1) + Math.floor(next() * 36 * 365 * 86_400) * 1000;
    const p = toEt(ts);
    if (p.hour === 1 || p.hour === 2) continue; // ambiguous or skipped on transition days
    const two = (n: number) => String(n).padStart(2, "0");
    strictEqual(et(p.dateStr, `${two(p.hour)}:${two(p.minute)}:${two(p.second)}`), ts);
  }
});

// ---------------------------------------------------------------------------------------------
// Holidays and early closes

Deno.test("marketHolidays lists observed full closures", () => {
  const table: Array<[number, string[]]> = [
    [2001, [
      "01-01",
      "01-15",
      "02-19",
      "04-13",
      "05-28",
      "07-04",
      "09-03",
      "09-11",
      "09-12",
      "09-13",
      "09-14",
      "11-22",
      "12-25",
    ]],
    [2004, [
      "01-01",
      "01-19",
      "02-16",
      "04-09",
      "05-31",
      "06-11",
      "07-05",
      "09-06",
      "11-25",
      "12-24",
    ]],
    [2007, [
      "01-01",
      "01-02",
      "01-15",
      "02-19",
      "04-06",
      "05-28",
      "07-04",
      "09-03",
      "11-22",
      "12-25",
    ]],
    [2012, [
      "01-02",
      "01-16",
      "02-20",
      "04-06",
      "05-28",
      "07-04",
      "09-03",
      "10-29",
      "10-30",
      "11-22",
      "12-25",
    ]],
    [2018, [
      "01-01",
      "01-15",
      "02-19",
      "03-30",
      "05-28",
      "07-04",
      "09-03",
      "11-22",
      "12-05",
      "12-25",
    ]],
    // Juneteenth on a Saturday in 2021 was not yet a market holiday; Christmas on Saturday.
    [2021, ["01-01", "01-18", "02-15", "04-02", "05-31", "07-05", "09-06", "11-25", "12-24"]],
    // New Year's Day on a Saturday: no closure at all; Juneteenth on Sunday moves to Monday.
    [2022, ["01-17", "02-21", "04-15", "05-30", "06-20", "07-04", "09-05", "11-24", "12-26"]],
    [2025, [
      "01-01",
      "01-09",
      "01-20",
      "02-17",
      "04-18",
      "05-26",
      "06-19",
      "07-04",
      "09-01",
      "11-27",
      "12-25",
    ]],
    [2026, [
      "01-01",
      "01-19",
      "02-16",
      "04-03",
      "05-25",
      "06-19",
      "07-03",
      "09-07",
      "11-26",
      "12-25",
    ]],
    [2027, [
      "01-01",
      "01-18",
      "02-15",
      "03-26",
      "05-31",
      "06-18",
      "07-05",
      "09-06",
      "11-25",
      "12-24",
    ]],
  ];
  for (const [year, days] of table) {
    deepStrictEqual(marketHolidays(year).map((h) => h.date), days.map((d) => `${year}-${d}`));
  }
  deepStrictEqual(marketHolidays(2026)[3], { date: "2026-04-03", name: "Good Friday" });
  deepStrictEqual(marketHolidays(2026)[6], { date: "2026-07-03", name: "Independence Day" });
});

Deno.test("marketHolidays includes Juneteenth only from 2022", () => {
  for (let year = CALENDAR_FIRST_YEAR; year <= CALENDAR_LAST_YEAR; year++) {
    const has = marketHolidays(year).some((h) => h.name === "Juneteenth");
    strictEqual(has, year >= 2022, String(year));
  }
});

Deno.test("every listed holiday is a weekday and every weekday holiday is closed", () => {
  for (let year = CALENDAR_FIRST_YEAR; year <= CALENDAR_LAST_YEAR; year++) {
    const holidays = marketHolidays(year);
    ok(holidays.length >= 8, String(year)); // 8 when New Year's Day is a Saturday (2000)
    for (const h of holidays) {
      ok(h.date.startsWith(`${year}-`), h.date);
      const wd = new Date(`${h.date}T12:00:00Z`).getUTCDay();
      ok(wd >= 1 && wd <= 5, `${h.date} is a weekday`);
      strictEqual(isTradingDay(h.date), false, h.date);
      strictEqual(tradingDay(h.date), null, h.date);
    }
  }
});

Deno.test("earlyCloses lists 13:00 closes", () => {
  const table: Array<[number, string[]]> = [
    [2000, ["07-03", "11-24"]], // Dec 24 was a Sunday
    [2002, ["07-05", "11-29", "12-24"]], // July 4 on Thursday before 2013: the Friday after
    [2003, ["07-03", "11-28", "12-24", "12-26"]],
    [2013, ["07-03", "11-29", "12-24"]], // July 4 on Thursday from 2013: the Wednesday before
    [2015, ["11-27", "12-24"]], // July 3 was the observed holiday; no early close on July 2
    [2018, ["07-03", "11-23", "12-24"]],
    [2019, ["07-03", "11-29", "12-24"]],
    [2020, ["11-27", "12-24"]],
    [2021, ["11-26"]], // Dec 24 was the observed Christmas
    [2022, ["11-25"]], // July 4 Monday, Dec 24 Saturday
    [2024, ["07-03", "11-29", "12-24"]],
    [2025, ["07-03", "11-28", "12-24"]],
    [2026, ["11-27", "12-24"]], // not 2026-07-02: July 3 is the observed holiday
    [2027, ["11-26"]],
  ];
  for (const [year, days] of table) {
    deepStrictEqual(earlyCloses(year).map((h) => h.date), days.map((d) => `${year}-${d}`));
  }
  deepStrictEqual(earlyCloses(2026)[0], { date: "2026-11-27", name: "Day after Thanksgiving" });
});

Deno.test("isTradingDay on known dates", () => {
  const table: Array<[string, boolean, string]> = [
    ["2026-07-02", true, "Thursday before the observed Independence Day"],
    ["2026-07-03", false, "Independence Day observed on Friday"],
    ["2026-07-06", true, "Monday after"],
    ["2021-12-23", true, "before observed Christmas"],
    ["2021-12-24", false, "Christmas observed on Friday"],
    ["2021-12-31", true, "New Year's Day 2022 on Saturday is not observed"],
    ["2022-01-03", true, "Monday after a Saturday New Year"],
    ["2010-12-31", true, "New Year's Day 2011 on Saturday is not observed"],
    ["2023-01-02", false, "New Year's Day 2023 on Sunday is observed on Monday"],
    ["2001-09-10", true, "day before 9/11"],
    ["2001-09-11", false, "9/11"],
    ["2001-09-12", false, "9/11"],
    ["2001-09-13", false, "9/11"],
    ["2001-09-14", false, "9/11"],
    ["2001-09-17", true, "reopening"],
    ["2004-06-11", false, "Reagan"],
    ["2007-01-02", false, "Ford"],
    ["2012-10-29", false, "Sandy"],
    ["2012-10-30", false, "Sandy"],
    ["2012-10-31", true, "after Sandy"],
    ["2018-12-05", false, "G.H.W. Bush"],
    ["2025-01-09", false, "Carter"],
    ["2021-06-18", true, "Juneteenth 2021 (Saturday) was not a market holiday"],
    ["2022-06-20", false, "Juneteenth 2022 observed Monday"],
    ["2023-06-19", false, "Juneteenth"],
    ["2027-06-18", false, "Juneteenth observed Friday"],
    ["2026-04-03", false, "Good Friday"],
    ["2027-03-26", false, "Good Friday"],
    ["2026-04-06", true, "Easter Monday trades"],
    ["2026-11-27", true, "day after Thanksgiving (early close)"],
    ["2026-10-12", true, "Columbus Day trades"],
    ["2026-11-11", true, "Veterans Day trades"],
    ["2026-05-02", false, "Saturday"],
    ["2026-05-03", false, "Sunday"],
    ["2000-01-03", true, "first trading day of 2000"],
    ["2035-12-31", true, "last trading day in range"],
  ];
  for (const [date, want, what] of table) strictEqual(isTradingDay(date), want, `${date} ${what}`);
});

Deno.test("trading-day counts per year match published figures", () => {
  const table: Array<[number, number]> = [
    [2000, 252],
    [2001, 248],
    [2012, 250],
    [2018, 251],
    [2019, 252],
    [2020, 253],
    [2021, 252],
    [2022, 251],
    [2023, 250],
    [2024, 252],
    [2025, 250],
    [2026, 251],
  ];
  for (const [year, count] of table) {
    strictEqual(calendar(`${year}-01-01`, `${year}-12-31`).length, count, String(year));
  }
});

// ---------------------------------------------------------------------------------------------
// Trading days

Deno.test("tradingDay on a regular day", () => {
  deepStrictEqual(tradingDay("2026-04-28"), {
    date: "2026-04-28",
    open: "09:30",
    close: "16:00",
    sessionOpen: "0400",
    sessionClose: "2000",
    settlementDate: "2026-04-29",
    preOpenMs: Date.UTC(2026, 3, 28, 8),
    openMs: Date.UTC(2026, 3, 28, 13, 30),
    closeMs: Date.UTC(2026, 3, 28, 20),
    postCloseMs: Date.UTC(2026, 3, 29, 0),
  });
});

Deno.test("tradingDay on early-close days", () => {
  deepStrictEqual(tradingDay("2026-11-27"), {
    date: "2026-11-27",
    open: "09:30",
    close: "13:00",
    sessionOpen: "0400",
    sessionClose: "1700",
    settlementDate: "2026-11-30",
    preOpenMs: Date.UTC(2026, 10, 27, 9),
    openMs: Date.UTC(2026, 10, 27, 14, 30),
    closeMs: Date.UTC(2026, 10, 27, 18),
    postCloseMs: Date.UTC(2026, 10, 27, 22),
  });
  const table: Array<[string, string]> = [
    ["2025-07-03", "2025-07-07"],
    ["2025-11-28", "2025-12-01"],
    ["2025-12-24", "2025-12-26"],
    ["2026-12-24", "2026-12-28"],
    ["2027-11-26", "2027-11-29"],
    ["2024-07-03", "2024-07-05"],
    ["2019-07-03", "2019-07-05"],
    ["2018-07-03", "2018-07-05"],
    ["2013-07-03", "2013-07-05"],
    ["2024-12-24", "2024-12-26"],
    ["2019-12-24", "2019-12-26"],
  ];
  for (const [date, settles] of table) {
    const d = tradingDay(date);
    strictEqual(d?.close, "13:00", date);
    strictEqual(d?.sessionClose, "1700", date);
    strictEqual(d?.settlementDate, settles, date);
    strictEqual(d.closeMs - d.openMs, 3.5 * HOUR, date);
  }
  strictEqual(tradingDay("2026-07-02")?.close, "16:00");
  strictEqual(tradingDay("2021-12-23")?.close, "16:00");
  strictEqual(tradingDay("2021-12-31")?.close, "16:00");
});

Deno.test("tradingDay is null on weekends and holidays, and results are frozen", () => {
  for (const date of ["2026-07-03", "2026-07-04", "2026-07-05", "2021-12-24", "2001-09-11"]) {
    strictEqual(tradingDay(date), null, date);
  }
  const d = tradingDay("2026-04-28")!;
  ok(Object.isFrozen(d));
  strictEqual(tradingDay("2026-04-28"), d, "cached");
});

Deno.test("tradingDay times follow DST", () => {
  const table: Array<[string, number]> = [
    ["2026-03-06", Date.UTC(2026, 2, 6, 14, 30)], // Friday before spring forward, EST
    ["2026-03-09", Date.UTC(2026, 2, 9, 13, 30)], // Monday after, EDT
    ["2026-10-30", Date.UTC(2026, 9, 30, 13, 30)], // Friday before fall back, EDT
    ["2026-11-02", Date.UTC(2026, 10, 2, 14, 30)], // Monday after, EST
    ["2006-04-03", Date.UTC(2006, 3, 3, 13, 30)], // old rule
    ["2006-10-27", Date.UTC(2006, 9, 27, 13, 30)],
    ["2006-10-30", Date.UTC(2006, 9, 30, 14, 30)],
  ];
  for (const [date, openMs] of table) strictEqual(tradingDay(date)?.openMs, openMs, date);
});

Deno.test("calendar lists trading days inclusively with settlement dates", () => {
  deepStrictEqual(
    calendar("2026-06-29", "2026-07-10").map((d) => [d.date, d.close, d.settlementDate]),
    [
      ["2026-06-29", "16:00", "2026-06-30"],
      ["2026-06-30", "16:00", "2026-07-01"],
      ["2026-07-01", "16:00", "2026-07-02"],
      ["2026-07-02", "16:00", "2026-07-06"],
      ["2026-07-06", "16:00", "2026-07-07"],
      ["2026-07-07", "16:00", "2026-07-08"],
      ["2026-07-08", "16:00", "2026-07-09"],
      ["2026-07-09", "16:00", "2026-07-10"],
      ["2026-07-10", "16:00", "2026-07-13"],
    ],
  );
  deepStrictEqual(
    calendar("2026-11-25", "2026-11-30").map((d) => [d.date, d.close, d.sessionClose]),
    [
      ["2026-11-25", "16:00", "2000"],
      ["2026-11-27", "13:00", "1700"],
      ["2026-11-30", "16:00", "2000"],
    ],
  );
  deepStrictEqual(calendar("2001-09-10", "2001-09-17").map((d) => [d.date, d.settlementDate]), [
    ["2001-09-10", "2001-09-17"],
    ["2001-09-17", "2001-09-18"],
  ]);
  deepStrictEqual(calendar("2026-07-03", "2026-07-05"), []);
  deepStrictEqual(calendar("2026-04-28", "2026-04-28").map((d) => d.date), ["2026-04-28"]);
  deepStrictEqual(calendar("2026-04-29", "2026-04-28"), []);
});

Deno.test("calendar invariants over 2000-01-01..2035-12-30", () => {
  const days = calendar("2000-01-01", "2035-12-30");
  let total = 0;
  for (let y = CALENDAR_FIRST_YEAR; y <= CALENDAR_LAST_YEAR; y++) {
    total += calendar(`${y}-01-01`, y === CALENDAR_LAST_YEAR ? `${y}-12-30` : `${y}-12-31`).length;
  }
  strictEqual(days.length, total);
  const early = new Set<string>();
  const closed = new Set<string>();
  for (let y = CALENDAR_FIRST_YEAR; y <= CALENDAR_LAST_YEAR; y++) {
    for (const e of earlyCloses(y)) early.add(e.date);
    for (const h of marketHolidays(y)) closed.add(h.date);
  }
  for (let i = 0; i < days.length; i++) {
    const d = days[i]!;
    const wd = new Date(`${d.date}T12:00:00Z`).getUTCDay();
    ok(wd >= 1 && wd <= 5, d.date);
    ok(!closed.has(d.date), d.date);
    strictEqual(d.close === "13:00", early.has(d.date), d.date);
    strictEqual(d.sessionClose === "1700", early.has(d.date), d.date);
    strictEqual(d.settlementDate, days[i + 1]?.date ?? "2035-12-31", d.date);
    strictEqual(d.settlementDate, nextTradingDay(d.date), d.date);
    strictEqual(d.openMs - d.preOpenMs, 5.5 * HOUR, d.date);
    strictEqual(d.closeMs - d.openMs, early.has(d.date) ? 3.5 * HOUR : 6.5 * HOUR, d.date);
    strictEqual(d.postCloseMs - d.closeMs, 4 * HOUR, d.date);
    strictEqual(formatEt(d.openMs).slice(0, 16), `${d.date}T09:30`, d.date);
    if (i > 0) strictEqual(previousTradingDay(d.date), days[i - 1]!.date, d.date);
    // Every weekday between consecutive trading days is a holiday.
    for (let gap = addDays(d.date, 1); gap < d.settlementDate; gap = addDays(gap, 1)) {
      const gwd = new Date(`${gap}T12:00:00Z`).getUTCDay();
      ok(gwd === 0 || gwd === 6 || closed.has(gap), gap);
    }
  }
  strictEqual(early.size, [...early].filter((e) => isTradingDay(e)).length);
});

Deno.test("previousTradingDay and nextTradingDay", () => {
  const table: Array<[string, string, string]> = [
    // [date, previous, next]
    ["2026-04-28", "2026-04-27", "2026-04-29"],
    ["2026-05-01", "2026-04-30", "2026-05-04"], // Friday
    ["2026-05-02", "2026-05-01", "2026-05-04"], // Saturday
    ["2026-05-03", "2026-05-01", "2026-05-04"], // Sunday
    ["2026-07-02", "2026-07-01", "2026-07-06"],
    ["2026-07-03", "2026-07-02", "2026-07-06"], // holiday
    ["2026-07-06", "2026-07-02", "2026-07-07"],
    ["2026-04-06", "2026-04-02", "2026-04-07"], // after Good Friday
    ["2021-12-27", "2021-12-23", "2021-12-28"],
    ["2022-01-03", "2021-12-31", "2022-01-04"],
    ["2001-09-10", "2001-09-07", "2001-09-17"],
    ["2001-09-17", "2001-09-10", "2001-09-18"],
    ["2012-10-31", "2012-10-26", "2012-11-01"],
    ["2000-01-04", "2000-01-03", "2000-01-05"],
    ["2035-12-28", "2035-12-27", "2035-12-31"],
  ];
  for (const [date, prev, next] of table) {
    strictEqual(previousTradingDay(date), prev, `before ${date}`);
    strictEqual(nextTradingDay(date), next, `after ${date}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Clock

Deno.test("sessionAt on a regular EDT day, a regular EST day and an early close", () => {
  const table: Array<[string, string, string]> = [
    // [date, ET time, session]
    ["2026-04-28", "00:00", "closed"],
    ["2026-04-28", "03:59:59", "closed"],
    ["2026-04-28", "04:00", "pre"],
    ["2026-04-28", "09:29:59", "pre"],
    ["2026-04-28", "09:30", "core"],
    ["2026-04-28", "15:59:59", "core"],
    ["2026-04-28", "16:00", "post"],
    ["2026-04-28", "19:59:59", "post"],
    ["2026-04-28", "20:00", "closed"],
    ["2026-04-28", "23:59:59", "closed"],
    ["2026-01-02", "09:29:59", "pre"],
    ["2026-01-02", "09:30", "core"],
    ["2026-01-02", "16:00", "post"],
    ["2026-11-27", "09:30", "core"],
    ["2026-11-27", "12:59:59", "core"],
    ["2026-11-27", "13:00", "post"],
    ["2026-11-27", "16:59:59", "post"],
    ["2026-11-27", "17:00", "closed"],
    ["2026-07-03", "10:00", "closed"], // observed holiday
    ["2026-05-02", "10:00", "closed"], // Saturday
    ["2001-09-11", "10:00", "closed"],
    ["2026-03-09", "09:30", "core"], // first trading day after spring forward
  ];
  for (const [date, time, want] of table) {
    strictEqual(sessionAt(et(date, time)), want, `${date} ${time}`);
  }
  // Millisecond edges, by raw UTC instants (EDT: 09:30 = 13:30Z, 16:00 = 20:00Z).
  strictEqual(sessionAt(Date.UTC(2026, 3, 28, 13, 29, 59, 999)), "pre");
  strictEqual(sessionAt(Date.UTC(2026, 3, 28, 13, 30)), "core");
  strictEqual(sessionAt(Date.UTC(2026, 3, 28, 19, 59, 59, 999)), "core");
  strictEqual(sessionAt(Date.UTC(2026, 3, 28, 20)), "post");
  strictEqual(sessionAt(Date.UTC(2026, 3, 29, 0)), "closed");
});

Deno.test("sessionAt matches a reference built from tradingDay for random instants", () => {
  const next = rng(42);
  const from = Date.UTC(2000, 0, 1, 5), to = Date.UTC(2035, 11, 31, 5);
  let lastDay = "";
  for (let i = 0; i < 30_000; i++) {
    // Half the samples stay on the previous day to exercise the per-day cache.
    const ts = i % 2 === 1 && lastDay !== ""
      ? et(lastDay, "00:00") + Math.floor(next() * 86_400_000)
      : from + Math.floor(next() * (to - from));
    const date = toEt(ts).dateStr;
    lastDay = date;
    const d = tradingDay(date);
    const want = d === null || ts < d.preOpenMs || ts >= d.postCloseMs
      ? "closed"
      : ts < d.openMs
      ? "pre"
      : ts < d.closeMs
      ? "core"
      : "post";
    strictEqual(sessionAt(ts), want, formatEt(ts));
  }
});

Deno.test("marketClock around the open and the close", () => {
  const table: Array<[string, string, boolean, string, string]> = [
    // [date, ET time, is_open, next_open, next_close]
    ["2026-04-28", "08:00", false, "2026-04-28T09:30:00-04:00", "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "09:29:59", false, "2026-04-28T09:30:00-04:00", "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "09:30", true, "2026-04-29T09:30:00-04:00", "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "15:59", true, "2026-04-29T09:30:00-04:00", "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "15:59:59", true, "2026-04-29T09:30:00-04:00", "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "16:00", false, "2026-04-29T09:30:00-04:00", "2026-04-29T16:00:00-04:00"],
    ["2026-04-28", "21:00", false, "2026-04-29T09:30:00-04:00", "2026-04-29T16:00:00-04:00"],
    // Early close: the day after Thanksgiving.
    ["2026-11-27", "12:59:59", true, "2026-11-30T09:30:00-05:00", "2026-11-27T13:00:00-05:00"],
    ["2026-11-27", "13:00", false, "2026-11-30T09:30:00-05:00", "2026-11-30T16:00:00-05:00"],
    // Wednesday before Thanksgiving after the close: skips Thursday, next close is the early one.
    ["2026-11-25", "16:30", false, "2026-11-27T09:30:00-05:00", "2026-11-27T13:00:00-05:00"],
    // Across a weekend.
    ["2026-05-01", "16:00", false, "2026-05-04T09:30:00-04:00", "2026-05-04T16:00:00-04:00"],
    ["2026-05-02", "12:00", false, "2026-05-04T09:30:00-04:00", "2026-05-04T16:00:00-04:00"],
    ["2026-05-03", "23:59:59", false, "2026-05-04T09:30:00-04:00", "2026-05-04T16:00:00-04:00"],
    // Across a weekend and the observed Independence Day.
    ["2026-07-02", "16:00", false, "2026-07-06T09:30:00-04:00", "2026-07-06T16:00:00-04:00"],
    ["2026-07-03", "10:00", false, "2026-07-06T09:30:00-04:00", "2026-07-06T16:00:00-04:00"],
    // Across the spring-forward weekend: the offset changes between now and the next open.
    ["2026-03-06", "17:00", false, "2026-03-09T09:30:00-04:00", "2026-03-09T16:00:00-04:00"],
    // Across the 9/11 closures.
    ["2001-09-10", "16:00", false, "2001-09-17T09:30:00-04:00", "2001-09-17T16:00:00-04:00"],
    // New Year's Eve 2021 trades, New Year's Day 2022 is a Saturday.
    ["2021-12-31", "10:00", true, "2022-01-03T09:30:00-05:00", "2021-12-31T16:00:00-05:00"],
  ];
  for (const [date, time, isOpen, nextOpen, nextClose] of table) {
    const ts = et(date, time);
    deepStrictEqual(marketClock(ts), {
      timestamp: formatEt(ts),
      is_open: isOpen,
      next_open: nextOpen,
      next_close: nextClose,
    }, `${date} ${time}`);
  }
});

Deno.test("marketClock reproduces Alpaca's documented example", () => {
  deepStrictEqual(marketClock(Date.UTC(2022, 3, 28, 18, 7, 4, 451)), {
    timestamp: "2022-04-28T14:07:04.451-04:00",
    is_open: true,
    next_open: "2022-04-29T09:30:00-04:00",
    next_close: "2022-04-28T16:00:00-04:00",
  });
});

Deno.test("marketClock next_open and next_close match a reference for random instants", () => {
  const next = rng(5);
  const from = Date.UTC(2000, 0, 1, 5), to = Date.UTC(2035, 11, 28);
  for (let i = 0; i < 5000; i++) {
    const ts = from + Math.floor(next() * (to - from));
    const date = toEt(ts).dateStr;
    const today = tradingDay(date);
    const following = tradingDay(nextTradingDay(date))!;
    const openMs = today !== null && ts < today.openMs ? today.openMs : following.openMs;
    const closeMs = today !== null && ts < today.closeMs ? today.closeMs : following.closeMs;
    const clock = marketClock(ts);
    strictEqual(clock.is_open, sessionAt(ts) === "core");
    strictEqual(clock.next_open, formatEt(openMs), formatEt(ts));
    strictEqual(clock.next_close, formatEt(closeMs), formatEt(ts));
    strictEqual(nextOpenMs(ts), openMs);
    strictEqual(nextCloseMs(ts), closeMs);
  }
});

Deno.test("sessionCloseMs gives DAY-order expiry", () => {
  const table: Array<[string, string, boolean, string]> = [
    // [date, ET time, extendedHours, expiry]
    ["2026-04-28", "03:00", false, "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "07:00", false, "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "09:30", false, "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "15:59:59", false, "2026-04-28T16:00:00-04:00"],
    ["2026-04-28", "16:00", false, "2026-04-29T16:00:00-04:00"],
    ["2026-04-28", "18:00", false, "2026-04-29T16:00:00-04:00"],
    ["2026-11-27", "12:00", false, "2026-11-27T13:00:00-05:00"],
    ["2026-11-27", "13:00", false, "2026-11-30T16:00:00-05:00"],
    ["2026-05-02", "12:00", false, "2026-05-04T16:00:00-04:00"],
    ["2026-07-02", "17:00", false, "2026-07-06T16:00:00-04:00"],
    ["2026-04-28", "07:00", true, "2026-04-28T20:00:00-04:00"],
    ["2026-04-28", "18:00", true, "2026-04-28T20:00:00-04:00"],
    ["2026-04-28", "20:00", true, "2026-04-29T20:00:00-04:00"],
    ["2026-11-27", "14:00", true, "2026-11-27T17:00:00-05:00"],
    ["2026-11-27", "17:00", true, "2026-11-30T20:00:00-05:00"],
  ];
  for (const [date, time, extendedHours, want] of table) {
    strictEqual(
      formatEt(sessionCloseMs(et(date, time), { extendedHours })),
      want,
      `${date} ${time}`,
    );
  }
  strictEqual(sessionCloseMs(et("2026-04-28", "10:00")), Date.UTC(2026, 3, 28, 20));
});

// ---------------------------------------------------------------------------------------------
// Errors

Deno.test("malformed input throws CalendarError naming the value", () => {
  const badDates = ["2026-02-30", "2026-13-01", "2026-00-10", "2026-1-01", "20260101", "", "abc"];
  for (const bad of badDates) {
    const quoted = new RegExp(`"${bad}"`);
    throwsCalendar(() => isTradingDay(bad), quoted);
    throwsCalendar(() => tradingDay(bad), quoted);
    throwsCalendar(() => etToEpochMs(bad, "09:30"), quoted);
  }
  for (const bad of ["24:00", "9:30", "09:60", "09:30:60", "0930", "noon"]) {
    throwsCalendar(() => etToEpochMs("2026-04-28", bad), new RegExp(`Cannot read time "${bad}"`));
  }
  for (const bad of [NaN, Infinity, -Infinity]) {
    throwsCalendar(() => etOffsetMinutes(bad), /not a finite epoch ms/);
    throwsCalendar(() => sessionAt(bad), /not a finite epoch ms/);
    throwsCalendar(() => marketClock(bad), /not a finite epoch ms/);
  }
  throwsCalendar(() => etOffsetMinutes(Date.UTC(1986, 5, 1)), /ET offsets are known from 1987/);
  throwsCalendar(() => toEt(Date.UTC(1987, 0, 1, 4, 59)), /ET offsets are known from 1987/);
  strictEqual(etOffsetMinutes(Date.UTC(1987, 0, 1, 5)), -300);
  throwsCalendar(() => etToEpochMs("1986-07-01", "09:30"), /years 1987 to 9999 only/);
});

Deno.test("anything needing holiday data outside 2000-2035 throws", () => {
  const range = /holiday data covers 2000-01-01 to 2035-12-31/;
  throwsCalendar(() => isTradingDay("1999-12-31"), range);
  throwsCalendar(() => isTradingDay("2036-01-02"), range);
  throwsCalendar(() => tradingDay("2036-01-02"), range);
  throwsCalendar(() => tradingDay("2035-12-31"), /settlement date of "2035-12-31"/);
  throwsCalendar(() => calendar("1999-12-01", "2000-01-31"), /"1999-12-01"/);
  throwsCalendar(() => calendar("2035-12-01", "2036-01-31"), /"2036-01-31"/);
  throwsCalendar(() => calendar("2035-12-01", "2035-12-31"), /settlement date/);
  throwsCalendar(() => previousTradingDay("2000-01-03"), /trading day before "2000-01-03"/);
  throwsCalendar(() => nextTradingDay("2035-12-31"), /trading day after "2035-12-31"/);
  throwsCalendar(() => sessionAt(Date.UTC(1999, 11, 31, 15)), /"1999-12-31T15:00:00.000Z"/);
  throwsCalendar(() => sessionAt(Date.UTC(2036, 0, 2, 15)), range);
  throwsCalendar(() => marketClock(Date.UTC(2035, 11, 31, 22)), range);
  throwsCalendar(() => sessionCloseMs(Date.UTC(2035, 11, 31, 22)), range);
  throwsCalendar(() => marketHolidays(1999), /year "1999"/);
  throwsCalendar(() => earlyCloses(2036), /year "2036"/);
  // The edges themselves still work.
  strictEqual(sessionAt(et("2035-12-31", "10:00")), "core");
  strictEqual(sessionAt(et("2000-01-01", "00:00")), "closed");
  strictEqual(nextCloseMs(et("2035-12-31", "10:00")), et("2035-12-31", "16:00"));
  strictEqual(isTradingDay("2035-12-31"), true);
  strictEqual(previousTradingDay("2000-01-04"), "2000-01-03");
});
