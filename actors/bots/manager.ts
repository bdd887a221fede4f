/**
 * The bot manager: runs each bot as an actor under a one_for_one {@link Supervisor}, feeds it
 * bars and indicators from shared symbol actors, and carries out what the bot asks: a `signal`
 * becomes a SIGNAL audit row and a bus "bot" event, an `order` goes through
 * {@link ExecutionEngine.submit} (the one order path) with the bot's id, and fills of the bot's
 * orders come back to it as `order_filled`, carrying the bot's own position in the symbol.
 *
 * Placement (`placement`):
 * - `"worker"` (production): each bot actor in its own Worker, so a strategy that throws or
 *   hangs never touches another bot; symbol actors share a {@link WorkerPool} (one host per
 *   core by default). Market data goes from symbol actors to bot actors over MessageChannels.
 * - `"inline"` (tests, backtests): the same behaviours in this thread; delivery is synchronous,
 *   so a run on a test clock is exact and repeatable ({@link settle}).
 *
 * Symbol actors are shared: one per symbol, whatever the number of bots trading it; each bot
 * subscribes the indicators it needs and the symbol actor computes each distinct one once. The
 * venue's 1-minute bars of a symbol go to its actor only.
 *
 * Failures: a bot actor that crashes (its strategy threw) or stops answering heartbeats (its
 * strategy hangs; Worker placement) is restarted by the supervisor after a backoff, with its
 * positions and equity read afresh from the ledger and the account; each crash increments the
 * bot's `error_count` and sets `last_error`. More than `maxRestarts` restarts within
 * `restartWindowMs` escalate: the bot is stopped with status `error`. Other bots are unaffected.
 * A symbol actor that crashes is restarted and every bot on it is wired to it again.
 *
 * Warm-up: when a bot subscribes its indicators (a new bot, a bot restart, a symbol-actor
 * restart), the manager asks the symbol actor what history they lack, fetches it from the
 * venue's `bars` (the closed bars before the first live bar, or before the current partial bar),
 * with, for a longer timeframe, the closed minutes of the interval in progress (so its first
 * live bar is whole), hands it to the symbol actor, and sends the bot the result as `warmup`: the
 * strategy learns from it trading nothing, then runs the live bars it held meanwhile. When the
 * venue fails, the bot warms from live bars; a log line and a bot event `warmup` (with `error`)
 * say so.
 *
 * Market hours: on `market_status_changed` (see actors/market_monitor.ts) every bot is told, and
 * intraday bots place nothing while the market is closed; the event also goes to each bot's
 * stream.
 *
 * @example
 * ```ts
 * const manager = new BotManager({ sql, engine, venue: venue.marketData, bus, clock });
 * await manager.resumeRunning(); // bots left running start again
 * await manager.start(tenant, botId);
 * ```
 *
 * @module
 */
import type { Sql } from "postgres";
import type { MarketData, Unsubscribe } from "../../brokers/broker.ts";
import type { Bar, MarketEvent, Timeframe } from "../../core/market.ts";
import { type Clock, SystemClock } from "../../core/clock.ts";
import { isTradeError } from "../../core/errors.ts";
import { parseOrderRequest } from "../../core/order.ts";
import { appendAudit } from "../../db/audit.ts";
import type { BotRow, BotStatus } from "../../db/bots.ts";
import { type Role, type Tenant, withTenant } from "../../db/database.ts";
import { listBooks } from "../../db/ledger.ts";
import { logger } from "../../logging.ts";
import { type IndicatorSpec, parseIndicatorSpec } from "../../strategies/indicator_spec.ts";
import { StrategyRegistry } from "../../strategies/registry.ts";
import type { BusMessage, MessageBus } from "../bus.ts";
import type { ExecutionEngine } from "../execution_engine.ts";
import type { ActorHandle } from "../runtime/actor.ts";
import type { AnyBehaviour } from "../runtime/behaviour.ts";
import { type Link, link, spawnActor } from "../runtime/placement.ts";
import { WorkerPool } from "../runtime/pool.ts";
import type { BehaviourRef, SerializedError } from "../runtime/protocol.ts";
import { Supervisor, type SupervisorEvent } from "../runtime/supervisor.ts";
import { type BotConfig, parseBotConfig } from "./bot_config.ts";
import {
  type BotEffect,
  botIndicatorSpecs,
  type BotMsg,
  createBotBehaviour,
} from "./bot_behaviour.ts";
import {
  barTopic,
  bucketStart,
  symbolBehaviour,
  type SymbolMsg,
  type WarmupNeed,
  type WarmupResult,
} from "./symbol_behaviour.ts";
import { timeframeMs } from "./bot_config_data.ts";

export type { BotRow, BotStatus } from "../../db/bots.ts";

/** Thrown by the manager; `code` and `status` map it to an HTTP answer. */
export class BotError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: "BOT_NOT_FOUND" | "BOT_CONFLICT", status: 404 | 409, message: string) {
    super(message);
    this.name = "BotError";
    this.code = code;
    this.status = status;
  }
}

/** The bot behaviour Workers load by default: the built-in strategies. */
export const BOT_BEHAVIOUR_REF: BehaviourRef = {
  url: new URL("./bot_behaviour.ts", import.meta.url).href,
  export: "botBehaviour",
};

const SYMBOL_BEHAVIOUR_REF: BehaviourRef = {
  url: new URL("./symbol_behaviour.ts", import.meta.url).href,
  export: "symbolBehaviour",
};

