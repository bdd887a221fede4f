/**
 * Actor logic as data: a behaviour is a pure transition function `(state, message) → { state,
 * effects }`, kept apart from the thread that hosts it so the same logic runs inline (tests,
 * backtests) or inside a Worker.
 *
 * A behaviour never posts messages or touches timers itself. What it wants done comes back as
 * data: `effects` go to the actor's owner in the parent thread (for a bot, order intents that
 * the execution engine turns into commands), `reply` answers the request being handled, and
 * `publish` sends market data batches to subscribed actors.
 *
 * @example
 * ```ts
 * export const counter: ActorBehaviour<number, { type: "add"; n: number }, string> = {
 *   init: () => 0,
 *   receive: (total, msg) => ({ state: total + msg.n, effects: [`now ${total + msg.n}`] }),
 * };
 * ```
 *
 * @module
 */
import { ActorError, type Batch, type BehaviourRef } from "./protocol.ts";

/** A batch to send to every subscriber of `topic`. */
export interface Publication {
  topic: string;
  batch: Batch;
  /**
   * Transfer the batch's buffers instead of copying them (to the last subscriber; the others
   * get copies). Only when the behaviour keeps no reference to the arrays.
   */
  transfer?: boolean;
}

/** The result of one step: the next state and what the host should do. */
export interface Transition<S, E> {
  state: S;
  effects?: readonly E[];
  /** The answer when the message came as a request (`null` when left out). */
  reply?: unknown;
  publish?: readonly Publication[];
}

/**
 * An actor's logic. Messages delivered to `receive` are the payloads of `send`/`request`, and
 * {@link import("./protocol.ts").BatchDelivery} for market data arriving on attached ports,
 * so a behaviour that subscribes to data includes `BatchDelivery` in `M`.
 *
 * Everything must be structured-cloneable when the actor runs in a Worker: `A`, `M`, `E` and
 * replies. A throw from any function crashes the actor (its supervisor decides what follows).
 */
export interface ActorBehaviour<S, M, E, A = unknown> {
  /** The initial state from the spawn arguments. */
  init(args: A): S;
  /** One step. */
  receive(state: S, message: M): Transition<S, E>;
  /** Runs once when the actor starts, before any message. */
  start?(state: S): Transition<S, E>;
  /** Runs once on an orderly stop; pending messages are discarded. */
  stop?(state: S, reason: string): Transition<S, E>;
}

/** Any behaviour, for code that only moves behaviours around. */
// deno-lint-ignore no-explicit-any
export type AnyBehaviour = ActorBehaviour<any, any, any, any>;

/** True when `value` has the shape of an {@link ActorBehaviour}. */
export function isBehaviour(value: unknown): value is AnyBehaviour {
  return typeof value === "object" && value !== null &&
    typeof (value as AnyBehaviour).init === "function" &&
    typeof (value as AnyBehaviour).receive === "function";
}

/**
 * Imports a behaviour module and picks its export; Workers load behaviours this way, and inline
 * placement can too, so both run the very same module.
 * @throws {ActorError} `BEHAVIOUR_NOT_FOUND` when the module does not load or the export is
 * not a behaviour
 */
export async function loadBehaviour(ref: BehaviourRef): Promise<AnyBehaviour> {
  let module: Record<string, unknown>;
  try {
    module = await import(ref.url);
  } catch (e) {
    throw new ActorError(
      "BEHAVIOUR_NOT_FOUND",
      `Cannot load behaviour module "${ref.url}": ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const behaviour = module[ref.export];
  if (!isBehaviour(behaviour)) {
    throw new ActorError(
      "BEHAVIOUR_NOT_FOUND",
      `Cannot use export "${ref.export}" of "${ref.url}": not an actor behaviour`,
    );
  }
  return behaviour;
}
