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
import { Decimal } from "../../core/decimal.ts";
import type { TradeError } from "../../core/errors.ts";
import type { Order, OrderRequest, OrderStatus } from "../../core/order.ts";
import type { OrderFingerprint } from "../../core/order_identity.ts";
import { canTransition, isTerminal } from "../../core/order_state.ts";
import { OncePerWindow } from "../../core/rate_limiter.ts";
import { boundedEcho, cutText } from "../../core/input.ts";
import type { TradeUpdate } from "../../brokers/broker.ts";
import { appendAudit, appendAudits, type AuditEntry, type AuditReceipt } from "../../db/audit.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import {
  findOrder,
  findOrderByBrokerId,
  insertOrder,
  queueFill,
  rowToOrder,
  updateOrder,
} from "../../db/ledger.ts";
import { type EngineContext, publishOrder, requestJson } from "./context.ts";
import type { OrderLinks } from "./links.ts";
import type { Evaluation } from "./pre_trade.ts";
import type { Applied, BatchItem, FillView, LiveOrder, Requester, SubmitOrder } from "./types.ts";

const PRE_FILL: readonly OrderStatus[] = ["accepted", "pending_new", "new"];

/** The audit action of each venue event. */
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

/** An order's state while a batch is applied. */
interface BatchOrder {
  order: Order;
  brokerId: string;
  botId: string | null;
  clientOrderId: string;
  correlationId: string | null;
}

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
  readonly #takeLive: (userId: string, venueOrder: Order) => LiveOrder | null;
  /** One RATE_LIMITED audit row per user per window, however many calls are refused. */
  readonly #rateAudits = new OncePerWindow({ windowMs: 60_000 });

  constructor(
    ctx: EngineContext,
    links: OrderLinks,
    takeLive: (userId: string, venueOrder: Order) => LiveOrder | null,
  ) {
    this.#ctx = ctx;
    this.#links = links;
    this.#takeLive = takeLive;
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
   * Records a denial (DENIED, with the rule and the bounded request). A burst of RATE_LIMITED
   * refusals records one row per user per window, counting the refusals it stands for.
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
    if (error.code === "RATE_LIMITED") {
      const gate = this.#rateAudits.take(tenant.userId, deps.clock.now());
      if (!gate.first) return;
      skipped = gate.skipped;
    }
    // What a denial records is bounded, whatever the request held.
    await withTenant(deps.sql, tenant, (tx) =>
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
    this.#ctx.log("info", "Order denied", { code: error.code, user: tenant.userId });
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
      const now = deps.clock.now();
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
      if (
        row.status !== status && PRE_FILL.includes(status) &&
        canTransition(row.status as OrderStatus, status)
      ) {
        order = { ...order, status, updated_at: deps.clock.now() };
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
   * Applies venue events within one tenant transaction, in order: each order is looked up
   * once, fills move positions as they come, and then each touched order is written once and
   * every audit row is appended in one statement. The caller announces the results.
   */
  async applyBatch(
    tx: TransactionSql,
    userId: string,
    items: BatchItem[],
    finish?: <R>(last: Promise<R>) => Promise<R>,
  ): Promise<Applied[]> {
    const deps = this.#ctx.deps;
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
        let row = item.row ?? await this.#links.locate(tx, userId, venueOrder, byVenueId);
        if (!row) {
          row = await this.#links.adopt(tx, userId, venueOrder);
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
          venue: deps.venue.name,
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
}
