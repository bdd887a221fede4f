/**
 * The bot manager: runs each bot as actors (one symbol actor per symbol and the bot actor, placed
 * inline for now), feeds them the venue's 1-minute bars, and carries out what the bot asks:
 * a `signal` becomes a SIGNAL audit row and a bus "bot" event, an `order` goes through
 * {@link ExecutionEngine.submit} (the one order path) with the bot's id, and fills of the bot's
 * orders come back to it as `order_filled`.
 *
 * A bot's work is one promise chain: bars of one minute are processed, and their effects carried
 * out, before the next minute's, so a run is deterministic on a test clock ({@link settle}).
 *
 * A crash (a strategy that throws) increments the bot's `error_count` and sets `last_error`; the
 * bot's actors are started afresh (`one_for_one` on the bot), and after `maxErrors` crashes
 * within `errorWindowMs` the bot is stopped with status `error`. Other bots are unaffected.
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
import type { MarketData, MarketEvent, Unsubscribe } from "../../brokers/broker.ts";
import type { Clock } from "../../core/clock.ts";
import { isTradeError } from "../../core/errors.ts";
import { parseOrderRequest } from "../../core/order.ts";
import { appendAudit } from "../../db/audit.ts";
import { type Role, type Tenant, withTenant } from "../../db/database.ts";
import { logger } from "../../logging.ts";
import { StrategyRegistry } from "../../strategies/registry.ts";
import type { MessageBus } from "../bus.ts";
import type { ExecutionEngine } from "../execution_engine.ts";
import type { ActorHandle } from "../runtime/actor.ts";
import { link, spawnActor } from "../runtime/placement.ts";
import type { SerializedError } from "../runtime/protocol.ts";
import { parseBotConfig } from "./bot_config.ts";
import { type BotEffect, type BotMsg, createBotBehaviour } from "./bot_behaviour.ts";
import { barTopic, symbolBehaviour, type SymbolMsg } from "./symbol_behaviour.ts";

/** A bot's status as stored. */
export type BotStatus = "running" | "paused" | "stopped" | "error";

/** A `bots` row. */
export interface BotRow {
  id: string;
  user_id: string;
  name: string;
  strategy: string;
  config: Record<string, unknown>;
  status: BotStatus;
  last_run_at: Date | null;
  error_count: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

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

/** What a {@link BotManager} needs. */
export interface BotManagerOptions {
  sql: Sql;
  engine: ExecutionEngine;
  /** Market data with live 1-minute bars. */
  venue: Pick<MarketData, "subscribe">;
  bus: MessageBus;
  clock: Clock;
  /** Strategies bots may run (default: the built-ins). */
  registry?: StrategyRegistry;
  /** Where actors run; only `"inline"` for now. */
  placement?: "inline";
  /** Crashes within {@link errorWindowMs} that put a bot in status `error` (default 3). */
  maxErrors?: number;
  /** Default 60 000. */
  errorWindowMs?: number;
}

interface Run {
  tenant: Tenant;
  botId: string;
  userId: string;
  config: unknown;
  symbols: string[];
  paused: boolean;
  /** Distinguishes this run's client order ids from earlier runs'. */
  tag: string;
  bot: ActorHandle<BotMsg> | null;
  symbolActors: Map<string, ActorHandle<SymbolMsg>>;
  /** Effects emitted synchronously by the last delivery, carried out in order. */
  effects: BotEffect[];
  chain: Promise<void>;
  crashes: number[];
  unsubscribe: Unsubscribe;
  ended: boolean;
}

const log = logger("bots");

/** Runs bots. See the module documentation. */
export class BotManager {
  readonly #opts: Required<Omit<BotManagerOptions, "placement">>;
  readonly #behaviour;
  readonly #runs = new Map<string, Run>();
  /** Engine order id → the bot and the bot's own client order id. */
  readonly #orders = new Map<string, { botId: string; clientOrderId: string }>();
  readonly #unsubscribeBus: () => void;

  constructor(options: BotManagerOptions) {
    this.#opts = {
      registry: new StrategyRegistry(),
      maxErrors: 3,
      errorWindowMs: 60_000,
      ...options,
    };
    this.#behaviour = createBotBehaviour(this.#opts.registry);
    this.#unsubscribeBus = options.bus.subscribe("order", (m) => this.#onOrderEvent(m));
  }

  /** The strategies bots may run. */
  get registry(): StrategyRegistry {
    return this.#opts.registry;
  }

