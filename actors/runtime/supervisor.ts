/**
 * A one_for_one supervisor after Erlang/OTP: it owns child specs, starts children in order and
 * stops them in reverse, restarts a child that exits (as its restart policy says) after a
 * backoff, and gives up on a child that needs more than `maxRestarts` restarts within
 * `withinMs`: that child goes to `error` with the reason, is not restarted, and the supervisor
 * reports `escalated` so its owner can mark the bot `error` and stop it trading. Siblings keep
 * running (intensity is counted per child, unlike OTP's per-supervisor count, because one
 * broken bot must not take the others down).
 *
 * Children that can be pinged get heartbeats: a child that does not answer within
 * `heartbeat.timeoutMs` (a Worker stuck in `while (true) {}`) is killed and restarted.
 *
 * Every timer (backoff, heartbeat, shutdown) comes from the injected {@link Clock}.
 *
 * @module
 */
import { type Clock, SystemClock } from "../../core/clock.ts";
import { ActorError, runtimeError, type SerializedError, serializeError } from "./protocol.ts";

/** How a child ended. */
export type Exit =
  | { kind: "normal"; reason?: string }
  | { kind: "crash"; error: SerializedError };

/** What a supervisor needs of a running child. */
export interface ChildHandle {
  /** Settles once, when the child ends for any reason. */
  readonly exited: Promise<Exit>;
  /** Orderly stop; the supervisor kills the child if it takes longer than `shutdownMs`. */
  stop(reason?: string): Promise<void>;
  /** Ends the child at once (terminates its Worker), settling `exited` with a crash. */
  kill(error: SerializedError): void;
  /** Resolves when the child's thread answers; children without it get no heartbeat. */
  ping?(): Promise<void>;
}

/** When a child that exited is started again. */
export type RestartPolicy =
  /** Always. */
  | "permanent"
  /** Only after a crash. */
  | "transient"
  /** Never. */
  | "temporary";

/** How to run one child. */
export interface ChildSpec<H extends ChildHandle = ChildHandle> {
  id: string;
  start(): Promise<H>;
  restart: RestartPolicy;
  /** How long an orderly stop may take before the child is killed. */
  shutdownMs: number;
}

/** Where a child is. */
export type ChildStatus =
  | "starting"
  | "running"
  | "restarting"
  | "stopping"
  | "stopped"
  /** Ended and, by its policy, not restarted. */
  | "exited"
  /** Escalated: restarted too often, or failed to start; not restarted. */
  | "error";

/** A snapshot of one child. */
export interface ChildInfo {
  id: string;
  status: ChildStatus;
  /** 1 for the first start, +1 per restart. */
  incarnation: number;
  /** Restarts inside the current window. */
  recentRestarts: number;
  /** The last crash, or the reason of `error`. */
  error: SerializedError | null;
}

/** What a supervisor reports. */
export type SupervisorEvent =
  | { type: "started"; id: string; incarnation: number }
  | { type: "exited"; id: string; incarnation: number; exit: Exit }
  | { type: "restart_scheduled"; id: string; attempt: number; delayMs: number }
  | { type: "heartbeat_timeout"; id: string; incarnation: number }
  | { type: "escalated"; id: string; error: SerializedError }
  | { type: "stopped"; id: string };

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Default: the system clock. */
  clock?: Clock;
  /** Restarts allowed per child within `withinMs`. Default 3. */
  maxRestarts?: number;
  /** Default 5000 ms. */
  withinMs?: number;
  /** Delay before restart n (1-based): `min(maxMs, initialMs · factor^(n-1))`. */
  backoff?: { initialMs?: number; maxMs?: number; factor?: number };
  /**
   * Pings every `intervalMs`; a ping unanswered after `timeoutMs` kills the child. `clock`
   * (default: the supervisor's) times the heartbeats: a hang is a matter of real time, so an
   * owner running on a simulated clock gives the system clock here.
   */
  heartbeat?: { intervalMs: number; timeoutMs: number; clock?: Clock };
  onEvent?: (event: SupervisorEvent) => void;
}

interface Child {
  spec: ChildSpec;
  status: ChildStatus;
  handle: ChildHandle | null;
  incarnation: number;
  restarts: number[];
  error: SerializedError | null;
  cancelRestart: (() => void) | null;
  launching: Promise<void> | null;
  ping: { sentAt: number; incarnation: number } | null;
}

/** A one_for_one supervisor. */
export class Supervisor {
  #clock: Clock;
  #maxRestarts: number;
  #withinMs: number;
  #backoff: { initialMs: number; maxMs: number; factor: number };
  #heartbeat: { intervalMs: number; timeoutMs: number; clock: Clock } | null;
  #onEvent: (event: SupervisorEvent) => void;
  #children: Child[] = [];
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  #cancelHeartbeat: (() => void) | null = null;

