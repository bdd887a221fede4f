/**
 * The execution engine: the one path every order takes, from a person over HTTP or from a
 * bot, and the one writer of order state (DESIGN.md, "Life of an order").
 *
 * `submit()`: one ledger transaction reads what risk needs (and a repeated client order id),
 * then, once validation and risk pass, writes the order row and its SUBMITTED, VALIDATED and
 * SENT audit rows → the broker → acknowledgement. A denial is recorded as a DENIED audit row
 * and thrown as a `TradeError`. A submit that times out is never resent: the order is looked
 * up by its client order id (RECOVERED), and reconciliation settles whatever stays unknown. An
 * order that provably never reached the venue frees its client order id: a retry with it
 * places a new order linked to the attempt (core/order_retry.ts).
 *
 * Broker events (trade updates) are applied to the ledger one user at a time, in arrival
 * order: order row, fill, position, trades row and audit row commit together, and only then
 * is the event published on the bus.
 *
 * The parts, each in its own file of this folder:
 * - `submit.ts`: the submit path and `validate`;
 * - `in_flight.ts`: one record per submit in progress (user and client order id), refereeing
 *   the race between the submit path and the venue's callback;
 * - `pre_trade.ts`: market and risk snapshots, the one limits parser, validation, risk, rate;
 * - `ledger.ts`: the ledger writes (placement, denial and `OrderDenied`, acknowledgement,
 *   rejection); `ledger_events.ts`: venue events, each status change through `transition()`;
 * - `links.ts`: legs, replacements and adopted orders the venue creates; `ledger_ids.ts`: a
 *   venue error retold with Tradewind's order ids;
 * - `reconciler.ts`: reconciliation with the venue, at start and on a timer;
 * - `closing.ts`: cancel-all, close-position, close-all;
 * - `snapshots.ts`: position and account snapshots;
 * - `context.ts`: what the parts share (dependencies, per-user queues, publishing).
 *
 * @module
 */
import { isTradeError, TradeError, tradeErrors } from "../../core/errors.ts";
import { type Order, type OrderStatus, type ReplaceRequest, withLegs } from "../../core/order.ts";
import { replacementRequest } from "../../core/replacement.ts";
import { isTerminal } from "../../core/order_state.ts";
import { validateReplace } from "../../core/order_rules.ts";
import type { RiskLimits } from "../../core/risk.ts";
import type { Decimal } from "../../core/decimal.ts";
import type { Account, Broker, Position, TradeUpdate } from "../../brokers/broker.ts";
import type { CacheStats } from "../../brokers/cache.ts";
import { ResilientBroker } from "../../brokers/resilient.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import { legsOf, linkReplacement } from "../../db/execution_queries.ts";
import {
  type BookPlanItem,
  findOrder,
  findOrderByBrokerId,
  type OrderRow,
  rowToOrder,
} from "../../db/ledger.ts";
import { type EngineContext, publishOrder, requestJson, UserQueues } from "./context.ts";
import { Closing } from "./closing.ts";
import { type AuditFor, EngineLedger } from "./ledger.ts";
import { withLedgerIds } from "./ledger_ids.ts";
import { OrderLinks } from "./links.ts";
import { PreTrade } from "./pre_trade.ts";
import { Reconciler } from "./reconciler.ts";
import { Snapshots } from "./snapshots.ts";
import { OrderSubmitter } from "./submit.ts";
import type {
  Applied,
  CloseAllItem,
  ExecutionDeps,
  OrderCancelResult,
  ReplaceResult,
  SubmitOrder,
  SubmitResult,
  ValidationReport,
} from "./types.ts";

/** The execution engine. One per process; the only writer of order state. */
export class ExecutionEngine {
  readonly #deps: ExecutionDeps;
  readonly #ctx: EngineContext;
  readonly #brokers = new Map<string, ResilientBroker>();
  readonly #pendingUpdates = new Map<string, TradeUpdate[]>();
  readonly #preTrade: PreTrade;
  readonly #links: OrderLinks;
  readonly #ledger: EngineLedger;
  readonly #submitter: OrderSubmitter;
  readonly #reconciler: Reconciler;
  readonly #closing: Closing;
  readonly #snapshots: Snapshots;
  #stopReconcile: (() => void) | null = null;

