/**
 * Clocks: the one source of "now" and of timers for the engine, the venue and bots.
 *
 * Production uses {@link SystemClock}; tests and backtests use {@link TestClock}, whose time
 * moves only when told, firing due timers in order, so runs are identical every time.
 *
 * @module
 */

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` after `ms`; answers a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
  /** Calls `fn` every `ms`; answers a cancel function. */
  setRepeating(fn: () => void, ms: number): () => void;
}

/** The wall clock and real timers. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  }

  setRepeating(fn: () => void, ms: number): () => void {
    const id = setInterval(fn, ms);
    return () => clearInterval(id);
  }
}

interface Timer {
  id: number;
  at: number;
  every: number | null;
  fn: () => void;
}

/**
 * A clock that moves only through {@link TestClock.advance} or {@link TestClock.set}. Due
 * timers fire in time order (ties in creation order), each seeing `now()` equal to its due
 * time.
 *
 * @example
 * ```ts
 * const clock = new TestClock(Date.parse("2026-11-23T14:30:00Z"));
 * clock.setTimer(() => console.log(clock.now()), 1000);
 * clock.advance(1000); // fires, printing the due time
 * ```
 */
export class TestClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #next = 1;

  constructor(startMs: number) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): () => void {
    return this.#add(fn, Math.max(0, ms), null);
  }

  setRepeating(fn: () => void, ms: number): () => void {
    if (!(ms > 0)) throw new RangeError(`Cannot repeat every ${ms} ms: use a positive interval`);
    return this.#add(fn, ms, ms);
  }

  /** Moves time forward by `ms`, firing every timer that falls due. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`Cannot move a test clock back by ${ms} ms`);
    this.set(this.#now + ms);
  }

  /** Moves time forward to `tsMs`, firing every timer that falls due. */
  set(tsMs: number): void {
    if (tsMs < this.#now) {
      throw new RangeError(`Cannot move a test clock back from ${this.#now} to ${tsMs}`);
    }
    while (true) {
      const due = this.#timers.filter((t) =>
        t.at <= tsMs
      ).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#now = due.at;
      if (due.every !== null) due.at += due.every;
      else this.#timers = this.#timers.filter((t) => t !== due);
      due.fn();
    }
    this.#now = tsMs;
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.#timers.length;
  }

  #add(fn: () => void, ms: number, every: number | null): () => void {
    const timer: Timer = { id: this.#next++, at: this.#now + ms, every, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
}
