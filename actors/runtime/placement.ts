/**
 * One way to spawn an actor whatever its placement, a child spec for a supervisor, and data
 * links between actors.
 *
 * - `"worker"`: a dedicated Worker (bots: a crash or hang in one never touches another);
 * - a {@link WorkerPool}: a shared Worker host (symbol actors);
 * - `"inline"`: this thread, no Worker (tests and backtests), same logic and interface.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool();
 * const symbol = await spawnActor({ id: "sym:AAPL", behaviour: symbolRef }, pool);
 * const bot = await spawnActor({ id: "bot:7", behaviour: botRef }, "worker", {
 *   onEffects: (intents) => submitAll(intents),
 * });
 * await link(symbol, bot, { topic: "bars" }); // batches published on "bars" reach the bot
 * ```
 *
 * @module
 */
import type { ActorHandle, ActorSpec, SpawnOptions } from "./actor.ts";
import { spawnInline } from "./inline.ts";
import { directSink } from "./outlets.ts";
import { WorkerPool } from "./pool.ts";
import type { ChildSpec, RestartPolicy } from "./supervisor.ts";
import { WorkerHost, type WorkerHostOptions } from "./worker_host.ts";

/** Where to run an actor. */
export type Placement = "inline" | "worker" | WorkerPool;

/**
 * Spawns (and, unless `autoStart: false`, starts) an actor.
 * @throws as {@link spawnInline} or {@link WorkerHost.spawn}
 */
export function spawnActor<M = unknown, E = unknown>(
  spec: ActorSpec,
  placement: Placement,
  options: SpawnOptions<E> & { host?: WorkerHostOptions } = {},
): Promise<ActorHandle<M>> {
  if (placement === "inline") return spawnInline<M, E>(spec, options);
  if (placement instanceof WorkerPool) return placement.spawn<M, E>(spec, options);
  const host = new WorkerHost({
    name: `actor:${spec.id}`,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...options.host,
  });
  return host.spawn<M, E>(spec, { ...options, dedicated: true }).catch((e) => {
    host.terminate(null);
    throw e;
  });
}

/** A supervisor child that spawns the actor afresh on every (re)start. */
export function actorChild<M = unknown, E = unknown>(
  spec: ActorSpec,
  placement: Placement,
  options: SpawnOptions<E> & { restart?: RestartPolicy; shutdownMs?: number } = {},
): ChildSpec<ActorHandle<M>> {
  const { restart = "permanent", shutdownMs = 5_000, ...spawn } = options;
  return {
    id: spec.id,
    restart,
    shutdownMs,
    start: () => spawnActor<M, E>(spec, placement, spawn),
  };
}

/** A data link made by {@link link}. */
export interface Link {
  readonly id: string;
  readonly topic: string;
  /**
   * Ends the link: the publisher stops sending on it and its channel is closed. Safe to call
   * twice, and when either actor is gone.
   */
  close(): Promise<void>;
}

let linkCounter = 0;
let channelCounter = 0;

/** Data channels by subscriber, then by publishing host: links reuse them (see Channels). */
const channelsTo = new WeakMap<ActorHandle, Map<object, { id: string; links: number }>>();

/**
 * Sends every batch `from` publishes on `topic` to `to`'s data mailbox. Between two inline
 * actors delivery is a direct call; otherwise a MessageChannel joins the publisher's host and
 * the subscriber, its ports transferred to the hosts, and later links from the same host to the
 * same subscriber share it (one message per slice, whatever the number of publishers). A link
 * belongs to the two incarnations it joins: after a restart, link again, and close links whose
 * subscriber is gone so the publisher forgets them.
 * @throws {ActorError} when either actor is gone
 */
export async function link(
  from: ActorHandle,
  to: ActorHandle,
  options: { topic: string },
): Promise<Link> {
  const { topic } = options;
  const id = `link-${++linkCounter}`;
  let release = () => {};
  let closed = false;
  const handle: Link = {
    id,
    topic,
    close: async () => {
      if (closed) return;
      closed = true;
      release();
      try {
        await from.link.unsubscribe(topic, id);
      } catch {
        // The publisher is gone: so is the link.
      }
    },
  };
  const source = from.link.local;
  const target = to.link.local;
  if (source && target) {
    source.addSink(topic, directSink(target.cell), id);
    return handle;
  }
  let byHost = channelsTo.get(to);
  if (!byHost) channelsTo.set(to, byHost = new Map());
  const shared = byHost.get(from.link.host);
  if (shared) {
    shared.links++;
    release = releaser(byHost, from.link.host, shared);
    try {
      await from.link.subscribe(topic, shared.id, undefined, id);
      return handle;
    } catch (e) {
      release();
      // The host closed the channel (its publishers ended without their links being closed):
      // forget it and open a new one.
      if ((e as { code?: unknown }).code !== "CLOSED") throw e;
      if (byHost.get(from.link.host) === shared) byHost.delete(from.link.host);
    }
  }
  const channel = new MessageChannel();
  try {
    await to.link.attach(channel.port2);
  } catch (e) {
    channel.port1.close();
    channel.port2.close();
    throw e;
  }
  const opened = { id: `channel-${++channelCounter}`, links: 1 };
  try {
    await from.link.subscribe(topic, opened.id, channel.port1, id);
  } catch (e) {
    channel.port1.close();
    throw e;
  }
  // Shared only once the host holds the port (a racing link opens a channel of its own).
  if (!byHost.has(from.link.host)) byHost.set(from.link.host, opened);
  release = releaser(byHost, from.link.host, opened);
  return handle;
}

function releaser(
  byHost: Map<object, { id: string; links: number }>,
  host: object,
  channel: { id: string; links: number },
): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    // The host closes the channel with its last link: never hand it out again.
    if (--channel.links <= 0 && byHost.get(host) === channel) byHost.delete(host);
  };
}