  /** Whether the bot has actors in this process. */
  isRunning(botId: string): boolean {
    return this.#runs.has(botId);
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
    await this.#spawnRun(tenant, row, false);
    return await this.#setStatus(tenant, botId, "running", { lastRun: true, resetErrors: true });
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
      this.#deliver(run, { type: "pause" });
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
      this.#deliver(run, { type: "resume" });
    });
    return await this.#setStatus(tenant, botId, "running", { lastRun: true });
  }

  /**
   * Starts every bot of every user whose status is `running` or `paused` (after a restart).
   * A bot that fails to start is put in status `error`. Answers how many started.
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

  /** Resolves when every bar and effect handed to running bots so far has been carried out. */
  async settle(): Promise<void> {
    while (true) {
      const chains = [...this.#runs.values()].map((r) => r.chain);
      await Promise.all(chains);
      await this.#opts.engine.settle();
      const after = [...this.#runs.values()].map((r) => r.chain);
      if (after.length === chains.length && after.every((c, i) => c === chains[i])) return;
    }
  }

  /** The bot actor's status reply (plain data), or null when it is not running here. */
  async botStatus(botId: string): Promise<unknown> {
    const bot = this.#runs.get(botId)?.bot;
    return bot && !bot.exit ? await bot.request({ type: "status" }) : null;
  }

  /** Stops every bot's actors without changing their stored status (shutdown). */
  async close(): Promise<void> {
    this.#unsubscribeBus();
    for (const botId of [...this.#runs.keys()]) await this.#endRun(botId);
  }

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
    options: { lastRun?: boolean; resetErrors?: boolean } = {},
  ): Promise<BotRow> {
    const now = new Date(this.#opts.clock.now());
    const [row] = await withTenant(this.#opts.sql, tenant, (tx) =>
      tx<BotRow[]>`
        update bots set status = ${status}, updated_at = now(),
          last_run_at = ${options.lastRun ? tx`${now}` : tx`last_run_at`},
          error_count = ${options.resetErrors ? tx`0` : tx`error_count`}
        where id = ${botId} returning *`);
    if (!row) throw new BotError("BOT_NOT_FOUND", 404, `Cannot find bot "${botId}"`);
    return row;
  }

  async #spawnRun(tenant: Tenant, row: BotRow, paused: boolean): Promise<void> {
    const config = parseBotConfig(row.config, this.#opts.registry);
    const run: Run = {
      tenant,
      botId: row.id,
      userId: row.user_id,
      config: row.config,
      symbols: config.symbols,
      paused,
      tag: crypto.randomUUID().slice(0, 8),
      bot: null,
      symbolActors: new Map(),
      effects: [],
      chain: Promise.resolve(),
      crashes: [],
      unsubscribe: () => {},
      ended: false,
    };
    await this.#spawnActors(run);
    this.#runs.set(row.id, run);
    run.unsubscribe = this.#opts.venue.subscribe(
      { bars: config.symbols },
      (events) => this.#onMarket(run, events),
    );
  }

  /** Spawns the symbol actors and the bot actor of `run`, and links them. */
  async #spawnActors(run: Run): Promise<void> {
    for (const symbol of run.symbols) {
      run.symbolActors.set(
        symbol,
        await spawnActor<SymbolMsg>(
          { id: `sym:${run.botId}:${symbol}`, behaviour: symbolBehaviour, args: { symbol } },
          "inline",
        ),
      );
    }
    run.effects = [];
    // Percent-of-equity and risk sizing need the account's equity from the start.
    const equity = await this.#equity(run.userId);
    try {
      run.bot = await spawnActor<BotMsg, BotEffect>(
        {
          id: `bot:${run.botId}`,
          behaviour: this.#behaviour,
          args: { config: run.config, paused: run.paused, ...(equity ? { equity } : {}) },
        },
        "inline",
        { onEffects: (effects) => run.effects.push(...effects), clock: this.#opts.clock },
      );
      await this.#drainEffects(run);
    } catch (e) {
      await this.#stopActors(run);
      throw e;
    }
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

  async #stopActors(run: Run): Promise<void> {
    await run.bot?.stop("stopped");
    run.bot = null;
    for (const actor of run.symbolActors.values()) await actor.stop("stopped");
    run.symbolActors.clear();
  }

  async #endRun(botId: string): Promise<void> {
    const run = this.#runs.get(botId);
    if (!run) return;
    this.#runs.delete(botId);
    run.ended = true;
    run.unsubscribe();
    await run.chain;
    await this.#stopActors(run);
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

  /** Sends `message` to the bot actor, then carries out its effects or handles its crash. */
  async #deliver(run: Run, message: BotMsg): Promise<void> {
    if (!run.bot) return;
    run.bot.send(message);
    await this.#afterDelivery(run);
  }

  async #afterDelivery(run: Run): Promise<void> {
    const exit = run.bot?.exit;
    if (exit?.kind === "crash") {
      run.effects = [];
      await this.#onCrash(run, exit.error);
      return;
    }
    await this.#drainEffects(run);
  }

  #onMarket(run: Run, events: MarketEvent[]): void {
    const bars = events.filter((e) => e.type === "bar");
    if (bars.length === 0) return;
    this.#enqueue(run, async () => {
      for (const event of bars) {
        if (run.ended || !run.bot) return;
        const actor = run.symbolActors.get(event.symbol);
        if (!actor) continue;
        actor.send({ type: "bars", bars: [event.bar] });
        await this.#afterDelivery(run);
      }
    });
  }

  async #drainEffects(run: Run): Promise<void> {
    while (run.effects.length > 0) {
      const effect = run.effects.shift()!;
      await this.#carryOut(run, effect);
    }
  }

  async #carryOut(run: Run, effect: BotEffect): Promise<void> {
    switch (effect.type) {
      case "subscribe": {
        const actor = run.symbolActors.get(effect.symbol);
        if (!actor || !run.bot) return;
        await actor.request({
          type: "subscribe",
          timeframe: effect.timeframe,
          specs: effect.specs,
        });
        await link(actor, run.bot, { topic: barTopic(effect.timeframe) });
        return;
      }
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
          this.#event(run, "order", {
            symbol: effect.symbol,
            order_id: result.order.id,
            reason: effect.reason,
          });
        } catch (e) {
          if (!isTradeError(e)) throw e;
          this.#event(run, "order_denied", {
            symbol: effect.symbol,
            code: e.code,
            message: e.message,
          });
          await this.#deliver(run, {
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

  #onOrderEvent(m: { order: Record<string, unknown>; fill?: unknown; event: string }): void {
    const mine = this.#orders.get(String(m.order.id));
    if (!mine) return;
    const run = this.#runs.get(mine.botId);
    if (!run) return;
    const order = m.order;
    const fill = m.fill as { qty: string; price: string; position_qty: string } | null | undefined;
    if (fill) {
      this.#enqueue(run, () =>
        this.#deliver(run, {
          type: "order_filled",
          symbol: String(order.symbol),
          side: order.side as "buy" | "sell",
          qty: fill.qty,
          price: fill.price,
          positionQty: fill.position_qty,
          ts: this.#opts.clock.now(),
          clientOrderId: mine.clientOrderId,
          partial: order.status === "partially_filled",
        }));
      // The fill moved the account: give the bot its new equity for sizing.
      this.#enqueue(run, async () => {
        const equity = await this.#equity(run.userId);
        if (equity) await this.#deliver(run, { type: "account", equity });
      });
    } else if (["canceled", "rejected", "expired"].includes(String(order.status))) {
      this.#enqueue(run, () =>
        this.#deliver(run, {
          type: "order_closed",
          symbol: String(order.symbol),
          clientOrderId: mine.clientOrderId,
          status: String(order.status),
        }));
    }
  }

  /** One crash: count it, then restart the bot's actors or give up with status `error`. */
  async #onCrash(run: Run, error: SerializedError): Promise<void> {
    const now = this.#opts.clock.now();
    run.crashes = [...run.crashes.filter((t) => now - t < this.#opts.errorWindowMs), now];
    const giveUp = run.crashes.length >= this.#opts.maxErrors;
    await this.#stopActors(run);
    await this.#recordError(run.tenant, run.botId, error, giveUp);
    this.#event(run, giveUp ? "error" : "restarted", { message: error.message });
    if (giveUp) {
      run.ended = true;
      run.unsubscribe();
      this.#runs.delete(run.botId);
      return;
    }
    await this.#spawnActors(run);
  }

  async #recordError(tenant: Tenant, botId: string, error: unknown, fatal: boolean) {
    const message = String((error as { message?: unknown })?.message ?? error).slice(0, 2000);
    await withTenant(this.#opts.sql, tenant, (tx) =>
      tx`
        update bots set error_count = error_count + 1, last_error = ${message},
          status = ${fatal ? tx`'error'` : tx`status`}, updated_at = now()
        where id = ${botId}`);
  }
}
