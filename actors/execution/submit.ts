/**
 * The submit path: a new order through pre-trade checks, the ledger (write-ahead: the order
 * and its SENT row commit before it leaves), the venue and the acknowledgement; a repeated
 * client order id answered with its order; a timed-out submit recovered by client order id,
 * never resent. Also `POST /orders/validate`, which judges an order the same way and places
 * nothing.
 *
 * The venue's events for an order may arrive before its submit returns: this path referees
 * that race with what it holds of each order in flight.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import { isTradeError, TradeError } from "../../core/errors.ts";
import { createOrder, type Order, type OrderRequest } from "../../core/order.ts";
import {
  clientOrderIdConflict,
  fingerprintDifferences,
  fingerprintOfOrder,
  type OrderFingerprint,
  orderFingerprint,
} from "../../core/order_identity.ts";
import { retryable, type RetryCandidate } from "../../core/order_retry.ts";
import type { RiskNotice } from "../../core/risk.ts";
import { AmbiguousSubmitError, BrokerUnavailableError } from "../../brokers/resilient.ts";
import { placementWarnings } from "../../db/audit.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import { findOrder, findOrderByClientId, markRetried, rowToOrder } from "../../db/ledger.ts";
import { type EngineContext, publishOrder } from "./context.ts";
import type { AuditFor, EngineLedger } from "./ledger.ts";
import { withLedgerIds } from "./ledger_ids.ts";
import type { PreTrade } from "./pre_trade.ts";
import { type InFlightOrder, InFlightOrders } from "./in_flight.ts";
import type { LiveOrder, SubmitOrder, SubmitResult, ValidationReport } from "./types.ts";

/** Places orders and validates them. */
export class OrderSubmitter {
  readonly #ctx: EngineContext;
  readonly #preTrade: PreTrade;
  readonly #ledger: () => EngineLedger;
  readonly #orderView: (tenant: Tenant, orderId: string) => Promise<Order>;
  readonly #inFlight = new InFlightOrders();

  constructor(
    ctx: EngineContext,
    parts: {
      preTrade: PreTrade;
      ledger: () => EngineLedger;
      orderView: (tenant: Tenant, orderId: string) => Promise<Order>;
    },
  ) {
    this.#ctx = ctx;
    this.#preTrade = parts.preTrade;
    this.#ledger = parts.ledger;
    this.#orderView = parts.orderView;
  }

  /** Notes an applied venue event: a submit in flight answers with the order as it now is. */
  noteApplied(userId: string, order: Order): void {
    this.#inFlight.noteApplied(userId, order);
  }

  /** Takes the live entry of a venue order placed by a submit in progress, if it has one. */
  takeLive(userId: string, venueOrder: Order): LiveOrder | null {
    return this.#inFlight.takeLive(userId, venueOrder);
  }

  /** Drops the user's live entries: something else is about to write their rows. */
  dropLive(userId: string): void {
    this.#inFlight.dropLive(userId);
  }

