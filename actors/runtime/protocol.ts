/**
 * The actor runtime's cross-thread protocol: every message that crosses a Worker boundary or a
 * MessagePort, as discriminated unions on `type`, with request ids (`id`) answered by replies
 * (`re`), and one serialisable error shape.
 *
 * Three channels carry these messages:
 * - parent → host ({@link ToHost}): lifecycle, commands and data for the actors in a host;
 * - host → parent ({@link FromHost}): replies, effects, crash and overflow reports;
 * - data ports ({@link DataMessage}): market data batches from a publishing actor to a
 *   subscribed actor, over a MessageChannel whose port was transferred in `subscribe`/`attach`.
 *
 * @module
 */

/** An error as plain data, safe for structured clone. */
export interface SerializedError {
  name: string;
  message: string;
  /** A stable SNAKE_CASE code, e.g. {@link RUNTIME_ERROR_CODES}. */
  code?: string;
  stack?: string;
}

/** Codes the runtime itself puts on errors. */
export const RUNTIME_ERROR_CODES = [
  /** A request got no reply in time. */
  "TIMEOUT",
  /** A command found the actor's command mailbox full (backpressure: retry later). */
  "MAILBOX_FULL",
  /** Too many requests are in flight on an endpoint. */
  "BACKPRESSURE",
  /** The actor's behaviour threw; the actor is gone until its supervisor restarts it. */
  "ACTOR_CRASHED",
  /** The actor was stopped before it could answer. */
  "ACTOR_STOPPED",
  /** No actor by that id in the host. */
  "ACTOR_NOT_FOUND",
  /** An actor by that id already runs in the host. */
  "ACTOR_EXISTS",
  /** The behaviour module or its export could not be loaded. */
  "BEHAVIOUR_NOT_FOUND",
  /** The Worker did not answer its heartbeat and was terminated. */
  "HEARTBEAT_TIMEOUT",
  /** The Worker hosting the actor was terminated or died. */
  "HOST_TERMINATED",
  /** The endpoint was closed. */
  "CLOSED",
  /** A supervisor gave up restarting a child. */
  "ESCALATED",
] as const;

/** One of {@link RUNTIME_ERROR_CODES}. */
export type RuntimeErrorCode = typeof RUNTIME_ERROR_CODES[number];

/** An error raised by the runtime, or rebuilt from a {@link SerializedError} of another thread. */
export class ActorError extends Error {
  override name = "ActorError";
  /** A stable code: one of {@link RUNTIME_ERROR_CODES} or the remote error's own code. */
  readonly code: string;
  /** The remote error's name when this error came from another thread. */
  readonly remoteName: string | undefined;

  constructor(code: string, message: string, options?: { remoteName?: string; stack?: string }) {
    super(message);
    this.code = code;
    this.remoteName = options?.remoteName;
    if (options?.stack) this.stack = options.stack;
  }
}

/** Turns anything thrown into a {@link SerializedError}; `code` fills in a missing code. */
export function serializeError(error: unknown, code?: string): SerializedError {
  if (error instanceof Error) {
    const own = (error as { code?: unknown }).code;
    const out: SerializedError = {
      name: error instanceof ActorError && error.remoteName ? error.remoteName : error.name,
      message: error.message,
    };
    const chosen = typeof own === "string" ? own : code;
    if (chosen !== undefined) out.code = chosen;
    if (error.stack) out.stack = error.stack;
    return out;
  }
  const out: SerializedError = { name: "Error", message: String(error) };
  if (code !== undefined) out.code = code;
  return out;
}

/** Rebuilds an {@link ActorError} from its serialised form (code `"INTERNAL"` when it had none). */
export function deserializeError(error: SerializedError): ActorError {
  return new ActorError(error.code ?? "INTERNAL", error.message, {
    remoteName: error.name,
    ...(error.stack ? { stack: error.stack } : {}),
  });
}

/** A serialised error with a runtime code. */
export function runtimeError(code: RuntimeErrorCode, message: string): SerializedError {
  return { name: "ActorError", message, code };
}

/** Where a Worker finds a behaviour: a module URL and the name of its export. */
export interface BehaviourRef {
  url: string;
  export: string;
}