  /** @throws {RangeError} on duplicate child ids */
  constructor(specs: readonly ChildSpec[], options: SupervisorOptions = {}) {
    this.#clock = options.clock ?? new SystemClock();
    this.#maxRestarts = options.maxRestarts ?? 3;
    this.#withinMs = options.withinMs ?? 5_000;
    this.#backoff = {
      initialMs: options.backoff?.initialMs ?? 100,
      maxMs: options.backoff?.maxMs ?? 5_000,
      factor: options.backoff?.factor ?? 2,
    };
    this.#heartbeat = options.heartbeat
      ? { ...options.heartbeat, clock: options.heartbeat.clock ?? this.#clock }
      : null;
    this.#onEvent = options.onEvent ?? (() => {});
    for (const spec of specs) this.#add(spec);
  }

  /**
   * Starts the children one after another, in order. When one fails, those already started
   * are stopped in reverse order.
   * @throws {ActorError} naming the child that failed to start
   */
  async start(): Promise<void> {
    if (this.#state !== "idle") throw new Error(`Cannot start supervisor: it is ${this.#state}`);
    this.#state = "running";
    for (const child of this.#children) {
      try {
        await this.#launch(child, true);
      } catch (e) {
        await this.stop();
        throw new ActorError(
          "ACTOR_CRASHED",
          `Cannot start child "${child.spec.id}": ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    if (this.#heartbeat) {
      this.#cancelHeartbeat = this.#heartbeat.clock.setRepeating(
        () => this.#beat(),
        this.#heartbeat.intervalMs,
      );
    }
  }

  /** Stops every child in reverse start order, each within its `shutdownMs`. */
  async stop(): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    this.#state = "stopping";
    this.#cancelHeartbeat?.();
    this.#cancelHeartbeat = null;
    for (const child of [...this.#children].reverse()) await this.#shutdown(child);
    this.#state = "stopped";
  }

  /**
   * Adds a child after start (a bot created at run time) and starts it.
   * @throws {RangeError} on a duplicate id; the start error when it fails to start
   */
  async startChild<H extends ChildHandle>(spec: ChildSpec<H>): Promise<H> {
    if (this.#state !== "running") {
      throw new Error(`Cannot start child "${spec.id}": supervisor is ${this.#state}`);
    }
    const child = this.#add(spec);
    try {
      await this.#launch(child, true);
    } catch (e) {
      this.#children = this.#children.filter((c) => c !== child);
      throw e;
    }
    return child.handle as H;
  }

  /** Stops a child within its `shutdownMs` and forgets it. */
  async stopChild(id: string): Promise<void> {
    const child = this.#children.find((c) => c.spec.id === id);
    if (!child) return;
    await this.#shutdown(child);
    this.#children = this.#children.filter((c) => c !== child);
  }

  /** The running handle of a child (it changes with each restart). */
  handle<H extends ChildHandle = ChildHandle>(id: string): H | undefined {
    const child = this.#children.find((c) => c.spec.id === id);
    return child?.status === "running" ? child.handle as H : undefined;
  }

  /** A snapshot of one child. */
  info(id: string): ChildInfo | undefined {
    const child = this.#children.find((c) => c.spec.id === id);
    return child && this.#info(child);
  }

  /** Snapshots of every child, in start order. */
  children(): ChildInfo[] {
    return this.#children.map((c) => this.#info(c));
  }

  #info(child: Child): ChildInfo {
    const since = this.#clock.now() - this.#withinMs;
    return {
      id: child.spec.id,
      status: child.status,
      incarnation: child.incarnation,
      recentRestarts: child.restarts.filter((t) => t > since).length,
      error: child.error,
    };
  }

  #add(spec: ChildSpec): Child {
    if (this.#children.some((c) => c.spec.id === spec.id)) {
      throw new RangeError(`Cannot add child "${spec.id}": the id is taken`);
    }
    const child: Child = {
      spec,
      status: "stopped",
      handle: null,
      incarnation: 0,
      restarts: [],
      error: null,
      cancelRestart: null,
      launching: null,
      ping: null,
    };
    this.#children.push(child);
    return child;
  }

  /** Starts one incarnation; `initial` failures are thrown, restart failures count as crashes. */
  async #launch(child: Child, initial: boolean): Promise<void> {
    child.status = "starting";
    child.ping = null;
    const incarnation = ++child.incarnation;
    let done!: () => void;
    child.launching = new Promise((resolve) => done = resolve);
    try {
      let handle: ChildHandle;
      try {
        handle = await child.spec.start();
      } catch (e) {
        if (initial) {
          child.status = "error";
          child.error = serializeError(e);
          throw e;
        }
        if (child.status === "starting") {
          this.#exited(child, incarnation, { kind: "crash", error: serializeError(e) });
        }
        return;
      }
      if (child.status !== "starting" || this.#state !== "running") {
        // Stopped while starting: end the new incarnation at once.
        await this.#stopHandle(child, handle);
        return;
      }
      child.handle = handle;
      child.status = "running";
      handle.exited.then((exit) => {
        if (child.incarnation === incarnation && child.status === "running") {
          this.#exited(child, incarnation, exit);
        }
      });
      this.#onEvent({ type: "started", id: child.spec.id, incarnation });
    } finally {
      child.launching = null;
      done();
    }
  }

  #exited(child: Child, incarnation: number, exit: Exit): void {
    child.handle = null;
    child.ping = null;
    if (exit.kind === "crash") child.error = exit.error;
    this.#onEvent({ type: "exited", id: child.spec.id, incarnation, exit });
    const policy = child.spec.restart;
    const restart = policy === "permanent" || (policy === "transient" && exit.kind === "crash");
    if (!restart || this.#state !== "running") {
      child.status = "exited";
      return;
    }
    const now = this.#clock.now();
    child.restarts = child.restarts.filter((t) => t > now - this.#withinMs);
    if (child.restarts.length >= this.#maxRestarts) {
      const cause = exit.kind === "crash" ? exit.error.message : "normal exit";
      child.status = "error";
      child.error = {
        ...runtimeError(
          "ESCALATED",
          `Cannot restart child "${child.spec.id}": ${child.restarts.length} restarts within ${this.#withinMs} ms, last exit: ${cause}`,
        ),
      };
      this.#onEvent({ type: "escalated", id: child.spec.id, error: child.error });
      return;
    }
    child.restarts.push(now);
    const attempt = child.restarts.length;
    const { initialMs, maxMs, factor } = this.#backoff;
    const delayMs = Math.min(maxMs, initialMs * factor ** (attempt - 1));
    child.status = "restarting";
    this.#onEvent({ type: "restart_scheduled", id: child.spec.id, attempt, delayMs });
    child.cancelRestart = this.#clock.setTimer(() => {
      child.cancelRestart = null;
      if (child.status === "restarting" && this.#state === "running") {
        this.#launch(child, false);
      }
    }, delayMs);
  }

  async #shutdown(child: Child): Promise<void> {
    child.cancelRestart?.();
    child.cancelRestart = null;
    if (child.status === "exited" || child.status === "error" || child.status === "stopped") return;
    const handle = child.handle;
    child.status = "stopping";
    if (child.launching) await child.launching;
    if (handle) await this.#stopHandle(child, handle);
    child.handle = null;
    child.status = "stopped";
    this.#onEvent({ type: "stopped", id: child.spec.id });
  }

  async #stopHandle(child: Child, handle: ChildHandle): Promise<void> {
    let cancel = () => {};
    const timedOut = new Promise<"timeout">((resolve) => {
      cancel = this.#clock.setTimer(() => resolve("timeout"), child.spec.shutdownMs);
    });
    const outcome = await Promise.race([
      handle.stop("shutdown").then(() => "stopped" as const, () => "failed" as const),
      timedOut,
    ]);
    cancel();
    if (outcome !== "stopped") {
      handle.kill(
        runtimeError(
          "TIMEOUT",
          `Child "${child.spec.id}" did not stop within ${child.spec.shutdownMs} ms`,
        ),
      );
    }
  }

  #beat(): void {
    const { timeoutMs, clock } = this.#heartbeat!;
    const now = clock.now();
    for (const child of this.#children) {
      const handle = child.handle;
      if (child.status !== "running" || !handle?.ping) continue;
      const ping = child.ping;
      if (ping) {
        if (now - ping.sentAt >= timeoutMs) {
          child.ping = null;
          this.#onEvent({
            type: "heartbeat_timeout",
            id: child.spec.id,
            incarnation: ping.incarnation,
          });
          handle.kill(
            runtimeError(
              "HEARTBEAT_TIMEOUT",
              `Child "${child.spec.id}" did not answer its heartbeat within ${timeoutMs} ms`,
            ),
          );
        }
        continue;
      }
      const sent = { sentAt: now, incarnation: child.incarnation };
      child.ping = sent;
      handle.ping().then(() => {
        if (child.ping === sent) child.ping = null;
      }, () => {});
    }
  }
}
