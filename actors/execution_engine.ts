/**
 * The execution engine: the one path every order takes, from a person over HTTP or from a
 * bot, and the one writer of order state (DESIGN.md, "Life of an order").
 *
 * `submit()`: one ledger transaction reads what risk needs (and a repeated client order id),
 * then, once validation and risk pass, writes the order row and its SUBMITTED, VALIDATED and
 * SENT audit rows → the broker → acknowledgement. A denial is
 * recorded as a DENIED audit row and thrown as a `TradeError`. A submit that times out is never
 * resent: the order is looked up by its client order id (RECOVERED), and reconciliation
 * settles whatever stays unknown. An order that provably never reached the venue frees its
 * client order id: a retry with it places a new order linked to the attempt
 * (core/order_retry.ts).
 *
 * Broker events (trade updates) are applied to the ledger one user at a time, in arrival
 * order: order row, fill, position, trades row and audit row commit together, and only then
 * is the event published on the bus.
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";
import type { Clock } from "../core/clock.ts";
import { etToEpochMs, toEt } from "../core/calendar.ts";
import { Decimal } from "../core/decimal.ts";
import { averagePrice, wideNotional } from "../core/money.ts";
import { type BookRiskFacts, evaluateBookRisk, flattenMoves } from "../core/books.ts";
import { type AlpacaErrorBody, isTradeError, TradeError, tradeErrors } from "../core/errors.ts";
import type { IdSource } from "../core/ids.ts";
import {
  createOrder,
  type Order,
  type OrderRequest,
  type OrderStatus,
  type ReplaceRequest,
  toAlpacaJson,
  withLegs,
} from "../core/order.ts";
import { orderCostBasis, validateOrder, validateReplace } from "../core/order_rules.ts";
import { openRequest, replacementRequest } from "../core/replacement.ts";
import {
  clientOrderIdConflict,
  fingerprintDifferences,
  fingerprintOfOrder,
  type OrderFingerprint,
  orderFingerprint,
} from "../core/order_identity.ts";
import { canTransition, isOpen, isTerminal, OPEN_STATUSES } from "../core/order_state.ts";
import { retryable, type RetryCandidate } from "../core/order_retry.ts";
import { OncePerWindow, SlidingWindowLimiter } from "../core/rate_limiter.ts";
import { boundedEcho, cutText } from "../core/input.ts";
import { limitsFromStored, resolveLimits } from "../core/risk_authority.ts";
import {
  evaluateRisk,
  type RiskLimits,
  type RiskNotice,
  type RiskPosition,
  type TradingState,
  validationAdvice,
} from "../core/risk.ts";
import type { Account, Asset, Broker, Position, TradeUpdate, Venue } from "../brokers/broker.ts";
import { type CacheStats, TtlCache } from "../brokers/cache.ts";
import {
  AmbiguousSubmitError,
  BrokerUnavailableError,
  type ResilienceOptions,
  ResilientBroker,
} from "../brokers/resilient.ts";
import { appendAudit, appendAudits, type AuditEntry, placementWarnings } from "../db/audit.ts";
import { type Tenant, withTenant } from "../db/database.ts";
import { type PositionSnapshotRow, writeSnapshots } from "../db/snapshots.ts";
import {
  adjustManualBook,
  type BookPlanItem,
  findOrder,
  findOrderByBrokerId,
  findOrderByClientId,
  insertOrder,
  listBooks,
  markRetried,
  type OrderRow,
  queueFill,
  rowToOrder,
  updateOrder,
} from "../db/ledger.ts";
import type { MessageBus } from "./bus.ts";

/** A request to place an order. */
export interface SubmitOrder {
  tenant: Tenant;
  request: OrderRequest;
  botId?: string | null;
  /** Traces the request (HTTP request id or bot signal id) to its audit rows and fills. */
  correlationId: string;
  causationId?: string | null;
  /** An order that flattens the account: the books it closes (see {@link closePosition}). */
  bookPlan?: BookPlanItem[] | null;
}

/** What {@link ExecutionEngine.submit} answers. */
export interface SubmitResult {
  order: Order;
  /** False when the client order id was seen before and the existing order is answered. */
  created: boolean;
  /** True when the broker's answer is still unknown (a timeout being resolved). */
  pending: boolean;
  /**
   * What `POST /orders/validate` would have warned of, as the order was placed (same codes
   * and messages; `RISK_NEAR_LIMIT` included). Kept in the order's VALIDATED audit row and
   * read back from there when the client order id is replayed. Not part of the order: the
   * Alpaca face keeps Alpaca's order shape.
   */
  warnings: RiskNotice[];
  /**
   * The earlier attempt, never sent to the venue, whose client order id this new order took
   * (core/order_retry.ts); absent when the order retries nothing.
   */
  retryOf?: string;
}

/** What {@link ExecutionEngine.replace} answers. */
export interface ReplaceResult {
  /** The replacing order. */
  order: Order;
  /** The warnings of the replacement's validation, as {@link SubmitResult.warnings}. */
  warnings: RiskNotice[];
}

/** One order's result in {@link ExecutionEngine.cancelAll}: 200 when the cancel was requested. */
export interface OrderCancelResult {
  id: string;
  symbol: string;
  status: number;
  error?: { code: string; message: string };
  /** The error as Alpaca's body (`{code, message, …}`), for the Alpaca face. */
  alpaca?: AlpacaErrorBody;
}

/**
 * One symbol's result in {@link ExecutionEngine.closeAll}: the closing order (200), or the
 * error; no order and no error when there was no position, only orders to cancel.
 */
export interface CloseAllItem {
  symbol: string;
  status: number;
  order?: Order;
  error?: { code: string; message: string };
  /** The books the closing order flattens (see {@link ExecutionEngine.closePosition}). */
  books?: BookPlanItem[];
  /** The results of canceling this symbol's open orders. */
  orders: OrderCancelResult[];
}

/** What `POST /orders/validate` answers. */
export interface ValidationReport {
  valid: boolean;
  errors: { code: string; message: string; details?: unknown }[];
  warnings: RiskNotice[];
  recommendations: RiskNotice[];
}

