/**
 * Closed trades (one row per closing fill, with its realized P&L), their statistics, and the
 * trader's summary. Read models over the ledger; row-level security scopes them to the user.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { etToEpochMs, toEt } from "../core/calendar.ts";
import { Decimal } from "../core/decimal.ts";
import {
  dayFigures,
  findTrade,
  listTrades,
  TRADE_SORT_COLUMNS,
  type TradeFilter,
  tradePnls,
  type TradeRow,
} from "../db/read_models/trades.ts";
import { accountJson } from "./account.ts";
import { ApiError } from "./errors.ts";
import { type AppEnv, type ResourceDeps, resourceTarget } from "./app.ts";
import { defineRoute } from "./openapi.ts";
import { InstantParam } from "./params.ts";
import { tenantOf } from "./auth.ts";
import { BookFilter } from "./books.ts";

const Filters = z.object({
  range: z.enum(["today", "week", "month", "custom", "all"]).default("all"),
  start: InstantParam.optional(),
  end: InstantParam.optional(),
  bot_id: BookFilter.optional(),
  symbol: z.string().regex(/^[A-Za-z][A-Za-z0-9.]{0,9}$/).transform((s) => s.toUpperCase())
    .optional(),
  side: z.enum(["long", "short"]).optional(),
});

const ListQuery = Filters.extend({
  sort: z.enum(TRADE_SORT_COLUMNS).default("closed_at"),
  order: z.enum(["asc", "desc"]).default("desc"),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
});

const TradeJson = z.object({
  id: z.uuid(),
  bot_id: z.uuid().nullable(),
  symbol: z.string(),
  side: z.enum(["long", "short"]),
  qty: z.string(),
  entry_price: z.string(),
  exit_price: z.string(),
  realized_pl: z.string(),
  opened_at: z.string().nullable(),
  closed_at: z.string(),
  exit_order_id: z.uuid().nullable(),
}).meta({ id: "Trade" });

function tradeJson(r: TradeRow) {
  return {
    ...r,
    opened_at: r.opened_at?.toISOString() ?? null,
    closed_at: r.closed_at.toISOString(),
  };
}

/** The [from, to) window of a range, in epoch ms (New York days, weeks from Monday). */
export function rangeWindow(
  range: z.output<typeof Filters>["range"],
  now: number,
  start?: number,
  end?: number,
): { from: number | null; to: number | null } {
  const today = toEt(now);
  const midnight = etToEpochMs(today.dateStr, "00:00");
  switch (range) {
    case "today":
      return { from: midnight, to: null };
    case "week": {
      const daysSinceMonday = (today.weekday + 6) % 7;
      const monday = new Date(
        Date.parse(today.dateStr + "T00:00:00Z") - daysSinceMonday * 86_400_000,
      )
        .toISOString().slice(0, 10);
      return { from: etToEpochMs(monday, "00:00"), to: null };
    }
    case "month":
      return { from: etToEpochMs(today.dateStr.slice(0, 8) + "01", "00:00"), to: null };
    case "custom":
      if (start === undefined && end === undefined) {
        throw new ApiError(400, "VALIDATION_FAILED", "range=custom needs start and/or end");
      }
      if (start !== undefined && end !== undefined && end < start) {
        throw new ApiError(400, "VALIDATION_FAILED", "end must not be before start", {
          details: { issues: [{ path: "end", message: "Must not be before start" }] },
        });
      }
      return { from: start ?? null, to: end ?? null };
    case "all":
      return { from: null, to: null };
  }
}

/** Statistics over a list of realized P&Ls in closing order. Exact decimals. */
export function tradeStats(pls: Decimal[]) {
  let total = Decimal.ZERO, grossWin = Decimal.ZERO, grossLoss = Decimal.ZERO;
  let wins = 0, losses = 0;
  let best: Decimal | null = null, worst: Decimal | null = null;
  let equity = Decimal.ZERO, peak = Decimal.ZERO, maxDrawdown = Decimal.ZERO;
  for (const pl of pls) {
    total = total.add(pl);
    if (pl.isPositive()) {
      wins++;
      grossWin = grossWin.add(pl);
    } else if (pl.isNegative()) {
      losses++;
      grossLoss = grossLoss.add(pl);
    }
    best = best === null || pl.gt(best) ? pl : best;
    worst = worst === null || pl.lt(worst) ? pl : worst;
    equity = equity.add(pl);
    peak = Decimal.max(peak, equity);
    maxDrawdown = Decimal.max(maxDrawdown, peak.sub(equity));
  }
  const count = pls.length;
  const ratio = (a: Decimal, b: number) =>
    b === 0 ? null : a.div(Decimal.int(b)).round(6).toString();
  return {
    count,
    wins,
    losses,
    win_rate: count === 0 ? null : Decimal.int(wins).div(Decimal.int(count)).round(6).toString(),
    total_pl: total.toString(),
    average_pl: ratio(total, count),
    average_win: ratio(grossWin, wins),
    average_loss: ratio(grossLoss, losses),
    profit_factor: grossLoss.isZero() ? null : grossWin.div(grossLoss.abs()).round(6).toString(),
    max_drawdown: maxDrawdown.toString(),
    best_trade: best?.toString() ?? null,
    worst_trade: worst?.toString() ?? null,
  };
}

