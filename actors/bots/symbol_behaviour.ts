/**
 * The symbol actor's logic: one actor per symbol turns market data into closed bars for every
 * timeframe bots asked for, keeps the indicators of each timeframe, and publishes
 * `{symbol, timeframe, bar, indicators}` updates on the topic `bars.<timeframe>`
 * ({@link barTopic}).
 *
 * Input: closed 1-minute bars, or trade prints (built into 1-minute bars), in batches: a
 * {@link BatchDelivery} of rows, or of trade columns ({@link TradeColumns}: typed arrays that
 * can be transferred instead of cloned, the cheap way to move many ticks between threads), or
 * `{type: "bars"}` / `{type: "trades"}` commands. Bars are
 * left-labelled like Alpaca's (`t` is the interval start; 5Min at :00, :05 …; 1Hour on the clock
 * hour; 1Day at midnight America/New_York). A bar is emitted when its interval closes: when the
 * 1-minute bar of its last minute arrives, when data of a later interval arrives, or on a
 * `{type: "tick", t}` at or after its end (so a quiet market still closes bars; a trade-built
 * minute closes the same way). Late data (before the current interval) is dropped and counted.
 * A timeframe that starts while data already flows skips its first, partial interval.
 *
 * Indicators: one {@link IndicatorSet} per timeframe, shared by key and reference-counted: bots
 * `subscribe` specs (reply: the keys) and `unsubscribe` keys. A new indicator is warmed with up
 * to `historyLimit` past bars of its timeframe. A timeframe with no subscribed key and not listed
 * in the spawn args' `timeframes` is dropped.
 *
 * Warm-up from the venue's history (the fetching is the bot manager's I/O): `warmup_need` answers
 * how many closed bars some keys lack (their longest window plus one, less the bars held) and
 * before when ({@link WarmupNeed}: the first live bar held); `warmup` takes the history bars before
 * that (so none duplicates a live bar; with no live bar yet, later live minutes they cover are
 * skipped), feeds the indicators still short of their window afresh (a warm one, which other bots
 * read, is left as it is), and answers every bar held with the keys' values
 * ({@link WarmupResult}) for the bot to replay. For a longer timeframe `warmup` may also carry
 * the 1-minute bars of the interval in progress: they complete a bar that live data joined
 * mid-interval (or that a timeframe added while data flows would skip), so the first live bar
 * is whole.
 *
 * The state holds the indicator objects, so it is not plain data: it stays in the actor's
 * thread. Everything published and replied is plain data.
 *
 * @module
 */

import type { Bar, Timeframe, Trade } from "../../core/market.ts";
import { etToEpochMs, toEt } from "../../core/calendar.ts";
import type { ActorBehaviour, Publication, Transition } from "../runtime/behaviour.ts";
import type { BatchDelivery, ColumnBatch, TypedArray } from "../runtime/protocol.ts";
import {
  IndicatorSet,
  type IndicatorSpec,
  type IndicatorSpecInput,
  parseIndicatorKey,
} from "../../strategies/indicator_spec.ts";
import type { BarUpdate } from "./bar_update.ts";
import { BOT_TIMEFRAMES, timeframeMs } from "./bot_config_data.ts";

export type { BarUpdate } from "./bar_update.ts";

/** The topic a symbol actor publishes a timeframe's updates on, e.g. `"bars.5Min"`. */
export function barTopic(timeframe: Timeframe): string {
  return `bars.${timeframe}`;
}

/**
 * Trade prints as columns, all of the batch's `length`: `t` the time in epoch milliseconds, `p`
 * the price, `s` the size (e.g. Float64Arrays). Other columns are ignored.
 */
export interface TradeColumns extends ColumnBatch {
  columns: { t: TypedArray; p: TypedArray; s: TypedArray } & Record<string, TypedArray>;
}

/** Spawn arguments. */
export interface SymbolArgs {
  symbol: string;
  /** Timeframes to aggregate even with no subscriber (default none). */
  timeframes?: Timeframe[];
  /** Closed bars kept per timeframe to warm new indicators (default 500). */
  historyLimit?: number;
}

