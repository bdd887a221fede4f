/**
 * The actor runtime under market load (issue 6): 50 symbol actors on a {@link WorkerPool} (one
 * host per core) and 20 bot actors, each in its own Worker, linked by MessageChannels as the
 * runtime links them (`link()`), running the built-in strategies on 1-minute bars.
 *
 * What a tick is: one trade print of one symbol (time, price, size), from a seeded random walk
 * per symbol. The main thread sends ticks to the symbol actors in batches (`sendBatch`, one
 * batch per symbol per round), in two forms: Alpaca-shaped {@link Trade} rows (`t`, `x`, `p`,
 * `s`, `c`, `i`, `z`: structured-cloned) and typed-array columns (`t` epoch ms, `p`, `s`:
 * transferred). The symbol actors build 1-minute bars from them ({@link TICKS_PER_BAR} ticks per
 * simulated minute, so bars close often) with the indicators the bots subscribed to, and publish
 * every closed bar to the bots that trade the symbol. Each bot trades {@link SYMBOLS_PER_BOT} of
 * the 50 symbols (every symbol feeds 4 bots); even bots run `sma_cross`, odd bots
 * `indicator_vote`, with short periods so that intents are frequent, trading around the clock.
 * Orders the bots emit are answered at once with a fill from the main thread (no venue, no
 * database), so bots keep trading instead of waiting on a pending order.
 *
 * Figures:
 * - the raw ceiling: the same tick batches, generated the same way, posted to plain Workers
 *   (as many as the pool has hosts) that only count them;
 * - throughput, for each form: ticks per second "through" the actors, counted from the first
 *   batch sent until every tick was consumed by its symbol actor and every bar those ticks
 *   closed was processed by every bot that trades the symbol. Sending is flow-controlled (a
 *   status request every few rounds acknowledges them), so the bounded data mailboxes drop
 *   nothing; drops, if any, are printed;
 * - tick-to-intent latency at a paced 5,000 ticks/s (columns): from posting the batch holding
 *   the tick that closes a bar (the first tick of the next minute) to the bot's `signal` effect
 *   for that bar arriving in the main thread (every intent gives one, traded or suppressed);
 * - RSS: per bot Worker (the RSS growth of spawning and linking the 20 bots, divided by 20)
 *   beside a bare Worker's; per pooled symbol actor, on a pool of its own: a host's fixed cost
 *   (idle, and busy: a busy isolate grows its young generation) and the marginal cost of one
 *   more actor, measured on 200 extra actors with the bots' indicators and a full 500-bar
 *   history.
 *
 * `BENCH_SECONDS` (default 5) sets the length of the measured throughput and paced runs;
 * `BENCH_TICKS_PER_BAR` (default 50) how many ticks make a bar.
 * Benchmarks print; they never assert.
 *
 * @module
 */

import type { Bar, Trade } from "../core/market.ts";
import { Rng } from "../core/random.ts";
import type { ActorHandle } from "../actors/runtime/actor.ts";
import { link, spawnActor } from "../actors/runtime/placement.ts";
import { WorkerPool } from "../actors/runtime/pool.ts";
import {
  type Batch,
  type BatchDelivery,
  type BehaviourRef,
  transferablesOf,
} from "../actors/runtime/protocol.ts";
import {
  type BotEffect,
  botIndicatorSpecs,
  type BotMsg,
  type BotStatus,
} from "../actors/bots/bot_behaviour.ts";
import { parseBotConfig } from "../actors/bots/bot_config.ts";
import { StrategyRegistry } from "../strategies/registry.ts";
import { barTopic, type SymbolMsg } from "../actors/bots/symbol_behaviour.ts";
import { percentile, report, rssMb, section } from "./_harness.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "5");
const SYMBOL_COUNT = 50;
const BOT_COUNT = 20;
const SYMBOLS_PER_BOT = 10;
/**
 * Ticks per simulated minute of each symbol: every this many ticks a 1-minute bar closes
 * (`BENCH_TICKS_PER_BAR`). The default closes bars far more often than a real market does at
 * these tick rates, so the bar and bot path is loaded as hard as the tick path.
 */
