/**
 * What the parent thread holds of an actor, wherever it runs: an {@link ActorHandle} to send
 * it messages, make requests, feed it batches, link it to other actors, and (as a
 * {@link ChildHandle}) let a supervisor stop, kill and ping it.
 *
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import type { AnyBehaviour } from "./behaviour.ts";
import type { Envelope } from "./cell.ts";
import type { BatchSink } from "./outlets.ts";
import {
  ActorError,
  type Batch,
  type BehaviourRef,
  deserializeError,
  type MailboxLimits,
} from "./protocol.ts";
import type { ChildHandle, Exit } from "./supervisor.ts";

/** What to run. */
export interface ActorSpec<A = unknown> {
  /** Unique among the actors of a host. */
  id: string;
  /** A module URL and export (any placement), or the behaviour itself (inline only). */
  behaviour: BehaviourRef | AnyBehaviour;
  /** Passed to `behaviour.init`; structured-cloneable for Workers. */
  args?: A;
  mailbox?: MailboxLimits;
}

/** Where an actor's output goes, and how its handle behaves. */
export interface SpawnOptions<E = unknown> {
  /** Effects of each transition, in order. */
  onEffects?: (effects: readonly E[]) => void;
  /** The mailbox dropped (data) or refused (events) `count` messages. */
  onOverflow?: (lane: "commands" | "data", count: number) => void;
  /** Timers for request timeouts. Default: the system clock. */
  clock?: Clock;
  /** Default request timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** Start processing at once (default). When false, messages wait for `start()`. */
  autoStart?: boolean;
}

/** Where an actor runs. */
export type PlacementKind = "inline" | "worker" | "pool";

/** How {@link import("./placement.ts").link} reaches one end of a data link. */
export interface LinkEnd {
  /** The actor's cell and outlets when it runs in this thread. */
  readonly local: {
    cell: { deliver(envelope: Envelope<unknown>): void };
    addSink(topic: string, sink: BatchSink, linkId: string): void;
  } | null;
  /** Identifies the thread the actor publishes from: links to one subscriber share a channel. */
  readonly host: object;
  /**
   * Batches the actor publishes on `topic` go to data channel `channel`; `port` opens it (the
   * first link from this host to the subscriber).
   */
  subscribe(
    topic: string,
    channel: string,
    port: MessagePort | undefined,
    linkId: string,
  ): Promise<void>;
  /** Ends the link `linkId` on `topic` (a no-op when the actor or the link is gone). */
  unsubscribe(topic: string, linkId: string): Promise<void>;
  /** Batches arriving on `port` go to the actor's data mailbox. */
  attach(port: MessagePort): Promise<void>;
}

/** An actor seen from the parent thread. */
export interface ActorHandle<M = unknown> extends ChildHandle {
  readonly id: string;
  readonly placement: PlacementKind;
  /** How the actor ended, or null while it lives. */
  readonly exit: Exit | null;
  /** Fire-and-forget; dropped silently once the actor has exited. */
  send(message: M): void;
  /**
   * Delivers `message` as a request and resolves with the transition's `reply`.
   * @throws {ActorError} `TIMEOUT`, `MAILBOX_FULL`, `ACTOR_CRASHED` (with the behaviour's own
   * error when it threw on this very message), `ACTOR_STOPPED`, `HOST_TERMINATED`
   */
  request<R = unknown>(message: M, options?: { timeoutMs?: number }): Promise<R>;
  /**
   * Sends market data to the actor's data mailbox (`transfer` moves the typed arrays). To a
   * Worker, the batches of one turn to the same host leave as one message when the turn ends
   * (order with everything else sent is kept); one that cannot be posted is dropped and reported
   * to `onOverflow` as a data overflow.
   */
  sendBatch(topic: string, batch: Batch, options?: { transfer?: boolean }): void;
  /** Starts an actor spawned with `autoStart: false`. */
  start(): Promise<void>;
  /** @internal */
  readonly link: LinkEnd;
}

/** A settle-once holder of an actor's exit. */
export class ExitLatch {
  #exit: Exit | null = null;
  #resolve!: (exit: Exit) => void;
  readonly promise: Promise<Exit> = new Promise((resolve) => this.#resolve = resolve);

  get value(): Exit | null {
    return this.#exit;
  }

  /** Records the exit; answers false when one was already recorded. */
  settle(exit: Exit): boolean {
    if (this.#exit) return false;
    this.#exit = exit;
    this.#resolve(exit);
    return true;
  }
}

/** The error a request to an exited actor fails with. */
export function exitedError(id: string, exit: Exit): ActorError {
  return exit.kind === "crash"
    ? deserializeError({
      ...exit.error,
      message: `Cannot reach actor "${id}": it crashed: ${exit.error.message}`,
      code: exit.error.code ?? "ACTOR_CRASHED",
    })
    : new ActorError("ACTOR_STOPPED", `Cannot reach actor "${id}": it stopped`);
}