/** Mounts /trades, /trades/stats, /trades/{id} and /summary. */
export function tradeRoutes({ trading: deps, sql, spec }: ResourceDeps): Hono<AppEnv> {
  const target = resourceTarget(spec);
  /** The read model's filter of the query's range (now, by the engine's clock) and fields. */
  const filterOf = (f: z.output<typeof Filters>): TradeFilter => {
    const w = rangeWindow(f.range, deps.clock.now(), f.start, f.end);
    return { fromMs: w.from, toMs: w.to, botId: f.bot_id, symbol: f.symbol, side: f.side };
  };

  defineRoute(target, {
    method: "get",
    path: "/trades",
    summary: "Closed trades with realized P&L",
    description:
      "range: today, week, month, custom (start/end) or all; filters bot_id (a bot's book, or manual), symbol, side; sort on any column; page and pageSize. A trade belongs to one book: its entry and P&L are against that book's own fills.",
    tags: ["trades"],
    query: ListQuery,
    responses: {
      200: {
        description: "A page of trades",
        schema: z.object({
          items: z.array(TradeJson),
          page: z.number(),
          pageSize: z.number(),
          totalItems: z.number(),
          totalPages: z.number(),
        }),
      },
    },
  }, async (c, { query }) => {
    const result = await listTrades(sql, tenantOf(c.var.user), {
      filter: filterOf(query),
      page: { sort: query.sort, order: query.order, page: query.page, pageSize: query.pageSize },
    });
    return c.json({
      items: result.items.map(tradeJson),
      page: query.page,
      pageSize: query.pageSize,
      totalItems: result.total,
      totalPages: Math.ceil(result.total / query.pageSize),
    });
  });

  defineRoute(target, {
    method: "get",
    path: "/trades/stats",
    summary: "Statistics over the same filters: win rate, P&L, profit factor, max drawdown",
    tags: ["trades"],
    query: Filters,
    responses: {
      200: {
        description: "Statistics (decimal strings; null where undefined, e.g. no losses)",
        schema: z.looseObject({ count: z.number(), win_rate: z.string().nullable() }),
      },
    },
  }, async (c, { query }) => {
    const pnls = await tradePnls(sql, tenantOf(c.var.user), filterOf(query));
    return c.json(tradeStats(pnls.map((pl) => Decimal.parse(pl))));
  });

  defineRoute(target, {
    method: "get",
    path: "/trades/:id",
    summary: "One trade",
    tags: ["trades"],
    params: z.object({ id: z.uuid() }),
    responses: {
      200: { description: "The trade", schema: TradeJson },
      404: { description: "TRADE_NOT_FOUND" },
    },
  }, async (c, { params }) => {
    const row = await findTrade(sql, tenantOf(c.var.user), params.id);
    if (!row) throw new ApiError(404, "TRADE_NOT_FOUND", `No trade "${params.id}"`);
    return c.json(tradeJson(row));
  });

  defineRoute(target, {
    method: "get",
    path: "/summary",
    summary: "Equity, day P&L, open positions, running bots and today's trades",
    tags: ["account"],
    responses: {
      200: {
        description: "The trader's dashboard figures",
        schema: z.looseObject({ equity: z.string(), day_pl: z.string() }),
      },
    },
  }, async (c) => {
    const userId = c.var.user.id;
    const [account, positions] = await Promise.all([
      deps.engine.account(userId),
      deps.engine.positions(userId),
    ]);
    const midnight = etToEpochMs(toEt(deps.clock.now()).dateStr, "00:00");
    const day = await dayFigures(sql, tenantOf(c.var.user), midnight);
    const a = accountJson(account);
    return c.json({
      equity: a.equity,
      last_equity: a.last_equity,
      day_pl: account.equity.sub(account.last_equity).toString(),
      cash: a.cash,
      buying_power: a.buying_power,
      open_positions: positions.length,
      running_bots: day.runningBots,
      trades_today: day.trades,
      realized_pl_today: day.realizedPl,
    });
  });
  return target.app;
}
