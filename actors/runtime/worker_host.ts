/**
 * The parent's side of one Worker running {@link import("./host_worker.ts")}: it spawns actors
 * in the Worker, routes their effects, crash and overflow reports to their handles, answers
 * heartbeats, and terminates the Worker when told (a hung Worker cannot stop itself).
 *
 * A dedicated host (a bot's Worker) lives and dies with its one actor; a pooled host (see
 * {@link import("./pool.ts").WorkerPool}) runs many, and when it has to be killed every actor
 * in it exits with `HOST_TERMINATED` for its supervisor to restart elsewhere.
 *
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import {
  type ActorHandle,
  type ActorSpec,
  exitedError,
  ExitLatch,
  type LinkEnd,
  type SpawnOptions,
} from "./actor.ts";
import { isBehaviour } from "./behaviour.ts";
import { Endpoint, type PortLike } from "./endpoint.ts";
import {
  ActorError,
  type Batch,
  type FromHost,
  runtimeError,
  type SerializedError,
  serializeError,
  type ToHost,
  transferablesOf,
} from "./protocol.ts";
import type { Exit } from "./supervisor.ts";

/** The generic worker entry. */
export const HOST_WORKER_URL: string = new URL("./host_worker.ts", import.meta.url).href;

/** Options of {@link WorkerHost}. */
export interface WorkerHostOptions {
  /** Timers for request timeouts. Default: the system clock. */
  clock?: Clock;
  /** Default request timeout. Default 5000 ms. */
  timeoutMs?: number;
  /**
   * How long an actor's `init` may take: the first one in a Worker loads the behaviour's
   * modules, which on a loaded machine takes far longer than a request. Default 30000 ms.
   */
  initTimeoutMs?: number;
  /** Shown in errors and given to the Worker. */
  name?: string;
}

/** Batches queued for one host at most; more are posted at once. */
const OUTBOX_LIMIT = 256;

/**
 * The Worker as the endpoint sees it, with one difference: market data batches posted in the
 * same turn leave together, as one `batches` message, when the turn ends (a microtask). A
 * message to a Worker costs far more than the clone of a small batch (the receiving thread is
 * woken once per message), so a feed that sends a batch to each of fifty pooled symbol actors
 * wakes each host once, not fifty times. Any other message first sends the queued batches, so
 * order is kept. A batch that cannot be posted (it cannot be cloned, or its buffers were
 * already transferred) is dropped and reported through `dropped`, as a full data lane would.
 */
class BatchOutbox implements PortLike {
  #worker: Worker;
  #dropped: (actorId: string, count: number) => void;
  #queue: { message: Extract<ToHost, { type: "batch" }>; transfer: Transferable[] }[] = [];
  #scheduled = false;
  #closed = false;

  constructor(worker: Worker, dropped: (actorId: string, count: number) => void) {
    this.#worker = worker;
    this.#dropped = dropped;
  }

  postMessage(message: ToHost, transfer: Transferable[] = []): void {
    if (message.type !== "batch") {
      this.flush();
      this.#worker.postMessage(message, transfer);
      return;
    }
    if (this.#closed) return;
    this.#queue.push({ message, transfer });
    if (this.#queue.length >= OUTBOX_LIMIT) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  addEventListener(type: "message", listener: (event: MessageEvent) => void): void {
    this.#worker.addEventListener(type, listener);
  }

  removeEventListener(type: "message", listener: (event: MessageEvent) => void): void {
    this.#worker.removeEventListener(type, listener);
  }

  /** Posts the queued batches now. */
  flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    if (this.#closed) return;
    if (queue.length === 1) return this.#postOne(queue[0]!);
    const transfer = new Set<Transferable>();
    for (const entry of queue) for (const t of entry.transfer) transfer.add(t);
    try {
      this.#worker.postMessage({ type: "batches", batches: queue.map((e) => e.message) }, [
        ...transfer,
      ]);
    } catch {
      // One of them cannot travel: post them one by one so only that one is lost.
      for (const entry of queue) this.#postOne(entry);
    }
  }

  /** Drops whatever is queued; nothing is posted any more. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
  }

  #postOne(entry: { message: Extract<ToHost, { type: "batch" }>; transfer: Transferable[] }) {
    try {
      this.#worker.postMessage(entry.message, entry.transfer);
    } catch {
      this.#dropped(entry.message.actorId, 1);
    }
  }
}

let hostCounter = 0;

/** One Worker hosting actors. */
export class WorkerHost {
  readonly name: string;
  #worker: Worker;
  #outbox: BatchOutbox;
  #endpoint: Endpoint<ToHost, FromHost>;
  #actors = new Map<string, WorkerActor<unknown, unknown>>();
  #terminated = false;
  #ping: Promise<void> | null = null;
  #listeners: (() => void)[] = [];
  readonly #initTimeoutMs: number;

