/**
 * An exact per-key sliding-window rate limiter: at most `limit` acquisitions per key in any
 * window of {@link SlidingWindowLimiter.windowMs} (one minute by default).
 *
 * An acquisition at `t` counts against the window until `t + windowMs` (exclusive), so when the
 * limit is reached the next acquisition is allowed exactly when the oldest one leaves:
 * `retryAfterMs = oldest + windowMs - now`. Each key keeps its accepted timestamps in a ring
 * buffer of at most `limit` slots (denied attempts are not stored), and keys idle for a whole
 * window are dropped once per window, so memory stays bounded by the live keys and their limits.
 * Time comes from the caller (`tsMs`); nothing here reads a clock.
 *
 * @example
 * ```ts
 * const limiter = new SlidingWindowLimiter();
 * const d = limiter.tryAcquire("user-1", 100, clock.nowMs());
 * if (!d.allowed) throw rateLimited(d.retryAfterMs);
 * ```
 *
 * @module
 */

/** The answer of {@link SlidingWindowLimiter.tryAcquire} and {@link SlidingWindowLimiter.peek}. */
export type RateDecision =
  | { readonly allowed: true }
  | {
    readonly allowed: false;
    /** Milliseconds until an acquisition would be allowed (at least 1). */
    readonly retryAfterMs: number;
    /** Acquisitions counted in the window now. */
    readonly count: number;
    /** The limit that was applied. */
    readonly limit: number;
  };

/** Options for {@link SlidingWindowLimiter}. */
export interface SlidingWindowOptions {
  /** Window length in milliseconds; defaults to 60 000 (one minute). */
  windowMs?: number;
}

/** One shared answer for every allowed call, so the hot path allocates nothing. */
const ALLOWED: RateDecision = Object.freeze({ allowed: true });
const INITIAL_SLOTS = 64;

/** Accepted timestamps of one key, oldest first, in a ring buffer. */
class Ring {
  slots: Float64Array;
  head = 0;
  count = 0;
  newest = 0;

  constructor(capacity: number) {
    this.slots = new Float64Array(capacity);
  }

  /** Drops timestamps at or before `cutoff` (they have left the window). */
  prune(cutoff: number): void {
    const slots = this.slots;
    const cap = slots.length;
    while (this.count > 0 && slots[this.head]! <= cutoff) {
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.count--;
    }
  }

  /** The `i`-th oldest timestamp (0 = oldest). */
  at(i: number): number {
    const idx = this.head + i;
    const cap = this.slots.length;
    return this.slots[idx >= cap ? idx - cap : idx]!;
  }

  push(ts: number, limit: number): void {
    if (this.count === this.slots.length) this.grow(limit);
    const cap = this.slots.length;
    const idx = this.head + this.count;
    this.slots[idx >= cap ? idx - cap : idx] = ts;
    this.count++;
    this.newest = ts;
  }

  private grow(limit: number): void {
    const next = new Float64Array(Math.min(Math.max(this.slots.length * 2, 1), limit));
    for (let i = 0; i < this.count; i++) next[i] = this.at(i);
    this.slots = next;
    this.head = 0;
  }
}

function checkArgs(limit: number, tsMs: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`Cannot apply rate limit ${limit}: expected an integer >= 1`);
  }
  if (!Number.isFinite(tsMs)) {
    throw new RangeError(`Cannot apply rate limit at time ${tsMs}: expected finite epoch ms`);
  }
}

/**
 * Exact sliding-window limiter keyed by string (a user id, a bot id). Not a token bucket: it
 * remembers every accepted timestamp still inside the window.
 *
 * Timestamps per key are expected not to go backwards; one that does is recorded as the key's
 * newest timestamp (which can only make the limiter stricter).
 */
export class SlidingWindowLimiter {
  /** Window length in milliseconds. */
  readonly windowMs: number;
  #rings = new Map<string, Ring>();
  #lastSweepMs = -Infinity;