/** What a {@link BotManager} needs. */
export interface BotManagerOptions {
  sql: Sql;
  engine: ExecutionEngine;
  /** Market data: live 1-minute bars, and the history that warms new indicators. */
  venue: Pick<MarketData, "subscribe" | "bars">;
  bus: MessageBus;
  /** The engine's clock: restart backoff and event times. */
  clock: Clock;
  /** Strategies bots may run (default: the built-ins). */
  registry?: StrategyRegistry;
  /** Where actors run (default `"worker"`). */
  placement?: "inline" | "worker";
  /**
   * The bot behaviour a Worker loads; it must know the strategies of `registry` and takes the
   * config already parsed (`createBotBehaviour(lookup)`). Default: {@link BOT_BEHAVIOUR_REF}
   * (the built-ins' logic, no zod); required for Worker placement with a custom registry.
   */
  botBehaviour?: BehaviourRef;
  /**
   * The symbol actor's behaviour (default: symbol_behaviour.ts); a module reference for Worker
   * placement. For tests that need a symbol actor to fail.
   */
  symbolBehaviour?: BehaviourRef | AnyBehaviour;
  /** Worker hosts for symbol actors (default: one per core). */
  poolSize?: number;
  /** Restarts of a bot within {@link restartWindowMs} before it goes to `error` (default 3). */
  maxRestarts?: number;
  /** Default 600 000 (ten minutes: a strategy that throws on every 1-minute bar escalates). */
  restartWindowMs?: number;
  /** Delay before restart n: `min(maxMs, initialMs · 2^(n-1))` (default 1 000 / 30 000). */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * Heartbeats of Worker-placed actors, on the system clock (a hang is a matter of real time):
   * a Worker that does not answer within `timeoutMs` is terminated and restarted. Default
   * 1 000 / 5 000 ms; null turns them off. Inline actors cannot be pinged.
   */
  heartbeat?: { intervalMs: number; timeoutMs: number } | null;
  /**
   * Whether the market is open at start (default true: with no {@link MarketMonitor} on the bus
   * nothing would ever reopen it). Give the monitor's `isOpen`.
   */
  marketOpen?: boolean;
}

/** One bot's subscription to one symbol actor. */
interface Wire {
  timeframe: Timeframe;
  specs: IndicatorSpec[];
  keys: string[];
  link: Link | null;
  /** The symbol actor it was made with. */
  symbolActor: ActorHandle<SymbolMsg>;
}

interface Run {
  tenant: Tenant;
  botId: string;
  childId: string;
  userId: string;
  /** Parsed on the main thread; the bot actor trusts it (no zod in bot Workers). */
  config: BotConfig;
  symbols: string[];
  paused: boolean;
  /** Distinguishes this run's client order ids from earlier runs'. */
  tag: string;
  /** The live bot actor, or null while it (re)starts. */
  bot: ActorHandle<BotMsg> | null;
  /** Counts incarnations, so effects of a dead one are ignored. */
  incarnation: number;
  /** Effects received and not yet carried out, in order. */
  effects: BotEffect[];
  wires: Map<string, Wire>;
  /** Work on this bot's behalf (effects, fills), one at a time, in order. */
  chain: Promise<void>;
  /** An incarnation being started. */
  starting: Promise<unknown> | null;
  ended: boolean;
}

interface SymbolEntry {
  symbol: string;
  childId: string;
  /** Bots using it. */
  bots: Set<string>;
  unsubscribe: Unsubscribe;
}

const log = logger("bots");
const BOT_PREFIX = "bot:";
const SYMBOL_PREFIX = "sym:";

