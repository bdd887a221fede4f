/**
 * The engine's writes to the ledger: an order's placement (its row and SUBMITTED, VALIDATED,
 * SENT audit rows), a denial, the venue's acknowledgement, a rejection, and venue events
 * (status, fills, positions, trades and audit rows committed together, then published).
 *
 * Every write of a user's order rows after placement runs on that user's queue
 * (`UserQueues`), so events apply in arrival order.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import { isTradeError, type TradeError } from "../../core/errors.ts";
import type { Order, OrderRequest, OrderStatus } from "../../core/order.ts";
import type { OrderFingerprint } from "../../core/order_identity.ts";
import { canTransition, isTerminal, transition } from "../../core/order_state.ts";
import { OncePerWindow } from "../../core/rate_limiter.ts";
import { boundedEcho, cutText } from "../../core/input.ts";
import type { TradeUpdate } from "../../brokers/broker.ts";
import { appendAudit, appendAudits, type AuditEntry, type AuditReceipt } from "../../db/audit.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import { findOrder, insertOrder, rowToOrder, updateOrder } from "../../db/ledger.ts";
import { type EngineContext, publishOrder, requestJson } from "./context.ts";
import { VenueEvents } from "./ledger_events.ts";
import type { OrderLinks } from "./links.ts";
import type { Evaluation } from "./pre_trade.ts";
import type { Applied, BatchItem, LiveOrder, Requester, SubmitOrder } from "./types.ts";

const PRE_FILL: readonly OrderStatus[] = ["accepted", "pending_new", "new"];

/** Builds an audit entry for one request (user, bot, client order id, trace filled in). */
export type AuditFor = (e: Omit<AuditEntry, "userId">) => AuditEntry;

/** What a placement writes (see {@link EngineLedger.place}). */
export interface Placement {
  cmd: SubmitOrder;
  request: OrderRequest & { client_order_id: string };
  order: Order;
  fingerprint: OrderFingerprint;
  evaluation: Evaluation;
  /** The attempt this order retries (its client order id is taken over), if any. */
  retry: { id: string; botId: string | null } | null;
  audit: AuditFor;
}

/** The engine's ledger writer. */
export class EngineLedger {
  readonly #ctx: EngineContext;
  readonly #links: OrderLinks;
  readonly #events: VenueEvents;
  /** One RATE_LIMITED audit row per user per window, however many calls are refused. */
  readonly #rateAudits = new OncePerWindow({ windowMs: 60_000 });

  constructor(
    ctx: EngineContext,
    links: OrderLinks,
    takeLive: (userId: string, venueOrder: Order) => LiveOrder | null,
  ) {
    this.#ctx = ctx;
    this.#links = links;
    this.#events = new VenueEvents(ctx, links, takeLive);
  }