/** What the engine needs. */
export interface ExecutionDeps {
  sql: Sql;
  venue: Venue;
  clock: Clock;
  ids: IdSource;
  bus: MessageBus;
  /** Default risk limits (from config); users and bots override them. */
  defaultLimits: RiskLimits;
  resilience?: ResilienceOptions;
  /** Reconciliation interval; 0 turns the timer off. Default 60000 ms. */
  reconcileEveryMs?: number;
  /** Position snapshot interval; 0 turns it off. Default 300000 ms. */
  snapshotEveryMs?: number;
  /** How long close-all waits for its cancels to be confirmed. Default 5000 ms. */
  cancelConfirmMs?: number;
  log?: (
    level: "info" | "warning" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

const OPEN = OPEN_STATUSES as readonly string[];
const PRE_FILL: readonly OrderStatus[] = ["accepted", "pending_new", "new"];

const AUDIT_ACTIONS: Record<string, string> = {
  new: "ACCEPTED",
  partial_fill: "PARTIALLY_FILLED",
  fill: "FILLED",
  canceled: "CANCELED",
  expired: "EXPIRED",
  rejected: "REJECTED",
  replaced: "REPLACED",
  pending_new: "PENDING_NEW",
  pending_cancel: "PENDING_CANCEL",
  pending_replace: "PENDING_REPLACE",
  done_for_day: "DONE_FOR_DAY",
  restated: "RESTATED",
};

function orderJson(order: Order): Record<string, unknown> {
  return toAlpacaJson(order) as unknown as Record<string, unknown>;
}

function requestJson(request: OrderRequest | ReplaceRequest): Record<string, unknown> {
  return JSON.parse(JSON.stringify(request));
}

/**
 * The effective limits: the strictest value of each field over the engine's defaults, the
 * user's limit layers (an admin's and their own) and a bot's own limits; each layer can only
 * tighten the ones above it (`core/risk_authority.ts`).
 */
export function effectiveLimits(
  defaults: RiskLimits,
  user: { admin?: RiskLimits; user?: RiskLimits },
  bot: RiskLimits | null,
): RiskLimits {
  return resolveLimits({ default: defaults, ...user, bot }).limits;
}

/** The stored limit layers of a snapshot (`layer` → row), as limits. */
function limitLayersOf(
  rows: Record<string, Record<string, unknown>> | null,
): { admin: RiskLimits; user: RiskLimits } {
  return { admin: limitsFromStored(rows?.admin), user: limitsFromStored(rows?.user) };
}

interface RiskSnapshot {
  existing: OrderRow | null;
  positions: { symbol: string; qty: string }[];
  pending: Record<string, string>;
  trades_today: number;
  realized_today: string;
  /** The user's limit layers by layer name (`admin`, `user`). */
  user_limits: Record<string, Record<string, unknown>> | null;
  /** The bot's own limits (its config's `risk`). */
  bot_limits: Record<string, unknown> | null;
  /** The bot's own book, for a bot's order (core/books.ts); null for a manual order. */
  bot_book: {
    positions: { symbol: string; qty: string; cost: string }[];
    pending: Record<string, string>;
    trades_today: number;
    realized_today: string;
  } | null;
  state: TradingState | null;
}

/** What evaluating an order needs from the venue (fetched before the ledger transaction). */
interface MarketView {
  asset: Asset;
  trade: { p: number };
  quote: { bp: number; ap: number } | null;
  account: Account;
}

/** A fill as published on the bus. */
interface FillView {
  qty: string;
  price: string;
  execution_id: string;
  position_qty: string;
}

/** One venue event to apply, optionally to a known row, with an audit note or action. */
interface BatchItem {
  update: TradeUpdate;
  row?: OrderRow;
  note?: string;
  action?: string;
}

/** An order's state while a batch is applied. */
interface BatchOrder {
  order: Order;
  brokerId: string;
  botId: string | null;
  clientOrderId: string;
  correlationId: string | null;
}

/**
 * A simple order just committed by a submit in progress, as its row now reads: the first
 * batch of its venue events starts from it instead of reading the row back.
 */
interface LiveOrder {
  order: Order;
  botId: string | null;
  correlationId: string | null;
}

/** An applied event, ready to publish. */
interface Applied {
  order: Order;
  /** The order's book: the bot that placed it, or null (manual). */
  botId: string | null;
  seq: string;
  ts: Date;
  fill: FillView | null;
  correlationId: string | null;
  event: string;
}

/** The execution engine. One per process; the only writer of order state. */
export class ExecutionEngine {
  readonly #deps: ExecutionDeps;
  readonly #brokers = new Map<string, ResilientBroker>();
  readonly #queues = new Map<string, Promise<void>>();
  readonly #pendingUpdates = new Map<string, TradeUpdate[]>();
  /** Submits in progress, by ledger order id. */
  readonly #watching = new Set<string>();
  /**
   * The latest state of watched orders as their venue events were applied: the submit answers
   * from here instead of reading the row back, and removes the entry.
   */
  readonly #known = new Map<string, Order>();
  /**
   * Orders committed by a submit in progress whose row nothing has touched since, by user and
   * client order id. Taken (removed) by the first batch that applies their venue events, and
   * dropped before anything else writes their row (acknowledgement, rejection, reconciliation).
   */
  readonly #live = new Map<string, LiveOrder>();
  readonly #inflight = new Map<
    string,
    { result: Promise<SubmitResult>; fingerprint: OrderFingerprint }
  >();
  /** Waiters for a user's next applied venue events (close-all waiting for its cancels). */
  readonly #changed = new Map<string, Set<() => void>>();
  readonly #limiter = new SlidingWindowLimiter({ windowMs: 60_000 });
  /** `POST /orders/validate` calls: their own budget, as large as the orders one. */
  readonly #checks = new SlidingWindowLimiter({ windowMs: 60_000 });
  /** One RATE_LIMITED audit row per user per window, however many calls are refused. */
  readonly #rateAudits = new OncePerWindow({ windowMs: 60_000 });
  readonly #cache: TtlCache;
  #stopReconcile: (() => void) | null = null;
  #stopSnapshots: (() => void) | null = null;
  /** The snapshot run in progress (one at a time; a tick that finds one running is skipped). */
  #snapshotRun: Promise<void> | null = null;

  constructor(deps: ExecutionDeps) {
    this.#deps = deps;
    this.#cache = new TtlCache(deps.clock);
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
          this.#log("error", "Reconciliation failed", { error: String(e) })
        );
      }, every);
    }
    this.#scheduleSnapshots();
  }

  /** Stops timers and waits for queued ledger work (and a snapshot run in progress). */
  async stop(): Promise<void> {
    this.#stopReconcile?.();
    this.#stopReconcile = null;
    this.#stopSnapshots?.();
    this.#stopSnapshots = null;
    await this.settle();
  }

  #scheduleSnapshots(): void {
    const every = this.#deps.snapshotEveryMs ?? 300_000;
    if (every <= 0 || this.#stopSnapshots) return;
    const clock = this.#deps.clock;
    const tick = () => {
      if (this.#snapshotRun) {
        this.#log("warning", "Snapshots skipped: the previous run is still writing", {
          everyMs: every,
        });
        return;
      }
      const run = this.takeSnapshots().then(
        () => {},
        (e) => this.#log("error", "Snapshots failed", { error: String(e) }),
      );
      this.#snapshotRun = run;
      run.finally(() => {
        if (this.#snapshotRun === run) this.#snapshotRun = null;
      });
    };
    let stopRepeating: (() => void) | null = null;
    const stopFirst = clock.setTimer(() => {
      tick();
      stopRepeating = clock.setRepeating(tick, every);
    }, every - (clock.now() % every));
    this.#stopSnapshots = () => {
      stopFirst();
      stopRepeating?.();
    };
  }

  /** Resolves when every queued broker event has been written (tests use it, not sleeps). */
  async settle(): Promise<void> {
    while (true) {
      await this.#snapshotRun;
      const tails = [...this.#queues.values()];
      await Promise.all(tails.map((p) => p.catch(() => {})));
      await Promise.resolve();
      if (
        [...this.#queues.values()].every((p, i) => p === tails[i]) &&
        this.#queues.size === tails.length
      ) {
        return;
      }
    }
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
  // Submit

  /**
   * Places an order through validation, risk, the ledger and the broker. A repeated client
   * order id (even concurrently) answers the one existing order with `created: false`, unless
   * that order provably never reached the venue: then the id is free again, and this places a
   * new order linked to the earlier attempt (`retryOf`; core/order_retry.ts).
   *
   * @throws {TradeError} a denial (validation or risk), or the broker's rejection.
   * @throws {BrokerUnavailableError} when the venue cannot take the order (nothing placed).
   */
  async submit(cmd: SubmitOrder): Promise<SubmitResult> {
    const clientOrderId = cmd.request.client_order_id ?? this.#deps.ids();
    const request = { ...cmd.request, client_order_id: clientOrderId };
    const fingerprint = orderFingerprint(request);
    const key = `${cmd.tenant.userId}\u0000${clientOrderId}`;
    const running = this.#inflight.get(key);
    if (running) {
      if (fingerprintDifferences(running.fingerprint, fingerprint).length > 0) {
        // Another order is being placed under this key: judge this one against it once it is
        // recorded (or denied, which leaves the key free).
        await running.result.catch(() => {});
        return await this.submit(cmd);
      }
      const r = await running.result;
      return { ...r, created: false };
    }
    const p = this.#submit({ ...cmd, request }, fingerprint);
    this.#inflight.set(key, { result: p, fingerprint });
    try {
      return await p;
    } finally {
      this.#inflight.delete(key);
    }
  }

  async #submit(
    cmd: SubmitOrder & { request: OrderRequest & { client_order_id: string } },
    fingerprint: OrderFingerprint,
  ): Promise<SubmitResult> {
    const { tenant, request } = cmd;
    const userId = tenant.userId;
    const broker = this.brokerFor(userId);
    const now = this.#deps.clock.now();
    // What the venue says (asset, prices, account) is fetched while the ledger is read.
    const market = this.#market(broker, userId, request.symbol);
    market.catch(() => {});

    const audit = (e: Omit<AuditEntry, "userId">): AuditEntry => ({
      userId,
      botId: cmd.botId ?? null,
      clientOrderId: request.client_order_id,
      correlationId: cmd.correlationId,
      causationId: cmd.causationId ?? null,
      ...e,
    });

    // One transaction: the risk snapshot is read, then (if validation and risk pass) the order
    // row and its audit rows are written with COMMIT — all before anything reaches the broker.
    let outcome:
      | { kind: "existing"; id: string }
      | { kind: "denied"; error: TradeError }
      | { kind: "raced" }
      | {
        kind: "placed";
        order: Order;
        sent: { seq: string; ts: Date };
        warnings: RiskNotice[];
      };
    // The earlier attempt under this client order id that never reached the venue, if any:
    // its id is free again, and this order retries it.
    let retryOf: string | null = null;
    let retryBotId: string | null = null;
    try {
      outcome = await withTenant(this.#deps.sql, tenant, async (tx, finish) => {
        const snap = await this.#readSnapshot(tx, request.client_order_id, cmd.botId ?? null, now);
        retryOf = null;
        if (snap.existing) {
          const existing = snap.existing as unknown as Record<string, unknown>;
          if (retryable(existing as unknown as RetryCandidate)) {
            retryOf = String(existing.id);
            retryBotId = (existing.bot_id as string | null) ?? null;
          } else {
            const conflict = await this.#keyConflict(tx, existing, fingerprint);
            return conflict
              ? { kind: "denied" as const, error: conflict }
              : { kind: "existing" as const, id: String(existing.id) };
          }
        }
        // Validation, then risk: the first failure is recorded (below, after this read-only
        // transaction ends) and thrown.
        const evaluated = await this.#evaluate(cmd, snap, broker, now, true, market).then(
          (evaluation) => ({ evaluation, error: evaluation.denial }),
          (e) => {
            // Refused before the rate was reached (an unknown asset): the attempt counts too.
            if (isTradeError(e)) {
              return {
                evaluation: null,
                error: this.#spend(this.#limiter, "orders", userId, snap, now) ?? e,
              };
            }
            throw e;
          },
        );
        if (evaluated.error || !evaluated.evaluation) {
          return { kind: "denied" as const, error: evaluated.error! };
        }
        const evaluation = evaluated.evaluation;

        const { order } = createOrder(request, {
          ids: this.#deps.ids,
          tsMs: now,
          assetId: evaluation.asset.id,
          status: "accepted",
        });
        // A retry first takes the attempt's key (its row stays locked until COMMIT, so a racing
        // retry waits here and then finds it taken); the unique index holds one live order.
        if (retryOf && !(await markRetried(tx, retryOf, order.id))) {
          return { kind: "raced" as const };
        }
        // One socket write: the order row, its audit rows and COMMIT are pipelined.
        const inserting = insertOrder(tx, order, {
          userId,
          botId: cmd.botId ?? null,
          broker: this.#deps.venue.name,
          correlationId: cmd.correlationId,
          request: fingerprint as unknown as Record<string, unknown>,
          retryOf,
          ...(cmd.bookPlan ? { bookPlan: cmd.bookPlan } : {}),
        });
        inserting.catch(() => {});
        // Write-ahead: SENT commits before the order leaves. If the process dies before it
        // reaches the venue, reconciliation finds no such order there and rejects it.
        const auditing = appendAudits(tx, [
          // The earlier attempt's trail ends with the order that took its client order id.
          ...(retryOf
            ? [audit({
              orderId: retryOf,
              botId: retryBotId,
              action: "RETRIED",
              status: "ok",
              reason: `Retried by order "${order.id}" under the same client_order_id`,
              payload: { retried_by: order.id },
            })]
            : []),
          audit({
            orderId: order.id,
            action: "SUBMITTED",
            status: "ok",
            payload: {
              request: requestJson(request),
              source: cmd.botId ? "bot" : "api",
              ...(retryOf ? { retry_of: retryOf } : {}),
              ...(cmd.bookPlan ? { books: cmd.bookPlan } : {}),
            },
          }),
          audit({
            orderId: order.id,
            action: "VALIDATED",
            status: "ok",
            payload: {
              ref_price: evaluation.refPrice.toString(),
              session: evaluation.session,
              exposure: JSON.parse(JSON.stringify(evaluation.exposure)),
              // Answered with the order, and read back when its client order id is replayed.
              warnings: evaluation.warnings,
              recommendations: evaluation.recommendations,
            },
          }),
          audit({
            orderId: order.id,
            action: "SENT",
            status: "ok",
            // Streamed as order.accepted: Tradewind holds the order and is sending it.
            payload: { broker: this.#deps.venue.name, event: "accepted" },
          }),
        ]);
        auditing.catch(() => {});
        const [, receipts] = await finish(Promise.all([inserting, auditing]));
        return {
          kind: "placed" as const,
          order,
          sent: receipts[receipts.length - 1]!,
          warnings: evaluation.warnings,
        };
      });
    } catch (e) {
      if ((e as { code?: string }).code === "23505") {
        // Another engine process took this client order id first: answer its order.
        const found = await withTenant(this.#deps.sql, tenant, async (tx) => {
          const row = await findOrderByClientId(tx, request.client_order_id);
          const conflict = row
            ? await this.#keyConflict(tx, row as unknown as Record<string, unknown>, fingerprint)
            : null;
          return row ? { id: row.id, conflict } : null;
        });
        if (found?.conflict) {
          await this.#deny(tenant, audit, request, found.conflict);
          throw found.conflict;
        }
        if (found) return await this.#replayed(tenant, found.id);
      }
      throw e;
    }
    if (outcome.kind === "existing") return await this.#replayed(tenant, outcome.id);
    if (outcome.kind === "raced") {
      // Another engine process retried this attempt first: judge this request against its order.
      return await this.#submit(cmd, fingerprint);
    }
    if (outcome.kind === "denied") {
      await this.#deny(tenant, audit, request, outcome.error);
      throw outcome.error;
    }
    const { order, warnings } = outcome;
    const retried = retryOf as string | null;
    const linked = retried ? { retryOf: retried } : {};
    // Recorded: announced before anything the venue answers.
    this.#publish(
      userId,
      outcome.sent.seq,
      "accepted",
      order,
      null,
      cmd.correlationId,
      outcome.sent.ts,
      cmd.botId ?? null,
    );

    let sent: Order;
    this.#watching.add(order.id);
    const liveKey = `${userId}\u0000${order.client_order_id}`;
    if (order.order_class === "" || order.order_class === "simple") {
      this.#live.set(liveKey, {
        order,
        botId: cmd.botId ?? null,
        correlationId: cmd.correlationId,
      });
    }
    try {
      sent = await broker.submitOrder(request);
    } catch (e) {
      this.#watching.delete(order.id);
      this.#known.delete(order.id);
      this.#live.delete(liveKey);
      if (e instanceof AmbiguousSubmitError) {
        return { ...await this.#recover(tenant, order, cmd, e), warnings, ...linked };
      }
      const reason = isTradeError(e) ? await this.#withLedgerIds(tenant, e) : null;
      // Refused before it left (the breaker was open): provably never at the venue.
      const notSent = !reason && e instanceof BrokerUnavailableError;
      await this.#enqueueAndWait(
        userId,
        () =>
          this.#reject(
            tenant,
            order.id,
            cmd,
            reason?.code ?? (notSent ? "NOT_SENT" : "BROKER_UNAVAILABLE"),
            {
              message: (reason ?? e as Error).message,
              ...(reason ? { alpaca_code: reason.alpacaCode } : {}),
            },
          ),
      );
      if (notSent) {
        throw new BrokerUnavailableError(
          `${(e as Error).message}; it is safe to retry with the same client_order_id`,
          { order_id: order.id, client_order_id: order.client_order_id },
        );
      }
      throw reason ?? e;
    }
    const simple = sent.order_class === "" || sent.order_class === "simple";
    await this.#enqueueAndWait(userId, async () => {
      // Events queued before this task have run; the row may change from here on.
      this.#live.delete(liveKey);
      // The venue's events may already have recorded everything its answer says.
      if (!(simple && this.#known.has(order.id))) {
        await this.#acknowledge(tenant, order.id, sent, cmd, null);
      }
    });
    this.#watching.delete(order.id);
    const seen = this.#known.get(order.id);
    this.#known.delete(order.id);
    if (simple && seen) return { order: seen, created: true, pending: false, warnings, ...linked };
    return {
      order: await this.orderView(tenant, order.id),
      created: true,
      pending: false,
      warnings,
      ...linked,
    };
  }

  /**
   * A replayed client order id: the existing order, with the warnings it was placed with (its
   * VALIDATED audit row; none for an order Tradewind did not place, such as an adopted one).
   */
  async #replayed(tenant: Tenant, orderId: string): Promise<SubmitResult> {
    const [order, warnings] = await Promise.all([
      this.orderView(tenant, orderId),
      withTenant(this.#deps.sql, tenant, (tx) => placementWarnings(tx, orderId)),
    ]);
    return { order, created: false, pending: false, warnings };
  }

  /**
   * Null when `existing` (an order row, as JSON or as read) was placed with the same request as
   * `fingerprint`; otherwise the CLIENT_ORDER_ID_CONFLICT to answer. An order that provably
   * never reached the venue holds no key (`retryable`, core/order_retry.ts): callers check that
   * first.
   */
  async #keyConflict(
    tx: TransactionSql,
    existing: Record<string, unknown>,
    fingerprint: OrderFingerprint,
  ): Promise<TradeError | null> {
    const id = String(existing.id);
    let differences;
    if (existing.request) {
      differences = fingerprintDifferences(existing.request as OrderFingerprint, fingerprint);
    } else {
      // Recorded without a fingerprint (older rows, adopted orders): compare its own fields.
      const row = await findOrder(tx, id);
      if (!row) return null;
      differences = fingerprintDifferences(fingerprintOfOrder(rowToOrder(row)), fingerprint, {
        lenient: true,
      });
    }
    return differences.length === 0
      ? null
      : clientOrderIdConflict(String(existing.client_order_id), id, differences);
  }

  /** What `POST /orders/validate` says about an order, placing nothing. */
  async validate(cmd: SubmitOrder): Promise<ValidationReport> {
    const now = this.#deps.clock.now();
    const broker = this.brokerFor(cmd.tenant.userId);
    const snap = await this.#snapshot(
      cmd.tenant,
      cmd.request.client_order_id ?? "",
      cmd.botId ?? null,
      now,
    );
    const limited = this.#spend(this.#checks, "validations", cmd.tenant.userId, snap, now);
    if (limited) throw limited;
    try {
      const ev = await this.#evaluate(cmd, snap, broker, now, false);
      const conflict = snap.existing && !retryable(snap.existing as unknown as RetryCandidate)
        ? await withTenant(
          this.#deps.sql,
          cmd.tenant,
          (tx) =>
            this.#keyConflict(
              tx,
              snap.existing as unknown as Record<string, unknown>,
              orderFingerprint(cmd.request),
            ),
        )
        : null;
      const errors = [...(conflict ? [conflict] : []), ...ev.allDenials].map((d) => ({
        code: d.code,
        message: d.message,
        details: d.details,
      }));
      return {
        valid: errors.length === 0,
        errors,
        warnings: ev.warnings,
        recommendations: ev.recommendations,
      };
    } catch (e) {
      if (!isTradeError(e)) throw e;
      return {
        valid: false,
        errors: [{ code: e.code, message: e.message, details: e.details }],
        warnings: [],
        recommendations: [],
      };
    }
  }

  /**
   * Takes a slot of a per-minute budget of `max_orders_per_minute`: `#limiter` for orders,
   * `#checks` for validations (their own budget, beside the orders one). Answers the 429
   * `RATE_LIMITED` error beyond it, else null. Writes nothing.
   */
  #spend(
    limiter: SlidingWindowLimiter,
    what: "orders" | "validations",
    userId: string,
    snap: RiskSnapshot,
    now: number,
  ): TradeError | null {
    const perMinute = effectiveLimits(
      this.#deps.defaultLimits,
      limitLayersOf(snap.user_limits),
      snap.bot_limits ? limitsFromStored(snap.bot_limits) : null,
    ).max_orders_per_minute ?? null;
    if (perMinute === null) return null;
    const d = limiter.tryAcquire(userId, perMinute, now);
    if (d.allowed) return null;
    const seconds = Math.max(1, Math.ceil(d.retryAfterMs / 1000));
    return new TradeError(
      "RATE_LIMITED",
      `Cannot ${
        what === "orders" ? "place" : "validate"
      } order: ${d.count} ${what} in the last minute reach limit ${d.limit}; retry in ${seconds} s`,
      {
        details: {
          rule: "max_orders_per_minute",
          limit: String(d.limit),
          actual: String(d.count),
          retry_after_seconds: String(seconds),
          retry_after_ms: String(d.retryAfterMs),
        },
      },
    );
  }

  async #snapshot(tenant: Tenant, clientOrderId: string, botId: string | null, now: number) {
    const snap = await withTenant(
      this.#deps.sql,
      tenant,
      (tx, finish) => this.#readSnapshot(tx, clientOrderId, botId, now, finish),
    );
    if (snap.existing) {
      // A replayed client order id (rare): read the row properly (exact numerics, Dates).
      const e = snap.existing as unknown as Record<string, unknown>;
      snap.existing = await withTenant(this.#deps.sql, tenant, (tx) => findOrder(tx, String(e.id)));
    }
    return snap;
  }

  /**
   * What risk needs from the ledger, in one statement within the caller's tenant transaction
   * (`existing` is the row as JSON). Queued at once, so it travels with BEGIN.
   */
  async #readSnapshot(
    tx: TransactionSql,
    clientOrderId: string,
    botId: string | null,
    now: number,
    finish: <R>(last: Promise<R>) => Promise<R> = (last) => last,
  ): Promise<RiskSnapshot> {
    const dayStart = etToEpochMs(toEt(now).dateStr, "00:00");
    const open = OPEN as string[];
    // Numerics travel as text inside the JSON: a JSON number would print 1e-7 for a residual
    // position, or lose digits past a float's sixteen.
    const [row] = await finish(tx<RiskSnapshot[]>`
        select
          (select row_to_json(o) from orders o
             where client_order_id = ${clientOrderId} and retried_by is null) as existing,
          (select coalesce(json_agg(json_build_object('symbol', symbol, 'qty', qty::text)), '[]')
             from positions) as positions,
          (select coalesce(json_object_agg(symbol, q::text), '{}') from (
             select symbol, sum(case when side = 'buy' then 1 else -1 end
                                * (coalesce(qty, 0) - filled_qty)) as q
             from orders where parent_id is null and status = any(${open})
             group by symbol) p) as pending,
          (select count(distinct order_id)::int from fills where ts >= ${new Date(dayStart)})
            as trades_today,
          (select coalesce(sum(realized_pl), 0)::text from trades
             where closed_at >= ${new Date(dayStart)}) as realized_today,
          (select json_object_agg(
                    r.layer,
                    (select json_object_agg(k, v) from json_each_text(row_to_json(r)) e(k, v)))
             from risk_limits r
             where r.user_id = tradewind_user_id() and r.bot_id is null) as user_limits,
          (select (select json_object_agg(k, v) from jsonb_each_text(b.config -> 'risk') e(k, v))
             from bots b
             where b.id = ${botId} and b.user_id = tradewind_user_id()) as bot_limits,
          (select json_build_object(
             'positions', (select coalesce(json_agg(json_build_object(
                              'symbol', symbol, 'qty', qty::text, 'cost', cost_basis::text)), '[]')
                           from books where bot_id = ${botId} and qty <> 0),
             'pending', (select coalesce(json_object_agg(symbol, q::text), '{}') from (
                           select symbol, sum(case when side = 'buy' then 1 else -1 end
                                              * (coalesce(qty, 0) - filled_qty)) as q
                           from orders where bot_id = ${botId} and parent_id is null
                             and status = any(${open})
                           group by symbol) p),
             'trades_today', (select count(distinct f.order_id)::int from fills f
                              join orders o on o.id = f.order_id
                              where o.bot_id = ${botId} and f.ts >= ${new Date(dayStart)}),
             'realized_today', (select coalesce(sum(realized_pl), 0)::text from trades
                                where bot_id = ${botId} and closed_at >= ${new Date(dayStart)}))
           where ${botId}::uuid is not null) as bot_book,
          (select state from trading_states where user_id = tradewind_user_id()
             order by case state when 'halted' then 0 when 'reducing' then 1 else 2 end
             limit 1) as state`.execute());
    return row!;
  }

  async #evaluate(
    cmd: SubmitOrder,
    snap: RiskSnapshot,
    broker: Broker,
    now: number,
    consumeRate: boolean,
    market?: Promise<MarketView>,
  ) {
    const { request, tenant } = cmd;
    const { asset, trade, quote, account } = await (market ??
      this.#market(broker, tenant.userId, request.symbol));
    const md = this.#deps.venue.marketData;
    const refPrice = Decimal.parse(String(trade.p));
    const session = this.#deps.venue.session(now);

    // Ledger positions, marked at the last trade, with sectors for concentration.
    const positions: Record<string, RiskPosition> = {};
    const held = [
      ...new Set([...snap.positions, ...snap.bot_book?.positions ?? []].map((p) => p.symbol)),
    ];
    const marks = held.length ? await md.latestTrades(held) : {};
    for (const p of snap.positions) {
      const qty = Decimal.parse(String(p.qty));
      const mark = marks[p.symbol] ? Decimal.parse(String(marks[p.symbol]!.p)) : Decimal.ZERO;
      const a = await this.#asset(broker, p.symbol).catch(() => null);
      positions[p.symbol] = {
        qty,
        market_value: qty.mul(mark),
        ...(a ? { sector: a.sector } : {}),
      };
    }
    const pendingQty: Record<string, Decimal> = {};
    for (const [s, q] of Object.entries(snap.pending)) pendingQty[s] = Decimal.parse(String(q));
    const positionQty = positions[asset.symbol]?.qty ?? Decimal.ZERO;
    const orderQty = request.qty ?? null;
    const shortSale = request.side === "sell" && orderQty !== null &&
      positionQty.sub(orderQty).isNegative();

    const denials: TradeError[] = [];
    const validation = validateOrder(request, asset, {
      lastPrice: refPrice,
      session,
      shortSale,
    });
    if (validation) denials.push(validation);

    // Buying power for opening orders (buys that do not cover a short, and short sales).
    const opening = request.side === "buy" ? !positionQty.isNegative() : shortSale;
    if (!validation && opening) {
      const cost = orderCostBasis(request, refPrice, { shortSale });
      if (cost.gt(account.buying_power)) {
        denials.push(tradeErrors.insufficientBuyingPower(cost, account.buying_power));
      }
    }

    const limits = effectiveLimits(
      this.#deps.defaultLimits,
      limitLayersOf(snap.user_limits),
      snap.bot_limits ? limitsFromStored(snap.bot_limits) : null,
    );
    // A bot's order is judged twice: the account (the sum of its books) against the owner's
    // limits, and the bot's own book against the bot's (core/books.ts).
    const accountLimits = cmd.botId
      ? effectiveLimits(this.#deps.defaultLimits, limitLayersOf(snap.user_limits), null)
      : limits;
    const perMinute = limits.max_orders_per_minute ?? null;
    // Every attempt counts, denied or not: a denial costs a ledger write too.
    const rate = perMinute === null
      ? undefined
      : consumeRate
      ? this.#limiter.tryAcquire(tenant.userId, perMinute, now)
      : this.#limiter.peek(tenant.userId, perMinute, now);
    const accountContext = {
      request,
      asset,
      refPrice,
      account,
      positions,
      pendingQty,
      tradesToday: snap.trades_today,
      realizedPlToday: Decimal.parse(snap.realized_today),
      state: snap.state ?? "active",
      limits: accountLimits,
      ...(rate ? { rate } : {}),
    };
    const risk = evaluateRisk(accountContext);
    const book = cmd.botId && snap.bot_book
      ? evaluateBookRisk(accountContext, this.#bookFacts(cmd.botId, snap.bot_book, marks), limits)
      : null;
    // A halt or the rate outranks a rule; otherwise validation comes first.
    const severe = risk.denials.filter((d) => d.status !== 422);
    const ordered = [
      ...severe,
      ...denials,
      ...risk.denials.filter((d) => d.status === 422),
      ...(book?.denials ?? []),
    ];
    // The one list of warnings: what validate answers is what a placed order carries.
    const advice = validationAdvice({
      request,
      refPrice,
      positions,
      pendingQty,
      account,
      session,
      ...(quote
        ? { quote: { bid: Decimal.parse(String(quote.bp)), ask: Decimal.parse(String(quote.ap)) } }
        : {}),
      priceBandPct: limits.price_band_pct ?? null,
    });
    return {
      asset,
      refPrice,
      session,
      denial: ordered[0] ?? null,
      allDenials: ordered,
      warnings: [...advice.warnings, ...risk.warnings, ...book?.warnings ?? []],
      recommendations: advice.recommendations,
      exposure: risk.exposure,
    };
  }

  /** A bot's book as risk reads it: its positions marked at the last trade, its P&L today. */
  #bookFacts(
    botId: string,
    book: NonNullable<RiskSnapshot["bot_book"]>,
    marks: Record<string, { p: number }>,
  ): BookRiskFacts {
    const positions: Record<string, RiskPosition> = {};
    let unrealizedPl = Decimal.ZERO;
    for (const p of book.positions) {
      const qty = Decimal.parse(p.qty);
      const mark = marks[p.symbol] ? Decimal.parse(String(marks[p.symbol]!.p)) : null;
      const value = mark ? qty.mul(mark) : Decimal.ZERO;
      positions[p.symbol] = { qty, market_value: value };
      if (mark) unrealizedPl = unrealizedPl.add(value.sub(Decimal.parse(p.cost)));
    }
    const pendingQty: Record<string, Decimal> = {};
    for (const [s, q] of Object.entries(book.pending)) pendingQty[s] = Decimal.parse(String(q));
    return {
      botId,
      positions,
      pendingQty,
      tradesToday: book.trades_today,
      realizedPlToday: Decimal.parse(book.realized_today),
      unrealizedPl,
    };
  }

  /** The asset, its last trade and quote, and the account: what evaluation needs from the venue. */
  async #market(broker: Broker, userId: string, symbol: string): Promise<MarketView> {
    const asset = await this.#asset(broker, symbol);
    const md = this.#deps.venue.marketData;
    const [trade, quote, account] = await Promise.all([
      md.latestTrade(asset.symbol),
      md.latestQuote(asset.symbol).catch(() => null),
      this.#account(userId, broker),
    ]);
    return { asset, trade, quote, account };
  }

  async #deny(
    tenant: Tenant,
    audit: (e: Omit<AuditEntry, "userId">) => AuditEntry,
    request: OrderRequest,
    error: TradeError,
  ): Promise<void> {
    // A refused burst must not become a burst of ledger writes: one row per user per window
    // for the rate limit, counting the refusals it stands for.
    let skipped = 0;
    if (error.code === "RATE_LIMITED") {
      const gate = this.#rateAudits.take(tenant.userId, this.#deps.clock.now());
      if (!gate.first) return;
      skipped = gate.skipped;
    }
    // What a denial records is bounded, whatever the request held.
    await withTenant(this.#deps.sql, tenant, (tx) =>
      appendAudit(
        tx,
        audit({
          action: "DENIED",
          status: error.code,
          reason: cutText(error.message, 500),
          payload: {
            rule: error.code,
            details: boundedEcho(JSON.parse(JSON.stringify(error.details))),
            request: boundedEcho(requestJson(request)),
            ...(error.code === "RATE_LIMITED" ? { unrecorded_refusals: skipped } : {}),
          },
        }),
      ));
    this.#log("info", "Order denied", { code: error.code, user: tenant.userId });
  }

  async #reject(
    tenant: Tenant,
    orderId: string,
    cmd: Pick<SubmitOrder, "correlationId" | "botId">,
    code: string,
    payload: Record<string, unknown>,
    status: "rejected" | "canceled" = "rejected",
  ): Promise<void> {
    const published = await withTenant(this.#deps.sql, tenant, async (tx) => {
      const row = await findOrder(tx, orderId);
      if (!row || isTerminal(row.status as OrderStatus)) return null;
      const now = this.#deps.clock.now();
      const order: Order = status === "canceled"
        ? { ...rowToOrder(row), status, canceled_at: now, updated_at: now }
        : { ...rowToOrder(row), status, failed_at: now, updated_at: now };
      await updateOrder(tx, order, { rejectReason: code });
      const receipt = await appendAudit(tx, {
        userId: tenant.userId,
        orderId,
        botId: cmd.botId ?? null,
        clientOrderId: row.client_order_id,
        action: status === "canceled" ? "RECONCILED" : "REJECTED",
        status: code,
        reason: String(payload.message ?? code),
        payload: { event: status, ...payload },
        // Reconciliation passes "" for an order recorded without one: the column is a uuid.
        correlationId: cmd.correlationId || null,
      });
      return { order, seq: receipt.seq, ts: receipt.ts };
    });
    if (published) {
      this.#publish(
        tenant.userId,
        published.seq,
        status,
        published.order,
        null,
        cmd.correlationId,
        published.ts,
        cmd.botId ?? null,
      );
    }
  }

  /** Records the broker's acknowledgement: its order id, and any pre-fill status. */
  async #acknowledge(
    tenant: Tenant,
    orderId: string,
    sent: Order,
    cmd: Pick<SubmitOrder, "correlationId" | "botId">,
    action: "RECOVERED" | null,
  ): Promise<void> {
    const broker = this.brokerFor(tenant.userId);
    const nested = sent.order_class === "bracket" || sent.order_class === "oco" ||
        sent.order_class === "oto"
      ? await broker.getOrder(sent.id, { nested: true }).catch(() => sent)
      : sent;
    const published = await withTenant(this.#deps.sql, tenant, async (tx) => {
      const row = await findOrder(tx, orderId);
      if (!row) return null;
      let order = rowToOrder(row);
      const status = sent.status;
      if (
        row.status !== status && PRE_FILL.includes(status) &&
        canTransition(row.status as OrderStatus, status)
      ) {
        order = { ...order, status, updated_at: this.#deps.clock.now() };
      }
      const changed = order.status !== row.status || row.broker_order_id !== sent.id;
      if (changed) await updateOrder(tx, order, { brokerOrderId: sent.id });
      for (const leg of nested.legs ?? []) await this.#ensureLeg(tx, tenant.userId, row, leg);
      // The venue's own events are audited as they arrive; only a recovery needs a row here.
      if (!action) return order.status !== row.status ? { order, seq: null, ts: null } : null;
      const receipt = await appendAudit(tx, {
        userId: tenant.userId,
        orderId,
        botId: row.bot_id,
        clientOrderId: row.client_order_id,
        action,
        status: status,
        payload: {
          event: "accepted",
          broker: this.#deps.venue.name,
          broker_order_id: sent.id,
          broker_status: status,
        },
        correlationId: cmd.correlationId,
      });
      return { order, seq: receipt.seq, ts: receipt.ts };
    });
    if (published?.seq) {
      this.#publish(
        tenant.userId,
        published.seq,
        "accepted",
        published.order,
        null,
        cmd.correlationId,
        published.ts ?? undefined,
        cmd.botId ?? null,
      );
    }
  }

  async #ensureLeg(
    tx: TransactionSql,
    userId: string,
    parent: OrderRow,
    leg: Order,
  ): Promise<OrderRow> {
    const existing = await findOrderByBrokerId(tx, leg.id);
    if (existing) return existing;
    return await this.#insertLinked(tx, userId, leg, parent, "leg");
  }

  /**
   * Records a venue order the ledger has not seen that belongs to a known order: a bracket
   * leg (`parent_id`) or a replacement (`replaces`). It inherits the bot and correlation id.
   */
  async #insertLinked(
    tx: TransactionSql,
    userId: string,
    venueOrder: Order,
    link: OrderRow,
    kind: "leg" | "replacement",
    correlationId: string | null = link.correlation_id,
  ): Promise<OrderRow> {
    const order: Order = {
      ...venueOrder,
      id: this.#deps.ids(),
      legs: null,
      parent_id: kind === "leg" ? link.id : link.parent_id,
      replaces: kind === "replacement" ? link.id : venueOrder.replaces,
    };
    await insertOrder(tx, order, {
      userId,
      botId: link.bot_id,
      broker: this.#deps.venue.name,
      brokerOrderId: venueOrder.id,
      correlationId,
    });
    return (await findOrder(tx, order.id))!;
  }

  /** A submit timed out: look the order up by client order id instead of resending it. */
  async #recover(
    tenant: Tenant,
    order: Order,
    cmd: SubmitOrder,
    error: AmbiguousSubmitError,
  ): Promise<Omit<SubmitResult, "warnings">> {
    const broker = this.brokerFor(tenant.userId);
    this.#log("warning", "Submit was ambiguous; resolving by client order id", {
      client_order_id: order.client_order_id,
      error: String(error.cause ?? error.message),
    });
    try {
      const found = await broker.getOrderByClientId(order.client_order_id);
      await this.#enqueueAndWait(
        tenant.userId,
        () => this.#acknowledge(tenant, order.id, found, cmd, "RECOVERED"),
      );
      return { order: await this.orderView(tenant, order.id), created: true, pending: false };
    } catch (e) {
      if (isTradeError(e) && e.code === "ORDER_NOT_FOUND") {
        // The venue never received it: nothing was placed, and we say so.
        await this.#enqueueAndWait(
          tenant.userId,
          () =>
            this.#reject(tenant, order.id, cmd, "BROKER_TIMEOUT", {
              message:
                "The venue did not receive the order (timed out, then not found by client order id)",
            }),
        );
        throw new BrokerUnavailableError(
          `The ${this.#deps.venue.name} venue did not answer in time and has no order "${order.client_order_id}": nothing was placed; it is safe to retry with the same client_order_id`,
          { order_id: order.id, client_order_id: order.client_order_id },
        );
      }
      // Still unknown: reconciliation will settle it. The order stays open in the ledger.
      return { order: await this.orderView(tenant, order.id), created: true, pending: true };
    }
  }

  // ---------------------------------------------------------------------------------------
  // Cancel, replace, close

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
    await withTenant(this.#deps.sql, tenant, (tx) =>
      appendAudit(tx, {
        userId: tenant.userId,
        orderId,
        botId: row.bot_id,
        clientOrderId: row.client_order_id,
        action: "CANCEL_REQUESTED",
        status: "ok",
        correlationId,
      }));
    await this.brokerFor(tenant.userId).cancelOrder(row.broker_order_id).catch(async (e) => {
      throw isTradeError(e) ? await this.#withLedgerIds(tenant, e) : e;
    });
  }

  /**
   * Cancels every open order of the user, exit legs of a filled bracket or oto included;
   * answers one result per order (200: cancel requested, else the error: the refusal, or 503
   * when the venue did not take that cancel, the others still tried). A venue cancels a
   * group's other orders with the one canceled, so a leg the venue already canceled with its
   * group counts as requested. The outcomes arrive as broker events.
   */
  async cancelAll(tenant: Tenant, correlationId: string): Promise<OrderCancelResult[]> {
    const rows = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) =>
        tx<OrderRow[]>`select * from orders where status = any(${OPEN as string[]})
                     order by (parent_id is not null), created_at, id`,
    );
    const results: OrderCancelResult[] = [];
    // Groups (by parent id) with a cancel already sent in this call.
    const sent = new Set<string>();
    for (const row of rows) {
      const group = row.parent_id ?? row.id;
      if (row.status === "pending_cancel") {
        // Already being canceled: nothing more to ask of the venue.
        results.push({ id: row.id, symbol: row.symbol, status: 200 });
        continue;
      }
      try {
        await this.cancel(tenant, row.id, correlationId);
        sent.add(group);
        results.push({ id: row.id, symbol: row.symbol, status: 200 });
      } catch (e) {
        if (e instanceof BrokerUnavailableError) {
          // The venue did not take this cancel: say so for this order and go on with the rest.
          results.push({
            id: row.id,
            symbol: row.symbol,
            status: e.status,
            error: { code: e.code, message: e.message },
            alpaca: e.toAlpacaBody(),
          });
          continue;
        }
        if (!isTradeError(e)) throw e;
        if (e.code === "ORDER_NOT_CANCELABLE" && sent.has(group) && row.broker_order_id) {
          results.push({ id: row.id, symbol: row.symbol, status: 200 });
          continue;
        }
        results.push({
          id: row.id,
          symbol: row.symbol,
          status: e.status,
          error: { code: e.code, message: e.message },
          alpaca: e.toAlpacaBody(),
        });
      }
    }
    return results;
  }

  /**
   * Replaces an open order; answers the new order (new id, `replaces` = the old id) and the
   * warnings of its validation (also on its REPLACE_REQUESTED audit row).
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
    const audit = (e: Omit<AuditEntry, "userId">): AuditEntry => ({
      userId: tenant.userId,
      orderId,
      botId: row.bot_id,
      clientOrderId: row.client_order_id,
      correlationId,
      causationId: null,
      ...e,
    });
    // A replace is a new order: the same validation and risk as a submit. A denial leaves the
    // order as it was and is recorded on its trail.
    const next = replacementRequest(current, request);
    const evaluated = await this.#evaluateReplace(tenant, row, next, correlationId, broker)
      .catch((e) => {
        if (isTradeError(e)) return { denial: e, refPrice: null, exposure: null, warnings: [] };
        throw e;
      });
    if (evaluated.denial) {
      await this.#deny(tenant, audit, next, evaluated.denial);
      throw evaluated.denial;
    }
    // Write-ahead, as for SENT: the request is on record before it leaves.
    await withTenant(this.#deps.sql, tenant, (tx) =>
      appendAudit(
        tx,
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
      ));
    const replacement = await broker.replaceOrder(row.broker_order_id, request).catch(
      async (e) => {
        throw isTradeError(e) ? await this.#withLedgerIds(tenant, e) : e;
      },
    );
    const newId = await this.#enqueueAndWait(tenant.userId, async () => {
      const out = await withTenant(this.#deps.sql, tenant, async (tx) => {
        const mine = await findOrderByBrokerId(tx, replacement.id) ??
          await this.#insertLinked(
            tx,
            tenant.userId,
            replacement,
            row,
            "replacement",
            correlationId,
          );
        await tx`update orders set replaced_by = ${mine.id} where id = ${orderId} and replaced_by is null`;
        return mine.id;
      });
      return out;
    });
    return { order: await this.orderView(tenant, newId), warnings: evaluated.warnings };
  }

  /**
   * The venue's error with every order id it names (`existing_order_id`, `order_id`,
   * `related_orders`, and in the messages) replaced by Tradewind's id of that order, so a
   * trader is never handed an id no route knows. Ids the ledger does not know stay as they are.
   */
  async #withLedgerIds(tenant: Tenant, error: TradeError): Promise<TradeError> {
    const named = new Set<string>();
    const collect = (bag: Record<string, unknown>) => {
      for (const key of ["existing_order_id", "order_id"]) {
        if (typeof bag[key] === "string") named.add(bag[key] as string);
      }
      if (Array.isArray(bag.related_orders)) {
        for (const id of bag.related_orders) if (typeof id === "string") named.add(id);
      }
    };
    collect(error.details);
    collect(error.alpacaExtra as Record<string, unknown>);
    if (named.size === 0) return error;
    const rows = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) =>
        tx<{ id: string; broker_order_id: string }[]>`
          select id, broker_order_id from orders where broker_order_id = any(${[...named]})`,
    );
    if (rows.length === 0) return error;
    const ids = new Map(rows.map((r) => [r.broker_order_id, r.id]));
    const swap = (v: unknown): unknown =>
      typeof v === "string" ? ids.get(v) ?? v : Array.isArray(v) ? v.map(swap) : v;
    const mapBag = <T extends object>(bag: T): T =>
      Object.fromEntries(Object.entries(bag).map(([k, v]) => [k, swap(v)])) as T;
    let message = error.message;
    let alpacaMessage = error.alpacaMessage;
    for (const [venueId, id] of ids) {
      message = message.replaceAll(venueId, id);
      alpacaMessage = alpacaMessage.replaceAll(venueId, id);
    }
    return new TradeError(error.code, message, {
      details: mapBag({ ...error.details }),
      alpacaCode: error.alpacaCode,
      alpacaMessage,
      alpacaExtra: mapBag({ ...error.alpacaExtra }),
      cause: error,
    });
  }

  /**
   * Validation and risk of a replacement (`next`, the request for the qty still to fill) as for
   * a new order, with the replaced order's own exposure taken out: its open qty leaves the
   * pending figures, and what it holds of buying power is available to its replacement (the
   * venue holds the larger of the two, not both). A client order id already in use is refused.
   */
  async #evaluateReplace(
    tenant: Tenant,
    row: OrderRow,
    next: OrderRequest,
    correlationId: string,
    broker: Broker,
  ) {
    const now = this.#deps.clock.now();
    const current = rowToOrder(row);
    const snap = await this.#snapshot(tenant, next.client_order_id ?? "", row.bot_id, now);
    if (snap.existing) {
      throw tradeErrors.duplicateClientOrderId(next.client_order_id!, snap.existing.id);
    }
    const old = openRequest(current);
    const oldQty = old.qty ?? Decimal.ZERO;
    if (current.parent_id === null) {
      const signed = current.side === "buy" ? oldQty : oldQty.neg();
      const pending = Decimal.parse(String(snap.pending[current.symbol] ?? "0"));
      snap.pending = { ...snap.pending, [current.symbol]: pending.sub(signed).toString() };
    }
    const market = await this.#market(broker, tenant.userId, current.symbol);
    const held = snap.positions.find((p) => p.symbol === market.asset.symbol);
    const positionQty = held ? Decimal.parse(String(held.qty)) : Decimal.ZERO;
    const oldShort = current.side === "sell" && positionQty.sub(oldQty).isNegative();
    const oldOpening = current.side === "buy" ? !positionQty.isNegative() : oldShort;
    const holds = oldOpening
      ? orderCostBasis(old, Decimal.parse(String(market.trade.p)), { shortSale: oldShort })
      : Decimal.ZERO;
    const view: MarketView = {
      ...market,
      account: { ...market.account, buying_power: market.account.buying_power.add(holds) },
    };
    const ev = await this.#evaluate(
      { tenant, request: next, botId: row.bot_id, correlationId },
      snap,
      broker,
      now,
      true,
      Promise.resolve(view),
    );
    return {
      denial: ev.denial,
      refPrice: ev.refPrice,
      exposure: ev.exposure,
      warnings: ev.warnings,
    };
  }

  /**
   * Closes all, `qty`, or `percentage` (0–100) of a position with a market order through the
   * same {@link submit} path. A percentage of a whole-share position rounds down to whole
   * shares. Throws POSITION_NOT_FOUND (404).
   */
  async closePosition(
    tenant: Tenant,
    symbol: string,
    options: { qty?: Decimal; percentage?: Decimal },
    correlationId: string,
  ): Promise<SubmitResult & { books: BookPlanItem[] }> {
    const upper = symbol.toUpperCase();
    const [[pos], books] = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) =>
        Promise.all([
          tx<{ qty: string }[]>`select qty from positions where symbol = ${upper}`,
          listBooks(tx, { symbol: upper }),
        ]),
    );
    if (!pos || Decimal.parse(pos.qty).isZero()) throw tradeErrors.positionNotFound(upper);
    const held = Decimal.parse(pos.qty);
    let qty = held.abs();
    if (options.qty) {
      if (options.qty.gt(qty)) {
        throw new TradeError(
          "INSUFFICIENT_QTY",
          `Cannot close ${options.qty} of "${upper}": the position is ${qty}`,
          { details: { requested: options.qty.toString(), available: qty.toString() } },
        );
      }
      qty = options.qty;
    } else if (options.percentage) {
      qty = qty.mul(options.percentage).div(Decimal.int(100));
      if (held.isInteger()) qty = qty.round(0, "floor");
      if (qty.isZero()) {
        throw new TradeError(
          "INVALID_REQUEST",
          `Cannot close ${options.percentage}% of "${upper}": that is less than one share`,
        );
      }
    }
    // Closing it all flattens every book in the symbol (the manual one takes what the books do
    // not explain); a partial close is a manual order like any other, for the manual book.
    const plan: BookPlanItem[] = [];
    if (!options.qty && !options.percentage) {
      const explained = books.reduce((s, b) => s.add(Decimal.parse(b.qty)), Decimal.ZERO);
      const owners = books.map((b) => ({ botId: b.bot_id, qty: Decimal.parse(b.qty) }));
      const manual = owners.find((b) => b.botId === null);
      if (manual) manual.qty = manual.qty.add(held.sub(explained));
      else owners.unshift({ botId: null, qty: held.sub(explained) });
      for (const m of flattenMoves(owners)) {
        plan.push({ bot_id: m.botId, side: m.side, qty: m.qty.toString() });
      }
    }
    const result = await this.submit({
      tenant,
      correlationId,
      request: {
        symbol: upper,
        qty,
        side: held.isPositive() ? "sell" : "buy",
        type: "market",
        time_in_force: "day",
      },
      ...(plan.length > 0 ? { bookPlan: plan } : {}),
    });
    return {
      ...result,
      books: plan.length > 0
        ? plan
        : [{ bot_id: null, side: result.order.side, qty: qty.toString() }],
    };
  }

  /**
   * Closes every position. With `cancelOrders`, first cancels every open order (legs
   * included) and waits, at most `cancelConfirmMs`, until the ledger has them closed: a
   * position whose orders are still open is not closed (409 ORDERS_STILL_OPEN), since a live
   * exit order could fill after the close and open the opposite position. Answers one item per
   * symbol that had a position or a canceled order, sorted, each with its orders' results.
   */
  async closeAll(
    tenant: Tenant,
    cancelOrders: boolean,
    correlationId: string,
  ): Promise<CloseAllItem[]> {
    const canceled = cancelOrders ? await this.cancelAll(tenant, correlationId) : [];
    // Only the cancels sent are waited for; an order whose cancel failed is checked as it is.
    const open = await this.#awaitClosed(
      tenant,
      canceled.map((c) => c.id),
      canceled.filter((c) => c.status === 200).map((c) => c.id),
    );
    const rows = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) => tx<{ symbol: string }[]>`select symbol from positions where qty <> 0 order by symbol`,
    );
    const held = new Set(rows.map((r) => r.symbol));
    const symbols = [...new Set([...held, ...canceled.map((c) => c.symbol)])].sort();
    const out: CloseAllItem[] = [];
    for (const symbol of symbols) {
      const orders = canceled.filter((c) => c.symbol === symbol);
      if (!held.has(symbol)) {
        const failed = orders.find((o) => o.status !== 200);
        out.push({ symbol, status: failed?.status ?? 200, orders });
        continue;
      }
      const stillOpen = orders.filter((o) => open.has(o.id)).map((o) => o.id);
      if (stillOpen.length > 0) {
        const e = new TradeError(
          "ORDERS_STILL_OPEN",
          `Cannot close position "${symbol}": its open orders ${
            stillOpen.map((id) => `"${id}"`).join(", ")
          } are not canceled yet; try again shortly`,
          { details: { symbol, order_ids: stillOpen } },
        );
        out.push({ symbol, status: e.status, error: { code: e.code, message: e.message }, orders });
        continue;
      }
      try {
        const r = await this.closePosition(tenant, symbol, {}, correlationId);
        out.push({ symbol, status: 200, order: r.order, books: r.books, orders });
      } catch (e) {
        if (!isTradeError(e)) throw e;
        out.push({ symbol, status: e.status, error: { code: e.code, message: e.message }, orders });
      }
    }
    return out;
  }

  /**
   * Waits until the ledger has none of the `awaited` orders open (their venue events applied),
   * at most `cancelConfirmMs`; answers which of `ids` are still open then.
   */
  async #awaitClosed(tenant: Tenant, ids: string[], awaited: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const userId = tenant.userId;
    const deadline = this.#deps.clock.now() + (this.#deps.cancelConfirmMs ?? 5_000);
    while (true) {
      // Venue events received so far are written once this no-op takes its turn.
      await this.#enqueueAndWait(userId, () => Promise.resolve());
      const rows = await withTenant(
        this.#deps.sql,
        tenant,
        (tx) =>
          tx<{ id: string }[]>`select id from orders
                             where id = any(${ids}) and status = any(${OPEN as string[]})`,
      );
      const left = this.#deps.clock.now() < deadline ? deadline - this.#deps.clock.now() : 0;
      if (left === 0 || !rows.some((r) => awaited.includes(r.id))) {
        return new Set(rows.map((r) => r.id));
      }
      await new Promise<void>((resolve) => {
        let waiters = this.#changed.get(userId);
        if (!waiters) this.#changed.set(userId, waiters = new Set());
        const stop = this.#deps.clock.setTimer(done, left);
        function done() {
          stop();
          waiters!.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
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
    this.#enqueue(userId, () => {
      const batch = this.#pendingUpdates.get(userId) ?? [];
      this.#pendingUpdates.delete(userId);
      return this.#applyUpdates(userId, batch);
    });
  }

  async #applyUpdates(userId: string, updates: TradeUpdate[]): Promise<void> {
    const tenant: Tenant = { userId, role: "trader" };
    const results = await withTenant(
      this.#deps.sql,
      tenant,
      (tx, finish) => this.#applyBatch(tx, userId, updates.map((update) => ({ update })), finish),
    );
    this.#announce(userId, results);
  }

  /** Publishes applied events (after their commit) and refreshes what they made stale. */
  #announce(userId: string, results: Applied[]): void {
    for (const r of results) {
      this.#publish(userId, r.seq, r.event, r.order, r.fill, r.correlationId, r.ts, r.botId);
      if (this.#watching.has(r.order.id)) this.#known.set(r.order.id, r.order);
      if (r.fill) this.#cache.invalidate(`acct:${userId}:`);
    }
    const waiters = this.#changed.get(userId);
    if (waiters && results.length > 0) {
      this.#changed.delete(userId);
      for (const wake of waiters) wake();
    }
  }

  /**
   * Applies venue events within one tenant transaction, in order: each order is looked up
   * once, fills move positions as they come, and then each touched order is written once and
   * every audit row is appended in one statement.
   */
  async #applyBatch(
    tx: TransactionSql,
    userId: string,
    items: BatchItem[],
    finish?: <R>(last: Promise<R>) => Promise<R>,
  ): Promise<Applied[]> {
    const state = new Map<string, BatchOrder>();
    const byVenueId = new Map<string, string>();
    const audits: AuditEntry[] = [];
    const outs: Omit<Applied, "seq" | "ts">[] = [];
    // Fills' position and trades writes, queued on the transaction and awaited with COMMIT.
    const queued: Promise<void>[] = [];
    for (const item of items) {
      const { update } = item;
      const venueOrder = update.order;
      let ledgerId = byVenueId.get(venueOrder.id);
      let note = item.note ?? null;
      if (!ledgerId && !item.row) {
        const live = this.#takeLive(userId, venueOrder);
        if (live) {
          ledgerId = live.order.id;
          byVenueId.set(venueOrder.id, ledgerId);
          if (!state.has(ledgerId)) {
            state.set(ledgerId, {
              order: live.order,
              brokerId: venueOrder.id,
              botId: live.botId,
              clientOrderId: live.order.client_order_id,
              correlationId: live.correlationId,
            });
          }
        }
      }
      if (!ledgerId) {
        let row = item.row ?? await this.#locate(tx, userId, venueOrder, byVenueId);
        if (!row) {
          row = await this.#adopt(tx, userId, venueOrder);
          note ??= "adopted";
        }
        ledgerId = row.id;
        byVenueId.set(venueOrder.id, row.id);
        if (!state.has(row.id)) {
          state.set(row.id, {
            order: rowToOrder(row),
            brokerId: venueOrder.id,
            botId: row.bot_id,
            clientOrderId: row.client_order_id,
            correlationId: row.correlation_id,
          });
        }
      }
      const st = state.get(ledgerId)!;
      const current = st.order;
      const target = venueOrder.status;
      const statusMoves = current.status !== target && canTransition(current.status, target);
      const stale = current.status !== target && !statusMoves;
      let fill: FillView | null = null;
      if (
        (update.event === "fill" || update.event === "partial_fill") && update.qty && update.price
      ) {
        const executionId = update.execution_id ?? `${venueOrder.id}:${venueOrder.filled_qty}`;
        const r = await queueFill(tx, {
          userId,
          orderId: ledgerId,
          botId: st.botId,
          executionId,
          symbol: venueOrder.symbol,
          assetId: venueOrder.asset_id || null,
          side: venueOrder.side,
          qty: update.qty,
          price: update.price,
          ...(update.amount ? { amount: update.amount } : {}),
          tsMs: update.timestamp,
          venue: this.#deps.venue.name,
        });
        queued.push(r.written);
        if (r.inserted) {
          fill = {
            qty: update.qty.toString(),
            price: update.price.toString(),
            execution_id: executionId,
            position_qty: r.positionQty.toString(),
          };
        }
      }
      let replacedBy = current.replaced_by;
      if (venueOrder.replaced_by) {
        replacedBy = byVenueId.get(venueOrder.replaced_by) ??
          (await findOrderByBrokerId(tx, venueOrder.replaced_by))?.id ?? replacedBy;
      }
      const next: Order = {
        ...current,
        status: stale ? current.status : target,
        qty: venueOrder.qty ?? current.qty,
        filled_qty: Decimal.max(current.filled_qty, venueOrder.filled_qty),
        filled_avg_price: venueOrder.filled_avg_price ?? current.filled_avg_price,
        limit_price: venueOrder.limit_price,
        stop_price: venueOrder.stop_price,
        hwm: venueOrder.hwm,
        trail_price: venueOrder.trail_price,
        trail_percent: venueOrder.trail_percent,
        updated_at: update.timestamp,
        filled_at: venueOrder.filled_at ?? current.filled_at,
        canceled_at: venueOrder.canceled_at ?? current.canceled_at,
        expired_at: venueOrder.expired_at ?? current.expired_at,
        failed_at: venueOrder.failed_at ?? current.failed_at,
        replaced_at: venueOrder.replaced_at ?? current.replaced_at,
        replaced_by: replacedBy,
        expires_at: venueOrder.expires_at ?? current.expires_at,
      };
      st.order = next;
      st.brokerId = venueOrder.id;
      audits.push({
        userId,
        orderId: ledgerId,
        botId: st.botId,
        clientOrderId: st.clientOrderId,
        action: item.action ?? AUDIT_ACTIONS[update.event] ?? update.event.toUpperCase(),
        status: next.status,
        payload: {
          event: update.event,
          broker_order_id: venueOrder.id,
          ...(fill ? { fill } : {}),
          ...(stale ? { stale_status: target } : {}),
          ...(note ? { note } : {}),
          // A trailing stop's moved high-water mark (and so its stop) is the news.
          ...(update.event === "restated"
            ? { hwm: next.hwm?.toString() ?? null, stop_price: next.stop_price?.toString() ?? null }
            : {}),
        },
        correlationId: st.correlationId,
      });
      outs.push({
        order: next,
        botId: st.botId,
        fill,
        correlationId: st.correlationId,
        event: update.event,
      });
    }
    // The last statements leave with COMMIT when the caller passes `finish`.
    const last = Promise.all([
      ...queued,
      ...[...state.values()].map((st) => updateOrder(tx, st.order, { brokerOrderId: st.brokerId })),
    ]).then(() => undefined);
    const receipts = appendAudits(tx, audits);
    last.catch(() => {});
    receipts.catch(() => {});
    const done = Promise.all([last, receipts]).then(([, r]) => r);
    const written = await (finish ? finish(done) : done);
    return outs.map((o, i) => ({ ...o, seq: written[i]!.seq, ts: written[i]!.ts }));
  }

  /** Takes the live entry of a venue order placed by a submit in progress, if it has one. */
  #takeLive(userId: string, venueOrder: Order): LiveOrder | null {
    if (venueOrder.parent_id || venueOrder.replaces) return null;
    const key = `${userId}\u0000${venueOrder.client_order_id}`;
    const live = this.#live.get(key);
    if (!live) return null;
    this.#live.delete(key);
    return live;
  }

  /** The ledger row of a venue order: by venue id or client order id, a leg, a replacement. */
  /**
   * The ledger row of a venue order, by broker or client order id; a leg or replacement of a
   * known order is recorded now, linked to it. `batch` maps venue ids to ledger ids of orders
   * met earlier in the same batch, whose broker ids are not written yet (a bracket's take-profit
   * becomes active in the very batch that fills its entry).
   */
  async #locate(
    tx: TransactionSql,
    userId: string,
    venueOrder: Order,
    batch?: Map<string, string>,
  ): Promise<OrderRow | null> {
    const [row] = await tx<OrderRow[]>`
      select * from orders
      where broker_order_id = ${venueOrder.id} or client_order_id = ${venueOrder.client_order_id}
      order by (broker_order_id = ${venueOrder.id}) desc nulls last, (retried_by is null) desc
      limit 1`;
    if (row) return row;
    const linked = async (venueId: string) => {
      const ledgerId = batch?.get(venueId);
      return ledgerId ? await findOrder(tx, ledgerId) : await findOrderByBrokerId(tx, venueId);
    };
    if (venueOrder.parent_id) {
      const parent = await linked(venueOrder.parent_id);
      if (parent) return await this.#ensureLeg(tx, userId, parent, venueOrder);
    }
    if (venueOrder.replaces) {
      const old = await linked(venueOrder.replaces);
      if (old) return await this.#insertLinked(tx, userId, venueOrder, old, "replacement");
    }
    return null;
  }

  async #adopt(tx: TransactionSql, userId: string, venueOrder: Order): Promise<OrderRow> {
    const taken = await findOrderByClientId(tx, venueOrder.client_order_id);
    const order: Order = {
      ...venueOrder,
      id: this.#deps.ids(),
      client_order_id: taken ? `external-${venueOrder.id}` : venueOrder.client_order_id,
      legs: null,
      parent_id: null,
    };
    await insertOrder(tx, order, {
      userId,
      broker: this.#deps.venue.name,
      brokerOrderId: venueOrder.id,
      external: true,
    });
    this.#log("warning", "Adopted an order the ledger did not know", {
      broker_order_id: venueOrder.id,
    });
    return (await findOrder(tx, order.id))!;
  }

  // ---------------------------------------------------------------------------------------
  // Reconciliation

  /**
   * Compares the ledger with the broker for every user with open orders (and, for the paper
   * venue, every user with an account): applies missed transitions and fills, adopts unknown
   * broker orders as external, and writes RECONCILED audit rows. Safe to run at any time.
   */
  async reconcile(userIds?: string[]): Promise<{ users: number; changes: number }> {
    const ids = userIds ?? [
      ...new Set([
        ...(await this.#deps.sql<{ id: string }[]>`
          select tradewind_users_with_open_orders() as id`).map((r) => r.id),
        ...(await this.#deps.venue.accountHolders?.() ?? []),
      ]),
    ];
    let changes = 0;
    for (const userId of ids) {
      changes += await this.#enqueueAndWait(userId, () => this.#reconcileUser(userId));
    }
    return { users: ids.length, changes };
  }

  async #reconcileUser(userId: string): Promise<number> {
    const tenant: Tenant = { userId, role: "trader" };
    // Reconciliation may write any of the user's rows: live entries would go stale.
    for (const key of this.#live.keys()) {
      if (key.startsWith(`${userId}\u0000`)) this.#live.delete(key);
    }
    const broker = this.brokerFor(userId);
    const open = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) =>
        tx<
          OrderRow[]
        >`select * from orders where status = any(${OPEN as string[]}) order by created_at`,
    );
    const since = open.length
      ? Math.min(...open.map((r) => r.created_at.getTime())) - 1
      : this.#deps.clock.now() - 86_400_000;
    const venueOrders = await broker.listOrders({
      status: "all",
      limit: 500,
      after: since,
      direction: "asc",
    });
    let changes = 0;
    const byBrokerId = new Map(venueOrders.map((o) => [o.id, o]));
    const byClientId = new Map(venueOrders.map((o) => [o.client_order_id, o]));
    for (const row of open) {
      let venueOrder = (row.broker_order_id && byBrokerId.get(row.broker_order_id)) ||
        byClientId.get(row.client_order_id) || null;
      if (!venueOrder) {
        venueOrder = await broker.getOrderByClientId(row.client_order_id).catch((e) => {
          if (isTradeError(e) && e.code === "ORDER_NOT_FOUND") return null;
          throw e;
        });
      }
      if (!venueOrder) {
        if (row.broker_order_id) {
          // The venue acknowledged it once and no longer has it (for example a paper venue
          // rebuilt after a restart, where a pending cancel completes): it is gone.
          await this.#reject(
            tenant,
            row.id,
            { correlationId: row.correlation_id ?? "", botId: row.bot_id },
            "VENUE_LOST",
            { message: "Reconciliation: the venue no longer has this order" },
            "canceled",
          );
          changes++;
          continue;
        }
        if (!row.broker_order_id && row.parent_id === null) {
          await this.#reject(
            tenant,
            row.id,
            { correlationId: row.correlation_id ?? "", botId: row.bot_id },
            "NOT_RECEIVED",
            {
              message: "Reconciliation: the venue has no order with this client order id",
            },
          );
          changes++;
        }
        continue;
      }
      changes += await this.#reconcileOrder(tenant, row, venueOrder);
    }
    // Orders the venue has that the ledger does not: adopt them as external.
    for (const venueOrder of venueOrders) {
      const known = await withTenant(
        this.#deps.sql,
        tenant,
        async (tx) =>
          await findOrderByBrokerId(tx, venueOrder.id) ??
            await findOrderByClientId(tx, venueOrder.client_order_id),
      );
      if (known) {
        if (
          isOpen(known.status as OrderStatus) ||
          !Decimal.parse(known.filled_qty).eq(venueOrder.filled_qty)
        ) {
          changes += await this.#reconcileOrder(tenant, known, venueOrder);
        }
        continue;
      }
      const published = await withTenant(this.#deps.sql, tenant, async (tx) => {
        const row = await this.#adopt(tx, userId, {
          ...venueOrder,
          filled_qty: Decimal.ZERO,
          filled_avg_price: null,
        });
        return row;
      });
      changes++;
      changes += await this.#reconcileOrder(tenant, published, venueOrder, true);
    }
    changes += await this.#reconcileBooks(tenant, broker);
    return changes;
  }

  /**
   * Keeps the books' sum equal to the venue's position in every symbol: a difference the
   * ledger cannot attribute goes to the manual book, logged and audited (`RECONCILED`,
   * `payload.books`).
   */
  async #reconcileBooks(tenant: Tenant, broker: Broker): Promise<number> {
    const venue = (await broker.listPositions()).map((p) => ({
      symbol: p.symbol,
      assetId: p.asset_id || null,
      qty: p.side === "short" && p.qty.isPositive() ? p.qty.neg() : p.qty,
      avgEntryPrice: p.avg_entry_price,
    }));
    const now = this.#deps.clock.now();
    const adjusted = await withTenant(this.#deps.sql, tenant, async (tx) => {
      const made = await adjustManualBook(tx, tenant.userId, venue, now);
      for (const a of made) {
        await appendAudit(tx, {
          userId: tenant.userId,
          action: "RECONCILED",
          status: "BOOK_ADJUSTED",
          reason:
            `The books of "${a.symbol}" sum to ${a.booksQty} and the venue holds ${a.venueQty}: ` +
            `${a.difference} booked to the manual book`,
          payload: {
            books: {
              symbol: a.symbol,
              venue_qty: a.venueQty.toString(),
              books_qty: a.booksQty.toString(),
              difference: a.difference.toString(),
              manual_qty: a.manualQty.toString(),
            },
          },
        });
      }
      return made;
    });
    for (const a of adjusted) {
      this.#log("warning", "Reconciliation booked an unexplained position difference to manual", {
        user: tenant.userId,
        symbol: a.symbol,
        venue_qty: a.venueQty.toString(),
        books_qty: a.booksQty.toString(),
      });
    }
    return adjusted.length;
  }

  /** Brings one ledger order up to the venue's view: a synthetic fill for missed fills. */
  async #reconcileOrder(
    tenant: Tenant,
    row: OrderRow,
    venueOrder: Order,
    adopted = false,
  ): Promise<number> {
    const ledgerFilled = Decimal.parse(row.filled_qty);
    const missing = venueOrder.filled_qty.sub(ledgerFilled);
    const statusDiffers = row.status !== venueOrder.status;
    if (!missing.isPositive() && !statusDiffers && row.broker_order_id === venueOrder.id) return 0;
    let price: Decimal | undefined;
    if (missing.isPositive() && venueOrder.filled_avg_price) {
      // exact wide notionals, rounded once: a missed single fill keeps its exact price
      const venueCost = wideNotional(venueOrder.filled_qty, venueOrder.filled_avg_price);
      const ledgerCost = wideNotional(
        ledgerFilled,
        row.filled_avg_price ? Decimal.parse(row.filled_avg_price) : Decimal.ZERO,
      );
      price = averagePrice(venueCost - ledgerCost, missing);
    }
    const update: TradeUpdate = {
      event: missing.isPositive()
        ? (venueOrder.status === "filled" ? "fill" : "partial_fill")
        : (statusEvent(venueOrder.status)),
      order: venueOrder,
      timestamp: this.#deps.clock.now(),
      ...(missing.isPositive() && price
        ? {
          qty: missing,
          price,
          execution_id: `reconciled:${venueOrder.id}:${venueOrder.filled_qty}`,
        }
        : {}),
    };
    const results = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) =>
        this.#applyBatch(tx, tenant.userId, [{
          update,
          row,
          note: adopted ? "adopted by reconciliation" : "reconciliation",
          action: "RECONCILED",
        }]),
    );
    this.#announce(tenant.userId, results);
    return results.length;
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  /** An order of the tenant with its legs nested. Throws ORDER_NOT_FOUND (404). */
  async orderView(tenant: Tenant, orderId: string): Promise<Order> {
    return await withTenant(this.#deps.sql, tenant, async (tx) => {
      const row = await findOrder(tx, orderId);
      if (!row) throw tradeErrors.orderNotFound(orderId);
      const legs = await tx<
        OrderRow[]
      >`select * from orders where parent_id = ${orderId} order by created_at, id`;
      const order = rowToOrder(row);
      return legs.length ? withLegs(order, legs.map(rowToOrder)) : order;
    });
  }

  async #ownOrder(tenant: Tenant, orderId: string): Promise<OrderRow> {
    const row = await withTenant(this.#deps.sql, tenant, (tx) => findOrder(tx, orderId));
    if (!row) throw tradeErrors.orderNotFound(orderId);
    return row;
  }

  async #asset(broker: Broker, symbol: string): Promise<Asset> {
    return await this.#cache.get(
      `asset:${symbol.toUpperCase()}`,
      300_000,
      () => broker.getAsset(symbol),
    );
  }

  async #account(userId: string, broker: Broker): Promise<Account> {
    return await this.#cache.get(`acct:${userId}:account`, 5_000, () => broker.getAccount());
  }

  /** The user's account from the venue, cached 5 s (dropped when a fill lands). */
  account(userId: string): Promise<Account> {
    return this.#account(userId, this.brokerFor(userId));
  }

  /** The user's positions from the venue, cached 3 s (dropped when a fill lands). */
  positions(userId: string): Promise<Position[]> {
    const broker = this.brokerFor(userId);
    return this.#cache.get(`acct:${userId}:positions`, 3_000, () => broker.listPositions());
  }

  /** Hits and misses of the engine's venue cache (account, positions, assets). */
  get cacheStats(): Readonly<CacheStats> {
    return this.#cache.stats;
  }

  /**
   * Writes a snapshot row per open position of every user (price, market value, unrealized
   * P&L), with each user's account snapshot beside them. Answers the number of position rows.
   */
  async snapshotPositions(): Promise<number> {
    return (await this.takeSnapshots()).positions;
  }

  /**
   * Takes one snapshot run, stamped with one time: per user, a row per open position of the
   * ledger (marked at the latest trade) and the account from the venue (cash, equity, long and
   * short market value, buying power), in one transaction. A user whose account the venue
   * cannot give now is logged and skipped; the others are still written. Runs on the timer
   * (`snapshotEveryMs`); answers the rows written.
   */
  async takeSnapshots(): Promise<{ positions: number; accounts: number }> {
    const users = await this.#deps.sql<{ id: string; role: string }[]>`
      select id, role from tradewind_all_users()`;
    const now = this.#deps.clock.now();
    let positions = 0;
    let accounts = 0;
    for (const u of users) {
      const tenant: Tenant = { userId: u.id, role: "trader" };
      const held = await withTenant(
        this.#deps.sql,
        tenant,
        (tx) =>
          tx<{ symbol: string; qty: string; avg_entry_price: string; cost_basis: string }[]>`
          select symbol, qty, avg_entry_price, cost_basis from positions where qty <> 0
          order by symbol`,
      );
      let account: Account;
      try {
        account = await this.brokerFor(u.id).getAccount();
      } catch (e) {
        this.#log("warning", "No snapshot for a user: the venue did not give the account", {
          user: u.id,
          error: String(e),
        });
        continue;
      }
      const marks = held.length === 0
        ? {}
        : await this.#deps.venue.marketData.latestTrades(held.map((h) => h.symbol))
          .catch(() => ({} as Record<string, { p: number }>));
      const rows: PositionSnapshotRow[] = held.map((h) => {
        const qty = Decimal.parse(h.qty);
        const mark = marks[h.symbol] ? Decimal.parse(String(marks[h.symbol]!.p)) : null;
        const value = mark ? qty.mul(mark) : null;
        return {
          symbol: h.symbol,
          qty: h.qty,
          avgEntryPrice: h.avg_entry_price,
          currentPrice: mark?.toString() ?? null,
          marketValue: value?.toString() ?? null,
          costBasis: h.cost_basis,
          unrealizedPl: value ? value.sub(Decimal.parse(h.cost_basis)).toString() : null,
        };
      });
      const written = await withTenant(this.#deps.sql, tenant, (tx) =>
        writeSnapshots(tx, {
          userId: u.id,
          ts: now,
          positions: rows,
          account: {
            cash: account.cash.toString(),
            equity: account.equity.toString(),
            lastEquity: account.last_equity.toString(),
            longMarketValue: account.long_market_value.toString(),
            shortMarketValue: account.short_market_value.toString(),
            positionsValue: account.long_market_value.add(account.short_market_value).toString(),
            buyingPower: account.buying_power.toString(),
          },
        }));
      positions += written.positions;
      if (written.account) accounts++;
    }
    return { positions, accounts };
  }

  // ---------------------------------------------------------------------------------------
  // Plumbing

  #enqueue(userId: string, task: () => Promise<unknown>): Promise<void> {
    const tail = this.#queues.get(userId) ?? Promise.resolve();
    const next = tail.then(task).then(
      () => {},
      (e) =>
        this.#log("error", "Ledger update failed", { user: userId, error: String(e?.stack ?? e) }),
    );
    this.#queues.set(userId, next);
    next.then(() => {
      if (this.#queues.get(userId) === next) this.#queues.delete(userId);
    });
    return next;
  }

  #enqueueAndWait<T>(userId: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#enqueue(userId, async () => {
        try {
          resolve(await task());
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  #publish(
    userId: string,
    seq: string,
    event: string,
    order: Order,
    fill: { qty: string; price: string; execution_id: string; position_qty: string } | null,
    correlationId: string | null,
    ts?: Date,
    botId: string | null = null,
  ): void {
    // The audit row's own time, so live and replayed events carry the same timestamp.
    const tsMs = ts ? ts.getTime() : this.#deps.clock.now();
    this.#deps.bus.publish({
      topic: "order",
      userId,
      seq,
      event,
      order: orderJson(order),
      botId,
      fill,
      correlationId,
      tsMs,
    });
    if (fill) {
      // The account moved: cash, buying power and the position changed with this fill.
      this.#deps.bus.publish({
        topic: "account",
        userId,
        event: "account.fill",
        data: {
          order_id: order.id,
          symbol: order.symbol,
          side: order.side,
          qty: fill.qty,
          price: fill.price,
          position_qty: fill.position_qty,
        },
        tsMs,
      });
    }
  }

  #log(level: "info" | "warning" | "error", message: string, fields?: Record<string, unknown>) {
    this.#deps.log?.(level, message, fields);
  }
}

function statusEvent(status: OrderStatus): TradeUpdate["event"] {
  switch (status) {
    case "filled":
      return "fill";
    case "partially_filled":
      return "partial_fill";
    case "canceled":
    case "expired":
    case "replaced":
    case "rejected":
    case "new":
    case "pending_new":
    case "pending_cancel":
    case "pending_replace":
    case "done_for_day":
      return status;
    default:
      return "new";
  }
}
