/**
 * Helpers of the actor runtime tests: a failure guard for awaited events (never a
 * synchronisation sleep) and a log that tests can wait on.
 *
 * @module
 */

/** Fails with `what` when `promise` has not settled after `ms` (a guard, not a sleep). */
export async function within<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    id = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(id);
  }
}

/** Records items and lets a test await the first one matching a predicate. */
export class Log<T> {
  readonly items: T[] = [];
  #waiters: { match: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  /** Records an item (use as a callback). */
  push = (item: T): void => {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(item)) return true;
      w.resolve(item);
      return false;
    });
  };

  /** The first item (already recorded or still to come) that matches. */
  waitFor(match: (item: T) => boolean, what: string): Promise<T> {
    const found = this.items.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return within(new Promise<T>((resolve) => this.#waiters.push({ match, resolve })), what);
  }

  /** Resolves with the first `n` items once that many are recorded. */
  count(n: number, what: string): Promise<T[]> {
    if (this.items.length >= n) return Promise.resolve(this.items.slice(0, n));
    return within(
      new Promise<T[]>((resolve) =>
        this.#waiters.push({
          match: () => this.items.length >= n,
          resolve: () => resolve(this.items.slice(0, n)),
        })
      ),
      `${n} items: ${what}`,
    );
  }
}
