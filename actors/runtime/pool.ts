/**
 * A pool of Worker hosts for symbol actors: many actors per host, at most `size` hosts
 * (default one per core), so hundreds of symbols cost a handful of Workers. An actor goes to
 * the least loaded host; hosts are created as needed, and a host that was terminated is
 * replaced on the next spawn.
 *
 * Sharing a thread has a price: an actor that hangs stalls its neighbours, and killing it
 * terminates the host, so its neighbours exit with `HOST_TERMINATED` and are restarted by
 * their supervisors. That is why bots, which run user strategies, get dedicated Workers.
 *
 * @module
 */
import type { ActorHandle, ActorSpec, SpawnOptions } from "./actor.ts";
import { ActorError } from "./protocol.ts";
import { WorkerHost, type WorkerHostOptions } from "./worker_host.ts";

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions extends WorkerHostOptions {
  /** Hosts at most. Default `navigator.hardwareConcurrency`. */
  size?: number;
}

/** A bounded set of Worker hosts shared by many actors. */
export class WorkerPool {
  readonly size: number;
  #options: WorkerHostOptions;
  #name: string;
  #hosts: WorkerHost[] = [];
  #created = 0;
  #closed = false;

  /** @throws {RangeError} when `size` is not a positive integer */
  constructor(options: WorkerPoolOptions = {}) {
    const size = options.size ?? Math.max(1, navigator.hardwareConcurrency || 1);
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`Cannot create a worker pool of size ${size}`);
    }
    this.size = size;
    this.#name = options.name ?? "pool";
    this.#options = options;
  }

  /**
   * Spawns an actor on the least loaded host.
   * @throws {ActorError} `CLOSED` after close; as {@link WorkerHost.spawn}
   */
  spawn<M = unknown, E = unknown>(
    spec: ActorSpec,
    options: SpawnOptions<E> = {},
  ): Promise<ActorHandle<M>> {
    if (this.#closed) {
      return Promise.reject(new ActorError("CLOSED", `Cannot spawn "${spec.id}": pool closed`));
    }
    return this.#pick().spawn<M, E>(spec, options);
  }

  /** The live hosts and the actors in each. */
  describe(): { name: string; actors: string[] }[] {
    return this.#hosts.map((h) => ({ name: h.name, actors: h.actorIds }));
  }

  /** Terminates every host; their actors exit normally. */
  close(): void {
    this.#closed = true;
    for (const host of [...this.#hosts]) host.terminate(null);
    this.#hosts = [];
  }

  #pick(): WorkerHost {
    let best: WorkerHost | undefined;
    for (const host of this.#hosts) {
      if (!best || host.actorCount < best.actorCount) best = host;
    }
    if (best && (best.actorCount === 0 || this.#hosts.length >= this.size)) return best;
    const host = new WorkerHost({ ...this.#options, name: `${this.#name}-${++this.#created}` });
    host.onTerminated(() => this.#hosts = this.#hosts.filter((h) => h !== host));
    this.#hosts.push(host);
    return host;
  }
}
