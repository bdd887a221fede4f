/**
 * Orders: place (with idempotency), list, get (with fills and legs), replace, cancel, cancel
 * all, validate without placing, and each order's audit trail. Every order goes through the
 * execution engine's one `submit()` path.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { hasControlCharacter, identifierText } from "../core/input.ts";
import {
  MAX_CLIENT_ORDER_ID_LENGTH,
  type Order,
  orderRequestSchema,
  replaceRequestSchema,
  toAlpacaJson,
} from "../core/order.ts";
import { OPEN_STATUSES, TERMINAL_STATUSES } from "../core/order_state.ts";
import type { Tenant } from "../db/database.ts";
import { rowToOrder } from "../db/ledger.ts";
import {
  currentOrderIdByClientId,
  listOrderRows,
  orderAuditRows,
  orderBookId,
  orderDetailRows,
} from "../db/read_models/orders.ts";
import { withLegs } from "../core/order.ts";
import { tradeErrors } from "../core/errors.ts";
import { ApiError } from "./errors.ts";
import { type AppEnv, type ResourceDeps, resourceTarget } from "./app.ts";
import { defineRoute } from "./openapi.ts";
import { InstantParam } from "./params.ts";
import { tenantOf } from "./auth.ts";
import type { OrderCancelResult } from "../actors/execution_engine.ts";
import { BookFilter } from "./books.ts";

/** The order as Alpaca renders it (documentation schema; amounts are decimal strings). */
export const OrderJson = z.looseObject({
  id: z.uuid(),
  client_order_id: z.string(),
  created_at: z.string(),
  updated_at: z.string().nullable(),
  submitted_at: z.string().nullable(),
  filled_at: z.string().nullable(),
  symbol: z.string(),
  qty: z.string().nullable(),
  notional: z.string().nullable(),
  filled_qty: z.string(),
  filled_avg_price: z.string().nullable(),
  order_class: z.string(),
  type: z.string(),
  side: z.enum(["buy", "sell"]),
  time_in_force: z.string(),
  limit_price: z.string().nullable(),
  stop_price: z.string().nullable(),
  status: z.string(),
  legs: z.array(z.looseObject({})).nullable(),
  bot_id: z.uuid().nullable().meta({
    description: "The order's book: the bot that placed it, or null for a manual order",
  }),
}).meta({ id: "Order" });

/** A warning or recommendation (`core/risk.ts` RiskNotice): a stable code and a sentence. */
const NoticeJson = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.string()).optional(),
}).meta({ id: "Notice" });

/**
 * A placed order as `POST /orders` answers it on `/api/v1`: the order, and the `warnings`
 * validate would have given (never part of the order itself, so Alpaca's shape stays Alpaca's).
 */
const PlacedOrderJson = OrderJson.extend({
  warnings: z.array(NoticeJson).meta({
    description:
      "The warnings of POST /orders/validate for this order as it was placed (same codes and messages); on a replay, the ones it was placed with",
  }),
}).meta({ id: "PlacedOrder" });

/** An order's retry links, as the GET routes answer them (core/order_retry.ts). */
const RetryLinks = {
  retry_of: z.uuid().nullable().meta({
    description:
      "The earlier attempt, never sent to the venue, whose client_order_id this order took",
  }),
  retried_by: z.uuid().nullable().meta({
    description: "The order that retried this attempt under the same client_order_id",
  }),
};

const FillJson = z.object({
  id: z.uuid(),
  execution_id: z.string(),
  qty: z.string(),
  price: z.string(),
  side: z.enum(["buy", "sell"]),
  timestamp: z.string(),
  venue: z.string(),
});

const AuditItem = z.looseObject({
  seq: z.string(),
  ts: z.string(),
  action: z.string(),
  status: z.string(),
  reason: z.string().nullable(),
  payload: z.unknown(),
  correlation_id: z.string().nullable(),
  hash: z.string(),
});

/** The longest `symbols` filter: 100 symbols of up to 36 characters, comma separated. */
const MAX_SYMBOLS_TEXT = 3700;

const IdParams = z.object({ id: z.uuid({ error: "Must be an order id (a UUID)" }) });