/** Runs bots. See the module documentation. */
export class BotManager {
  readonly #opts: BotManagerOptions & {
    registry: StrategyRegistry;
    placement: "inline" | "worker";
    maxRestarts: number;
    restartWindowMs: number;
  };
  readonly #inlineBot: AnyBehaviour;
  readonly #botRef: BehaviourRef | null;
  readonly #runs = new Map<string, Run>();
  readonly #symbols = new Map<string, SymbolEntry>();
  readonly #botSupervisor: Supervisor;
  readonly #symbolSupervisor: Supervisor;
  #supervisorsStarted: Promise<void> | null = null;
  #pool: WorkerPool | null = null;
  #marketOpen: boolean;
  /** Engine order id → the bot and the bot's own client order id. */
  readonly #orders = new Map<string, { botId: string; clientOrderId: string }>();
  /** Order ids known not to be any running bot's (bounded). */
  readonly #notBots = new Set<string>();
  readonly #unsubscribeBus: (() => void)[];
  /** Runs being ended outside any chain (escalation), awaited by settle. */
  readonly #background = new Set<Promise<void>>();
  #closed = false;

  /** @throws {TypeError} for Worker placement with a custom registry and no `botBehaviour` */
  constructor(options: BotManagerOptions) {
    const registry = options.registry ?? new StrategyRegistry();
    this.#opts = {
      placement: "worker",
      maxRestarts: 3,
      restartWindowMs: 600_000,
      ...options,
      registry,
    };
    this.#inlineBot = createBotBehaviour(registry);
    // A Worker loads its behaviour by module: the default one knows the built-ins only.
    this.#botRef = options.botBehaviour ?? (options.registry ? null : BOT_BEHAVIOUR_REF);
    if (this.#opts.placement === "worker" && !this.#botRef) {
      throw new TypeError(
        "Cannot place bots in Workers with a custom strategy registry: pass botBehaviour, a " +
          "module exporting createBotBehaviour(registry)",
      );
    }
    this.#marketOpen = options.marketOpen ?? true;
    const heartbeat = this.#opts.placement === "worker" && options.heartbeat !== null
      ? {
        ...(options.heartbeat ?? { intervalMs: 1_000, timeoutMs: 5_000 }),
        clock: new SystemClock(),
      }
      : undefined;
    const backoff = { initialMs: 1_000, maxMs: 30_000, ...options.backoff, factor: 2 };
    this.#botSupervisor = new Supervisor([], {
      clock: options.clock,
      maxRestarts: this.#opts.maxRestarts,
      withinMs: this.#opts.restartWindowMs,
      backoff,
      ...(heartbeat ? { heartbeat } : {}),
      onEvent: (e) => this.#onBotEvent(e),
    });
    this.#symbolSupervisor = new Supervisor([], {
      clock: options.clock,
      maxRestarts: 10,
      withinMs: this.#opts.restartWindowMs,
      backoff: { initialMs: 100, maxMs: 5_000, factor: 2 },
      ...(heartbeat ? { heartbeat } : {}),
      onEvent: (e) => this.#onSymbolEvent(e),
    });
    this.#unsubscribeBus = [
      options.bus.subscribe("order", (m) => this.#onOrderEvent(m)),
      options.bus.subscribe("market", (m) => this.#onMarketEvent(m)),
    ];
  }

  /** The strategies bots may run. */
  get registry(): StrategyRegistry {
    return this.#opts.registry;
  }

  /** Whether the bot has actors in this process. */
  isRunning(botId: string): boolean {
    return this.#runs.has(botId);
  }

  /** Supervision snapshots of the bot and symbol actors (status and tests). */
  actors(): {
    bots: ReturnType<Supervisor["children"]>;
    symbols: ReturnType<Supervisor["children"]>;
  } {
    return { bots: this.#botSupervisor.children(), symbols: this.#symbolSupervisor.children() };
  }

  /**
   * Starts a stopped, paused or errored bot (a running one is left as is) and records status
   * `running`. Throws {@link BotError} `BOT_NOT_FOUND` (404), `TradeError` `INVALID_REQUEST`
   * when the stored config no longer parses.
   */
  async start(tenant: Tenant, botId: string): Promise<BotRow> {
    const row = await this.#load(tenant, botId);
    const run = this.#runs.get(botId);
    if (run) {
      if (run.paused) return await this.resume(tenant, botId);
      return row;
    }
    // A new run counts its own crashes, from the first (a strategy may throw at warm-up).
    if (row.error_count !== 0) {
      await withTenant(
        this.#opts.sql,
        tenant,
        (tx) => tx`update bots set error_count = 0 where id = ${botId}`,
      );
    }
    await this.#spawnRun(tenant, row, false);
    return await this.#setStatus(tenant, botId, "running", { lastRun: true });
  }

  /** Stops the bot's actors and records status `stopped`. Throws `BOT_NOT_FOUND`. */
  async stop(tenant: Tenant, botId: string): Promise<BotRow> {
    await this.#load(tenant, botId);
    await this.#endRun(botId);
    return await this.#setStatus(tenant, botId, "stopped");
  }

  /** The bot keeps computing and records signals but places nothing. Throws `BOT_NOT_FOUND`. */
  async pause(tenant: Tenant, botId: string): Promise<BotRow> {
    const row = await this.#load(tenant, botId);
    const run = this.#runs.get(botId);
    if (!run) {
      throw new BotError("BOT_CONFLICT", 409, `Cannot pause bot "${row.name}": it is not running`);
    }
    await this.#enqueue(run, () => {
      run.paused = true;
      run.bot?.send({ type: "pause" });
    });
    return await this.#setStatus(tenant, botId, "paused");
  }

  /** Undoes {@link pause}. Throws `BOT_NOT_FOUND`, `BOT_CONFLICT` when it is not running. */
  async resume(tenant: Tenant, botId: string): Promise<BotRow> {
    const row = await this.#load(tenant, botId);
    const run = this.#runs.get(botId);
    if (!run) {
      throw new BotError("BOT_CONFLICT", 409, `Cannot resume bot "${row.name}": it is not running`);
    }
    await this.#enqueue(run, () => {
      run.paused = false;
      run.bot?.send({ type: "resume" });
    });
    return await this.#setStatus(tenant, botId, "running", { lastRun: true });
  }

  /**
   * Starts every bot of every user whose status is `running` or `paused` (after a restart),
   * with the positions its fills left it. A bot that fails to start is put in status `error`.
   * Answers how many started.
   */
  async resumeRunning(): Promise<number> {
    const users = await this.#opts.sql<{ id: string; role: Role }[]>`
      select id, role from tradewind_all_users()`;
    let started = 0;
    for (const user of users) {
      const tenant: Tenant = { userId: user.id, role: user.role };
      const rows = await withTenant(
        this.#opts.sql,
        tenant,
        (tx) =>
          tx<
            BotRow[]
          >`select * from bots where status in ('running', 'paused') and deleted_at is null
            order by created_at`,
      );
      for (const row of rows) {
        if (this.#runs.has(row.id)) continue;
        try {
          await this.#spawnRun(tenant, row, row.status === "paused");
          await this.#setStatus(tenant, row.id, row.status, { lastRun: true });
          started++;
        } catch (e) {
          await this.#recordError(tenant, row.id, e, true);
        }
      }
    }
    return started;
  }

  /**
   * Resolves when every bar and effect handed to running bots so far has been carried out
   * (exact with inline placement; with Workers, only work already back in this thread).
   */
  async settle(): Promise<void> {
    while (true) {
      const pending = () => [
        ...[...this.#runs.values()].flatMap((r) => r.starting ? [r.chain, r.starting] : [r.chain]),
        ...this.#background,
      ];
      const before = pending();
      await Promise.all(before);
      await this.#opts.engine.settle();
      const after = pending();
      if (after.length === before.length && after.every((c, i) => c === before[i])) return;
    }
  }

  /** The bot actor's status reply (plain data), or null when it is not running here. */
  async botStatus(botId: string, options: { timeoutMs?: number } = {}): Promise<unknown> {
    const bot = this.#runs.get(botId)?.bot;
    return bot && !bot.exit ? await bot.request({ type: "status" }, options) : null;
  }

  /** Stops every bot's actors without changing their stored status (shutdown). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const u of this.#unsubscribeBus) u();
    for (const botId of [...this.#runs.keys()]) await this.#endRun(botId);
    await Promise.all(this.#background);
    await this.#botSupervisor.stop();
    await this.#symbolSupervisor.stop();
    this.#pool?.close();
    this.#pool = null;
  }

  // Runs ----------------------------------------------------------------------------------

  async #load(tenant: Tenant, botId: string): Promise<BotRow> {
    const [row] = await withTenant(
      this.#opts.sql,
      tenant,
      (tx) => tx<BotRow[]>`select * from bots where id = ${botId} and deleted_at is null`,
    );
    if (!row) throw new BotError("BOT_NOT_FOUND", 404, `Cannot find bot "${botId}"`);
    return row;
  }

  async #setStatus(
    tenant: Tenant,
    botId: string,
    status: BotStatus,
    options: { lastRun?: boolean; resetErrors?: boolean; reason?: string } = {},
  ): Promise<BotRow> {
    const row = await this.#record(tenant, botId, { status, ...options });
    if (!row) throw new BotError("BOT_NOT_FOUND", 404, `Cannot find bot "${botId}"`);
    return row;
  }

  /**
   * Changes the bot's row and appends its audit row in one transaction (`BOT_STATUS` for a
   * status change, `BOT_CRASHED` for a crash, which counts in `error_count`), then tells the
   * bots stream (`status` or `crashed`). Answers the row, or null when there is none.
   */
  async #record(tenant: Tenant, botId: string, change: {
    status?: BotStatus;
    lastRun?: boolean;
    resetErrors?: boolean;
    /** A crash: error_count + 1 and last_error. */
    crash?: string;
    /** Why the status changed (audit reason). */
    reason?: string;
  }): Promise<BotRow | null> {
    const now = new Date(this.#opts.clock.now());
    const crash = change.crash?.slice(0, 2000) ?? null;
    const row = await withTenant(this.#opts.sql, tenant, async (tx) => {
      const [row] = await tx<BotRow[]>`
        update bots set status = coalesce(${change.status ?? null}, status), updated_at = now(),
          last_run_at = ${change.lastRun ? tx`${now}` : tx`last_run_at`},
          error_count = ${
        change.resetErrors ? tx`0` : crash !== null ? tx`error_count + 1` : tx`error_count`
      },
          last_error = coalesce(${crash}, last_error)
        where id = ${botId} returning *`;
      if (!row) return null;
      await appendAudit(tx, {
        userId: row.user_id,
        action: crash !== null ? "BOT_CRASHED" : "BOT_STATUS",
        status: row.status,
        botId,
        reason: crash ?? change.reason ?? null,
        payload: { status: row.status, error_count: row.error_count },
      });
      return row;
    });
    if (!row) return null;
    this.#opts.bus.publish({
      topic: "bot",
      userId: row.user_id,
      botId,
      event: crash !== null ? "crashed" : "status",
      data: {
        status: row.status,
        error_count: row.error_count,
        last_error: row.last_error,
        ...(change.reason ? { reason: change.reason } : {}),
      },
      tsMs: this.#opts.clock.now(),
    });
    return row;
  }

  #startSupervisors(): Promise<void> {
    this.#supervisorsStarted ??= Promise.all([
      this.#botSupervisor.start(),
      this.#symbolSupervisor.start(),
    ]).then(() => {});
    return this.#supervisorsStarted;
  }

  async #spawnRun(tenant: Tenant, row: BotRow, paused: boolean): Promise<void> {
    if (this.#closed) throw new Error("Cannot start a bot: the bot manager is closed");
    const config = parseBotConfig(row.config, this.#opts.registry);
    // What createInstance checked in the actor before bots trusted parsed configs.
    for (const spec of botIndicatorSpecs(config, this.#opts.registry)) parseIndicatorSpec(spec);
    await this.#startSupervisors();
    const run: Run = {
      tenant,
      botId: row.id,
      childId: BOT_PREFIX + row.id,
      userId: row.user_id,
      config,
      symbols: config.symbols,
      paused,
      tag: crypto.randomUUID().slice(0, 8),
      bot: null,
      incarnation: 0,
      effects: [],
      wires: new Map(),
      chain: Promise.resolve(),
      starting: null,
      ended: false,
    };
    this.#runs.set(row.id, run);
    try {
      for (const symbol of run.symbols) await this.#acquireSymbol(symbol, run.botId);
      await this.#botSupervisor.startChild({
        id: run.childId,
        restart: "transient",
        shutdownMs: 5_000,
        start: () => this.#startBot(run),
      });
      await this.#settleRun(run);
    } catch (e) {
      await this.#endRun(row.id);
      throw e;
    }
  }

  /** Waits for the run's current chain and start. */
  async #settleRun(run: Run): Promise<void> {
    while (true) {
      const chain = run.chain;
      const starting = run.starting;
      await Promise.all([chain, starting]);
      if (run.chain === chain && run.starting === starting) return;
    }
  }

  /** One incarnation of the bot actor: fresh equity and positions, then spawn and wire. */
  #startBot(run: Run): Promise<ActorHandle<BotMsg>> {
    const started = (async () => {
      const incarnation = ++run.incarnation;
      run.bot = null;
      run.effects = [];
      const [equity, positions] = await Promise.all([
        this.#equity(run.userId),
        this.#botPositions(run),
      ]);
      const placement = this.#opts.placement;
      const bot = await spawnActor<BotMsg, BotEffect>(
        {
          id: run.childId,
          behaviour: placement === "inline" ? this.#inlineBot : this.#botRef!,
          args: {
            config: run.config,
            paused: run.paused,
            marketOpen: this.#marketOpen,
            positions,
            warmup: true,
            ...(equity ? { equity } : {}),
          },
        },
        placement,
        {
          onEffects: (effects) => {
            if (run.incarnation !== incarnation || run.ended) return;
            run.effects.push(...effects);
            this.#enqueue(run, () => this.#drainEffects(run, incarnation));
          },
        },
      );
      if (run.incarnation !== incarnation || run.ended) {
        await bot.stop("superseded");
        throw new Error(`Bot ${run.botId} was stopped while starting`);
      }
      run.bot = bot;
      // The start effects (subscriptions) came before the spawn reply: wire them now.
      await this.#enqueue(run, () => this.#drainEffects(run, incarnation));
      return bot;
    })();
    run.starting = started;
    started.then(() => {
      if (run.starting === started) run.starting = null;
    }, () => {
      if (run.starting === started) run.starting = null;
    });
    return started;
  }

  async #endRun(botId: string): Promise<void> {
    const run = this.#runs.get(botId);
    if (!run) return;
    this.#runs.delete(botId);
    run.ended = true;
    await this.#botSupervisor.stopChild(run.childId);
    await run.chain;
    await this.#unwire(run);
    run.bot = null;
    for (const symbol of run.symbols) await this.#releaseSymbol(symbol, botId);
  }

  /** Appends work to the bot's chain; a failure is logged and never breaks the chain. */
  #enqueue(run: Run, work: () => void | Promise<void>): Promise<void> {
    const next = run.chain.then(async () => {
      if (run.ended) return;
      try {
        await work();
      } catch (e) {
        log.error("Bot {botId} failed: {error}", { botId: run.botId, error: String(e) });
      }
    });
    run.chain = next;
    return next;
  }

  async #drainEffects(run: Run, incarnation: number): Promise<void> {
    while (run.effects.length > 0 && run.incarnation === incarnation && run.bot) {
      const effect = run.effects.shift()!;
      await this.#carryOut(run, effect);
    }
  }

  // Symbol actors ---------------------------------------------------------------------------

  async #acquireSymbol(symbol: string, botId: string): Promise<void> {
    const existing = this.#symbols.get(symbol);
    if (existing) {
      existing.bots.add(botId);
      return;
    }
    const entry: SymbolEntry = {
      symbol,
      childId: SYMBOL_PREFIX + symbol,
      bots: new Set([botId]),
      unsubscribe: () => {},
    };
    this.#symbols.set(symbol, entry);
    try {
      await this.#symbolSupervisor.startChild({
        id: entry.childId,
        restart: "permanent",
        shutdownMs: 5_000,
        start: () =>
          spawnActor<SymbolMsg>(
            {
              id: entry.childId,
              behaviour: this.#opts.symbolBehaviour ??
                (this.#opts.placement === "inline" ? symbolBehaviour : SYMBOL_BEHAVIOUR_REF),
              args: { symbol },
            },
            this.#opts.placement === "inline" ? "inline" : this.#symbolPool(),
          ),
      });
    } catch (e) {
      this.#symbols.delete(symbol);
      throw e;
    }
    entry.unsubscribe = this.#opts.venue.subscribe(
      { bars: [symbol] },
      (events) => this.#onMarket(entry, events),
    );
  }

  async #releaseSymbol(symbol: string, botId: string): Promise<void> {
    const entry = this.#symbols.get(symbol);
    if (!entry) return;
    entry.bots.delete(botId);
    if (entry.bots.size > 0) return;
    this.#symbols.delete(symbol);
    entry.unsubscribe();
    await this.#symbolSupervisor.stopChild(entry.childId);
  }

  #symbolPool(): WorkerPool {
    this.#pool ??= new WorkerPool({
      name: "symbols",
      ...(this.#opts.poolSize ? { size: this.#opts.poolSize } : {}),
    });
    return this.#pool;
  }

  #symbolActor(symbol: string): ActorHandle<SymbolMsg> | undefined {
    return this.#symbolSupervisor.handle<ActorHandle<SymbolMsg>>(SYMBOL_PREFIX + symbol);
  }

  #onMarket(entry: SymbolEntry, events: MarketEvent[]): void {
    const bars: Bar[] = [];
    for (const e of events) if (e.type === "bar") bars.push(e.bar);
    if (bars.length === 0) return;
    this.#symbolActor(entry.symbol)?.sendBatch("bars", { kind: "rows", rows: bars });
  }

  /** Subscribes the bot's indicators at the symbol actor and links its bars to the bot. */
  async #wire(run: Run, symbol: string, timeframe: Timeframe, specs: IndicatorSpec[]) {
    const actor = this.#symbolActor(symbol);
    const bot = run.bot;
    if (!actor || !bot) return;
    const old = run.wires.get(symbol);
    if (old) await this.#dropWire(old);
    run.wires.delete(symbol);
    const reply = await actor.request<{ keys: string[] }>({ type: "subscribe", timeframe, specs });
    const wire: Wire = { timeframe, specs, keys: reply.keys, link: null, symbolActor: actor };
    run.wires.set(symbol, wire);
    wire.link = await link(actor, bot, { topic: barTopic(timeframe) });
    await this.#warmup(run, symbol, wire);
  }

  /**
   * Warms the wire's indicators from the venue's history and gives the bot the past to learn
   * from: the symbol actor says how many closed bars it lacks and before when (its first live
   * bar, else the current partial bar), the manager fetches them (I/O stays here), the actor
   * takes those it has not seen live and answers every bar it holds with the bot's indicator
   * values, which go to the bot as `warmup` (the bot trades none of them). When the venue
   * cannot serve history the bot is told so, warms from live bars, and it is logged.
   */
  async #warmup(run: Run, symbol: string, wire: Wire): Promise<void> {
    const { timeframe, keys, symbolActor: actor } = wire;
    let fetched = 0;
    let error: string | null = null;
    let result: WarmupResult = { accepted: 0, warm: false, updates: [] };
    try {
      const strategy = this.#opts.registry.get(run.config.strategy);
      const minBars = strategy.warmupBars?.(run.config.params) ?? 0;
      const need = await actor.request<WarmupNeed>({
        type: "warmup_need",
        timeframe,
        keys,
        ...(minBars > 0 ? { minBars } : {}),
      });
      let bars: Bar[] = [];
      let minutes: Bar[] = [];
      try {
        if (need.bars > 0) {
          bars = await this.#history(symbol, timeframe, need);
          fetched = bars.length;
        }
        if (timeframe !== "1Min") minutes = await this.#intervalMinutes(symbol, timeframe);
      } catch (e) {
        error = String((e as { message?: unknown })?.message ?? e);
        log.warning(
          "Cannot warm bot {botId} on {symbol} {timeframe} from the venue's history, it warms " +
            "from live bars: {error}",
          { botId: run.botId, symbol, timeframe, error },
        );
      }
      result = await actor.request<WarmupResult>({
        type: "warmup",
        timeframe,
        keys,
        bars,
        ...(minutes.length > 0 ? { minutes } : {}),
      });
    } catch (e) {
      error ??= String((e as { message?: unknown })?.message ?? e);
      log.warning("Cannot warm bot {botId} on {symbol}: {error}", {
        botId: run.botId,
        symbol,
        error,
      });
    } finally {
      // Always sent: the bot holds its live bars until it hears.
      run.bot?.send({
        type: "warmup",
        symbol,
        updates: result.updates,
        ...(error !== null ? { error } : {}),
      });
    }
    this.#event(run, "warmup", {
      symbol,
      timeframe,
      fetched,
      accepted: result.accepted,
      warm: result.warm,
      ...(error !== null ? { error } : {}),
    });
  }

  /**
   * The venue's closed 1-minute bars of the `timeframe` interval in progress, oldest first: what
   * completes its bar when live data starts within it.
   */
  async #intervalMinutes(symbol: string, timeframe: Timeframe): Promise<Bar[]> {
    const now = this.#opts.clock.now();
    const from = bucketStart(timeframe, now);
    const to = bucketStart("1Min", now);
    if (to <= from) return [];
    const page = await this.#opts.venue.bars(symbol, {
      timeframe: "1Min",
      start: from,
      end: to - 1,
      limit: 10_000,
      sort: "asc",
    });
    return page.bars.filter((b) => {
      const ms = Date.parse(b.t);
      return ms >= from && ms < to;
    });
  }

  /**
   * The venue's last `need.bars` closed bars of `timeframe` before `need.beforeMs` and before
   * the current, partial bar, oldest first.
   */
  async #history(symbol: string, timeframe: Timeframe, need: WarmupNeed): Promise<Bar[]> {
    const now = this.#opts.clock.now();
    const before = Math.min(need.beforeMs ?? Infinity, bucketStart(timeframe, now));
    // Far enough back for nights, weekends and holidays when the venue keeps exchange hours.
    const span = Math.max(need.bars * timeframeMs(timeframe) * 3, 10 * 86_400_000);
    const out: Bar[] = [];
    let pageToken: string | undefined;
    while (out.length < need.bars) {
      const page = await this.#opts.venue.bars(symbol, {
        timeframe,
        start: before - span,
        end: before - 1,
        limit: Math.min(10_000, need.bars - out.length),
        sort: "desc",
        ...(pageToken ? { pageToken } : {}),
      });
      for (const bar of page.bars) if (Date.parse(bar.t) < before) out.push(bar);
      if (!page.next_page_token || page.bars.length === 0) break;
      pageToken = page.next_page_token;
    }
    return out.reverse();
  }

  async #dropWire(wire: Wire): Promise<void> {
    await wire.link?.close();
    if (!wire.symbolActor.exit) {
      try {
        await wire.symbolActor.request({
          type: "unsubscribe",
          timeframe: wire.timeframe,
          keys: wire.keys,
        });
      } catch {
        // The symbol actor is gone; its indicators with it.
      }
    }
  }

  async #unwire(run: Run): Promise<void> {
    const wires = [...run.wires.values()];
    run.wires.clear();
    for (const wire of wires) await this.#dropWire(wire);
  }

  // Effects ---------------------------------------------------------------------------------

  async #carryOut(run: Run, effect: BotEffect): Promise<void> {
    switch (effect.type) {
      case "subscribe":
        await this.#wire(run, effect.symbol, effect.timeframe, effect.specs);
        return;
      case "signal": {
        const payload: Record<string, unknown> = {
          symbol: effect.symbol,
          intent: effect.intent,
          snapshot: effect.snapshot,
        };
        if (effect.suppressed !== undefined) payload.suppressed = effect.suppressed;
        await withTenant(this.#opts.sql, run.tenant, (tx) =>
          appendAudit(tx, {
            userId: run.userId,
            action: "SIGNAL",
            status: effect.suppressed === undefined ? "emitted" : "suppressed",
            botId: run.botId,
            reason: effect.suppressed ?? null,
            payload: JSON.parse(JSON.stringify(payload)),
          }));
        this.#event(run, "signal", payload);
        return;
      }
      case "order": {
        const botCid = String(effect.request.client_order_id ?? "");
        const body = { ...effect.request, client_order_id: `${botCid}.${run.tag}` };
        try {
          const result = await this.#opts.engine.submit({
            tenant: run.tenant,
            request: parseOrderRequest(body),
            botId: run.botId,
            correlationId: crypto.randomUUID(),
          });
          this.#orders.set(result.order.id, { botId: run.botId, clientOrderId: botCid });
          for (const leg of result.order.legs ?? []) {
            this.#orders.set(leg.id, { botId: run.botId, clientOrderId: botCid });
          }
          if (result.warnings.length > 0) {
            // What validate would have said: the bot's owner sees it in the log and the stream.
            log.warning(
              "Bot {botId} placed order {orderId} with warnings: {codes}",
              {
                botId: run.botId,
                orderId: result.order.id,
                clientOrderId: result.order.client_order_id,
                symbol: effect.symbol,
                codes: result.warnings.map((w) => w.code).join(", "),
                warnings: result.warnings,
              },
            );
          }
          this.#event(run, "order", {
            symbol: effect.symbol,
            order_id: result.order.id,
            reason: effect.reason,
            warnings: result.warnings,
          });
        } catch (e) {
          if (!isTradeError(e)) throw e;
          this.#event(run, "order_denied", {
            symbol: effect.symbol,
            code: e.code,
            message: e.message,
          });
          run.bot?.send({
            type: "order_closed",
            symbol: effect.symbol,
            clientOrderId: botCid,
            status: "denied",
          });
        }
        return;
      }
    }
  }

  #event(run: Run, event: string, data: Record<string, unknown>): void {
    this.#opts.bus.publish({
      topic: "bot",
      userId: run.userId,
      botId: run.botId,
      event,
      data,
      tsMs: this.#opts.clock.now(),
    });
  }

  // Fills -----------------------------------------------------------------------------------

  #onOrderEvent(m: Extract<BusMessage, { topic: "order" }>): void {
    const orderId = String(m.order.id);
    const known = this.#orders.get(orderId);
    const status = String(m.order.status);
    const fill = m.fill;
    const closed = ["canceled", "rejected", "expired"].includes(status);
    if (!fill && !closed) return;
    if (known) {
      this.#orderEventFor(known, m);
    } else if (!this.#notBots.has(orderId) && this.#userHasRuns(m.userId)) {
      // An order placed before this process started (or by an earlier run): ask the ledger.
      // Tracked, so that settle() waits for the bot to hear of the fill.
      const lookup = this.#lookupOrder(m).catch((e) =>
        log.error("Cannot look up the bot of order {orderId}: {error}", {
          orderId,
          error: String(e),
        })
      );
      this.#background.add(lookup);
      lookup.finally(() => this.#background.delete(lookup));
    }
    if (status === "filled" || closed) this.#orders.delete(orderId);
  }

  #userHasRuns(userId: string): boolean {
    for (const run of this.#runs.values()) if (run.userId === userId) return true;
    return false;
  }

  async #lookupOrder(m: Extract<BusMessage, { topic: "order" }>): Promise<void> {
    const orderId = String(m.order.id);
    const run = [...this.#runs.values()].find((r) => r.userId === m.userId);
    if (!run) return;
    const [row] = await withTenant(
      this.#opts.sql,
      run.tenant,
      (tx) =>
        tx<{ bot_id: string | null; client_order_id: string; flattens: boolean }[]>`
          select coalesce(o.bot_id, p.bot_id) as bot_id,
                 coalesce(p.client_order_id, o.client_order_id) as client_order_id,
                 o.book_plan is not null as flattens
          from orders o left join orders p on p.id = o.parent_id
          where o.id = ${orderId}`,
    );
    if (row?.flattens && m.fill) {
      // The trader closed the whole position: the fill moved the books of bots too.
      this.#bookMoved(m.userId, String(m.order.symbol));
      return;
    }
    if (!row?.bot_id || !this.#runs.has(row.bot_id)) {
      if (this.#notBots.size > 10_000) this.#notBots.clear();
      this.#notBots.add(orderId);
      return;
    }
    // The engine's client order id is `<bot's id>.<run tag>`.
    const cid = row.client_order_id;
    const dot = cid.lastIndexOf(".");
    this.#orderEventFor({ botId: row.bot_id, clientOrderId: dot > 0 ? cid.slice(0, dot) : cid }, m);
  }

  /** Tells each running bot of the user trading `symbol` its book there, read afresh. */
  #bookMoved(userId: string, symbol: string): void {
    for (const run of this.#runs.values()) {
      if (run.userId !== userId) continue;
      this.#enqueue(run, async () => {
        const [row] = await withTenant(
          this.#opts.sql,
          run.tenant,
          (tx) => listBooks(tx, { symbol, botId: run.botId, all: true }),
        );
        if (row) run.bot?.send({ type: "book", symbol, positionQty: row.qty });
      });
    }
  }

  #orderEventFor(
    mine: { botId: string; clientOrderId: string },
    m: Extract<BusMessage, { topic: "order" }>,
  ): void {
    const run = this.#runs.get(mine.botId);
    if (!run) return;
    const order = m.order;
    const fill = m.fill;
    if (fill) {
      this.#enqueue(run, async () => {
        const mineNow = await this.#fillFacts(run, String(order.symbol), fill.execution_id);
        run.bot?.send({
          type: "order_filled",
          symbol: String(order.symbol),
          side: order.side as "buy" | "sell",
          qty: fill.qty,
          price: fill.price,
          positionQty: mineNow.positionQty,
          ...(mineNow.realizedPnl !== null ? { realizedPnl: mineNow.realizedPnl } : {}),
          ts: this.#opts.clock.now(),
          clientOrderId: mine.clientOrderId,
          partial: order.status === "partially_filled",
        });
        // The fill moved the account: give the bot its new equity for sizing.
        const equity = await this.#equity(run.userId);
        if (equity) run.bot?.send({ type: "account", equity });
      });
    } else {
      this.#enqueue(run, () =>
        run.bot?.send({
          type: "order_closed",
          symbol: String(order.symbol),
          clientOrderId: mine.clientOrderId,
          status: String(order.status),
        }));
    }
  }

  /**
   * The bot's own position in `symbol` after a fill (its book: its own fills alone, whatever the
   * trader or another bot holds in the symbol) and the realized P&L the fill booked in it, from
   * the ledger.
   */
  async #fillFacts(
    run: Run,
    symbol: string,
    executionId: string,
  ): Promise<{ positionQty: string; realizedPnl: string | null }> {
    const [row] = await withTenant(
      this.#opts.sql,
      run.tenant,
      (tx) =>
        tx<{ qty: string | null; pnl: string | null }[]>`
        select
          (select qty::text from books where bot_id = ${run.botId} and symbol = ${symbol}) as qty,
          (select sum(t.realized_pl)::text from trades t join fills f on f.id = t.fill_id
             where f.execution_id = ${executionId} and t.bot_id = ${run.botId}) as pnl`,
    );
    return { positionQty: row?.qty ?? "0", realizedPnl: row?.pnl ?? null };
  }

  /** The bot's signed positions by symbol: its open books in the ledger. */
  async #botPositions(run: Run): Promise<Record<string, string>> {
    const rows = await withTenant(
      this.#opts.sql,
      run.tenant,
      (tx) => listBooks(tx, { botId: run.botId }),
    );
    const out: Record<string, string> = {};
    for (const row of rows) out[row.symbol] = row.qty;
    return out;
  }

  /** The user's account equity as decimal text, or null when the venue cannot say. */
  async #equity(userId: string): Promise<string | null> {
    try {
      return (await this.#opts.engine.account(userId)).equity.toString();
    } catch (e) {
      log.warning("Cannot read the account of user {user}: {error}", {
        user: userId,
        error: String(e),
      });
      return null;
    }
  }

  // Supervision -----------------------------------------------------------------------------

  #onMarketEvent(m: Extract<BusMessage, { topic: "market" }>): void {
    if (m.event !== "market_status_changed") return;
    const open = m.data.is_open === true;
    this.#marketOpen = open;
    for (const run of this.#runs.values()) {
      this.#enqueue(run, () => {
        run.bot?.send({ type: "market", open });
        this.#event(run, "market_status_changed", m.data);
      });
    }
  }

  #onBotEvent(e: SupervisorEvent): void {
    if (!e.id.startsWith(BOT_PREFIX)) return;
    const run = this.#runs.get(e.id.slice(BOT_PREFIX.length));
    if (!run) return;
    switch (e.type) {
      case "exited": {
        if (e.exit.kind !== "crash") return;
        const error = e.exit.error;
        run.bot = null;
        run.incarnation++; // effects still queued belong to the dead incarnation
        this.#enqueue(run, async () => {
          await this.#unwire(run);
          await this.#recordError(run.tenant, run.botId, error, false);
          log.warning("Bot {botId} crashed: {error}", {
            botId: run.botId,
            error: error.message,
          });
        });
        return;
      }
      case "restart_scheduled":
        this.#enqueue(run, () =>
          this.#event(run, "restarted", {
            attempt: e.attempt,
            delay_ms: e.delayMs,
            message: this.#botSupervisor.info(e.id)?.error?.message ?? null,
          }));
        return;
      case "heartbeat_timeout":
        log.warning("Bot {botId} did not answer its heartbeat: terminating its Worker", {
          botId: run.botId,
        });
        return;
      case "escalated":
        this.#enqueue(run, () => this.#escalate(run, e.error));
        return;
    }
  }

  /** Too many restarts: status `error` with the reason, and the run ends. */
  async #escalate(run: Run, error: SerializedError): Promise<void> {
    const row = await this.#record(run.tenant, run.botId, {
      status: "error",
      reason: error.message,
    });
    this.#event(run, "error", { message: error.message, last_error: row?.last_error ?? null });
    log.error("Bot {botId} stopped with status error: {error}", {
      botId: run.botId,
      error: error.message,
    });
    // End the run outside its own chain (ending awaits the chain).
    const ending = Promise.resolve().then(() => this.#endRun(run.botId)).catch((e) =>
      log.error("Cannot end bot {botId}: {error}", { botId: run.botId, error: String(e) })
    );
    this.#background.add(ending);
    ending.finally(() => this.#background.delete(ending));
  }

  #onSymbolEvent(e: SupervisorEvent): void {
    if (!e.id.startsWith(SYMBOL_PREFIX)) return;
    const symbol = e.id.slice(SYMBOL_PREFIX.length);
    const entry = this.#symbols.get(symbol);
    if (!entry) return;
    if (e.type === "started" && e.incarnation > 1) {
      // A restarted symbol actor has lost its subscribers: wire every bot on it again.
      for (const botId of entry.bots) {
        const run = this.#runs.get(botId);
        if (!run) continue;
        this.#enqueue(run, async () => {
          const wire = run.wires.get(symbol);
          if (wire) await this.#wire(run, symbol, wire.timeframe, wire.specs);
        });
      }
    } else if (e.type === "escalated") {
      for (const botId of entry.bots) {
        const run = this.#runs.get(botId);
        if (run) this.#enqueue(run, () => this.#escalate(run, e.error));
      }
    }
  }

  async #recordError(tenant: Tenant, botId: string, error: unknown, fatal: boolean) {
    const message = String((error as { message?: unknown })?.message ?? error);
    await this.#record(tenant, botId, { crash: message });
    if (fatal) await this.#record(tenant, botId, { status: "error", reason: message });
  }
}
