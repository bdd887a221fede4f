/**
 * Reconciliation: the ledger brought up to the venue's view, at start and on a timer. Missed
 * transitions and fills are applied (RECONCILED), orders the venue lost or never received are
 * closed, orders placed outside Tradewind are adopted as external, and the books are kept
 * summing to the venue's positions. Safe to run at any time: each user's run takes that user's
 * ledger queue.
 *
 * @module
 */
import { averagePrice, wideNotional } from "../../core/money.ts";
import { Decimal } from "../../core/decimal.ts";
import { isTradeError } from "../../core/errors.ts";
import type { Order, OrderStatus } from "../../core/order.ts";
import { isOpen } from "../../core/order_state.ts";
import type { Broker, TradeUpdate } from "../../brokers/broker.ts";
import { appendAudit } from "../../db/audit.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import { openOrders, usersWithOpenOrders } from "../../db/execution_queries.ts";
import {
  adjustManualBook,
  findOrderByBrokerId,
  findOrderByClientId,
  type OrderRow,
} from "../../db/ledger.ts";
import type { EngineContext } from "./context.ts";
import type { EngineLedger } from "./ledger.ts";
import type { OrderLinks } from "./links.ts";

/** Reconciles the ledger with the venue. */
export class Reconciler {
  readonly #ctx: EngineContext;
  readonly #ledger: EngineLedger;
  readonly #links: OrderLinks;
  /** Called before a user's run: what the engine holds of the user's rows goes stale. */
  readonly #beforeUser: (userId: string) => void;

  constructor(
    ctx: EngineContext,
    parts: { ledger: EngineLedger; links: OrderLinks; beforeUser: (userId: string) => void },
  ) {
    this.#ctx = ctx;
    this.#ledger = parts.ledger;
    this.#links = parts.links;
    this.#beforeUser = parts.beforeUser;
  }

  /**
   * Compares the ledger with the broker for every user with open orders (and, for the paper
   * venue, every user with an account), or for `userIds`; answers the users visited and the
   * changes made.
   */
  async reconcile(userIds?: string[]): Promise<{ users: number; changes: number }> {
    const deps = this.#ctx.deps;
    const ids = userIds ?? [
      ...new Set([
        ...(await usersWithOpenOrders(deps.sql)),
        ...(await deps.venue.accountHolders?.() ?? []),
      ]),
    ];
    let changes = 0;
    for (const userId of ids) {
      changes += await this.#ctx.queues.enqueueAndWait(userId, () => this.#reconcileUser(userId));
    }
    return { users: ids.length, changes };
  }

  async #reconcileUser(userId: string): Promise<number> {
    const deps = this.#ctx.deps;
    const tenant: Tenant = { userId, role: "trader" };
    // Reconciliation may write any of the user's rows: live entries would go stale.
    this.#beforeUser(userId);
    const broker = this.#ctx.brokerFor(userId);
    const open = await withTenant(deps.sql, tenant, (tx) => openOrders(tx));
    const since = open.length
      ? Math.min(...open.map((r) => r.created_at.getTime())) - 1
      : deps.clock.now() - 86_400_000;
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
          await this.#ledger.reject(
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
          await this.#ledger.reject(
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
        deps.sql,
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
      const adopted = await withTenant(
        deps.sql,
        tenant,
        (tx) =>
          this.#links.adopt(tx, userId, {
            ...venueOrder,
            filled_qty: Decimal.ZERO,
            filled_avg_price: null,
          }),
      );
      changes++;
      changes += await this.#reconcileOrder(tenant, adopted, venueOrder, true);
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
    const deps = this.#ctx.deps;
    const venue = (await broker.listPositions()).map((p) => ({
      symbol: p.symbol,
      assetId: p.asset_id || null,
      qty: p.side === "short" && p.qty.isPositive() ? p.qty.neg() : p.qty,
      avgEntryPrice: p.avg_entry_price,
    }));
    const now = deps.clock.now();
    const adjusted = await withTenant(deps.sql, tenant, async (tx) => {
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
      this.#ctx.log(
        "warning",
        "Reconciliation booked an unexplained position difference to manual",
        {
          user: tenant.userId,
          symbol: a.symbol,
          venue_qty: a.venueQty.toString(),
          books_qty: a.booksQty.toString(),
        },
      );
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
    const deps = this.#ctx.deps;
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
      timestamp: deps.clock.now(),
      ...(missing.isPositive() && price
        ? {
          qty: missing,
          price,
          execution_id: `reconciled:${venueOrder.id}:${venueOrder.filled_qty}`,
        }
        : {}),
    };
    const results = await withTenant(
      deps.sql,
      tenant,
      (tx) =>
        this.#ledger.applyBatch(tx, tenant.userId, [{
          update,
          row,
          note: adopted ? "adopted by reconciliation" : "reconciliation",
          action: "RECONCILED",
        }]),
    );
    this.#ctx.announce(tenant.userId, results);
    return results.length;
  }
}

/** The venue event that reports an order in `status` (reconciliation's synthetic event). */
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