const ListQuery = z.object({
  status: z.enum(["open", "closed", "all"]).default("open"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  after: InstantParam.optional(),
  until: InstantParam.optional(),
  direction: z.enum(["asc", "desc"]).default("desc"),
  nested: z.enum(["true", "false"]).optional().transform((v) => v === "true"),
  symbols: z.string().max(MAX_SYMBOLS_TEXT).optional().transform((v) =>
    v ? [...new Set(v.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean))] : undefined
  ),
  side: z.enum(["buy", "sell"]).optional(),
  bot_id: BookFilter.optional(),
});

/** One order's result of a cancel-all (Alpaca's `{id, status}`, with the error if any). */
export const CancelItem = z.object({
  id: z.uuid(),
  status: z.number(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

/** The JSON of one cancel-all result. */
export function cancelItem(r: OrderCancelResult): z.infer<typeof CancelItem> {
  return { id: r.id, status: r.status, ...(r.error ? { error: r.error } : {}) };
}

/** The order JSON of /api/v1: Alpaca's fields and its book (`bot_id`, null for manual). */
function orderBody(order: Order, botId: string | null): Record<string, unknown> {
  return { ...toAlpacaJson(order) as unknown as Record<string, unknown>, bot_id: botId };
}

/** Mounts the order routes. */
export function orderRoutes({ trading: deps, sql, spec }: ResourceDeps): Hono<AppEnv> {
  const target = resourceTarget(spec);
  const { engine } = deps;

  defineRoute(target, {
    method: "post",
    path: "/orders",
    summary: "Place an order",
    description:
      "Alpaca's order fields. The answer is the order with `warnings`: what POST /orders/validate would warn of (same codes and messages), also kept in the order's VALIDATED audit row. A repeated client_order_id (or Idempotency-Key) answers the existing order with 200, with the warnings it was placed with, instead of placing a second one; with another request it is 422 CLIENT_ORDER_ID_CONFLICT. The one exception: an order that provably never reached the venue (a 503 that says it is safe to retry: rejected before it was sent, or timed out and then not found there) frees its client_order_id, and a retry with it places the order (201, `retry_of` naming the earlier attempt, which stays in the ledger with `retried_by`). Validation and risk denials answer 422 (a rule), 403 (trading halted or reducing, buying power) or 429 (rate, with Retry-After), each with a stable code.",
    tags: ["orders"],
    headers: [{
      name: "Idempotency-Key",
      description: "Stands in for client_order_id when the body has none",
    }],
    body: orderRequestSchema,
    responses: {
      201: {
        description:
          "Placed, with its warnings (`retry_of` when it retries an attempt that never reached the venue)",
        schema: PlacedOrderJson,
      },
      200: {
        description:
          "An order with this client_order_id already exists (with the warnings it was placed with)",
        schema: PlacedOrderJson,
      },
      202: {
        description: "Sent; the venue's answer is still being resolved",
        schema: PlacedOrderJson,
      },
      403: { description: "TRADING_HALTED, TRADING_REDUCING, INSUFFICIENT_BUYING_POWER …" },
      422: { description: "A validation or risk rule (code names it)" },
      429: { description: "RATE_LIMITED, with Retry-After" },
      503: {
        description:
          "BROKER_UNAVAILABLE or DATABASE_UNAVAILABLE: nothing was placed. When the message says it is safe to retry with the same client_order_id, a retry places the order",
      },
    },
  }, async (c, { body }) => {
    const key = c.req.header("idempotency-key")?.trim();
    if (key !== undefined && (key.length === 0 || key.length > 128)) {
      throw new ApiError(400, "VALIDATION_FAILED", "Idempotency-Key must be 1 to 128 characters");
    }
    if (key !== undefined && hasControlCharacter(key)) {
      throw new ApiError(
        400,
        "VALIDATION_FAILED",
        "Idempotency-Key must not contain control characters",
      );
    }
    if (key && body.client_order_id && key !== body.client_order_id) {
      throw new ApiError(
        400,
        "VALIDATION_FAILED",
        `Idempotency-Key "${key}" differs from client_order_id "${body.client_order_id}": send one, or the same value in both`,
      );
    }
    const request = { ...body, symbol: body.symbol.toUpperCase() };
    if (key && !request.client_order_id) request.client_order_id = key;
    const result = await engine.submit({
      tenant: tenantOf(c.var.user),
      request,
      correlationId: c.var.requestId,
    });
    const status = result.pending ? 202 : result.created ? 201 : 200;
    // An order placed here is manual; a repeated client order id may name a bot's order.
    const botId = result.created
      ? null
      : await orderBookId(sql, tenantOf(c.var.user), result.order.id);
    const placed = { ...orderBody(result.order, botId), warnings: result.warnings };
    return c.json(result.retryOf ? { ...placed, retry_of: result.retryOf } : placed, status);
  });

  defineRoute(target, {
    method: "post",
    path: "/orders/validate",
    summary: "Check an order against validation and risk without placing it",
    tags: ["orders"],
    body: orderRequestSchema,
    responses: {
      200: {
        description: "The verdict, with warnings and recommendations",
        schema: z.object({
          valid: z.boolean(),
          errors: z.array(
            z.object({ code: z.string(), message: z.string(), details: z.unknown() }),
          ),
          warnings: z.array(NoticeJson),
          recommendations: z.array(NoticeJson),
        }),
      },
      429: {
        description:
          "RATE_LIMITED: validations have their own budget of max_orders_per_minute a minute (Retry-After)",
      },
    },
  }, async (c, { body }) => {
    const report = await engine.validate({
      tenant: tenantOf(c.var.user),
      request: { ...body, symbol: body.symbol.toUpperCase() },
      correlationId: c.var.requestId,
    });
    return c.json(report);
  });

  defineRoute(target, {
    method: "get",
    path: "/orders",
    summary: "List orders",
    description:
      "Alpaca's filters, and bot_id: a bot's orders, or manual for the trader's own. after/until are exclusive bounds on submission time. With nested=true bracket, oco and oto legs are rolled into their parent's legs, and a parent is listed when it or one of its legs matches status (a filled bracket with open exits is open).",
    tags: ["orders"],
    query: ListQuery,
    responses: { 200: { description: "Orders", schema: z.array(OrderJson) } },
  }, async (c, { query }) => {
    const statuses = query.status === "open"
      ? [...OPEN_STATUSES]
      : query.status === "closed"
      ? [...TERMINAL_STATUSES]
      : null;
    const rows = await listOrderRows(sql, tenantOf(c.var.user), {
      statuses,
      limit: query.limit,
      direction: query.direction,
      nested: query.nested,
      afterMs: query.after,
      untilMs: query.until,
      symbols: query.symbols,
      side: query.side,
      botId: query.bot_id,
    });
    const byParent = new Map<string, Order[]>();
    for (const leg of rows.legs) {
      const arr = byParent.get(leg.parent_id!) ?? [];
      arr.push(rowToOrder(leg));
      byParent.set(leg.parent_id!, arr);
    }
    return c.json(rows.orders.map((r) => {
      const o = rowToOrder(r);
      const legs = byParent.get(r.id);
      return orderBody(legs ? withLegs(o, legs) : o, r.bot_id);
    }));
  });

  /**
   * An order with its legs and its fills, as both GET routes answer it, and its retry links:
   * `retry_of` (the attempt, never sent, whose client order id it took) and `retried_by`.
   */
  async function orderWithFills(tenant: Tenant, id: string): Promise<Record<string, unknown>> {
    const order = await engine.orderView(tenant, id);
    const detail = await orderDetailRows(sql, tenant, id);
    return {
      ...orderBody(order, detail.botId),
      retry_of: detail.retryOf,
      retried_by: detail.retriedBy,
      fills: detail.fills.map((f) => ({
        id: f.id,
        execution_id: f.execution_id,
        qty: f.qty,
        price: f.price,
        side: f.side,
        timestamp: f.ts.toISOString(),
        venue: f.venue,
      })),
    };
  }

  defineRoute(target, {
    method: "get",
    path: "/orders/by-client-id/:client_order_id",
    summary: "Get an order by its client order id",
    description:
      "The order this client_order_id names now: after a retry of an attempt that never reached the venue, the retrying order (the attempt is listed under GET /orders and linked by retry_of / retried_by).",
    tags: ["orders"],
    params: z.object({
      client_order_id: identifierText(MAX_CLIENT_ORDER_ID_LENGTH).min(1),
    }),
    responses: {
      200: {
        description: "The order, with `fills`",
        schema: OrderJson.extend({ fills: z.array(FillJson), ...RetryLinks }),
      },
      404: { description: "ORDER_NOT_FOUND" },
    },
  }, async (c, { params }) => {
    const id = await currentOrderIdByClientId(sql, tenantOf(c.var.user), params.client_order_id);
    if (id === null) throw tradeErrors.orderNotFound(params.client_order_id);
    return c.json(await orderWithFills(tenantOf(c.var.user), id));
  });

  defineRoute(target, {
    method: "get",
    path: "/orders/:id",
    summary: "Get an order with its fills and legs",
    tags: ["orders"],
    params: IdParams,
    responses: {
      200: {
        description: "The order, with `fills`",
        schema: OrderJson.extend({ fills: z.array(FillJson), ...RetryLinks }),
      },
      404: { description: "ORDER_NOT_FOUND (also for another user's order)" },
    },
  }, async (c, { params }) => c.json(await orderWithFills(tenantOf(c.var.user), params.id)));

  defineRoute(target, {
    method: "get",
    path: "/orders/:id/audit",
    summary: "The audit trail of an order, in order",
    tags: ["orders", "audit"],
    params: IdParams,
    responses: {
      200: { description: "Audit rows", schema: z.array(AuditItem) },
      404: { description: "ORDER_NOT_FOUND" },
    },
  }, async (c, { params }) => {
    const rows = await orderAuditRows(sql, tenantOf(c.var.user), params.id);
    if (rows === null) throw tradeErrors.orderNotFound(params.id);
    return c.json(rows.map((r) => ({ ...r, ts: r.ts.toISOString() })));
  });

  defineRoute(target, {
    method: "patch",
    path: "/orders/:id",
    summary: "Replace an open order (qty, limit_price, stop_price, trail, time_in_force)",
    description:
      "Answers the new order: a new id, with replaces = the old id, and `warnings` as POST /orders gives them. The old order becomes replaced.",
    tags: ["orders"],
    params: IdParams,
    body: replaceRequestSchema,
    responses: {
      200: {
        description: "The replacing order, with the warnings of its validation",
        schema: PlacedOrderJson,
      },
      404: { description: "ORDER_NOT_FOUND" },
      422: { description: "ORDER_NOT_REPLACEABLE or a rule" },
    },
  }, async (c, { params, body }) => {
    if (Object.keys(body).length === 0) {
      throw new ApiError(
        400,
        "VALIDATION_FAILED",
        "Nothing to replace: send qty, limit_price, stop_price, trail or time_in_force",
      );
    }
    const tenant = tenantOf(c.var.user);
    const result = await engine.replace(tenant, params.id, body, c.var.requestId);
    // The replacing order stays in the book of the order it replaces.
    const botId = await orderBookId(sql, tenant, result.order.id);
    return c.json({ ...orderBody(result.order, botId), warnings: result.warnings });
  });

  defineRoute(target, {
    method: "delete",
    path: "/orders/:id",
    summary: "Cancel an order",
    description:
      "Answers 204 at once; the outcome (canceled, or filled first) arrives as order events.",
    tags: ["orders"],
    params: IdParams,
    responses: {
      204: { description: "Cancel requested" },
      404: { description: "ORDER_NOT_FOUND" },
      422: { description: "ORDER_NOT_CANCELABLE: already filled, canceled or expired" },
    },
  }, async (c, { params }) => {
    await engine.cancel(tenantOf(c.var.user), params.id, c.var.requestId);
    return c.body(null, 204);
  });

  defineRoute(target, {
    method: "delete",
    path: "/orders",
    summary: "Cancel every open order, bracket and oto exit legs included",
    tags: ["orders"],
    responses: {
      207: {
        description:
          "One result per order: status 200 when the cancel was requested, else the error",
        schema: z.array(CancelItem),
      },
    },
  }, async (c) => {
    const results = await engine.cancelAll(tenantOf(c.var.user), c.var.requestId);
    return c.json(results.map(cancelItem), 207);
  });
  return target.app;
}
