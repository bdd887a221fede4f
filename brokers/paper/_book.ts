/**
 * Private data structures of the paper exchange: sorted order lists keyed by price then
 * submission sequence, and a timer heap. Nothing here knows about orders beyond `bookKey` and
 * `seq`; the exchange decides what the keys mean.
 *
 * @module
 */

/** An entry of an {@link OrderList}: ordered by `bookKey`, then by `seq`. */
export interface Keyed {
  /** Sort key: the list is ascending in it (the exchange negates prices for "highest first"). */
  bookKey: bigint;
  /** Submission sequence number: breaks ties, oldest first. */
  readonly seq: number;
}

/**
 * A list kept sorted by (`bookKey`, `seq`) ascending. Inserts and removals are a binary search
 * plus one `splice` (a memmove), which beats a tree for the book sizes a paper venue sees.
 */
export class OrderList<T extends Keyed> {
  /** The entries, best first. Read only; change it through the methods. */
  readonly items: T[] = [];

  /** Number of entries. */
  get size(): number {
    return this.items.length;
  }

  /** Index of the first entry ordered after (`key`, `seq`). */
  firstAfter(key: bigint, seq: number): number {
    const a = this.items;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = a[mid]!;
      if (m.bookKey < key || (m.bookKey === key && m.seq <= seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds an entry at its sorted place. */
  insert(item: T): void {
    const i = this.firstAfter(item.bookKey, item.seq);
    if (i === this.items.length) this.items.push(item);
    else this.items.splice(i, 0, item);
  }

  /** Removes an entry (by identity); answers whether it was there. */
  remove(item: T): boolean {
    const i = this.firstAfter(item.bookKey, item.seq) - 1;
    if (i >= 0 && this.items[i] === item) {
      this.items.splice(i, 1);
      return true;
    }
    const j = this.items.indexOf(item);
    if (j < 0) return false;
    this.items.splice(j, 1);
    return true;
  }
}

/** One scheduled event of a {@link TimerHeap}. */
export interface TimerEntry<T> {
  /** Due time, epoch ms. */
  readonly at: number;
  /** Lower runs first among timers due at the same instant. */
  readonly rank: number;
  /** Breaks remaining ties: lower runs first. */
  readonly seq: number;
  readonly item: T;
}

function before<T>(a: TimerEntry<T>, b: TimerEntry<T>): boolean {
  return a.at !== b.at ? a.at < b.at : a.rank !== b.rank ? a.rank < b.rank : a.seq < b.seq;
}

/** A binary min-heap of timers ordered by (`at`, `rank`, `seq`). Stale entries are the caller's. */
export class TimerHeap<T> {
  readonly #a: TimerEntry<T>[] = [];

  /** Number of pending timers. */
  get size(): number {
    return this.#a.length;
  }

  /** Schedules a timer. */
  push(entry: TimerEntry<T>): void {
    const a = this.#a;
    a.push(entry);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  /** The earliest timer, without removing it. */
  peek(): TimerEntry<T> | undefined {
    return this.#a[0];
  }

  /** Removes and answers the earliest timer. */
  pop(): TimerEntry<T> | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
