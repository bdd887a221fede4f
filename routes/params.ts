/**
 * Query and body parameter schemas shared by the resource routes.
 *
 * @module
 */
import { z } from "zod";
import { etToEpochMs } from "../core/calendar.ts";
import { Decimal } from "../core/decimal.ts";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A timestamp parameter: RFC-3339 (with or without fractional seconds) or `YYYY-MM-DD`
 * (midnight in New York). Parses to epoch milliseconds.
 */
export const timestampParam = z.string().trim().transform((text, ctx) => {
  if (DATE.test(text)) {
    try {
      return etToEpochMs(text, "00:00");
    } catch {
      // fall through to the error below
    }
  } else if (RFC3339.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  ctx.addIssue({
    code: "custom",
    message:
      `Expected an RFC-3339 time such as 2026-11-23T14:30:00Z or a date such as 2026-11-23, got "${text}"`,
  });
  return z.NEVER;
});

/** A positive decimal amount given as a string or a number (parses to {@link Decimal}). */
export const positiveDecimal = z.union([z.string(), z.number()]).transform((v, ctx) => {
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