  /** Throws `RangeError` when `windowMs` is not a positive integer. */
  constructor(options: SlidingWindowOptions = {}) {
    const windowMs = options.windowMs ?? 60_000;
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
      throw new RangeError(`Cannot make a rate limiter with window ${windowMs} ms`);
    }
    this.windowMs = windowMs;
  }

  /**
   * Takes one slot for `key` if fewer than `limit` acquisitions fall in the window ending at
   * `tsMs`; otherwise answers how long until the oldest counted one leaves.
   * Throws `RangeError` when `limit` is not an integer >= 1 or `tsMs` is not finite.
   */
  tryAcquire(key: string, limit: number, tsMs: number): RateDecision {
    checkArgs(limit, tsMs);
    if (tsMs - this.#lastSweepMs >= this.windowMs) this.sweep(tsMs);
    let ring = this.#rings.get(key);
    if (ring === undefined) {
      ring = new Ring(Math.min(limit, INITIAL_SLOTS));
      this.#rings.set(key, ring);
    }
    const now = ring.count > 0 && ring.newest > tsMs ? ring.newest : tsMs;
    ring.prune(now - this.windowMs);
    if (ring.count >= limit) return this.#denied(ring, limit, tsMs);
    ring.push(now, limit);
    return ALLOWED;
  }

  /**
   * What {@link tryAcquire} would answer at `tsMs`, without taking a slot (for
   * `POST /orders/validate`). Throws like {@link tryAcquire}.
   */
  peek(key: string, limit: number, tsMs: number): RateDecision {
    checkArgs(limit, tsMs);
    const ring = this.#rings.get(key);
    if (ring === undefined) return ALLOWED;
    const now = ring.count > 0 && ring.newest > tsMs ? ring.newest : tsMs;
    ring.prune(now - this.windowMs);
    return ring.count >= limit ? this.#denied(ring, limit, tsMs) : ALLOWED;
  }

  /** Acquisitions of `key` counted in the window ending at `tsMs`. Never throws. */
  count(key: string, tsMs: number): number {
    const ring = this.#rings.get(key);
    if (ring === undefined) return 0;
    const cutoff = Math.max(tsMs, ring.newest) - this.windowMs;
    let n = 0;
    for (let i = ring.count - 1; i >= 0 && ring.at(i) > cutoff; i--) n++;
    return n;
  }

  /** Forgets `key` (e.g. when a user's limits change to a fresh start). Never throws. */
  reset(key: string): void {
    this.#rings.delete(key);
  }

  /**
   * Drops keys with nothing left in the window ending at `tsMs` and answers how many were
   * dropped. {@link tryAcquire} calls it at most once per window. Never throws.
   */
  sweep(tsMs: number): number {
    this.#lastSweepMs = tsMs;
    const cutoff = tsMs - this.windowMs;
    let dropped = 0;
    for (const [key, ring] of this.#rings) {
      if (ring.count === 0 || ring.newest <= cutoff) {
        this.#rings.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  /** Number of keys held. */
  get size(): number {
    return this.#rings.size;
  }

  #denied(ring: Ring, limit: number, tsMs: number): RateDecision {
    // To get below the limit, the oldest (count - limit + 1) timestamps must leave.
    const leaving = ring.at(ring.count - limit);
    const retryAfterMs = Math.max(1, leaving + this.windowMs - tsMs);
    return { allowed: false, retryAfterMs, count: ring.count, limit };
  }
}

/** The answer of {@link OncePerWindow.take}. */
export interface OnceDecision {
  /** True for the first call of a key in a window: record it. */
  readonly first: boolean;
  /** Calls of this key passed over since the last recorded one (on a `first` answer). */
  readonly skipped: number;
}

/**
 * Lets one call per key through per window and counts the rest: for records that must not
 * multiply with the calls that cause them (one audit row per rate-limited user per minute,
 * however many requests are refused). Time comes from the caller; keys whose window has passed
 * are dropped once per window, so memory stays bounded by the keys active in the last window.
 */
export class OncePerWindow {
  /** Window length in milliseconds. */
  readonly windowMs: number;
  #seen = new Map<string, { atMs: number; skipped: number }>();
  #lastSweepMs = -Infinity;

  /** Throws `RangeError` when `windowMs` is not a positive integer. */
  constructor(options: SlidingWindowOptions = {}) {
    const windowMs = options.windowMs ?? 60_000;
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
      throw new RangeError(`Cannot make a once-per-window gate with window ${windowMs} ms`);
    }
    this.windowMs = windowMs;
  }

  /**
   * Whether this call of `key` at `tsMs` is the first of its window (a window opens at the
   * first call after the previous one's ended), and how many were skipped before it. Never
   * throws.
   */
  take(key: string, tsMs: number): OnceDecision {
    if (tsMs - this.#lastSweepMs >= this.windowMs) {
      this.#lastSweepMs = tsMs;
      for (const [k, v] of this.#seen) {
        if (tsMs - v.atMs >= this.windowMs && v.skipped === 0) this.#seen.delete(k);
      }
    }
    const seen = this.#seen.get(key);
    if (seen !== undefined && tsMs - seen.atMs < this.windowMs) {
      seen.skipped++;
      return { first: false, skipped: 0 };
    }
    this.#seen.set(key, { atMs: tsMs, skipped: 0 });
    return { first: true, skipped: seen?.skipped ?? 0 };
  }
}
