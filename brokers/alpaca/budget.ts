/**
 * The engine's request budget at Alpaca: one per venue, shared by every request the engine
 * makes there (trading and market data, every user, reconciliation, bots), so the engine as a
 * whole stays under Alpaca's 200 requests a minute per key (ALPACA.md §1).
 *
 * - A request takes a slot of an exact sliding window ({@link SlidingWindowLimiter}); when
 *   none is free it waits its turn, first come first served, up to `maxWaitMs` (1.5 s). One that
 *   would wait longer is refused before it is sent (`RATE_LIMITED`): nothing reached Alpaca.
 * - A 429 from Alpaca pauses the whole budget until `Retry-After` (seconds) or
 *   `X-RateLimit-Reset` (unix seconds) says, at most `maxPauseMs`. The request that got it is
 *   retried after the pause only when it is an idempotent read (GET); a write (a submit above
 *   all) is answered with its 429, a definite refusal, since Alpaca did not take it.
 *
 * Time and waiting come from a {@link Clock}, so tests drive it with a `TestClock`.
 *
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import { TradeError } from "../../core/errors.ts";
import { SlidingWindowLimiter } from "../../core/rate_limiter.ts";

/** Options of {@link AlpacaBudget}. */
export interface AlpacaBudgetOptions {
  clock: Clock;
  /** Requests per minute; default 200 (Alpaca's per-key limit). */
  perMinute?: number;
  /** The longest a request waits for a slot (or a 429 pause) before it is refused. Default 1500. */
  maxWaitMs?: number;
  /** The longest pause a 429 may impose, whatever its headers say. Default 60000. */
  maxPauseMs?: number;
  /** Retries of a GET answered 429. Default 2. */
  readRetries?: number;
}

/** What the budget has done, for `/metrics` and tests. */
export interface BudgetStats {
  sent: number;
  waited: number;
  refused: number;
  throttled: number;
  retried: number;
}

const KEY = "alpaca";
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * How long a 429 asks to wait, in ms from `nowMs`: `Retry-After` (seconds, or an HTTP date)
 * first, else `X-RateLimit-Reset` (unix seconds); null when neither says. Never throws.
 */
export function retryAfterMs(headers: Headers, nowMs: number): number | null {
  const after = headers.get("retry-after")?.trim();
  if (after) {
    if (/^\d+(\.\d+)?$/.test(after)) return Math.ceil(Number(after) * 1000);
    const at = Date.parse(after);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  const reset = headers.get("x-ratelimit-reset")?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset)) {
    return Math.max(0, Math.ceil(Number(reset) * 1000 - nowMs));
  }
  return null;
}

/** The request budget of one Alpaca venue. */
export class AlpacaBudget {
  readonly perMinute: number;
  readonly #clock: Clock;
  readonly #limiter = new SlidingWindowLimiter();
  readonly #maxWaitMs: number;
  readonly #maxPauseMs: number;
  readonly #readRetries: number;
  #pausedUntil = 0;
  #tail: Promise<void> = Promise.resolve();
  readonly stats: BudgetStats = { sent: 0, waited: 0, refused: 0, throttled: 0, retried: 0 };

  /** Throws `RangeError` when `perMinute` is not an integer >= 1. */
  constructor(options: AlpacaBudgetOptions) {
    this.#clock = options.clock;
    this.perMinute = options.perMinute ?? 200;
    if (!Number.isSafeInteger(this.perMinute) || this.perMinute < 1) {
      throw new RangeError(`Cannot make an Alpaca budget of ${this.perMinute} requests a minute`);
    }
    this.#maxWaitMs = options.maxWaitMs ?? 1_500;
    this.#maxPauseMs = options.maxPauseMs ?? 60_000;
    this.#readRetries = options.readRetries ?? 2;
  }

  /** The instant (epoch ms) until which a 429 paused every request; 0 when none did. */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimer(resolve, ms));
  }

  /**
   * Takes a slot, waiting its turn behind earlier requests. Throws `RATE_LIMITED` (nothing
   * sent) when the slot is further away than `maxWaitMs` from the call.
   */
  acquire(what: string): Promise<void> {
    const deadline = this.#clock.now() + this.#maxWaitMs;
    const mine = this.#tail.then(() => this.#take(what, deadline));
    // The next request queues behind this one whether it got its slot or was refused.
    this.#tail = mine.catch(() => {});
    return mine;
  }

  async #take(what: string, deadline: number): Promise<void> {
    let waited = false;
    for (;;) {
      const now = this.#clock.now();
      let waitMs = this.#pausedUntil - now;
      if (waitMs <= 0) {
        const d = this.#limiter.tryAcquire(KEY, this.perMinute, now);
        if (d.allowed) {
          if (waited) this.stats.waited++;
          this.stats.sent++;
          return;
        }
        waitMs = d.retryAfterMs;
      }
      if (now + waitMs > deadline) {
        this.stats.refused++;
        const seconds = Math.ceil(waitMs / 1000);
        throw new TradeError(
          "RATE_LIMITED",
          `Cannot send ${what} to Alpaca now: the engine's budget of ${this.perMinute} requests a minute is spent; retry in ${seconds} s`,
          { details: { retry_after_ms: waitMs, limit_per_minute: this.perMinute } },
        );
      }
      waited = true;
      await this.#sleep(waitMs);
    }
  }

  /** Records a 429: every request waits until its reset. Answers the pause in ms. */
  throttled(headers: Headers): number {
    const now = this.#clock.now();
    const asked = retryAfterMs(headers, now);
    // No header: wait a second, as a careful client does.
    const pause = Math.min(this.#maxPauseMs, Math.max(asked ?? 1_000, 1));
    this.#pausedUntil = Math.max(this.#pausedUntil, now + pause);
    this.stats.throttled++;
    return pause;
  }

  /**
   * A `fetch` for the SDK (its `fetchApi` option): takes a slot before each request and
   * handles 429 as the module says. Throws `RATE_LIMITED` (before sending) when no slot comes
   * in time; network errors pass through untouched for the caller to classify.
   */
  fetch(
    inner: (url: string, init: RequestInit) => Promise<Response> = fetch,
  ): (url: string, init: RequestInit) => Promise<Response> {
    return async (url, init) => {
      const method = (init.method ?? "GET").toUpperCase();
      const what = `${method} ${new URL(url).pathname}`;
      for (let attempt = 0;; attempt++) {
        await this.acquire(what);
        const response = await inner(url, init);
        if (response.status !== 429) return response;
        this.throttled(response.headers);
        if (!IDEMPOTENT.has(method) || attempt >= this.#readRetries) return response;
        // A read is safe to repeat; the body of this answer is not needed.
        await response.body?.cancel().catch(() => {});
        this.stats.retried++;
      }
    };
  }
}
