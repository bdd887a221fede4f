/**
 * Bounded mailboxes: one FIFO queue whose items fall into lanes, each lane with its own
 * capacity and overflow policy. An actor's mailbox has a `commands` lane that rejects when full
 * (backpressure: the sender is told) and a `data` lane that drops its oldest item (stale market
 * data is worth less than fresh). Items leave in arrival order whatever their lane.
 *
 * @example
 * ```ts
 * const box = new Mailbox<Msg, "commands" | "data">({
 *   commands: { capacity: 100, overflow: "reject" },
 *   data: { capacity: 8, overflow: "drop-oldest" },
 * }, (m) => m.type === "batch" ? "data" : "commands");
 * box.push(msg);          // throws ActorError MAILBOX_FULL when the lane rejects
 * await box.put(msg);     // waits for room instead
 * const next = await box.take();
 * ```
 *
 * @module
 */
import { ActorError } from "./protocol.ts";

/** What a full lane does with one more item. */
export type OverflowPolicy = "drop-oldest" | "drop-newest" | "reject";

/** Capacity and overflow policy of one lane. */
export interface LaneOptions {
  capacity: number;
  overflow: OverflowPolicy;
}

/** Counters of one lane. */
export interface LaneStats {
  size: number;
  capacity: number;
  accepted: number;
  /** Items discarded by drop-oldest or drop-newest. */
  dropped: number;
  /** Items refused by a rejecting lane, or offered after close. */
  rejected: number;
}

/** The outcome of {@link Mailbox.offer}. */
export type Offer<T> =
  | { status: "accepted" }
  /** Accepted, after evicting the lane's oldest item. */
  | { status: "evicted"; evicted: T }
  /** Not enqueued: the lane is full (reject or drop-newest) or the mailbox is closed. */
  | { status: "refused"; reason: "full" | "closed" };

/** A growable ring buffer. */
class Deque<T> {
  #items: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) % this.#items.length] = item;
    this.#length++;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#length--;
    return item;
  }

  /** Keeps only the items that pass `keep`, in order. */
  retain(keep: (item: T) => boolean): void {
    const kept: T[] = [];
    while (this.#length > 0) {
      const item = this.shift() as T;
      if (keep(item)) kept.push(item);
    }
    for (const item of kept) this.push(item);
  }

  #grow(): void {
    const next = new Array<T | undefined>(this.#items.length * 2);
    for (let i = 0; i < this.#length; i++) {
      next[i] = this.#items[(this.#head + i) % this.#items.length];
    }
    this.#items = next;
    this.#head = 0;
  }
}

interface Entry<T, L> {
  item: T;
  lane: L;
  live: boolean;
}

interface Lane<T, L> {
  options: LaneOptions;
  /** Entries of this lane in arrival order; dead ones are skipped lazily. */
  entries: Deque<Entry<T, L>>;
  size: number;
  accepted: number;
  dropped: number;
  rejected: number;
  /** Senders waiting in {@link Mailbox.put} for room. */
  waiting: Deque<() => void>;
}

/** A bounded multi-lane FIFO queue. */
export class Mailbox<T, L extends string = string> {
  #lanes = new Map<L, Lane<T, L>>();
  #laneOf: (item: T) => L;
  #queue = new Deque<Entry<T, L>>();
  #size = 0;
  #dead = 0;
  #takers = new Deque<{ resolve: (item: T) => void; reject: (e: Error) => void }>();
  #closed = false;

