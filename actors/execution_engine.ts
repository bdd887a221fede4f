/**
 * The execution engine: the one path every order takes, from a person over HTTP or from a
 * bot, and the one writer of order state (DESIGN.md, "Life of an order").
 *
 * `submit()`: one ledger transaction reads what risk needs (and a repeated client order id),
 * then, once validation and risk pass, writes the order row and its SUBMITTED, VALIDATED and
 * SENT audit rows → the broker → acknowledgement. A denial is
 * recorded as a DENIED audit row and thrown as a `TradeError`. A submit that times out is never
 * resent: the order is looked up by its client order id (RECOVERED), and reconciliation
 * settles whatever stays unknown.
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
import { isTradeError, TradeError, tradeErrors } from "../core/errors.ts";
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
import { canTransition, isOpen, isTerminal, OPEN_STATUSES } from "../core/order_state.ts";
import { OncePerWindow, SlidingWindowLimiter } from "../core/rate_limiter.ts";
import { boundedEcho, cutText } from "../core/input.ts";
import {
  evaluateRisk,
  mergeLimits,
  RISK_LIMIT_FIELDS,
  type RiskLimits,
  type RiskNotice,
  type RiskPosition,
  type TradingState,
  validationAdvice,
} from "../core/risk.ts";
import type {
  Account,
  Asset,
  Broker,
  CancelResult,
  Position,
  TradeUpdate,
  Venue,
} from "../brokers/broker.ts";
import { type CacheStats, TtlCache } from "../brokers/cache.ts";
import {
  AmbiguousSubmitError,
  BrokerUnavailableError,
  type ResilienceOptions,
  ResilientBroker,
} from "../brokers/resilient.ts";
import { appendAudit, appendAudits, type AuditEntry } from "../db/audit.ts";
import { type Tenant, withTenant } from "../db/database.ts";
import {
  findOrder,
  findOrderByBrokerId,
  findOrderByClientId,
  insertOrder,
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
}

/** What {@link ExecutionEngine.submit} answers. */
export interface SubmitResult {
  order: Order;
  /** False when the client order id was seen before and the existing order is answered. */
  created: boolean;
  /** True when the broker's answer is still unknown (a timeout being resolved). */
  pending: boolean;
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

/** Limits from a `risk_limits` row (numeric as strings), only the fields that are set. */
function limitsFromRow(row: Record<string, unknown> | null): RiskLimits {
  const out: Record<string, unknown> = {};
  if (!row) return out as RiskLimits;
  for (const field of RISK_LIMIT_FIELDS) {
    const v = row[field];
    if (v === null || v === undefined) continue;
    out[field] = field === "max_open_positions" || field === "max_daily_trades" ||
        field === "max_orders_per_minute"
      ? Number(v)
      : Decimal.parse(String(v));
  }
  return out as RiskLimits;
}

/**
 * The effective limits: the user's own values replace the config defaults field by field,
 * then a bot's limits can only tighten them.
 */
export function effectiveLimits(
  defaults: RiskLimits,
  user: RiskLimits,
  bot: RiskLimits | null,
): RiskLimits {
  const userLevel = {
    ...defaults,
    ...Object.fromEntries(Object.entries(user).filter(([, v]) => v !== null && v !== undefined)),
  } as RiskLimits;
  return bot ? mergeLimits(userLevel, bot) as RiskLimits : userLevel;
}

interface RiskSnapshot {
  existing: OrderRow | null;
  positions: { symbol: string; qty: string }[];
  pending: Record<string, string>;
  trades_today: number;
  realized_today: string;
  user_limits: Record<string, unknown> | null;
  bot_limits: Record<string, unknown> | null;
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
  readonly #inflight = new Map<string, Promise<SubmitResult>>();
  readonly #limiter = new SlidingWindowLimiter({ windowMs: 60_000 });
  /** `POST /orders/validate` calls: their own budget, as large as the orders one. */
  readonly #checks = new SlidingWindowLimiter({ windowMs: 60_000 });
  /** One RATE_LIMITED audit row per user per window, however many calls are refused. */
  readonly #rateAudits = new OncePerWindow({ windowMs: 60_000 });
  readonly #cache: TtlCache;
  #stopReconcile: (() => void) | null = null;
  #stopSnapshots: (() => void) | null = null;

  constructor(deps: ExecutionDeps) {
    this.#deps = deps;
    this.#cache = new TtlCache(deps.clock);
  }

  /** The engine's default risk limits (from configuration). */
  get defaultLimits(): RiskLimits {
    return this.#deps.defaultLimits;
  }