  constructor(deps: ExecutionDeps) {
    this.#deps = deps;
    const log: EngineContext["log"] = (level, message, fields) =>
      deps.log?.(level, message, fields);
    this.#ctx = {
      deps,
      queues: new UserQueues(log),
      brokerFor: (userId) => this.brokerFor(userId),
      announce: (userId, results) => this.#announce(userId, results),
      log,
    };
    this.#preTrade = new PreTrade(deps);
    this.#links = new OrderLinks(deps, log);
    this.#submitter = new OrderSubmitter(this.#ctx, {
      preTrade: this.#preTrade,
      ledger: () => this.#ledger,
      orderView: (tenant, orderId) => this.orderView(tenant, orderId),
    });
    this.#ledger = new EngineLedger(
      this.#ctx,
      this.#links,
      (userId, venueOrder) => this.#submitter.takeLive(userId, venueOrder),
    );
    this.#reconciler = new Reconciler(this.#ctx, {
      ledger: this.#ledger,
      links: this.#links,
      beforeUser: (userId) => this.#submitter.dropLive(userId),
    });
    this.#closing = new Closing(this.#ctx, {
      cancel: (tenant, orderId, correlationId) => this.cancel(tenant, orderId, correlationId),
      submit: (cmd) => this.submit(cmd),
    });
    this.#snapshots = new Snapshots(this.#ctx);
  }

  /** The engine's default risk limits (from configuration). */
  get defaultLimits(): RiskLimits {
    return this.#deps.defaultLimits;
  }

  /**
   * Reconciles once, then every `reconcileEveryMs`; takes snapshots every `snapshotEveryMs`
   * on the clock's multiples of it (every 5 minutes: at :00, :05, …).
   */
  async start(): Promise<void> {
    await this.reconcile();
    const every = this.#deps.reconcileEveryMs ?? 60_000;
    if (every > 0) {
      this.#stopReconcile = this.#deps.clock.setRepeating(() => {
        this.reconcile().catch((e) =>
          this.#ctx.log("error", "Reconciliation failed", { error: String(e) })
        );
      }, every);
    }
    this.#snapshots.schedule();
  }

  /** Stops timers and waits for queued ledger work (and a snapshot run in progress). */
  async stop(): Promise<void> {
    this.#stopReconcile?.();
    this.#stopReconcile = null;
    this.#snapshots.unschedule();
    await this.settle();
  }

  /** Resolves when every queued broker event has been written (tests use it, not sleeps). */
  async settle(): Promise<void> {
    await this.#snapshots.running;
    await this.#ctx.queues.drain();
  }

  /** The broker acting for a user, wrapped in timeouts, retries and a breaker. */
  brokerFor(userId: string): Broker {
    let broker = this.#brokers.get(userId);
    if (!broker) {
      broker = new ResilientBroker(this.#deps.venue.brokerFor(userId), this.#deps.resilience);
      broker.onTradeUpdate((update) => this.#onUpdate(userId, update));
      this.#brokers.set(userId, broker);
    }
    return broker;
  }

  // ---------------------------------------------------------------------------------------
  // Orders

  /**
   * Places an order through validation, risk, the ledger and the broker. A repeated client
   * order id (even concurrently) answers the one existing order with `created: false`, unless
   * that order provably never reached the venue: then the id is free again, and this places a
   * new order linked to the earlier attempt (`retryOf`; core/order_retry.ts).
   *
   * @throws {TradeError} a denial (validation or risk), or the broker's rejection.
   * @throws {BrokerUnavailableError} when the venue cannot take the order (nothing placed).
   */
  submit(cmd: SubmitOrder): Promise<SubmitResult> {
    return this.#submitter.submit(cmd);
  }

  /** What `POST /orders/validate` says about an order, placing nothing. */
  validate(cmd: SubmitOrder): Promise<ValidationReport> {
    return this.#submitter.validate(cmd);
  }

  /** Requests a cancel; the outcome arrives as broker events. Throws ORDER_NOT_FOUND (404). */
  async cancel(tenant: Tenant, orderId: string, correlationId: string): Promise<void> {
    const row = await this.#ownOrder(tenant, orderId);
    if (isTerminal(row.status as OrderStatus)) {
      throw tradeErrors.orderNotCancelable(orderId, row.status);
    }
    if (!row.broker_order_id) {
      throw new TradeError(
        "ORDER_NOT_CANCELABLE",
        `Cannot cancel order "${orderId}": the venue has not acknowledged it yet; try again shortly`,
        { alpacaMessage: "unable to cancel order, order isn't sent to exchange yet" },
      );
    }
    await this.#ledger.record(tenant, {
      userId: tenant.userId,
      orderId,
      botId: row.bot_id,
      clientOrderId: row.client_order_id,
      action: "CANCEL_REQUESTED",
      status: "ok",
      correlationId,
    });
    await this.brokerFor(tenant.userId).cancelOrder(row.broker_order_id).catch(async (e) => {
      throw isTradeError(e) ? await withLedgerIds(this.#deps.sql, tenant, e) : e;
    });
  }

  /**
   * Cancels every open order of the user (see `Closing.cancelAll`); one result per order.
   */
  cancelAll(tenant: Tenant, correlationId: string): Promise<OrderCancelResult[]> {
    return this.#closing.cancelAll(tenant, correlationId);
  }

  /**
   * Replaces an open order; answers the new order (new id, `replaces` = the old id) and the
   * warnings of its validation (also on its REPLACE_REQUESTED audit row). A replace is a new
   * order: the same validation and risk as a submit; a denial leaves the order as it was and
   * is recorded on its trail.
   */
  async replace(
    tenant: Tenant,
    orderId: string,
    request: ReplaceRequest,
    correlationId: string,
  ): Promise<ReplaceResult> {
    const row = await this.#ownOrder(tenant, orderId);
    const current = rowToOrder(row);
    const invalid = validateReplace(current, request);
    if (invalid) throw invalid;
    if (!row.broker_order_id) {
      throw tradeErrors.orderNotReplaceable(
        orderId,
        "unable to replace order, order isn't sent to exchange yet",
      );
    }
    const broker = this.brokerFor(tenant.userId);
    const audit: AuditFor = (e) => ({
      userId: tenant.userId,
      orderId,
      botId: row.bot_id,
      clientOrderId: row.client_order_id,
      correlationId,
      causationId: null,
      ...e,
    });
    const next = replacementRequest(current, request);
    const evaluated = await this.#preTrade.evaluateReplace(tenant, row, next, correlationId, broker)
      .catch((e) => {
        if (isTradeError(e)) return { denial: e, refPrice: null, exposure: null, warnings: [] };
        throw e;
      });
    if (evaluated.denial) {
      await this.#ledger.deny(tenant, audit, next, evaluated.denial);
      throw evaluated.denial;
    }
    // Write-ahead, as for SENT: the request is on record before it leaves.
    await this.#ledger.record(
      tenant,
      audit({
        action: "REPLACE_REQUESTED",
        status: "ok",
        payload: {
          request: requestJson(request),
          ref_price: evaluated.refPrice?.toString() ?? null,
          exposure: JSON.parse(JSON.stringify(evaluated.exposure)),
          warnings: evaluated.warnings,
        },
      }),
    );
    const replacement = await broker.replaceOrder(row.broker_order_id, request).catch(
      async (e) => {
        throw isTradeError(e) ? await withLedgerIds(this.#deps.sql, tenant, e) : e;
      },
    );
    const newId = await this.#ctx.queues.enqueueAndWait(
      tenant.userId,
      () =>
        withTenant(this.#deps.sql, tenant, async (tx) => {
          const mine = await findOrderByBrokerId(tx, replacement.id) ??
            await this.#links.insertLinked(
              tx,
              tenant.userId,
              replacement,
              row,
              "replacement",
              correlationId,
            );
          await linkReplacement(tx, orderId, mine.id);
          return mine.id;
        }),
    );
    return { order: await this.orderView(tenant, newId), warnings: evaluated.warnings };
  }

  /**
   * Closes all, `qty`, or `percentage` (0–100) of a position with a market order through the
   * same {@link submit} path. A percentage of a whole-share position rounds down to whole
   * shares. Throws POSITION_NOT_FOUND (404).
   */
  closePosition(
    tenant: Tenant,
    symbol: string,
    options: { qty?: Decimal; percentage?: Decimal },
    correlationId: string,
  ): Promise<SubmitResult & { books: BookPlanItem[] }> {
    return this.#closing.closePosition(tenant, symbol, options, correlationId);
  }

  /**
   * Closes every position; with `cancelOrders`, cancels every open order first and waits (at
   * most `cancelConfirmMs`) for the cancels (see `Closing.closeAll`).
   */
  closeAll(tenant: Tenant, cancelOrders: boolean, correlationId: string): Promise<CloseAllItem[]> {
    return this.#closing.closeAll(tenant, cancelOrders, correlationId);
  }

  /**
   * Compares the ledger with the broker for every user with open orders (and, for the paper
   * venue, every user with an account): applies missed transitions and fills, adopts unknown
   * broker orders as external, and writes RECONCILED audit rows. Safe to run at any time.
   */
  reconcile(userIds?: string[]): Promise<{ users: number; changes: number }> {
    return this.#reconciler.reconcile(userIds);
  }

  // ---------------------------------------------------------------------------------------
  // Broker events

  /**
   * Buffers a broker event; one queued task applies every event buffered for the user in a
   * single transaction, in arrival order, then publishes them.
   */
  #onUpdate(userId: string, update: TradeUpdate): void {
    let pending = this.#pendingUpdates.get(userId);
    if (pending) {
      pending.push(update);
      return;
    }
    pending = [update];
    this.#pendingUpdates.set(userId, pending);
    this.#ctx.queues.enqueue(userId, () => {
      const batch = this.#pendingUpdates.get(userId) ?? [];
      this.#pendingUpdates.delete(userId);
      return this.#ledger.applyUpdates(userId, batch);
    });
  }

  /** Publishes applied events (after their commit) and refreshes what they made stale. */
  #announce(userId: string, results: Applied[]): void {
    for (const r of results) {
      publishOrder(this.#deps, { userId, ...r });
      this.#submitter.noteApplied(userId, r.order);
      if (r.fill) this.#preTrade.invalidateAccount(userId);
    }
    if (results.length > 0) this.#closing.wake(userId);
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  /** An order of the tenant with its legs nested. Throws ORDER_NOT_FOUND (404). */
  async orderView(tenant: Tenant, orderId: string): Promise<Order> {
    return await withTenant(this.#deps.sql, tenant, async (tx) => {
      const row = await findOrder(tx, orderId);
      if (!row) throw tradeErrors.orderNotFound(orderId);
      const legs = await legsOf(tx, orderId);
      const order = rowToOrder(row);
      return legs.length ? withLegs(order, legs.map(rowToOrder)) : order;
    });
  }

  async #ownOrder(tenant: Tenant, orderId: string): Promise<OrderRow> {
    const row = await withTenant(this.#deps.sql, tenant, (tx) => findOrder(tx, orderId));
    if (!row) throw tradeErrors.orderNotFound(orderId);
    return row;
  }

  /** The user's account from the venue, cached 5 s (dropped when a fill lands). */
  account(userId: string): Promise<Account> {
    return this.#preTrade.account(userId, this.brokerFor(userId));
  }

  /** The user's positions from the venue, cached 3 s (dropped when a fill lands). */
  positions(userId: string): Promise<Position[]> {
    return this.#preTrade.positions(userId, this.brokerFor(userId));
  }

  /** Hits and misses of the engine's venue cache (account, positions, assets). */
  get cacheStats(): Readonly<CacheStats> {
    return this.#preTrade.cacheStats;
  }

  /**
   * Writes a snapshot row per open position of every user (price, market value, unrealized
   * P&L), with each user's account snapshot beside them. Answers the number of position rows.
   */
  async snapshotPositions(): Promise<number> {
    return (await this.takeSnapshots()).positions;
  }

  /**
   * Takes one snapshot run (see `Snapshots.take`): per user, the ledger's open positions and
   * the venue's account, stamped with one time. Answers the rows written.
   */
  takeSnapshots(): Promise<{ positions: number; accounts: number }> {
    return this.#snapshots.take();
  }
}
