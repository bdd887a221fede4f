/**
 * The core every placement shares: one actor's state, behaviour and bounded mailbox, stepping
 * the pure transition function one message at a time. Inline actors and actors inside Worker
 * hosts run this same code, so the same input gives the same effects wherever an actor lives;
 * only the hooks (where effects, replies and batches go) differ.
 *
 * @module
 */
import type { ActorBehaviour, Publication, Transition } from "./behaviour.ts";
import { Mailbox } from "./mailbox.ts";
import {
  type BatchDelivery,
  type MailboxLimits,
  runtimeError,
  type SerializedError,
  serializeError,
} from "./protocol.ts";

/** Default mailbox bounds. */
export const DEFAULT_MAILBOX: Required<MailboxLimits> = { commands: 1024, data: 256 };

/** The answer to a request, as data. */
export type ReplyResult = { ok: true; value: unknown } | { ok: false; error: SerializedError };

/** What a cell receives. */
export type Envelope<M> =
  | { kind: "event"; message: M }
  | { kind: "request"; message: M; reply: (result: ReplyResult) => void }
  | { kind: "batch"; delivery: BatchDelivery };

/** Where a cell's output goes. */
export interface CellHooks<E> {
  /** Effects of one transition, in order (never empty). */
  emit(effects: readonly E[]): void;
  /** A batch for the subscribers of its topic. */
  publish(publication: Publication): void;
  /** The behaviour threw; the cell is dead. */
  crashed(error: SerializedError): void;
  /** Messages were dropped (data) or refused (events) because a lane was full. */
  overflow?(lane: "commands" | "data", count: number): void;
  /**
   * Asks the host to call {@link ActorCell.drain} soon. Without it the cell drains synchronously
   * inside {@link ActorCell.deliver} (inline placement).
   */
  schedule?(): void;
}

/** What a cell runs. */
export interface CellSpec<S, M, E> {
  id: string;
  behaviour: ActorBehaviour<S, M, E>;
  /** Passed to `behaviour.init`. */
  args: unknown;
  mailbox?: MailboxLimits;
}

/** Lifecycle of a cell. */
export type CellStatus = "initialised" | "running" | "stopped" | "crashed";

/** One actor: state, behaviour, mailbox. */
export class ActorCell<S, M, E> {
  readonly id: string;
  #behaviour: ActorBehaviour<S, M, E>;
  #hooks: CellHooks<E>;
  #state: S;
  #status: CellStatus = "initialised";
  #mailbox: Mailbox<Envelope<M>, "commands" | "data">;
  #draining = false;

