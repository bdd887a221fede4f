/**
 * Behaviours the runtime tests load by URL, in Workers and inline alike.
 *
 * @module
 */
import type { ActorBehaviour } from "../../../actors/runtime/behaviour.ts";
import type { BatchDelivery, ColumnBatch, RowBatch } from "../../../actors/runtime/protocol.ts";

/** Where the tests find these behaviours. */
export const BEHAVIOURS_URL: string = import.meta.url;

/** A reference to one export of this module. */
export function ref(name: string): { url: string; export: string } {
  return { url: BEHAVIOURS_URL, export: name };
}

/** Messages of {@link counter}. */
export type CounterMsg =
  | { type: "add"; n: number }
  | { type: "get" }
  | { type: "echo"; value: unknown }
  | { type: "throw"; message: string }
  | { type: "hang" }
  | BatchDelivery;

/** A strategy stuck in an infinite loop. */
function spin(): never {
  while (true) {
    // spin
  }
}

/** A counter that can also echo, throw, hang, and record batches. */
export const counter: ActorBehaviour<
  { total: number; seqs: number[] },
  CounterMsg,
  { type: string; [k: string]: unknown },
  { start?: number }
> = {
  init: (args) => ({ total: args?.start ?? 0, seqs: [] }),
  start: (state) => ({ state, effects: [{ type: "started", total: state.total }] }),
  stop: (state, reason) => ({ state, effects: [{ type: "stopped", reason }] }),
  receive(state, msg) {
    switch (msg.type) {
      case "add": {
        const total = state.total + msg.n;
        return { state: { ...state, total }, effects: [{ type: "total", total }], reply: total };
      }
      case "get":
        return { state, reply: { total: state.total, seqs: state.seqs } };
      case "echo":
        return { state, reply: msg.value };
      case "throw":
        throw new RangeError(msg.message);
      case "hang":
        return spin();
      case "batch":
        return {
          state: { ...state, seqs: [...state.seqs, msg.seq] },
          effects: [{ type: "batch", topic: msg.topic, seq: msg.seq }],
        };
    }
  },
};

/** A behaviour whose init throws. */
export const brokenInit: ActorBehaviour<never, never, never> = {
  init: () => {
    throw new Error("No configuration");
  },
  receive: (state) => ({ state }),
};

/** Not a behaviour. */
export const notABehaviour = { hello: "world" };

/** A bar as the strategy test feeds it. */
export interface Bar {
  ts: number;
  close: number;
}

/** Messages of {@link crossover}. */
export type CrossoverMsg =
  | { type: "params"; fast: number; slow: number }
  | { type: "position" }
  | BatchDelivery<Bar>;

/** An order intent. */
export interface Intent {
  side: "buy" | "sell";
  ts: number;
  price: number;
}

interface CrossoverState {
  fast: number;
  slow: number;
  closes: number[];
  long: boolean;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function onClose(state: CrossoverState, ts: number, close: number, out: Intent[]): CrossoverState {
  const closes = [...state.closes, close].slice(-state.slow);
  if (closes.length < state.slow) return { ...state, closes };
  const long = mean(closes.slice(-state.fast)) > mean(closes);
  if (long !== state.long) out.push({ side: long ? "buy" : "sell", ts, price: close });
  return { ...state, closes, long };
}

/** A moving-average crossover over batches of bars (rows) or closes (columns `ts`, `close`). */
export const crossover: ActorBehaviour<CrossoverState, CrossoverMsg, Intent> = {
  init: () => ({ fast: 3, slow: 8, closes: [], long: false }),
  receive(state, msg) {
    if (msg.type === "params") return { state: { ...state, fast: msg.fast, slow: msg.slow } };
    if (msg.type === "position") return { state, reply: state.long ? "long" : "flat" };
    const out: Intent[] = [];
    let next = state;
    if (msg.batch.kind === "rows") {
      for (const bar of (msg.batch as RowBatch<Bar>).rows) {
        next = onClose(next, bar.ts, bar.close, out);
      }
    } else {
      const columns = (msg.batch as ColumnBatch).columns;
      const ts = columns.ts as Float64Array;
      const close = columns.close as Float64Array;
      for (let i = 0; i < msg.batch.length; i++) next = onClose(next, ts[i]!, close[i]!, out);
    }
    return { state: next, effects: out };
  },
};

/** Messages of {@link relay}. */
export type RelayMsg = { type: "count" } | BatchDelivery;

/**
 * A symbol actor: republishes every batch it gets on topic "ticks" (by transfer), and counts.
 */
export const relay: ActorBehaviour<{ batches: number }, RelayMsg, never> = {
  init: () => ({ batches: 0 }),
  receive(state, msg) {
    if (msg.type === "count") return { state, reply: state.batches };
    return {
      state: { batches: state.batches + 1 },
      publish: [{ topic: "ticks", batch: msg.batch, transfer: true }],
    };
  },
};

/** Messages of {@link sink}. */
export type SinkMsg = { type: "seen" } | BatchDelivery;

/** A bot actor that records what reaches it: topic, seq and the sum of the `price` column. */
export const sink: ActorBehaviour<
  { seen: { topic: string; seq: number; sum: number }[] },
  SinkMsg,
  { topic: string; seq: number; sum: number }
> = {
  init: () => ({ seen: [] }),
  receive(state, msg) {
    if (msg.type === "seen") return { state, reply: state.seen };
    const b = msg.batch;
    const sum = b.kind === "columns"
      ? (b.columns.price as Float64Array).reduce((a, x) => a + x, 0)
      : (b.rows as { price: number }[]).reduce((a, r) => a + r.price, 0);
    const entry = { topic: msg.topic, seq: msg.seq, sum };
    return { state: { seen: [...state.seen, entry] }, effects: [entry] };
  },
};

/** Breaks the rules: throws outside any transition, where the host cannot catch it. */
export const bomb: ActorBehaviour<null, { type: "arm" }, never> = {
  init: () => null,
  receive(state) {
    setTimeout(() => {
      throw new Error("Uncaught in a timer");
    }, 0);
    return { state };
  },
};
