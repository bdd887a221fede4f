/**
 * Query and body parameter schemas shared by the resource routes.
 *
 * @module
 */
import { z } from "zod";
import { etToEpochMs } from "../core/calendar.ts";
import { Decimal } from "../core/decimal.ts";
import { decimalTextIssue } from "../core/input.ts";

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
/** `YYYY-MM-DD`, capturing year, month and day. */
export const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether y-m-d is a real calendar date (no 30 February). */
export function isCalendarDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * Reads an instant: RFC-3339 with or without fractional seconds (kept to the millisecond), or
 * `YYYY-MM-DD`, read as midnight in New York. Answers epoch ms, or null when unreadable.
 */
export function parseInstant(text: string): number | null {
  const date = DATE.exec(text);
  if (date) {
    const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
    if (!isCalendarDate(y, m, d)) return null;
    try {
      return etToEpochMs(text, "00:00");
    } catch {
      return null;
    }
  }
  const r = RFC3339.exec(text);
  if (!r) return null;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(r[i]));
  if (!isCalendarDate(y!, mo!, d!) || h! > 23 || mi! > 59 || s! > 59) return null;
  const ms = Number((r[7] ?? "").padEnd(3, "0").slice(0, 3));
  let offset = 0;
  if (!r[8]) {
    const oh = Number(r[10]), om = Number(r[11]);
    if (oh > 23 || om > 59) return null;
    offset = (r[9] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const utc = new Date(0);
  utc.setUTCFullYear(y!, mo! - 1, d!);
  utc.setUTCHours(h!, mi!, s!, ms);
  return utc.getTime() - offset;
}

/**
 * A query parameter holding an instant (see {@link parseInstant}); parses to epoch ms.
 * Years 1970 to 9999.
 */
export const InstantParam = z.string().trim().transform((text, ctx) => {
  const ms = parseInstant(text);
  if (ms === null || ms < 0 || ms >= Date.UTC(10000, 0, 1)) {
    ctx.addIssue({
      code: "custom",
      message:
        `Expected an RFC-3339 time such as 2026-11-23T14:30:00Z or a date such as 2026-11-23, got "${text}"`,
    });
    return z.NEVER;
  }
  return ms;
}).meta({ description: "RFC-3339 time, or YYYY-MM-DD (midnight in New York)" });

/** A positive decimal amount given as a string or a number (parses to {@link Decimal}). */
export const positiveDecimal = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const tooLong = decimalTextIssue(v);
  if (tooLong) {
    ctx.addIssue({ code: "custom", message: tooLong });
    return z.NEVER;
  }
  const d = Decimal.tryParse(typeof v === "number" ? v : v.trim());
  if (!d || !d.isPositive()) {
    ctx.addIssue({
      code: "custom",
      message: `Expected a positive decimal such as "10" or "2.5", got "${v}"`,
    });
    return z.NEVER;
  }
  return d;
});
