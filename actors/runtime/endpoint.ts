/**
 * One end of a message channel (a Worker, a worker's `self`, or a MessagePort) with
 * request/reply: requests get an `id`, the other side answers with `re: id`, and a request that
 * is not answered within its timeout fails with `TIMEOUT`. Timers come from an injectable
 * {@link Clock}, so tests drive timeouts without waiting.
 *
 * Incoming messages that are not replies go to `onMessage`, or into a bounded {@link Mailbox}
 * (`inbox`) that the owner drains at its own pace.
 *
 * @module
 */
import { type Clock, SystemClock } from "../../core/clock.ts";
import { type LaneOptions, Mailbox } from "./mailbox.ts";
import { ActorError, deserializeError, type SerializedError } from "./protocol.ts";

/** What an endpoint needs of a Worker, a worker scope or a MessagePort. */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  removeEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

/** Options of {@link Endpoint}. */
export interface EndpointOptions<In> {
  /** Timers for request timeouts. Default: the system clock. */
  clock?: Clock;
  /** Timeout of a request that names none. Default 5000 ms; `Infinity` waits forever. */
  timeoutMs?: number;
  /** Requests in flight at most. Default 1024. */
  maxPending?: number;
  /** When `maxPending` is reached: wait for a slot (default) or fail with `BACKPRESSURE`. */
  whenPendingFull?: "wait" | "reject";
  /** Receives messages that are not replies (unless `inbox` is given). */
  onMessage?: (message: In) => void;
  /** Queues messages that are not replies in a bounded mailbox instead. */
  inbox?: { lanes: Record<string, LaneOptions>; laneOf: (message: In) => string };
}

/** Options of one request. */
export interface RequestOptions {
  /** Default: the endpoint's `timeoutMs`. */
  timeoutMs?: number;
  transfer?: Transferable[];
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  cancelTimer: () => void;
}

type Incoming = { type: string; re?: unknown; ok?: unknown; value?: unknown; error?: unknown };

/**
 * Request/reply over a port. Replies are messages with a numeric `re`; `{type: "reply", ok:
 * false, error}` rejects with the rebuilt {@link ActorError}, `{type: "reply", ok: true, value}`
 * resolves with `value`, any other message with `re` resolves with the message itself.
 */
export class Endpoint<Out extends { type: string }, In extends { type: string }> {
  #port: PortLike;
  #clock: Clock;
  #timeoutMs: number;
  #maxPending: number;
  #whenFull: "wait" | "reject";
  #onMessage: ((message: In) => void) | undefined;
  #pending = new Map<number, Pending>();
  #slots: (() => void)[] = [];
  #nextId = 1;
  #closed: SerializedError | null = null;
  #listener = (event: MessageEvent) => this.#receive(event.data as In & Incoming);
  /** The bounded inbox, when the endpoint was given one. */
  readonly inbox: Mailbox<In, string> | null;

  constructor(port: PortLike, options: EndpointOptions<In> = {}) {
    this.#port = port;
    this.#clock = options.clock ?? new SystemClock();
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#maxPending = options.maxPending ?? 1024;
    this.#whenFull = options.whenPendingFull ?? "wait";
    this.#onMessage = options.onMessage;
    this.inbox = options.inbox ? new Mailbox(options.inbox.lanes, options.inbox.laneOf) : null;
    port.addEventListener("message", this.#listener);
    (port as { start?: () => void }).start?.();
  }

  /** Requests in flight. */
  get pending(): number {
    return this.#pending.size;
  }

  /** True after {@link Endpoint.close}. */
  get closed(): boolean {
    return this.#closed !== null;
  }

  /**
   * Posts a message that expects no reply.
   * @throws {ActorError} `CLOSED` after close
   */
  post(message: Out, transfer?: Transferable[]): void {
    if (this.#closed) throw deserializeError(this.#closed);
    this.#port.postMessage(message, transfer ?? []);
  }

  /**
   * Posts `message` with a fresh `id` and resolves with the reply.
   * @throws {ActorError} `TIMEOUT` when no reply comes in time, `BACKPRESSURE` when too many
   * requests are in flight and the endpoint rejects, `CLOSED` when the endpoint closes first,
   * or the remote error of a failed reply
   */
  async request<R = unknown>(
    message: DistributiveOmit<Extract<Out, { id: number }>, "id">,
    options: RequestOptions = {},
  ): Promise<R> {
    if (this.#closed) throw deserializeError(this.#closed);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const deadline = this.#clock.now() + timeoutMs;
    while (this.#pending.size >= this.#maxPending) {
      if (this.#whenFull === "reject") {
        throw new ActorError(
          "BACKPRESSURE",
          `Cannot send "${message.type}": ${this.#pending.size} requests in flight`,
        );
      }
      await this.#slot(message.type, deadline - this.#clock.now());
      if (this.#closed) throw deserializeError(this.#closed);
    }
    const id = this.#nextId++;
    return new Promise<R>((resolve, reject) => {
      const remaining = deadline - this.#clock.now();
      const cancelTimer = Number.isFinite(remaining)
        ? this.#clock.setTimer(() => {
          if (!this.#pending.delete(id)) return;
          this.#freeSlot();
          reject(
            new ActorError("TIMEOUT", `Request "${message.type}" got no reply in ${timeoutMs} ms`),
          );
        }, Math.max(0, remaining))
        : () => {};
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, cancelTimer });
      try {
        this.#port.postMessage({ ...message, id }, options.transfer ?? []);
      } catch (e) {
        this.#settle(id)?.reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /**
   * Stops listening and fails every request in flight with `error` (default `CLOSED`).
   * Does not close the underlying port.
   */
  close(error?: SerializedError): void {
    if (this.#closed) return;
    this.#closed = error ?? { name: "ActorError", message: "Endpoint closed", code: "CLOSED" };
    this.#port.removeEventListener("message", this.#listener);
    const failure = deserializeError(this.#closed);
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(failure);
    for (const wake of this.#slots.splice(0)) wake();
    this.inbox?.close();
  }

  #receive(message: In & Incoming): void {
    if (typeof message?.re === "number") {
      const pending = this.#settle(message.re);
      if (!pending) return; // late reply to a request that timed out
      if (message.type === "reply") {
        if (message.ok) pending.resolve(message.value);
        else pending.reject(deserializeError(message.error as SerializedError));
      } else {
        pending.resolve(message);
      }
      return;
    }
    if (this.inbox) this.inbox.offer(message);
    else this.#onMessage?.(message);
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    pending.cancelTimer();
    this.#freeSlot();
    return pending;
  }

  #freeSlot(): void {
    this.#slots.shift()?.();
  }

  #slot(type: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let cancel = () => {};
      const wake = () => {
        cancel();
        resolve();
      };
      this.#slots.push(wake);
      if (Number.isFinite(timeoutMs)) {
        cancel = this.#clock.setTimer(() => {
          this.#slots = this.#slots.filter((w) => w !== wake);
          reject(new ActorError("TIMEOUT", `Request "${type}" found no free slot in time`));
        }, Math.max(0, timeoutMs));
      }
    });
  }
}

/** `Omit` applied to each member of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