  /** Reconciles once, then every `reconcileEveryMs`. */
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
  }

  /** Stops timers and waits for queued ledger work. */
  async stop(): Promise<void> {
    this.#stopReconcile?.();
    this.#stopReconcile = null;
    this.#stopSnapshots?.();
    this.#stopSnapshots = null;
    await this.settle();
  }

  /** Resolves when every queued broker event has been written (tests use it, not sleeps). */
  async settle(): Promise<void> {
    while (true) {
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
   * order id (even concurrently) answers the one existing order with `created: false`.
   *
   * @throws {TradeError} a denial (validation or risk), or the broker's rejection.
   * @throws {BrokerUnavailableError} when the venue cannot take the order (nothing placed).
   */
  async submit(cmd: SubmitOrder): Promise<SubmitResult> {
    const clientOrderId = cmd.request.client_order_id ?? this.#deps.ids();
    const request = { ...cmd.request, client_order_id: clientOrderId };
    const key = `${cmd.tenant.userId}\u0000${clientOrderId}`;
    const running = this.#inflight.get(key);
    if (running) {
      const r = await running;
      return { ...r, created: false };
    }
    const p = this.#submit({ ...cmd, request });
    this.#inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.#inflight.delete(key);
    }
  }

  async #submit(cmd: SubmitOrder & { request: OrderRequest & { client_order_id: string } }) {
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
      | { kind: "placed"; order: Order };
    try {
      outcome = await withTenant(this.#deps.sql, tenant, async (tx, finish) => {
        const snap = await this.#readSnapshot(tx, request.client_order_id, cmd.botId ?? null, now);
        if (snap.existing) {
          const existing = snap.existing as unknown as Record<string, unknown>;
          return { kind: "existing" as const, id: String(existing.id) };
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
        // One socket write: the order row, its audit rows and COMMIT are pipelined.
        const inserting = insertOrder(tx, order, {
          userId,
          botId: cmd.botId ?? null,
          broker: this.#deps.venue.name,
          correlationId: cmd.correlationId,
        });
        inserting.catch(() => {});
        // Write-ahead: SENT commits before the order leaves. If the process dies before it
        // reaches the venue, reconciliation finds no such order there and rejects it.
        const auditing = appendAudits(tx, [
          audit({
            orderId: order.id,
            action: "SUBMITTED",
            status: "ok",
            payload: { request: requestJson(request), source: cmd.botId ? "bot" : "api" },
          }),
          audit({
            orderId: order.id,
            action: "VALIDATED",
            status: "ok",
            payload: {
              ref_price: evaluation.refPrice.toString(),
              session: evaluation.session,
              exposure: JSON.parse(JSON.stringify(evaluation.exposure)),
              warnings: evaluation.warnings,
            },
          }),
          audit({
            orderId: order.id,
            action: "SENT",
            status: "ok",
            payload: { broker: this.#deps.venue.name },
          }),
        ]);
        auditing.catch(() => {});
        await finish(Promise.all([inserting, auditing]));
        return { kind: "placed" as const, order };
      });
    } catch (e) {
      if ((e as { code?: string }).code === "23505") {
        // Another engine process took this client order id first: answer its order.
        const row = await withTenant(
          this.#deps.sql,
          tenant,
          (tx) => findOrderByClientId(tx, request.client_order_id),
        );
        if (row) {
          return { order: await this.orderView(tenant, row.id), created: false, pending: false };
        }
      }
      throw e;
    }
    if (outcome.kind === "existing") {
      return { order: await this.orderView(tenant, outcome.id), created: false, pending: false };
    }
    if (outcome.kind === "denied") {
      await this.#deny(tenant, audit, request, outcome.error);
      throw outcome.error;
    }
    const order = outcome.order;

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
        return await this.#recover(tenant, order, cmd, e);
      }
      const reason = isTradeError(e) ? e : null;
      await this.#enqueueAndWait(
        userId,
        () =>
          this.#reject(tenant, order.id, cmd, reason?.code ?? "BROKER_UNAVAILABLE", {
            message: (e as Error).message,
            ...(reason ? { alpaca_code: reason.alpacaCode } : {}),
          }),
      );
      throw e;
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
    if (simple && seen) return { order: seen, created: true, pending: false };
    return { order: await this.orderView(tenant, order.id), created: true, pending: false };
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
      const advice = validationAdvice({
        request: cmd.request,
        refPrice: ev.refPrice,
        positions: ev.positions,
        pendingQty: ev.pendingQty,
        account: ev.account,
        session: ev.session,
        ...(ev.quote ? { quote: ev.quote } : {}),
      });
      const errors = ev.allDenials.map((d) => ({
        code: d.code,
        message: d.message,
        details: d.details,
      }));
      return {
        valid: errors.length === 0,
        errors,
        warnings: [...advice.warnings, ...ev.warnings],
        recommendations: advice.recommendations,
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
      limitsFromRow(snap.user_limits),
      snap.bot_limits ? limitsFromRow(snap.bot_limits) : null,
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
    const [row] = await finish(tx<RiskSnapshot[]>`
        select
          (select row_to_json(o) from orders o where client_order_id = ${clientOrderId}) as existing,
          (select coalesce(json_agg(json_build_object('symbol', symbol, 'qty', qty)), '[]')
             from positions) as positions,
          (select coalesce(json_object_agg(symbol, q), '{}') from (
             select symbol, sum(case when side = 'buy' then 1 else -1 end
                                * (coalesce(qty, 0) - filled_qty)) as q
             from orders where parent_id is null and status = any(${open})
             group by symbol) p) as pending,
          (select count(distinct order_id)::int from fills where ts >= ${new Date(dayStart)})
            as trades_today,
          (select coalesce(sum(realized_pl), 0)::text from trades
             where closed_at >= ${new Date(dayStart)}) as realized_today,
          (select row_to_json(r) from risk_limits r where bot_id is null) as user_limits,
          (select row_to_json(r) from risk_limits r where bot_id = ${botId}) as bot_limits,
          (select state from trading_states) as state`.execute());
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
    const held = snap.positions.map((p) => p.symbol);
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
      limitsFromRow(snap.user_limits),
      snap.bot_limits ? limitsFromRow(snap.bot_limits) : null,
    );
    const perMinute = limits.max_orders_per_minute ?? null;
    // Every attempt counts, denied or not: a denial costs a ledger write too.
    const rate = perMinute === null
      ? undefined
      : consumeRate
      ? this.#limiter.tryAcquire(tenant.userId, perMinute, now)
      : this.#limiter.peek(tenant.userId, perMinute, now);
    const risk = evaluateRisk({
      request,
      asset,
      refPrice,
      account,
      positions,
      pendingQty,
      tradesToday: snap.trades_today,
      realizedPlToday: Decimal.parse(snap.realized_today),
      state: snap.state ?? "active",
      limits,
      ...(rate ? { rate } : {}),
    });
    // A halt or the rate outranks a rule; otherwise validation comes first.
    const severe = risk.denials.filter((d) => d.status !== 422);
    const ordered = [...severe, ...denials, ...risk.denials.filter((d) => d.status === 422)];
    return {
      asset,
      refPrice,
      session,
      account,
      positions,
      pendingQty,
      quote: quote
        ? { bid: Decimal.parse(String(quote.bp)), ask: Decimal.parse(String(quote.ap)) }
        : null,
      denial: ordered[0] ?? null,
      allDenials: ordered,
      warnings: risk.warnings,
      exposure: risk.exposure,
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
        correlationId: cmd.correlationId,
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
  ): Promise<SubmitResult> {
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
    await this.brokerFor(tenant.userId).cancelOrder(row.broker_order_id);
  }

  /** Cancels every open order of the user; answers one result per order. */
  async cancelAll(tenant: Tenant, correlationId: string): Promise<CancelResult[]> {
    const rows = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) =>
        tx<OrderRow[]>`select * from orders where status = any(${OPEN as string[]})
                     and parent_id is null order by created_at`,
    );
    const results: CancelResult[] = [];
    for (const row of rows) {
      try {
        await this.cancel(tenant, row.id, correlationId);
        results.push({ id: row.id, status: 200 });
      } catch (e) {
        results.push({ id: row.id, status: isTradeError(e) ? e.status : 500 });
      }
    }
    return results;
  }

  /** Replaces an open order; answers the new order (new id, `replaces` = the old id). */
  async replace(
    tenant: Tenant,
    orderId: string,
    request: ReplaceRequest,
    correlationId: string,
  ): Promise<Order> {
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
    // Write-ahead, as for SENT: the request is on record before it leaves.
    await withTenant(this.#deps.sql, tenant, (tx) =>
      appendAudit(tx, {
        userId: tenant.userId,
        orderId,
        botId: row.bot_id,
        clientOrderId: row.client_order_id,
        action: "REPLACE_REQUESTED",
        status: "ok",
        payload: { request: requestJson(request) },
        correlationId,
      }));
    const replacement = await broker.replaceOrder(row.broker_order_id, request);
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
    return await this.orderView(tenant, newId);
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
  ): Promise<SubmitResult> {
    const upper = symbol.toUpperCase();
    const [pos] = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) => tx<{ qty: string }[]>`select qty from positions where symbol = ${upper}`,
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
    return await this.submit({
      tenant,
      correlationId,
      request: {
        symbol: upper,
        qty,
        side: held.isPositive() ? "sell" : "buy",
        type: "market",
        time_in_force: "day",
      },
    });
  }

  /** Closes every position (optionally cancelling open orders first). */
  async closeAll(
    tenant: Tenant,
    cancelOrders: boolean,
    correlationId: string,
  ): Promise<
    { symbol: string; status: number; order?: Order; error?: { code: string; message: string } }[]
  > {
    if (cancelOrders) await this.cancelAll(tenant, correlationId);
    const rows = await withTenant(
      this.#deps.sql,
      tenant,
      (tx) => tx<{ symbol: string }[]>`select symbol from positions where qty <> 0 order by symbol`,
    );
    const out = [];
    for (const { symbol } of rows) {
      try {
        const r = await this.closePosition(tenant, symbol, {}, correlationId);
        out.push({ symbol, status: 200, order: r.order });
      } catch (e) {
        if (!isTradeError(e)) throw e;
        out.push({ symbol, status: e.status, error: { code: e.code, message: e.message } });
      }
    }
    return out;
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
      this.#publish(userId, r.seq, r.event, r.order, r.fill, r.correlationId, r.ts);
      if (this.#watching.has(r.order.id)) this.#known.set(r.order.id, r.order);
      if (r.fill) this.#cache.invalidate(`acct:${userId}:`);
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
      outs.push({ order: next, fill, correlationId: st.correlationId, event: update.event });
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
      order by (broker_order_id = ${venueOrder.id}) desc nulls last
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
    const ids = userIds ?? (await this.#deps.sql<{ id: string }[]>`
        select tradewind_users_with_open_orders() as id`).map((r) => r.id);
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
    return changes;
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
      const venueCost = venueOrder.filled_qty.mul(venueOrder.filled_avg_price);
      const ledgerCost = ledgerFilled.mul(
        row.filled_avg_price ? Decimal.parse(row.filled_avg_price) : Decimal.ZERO,
      );
      price = venueCost.sub(ledgerCost).div(missing);
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
   * P&L), for analytics. Answers the number of rows written.
   */
  async snapshotPositions(): Promise<number> {
    const users = await this.#deps.sql<{ id: string; role: string }[]>`
      select id, role from tradewind_all_users()`;
    const now = this.#deps.clock.now();
    let rows = 0;
    for (const u of users) {
      const tenant: Tenant = { userId: u.id, role: "trader" };
      const held = await withTenant(
        this.#deps.sql,
        tenant,
        (tx) =>
          tx<{ symbol: string; qty: string; avg_entry_price: string; cost_basis: string }[]>`
          select symbol, qty, avg_entry_price, cost_basis from positions where qty <> 0`,
      );
      if (held.length === 0) continue;
      const marks = await this.#deps.venue.marketData.latestTrades(held.map((h) => h.symbol))
        .catch(() => ({} as Record<string, { p: number }>));
      await withTenant(this.#deps.sql, tenant, async (tx) => {
        for (const h of held) {
          const qty = Decimal.parse(h.qty);
          const mark = marks[h.symbol] ? Decimal.parse(String(marks[h.symbol]!.p)) : null;
          const value = mark ? qty.mul(mark) : null;
          const cost = Decimal.parse(h.cost_basis);
          await tx`
            insert into position_snapshots (user_id, ts, symbol, qty, avg_entry_price,
              current_price, market_value, cost_basis, unrealized_pl)
            values (${u.id}, ${new Date(now)}, ${h.symbol}, ${h.qty}, ${h.avg_entry_price},
              ${mark?.toString() ?? null}, ${value?.toString() ?? null}, ${h.cost_basis},
              ${value ? value.sub(cost).toString() : null})`;
          rows++;
        }
      });
    }
    return rows;
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
  ): void {
    // The audit row's own time, so live and replayed events carry the same timestamp.
    const tsMs = ts ? ts.getTime() : this.#deps.clock.now();
    this.#deps.bus.publish({
      topic: "order",
      userId,
      seq,
      event,
      order: orderJson(order),
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
