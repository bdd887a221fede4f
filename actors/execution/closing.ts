/**
 * Cancel-all, close-position and close-all: the account-wide entry points, built on the
 * engine's own cancel and submit (one execution path for every order).
 *
 * @module
 */
import { Decimal } from "../../core/decimal.ts";
import { flattenMoves } from "../../core/books.ts";
import { isTradeError, TradeError, tradeErrors } from "../../core/errors.ts";
import { BrokerUnavailableError } from "../../brokers/resilient.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import {
  heldPositions,
  openOrdersForCancel,
  positionQty,
  stillOpen,
} from "../../db/execution_queries.ts";
import { type BookPlanItem, listBooks } from "../../db/ledger.ts";
import type { EngineContext } from "./context.ts";
import type { CloseAllItem, OrderCancelResult, SubmitOrder, SubmitResult } from "./types.ts";

/** The engine's single-order entry points that closing builds on. */
export interface ClosingPaths {
  cancel(tenant: Tenant, orderId: string, correlationId: string): Promise<void>;
  submit(cmd: SubmitOrder): Promise<SubmitResult>;
}

/** Cancels and closes account-wide. */
export class Closing {
  readonly #ctx: EngineContext;
  readonly #paths: ClosingPaths;
  /** Waiters for a user's next applied venue events (close-all waiting for its cancels). */
  readonly #changed = new Map<string, Set<() => void>>();

  constructor(ctx: EngineContext, paths: ClosingPaths) {
    this.#ctx = ctx;
    this.#paths = paths;
  }

  /** Wakes whoever waits for the user's venue events (called after events are applied). */
  wake(userId: string): void {
    const waiters = this.#changed.get(userId);
    if (!waiters) return;
    this.#changed.delete(userId);
    for (const wake of waiters) wake();
  }

  /**
   * Cancels every open order of the user, exit legs of a filled bracket or oto included;
   * answers one result per order (200: cancel requested, else the error: the refusal, or 503
   * when the venue did not take that cancel, the others still tried). A venue cancels a
   * group's other orders with the one canceled, so a leg the venue already canceled with its
   * group counts as requested. The outcomes arrive as broker events.
   */
  async cancelAll(tenant: Tenant, correlationId: string): Promise<OrderCancelResult[]> {
    const rows = await withTenant(this.#ctx.deps.sql, tenant, (tx) => openOrdersForCancel(tx));
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
        await this.#paths.cancel(tenant, row.id, correlationId);
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
   * Closes all, `qty`, or `percentage` (0–100) of a position with a market order through the
   * engine's submit. A percentage of a whole-share position rounds down to whole shares.
   * Throws POSITION_NOT_FOUND (404).
   */
  async closePosition(
    tenant: Tenant,
    symbol: string,
    options: { qty?: Decimal; percentage?: Decimal },
    correlationId: string,
  ): Promise<SubmitResult & { books: BookPlanItem[] }> {
    const upper = symbol.toUpperCase();
    const [pos, books] = await withTenant(
      this.#ctx.deps.sql,
      tenant,
      (tx) => Promise.all([positionQty(tx, upper), listBooks(tx, { symbol: upper })]),
    );
    if (pos === null || Decimal.parse(pos).isZero()) throw tradeErrors.positionNotFound(upper);
    const held = Decimal.parse(pos);
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
    const result = await this.#paths.submit({
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
    const rows = await withTenant(this.#ctx.deps.sql, tenant, (tx) => heldPositions(tx));
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
    const { deps, queues } = this.#ctx;
    const userId = tenant.userId;
    const deadline = deps.clock.now() + (deps.cancelConfirmMs ?? 5_000);
    while (true) {
      // Venue events received so far are written once this no-op takes its turn.
      await queues.enqueueAndWait(userId, () => Promise.resolve());
      const open = await withTenant(deps.sql, tenant, (tx) => stillOpen(tx, ids));
      const left = deps.clock.now() < deadline ? deadline - deps.clock.now() : 0;
      if (left === 0 || !open.some((id) => awaited.includes(id))) return new Set(open);
      await new Promise<void>((resolve) => {
        let waiters = this.#changed.get(userId);
        if (!waiters) this.#changed.set(userId, waiters = new Set());
        const stop = deps.clock.setTimer(done, left);
        function done() {
          stop();
          waiters!.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
  }
}