/** Bounds of an actor's mailbox, in messages (commands) and batches (data). */
export interface MailboxLimits {
  /** Events and requests; a full lane rejects (requests get `MAILBOX_FULL`). Default 1024. */
  commands?: number;
  /** Market data batches; a full lane drops the oldest batch. Default 256. */
  data?: number;
}

/** Any typed array that can carry a column of market data. */
export type TypedArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

/** Market data in columns: one typed array per field, all of `length` entries. */
export interface ColumnBatch {
  kind: "columns";
  length: number;
  columns: Record<string, TypedArray>;
}

/** Market data as plain objects. */
export interface RowBatch<T = unknown> {
  kind: "rows";
  rows: readonly T[];
}

/** A batch of market data. */
export type Batch<T = unknown> = ColumnBatch | RowBatch<T>;

/**
 * A batch as an actor receives it. `seq` counts batches per link (1, 2, …), so a gap tells the
 * actor that its mailbox dropped stale batches.
 */
export interface BatchDelivery<T = unknown> {
  type: "batch";
  topic: string;
  seq: number;
  batch: Batch<T>;
}

/** The buffers of a column batch, for a postMessage transfer list (no duplicates). */
export function transferablesOf(batch: Batch): ArrayBuffer[] {
  if (batch.kind !== "columns") return [];
  const out = new Set<ArrayBuffer>();
  for (const column of Object.values(batch.columns)) {
    if (column.buffer instanceof ArrayBuffer) out.add(column.buffer);
  }
  return [...out];
}

/** Parent → host. Messages with `id` are requests and get exactly one reply with `re: id`. */
export type ToHost =
  | {
    type: "init";
    id: number;
    actorId: string;
    behaviour: BehaviourRef;
    args: unknown;
    mailbox?: MailboxLimits;
  }
  | { type: "start"; id: number; actorId: string }
  | { type: "stop"; id: number; actorId: string; reason: string }
  | { type: "ping"; id: number }
  | { type: "request"; id: number; actorId: string; payload: unknown }
  | { type: "event"; actorId: string; payload: unknown }
  | ({ actorId: string } & BatchDelivery)
  /** Batches for actors of this host, in the order they were sent (one message for many). */
  | { type: "batches"; batches: ({ actorId: string } & BatchDelivery)[] }
  /**
   * Batches the actor publishes on `topic` go to data channel `channel` from now on; `port`
   * opens the channel (the host's first link to that subscriber), later links reuse it.
   */
  | {
    type: "subscribe";
    id: number;
    actorId: string;
    topic: string;
    channel: string;
    port?: MessagePort;
    linkId: string;
  }
  /** Ends the link `linkId` on `topic`: its port is closed. */
  | { type: "unsubscribe"; id: number; actorId: string; topic: string; linkId: string }
  /** Batches arriving on `port` go to the actor's data mailbox. */
  | { type: "attach"; id: number; actorId: string; port: MessagePort };

/** A request the parent can make of a host (the `id` is filled in by the endpoint). */
export type HostRequest = Extract<ToHost, { id: number }>;

/** A reply to a request. */
export type Reply =
  | { type: "reply"; re: number; ok: true; value: unknown }
  | { type: "reply"; re: number; ok: false; error: SerializedError };

/** Host → parent. */
export type FromHost =
  | Reply
  | { type: "pong"; re: number }
  /** Effects of consecutive transitions, in order; one entry per transition. */
  | { type: "effects"; entries: { actorId: string; effects: unknown[] }[] }
  /** The actor's behaviour threw; the actor is gone from the host. */
  | { type: "crash"; actorId: string; error: SerializedError }
  /** The actor's mailbox dropped (data) or rejected (events) messages since the last report. */
  | { type: "overflow"; actorId: string; lane: "commands" | "data"; count: number }
  /** Something threw outside any transition; the host is unsound and asks to be terminated. */
  | { type: "fatal"; error: SerializedError };

/** What travels on a data port: one batch, or several of one link in order. */
export type DataMessage = BatchDelivery | { type: "batches"; deliveries: BatchDelivery[] };
