/**
 * Venue events written to the ledger: each event's status change (through core's
 * `transition()`, the only way an order's status changes), its fill (fills, positions, books,
 * trades) and its audit row, for a batch of events in one tenant transaction. An event whose
 * status change the order state machine refuses (stale, or illegal) changes no status: its
 * audit row records the change it asked for as ignored, and why.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import { Decimal } from "../../core/decimal.ts";
import { isTradeError, type TradeError } from "../../core/errors.ts";
import type { Order, OrderStatus } from "../../core/order.ts";
import { transition } from "../../core/order_state.ts";
import { appendAudits, type AuditEntry } from "../../db/audit.ts";
import { findOrderByBrokerId, queueFill, rowToOrder, updateOrder } from "../../db/ledger.ts";
import type { EngineContext } from "./context.ts";
import type { OrderLinks } from "./links.ts";
import type { Applied, BatchItem, FillView, LiveOrder } from "./types.ts";

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

/** Applies venue events to the ledger. */
export class VenueEvents {
  readonly #ctx: EngineContext;
  readonly #links: OrderLinks;
  readonly #takeLive: (userId: string, venueOrder: Order) => LiveOrder | null;

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
   * Applies venue events within one tenant transaction, in order: each order is looked up
   * once, fills move positions as they come, and then each touched order is written once and
   * every audit row is appended in one statement. The caller announces the results.
   */
  async apply(
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
      // The state machine decides: a change it refuses (a stale or illegal event) is recorded
      // as ignored on the event's audit row, and the order keeps its status.
      const { order: moved, refused } = moveStatus(current, target, update.timestamp);
      if (refused) {
        this.#ctx.log("warning", "A venue event's status change was ignored", {
          order_id: ledgerId,
          event: update.event,
          from: current.status,
          to: target,
        });
      }
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
        ...moved,
        qty: venueOrder.qty ?? current.qty,
        filled_qty: Decimal.max(current.filled_qty, venueOrder.filled_qty),
        filled_avg_price: venueOrder.filled_avg_price ?? current.filled_avg_price,
        limit_price: venueOrder.limit_price,
        stop_price: venueOrder.stop_price,
        hwm: venueOrder.hwm,
        trail_price: venueOrder.trail_price,
        trail_percent: venueOrder.trail_percent,
        updated_at: update.timestamp,
        // The venue's times of a refused status stay out: a filled order is not canceled_at.
        ...(refused ? {} : {
          filled_at: venueOrder.filled_at ?? moved.filled_at,
          canceled_at: venueOrder.canceled_at ?? moved.canceled_at,
          expired_at: venueOrder.expired_at ?? moved.expired_at,
          failed_at: venueOrder.failed_at ?? moved.failed_at,
          replaced_at: venueOrder.replaced_at ?? moved.replaced_at,
        }),
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
        ...(refused ? { reason: `Venue event "${update.event}" ignored: ${refused.message}` } : {}),
        payload: {
          event: update.event,
          broker_order_id: venueOrder.id,
          ...(fill ? { fill } : {}),
          ...(refused
            ? {
              stale_status: target,
              ignored: { status: target, code: refused.code, reason: refused.message },
            }
            : {}),
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

/**
 * The order moved to `to` by core's `transition()`, or unchanged with the refusal
 * (`ILLEGAL_TRANSITION`) when the state machine forbids the change. No change when it already
 * is in `to`.
 */
function moveStatus(
  order: Order,
  to: OrderStatus,
  tsMs: number,
): { order: Order; refused: TradeError | null } {
  if (order.status === to) return { order, refused: null };
  try {
    return { order: transition(order, to, tsMs), refused: null };
  } catch (e) {
    if (isTradeError(e) && e.code === "ILLEGAL_TRANSITION") return { order, refused: e };
    throw e;
  }
}
