/**
 * Order rows the venue creates that the ledger has not recorded yet: a bracket's legs, a
 * replacement, and orders placed outside Tradewind (adopted as external). Each is written
 * within the caller's tenant transaction.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import type { Order } from "../../core/order.ts";
import { findByVenueOrder } from "../../db/execution_queries.ts";
import {
  findOrder,
  findOrderByBrokerId,
  findOrderByClientId,
  insertOrder,
  type OrderRow,
} from "../../db/ledger.ts";
import type { EngineLog, ExecutionDeps } from "./types.ts";

/** Finds and records the venue's orders the ledger links to (legs, replacements, adoptions). */
export class OrderLinks {
  readonly #deps: ExecutionDeps;
  readonly #log: EngineLog;

  constructor(deps: ExecutionDeps, log: EngineLog) {
    this.#deps = deps;
    this.#log = log;
  }

  /** The ledger row of a bracket leg, recorded now if the ledger does not have it yet. */
  async ensureLeg(
    tx: TransactionSql,
    userId: string,
    parent: OrderRow,
    leg: Order,
  ): Promise<OrderRow> {
    const existing = await findOrderByBrokerId(tx, leg.id);
    if (existing) return existing;
    return await this.insertLinked(tx, userId, leg, parent, "leg");
  }

  /**
   * Records a venue order the ledger has not seen that belongs to a known order: a bracket
   * leg (`parent_id`) or a replacement (`replaces`). It inherits the bot and correlation id.
   */
  async insertLinked(
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

  /**
   * The ledger row of a venue order, by broker or client order id; a leg or replacement of a
   * known order is recorded now, linked to it. `batch` maps venue ids to ledger ids of orders
   * met earlier in the same batch, whose broker ids are not written yet (a bracket's take-profit
   * becomes active in the very batch that fills its entry).
   */
  async locate(
    tx: TransactionSql,
    userId: string,
    venueOrder: Order,
    batch?: Map<string, string>,
  ): Promise<OrderRow | null> {
    const row = await findByVenueOrder(tx, venueOrder.id, venueOrder.client_order_id);
    if (row) return row;
    const linked = async (venueId: string) => {
      const ledgerId = batch?.get(venueId);
      return ledgerId ? await findOrder(tx, ledgerId) : await findOrderByBrokerId(tx, venueId);
    };
    if (venueOrder.parent_id) {
      const parent = await linked(venueOrder.parent_id);
      if (parent) return await this.ensureLeg(tx, userId, parent, venueOrder);
    }
    if (venueOrder.replaces) {
      const old = await linked(venueOrder.replaces);
      if (old) return await this.insertLinked(tx, userId, venueOrder, old, "replacement");
    }
    return null;
  }

  /**
   * Records a venue order nobody placed through Tradewind as external (a taken client order id
   * becomes `external-<venue id>`).
   */
  async adopt(tx: TransactionSql, userId: string, venueOrder: Order): Promise<OrderRow> {
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
}
