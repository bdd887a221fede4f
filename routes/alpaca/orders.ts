/**
 * The order routes of the Alpaca-compatible face (ALPACA.md §2.2, §3), for programs written
 * against Alpaca's API and its official SDK:
 *
 * - `POST /v2/orders`: every body the SDK sends (`symbol` a ticker or an asset id); 200 with
 *   the order (legs nested).
 * - `GET /v2/orders`: `status`, `limit`, `after`, `until`, `direction`, `nested`, `symbols`,
 *   `side`, `asset_class`, `before_order_id` / `after_order_id`.
 * - `GET /v2/orders/{id}` (`nested`), `GET /v2/orders:by_client_order_id?client_order_id=…`.
 * - `PATCH /v2/orders/{id}`: 200 with the new order (`replaces` = the old id).
 * - `DELETE /v2/orders/{id}`: 204, empty body. `DELETE /v2/orders`: 207,
 *   `[{id, status, body?}]` (body: Alpaca's error, for an order that could not be canceled).
 *
 * Orders take the one execution path of `/api/v1` (ExecutionEngine.submit, replace, cancel,
 * cancelAll): the same validation, risk, ledger and audit, and they appear on both faces. A
 * repeated client_order_id with the same body answers the existing order, as on `/api/v1`;
 * with another body it is Alpaca's 422 `client_order_id must be unique`. Answers carry
 * Alpaca's Order JSON exactly: no Tradewind-only fields (bot_id, warnings, fills). Errors are
 * thrown (the engine's TradeErrors, AlpacaApiError for bad parameters: 422 `40010001`); the
 * face renders them as Alpaca's `{code, message}`.
 *
 * @module
 */
import type { Hono } from "hono";
import type { TransactionSql } from "postgres";
import {
  MAX_CLIENT_ORDER_ID_LENGTH,
  type Order,
  parseOrderRequest,
  parseReplaceRequest,
  toAlpacaJson,
  withLegs,
} from "../../core/order.ts";
import { tradeErrors } from "../../core/errors.ts";
import { hasControlCharacter } from "../../core/input.ts";
import { withTenant } from "../../db/database.ts";
import { findOrder, rowToOrder } from "../../db/ledger.ts";
import {
  groupLegs,
  listOrders,
  orderExists,
  orderIdByClientOrderId,
  type OrderListFilter,
} from "../../db/order_queries.ts";
import { tenantOf } from "../auth.ts";
import type { AppEnv } from "../app.ts";
import { invalidParameter } from "./errors.ts";
import type { AlpacaFaceDeps } from "./_deps.ts";
import {
  isUuid,
  type QueryValues,
  readBody,
  readJsonObject,
  readListQuery,
  readNested,
} from "./order_params.ts";

/** Alpaca's Order JSON of an order: legs nested when `nested` and the order has any. */
export function faceOrderJson(order: Order, nested: boolean): Record<string, unknown> {
  const json = toAlpacaJson(nested ? order : { ...order, legs: null });
  return json as unknown as Record<string, unknown>;
}

/**
 * An order of the tenant with its group's legs when it is the group's current entry (see
 * db/order_queries.ts). Throws 404 `order not found`.
 */
async function orderView(tx: TransactionSql, id: string): Promise<Order> {
  const row = await findOrder(tx, id);
  if (!row) throw tradeErrors.orderNotFound(id);
  const legs = (await groupLegs(tx, [id])).get(id);
  const order = rowToOrder(row);
  return legs ? withLegs(order, legs.map(rowToOrder)) : order;
}

/** The id in a path, or 404 `order not found` when it cannot be an order id. */
function orderIdParam(id: string): string {
  if (!isUuid(id)) throw tradeErrors.orderNotFound(id.slice(0, 64));
  return id.toLowerCase();
}

/** Alpaca's 422 for a PATCH body field that cannot be replaced. */
function notReplaceable(field: string, why: string) {
  return invalidParameter(`${field} cannot be replaced: ${why}`);
}