  /**
   * Places an order (see `ExecutionEngine.submit`). Concurrent submits under one client order
   * id share one placement.
   */
  async submit(cmd: SubmitOrder): Promise<SubmitResult> {
    const clientOrderId = cmd.request.client_order_id ?? this.#ctx.deps.ids();
    const request = { ...cmd.request, client_order_id: clientOrderId };
    const fingerprint = orderFingerprint(request);
    const running = this.#inFlight.get(cmd.tenant.userId, clientOrderId);
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
    return await this.#inFlight.run(
      cmd.tenant.userId,
      clientOrderId,
      fingerprint,
      (record) => this.#submit({ ...cmd, request }, fingerprint, record),
    );
  }

  async #submit(
    cmd: SubmitOrder & { request: OrderRequest & { client_order_id: string } },
    fingerprint: OrderFingerprint,
    record: InFlightOrder,
  ): Promise<SubmitResult> {
    const { deps, queues } = this.#ctx;
    const ledger = this.#ledger();
    const { tenant, request } = cmd;
    const userId = tenant.userId;
    const broker = this.#ctx.brokerFor(userId);
    const now = deps.clock.now();
    // What the venue says (asset, prices, account) is fetched while the ledger is read.
    const market = this.#preTrade.market(broker, userId, request.symbol);
    market.catch(() => {});

    const audit: AuditFor = (e) => ({
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
    let retry: { id: string; botId: string | null } | null = null;
    try {
      outcome = await withTenant(deps.sql, tenant, async (tx, finish) => {
        const snap = await this.#preTrade.readSnapshot(
          tx,
          request.client_order_id,
          cmd.botId ?? null,
          now,
        );
        retry = null;
        if (snap.existing) {
          const existing = snap.existing as unknown as Record<string, unknown>;
          if (retryable(existing as unknown as RetryCandidate)) {
            retry = {
              id: String(existing.id),
              botId: (existing.bot_id as string | null) ?? null,
            };
          } else {
            const conflict = await this.#keyConflict(tx, existing, fingerprint);
            return conflict
              ? { kind: "denied" as const, error: conflict }
              : { kind: "existing" as const, id: String(existing.id) };
          }
        }
        // Validation, then risk: the first failure is recorded (below, after this read-only
        // transaction ends) and thrown.
        const limits = this.#preTrade.limitsOf(snap);
        const evaluated = await this.#preTrade.evaluate(cmd, snap, limits, {
          broker,
          now,
          consumeRate: true,
          market,
        }).then(
          (evaluation) => ({ evaluation, error: evaluation.denial }),
          (e) => {
            // Refused before the rate was reached (an unknown asset): the attempt counts too.
            if (isTradeError(e)) {
              return {
                evaluation: null,
                error: this.#preTrade.spend("orders", userId, limits, now) ?? e,
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
          ids: deps.ids,
          tsMs: now,
          assetId: evaluation.asset.id,
          status: "accepted",
        });
        // A retry first takes the attempt's key (its row stays locked until COMMIT, so a racing
        // retry waits here and then finds it taken); the unique index holds one live order.
        if (retry && !(await markRetried(tx, retry.id, order.id))) {
          return { kind: "raced" as const };
        }
        const sent = await ledger.place(tx, {
          cmd,
          request,
          order,
          fingerprint,
          evaluation,
          retry,
          audit,
        }, finish);
        return { kind: "placed" as const, order, sent, warnings: evaluation.warnings };
      });
    } catch (e) {
      if ((e as { code?: string }).code === "23505") {
        // Another engine process took this client order id first: answer its order.
        const found = await withTenant(deps.sql, tenant, async (tx) => {
          const row = await findOrderByClientId(tx, request.client_order_id);
          const conflict = row
            ? await this.#keyConflict(tx, row as unknown as Record<string, unknown>, fingerprint)
            : null;
          return row ? { id: row.id, conflict } : null;
        });
        if (found?.conflict) {
          await ledger.deny(tenant, audit, request, found.conflict);
          throw found.conflict;
        }
        if (found) return await this.#replayed(tenant, found.id);
      }
      throw e;
    }
    if (outcome.kind === "existing") return await this.#replayed(tenant, outcome.id);
    if (outcome.kind === "raced") {
      // Another engine process retried this attempt first: judge this request against its order.
      return await this.#submit(cmd, fingerprint, record);
    }
    if (outcome.kind === "denied") {
      await ledger.deny(tenant, audit, request, outcome.error);
      throw outcome.error;
    }
    const { order, warnings } = outcome;
    const retried = (retry as { id: string } | null)?.id ?? null;
    const linked = retried ? { retryOf: retried } : {};
    // Recorded: announced before anything the venue answers.
    publishOrder(deps, {
      userId,
      seq: outcome.sent.seq,
      event: "accepted",
      order,
      fill: null,
      correlationId: cmd.correlationId,
      ts: outcome.sent.ts,
      botId: cmd.botId ?? null,
    });

    let sent: Order;
    record.orderId = order.id;
    if (order.order_class === "" || order.order_class === "simple") {
      record.live = { order, botId: cmd.botId ?? null, correlationId: cmd.correlationId };
    }
    try {
      sent = await broker.submitOrder(request);
    } catch (e) {
      record.orderId = null;
      record.known = null;
      record.live = null;
      if (e instanceof AmbiguousSubmitError) {
        return { ...await this.#recover(tenant, order, cmd, e), warnings, ...linked };
      }
      const reason = isTradeError(e) ? await withLedgerIds(deps.sql, tenant, e) : null;
      // Refused before it left (the breaker was open): provably never at the venue.
      const notSent = !reason && e instanceof BrokerUnavailableError;
      await queues.enqueueAndWait(
        userId,
        () =>
          ledger.reject(
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
      if (reason?.code === "RATE_LIMITED") {
        // The venue refused the request for its rate limit (Alpaca's 429, or the adapter's own
        // budget before sending): it did not take the order (core/order_retry.ts).
        throw new TradeError(
          "RATE_LIMITED",
          `${reason.message}; nothing was placed; it is safe to retry with the same client_order_id`,
          {
            details: {
              ...reason.details,
              order_id: order.id,
              client_order_id: order.client_order_id,
            },
            alpacaMessage: reason.alpacaMessage,
            alpacaCode: reason.alpacaCode,
          },
        );
      }
      if (notSent) {
        throw new BrokerUnavailableError(
          `${(e as Error).message}; it is safe to retry with the same client_order_id`,
          { order_id: order.id, client_order_id: order.client_order_id },
        );
      }
      throw reason ?? e;
    }
    const simple = sent.order_class === "" || sent.order_class === "simple";
    await queues.enqueueAndWait(userId, async () => {
      // Events queued before this task have run; the row may change from here on.
      record.live = null;
      // The venue's events may already have recorded everything its answer says.
      if (!(simple && record.known)) {
        await ledger.acknowledge(tenant, order.id, sent, cmd, null);
      }
    });
    const seen = record.known;
    record.orderId = null;
    record.known = null;
    if (simple && seen) return { order: seen, created: true, pending: false, warnings, ...linked };
    return {
      order: await this.#orderView(tenant, order.id),
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
      this.#orderView(tenant, orderId),
      withTenant(this.#ctx.deps.sql, tenant, (tx) => placementWarnings(tx, orderId)),
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
    const deps = this.#ctx.deps;
    const now = deps.clock.now();
    const broker = this.#ctx.brokerFor(cmd.tenant.userId);
    const snap = await this.#preTrade.snapshot(
      cmd.tenant,
      cmd.request.client_order_id ?? "",
      cmd.botId ?? null,
      now,
    );
    const limits = this.#preTrade.limitsOf(snap);
    const limited = this.#preTrade.spend("validations", cmd.tenant.userId, limits, now);
    if (limited) throw limited;
    try {
      const ev = await this.#preTrade.evaluate(cmd, snap, limits, {
        broker,
        now,
        consumeRate: false,
      });
      const conflict = snap.existing && !retryable(snap.existing as unknown as RetryCandidate)
        ? await withTenant(
          deps.sql,
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

  /** A submit timed out: look the order up by client order id instead of resending it. */
  async #recover(
    tenant: Tenant,
    order: Order,
    cmd: SubmitOrder,
    error: AmbiguousSubmitError,
  ): Promise<Omit<SubmitResult, "warnings">> {
    const { deps, queues } = this.#ctx;
    const ledger = this.#ledger();
    const broker = this.#ctx.brokerFor(tenant.userId);
    this.#ctx.log("warning", "Submit was ambiguous; resolving by client order id", {
      client_order_id: order.client_order_id,
      error: String(error.cause ?? error.message),
    });
    try {
      const found = await broker.getOrderByClientId(order.client_order_id);
      await queues.enqueueAndWait(
        tenant.userId,
        () => ledger.acknowledge(tenant, order.id, found, cmd, "RECOVERED"),
      );
      return { order: await this.#orderView(tenant, order.id), created: true, pending: false };
    } catch (e) {
      if (isTradeError(e) && e.code === "ORDER_NOT_FOUND") {
        // The venue never received it: nothing was placed, and we say so.
        await queues.enqueueAndWait(
          tenant.userId,
          () =>
            ledger.reject(tenant, order.id, cmd, "BROKER_TIMEOUT", {
              message:
                "The venue did not receive the order (timed out, then not found by client order id)",
            }),
        );
        throw new BrokerUnavailableError(
          `The ${deps.venue.name} venue did not answer in time and has no order "${order.client_order_id}": nothing was placed; it is safe to retry with the same client_order_id`,
          { order_id: order.id, client_order_id: order.client_order_id },
        );
      }
      // Still unknown: reconciliation will settle it. The order stays open in the ledger.
      return { order: await this.#orderView(tenant, order.id), created: true, pending: true };
    }
  }
}