  /**
   * Runs `behaviour.init(args)`.
   * @throws whatever `init` throws
   */
  constructor(spec: CellSpec<S, M, E>, hooks: CellHooks<E>) {
    const { id, behaviour, args, mailbox: limits = {} } = spec;
    this.id = id;
    this.#behaviour = behaviour;
    this.#hooks = hooks;
    this.#mailbox = new Mailbox<Envelope<M>, "commands" | "data">({
      commands: { capacity: limits.commands ?? DEFAULT_MAILBOX.commands, overflow: "reject" },
      data: { capacity: limits.data ?? DEFAULT_MAILBOX.data, overflow: "drop-oldest" },
    }, (e) => e.kind === "batch" ? "data" : "commands");
    this.#state = behaviour.init(args);
  }

  /** Where the cell is in its life. */
  get status(): CellStatus {
    return this.#status;
  }

  /** The current state (for inspection; never mutate it). */
  get state(): S {
    return this.#state;
  }

  /** Messages waiting. */
  get queued(): number {
    return this.#mailbox.size;
  }

  /** Runs `behaviour.start` and begins processing messages (those sent before start wait). */
  start(): void {
    if (this.#status !== "initialised") return;
    this.#status = "running";
    const start = this.#behaviour.start;
    if (start) this.#step(() => start(this.#state), null);
    this.#kick();
  }

  /**
   * Enqueues a message. A full command lane refuses (a request is answered `MAILBOX_FULL`); a
   * full data lane drops its oldest batch. A dead cell answers requests with an error.
   */
  deliver(envelope: Envelope<M>): void {
    if (this.#status === "stopped" || this.#status === "crashed") {
      if (envelope.kind === "request") envelope.reply({ ok: false, error: this.#goneError() });
      return;
    }
    const result = this.#mailbox.offer(envelope);
    if (result.status === "evicted") this.#hooks.overflow?.("data", 1);
    else if (result.status === "refused") {
      if (envelope.kind === "request") {
        envelope.reply({
          ok: false,
          error: runtimeError("MAILBOX_FULL", `Cannot deliver to actor "${this.id}": mailbox full`),
        });
      } else {
        this.#hooks.overflow?.(envelope.kind === "batch" ? "data" : "commands", 1);
      }
      return;
    }
    this.#kick();
  }

  /**
   * Processes up to `budget` messages; answers true when more are waiting. Re-entrant calls
   * (a hook delivering back into this cell) return at once and the outer drain continues.
   */
  drain(budget = Infinity): boolean {
    if (this.#status !== "running" || this.#draining) return false;
    this.#draining = true;
    try {
      for (let n = 0; n < budget && this.#status === "running"; n++) {
        const envelope = this.#mailbox.poll();
        if (!envelope) break;
        const message = envelope.kind === "batch" ? envelope.delivery as M : envelope.message;
        this.#step(() => this.#behaviour.receive(this.#state, message), envelope);
      }
    } finally {
      this.#draining = false;
    }
    return this.#status === "running" && this.#mailbox.size > 0;
  }

  /** Runs `behaviour.stop` and discards pending messages (requests are answered with errors). */
  stop(reason: string): void {
    if (this.#status === "stopped" || this.#status === "crashed") return;
    const stop = this.#behaviour.stop;
    if (this.#status === "running" && stop) this.#step(() => stop(this.#state, reason), null);
    this.kill();
  }

  /** Ends the cell without running `behaviour.stop`; pending requests are answered with errors. */
  kill(): void {
    if (this.#status === "stopped" || this.#status === "crashed") return;
    this.#status = "stopped";
    this.#failPending();
  }

  #kick(): void {
    if (this.#status !== "running" || this.#mailbox.size === 0) return;
    if (this.#hooks.schedule) this.#hooks.schedule();
    else this.drain();
  }

  #step(run: () => Transition<S, E>, envelope: Envelope<M> | null): void {
    let transition: Transition<S, E>;
    try {
      transition = run();
      if (typeof transition !== "object" || transition === null || !("state" in transition)) {
        throw new TypeError(`Actor "${this.id}" behaviour returned no transition`);
      }
    } catch (e) {
      this.#crash(e, envelope);
      return;
    }
    this.#state = transition.state;
    if (transition.effects && transition.effects.length > 0) this.#hooks.emit(transition.effects);
    for (const publication of transition.publish ?? []) this.#hooks.publish(publication);
    if (envelope?.kind === "request") {
      envelope.reply({ ok: true, value: transition.reply ?? null });
    }
  }

  #crash(thrown: unknown, envelope: Envelope<M> | null): void {
    this.#status = "crashed";
    const error = serializeError(thrown, "ACTOR_CRASHED");
    if (envelope?.kind === "request") envelope.reply({ ok: false, error });
    this.#failPending();
    this.#hooks.crashed(error);
  }

  #failPending(): void {
    this.#mailbox.close();
    const error = this.#goneError();
    for (const envelope of this.#mailbox.drain()) {
      if (envelope.kind === "request") envelope.reply({ ok: false, error });
    }
  }

  #goneError(): SerializedError {
    return this.#status === "crashed"
      ? runtimeError("ACTOR_CRASHED", `Cannot deliver to actor "${this.id}": it crashed`)
      : runtimeError("ACTOR_STOPPED", `Cannot deliver to actor "${this.id}": it stopped`);
  }
}
