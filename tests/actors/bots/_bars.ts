/**
 * Bars for the bot tests: 1-minute bars from a given ET session start, and a seeded random walk.
 *
 * @module
 */
import type { Bar } from "../../../core/market.ts";

/** 2024-01-09 (a Tuesday) 09:30 ET, in epoch ms. */
export const OPEN_MS = Date.UTC(2024, 0, 9, 14, 30);

/** RFC-3339 text of `ms`, as Alpaca writes bar times. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** A 1-minute bar starting `i` minutes after `startMs`. */
export function minuteBar(i: number, c: number, startMs = OPEN_MS, v = 100): Bar {
  return { t: iso(startMs + i * 60_000), o: c, h: c + 0.5, l: c - 0.5, c, v, n: 1, vw: c };
}

/** mulberry32: a tiny seeded generator in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` 1-minute bars of a seeded random walk from `start`, from `startMs`. */
export function walk(seed: number, n: number, start = 100, startMs = OPEN_MS): Bar[] {
  const rand = seeded(seed);
  const out: Bar[] = [];
  let price = start;
  for (let i = 0; i < n; i++) {
    const o = price;
    price = Math.max(1, Math.round((price + (rand() - 0.5) * 1.2) * 100) / 100);
    const h = Math.max(o, price) + Math.round(rand() * 30) / 100;
    const l = Math.min(o, price) - Math.round(rand() * 30) / 100;
    const v = 100 + Math.floor(rand() * 900);
    out.push({
      t: iso(startMs + i * 60_000),
      o,
      h,
      l,
      c: price,
      v,
      n: 10,
      vw: (h + l + price) / 3,
    });
  }
  return out;
}