const TICKS_PER_BAR = Number(Deno.env.get("BENCH_TICKS_PER_BAR") ?? "50");
/** Ticks per batch in the unpaced runs (one batch per symbol per round). */
const BATCH = 100;
/** A status request to every symbol actor after this many rounds acknowledges them. */
const ACK_EVERY = 4;
/** Rounds in flight at most (batches per symbol actor not yet acknowledged). */
const WINDOW = 32;
const WARMUP_MS = 1_500;
const PACED_RATE = 5_000;
/** Extra symbol actors spawned to measure the marginal memory of one. */
const EXTRA_SYMBOLS = 200;
const HISTORY_BARS = 520;

const TARGET_TICKS = 200_000;
const TARGET_P99_MS = 5;
const TARGET_BOT_MB = 10;
const TARGET_SYMBOL_MB = 0.5;

/** Monday 2026-11-23 09:30 ET. */
const START_MS = Date.UTC(2026, 10, 23, 14, 30);
const MINUTE_MS = 60_000;

const SYMBOL_REF: BehaviourRef = {
  url: new URL("../actors/bots/symbol_behaviour.ts", import.meta.url).href,
  export: "symbolBehaviour",
};
const BOT_REF: BehaviourRef = {
  url: new URL("../actors/bots/bot_behaviour.ts", import.meta.url).href,
  export: "botBehaviour",
};

const REGISTRY = new StrategyRegistry();

const SYMBOLS = Array.from({ length: SYMBOL_COUNT }, (_, i) => `S${String(i).padStart(2, "0")}`);

/** Bot `b` trades a window of 10 symbols starting at 5b (mod 50): every symbol feeds 4 bots. */
function botSymbols(b: number): number[] {
  return Array.from({ length: SYMBOLS_PER_BOT }, (_, j) => (b * 5 + j) % SYMBOL_COUNT);
}

function botConfig(b: number): Record<string, unknown> {
  const common = {
    name: `bench-${b}`,
    symbols: botSymbols(b).map((i) => SYMBOLS[i]),
    timeframe: "1Min",
    trading_window: {
      days: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
      start: "00:00",
      end: "23:59",
    },
    sizing: { method: "fixed_qty", qty: "10" },
  };
  return b % 2 === 0
    ? { ...common, strategy: "sma_cross", params: { fast: 3, slow: 8, allowShort: true } }
    : {
      ...common,
      strategy: "indicator_vote",
      params: {
        evaluators: [
          { type: "rsi", period: 5, oversold: 40, overbought: 60 },
          { type: "bbands", period: 10, k: 1 },
          { type: "macd_cross", fast: 3, slow: 8, signal: 3 },
        ],
        minVotes: 1,
        allowShort: true,
      },
    };
}

