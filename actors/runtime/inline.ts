/**
 * Inline placement: the actor's cell runs in the calling thread, with no Worker. Delivery is
 * synchronous (a `send` has been processed when it returns), so tests and backtests are exact
 * and repeatable; nothing queues, so nothing is dropped. The logic and the cell are the same as
 * in a Worker, so the same input gives the same effects.
 *
 * An inline actor cannot be pinged: if it hung, the calling thread would hang with it.
 *
 * @module
 */
import { type Clock, SystemClock } from "../../core/clock.ts";
import {
  type ActorHandle,
  type ActorSpec,
  exitedError,
  ExitLatch,
  type LinkEnd,
  type SpawnOptions,
} from "./actor.ts";
import { type AnyBehaviour, isBehaviour, loadBehaviour } from "./behaviour.ts";
import { ActorCell } from "./cell.ts";
import { attachPort, Channels, Outlets } from "./outlets.ts";
import { ActorError, type Batch, deserializeError, type SerializedError } from "./protocol.ts";
import type { Exit } from "./supervisor.ts";

class InlineActor<M, E> implements ActorHandle<M> {
  readonly id: string;
  readonly placement = "inline" as const;
  readonly link: LinkEnd;
  #cell: ActorCell<unknown, M, E>;
  #outlets = new Outlets();
  #channels = new Channels();
  #inputs: (() => void)[] = [];
  #seqs = new Map<string, number>();
  #latch = new ExitLatch();
  #clock: Clock;
  #timeoutMs: number;

  constructor(spec: ActorSpec, behaviour: AnyBehaviour, options: SpawnOptions<E>) {
    this.id = spec.id;
    this.#clock = options.clock ?? new SystemClock();
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    const cellSpec = {
      id: spec.id,
      behaviour,
      args: spec.args,
      ...(spec.mailbox ? { mailbox: spec.mailbox } : {}),
    };
    this.#cell = new ActorCell<unknown, M, E>(cellSpec, {
      emit: (effects) => options.onEffects?.(effects),
      publish: (publication) => this.#outlets.publish(publication),
      crashed: (error) => this.#end({ kind: "crash", error }),
      overflow: options.onOverflow,
    });
    const cell = this.#cell as ActorCell<unknown, unknown, E>;
    this.link = {
      local: {
        cell,
        addSink: (topic, sink, linkId) => this.#outlets.add(topic, sink, linkId),
      },
      host: this,
      subscribe: (topic, channel, port, linkId) => {
        this.#outlets.add(topic, this.#channels.sink(channel, port), linkId);
        return Promise.resolve();
      },
      unsubscribe: (topic, linkId) => {
        this.#outlets.remove(topic, linkId);
        return Promise.resolve();
      },
      attach: (port) => {
        this.#inputs.push(attachPort(port, cell));
        return Promise.resolve();
      },
    };
  }

  get exit(): Exit | null {
    return this.#latch.value;
  }

  get exited(): Promise<Exit> {
    return this.#latch.promise;
  }

  /** The actor's current state (inline only; for tests and backtests). */
  get state(): unknown {
    return this.#cell.state;
  }

  send(message: M): void {
    if (!this.exit) this.#cell.deliver({ kind: "event", message });
  }

  request<R = unknown>(message: M, options: { timeoutMs?: number } = {}): Promise<R> {
    if (this.exit) return Promise.reject(exitedError(this.id, this.exit));
    return new Promise<R>((resolve, reject) => {
      let answered = false;
      let cancel = () => {};
      this.#cell.deliver({
        kind: "request",
        message,
        reply: (result) => {
          answered = true;
          cancel();
          if (result.ok) resolve(result.value as R);
          else reject(deserializeError(result.error));
        },
      });
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      if (!answered && Number.isFinite(timeoutMs)) {
        cancel = this.#clock.setTimer(() => {
          if (answered) return;
          answered = true;
          reject(
            new ActorError(
              "TIMEOUT",
              `Request to actor "${this.id}" got no reply in ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
      }
    });
  }

  sendBatch(topic: string, batch: Batch): void {
    if (this.exit) return;
    const seq = (this.#seqs.get(topic) ?? 0) + 1;
    this.#seqs.set(topic, seq);
    this.#cell.deliver({ kind: "batch", delivery: { type: "batch", topic, seq, batch } });
  }

  start(): Promise<void> {
    this.#cell.start();
    return Promise.resolve();
  }

  stop(reason = "normal"): Promise<void> {
    if (!this.exit) {
      this.#cell.stop(reason);
      this.#end({ kind: "normal", reason });
    }
    return Promise.resolve();
  }

  kill(error: SerializedError): void {
    if (this.exit) return;
    this.#cell.kill();
    this.#end({ kind: "crash", error });
  }

  #end(exit: Exit): void {
    if (!this.#latch.settle(exit)) return;
    this.#outlets.close();
    for (const detach of this.#inputs.splice(0)) detach();
  }
}

/**
 * Runs an actor in this thread. A {@link BehaviourRef} is imported first, exactly as a Worker
 * would.
 * @throws {ActorError} `BEHAVIOUR_NOT_FOUND`; whatever `behaviour.init` or `start` throws
 */
export async function spawnInline<M = unknown, E = unknown>(
  spec: ActorSpec,
  options: SpawnOptions<E> = {},
): Promise<ActorHandle<M> & { readonly state: unknown }> {
  const behaviour = isBehaviour(spec.behaviour)
    ? spec.behaviour
    : await loadBehaviour(spec.behaviour);
  const actor = new InlineActor<M, E>(spec, behaviour, options);
  if (options.autoStart !== false) {
    await actor.start();
    if (actor.exit?.kind === "crash") throw deserializeError(actor.exit.error);
  }
  return actor;
}