/** Messages a symbol actor handles. */
export type SymbolMsg =
  | BatchDelivery<Bar | Trade>
  | { type: "bars"; bars: readonly Bar[] }
  | { type: "trades"; trades: readonly Trade[] }
  | { type: "tick"; t: string }
  | {
    type: "subscribe";
    timeframe: Timeframe;
    specs: readonly (IndicatorSpecInput | IndicatorSpec | string)[];
  }
  | { type: "unsubscribe"; timeframe: Timeframe; keys: readonly string[] }
  /**
   * Reply: {@link WarmupNeed}, the history `keys` of `timeframe` lack: their longest window plus
   * one, or `minBars` (a strategy's own look-back) when more.
   */
  | { type: "warmup_need"; timeframe: Timeframe; keys: readonly string[]; minBars?: number }
  /**
   * History of `timeframe` (closed bars, oldest first) for `keys`, and optionally the closed
   * 1-minute bars of the interval in progress (so a bar of a longer timeframe that started before
   * the live data is whole); reply: {@link WarmupResult}.
   */
  | {
    type: "warmup";
    timeframe: Timeframe;
    keys: readonly string[];
    bars: readonly Bar[];
    minutes?: readonly Bar[];
  }
  | { type: "status" };

/** What a symbol actor needs from the venue's history to warm some indicators. */
export interface WarmupNeed {
  /** How many closed bars of the timeframe, at most (0: the indicators are warm already). */
  bars: number;
  /**
   * The bars must start before this (epoch ms): the first bar of live data this actor holds. Null
   * when it holds none yet: then up to the current, partial bar.
   */
  beforeMs: number | null;
}

/** The reply to `warmup`. */
export interface WarmupResult {
  /** History bars taken (those before the live data this actor has seen; no duplicates). */
  accepted: number;
  /** Whether every one of the keys has its full window now. */
  warm: boolean;
  /**
   * Every bar held, oldest first, with the values of the keys after it: what the bot replays
   * (without trading) to warm its strategy.
   */
  updates: BarUpdate[];
}

interface Building {
  startMs: number;
  endMs: number;
  bar: Bar;
  /** Start of the first minute in it (a frame may start mid-interval). */
  fromMs?: number;
}

/** Numbers stored per bar: t (epoch ms), o, h, l, c, v, n, vw. */
const FIELDS = 8;

/**
 * The last `limit` closed bars of a timeframe, oldest first, kept as numbers in one Float64Array
 * ring (time, OHLC, volume, trade count, VWAP): 64 bytes a bar instead of a Bar object with its
 * time text, so a full history of 500 bars costs a symbol actor about 32 KB per timeframe. It
 * warms new indicators, and replays a bot's indicators over the past at warm-up. The ring grows
 * by doubling up to `limit`.
 */
export class BarHistory {
  readonly limit: number;
  #data: Float64Array;
  #capacity: number;
  #head = 0;
  #size = 0;

  constructor(limit: number) {
    this.limit = Math.max(0, Math.floor(limit));
    this.#capacity = Math.min(this.limit, 64);
    this.#data = new Float64Array(this.#capacity * FIELDS);
  }

  /** Bars held. */
  get size(): number {
    return this.#size;
  }

  /** Start (epoch ms) of the oldest bar held, or null when empty. */
  get firstMs(): number | null {
    return this.#size === 0 ? null : this.#data[this.#head * FIELDS]!;
  }