  constructor(options: WorkerHostOptions = {}) {
    this.name = options.name ?? `actor-host-${++hostCounter}`;
    this.#initTimeoutMs = options.initTimeoutMs ?? 30_000;
    this.#worker = new Worker(HOST_WORKER_URL, { type: "module", name: this.name });
    this.#worker.addEventListener("error", (event) => {
      event.preventDefault();
      this.terminate(
        runtimeError("HOST_TERMINATED", `Worker "${this.name}" failed: ${event.message}`),
      );
    });
    this.#worker.addEventListener("messageerror", () => {
      this.terminate(
        runtimeError("HOST_TERMINATED", `Worker "${this.name}" sent an unreadable message`),
      );
    });
    this.#outbox = new BatchOutbox(this.#worker, (actorId, count) => {
      this.#actors.get(actorId)?.overflow("data", count);
    });
    this.#endpoint = new Endpoint<ToHost, FromHost>(this.#outbox, {
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      onMessage: (message) => this.#receive(message),
    });
  }

  /** Actors living (or being spawned) in this host. */
  get actorCount(): number {
    return this.#actors.size;
  }

  /** Their ids. */
  get actorIds(): string[] {
    return [...this.#actors.keys()];
  }

  /** True once the Worker is terminated. */
  get terminated(): boolean {
    return this.#terminated;
  }

  /** Calls `listener` once when the host is terminated. */
  onTerminated(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Loads the behaviour in the Worker, runs `init` and (unless `autoStart: false`) `start`.
   * With `dedicated: true`, the Worker ends when the actor does.
   * @throws {TypeError} when the behaviour is not a module reference; {@link ActorError}
   * `ACTOR_EXISTS`, `BEHAVIOUR_NOT_FOUND`, `TIMEOUT`, or the error `init`/`start` threw
   */
  async spawn<M = unknown, E = unknown>(
    spec: ActorSpec,
    options: SpawnOptions<E> & { dedicated?: boolean } = {},
  ): Promise<ActorHandle<M>> {
    const dedicated = options.dedicated === true;
    if (isBehaviour(spec.behaviour)) {
      throw new TypeError(
        `Cannot place actor "${spec.id}" in a Worker: give its behaviour as {url, export}`,
      );
    }
    if (this.#terminated) {
      throw new ActorError("HOST_TERMINATED", `Cannot spawn "${spec.id}": host terminated`);
    }
    if (this.#actors.has(spec.id)) {
      throw new ActorError("ACTOR_EXISTS", `Cannot spawn "${spec.id}": the id is taken`);
    }
    const actor = new WorkerActor<M, E>(spec.id, this, this.#endpoint, options, dedicated);
    this.#actors.set(spec.id, actor as WorkerActor<unknown, unknown>);
    try {
      await this.#endpoint.request({
        type: "init",
        actorId: spec.id,
        behaviour: spec.behaviour,
        args: spec.args ?? null,
        ...(spec.mailbox ? { mailbox: spec.mailbox } : {}),
      }, { timeoutMs: this.#initTimeoutMs });
      if (options.autoStart !== false) await actor.start();
    } catch (e) {
      this.#actors.delete(spec.id);
      if (dedicated) this.terminate(null);
      throw e;
    }
    return actor;
  }

  /** Resolves when the Worker answers; one ping in flight at a time, shared by its actors. */
  ping(): Promise<void> {
    if (!this.#ping) {
      this.#ping = this.#endpoint.request<unknown>({ type: "ping" }, { timeoutMs: Infinity })
        .then(() => {}).finally(() => this.#ping = null);
    }
    return this.#ping;
  }

  /**
   * Terminates the Worker. Every actor still in it exits: with `error` as a crash, or
   * normally when `error` is null.
   */
  terminate(error: SerializedError | null): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#outbox.close();
    this.#worker.terminate();
    this.#endpoint.close(
      error ?? runtimeError("HOST_TERMINATED", `Worker "${this.name}" was closed`),
    );
    for (const actor of this.#actors.values()) {
      actor.end(error ? { kind: "crash", error } : { kind: "normal", reason: "host closed" });
    }
    this.#actors.clear();
    for (const listener of this.#listeners.splice(0)) listener();
  }

  /** @internal */
  forget(id: string): void {
    this.#actors.delete(id);
  }

  #receive(message: FromHost): void {
    switch (message.type) {
      case "effects":
        for (const entry of message.entries) {
          this.#actors.get(entry.actorId)?.effects(entry.effects);
        }
        return;
      case "crash": {
        const actor = this.#actors.get(message.actorId);
        this.#actors.delete(message.actorId);
        actor?.end({ kind: "crash", error: message.error });
        if (actor?.dedicated) this.terminate(null);
        return;
      }
      case "overflow":
        this.#actors.get(message.actorId)?.overflow(message.lane, message.count);
        return;
      case "fatal":
        this.terminate(
          runtimeError("HOST_TERMINATED", `Worker "${this.name}" failed: ${message.error.message}`),
        );
        return;
    }
  }
}

class WorkerActor<M, E> implements ActorHandle<M> {
  readonly id: string;
  readonly placement: "worker" | "pool";
  readonly dedicated: boolean;
  readonly link: LinkEnd;
  #host: WorkerHost;
  #endpoint: Endpoint<ToHost, FromHost>;
  #options: SpawnOptions<E>;
  #latch = new ExitLatch();
  #seqs = new Map<string, number>();

  constructor(
    id: string,
    host: WorkerHost,
    endpoint: Endpoint<ToHost, FromHost>,
    options: SpawnOptions<E>,
    dedicated: boolean,
  ) {
    this.id = id;
    this.#host = host;
    this.#endpoint = endpoint;
    this.#options = options;
    this.dedicated = dedicated;
    this.placement = dedicated ? "worker" : "pool";
    this.link = {
      local: null,
      host,
      subscribe: async (topic, channel, port, linkId) => {
        await endpoint.request(
          { type: "subscribe", actorId: id, topic, channel, linkId, ...(port ? { port } : {}) },
          { transfer: port ? [port] : [] },
        );
      },
      unsubscribe: async (topic, linkId) => {
        if (this.exit || endpoint.closed) return;
        await endpoint.request({ type: "unsubscribe", actorId: id, topic, linkId });
      },
      attach: async (port) => {
        await endpoint.request({ type: "attach", actorId: id, port }, { transfer: [port] });
      },
    };
  }

  get exit(): Exit | null {
    return this.#latch.value;
  }

  get exited(): Promise<Exit> {
    return this.#latch.promise;
  }

  send(message: M): void {
    if (this.exit || this.#endpoint.closed) return;
    this.#endpoint.post({ type: "event", actorId: this.id, payload: message });
  }

  request<R = unknown>(message: M, options: { timeoutMs?: number } = {}): Promise<R> {
    if (this.exit) return Promise.reject(exitedError(this.id, this.exit));
    return this.#endpoint.request<R>(
      { type: "request", actorId: this.id, payload: message },
      options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {},
    );
  }

  sendBatch(topic: string, batch: Batch, options: { transfer?: boolean } = {}): void {
    if (this.exit || this.#endpoint.closed) return;
    const seq = (this.#seqs.get(topic) ?? 0) + 1;
    this.#seqs.set(topic, seq);
    this.#endpoint.post(
      { type: "batch", actorId: this.id, topic, seq, batch },
      options.transfer ? transferablesOf(batch) : [],
    );
  }

  async start(): Promise<void> {
    if (this.exit) throw exitedError(this.id, this.exit);
    await this.#endpoint.request({ type: "start", actorId: this.id });
    // A crash in `behaviour.start` is reported before the reply.
    if (this.exit) throw exitedError(this.id, this.exit);
  }

  /**
   * Runs the behaviour's `stop` in the Worker. When the Worker does not answer in time the
   * actor is killed (its host terminated) and the error is thrown.
   */
  async stop(reason = "normal"): Promise<void> {
    if (this.exit) return;
    try {
      await this.#endpoint.request({ type: "stop", actorId: this.id, reason });
    } catch (e) {
      this.kill(serializeError(e, "TIMEOUT"));
      throw e;
    }
    this.#host.forget(this.id);
    this.end({ kind: "normal", reason });
    if (this.dedicated) this.#host.terminate(null);
  }

  kill(error: SerializedError): void {
    if (this.exit) return;
    this.end({ kind: "crash", error });
    this.#host.forget(this.id);
    this.#host.terminate(
      runtimeError("HOST_TERMINATED", `Worker "${this.#host.name}" terminated: ${error.message}`),
    );
  }

  ping(): Promise<void> {
    return this.#host.ping();
  }

  /** @internal */
  end(exit: Exit): void {
    this.#latch.settle(exit);
  }

  /** @internal */
  effects(effects: unknown[]): void {
    if (!this.exit) this.#options.onEffects?.(effects as E[]);
  }

  /** @internal */
  overflow(lane: "commands" | "data", count: number): void {
    this.#options.onOverflow?.(lane, count);
  }
}
