/**
 * Reconnect delays for the Alpaca stream clients: exponential backoff with jitter, from an
 * injectable random source so tests (and replays) get the same delays every time.
 *
 * @module
 */
import { Rng } from "../../core/random.ts";

/** How a stream waits between reconnect attempts. */
export interface BackoffOptions {
  /** First delay, ms. Default 1000. */
  initialMs?: number;
  /** Longest delay, ms. Default 60000. */
  maxMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** Each delay is spread over `±jitter` of itself (0 to 1). Default 0.2. */
  jitter?: number;
  /** Uniform [0, 1) source for the jitter. Default a seeded {@link Rng} (seed 1). */
  random?: () => number;
}

/**
 * Delays for attempt 1, 2, 3 … : `initialMs × factor^(n-1)`, capped at `maxMs`, spread by the
 * jitter; {@link Backoff.reset} after a connection proved healthy.
 *
 * @throws {RangeError} from the constructor on a non-positive delay, a factor below 1 or a
 *   jitter outside 0..1.
 */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialMs ?? 1000;
    this.#max = options.maxMs ?? 60_000;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 0.2;
    if (!(this.#initial > 0) || !(this.#max >= this.#initial)) {
      throw new RangeError(
        `Cannot back off from ${this.#initial} ms up to ${this.#max} ms: use 0 < initialMs <= maxMs`,
      );
    }
    if (!(this.#factor >= 1)) {
      throw new RangeError(`Cannot back off by a factor of ${this.#factor}: use 1 or more`);
    }
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) {
      throw new RangeError(`Cannot jitter by ${this.#jitter}: use 0 to 1`);
    }
    if (options.random) {
      this.#random = options.random;
    } else {
      const rng = new Rng(1);
      this.#random = () => rng.next();
    }
  }

  /** Attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt (ms, a whole number), counting the attempt. */
  next(): number {
    this.#attempt++;
    const base = Math.min(this.#max, this.#initial * this.#factor ** (this.#attempt - 1));
    const spread = base * this.#jitter * (2 * this.#random() - 1);
    return Math.max(0, Math.round(Math.min(this.#max, base + spread)));
  }

  /** Starts again from `initialMs`. */
  reset(): void {
    this.#attempt = 0;
  }
}
