/**
 * Bar builders and seeded series for the strategy tests.
 *
 * @module
 */
import type { Bar } from "../../core/market.ts";
import { Rng } from "../../core/random.ts";

const T0 = Date.UTC(2024, 0, 2, 14, 30);

/** The timestamp of bar number `i` (one minute apart). */
export function barTime(i: number): string {
  return new Date(T0 + i * 60_000).toISOString();
}

/** A bar with the given fields; the rest derived from the close. */
export function bar(i: number, fields: Partial<Bar> & { c: number }): Bar {
  const c = fields.c;
  return {
    t: barTime(i),
    o: fields.o ?? c,
    h: fields.h ?? c,
    l: fields.l ?? c,
    c,
    v: fields.v ?? 1000,
    n: fields.n ?? 10,
    vw: fields.vw ?? c,
  };
}

/** Bars from closes (high = low = close). */
export function closeBars(closes: readonly number[]): Bar[] {
  return closes.map((c, i) => bar(i, { c }));
}

/** Bars from `[high, low, close]` or `[high, low, close, volume]` rows. */
export function hlcBars(rows: readonly (readonly number[])[]): Bar[] {
  return rows.map(([h, l, c, v], i) => bar(i, { h: h!, l: l!, c: c!, v: v ?? 1000 }));
}

/** A seeded random walk of `n` OHLCV bars with cent prices and integer volumes. */
export function randomBars(seed: number, n: number, start = 100): Bar[] {
  const rng = new Rng(seed);
  const out: Bar[] = [];
  let prev = start;
  for (let i = 0; i < n; i++) {
    const o = prev;
    const c = Math.max(1, Math.round((o + rng.normal() * 0.8) * 100) / 100);
    const h = Math.round((Math.max(o, c) + rng.next() * 0.5) * 100) / 100;
    const l = Math.round((Math.min(o, c) - rng.next() * 0.5) * 100) / 100;
    out.push(bar(i, { o, h, l, c, v: 100 + rng.int(0, 10_000) }));
    prev = c;
  }
  return out;
}

/** Fails unless `actual` is within `tol` of `expected`. */
export function assertClose(
  actual: number | null | undefined,
  expected: number,
  tol = 1e-9,
  what = "",
): void {
  if (actual === null || actual === undefined || !(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${what ? what + ": " : ""}expected ${expected} ± ${tol}, got ${actual}`);
  }
}