  /**
   * Writes a placed order within the submit's transaction: its row and audit rows (RETRIED on
   * the attempt it retries, SUBMITTED, VALIDATED, SENT), pipelined with COMMIT through
   * `finish`. Answers the SENT row's receipt.
   */
  async place(
    tx: TransactionSql,
    p: Placement,
    finish: <R>(last: Promise<R>) => Promise<R>,
  ): Promise<AuditReceipt> {
    const { cmd, order, request, evaluation, audit } = p;
    const deps = this.#ctx.deps;
    const retryOf = p.retry?.id ?? null;
    // One socket write: the order row, its audit rows and COMMIT are pipelined.
    const inserting = insertOrder(tx, order, {
      userId: cmd.tenant.userId,
      botId: cmd.botId ?? null,
      broker: deps.venue.name,
      correlationId: cmd.correlationId,
      request: p.fingerprint as unknown as Record<string, unknown>,
      retryOf,
      ...(cmd.bookPlan ? { bookPlan: cmd.bookPlan } : {}),
    });
    inserting.catch(() => {});
    // Write-ahead: SENT commits before the order leaves. If the process dies before it
    // reaches the venue, reconciliation finds no such order there and rejects it.
    const auditing = appendAudits(tx, [
      // The earlier attempt's trail ends with the order that took its client order id.
      ...(p.retry
        ? [audit({
          orderId: p.retry.id,
          botId: p.retry.botId,
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
        payload: { broker: deps.venue.name, event: "accepted" },
      }),
    ]);
    auditing.catch(() => {});
    const [, receipts] = await finish(Promise.all([inserting, auditing]));
    return receipts[receipts.length - 1]!;
  }

  /** Appends one audit row in its own tenant transaction (a request on record before it leaves). */
  async record(tenant: Tenant, entry: AuditEntry): Promise<AuditReceipt> {
    return await withTenant(this.#ctx.deps.sql, tenant, (tx) => appendAudit(tx, entry));
  }

  /**
   * Records a denial (DENIED, with the rule and the bounded request) and publishes it on the
   * bus as `OrderDenied` (topic `denial`). A burst of RATE_LIMITED refusals records one row per
   * user per window, counting the refusals it stands for; each refusal is still published.
   */
  async deny(
    tenant: Tenant,
    audit: AuditFor,
    request: OrderRequest,
    error: TradeError,
  ): Promise<void> {
    const deps = this.#ctx.deps;
    // A refused burst must not become a burst of ledger writes: one row per user per window
    // for the rate limit, counting the refusals it stands for.
    let skipped = 0;
    let recorded = true;
    if (error.code === "RATE_LIMITED") {
      const gate = this.#rateAudits.take(tenant.userId, deps.clock.now());
      recorded = gate.first;
      skipped = gate.skipped;
    }
    // What a denial records is bounded, whatever the request held.
    const entry = audit({
      action: "DENIED",
      status: error.code,
      reason: cutText(error.message, 500),
      payload: {
        rule: error.code,
        details: boundedEcho(JSON.parse(JSON.stringify(error.details))),
        request: boundedEcho(requestJson(request)),
        ...(error.code === "RATE_LIMITED" ? { unrecorded_refusals: skipped } : {}),
      },
    });
    const receipt = recorded
      ? await withTenant(deps.sql, tenant, (tx) => appendAudit(tx, entry))
      : null;
    if (recorded) this.#ctx.log("info", "Order denied", { code: error.code, user: tenant.userId });
    // A denial is an event (after its audit row committed), whether or not a row was written.
    deps.bus.publish({
      topic: "denial",
      event: "OrderDenied",
      userId: tenant.userId,
      seq: receipt?.seq ?? null,
      orderId: entry.orderId ?? null,
      botId: entry.botId ?? null,
      clientOrderId: entry.clientOrderId ?? null,
      correlationId: entry.correlationId ?? null,
      code: error.code,
      message: error.message,
      details: entry.payload!.details as Record<string, unknown>,
      request: entry.payload!.request as Record<string, unknown>,
      tsMs: receipt?.ts.getTime() ?? deps.clock.now(),
    });
  }

  /**
   * Closes an open order the venue does not have: `rejected` (REJECTED) or, for one the venue
   * lost, `canceled` (RECONCILED); published after commit. A closed order is left as it is.
   */
  async reject(
    tenant: Tenant,
    orderId: string,
    cmd: Requester,
    code: string,
    payload: Record<string, unknown>,
    status: "rejected" | "canceled" = "rejected",
  ): Promise<void> {
    const deps = this.#ctx.deps;
    const published = await withTenant(deps.sql, tenant, async (tx) => {
      const row = await findOrder(tx, orderId);
      if (!row || isTerminal(row.status as OrderStatus)) return null;
      const current = rowToOrder(row);
      const entry = {
        userId: tenant.userId,
        orderId,
        botId: cmd.botId ?? null,
        clientOrderId: row.client_order_id,
        // Reconciliation passes "" for an order recorded without one: the column is a uuid.
        correlationId: cmd.correlationId || null,
      };
      let order: Order;
      try {
        order = transition(current, status, deps.clock.now());
      } catch (e) {
        if (!isTradeError(e) || e.code !== "ILLEGAL_TRANSITION") throw e;
        // The state machine refuses it (the order moved on meanwhile): on record, not applied.
        await appendAudit(tx, {
          ...entry,
          action: "IGNORED",
          status: code,
          reason: `${
            status === "canceled" ? "Cancel" : "Rejection"
          } "${code}" ignored: ${e.message}`,
          payload: { ignored: { status, code: e.code, reason: e.message }, ...payload },
        });
        this.#ctx.log("warning", "A rejection was ignored: the order moved on", {
          order_id: orderId,
          from: current.status,
          to: status,
          code,
        });
        return null;
      }
      await updateOrder(tx, order, { rejectReason: code });
      const receipt = await appendAudit(tx, {
        ...entry,
        action: status === "canceled" ? "RECONCILED" : "REJECTED",
        status: code,
        reason: String(payload.message ?? code),
        payload: { event: status, ...payload },
      });
      return { order, seq: receipt.seq, ts: receipt.ts };
    });
    if (published) {
      publishOrder(deps, {
        userId: tenant.userId,
        seq: published.seq,
        event: status,
        order: published.order,
        fill: null,
        correlationId: cmd.correlationId,
        ts: published.ts,
        botId: cmd.botId ?? null,
      });
    }
  }

  /** Records the broker's acknowledgement: its order id, and any pre-fill status. */
  async acknowledge(
    tenant: Tenant,
    orderId: string,
    sent: Order,
    cmd: Requester,
    action: "RECOVERED" | null,
  ): Promise<void> {
    const deps = this.#ctx.deps;
    const broker = this.#ctx.brokerFor(tenant.userId);
    const nested = sent.order_class === "bracket" || sent.order_class === "oco" ||
        sent.order_class === "oto"
      ? await broker.getOrder(sent.id, { nested: true }).catch(() => sent)
      : sent;
    const published = await withTenant(deps.sql, tenant, async (tx) => {
      const row = await findOrder(tx, orderId);
      if (!row) return null;
      let order = rowToOrder(row);
      const status = sent.status;
      // The answer is the venue's view when it took the order: it moves a row still before its
      // first fill forward, and never back (its events may have moved the row on already).
      if (
        row.status !== status && PRE_FILL.includes(status) &&
        canTransition(order.status, status)
      ) {
        order = transition(order, status, deps.clock.now());
      }
      const changed = order.status !== row.status || row.broker_order_id !== sent.id;
      if (changed) await updateOrder(tx, order, { brokerOrderId: sent.id });
      for (const leg of nested.legs ?? []) {
        await this.#links.ensureLeg(tx, tenant.userId, row, leg);
      }
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
          broker: deps.venue.name,
          broker_order_id: sent.id,
          broker_status: status,
        },
        correlationId: cmd.correlationId,
      });
      return { order, seq: receipt.seq, ts: receipt.ts };
    });
    if (published?.seq) {
      publishOrder(deps, {
        userId: tenant.userId,
        seq: published.seq,
        event: "accepted",
        order: published.order,
        fill: null,
        correlationId: cmd.correlationId,
        ts: published.ts ?? undefined,
        botId: cmd.botId ?? null,
      });
    }
  }

  /** Applies a user's buffered venue events in one transaction, then announces them. */
  async applyUpdates(userId: string, updates: TradeUpdate[]): Promise<void> {
    const tenant: Tenant = { userId, role: "trader" };
    const results = await withTenant(
      this.#ctx.deps.sql,
      tenant,
      (tx, finish) => this.applyBatch(tx, userId, updates.map((update) => ({ update })), finish),
    );
    this.#ctx.announce(userId, results);
  }

  /**
   * Applies venue events within one tenant transaction (see `VenueEvents.apply`); the caller
   * announces the results.
   */
  applyBatch(
    tx: TransactionSql,
    userId: string,
    items: BatchItem[],
    finish?: <R>(last: Promise<R>) => Promise<R>,
  ): Promise<Applied[]> {
    return this.#events.apply(tx, userId, items, finish);
  }
}