  /** Appends a closed bar, forgetting the oldest beyond `limit`. */
  push(bar: Bar): void {
    if (this.limit === 0) return;
    if (this.#size === this.#capacity && this.#capacity < this.limit) this.#grow();
    const at = ((this.#head + this.#size) % this.#capacity) * FIELDS;
    const d = this.#data;
    d[at] = Date.parse(bar.t);
    d[at + 1] = bar.o;
    d[at + 2] = bar.h;
    d[at + 3] = bar.l;
    d[at + 4] = bar.c;
    d[at + 5] = bar.v;
    d[at + 6] = bar.n;
    d[at + 7] = bar.vw;
    if (this.#size < this.#capacity) this.#size++;
    else this.#head = (this.#head + 1) % this.#capacity;
  }

  /** The bars held, oldest first. */
  bars(): Bar[] {
    const out: Bar[] = [];
    const d = this.#data;
    for (let i = 0; i < this.#size; i++) {
      const at = ((this.#head + i) % this.#capacity) * FIELDS;
      out.push({
        t: iso(d[at]!),
        o: d[at + 1]!,
        h: d[at + 2]!,
        l: d[at + 3]!,
        c: d[at + 4]!,
        v: d[at + 5]!,
        n: d[at + 6]!,
        vw: d[at + 7]!,
      });
    }
    return out;
  }

  #grow(): void {
    const capacity = Math.min(this.limit, this.#capacity * 2);
    const next = new Float64Array(capacity * FIELDS);
    for (let i = 0; i < this.#size; i++) {
      const from = ((this.#head + i) % this.#capacity) * FIELDS;
      next.set(this.#data.subarray(from, from + FIELDS), i * FIELDS);
    }
    this.#data = next;
    this.#capacity = capacity;
    this.#head = 0;
  }
}

interface Frame {
  set: IndicatorSet;
  refs: Record<string, number>;
  pending: Building | null;
  history: BarHistory;
  /** Minutes before this are part of a partial first interval and skipped. */
  skipBeforeMs: number | null;
  fresh: boolean;
  /** Start of the first interval taken from live data; null before any. */
  liveFromMs: number | null;
  /** End of the newest history bar taken at warm-up: live minutes before it are counted. */
  warmedUntilMs: number | null;
}

/** A symbol actor's state (holds indicator objects: not for structured clone). */
export interface SymbolState {
  symbol: string;
  pinned: Timeframe[];
  historyLimit: number;
  frames: Partial<Record<Timeframe, Frame>>;
  /** The minute being built from trades. */
  minute: Building | null;
  /** Start of the newest minute seen. */
  lastMinuteMs: number | null;
  late: number;
}

/** A symbol actor's `status` reply. */
export interface SymbolStatus {
  symbol: string;
  timeframes: Timeframe[];
  /** Reference counts per timeframe and key. */
  refs: Partial<Record<Timeframe, Record<string, number>>>;
  lateDropped: number;
}

const MINUTE = 60_000;
/** Most bars a timeframe's history holds, whatever is asked (a window of `MAX_PERIOD`, + 1). */
const MAX_HISTORY = 10_001;

/** Start (epoch ms) of the `tf` interval holding `ms`: bars are left-labelled. */
export function bucketStart(tf: Timeframe, ms: number): number {
  if (tf === "1Day") return etToEpochMs(toEt(ms).dateStr, "00:00");
  const size = timeframeMs(tf);
  return Math.floor(ms / size) * size;
}

function bucketEnd(tf: Timeframe, start: number): number {
  if (tf === "1Day") return etToEpochMs(toEt(start + 36 * 3_600_000).dateStr, "00:00");
  return start + timeframeMs(tf);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function mergeBar(into: Bar, bar: Bar): Bar {
  const v = into.v + bar.v;
  return {
    t: into.t,
    o: into.o,
    h: Math.max(into.h, bar.h),
    l: Math.min(into.l, bar.l),
    c: bar.c,
    v,
    n: into.n + bar.n,
    vw: v > 0 ? (into.vw * into.v + bar.vw * bar.v) / v : bar.c,
  };
}

function newFrame(state: SymbolState): Frame {
  return {
    set: new IndicatorSet(),
    refs: {},
    pending: null,
    history: new BarHistory(state.historyLimit),
    skipBeforeMs: null,
    fresh: state.lastMinuteMs !== null,
    liveFromMs: null,
    warmedUntilMs: null,
  };
}

/** Working context of one step: collects updates per timeframe. */
class Step {
  readonly out = new Map<Timeframe, BarUpdate[]>();
  constructor(readonly state: SymbolState) {}

  emit(tf: Timeframe, frame: Frame, bar: Bar): void {
    const indicators = frame.set.update(bar);
    frame.history.push(bar);
    const list = this.out.get(tf) ?? [];
    list.push({ symbol: this.state.symbol, timeframe: tf, bar, indicators });
    this.out.set(tf, list);
  }

  /** Closes every interval that ends at or before `ms`. */
  closeUntil(ms: number): void {
    const s = this.state;
    if (s.minute && s.minute.endMs <= ms) {
      const m = s.minute;
      s.minute = null;
      this.minuteClosed(m.bar, m.startMs);
    }
    for (const tf of BOT_TIMEFRAMES) {
      const frame = s.frames[tf];
      if (frame?.pending && frame.pending.endMs <= ms) {
        const p = frame.pending;
        frame.pending = null;
        this.emit(tf, frame, p.bar);
      }
    }
  }

  /** Feeds one closed 1-minute bar starting at `startMs` to every timeframe. */
  minuteClosed(bar: Bar, startMs: number): void {
    const s = this.state;
    if (s.lastMinuteMs !== null && startMs <= s.lastMinuteMs) {
      s.late++;
      return;
    }
    // Data of a later interval closes the earlier ones.
    this.closeUntil(startMs);
    s.lastMinuteMs = startMs;
    for (const tf of BOT_TIMEFRAMES) {
      const frame = s.frames[tf];
      if (!frame) continue;
      const start = bucketStart(tf, startMs);
      const end = bucketEnd(tf, start);
      // Already in the history this timeframe was warmed with.
      if (frame.warmedUntilMs !== null && startMs < frame.warmedUntilMs) continue;
      if (frame.fresh) {
        frame.fresh = false;
        if (start !== startMs) frame.skipBeforeMs = end;
      }
      if (frame.skipBeforeMs !== null && startMs < frame.skipBeforeMs) continue;
      frame.liveFromMs ??= start;
      if (tf === "1Min") {
        this.emit(tf, frame, { ...bar, t: iso(startMs) });
        continue;
      }
      frame.pending = frame.pending
        ? { ...frame.pending, bar: mergeBar(frame.pending.bar, bar) }
        : { startMs: start, endMs: end, bar: { ...bar, t: iso(start) }, fromMs: startMs };
      if (startMs + MINUTE >= end) {
        const p = frame.pending;
        frame.pending = null;
        this.emit(tf, frame, p.bar);
      }
    }
  }

  trade(trade: Trade): void {
    this.tradeAt(Date.parse(trade.t), trade.p, trade.s);
  }

  /** One trade print at `ms` (epoch) of `size` at `price`. */
  tradeAt(ms: number, price: number, size: number): void {
    const s = this.state;
    const start = Math.floor(ms / MINUTE) * MINUTE;
    if (s.minute && start < s.minute.startMs) {
      s.late++;
      return;
    }
    if (s.minute && start > s.minute.startMs) this.closeUntil(start);
    if (!s.minute) {
      if (s.lastMinuteMs !== null && start <= s.lastMinuteMs) {
        s.late++;
        return;
      }
      s.minute = {
        startMs: start,
        endMs: start + MINUTE,
        bar: { t: iso(start), o: price, h: price, l: price, c: price, v: 0, n: 0, vw: 0 },
      };
    }
    // Updated in place: the building bar is this actor's own until it closes (then copied).
    const b = s.minute.bar;
    const v = b.v + size;
    b.vw = v > 0 ? (b.vw * b.v + price * size) / v : price;
    b.h = Math.max(b.h, price);
    b.l = Math.min(b.l, price);
    b.c = price;
    b.v = v;
    b.n++;
  }

  transition(reply?: unknown): Transition<SymbolState, never> {
    const publish: Publication[] = [];
    for (const tf of BOT_TIMEFRAMES) {
      const rows = this.out.get(tf);
      if (rows?.length) publish.push({ topic: barTopic(tf), batch: { kind: "rows", rows } });
    }
    const t: Transition<SymbolState, never> = { state: this.state };
    if (publish.length) t.publish = publish;
    if (reply !== undefined) t.reply = reply;
    return t;
  }
}

function isTrade(row: Bar | Trade): row is Trade {
  return (row as Trade).p !== undefined;
}

function status(state: SymbolState): SymbolStatus {
  const refs: SymbolStatus["refs"] = {};
  const timeframes: Timeframe[] = [];
  for (const tf of BOT_TIMEFRAMES) {
    const frame = state.frames[tf];
    if (!frame) continue;
    timeframes.push(tf);
    refs[tf] = { ...frame.refs };
  }
  return { symbol: state.symbol, timeframes, refs, lateDropped: state.late };
}

/** The symbol actor's behaviour. Throws on a bad indicator spec in `subscribe` (the reply fails). */
export const symbolBehaviour: ActorBehaviour<SymbolState, SymbolMsg, never, SymbolArgs> = {
  init(args) {
    const state: SymbolState = {
      symbol: args.symbol,
      pinned: [...(args.timeframes ?? [])],
      historyLimit: args.historyLimit ?? 500,
      frames: {},
      minute: null,
      lastMinuteMs: null,
      late: 0,
    };
    for (const tf of state.pinned) state.frames[tf] = newFrame(state);
    return state;
  },
  receive(state, msg) {
    const step = new Step(state);
    switch (msg.type) {
      case "batch": {
        if (msg.batch.kind === "columns") {
          const { length, columns } = msg.batch;
          const { t, p, s } = columns;
          if (!t || !p || !s || t.length < length || p.length < length || s.length < length) {
            throw new TypeError(
              `Cannot read trade columns of "${state.symbol}": need t, p and s of ${length} entries`,
            );
          }
          for (let i = 0; i < length; i++) {
            step.tradeAt(Number(t[i]), Number(p[i]), Number(s[i]));
          }
          return step.transition();
        }
        for (const row of msg.batch.rows) {
          if (isTrade(row)) step.trade(row);
          else step.minuteClosed(row, Date.parse(row.t));
        }
        return step.transition();
      }
      case "bars":
        for (const bar of msg.bars) step.minuteClosed(bar, Date.parse(bar.t));
        return step.transition();
      case "trades":
        for (const trade of msg.trades) step.trade(trade);
        return step.transition();
      case "tick":
        step.closeUntil(Date.parse(msg.t));
        return step.transition();
      case "subscribe": {
        const frame = state.frames[msg.timeframe] ?? newFrame(state);
        const added: string[] = [];
        try {
          for (const spec of msg.specs) {
            const parsed = typeof spec === "string" ? parseIndicatorKey(spec) : spec;
            const key = frame.set.add(parsed, frame.history.bars());
            frame.refs[key] = (frame.refs[key] ?? 0) + 1;
            added.push(key);
          }
        } catch (e) {
          for (const key of added) release(frame, key);
          throw e;
        }
        state.frames[msg.timeframe] = frame;
        return { state, reply: { keys: added } };
      }
      case "unsubscribe": {
        const frame = state.frames[msg.timeframe];
        if (frame) {
          for (const key of msg.keys) release(frame, key);
          if (Object.keys(frame.refs).length === 0 && !state.pinned.includes(msg.timeframe)) {
            delete state.frames[msg.timeframe];
          }
        }
        return { state, reply: { ok: true } };
      }
      case "warmup_need": {
        const frame = state.frames[msg.timeframe];
        const reply: WarmupNeed = frame
          ? warmupNeed(frame, msg.keys, msg.minBars ?? 0)
          : { bars: 0, beforeMs: null };
        return { state, reply };
      }
      case "warmup": {
        const frame = state.frames[msg.timeframe];
        if (frame && msg.minutes?.length && msg.timeframe !== "1Min") {
          seedInterval(msg.timeframe, frame, msg.minutes);
        }
        const reply: WarmupResult = frame
          ? warmup(state.symbol, msg.timeframe, frame, msg.keys, msg.bars)
          : { accepted: 0, warm: false, updates: [] };
        return { state, reply };
      }
      case "status":
        return { state, reply: status(state) };
    }
  },
};

/** Bars needed for `keys` to have a value: the longest warm-up of their indicators. */
function longestWindow(frame: Frame, keys: readonly string[]): number {
  let n = 0;
  for (const key of keys) n = Math.max(n, frame.set.get(key)?.warmup ?? 0);
  return n;
}

/** Where history must end: before the first live data the frame holds (null: none yet). */
function liveBoundary(frame: Frame): number | null {
  if (frame.history.firstMs !== null) return frame.history.firstMs;
  if (frame.liveFromMs !== null) return frame.liveFromMs;
  if (frame.skipBeforeMs !== null) return frame.skipBeforeMs;
  return frame.warmedUntilMs;
}

function warmupNeed(frame: Frame, keys: readonly string[], minBars: number): WarmupNeed {
  const warm = keys.every((key) => frame.set.get(key)?.isStable ?? false);
  // One bar more than the longest window: a strategy comparing with the previous value (a
  // cross) can act on the first live bar. The history grows past its limit when a window needs.
  const want = Math.max(longestWindow(frame, keys) + 1, Math.floor(minBars));
  const bars = warm && frame.history.size >= want ? 0 : Math.max(0, want - frame.history.size);
  return { bars, beforeMs: liveBoundary(frame) };
}

/**
 * Completes the interval in progress of a longer timeframe with the venue's 1-minute bars of it
 * that came before the frame's live data: when the frame builds the interval from a later minute,
 * when it skips it (a timeframe added while data flows), or when it has no live data yet. Minutes
 * of any other interval, or at or after the first live minute taken, are ignored; later live
 * minutes already covered are skipped.
 */
function seedInterval(
  tf: Timeframe,
  frame: Frame,
  minutes: readonly Bar[],
): void {
  const startMs = bucketStart(tf, Date.parse(minutes[0]!.t));
  const endMs = bucketEnd(tf, startMs);
  let beforeMs: number; // minutes from this on are live, or will be
  if (frame.pending) {
    if (frame.pending.startMs !== startMs) return;
    beforeMs = frame.pending.fromMs ?? startMs;
  } else if (frame.skipBeforeMs !== null && frame.liveFromMs === null) {
    if (frame.skipBeforeMs !== endMs) return;
    beforeMs = endMs;
  } else if (frame.liveFromMs === null) {
    beforeMs = endMs;
  } else return;
  // Not into an interval history already covers.
  if (frame.warmedUntilMs !== null && startMs < frame.warmedUntilMs) return;
  let bar: Bar | null = null;
  let lastMs = -Infinity;
  for (const minute of minutes) {
    const ms = Date.parse(minute.t);
    if (!(ms > lastMs) || ms < startMs || ms >= beforeMs) continue;
    bar = bar ? mergeBar(bar, minute) : { ...minute, t: iso(startMs) };
    lastMs = ms;
  }
  if (!bar) return;
  if (frame.pending) {
    frame.pending = { ...frame.pending, bar: mergeBar(bar, frame.pending.bar), fromMs: startMs };
    return;
  }
  frame.pending = { startMs, endMs, bar, fromMs: startMs };
  frame.fresh = false;
  frame.skipBeforeMs = null;
  frame.liveFromMs = startMs;
  // Live minutes up to the last seeded may still come: they are counted already.
  frame.warmedUntilMs = Math.max(frame.warmedUntilMs ?? -Infinity, lastMs + MINUTE);
}

function warmup(
  symbol: string,
  timeframe: Timeframe,
  frame: Frame,
  keys: readonly string[],
  history: readonly Bar[],
): WarmupResult {
  const boundary = liveBoundary(frame);
  const taken: Bar[] = [];
  let lastMs = -Infinity;
  for (const bar of history) {
    const ms = Date.parse(bar.t);
    // Oldest first, no duplicates, nothing at or after the live data already held.
    if (!(ms > lastMs) || (boundary !== null && ms >= boundary)) continue;
    taken.push(bar);
    lastMs = ms;
  }
  if (taken.length > 0) {
    const merged = [...taken, ...frame.history.bars()];
    // Room for what was asked (a window, or a strategy's look-back), past the usual limit.
    const limit = Math.max(
      frame.history.limit,
      longestWindow(frame, frame.set.keys()) + 1,
      Math.min(merged.length, MAX_HISTORY),
    );
    const ring = new BarHistory(limit);
    for (const bar of merged) ring.push(bar);
    frame.history = ring;
    if (frame.liveFromMs === null && frame.skipBeforeMs === null) {
      frame.warmedUntilMs = Math.max(frame.warmedUntilMs ?? 0, bucketEnd(timeframe, lastMs));
    }
    // Indicators still short of their window start again on the longer history; a warm one is
    // left alone (another bot reads it live).
    for (const key of frame.set.keys()) {
      if (!frame.set.get(key)!.isStable) frame.set.rewarm(key, frame.history.bars());
    }
  }
  // The bot's indicators over every bar held, computed afresh for its strategy's replay.
  const replay = new IndicatorSet();
  for (const key of keys) replay.add(parseIndicatorKey(key));
  const updates: BarUpdate[] = [];
  for (const bar of frame.history.bars()) {
    const values = replay.update(bar);
    const indicators: Record<string, BarUpdate["indicators"][string]> = {};
    for (const key of keys) indicators[key] = values[key] ?? null;
    updates.push({ symbol, timeframe, bar, indicators });
  }
  const warm = keys.every((key) => frame.set.get(key)?.isStable ?? false);
  return { accepted: taken.length, warm, updates };
}

function release(frame: Frame, key: string): void {
  const n = frame.refs[key];
  if (n === undefined) return;
  frame.set.release(key);
  if (n <= 1) delete frame.refs[key];
  else frame.refs[key] = n - 1;
}