/** How ticks travel: Alpaca-shaped objects (cloned) or typed-array columns (transferred). */
type Format = "rows" | "columns";
const FORMATS: readonly Format[] = ["rows", "columns"];
const FORMAT_TITLES: Record<Format, string> = {
  rows: "ticks as Alpaca-shaped objects, cloned",
  columns: "ticks as typed-array columns, transferred",
};

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function nowMs(): number {
  return performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// The synthetic feed

/**
 * Seeded ticks for every symbol on one simulated timeline: tick `k` of a symbol falls in minute
 * `⌊k / TICKS_PER_BAR⌋`. Remembers when the tick that closed each bar was sent.
 */
class TickFeed {
  readonly #rng = new Rng(6);
  readonly #price: Float64Array;
  /** Ticks generated per symbol. */
  readonly count: Float64Array;
  /** Bars closed per symbol (first ticks of a new minute after the first). */
  readonly closed: Float64Array;
  #times = new Map<number, string[]>();
  #tradeId = 0;
  /** Per symbol, a ring of (minute, send time) of the tick that closed the bar of `minute`. */
  #closeMinute: Int32Array;
  #closeSent: Float64Array;
  static readonly RING = 8192;

  constructor(symbols: number) {
    this.#price = new Float64Array(symbols).map((_, i) => 20 + 10 * i);
    this.count = new Float64Array(symbols);
    this.closed = new Float64Array(symbols);
    this.#closeMinute = new Int32Array(symbols * TickFeed.RING).fill(-1);
    this.#closeSent = new Float64Array(symbols * TickFeed.RING);
  }

  #timesOf(minute: number): string[] {
    let list = this.#times.get(minute);
    if (!list) {
      const base = START_MS + minute * MINUTE_MS;
      const step = MINUTE_MS / TICKS_PER_BAR;
      list = Array.from({ length: TICKS_PER_BAR }, (_, k) => iso(base + k * step));
      this.#times.set(minute, list);
      this.#times.delete(minute - 64);
    }
    return list;
  }

  /**
   * The next `n` ticks of symbol `s`, as Alpaca-shaped rows or as columns (`t` epoch ms, `p`,
   * `s`), and the minutes whose bars they close (the first tick of a minute closes the last).
   */
  next(s: number, n: number, format: Format): { batch: Batch<Trade>; closes: number[] } {
    const closes: number[] = [];
    const rows: Trade[] = format === "rows" ? new Array(n) : [];
    const columns = format === "columns"
      ? { t: new Float64Array(n), p: new Float64Array(n), s: new Float64Array(n) }
      : null;
    let price = this.#price[s]!;
    let k = this.count[s]!;
    const step = MINUTE_MS / TICKS_PER_BAR;
    for (let j = 0; j < n; j++, k++) {
      const minute = Math.floor(k / TICKS_PER_BAR);
      const within = k - minute * TICKS_PER_BAR;
      if (within === 0 && minute > 0) closes.push(minute - 1);
      price = Math.max(1, price * (1 + 0.002 * this.#rng.normal()));
      const p = Math.round(price * 100) / 100;
      const size = 1 + this.#rng.int(0, 500);
      if (columns) {
        columns.t[j] = START_MS + minute * MINUTE_MS + within * step;
        columns.p[j] = p;
        columns.s[j] = size;
      } else {
        rows[j] = {
          t: this.#timesOf(minute)[within]!,
          x: "V",
          p,
          s: size,
          c: ["@"],
          i: ++this.#tradeId,
          z: "C",
        };
      }
    }
    this.#price[s] = price;
    this.count[s] = k;
    this.closed[s] = this.closed[s]! + closes.length;
    const batch: Batch<Trade> = columns
      ? { kind: "columns", length: n, columns }
      : { kind: "rows", rows };
    return { batch, closes };
  }

  /** Records that the bars of `minutes` of symbol `s` were closed by a batch sent at `at`. */
  sent(s: number, minutes: readonly number[], at: number): void {
    for (const minute of minutes) {
      const slot = s * TickFeed.RING + (minute % TickFeed.RING);
      this.#closeMinute[slot] = minute;
      this.#closeSent[slot] = at;
    }
  }

  /** The last price of symbol `s`. */
  price(s: number): number {
    return Math.round(this.#price[s]! * 100) / 100;
  }

  /** When the tick that closed bar `barT` of symbol `s` was sent, or null if unknown. */
  sentAt(s: number, barT: string): number | null {
    const minute = (Date.parse(barT) - START_MS) / MINUTE_MS;
    if (!Number.isInteger(minute) || minute < 0) return null;
    const slot = s * TickFeed.RING + (minute % TickFeed.RING);
    return this.#closeMinute[slot] === minute ? this.#closeSent[slot]! : null;
  }
}

// ---------------------------------------------------------------------------------------------
// The raw ceiling: plain Workers that count what they receive (this module, in a Worker)

interface RawBatch {
  seq: number;
  batch: Batch<Trade>;
}

function runCounter(): void {
  const scope = self as unknown as Worker;
  let ticks = 0;
  scope.onmessage = (event: MessageEvent<RawBatch>) => {
    const batch = event.data.batch;
    ticks += batch.kind === "rows" ? batch.rows.length : batch.length;
    if (event.data.seq % ACK_EVERY === 0) scope.postMessage({ seq: event.data.seq, ticks });
  };
}

/** Posts feed batches to `workers` plain Workers with the same window as the actor runs. */
async function rawCeiling(workers: number, ms: number, format: Format): Promise<number> {
  const feed = new TickFeed(SYMBOL_COUNT);
  const list = Array.from({ length: workers }, () => {
    const worker = new Worker(import.meta.url, { type: "module", name: "bench-counter" });
    const acked = { seq: 0, ticks: 0, waiting: null as null | (() => void) };
    worker.onmessage = (event: MessageEvent<{ seq: number; ticks: number }>) => {
      acked.seq = event.data.seq;
      acked.ticks = event.data.ticks;
      acked.waiting?.();
    };
    return { worker, acked, seq: 0 };
  });
  try {
    const pump = async (until: number, counting: boolean) => {
      let sent = 0;
      while (nowMs() < until) {
        for (let s = 0; s < SYMBOL_COUNT; s++) {
          const w = list[s % workers]!;
          while (w.seq - w.acked.seq >= WINDOW * SYMBOL_COUNT / workers) {
            await new Promise<void>((resolve) => w.acked.waiting = resolve);
            w.acked.waiting = null;
          }
          const { batch } = feed.next(s, BATCH, format);
          w.worker.postMessage({ seq: ++w.seq, batch } satisfies RawBatch, transferablesOf(batch));
          if (counting) sent += BATCH;
        }
        await Promise.resolve();
      }
      // Everything posted is counted once the last acknowledgement is in.
      for (const w of list) {
        while (w.acked.seq < w.seq - (w.seq % ACK_EVERY)) {
          await new Promise<void>((resolve) => w.acked.waiting = resolve);
          w.acked.waiting = null;
        }
      }
      return sent;
    };
    await pump(nowMs() + 300, false);
    const t0 = nowMs();
    const sent = await pump(t0 + ms, true);
    return sent / ((nowMs() - t0) / 1000);
  } finally {
    for (const w of list) w.worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// The topology

interface BotRun {
  index: number;
  handle: ActorHandle<BotMsg>;
  symbols: number[];
  /** Signed position per symbol, as the fills sent back made it. */
  positions: Map<string, number>;
}

interface Topology {
  pool: WorkerPool;
  symbols: ActorHandle<SymbolMsg | BatchDelivery<Trade>>[];
  bots: BotRun[];
  overflow: { symbols: number; bots: number; commands: number };
  /** Called with every effect of every bot. */
  onEffect: (bot: BotRun, effect: BotEffect) => void;
}

async function spawnSymbols(
  pool: WorkerPool,
  ids: readonly string[],
  overflow: Topology["overflow"],
): Promise<ActorHandle<SymbolMsg>[]> {
  return await Promise.all(ids.map((id, i) =>
    spawnActor<SymbolMsg>(
      { id: `sym:${id}:${i}`, behaviour: SYMBOL_REF, args: { symbol: id } },
      pool,
      {
        onOverflow: (lane, count) => {
          if (lane === "data") overflow.symbols += count;
          else overflow.commands += count;
        },
      },
    )
  ));
}

async function spawnBot(topology: Topology, b: number): Promise<BotRun> {
  const pending: BotEffect[] = [];
  let run: BotRun | null = null;
  const handle = await spawnActor<BotMsg, BotEffect>(
    {
      id: `bot:${b}`,
      behaviour: BOT_REF,
      args: { config: parseBotConfig(botConfig(b), REGISTRY), equity: "1000000" },
    },
    "worker",
    {
      onEffects: (effects) => {
        for (const effect of effects) {
          if (run) topology.onEffect(run, effect);
          else pending.push(effect);
        }
      },
      onOverflow: (lane, count) => {
        if (lane === "data") topology.overflow.bots += count;
        else topology.overflow.commands += count;
      },
    },
  );
  run = { index: b, handle, symbols: botSymbols(b), positions: new Map() };
  // The bot's start asks for its indicators: subscribe, then link symbol → bot.
  for (const effect of pending) {
    if (effect.type !== "subscribe") continue;
    const symbol = topology.symbols[SYMBOLS.indexOf(effect.symbol)]!;
    await symbol.request({ type: "subscribe", timeframe: effect.timeframe, specs: effect.specs });
    await link(symbol, handle, { topic: barTopic(effect.timeframe) });
  }
  return run;
}

/** Fills every order at once at the symbol's last price, so the bot keeps trading. */
function fill(bot: BotRun, effect: Extract<BotEffect, { type: "order" }>, price: number): void {
  const qty = Number(effect.request.qty);
  const side = effect.request.side as "buy" | "sell";
  const position = (bot.positions.get(effect.symbol) ?? 0) + (side === "buy" ? qty : -qty);
  bot.positions.set(effect.symbol, position);
  bot.handle.send({
    type: "order_filled",
    symbol: effect.symbol,
    side,
    qty: String(qty),
    price: price.toFixed(2),
    positionQty: String(position),
    ts: Date.now(),
    clientOrderId: String(effect.request.client_order_id),
  });
}

// ---------------------------------------------------------------------------------------------
// Driving ticks

/** What the effects handler collects during one phase. */
interface Tally {
  signals: number;
  orders: number;
  unmatched: number;
  latencies: number[];
}

function newTally(): Tally {
  return { signals: 0, orders: 0, unmatched: 0, latencies: [] };
}

/** Acknowledgement of everything sent to the symbol actors so far (FIFO mailboxes). */
function ackAll(topology: Topology): Promise<unknown> {
  return Promise.all(topology.symbols.map((s) => s.request({ type: "status" })));
}

/** Total bars processed by the bots, from their status. */
async function botBars(topology: Topology): Promise<number> {
  const statuses = await Promise.all(
    topology.bots.map((b) => b.handle.request<BotStatus>({ type: "status" })),
  );
  return statuses.reduce((n, s) => n + s.counts.bars, 0);
}

/** Bars the bots must have processed once every closed bar reached them. */
function expectedBotBars(feed: TickFeed, topology: Topology): number {
  let n = 0;
  for (const bot of topology.bots) for (const s of bot.symbols) n += feed.closed[s]!;
  return n;
}

/** Resolves when the bots have processed every bar closed so far (or after `ms`). */
async function botsCaughtUp(feed: TickFeed, topology: Topology, ms = 10_000): Promise<boolean> {
  const expected = expectedBotBars(feed, topology) - topology.overflow.bots;
  const deadline = nowMs() + ms;
  while (nowMs() < deadline) {
    if (await botBars(topology) >= expected) return true;
    await sleep(2);
  }
  return false;
}

/** Unpaced: rounds of one batch per symbol, flow-controlled; answers the ticks sent. */
async function flood(
  feed: TickFeed,
  topology: Topology,
  ms: number,
  format: Format,
): Promise<number> {
  const acks: Promise<unknown>[] = [];
  const until = nowMs() + ms;
  let sent = 0;
  for (let round = 1; nowMs() < until; round++) {
    if (acks.length >= WINDOW / ACK_EVERY) await acks.shift();
    for (let s = 0; s < SYMBOL_COUNT; s++) {
      const { batch, closes } = feed.next(s, BATCH, format);
      const at = nowMs();
      topology.symbols[s]!.sendBatch("trades", batch, { transfer: true });
      if (closes.length) feed.sent(s, closes, at);
      sent += BATCH;
    }
    if (round % ACK_EVERY === 0) acks.push(ackAll(topology));
    else await Promise.resolve();
  }
  await Promise.all(acks);
  await ackAll(topology);
  return sent;
}

/** Paced: `rate` ticks per second, tick g to symbol g mod 50; answers the ticks sent. */
async function paced(
  feed: TickFeed,
  topology: Topology,
  rate: number,
  ms: number,
  format: Format,
): Promise<{ sent: number; wakeups: number }> {
  const t0 = nowMs();
  let sent = 0;
  let wakeups = 0;
  let nextSymbol = 0;
  const counts = new Int32Array(SYMBOL_COUNT);
  while (true) {
    const elapsed = nowMs() - t0;
    if (elapsed >= ms) break;
    const due = Math.floor((elapsed / 1000) * rate) - sent;
    if (due > 0) {
      wakeups++;
      counts.fill(0);
      for (let j = 0; j < due; j++) {
        counts[nextSymbol]!++;
        nextSymbol = (nextSymbol + 1) % SYMBOL_COUNT;
      }
      for (let s = 0; s < SYMBOL_COUNT; s++) {
        if (counts[s] === 0) continue;
        const { batch, closes } = feed.next(s, counts[s]!, format);
        const at = nowMs();
        topology.symbols[s]!.sendBatch("trades", batch, { transfer: true });
        if (closes.length) feed.sent(s, closes, at);
      }
      sent += due;
    }
    await sleep(0);
  }
  await ackAll(topology);
  return { sent, wakeups };
}

// ---------------------------------------------------------------------------------------------
// Memory

/** CPU time of this process (every thread) in ms, from /proc; NaN where there is none. */
function processCpuMs(): number {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

/** RSS after letting the threads settle. */
async function settledRss(): Promise<number> {
  await sleep(300);
  return rssMb();
}

/** `n` seeded 1-minute bars ending at the feed's start. */
function minuteBars(n: number, seed: number): Bar[] {
  const rng = new Rng(seed);
  let price = 100;
  return Array.from({ length: n }, (_, i) => {
    const o = price;
    price = Math.max(1, price * (1 + 0.002 * rng.normal()));
    return {
      t: iso(START_MS - (n - i) * MINUTE_MS),
      o,
      h: Math.max(o, price) + 0.01,
      l: Math.min(o, price) - 0.01,
      c: price,
      v: 1000 + rng.int(0, 5000),
      n: 10 + rng.int(0, 50),
      vw: (o + price) / 2,
    };
  });
}

// ---------------------------------------------------------------------------------------------

/** RSS of one Worker that loads nothing (the floor of any Worker), from 10 of them. */
async function bareWorkers(): Promise<{ mb: number; close(): void }> {
  const n = 10;
  const rss0 = await settledRss();
  const workers: Worker[] = [];
  for (let i = 0; i < n; i++) {
    const worker = new Worker("data:text/javascript,postMessage(0)", { type: "module" });
    await new Promise((resolve) => worker.onmessage = resolve);
    workers.push(worker);
  }
  const rss1 = await settledRss();
  return {
    mb: (rss1 - rss0) / n,
    close: () => workers.forEach((w) => w.terminate()),
  };
}

/** Feeds 1-minute bars to `actors` ten at a time (as live bars arrive: in small messages). */
async function feedBars(actors: readonly ActorHandle<SymbolMsg>[], bars: readonly Bar[]) {
  for (let i = 0; i < bars.length; i += 10) {
    const chunk = bars.slice(i, i + 10);
    for (const actor of actors) actor.send({ type: "bars", bars: chunk });
    if ((i / 10) % 4 === 3) await Promise.all(actors.map((a) => a.request({ type: "status" })));
  }
  await Promise.all(actors.map((a) => a.request({ type: "status" })));
}

/**
 * Pooled symbol actors on a pool of their own. First the hosts' fixed cost, idle (one actor
 * each) and busy (after those actors processed as many bars as the measured ones will: a busy
 * V8 isolate grows its young generation, a cost of the host, not of its actors). Then the
 * marginal cost of {@link EXTRA_SYMBOLS} more actors with the bots' indicators, warmed to a full
 * history the way live bars arrive (a few at a time). Answers the pool, to close once every
 * memory figure is taken.
 */
async function symbolMemory(): Promise<WorkerPool> {
  const overflow = { symbols: 0, bots: 0, commands: 0 };
  const pool = new WorkerPool({ name: "memory" });
  try {
    const specs = [0, 1].map((b) =>
      botIndicatorSpecs(parseBotConfig(botConfig(b), REGISTRY), REGISTRY)
    );
    const subscribe = (actors: readonly ActorHandle<SymbolMsg>[]) =>
      Promise.all(actors.map(async (actor) => {
        for (const list of specs) {
          await actor.request({ type: "subscribe", timeframe: "1Min", specs: list });
        }
      }));
    const rss0 = await settledRss();
    const hosts = Array.from({ length: pool.size }, (_, i) => `H${i}`);
    const first = await spawnSymbols(pool, hosts, overflow);
    await subscribe(first);
    const rss1 = await settledRss();
    await feedBars(first, minuteBars(HISTORY_BARS * EXTRA_SYMBOLS / pool.size, 7));
    const rssBusy = await settledRss();
    const ids = Array.from({ length: EXTRA_SYMBOLS }, (_, i) => `X${i}`);
    const actors = await spawnSymbols(pool, ids, overflow);
    await subscribe(actors);
    const rss2 = await settledRss();
    await feedBars(actors, minuteBars(HISTORY_BARS, 11));
    const rss3 = await settledRss();
    const perActor = (rss3 - rssBusy) / EXTRA_SYMBOLS;
    report({
      name: `symbol pool host, idle (${pool.size} hosts, 1 actor each)`,
      value: (rss1 - rss0) / pool.size,
      unit: "MB/host",
    });
    report({
      name: "symbol pool host, busy",
      value: (rssBusy - rss0) / pool.size,
      unit: "MB/host",
      note: `after ${HISTORY_BARS * EXTRA_SYMBOLS / pool.size} bars through each`,
    });
    report({
      name: `symbol actor, marginal (${EXTRA_SYMBOLS} more, subscribed, 500-bar history)`,
      value: perActor,
      unit: "MB/actor",
      target: `<= ${TARGET_SYMBOL_MB}`,
      ok: perActor <= TARGET_SYMBOL_MB,
      note: `${(1024 * (rss2 - rssBusy) / EXTRA_SYMBOLS).toFixed(0)} KB spawned and ` +
        `subscribed, ${(1024 * (rss3 - rss2) / EXTRA_SYMBOLS).toFixed(0)} KB of history`,
    });
    return pool;
  } catch (e) {
    pool.close();
    throw e;
  }
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  console.log(
    `  ${SYMBOL_COUNT} symbol actors on a pool of ${navigator.hardwareConcurrency} hosts, ` +
      `${BOT_COUNT} bots in their own Workers, ${SYMBOLS_PER_BOT} symbols each (4 bots per ` +
      `symbol); 1Min bars of ${TICKS_PER_BAR} ticks; batches of ${BATCH} ticks per symbol`,
  );
  const overflow = { symbols: 0, bots: 0, commands: 0 };
  const feed = new TickFeed(SYMBOL_COUNT);
  let tally = newTally();
  let pool: WorkerPool | null = null;
  const topology: Topology = {
    pool: null as unknown as WorkerPool,
    symbols: [],
    bots: [],
    overflow,
    onEffect: (bot, effect) => {
      if (effect.type === "signal") {
        tally.signals++;
        const s = SYMBOLS.indexOf(effect.symbol);
        const at = feed.sentAt(s, effect.intent.t);
        if (at === null) tally.unmatched++;
        else tally.latencies.push(nowMs() - at);
      } else if (effect.type === "order") {
        tally.orders++;
        fill(bot, effect, feed.price(SYMBOLS.indexOf(effect.symbol)));
      }
    },
  };
  try {
    // Memory first, and nothing terminated until every figure is taken: a terminated Worker's
    // memory is reused by the next ones, which would hide their cost.
    section("Memory (RSS of the whole process)");
    const rss0 = await settledRss();
    pool = new WorkerPool({ name: "symbols" });
    topology.pool = pool;
    topology.symbols = await spawnSymbols(pool, SYMBOLS, overflow);
    const rss1 = await settledRss();
    const bots: BotRun[] = [];
    for (let b = 0; b < BOT_COUNT; b++) bots.push(await spawnBot(topology, b));
    topology.bots = bots;
    const rss2 = await settledRss();
    const bare = await bareWorkers();
    const symbolPool = await symbolMemory();
    bare.close();
    symbolPool.close();
    report({
      name: "bare Deno Worker (empty module), for reference",
      value: bare.mb,
      unit: "MB/Worker",
    });
    report({
      name: `the ${SYMBOL_COUNT} symbol actors on ${pool.size} hosts`,
      value: rss1 - rss0,
      unit: "MB",
    });
    const botMb = (rss2 - rss1) / BOT_COUNT;
    report({
      name: `bot Worker (${BOT_COUNT} spawned and linked)`,
      value: botMb,
      unit: "MB/bot",
      target: `<= ${TARGET_BOT_MB}`,
      ok: botMb <= TARGET_BOT_MB,
      note: `${(botMb - bare.mb).toFixed(1)} MB above a bare Worker`,
    });

    section(`Raw batched postMessage ceiling (${pool.size} counting Workers, same feed)`);
    const raw: Record<Format, number> = { rows: 0, columns: 0 };
    for (const format of FORMATS) {
      raw[format] = await rawCeiling(pool.size, SECONDS * 1000, format);
      report({
        name: `${format}, batches of ${BATCH} ticks`,
        value: raw[format],
        unit: "ticks/s",
      });
    }

    for (const format of FORMATS) {
      section(`Throughput, ${FORMAT_TITLES[format]} (unpaced, flow-controlled)`);
      await flood(feed, topology, WARMUP_MS, format);
      await botsCaughtUp(feed, topology);
      tally = newTally();
      const before = { ...overflow };
      const barsBefore = expectedBotBars(feed, topology);
      const t0 = nowMs();
      const sent = await flood(feed, topology, SECONDS * 1000, format);
      const caught = await botsCaughtUp(feed, topology);
      const elapsed = (nowMs() - t0) / 1000;
      const through = sent / elapsed;
      const dropped = overflow.symbols - before.symbols + overflow.bots - before.bots;
      report({
        name: `${format}: ticks through symbol and bot actors`,
        value: through,
        unit: "ticks/s",
        target: `>= ${TARGET_TICKS.toLocaleString("en-US")}`,
        ok: through >= TARGET_TICKS && caught && dropped === 0,
        note: `${(100 * through / raw[format]).toFixed(0)}% of the raw ceiling` +
          (caught ? "" : "; bots did not catch up"),
      });
      report({
        name: `${format}: bar updates processed by bots`,
        value: (expectedBotBars(feed, topology) - barsBefore) / elapsed,
        unit: "bars/s",
        note: `${(tally.signals / elapsed).toFixed(0)} signals/s, tick-to-intent under full load ` +
          `p50 ${percentile(tally.latencies, 50).toFixed(1)} ms, ` +
          `p99 ${percentile(tally.latencies, 99).toFixed(1)} ms`,
      });
      report({
        name: `${format}: dropped batches (symbol and bot mailboxes)`,
        value: dropped,
        unit: "batches",
      });
    }

    section(
      `Tick-to-intent latency, paced at ${PACED_RATE.toLocaleString("en-US")} ticks/s ` +
        `(${FORMAT_TITLES.columns})`,
    );
    await paced(feed, topology, PACED_RATE, 1000, "columns");
    tally = newTally();
    const cpu0 = processCpuMs();
    const wall0 = nowMs();
    const pacedRun = await paced(feed, topology, PACED_RATE, SECONDS * 1000, "columns");
    const cpuShare = (processCpuMs() - cpu0) / (nowMs() - wall0);
    const load = Deno.loadavg()[0]!;
    await botsCaughtUp(feed, topology);
    const p50 = percentile(tally.latencies, 50);
    const p99 = percentile(tally.latencies, 99);
    report({
      name: "tick-to-intent p50",
      value: p50,
      unit: "ms",
      note: `${tally.latencies.length} signals` +
        (tally.unmatched > 0 ? ` (and ${tally.unmatched} not caused by a bar)` : "") +
        `, ${tally.orders} orders filled back; this ` +
        `process used ${Number.isNaN(cpuShare) ? "?" : (100 * cpuShare).toFixed(0)}% of a core, ` +
        `load average ${load.toFixed(2)}`,
    });
    report({
      name: "tick-to-intent p99",
      value: p99,
      unit: "ms",
      target: `< ${TARGET_P99_MS}`,
      ok: p99 < TARGET_P99_MS,
      note: `max ${percentile(tally.latencies, 100).toFixed(2)} ms; ${
        (pacedRun.sent / pacedRun.wakeups).toFixed(1)
      } ticks per wake-up`,
    });
  } finally {
    for (const bot of topology.bots) await bot.handle.stop("done").catch(() => {});
    pool?.close();
  }
}

if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  runCounter();
} else if (import.meta.main) {
  await run();
}
