/**
 * Cross detection between two series, shared by the MACD and moving-average evaluators and the
 * `sma_cross` strategy.
 *
 * A cross is a change of sign of `a − b`. Bars where `a === b` are a touch, not a cross: a zero
 * sign leaves the remembered sign as it was, so `+, 0, +` is no cross and `+, 0, −` is one cross
 * (down, on the `−` bar). The remembered sign starts at 0 ("unknown"); the first non-zero sign only
 * sets it, since nothing was crossed.
 *
 * @module
 */

/** A sign: −1, 0 or +1. */
export type Sign = -1 | 0 | 1;

/** What one observation did. */
export interface CrossStep {
  /** The last non-zero sign of `a − b` after this observation (0 while none seen). */
  sign: Sign;
  /** `"up"` when `a` went from below `b` to above, `"down"` for the reverse, else `null`. */
  cross: "up" | "down" | null;
}

/** The sign of `x` (NaN reads as 0). */
export function signOf(x: number): Sign {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/**
 * Takes the previous remembered sign and the new difference `a − b`; answers the new remembered
 * sign and whether this observation crossed. Pure; never throws.
 *
 * @example
 * ```ts
 * crossStep(1, 0); // { sign: 1, cross: null }  (a touch)
 * crossStep(1, -0.5); // { sign: -1, cross: "down" }
 * ```
 */
export function crossStep(previous: Sign, diff: number): CrossStep {
  const s = signOf(diff);
  if (s === 0) return { sign: previous, cross: null };
  if (previous === 0 || s === previous) return { sign: s, cross: null };
  return { sign: s, cross: s > 0 ? "up" : "down" };
}