/** Mounts the order routes on the face's `/v2` app. */
export function alpacaOrderRoutes(v2: Hono<AppEnv>, deps: AlpacaFaceDeps): void {
  const { sql } = deps;
  const { engine } = deps.trading;

  v2.post("/orders", async (c) => {
    const body = readBody(parseOrderRequest, await readJsonObject(c.req));
    // Alpaca takes an asset id in place of the symbol.
    const symbol = isUuid(body.symbol)
      ? (await engine.brokerFor(c.var.user.id).getAsset(body.symbol.toLowerCase())).symbol
      : body.symbol.toUpperCase();
    const result = await engine.submit({
      tenant: tenantOf(c.var.user),
      request: { ...body, symbol },
      correlationId: c.var.requestId,
    });
    // Alpaca answers 200 for a placed order; a bracket's legs come with it.
    return c.json(faceOrderJson(result.order, true), 200);
  });

  v2.get("/orders", async (c) => {
    const filter: OrderListFilter = readListQuery(c.req.queries() as QueryValues);
    const tenant = tenantOf(c.var.user);
    const page = await withTenant(sql, tenant, async (tx) => {
      const cursors = {
        before_order_id: filter.beforeOrderId,
        after_order_id: filter.afterOrderId,
      };
      for (const [key, id] of Object.entries(cursors)) {
        if (id && !(await orderExists(tx, id))) {
          throw invalidParameter(`${key} "${id}" names no order`);
        }
      }
      return await listOrders(tx, filter);
    });
    return c.json(page.orders.map((row) => {
      const legs = page.legs.get(row.id);
      const order = rowToOrder(row);
      return faceOrderJson(legs ? withLegs(order, legs.map(rowToOrder)) : order, filter.nested);
    }));
  });

  // Literally `orders:by_client_order_id` (a colon, not a slash); also percent-encoded.
  v2.get("/:op{orders(?::|%3[Aa])by_client_order_id}", async (c) => {
    const values = c.req.queries("client_order_id") ?? [];
    const clientOrderId = values[0] ?? "";
    if (values.length !== 1 || clientOrderId === "") {
      throw invalidParameter("client_order_id is required");
    }
    if (clientOrderId.length > MAX_CLIENT_ORDER_ID_LENGTH || hasControlCharacter(clientOrderId)) {
      throw invalidParameter(
        `client_order_id must be at most ${MAX_CLIENT_ORDER_ID_LENGTH} printable characters`,
      );
    }
    const nested = c.req.query("nested") === undefined ? true : readNested(c.req.queries());
    const order = await withTenant(sql, tenantOf(c.var.user), async (tx) => {
      const id = await orderIdByClientOrderId(tx, clientOrderId);
      if (!id) throw tradeErrors.orderNotFound(clientOrderId);
      return await orderView(tx, id);
    });
    return c.json(faceOrderJson(order, nested));
  });

  v2.get("/orders/:id", async (c) => {
    const id = orderIdParam(c.req.param("id"));
    const nested = readNested(c.req.queries());
    const order = await withTenant(sql, tenantOf(c.var.user), (tx) => orderView(tx, id));
    return c.json(faceOrderJson(order, nested));
  });

  v2.patch("/orders/:id", async (c) => {
    const id = orderIdParam(c.req.param("id"));
    const raw = await readJsonObject(c.req) as Record<string, unknown>;
    if (raw.notional !== undefined && raw.notional !== null) {
      throw notReplaceable("notional", "only IPO orders replace their notional");
    }
    if (raw.advanced_instructions !== undefined && raw.advanced_instructions !== null) {
      throw notReplaceable("advanced_instructions", "advanced instructions are not supported");
    }
    const body = readBody(parseReplaceRequest, raw);
    if (Object.keys(body).length === 0) {
      throw invalidParameter(
        "nothing to replace: send qty, time_in_force, limit_price, stop_price, trail or client_order_id",
      );
    }
    const tenant = tenantOf(c.var.user);
    const result = await engine.replace(tenant, id, body, c.var.requestId);
    // The replacing entry of a bracket, oco or oto answers with its group's legs.
    const order = result.order.parent_id === null
      ? await withTenant(sql, tenant, (tx) => orderView(tx, result.order.id))
      : result.order;
    return c.json(faceOrderJson(order, true), 200);
  });

  v2.delete("/orders/:id", async (c) => {
    const id = orderIdParam(c.req.param("id"));
    await engine.cancel(tenantOf(c.var.user), id, c.var.requestId);
    return c.body(null, 204);
  });

  v2.delete("/orders", async (c) => {
    const results = await engine.cancelAll(tenantOf(c.var.user), c.var.requestId);
    return c.json(
      results.map((r) => ({ id: r.id, status: r.status, ...(r.alpaca ? { body: r.alpaca } : {}) })),
      207,
    );
  });
}