  /**
   * @param lanes capacity and overflow policy per lane
   * @param laneOf picks an item's lane
   * @throws {RangeError} when a capacity is not a positive integer
   */
  constructor(lanes: Record<L, LaneOptions>, laneOf: (item: T) => L) {
    for (const [name, options] of Object.entries(lanes) as [L, LaneOptions][]) {
      if (!Number.isInteger(options.capacity) || options.capacity < 1) {
        throw new RangeError(
          `Cannot create mailbox lane "${name}": capacity ${options.capacity} is not a positive integer`,
        );
      }
      this.#lanes.set(name, {
        options,
        entries: new Deque(),
        size: 0,
        accepted: 0,
        dropped: 0,
        rejected: 0,
        waiting: new Deque(),
      });
    }
    this.#laneOf = laneOf;
  }

  /** A single-lane mailbox (a bounded channel). */
  static channel<T>(capacity: number, overflow: OverflowPolicy): Mailbox<T, "main"> {
    return new Mailbox<T, "main">({ main: { capacity, overflow } }, () => "main");
  }

  /** Items waiting, all lanes. */
  get size(): number {
    return this.#size;
  }

  /** True after {@link Mailbox.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Counters per lane. */
  stats(): Record<L, LaneStats> {
    const out = {} as Record<L, LaneStats>;
    for (const [name, lane] of this.#lanes) {
      out[name] = {
        size: lane.size,
        capacity: lane.options.capacity,
        accepted: lane.accepted,
        dropped: lane.dropped,
        rejected: lane.rejected,
      };
    }
    return out;
  }

  /** Enqueues `item` if its lane's policy allows; never throws for a full lane. */
  offer(item: T): Offer<T> {
    const lane = this.#lane(item);
    if (this.#closed) {
      lane.rejected++;
      return { status: "refused", reason: "closed" };
    }
    const taker = this.#takers.shift();
    if (taker) {
      lane.accepted++;
      taker.resolve(item);
      return { status: "accepted" };
    }
    let evicted: Entry<T, L> | undefined;
    if (lane.size >= lane.options.capacity) {
      if (lane.options.overflow === "reject") {
        lane.rejected++;
        return { status: "refused", reason: "full" };
      }
      if (lane.options.overflow === "drop-newest") {
        lane.dropped++;
        return { status: "refused", reason: "full" };
      }
      evicted = this.#evictOldest(lane);
      lane.dropped++;
    }
    const entry: Entry<T, L> = { item, lane: this.#laneOf(item), live: true };
    this.#queue.push(entry);
    lane.entries.push(entry);
    lane.size++;
    this.#size++;
    lane.accepted++;
    return evicted ? { status: "evicted", evicted: evicted.item } : { status: "accepted" };
  }

  /**
   * Enqueues `item`.
   * @throws {ActorError} `MAILBOX_FULL` when a rejecting lane is full, `CLOSED` after close
   */
  push(item: T): void {
    const result = this.offer(item);
    if (result.status === "refused" && result.reason === "closed") {
      throw new ActorError("CLOSED", `Cannot enqueue into lane "${this.#laneOf(item)}": closed`);
    }
    if (
      result.status === "refused" && this.#lane(item).options.overflow === "reject"
    ) {
      const lane = this.#lane(item);
      throw new ActorError(
        "MAILBOX_FULL",
        `Cannot enqueue into lane "${this.#laneOf(item)}": full at ${lane.options.capacity}`,
      );
    }
  }

  /**
   * Enqueues `item`, waiting for room when its lane rejects on overflow (backpressure). Lanes
   * that drop never wait.
   * @throws {ActorError} `CLOSED` when the mailbox is or becomes closed
   */
  async put(item: T): Promise<void> {
    const lane = this.#lane(item);
    while (lane.options.overflow === "reject" && lane.size >= lane.options.capacity) {
      if (this.#closed) break;
      await new Promise<void>((resolve) => lane.waiting.push(resolve));
    }
    this.push(item);
  }

  /** The next item, or undefined when empty. */
  poll(): T | undefined {
    while (true) {
      const entry = this.#queue.shift();
      if (!entry) return undefined;
      if (!entry.live) {
        this.#dead--;
        continue;
      }
      const lane = this.#lanes.get(entry.lane)!;
      // The oldest live entry overall is the oldest live entry of its lane.
      while (lane.entries.peek() !== entry) lane.entries.shift();
      lane.entries.shift();
      entry.live = false;
      lane.size--;
      this.#size--;
      lane.waiting.shift()?.();
      return entry.item;
    }
  }

  /** Takes every waiting item, in order. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.poll(); item !== undefined; item = this.poll()) out.push(item);
    return out;
  }

  /**
   * The next item, waiting for one if empty.
   * @throws {ActorError} `CLOSED` when the mailbox is closed and empty
   */
  take(): Promise<T> {
    if (this.#size > 0) return Promise.resolve(this.poll() as T);
    if (this.#closed) return Promise.reject(new ActorError("CLOSED", "Cannot take: closed"));
    return new Promise((resolve, reject) => this.#takers.push({ resolve, reject }));
  }

  /** Refuses new items; waiting takers and senders fail. Items already queued can be taken. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let t = this.#takers.shift(); t; t = this.#takers.shift()) {
      t.reject(new ActorError("CLOSED", "Cannot take: closed"));
    }
    for (const lane of this.#lanes.values()) {
      for (let w = lane.waiting.shift(); w; w = lane.waiting.shift()) w();
    }
  }

  /** Yields items until the mailbox is closed and empty. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.#size === 0 && this.#closed) return;
      try {
        yield await this.take();
      } catch (e) {
        if (e instanceof ActorError && e.code === "CLOSED") return;
        throw e;
      }
    }
  }

  #lane(item: T): Lane<T, L> {
    const name = this.#laneOf(item);
    const lane = this.#lanes.get(name);
    if (!lane) throw new RangeError(`Cannot route item to mailbox lane "${name}": no such lane`);
    return lane;
  }

  #evictOldest(lane: Lane<T, L>): Entry<T, L> {
    let entry = lane.entries.shift();
    while (entry && !entry.live) entry = lane.entries.shift();
    entry!.live = false;
    lane.size--;
    this.#size--;
    this.#dead++;
    // Evicted entries stay in the queue as tombstones; compact before they outnumber the rest.
    if (this.#dead > 64 && this.#dead > this.#size) {
      this.#queue.retain((e) => e.live);
      this.#dead = 0;
    }
    return entry!;
  }
}
