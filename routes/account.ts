/**
 * The account and positions, as the venue reports them (Alpaca's fields; money as decimal
 * strings). Closing a position places a market order through the one execution path.
 *
 * @module
 */
import type { Sql } from "postgres";
import type { Hono } from "hono";
import { z } from "zod";
import type { Account, Position } from "../core/account.ts";
import { Decimal } from "../core/decimal.ts";
import { tradeErrors } from "../core/errors.ts";
import { toAlpacaJson } from "../core/order.ts";
import { type AppEnv, type ResourceDeps, resourceTarget, type TradingDeps } from "./app.ts";
import { defineRoute } from "./openapi.ts";
import { CancelItem, cancelItem, OrderJson } from "./orders.ts";
import { positiveDecimal } from "./params.ts";
import { type AuthUser, tenantOf } from "./auth.ts";
import { effectiveState, type StateLayer, type StateLayers } from "../core/risk_authority.ts";
import { withTenant } from "../db/database.ts";
import { readStateLayers } from "../db/risk_limits.ts";

/** Alpaca's account JSON: decimals as strings, created_at as RFC-3339. */
export function accountJson(a: Account): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ ...a, created_at: new Date(a.created_at).toISOString() }));
}

/**
 * A user's account as the venue reports it, with `trading_blocked` also set while the engine's
 * kill switch halts the user (the venue does not know it).
 */
export async function userAccount(
  engine: TradingDeps["engine"],
  sql: Sql,
  user: AuthUser,
): Promise<Account> {
  const account = await engine.account(user.id);
  const layers = await withTenant(sql, tenantOf(user), (tx) => readStateLayers(tx, user.id));
  const states: StateLayers = {};
  for (const [layer, row] of Object.entries(layers)) {
    if (row) states[layer as StateLayer] = row.state;
  }
  const halted = effectiveState(states).state === "halted";
  return { ...account, trading_blocked: account.trading_blocked || halted };
}

/** Alpaca's position JSON: decimals as strings. */
export function positionJson(p: Position): Record<string, unknown> {
  return JSON.parse(JSON.stringify(p));
}

const AccountJson = z.looseObject({
  id: z.string(),
  status: z.string(),
  currency: z.string(),
  cash: z.string(),
  equity: z.string(),
  buying_power: z.string(),
  multiplier: z.string(),
}).meta({ id: "Account" });

const PositionJson = z.looseObject({
  symbol: z.string(),
  qty: z.string(),
  side: z.enum(["long", "short"]),
  avg_entry_price: z.string(),
  market_value: z.string(),
  unrealized_pl: z.string(),
}).meta({ id: "Position" });

const SymbolParams = z.object({
  symbol: z.string().regex(/^[A-Za-z][A-Za-z0-9.]{0,9}$/, "Must be a ticker such as AAPL")
    .transform((s) => s.toUpperCase()),
});

const HUNDRED = Decimal.int(100);

const CloseBody = z.object({
  qty: positiveDecimal.optional(),
  percentage: positiveDecimal.optional(),
}).strict().refine((b) => !(b.qty && b.percentage), {
  message: "Send qty or percentage, not both",
  path: ["percentage"],
}).refine((b) => !b.percentage || b.percentage.lte(HUNDRED), {
  message: "percentage must be at most 100",
  path: ["percentage"],
});

/** One book's share of a closing order. */
const BookShare = z.object({
  bot_id: z.uuid().nullable(),
  side: z.enum(["buy", "sell"]),
  qty: z.string(),
});

/** Mounts the account and position routes. */
export function accountRoutes({ trading: deps, sql, spec }: ResourceDeps): Hono<AppEnv> {
  const target = resourceTarget(spec);
  const { engine } = deps;

  defineRoute(target, {
    method: "get",
    path: "/account",
    summary: "The trading account: cash, equity, buying power",
    tags: ["account"],
    responses: { 200: { description: "Alpaca's account fields", schema: AccountJson } },
  }, async (c) => c.json(accountJson(await userAccount(engine, sql, c.var.user))));

  defineRoute(
    target,
    {
      method: "get",
      path: "/positions",
      summary: "Open positions",
      tags: ["positions"],
      responses: { 200: { description: "Positions", schema: z.array(PositionJson) } },
    },
    async (c) => c.json((await engine.brokerFor(c.var.user.id).listPositions()).map(positionJson)),
  );

  defineRoute(
    target,
    {
      method: "get",
      path: "/positions/:symbol",
      summary: "One open position",
      tags: ["positions"],
      params: SymbolParams,
      responses: {
        200: { description: "The position", schema: PositionJson },
        404: { description: "POSITION_NOT_FOUND" },
      },
    },
    async (c, { params }) => {
      const found = (await engine.positions(c.var.user.id)).find((p) => p.symbol === params.symbol);
      if (!found) throw tradeErrors.positionNotFound(params.symbol);
      return c.json(positionJson(found));
    },
  );

  defineRoute(target, {
    method: "post",
    path: "/positions/:symbol/close",
    summary: "Close all, qty, or a percentage of a position with a market order",
    tags: ["positions"],
    params: SymbolParams,
    body: CloseBody.optional(),
    description:
      "Closing it all flattens the account and every book in the symbol (the manual book and each bot's): `books` lists each book's share of the closing order, [{bot_id, side, qty}] (a book on the other side of the account is closed by an internal cross at the fill price). A partial close (qty or percentage) is a manual order, for the manual book.",
    responses: {
      200: {
        description: "The closing order (manual: bot_id null) and the books it closes",
        schema: OrderJson.extend({ books: z.array(BookShare) }),
      },
      404: { description: "POSITION_NOT_FOUND" },
    },
  }, async (c, { params, body }) => {
    const result = await engine.closePosition(
      tenantOf(c.var.user),
      params.symbol,
      {
        ...(body?.qty ? { qty: body.qty } : {}),
        ...(body?.percentage ? { percentage: body.percentage } : {}),
      },
      c.var.requestId,
    );
    return c.json({ ...toAlpacaJson(result.order), bot_id: null, books: result.books });
  });

  defineRoute(target, {
    method: "delete",
    path: "/positions",
    summary: "Close every position (cancel_orders=true cancels every open order first)",
    description:
      "With cancel_orders=true every open order is canceled first (bracket and oto exits included) and the positions are closed once the cancels are confirmed; a position whose orders are still open after the wait is not closed (409 ORDERS_STILL_OPEN). One item per symbol: body is the closing order (with `books`, the books it flattens) or the error, or null for a symbol that had only orders to cancel; orders lists that symbol's cancel results.",
    tags: ["positions"],
    query: z.object({ cancel_orders: z.enum(["true", "false"]).optional() }),
    responses: {
      207: {
        description: "One result per symbol, with its orders' cancel results",
        schema: z.array(
          z.object({
            symbol: z.string(),
            status: z.number(),
            body: z.unknown(),
            orders: z.array(CancelItem),
          }),
        ),
      },
    },
  }, async (c, { query }) => {
    const results = await engine.closeAll(
      tenantOf(c.var.user),
      query.cancel_orders === "true",
      c.var.requestId,
    );
    return c.json(
      results.map((r) => ({
        symbol: r.symbol,
        status: r.status,
        body: r.order
          ? { ...toAlpacaJson(r.order), bot_id: null, books: r.books ?? [] }
          : r.error
          ? { error: r.error }
          : null,
        orders: r.orders.map(cancelItem),
      })),
      207,
    );
  });
  return target.app;
}
