/**
 * Market data and market hours under `/market`: latest quotes and trades, bars, snapshots,
 * the venue clock, the trading calendar and assets, in the shapes of Alpaca's market-data and
 * trading APIs (plain JSON numbers for prices, as Alpaca's market-data API sends them).
 *
 * Market data goes through the cached {@link MarketData} of `TradingDeps`, so concurrent
 * identical requests share one upstream call. Symbols are case-insensitive. An unknown symbol
 * is a 404 `ASSET_NOT_FOUND`; bad query parameters are a 400 `VALIDATION_FAILED` naming the
 * fields.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { Timeframe } from "../core/market.ts";
import { CALENDAR_FIRST_YEAR, CALENDAR_LAST_YEAR, toEt } from "../core/calendar.ts";
import { ApiError } from "./errors.ts";
import { type AppEnv, type ResourceDeps, resourceTarget } from "./app.ts";
import { defineRoute } from "./openapi.ts";
import { DATE, InstantParam, isCalendarDate } from "./params.ts";

// Parameters ----------------------------------------------------------------------------------

const TICKER = /^[A-Za-z][A-Za-z0-9./-]{0,20}$/;
const TICKER_HINT = "Must be a ticker such as AAPL or BRK.B";

const SymbolParam = z.string().trim().regex(TICKER, TICKER_HINT).transform((s) => s.toUpperCase());
const SymbolParams = z.object({ symbol: SymbolParam });

/** Up to 100 symbols, comma separated (or repeated); upper-cased and deduplicated. */
const SymbolList = z.union([z.string(), z.array(z.string())], {
  error: "Required: symbols such as AAPL,MSFT (comma separated, at most 100)",
}).transform((value, ctx) => {
  const raw = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(","));
  const out = new Set<string>();
  raw.forEach((item, i) => {
    const s = item.trim();
    if (s === "") return;
    if (!TICKER.test(s)) {
      ctx.addIssue({ code: "custom", path: [i], message: `${TICKER_HINT}, got "${s}"` });
    } else {
      out.add(s.toUpperCase());
    }
  });
  if (out.size === 0 && ctx.issues.length === 0) {
    ctx.addIssue({ code: "custom", message: "Required: at least one symbol such as AAPL" });
  } else if (out.size > 100) {
    ctx.addIssue({ code: "custom", message: `At most 100 symbols, got ${out.size}` });
  }
  return [...out];
}).meta({ description: "Comma-separated symbols, at most 100", example: "AAPL,MSFT" });

const SymbolsQuery = z.object({ symbols: SymbolList });

const TIMEFRAME_ALIASES: Record<string, Timeframe> = {
  "1Min": "1Min",
  "1T": "1Min",
  "5Min": "5Min",
  "5T": "5Min",
  "15Min": "15Min",
  "15T": "15Min",
  "1Hour": "1Hour",
  "60Min": "1Hour",
  "1H": "1Hour",
  "1Day": "1Day",
  "1D": "1Day",
};

const TimeframeParam = z.enum(Object.keys(TIMEFRAME_ALIASES) as [string, ...string[]], {
  error: "Must be one of 1Min, 5Min, 15Min, 1Hour, 1Day",
}).transform((t) => TIMEFRAME_ALIASES[t]!);

function isBase64(text: string): boolean {
  try {
    atob(text);
    return true;
  } catch {
    return false;
  }
}

const BarsQueryParams = z.object({
  timeframe: TimeframeParam,
  start: InstantParam.optional(),
  end: InstantParam.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  page_token: z.string().max(512).refine(isBase64, "Must be a next_page_token from a previous page")
    .optional(),
  sort: z.enum(["asc", "desc"]).default("asc"),
}).superRefine((q, ctx) => {
  if (q.start !== undefined && q.end !== undefined && q.end < q.start) {
    ctx.addIssue({ code: "custom", path: ["end"], message: "Must not be before start" });
  }
});

const DATE_FIRST = `${CALENDAR_FIRST_YEAR}-01-01`;
// The calendar cannot tell the settlement date of the last day it knows.
const DATE_LAST = `${CALENDAR_LAST_YEAR}-12-30`;
const DAY_MS = 86_400_000;

const DateParam = z.string().trim().superRefine((s, ctx) => {
  const m = DATE.exec(s);
  const message = !m
    ? `Expected a date such as 2026-11-27, got "${s}"`
    : !isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))
    ? `Not a calendar date: "${s}"`
    : s < DATE_FIRST || s > DATE_LAST
    ? `The market calendar covers ${DATE_FIRST} to ${DATE_LAST}, got "${s}"`
    : null;
  if (message !== null) ctx.addIssue({ code: "custom", message });
});

const CalendarQuery = z.object({
  start: DateParam.optional(),
  end: DateParam.optional(),
}).superRefine((q, ctx) => {
  if (q.start !== undefined && q.end !== undefined && q.end < q.start) {
    ctx.addIssue({ code: "custom", path: ["end"], message: "Must not be before start" });
  }
});

function addDays(date: string, days: number): string {
  return new Date(Date.parse(date + "T00:00:00Z") + days * DAY_MS).toISOString().slice(0, 10);
}

// Response shapes (for the document) ------------------------------------------------------------

const QuoteJson = z.object({
  t: z.string(),
  bx: z.string(),
  bp: z.number(),
  bs: z.number(),
  ax: z.string(),
  ap: z.number(),
  as: z.number(),
  c: z.array(z.string()),
  z: z.string(),
}).meta({ id: "StockQuote" });

const TradeJson = z.object({
  t: z.string(),
  x: z.string(),
  p: z.number(),
  s: z.number(),
  c: z.array(z.string()),
  i: z.number(),
  z: z.string(),
}).meta({ id: "StockTrade" });

const BarJson = z.object({
  t: z.string().describe("Start of the interval (left-labelled), RFC-3339"),
  o: z.number(),
  h: z.number(),
  l: z.number(),
  c: z.number(),
  v: z.number(),
  n: z.number(),
  vw: z.number(),
}).meta({ id: "StockBar" });

const SnapshotJson = z.object({
  latestTrade: TradeJson.nullable(),
  latestQuote: QuoteJson.nullable(),
  minuteBar: BarJson.nullable(),
  dailyBar: BarJson.nullable(),
  prevDailyBar: BarJson.nullable(),
}).meta({ id: "StockSnapshot" });

const AssetJson = z.object({
  id: z.string(),
  class: z.literal("us_equity"),
  exchange: z.string(),
  symbol: z.string(),
  name: z.string(),
  status: z.enum(["active", "inactive"]),
  tradable: z.boolean(),
  marginable: z.boolean(),
  shortable: z.boolean(),
  easy_to_borrow: z.boolean(),
  fractionable: z.boolean(),
  sector: z.string().describe("Not an Alpaca field: the sector, for concentration limits"),
  attributes: z.array(z.string()),
}).meta({ id: "Asset" });

const ClockJson = z.object({
  timestamp: z.string(),
  is_open: z.boolean(),
  next_open: z.string(),
  next_close: z.string(),
}).meta({ id: "MarketClock" });

const CalendarDayJson = z.object({
  date: z.string(),
  open: z.string(),
  close: z.string(),
  session_open: z.string(),
  session_close: z.string(),
  settlement_date: z.string(),
}).meta({ id: "CalendarDay" });

const NOT_FOUND = { description: "Unknown symbol (ASSET_NOT_FOUND)" };

// Routes --------------------------------------------------------------------------------------

/** Turns a port's `ASSET_NOT_FOUND` (a 422 on the order path) into this API's 404. */
async function lookup<T>(what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown; details?: { symbol?: unknown } };
    if (e instanceof Error && err.code === "ASSET_NOT_FOUND") {
      const symbol = typeof err.details?.symbol === "string" ? err.details.symbol : undefined;
      throw new ApiError(
        404,
        "ASSET_NOT_FOUND",
        symbol === undefined
          ? `Cannot get ${what}: ${e.message}`
          : `Cannot get ${what}: asset "${symbol}" not found`,
        symbol === undefined ? {} : { details: { symbol } },
      );
    }
    throw e;
  }
}

/**
 * Mounts `/market/...`: quotes, trades, bars, snapshots, clock, calendar and assets.
 * Handlers throw `ApiError` (404 `ASSET_NOT_FOUND`) or the ports' `TradeError`s.
 */
export function marketRoutes({ trading: deps, spec }: ResourceDeps): Hono<AppEnv> {
  const target = resourceTarget(spec);
  const md = deps.marketData;
  const tags = ["market"];

  defineRoute(target, {
    method: "get",
    path: "/market/quote/:symbol",
    summary: "Latest quote (NBBO) of a symbol",
    tags,
    params: SymbolParams,
    responses: {
      200: { description: "The quote", schema: z.object({ symbol: z.string(), quote: QuoteJson }) },
      404: NOT_FOUND,
    },
  }, async (c, { params: { symbol } }) => {
    const quote = await lookup(`quote of "${symbol}"`, () => md.latestQuote(symbol));
    return c.json({ symbol, quote });
  });

  defineRoute(target, {
    method: "get",
    path: "/market/quotes",
    summary: "Latest quotes of several symbols",
    tags,
    query: SymbolsQuery,
    responses: {
      200: {
        description: "Quotes by symbol",
        schema: z.object({ quotes: z.record(z.string(), QuoteJson) }),
      },
      404: NOT_FOUND,
    },
  }, async (c, { query: { symbols } }) => {
    const quotes = await lookup("quotes", () => md.latestQuotes(symbols));
    return c.json({ quotes });
  });

  defineRoute(target, {
    method: "get",
    path: "/market/trade/:symbol",
    summary: "Latest trade of a symbol",
    tags,
    params: SymbolParams,
    responses: {
      200: { description: "The trade", schema: z.object({ symbol: z.string(), trade: TradeJson }) },
      404: NOT_FOUND,
    },
  }, async (c, { params: { symbol } }) => {
    const trade = await lookup(`trade of "${symbol}"`, () => md.latestTrade(symbol));
    return c.json({ symbol, trade });
  });

  defineRoute(target, {
    method: "get",
    path: "/market/trades",
    summary: "Latest trades of several symbols",
    tags,
    query: SymbolsQuery,
    responses: {
      200: {
        description: "Trades by symbol",
        schema: z.object({ trades: z.record(z.string(), TradeJson) }),
      },
      404: NOT_FOUND,
    },
  }, async (c, { query: { symbols } }) => {
    const trades = await lookup("trades", () => md.latestTrades(symbols));
    return c.json({ trades });
  });

  defineRoute(target, {
    method: "get",
    path: "/market/bars/:symbol",
    summary: "Historical bars of a symbol",
    description: "As Alpaca's `GET /v2/stocks/{symbol}/bars`: `start` and `end` are inclusive; " +
      "`start` defaults to the start of today in New York and `end` to now. Follow " +
      "`next_page_token` (as `page_token`) until it is null.",
    tags,
    params: SymbolParams,
    query: BarsQueryParams,
    responses: {
      200: {
        description: "A page of bars",
        schema: z.object({
          symbol: z.string(),
          bars: z.array(BarJson),
          next_page_token: z.string().nullable(),
        }),
      },
      404: NOT_FOUND,
    },
  }, async (c, { params: { symbol }, query }) => {
    // An open or future end means "up to now": pin it to the current second so identical
    // requests within that second share one upstream call and a cached page is never older.
    const nowSecond = Math.floor(deps.clock.now() / 1000) * 1000;
    const end = query.end === undefined || query.end > nowSecond ? nowSecond : query.end;
    const page = await lookup(`bars of "${symbol}"`, () =>
      md.bars(symbol, {
        timeframe: query.timeframe,
        start: query.start,
        end,
        limit: query.limit,
        pageToken: query.page_token,
        sort: query.sort,
      }));
    return c.json({ symbol, bars: page.bars, next_page_token: page.next_page_token });
  });

  defineRoute(target, {
    method: "get",
    path: "/market/snapshot/:symbol",
    summary: "Snapshot of a symbol: latest trade and quote, minute, daily and previous daily bar",
    tags,
    params: SymbolParams,
    responses: {
      200: {
        description: "The snapshot",
        schema: z.object({ symbol: z.string() }).extend(SnapshotJson.shape),
      },
      404: NOT_FOUND,
    },
  }, async (c, { params: { symbol } }) => {
    const snapshot = await lookup(`snapshot of "${symbol}"`, () => md.snapshot(symbol));
    return c.json({ symbol, ...snapshot });
  });

  defineRoute(target, {
    method: "get",
    path: "/market/snapshots",
    summary: "Snapshots of several symbols (a top-level map, as Alpaca)",
    tags,
    query: SymbolsQuery,
    responses: {
      200: { description: "Snapshots by symbol", schema: z.record(z.string(), SnapshotJson) },
      404: NOT_FOUND,
    },
  }, async (c, { query: { symbols } }) => {
    const snapshots = await lookup("snapshots", () => md.snapshots(symbols));
    return c.json(snapshots);
  });

  defineRoute(target, {
    method: "get",
    path: "/market/clock",
    summary: "The venue clock: now, whether the market is open, the next open and close",
    tags,
    responses: { 200: { description: "The clock", schema: ClockJson } },
  }, async (c) => {
    const clock = await deps.engine.brokerFor(c.var.user.id).getClock();
    return c.json(clock);
  });

  defineRoute(target, {
    method: "get",
    path: "/market/calendar",
    summary: "Trading days between two dates (holidays are absent)",
    description: "As Alpaca's `GET /v2/calendar`: `start` and `end` are inclusive ET dates; " +
      `\`start\` defaults to today in New York, \`end\` to 30 days after \`start\`. ` +
      `Dates from ${DATE_FIRST} to ${DATE_LAST}.`,
    tags,
    query: CalendarQuery,
    responses: {
      200: { description: "The trading days, in order", schema: z.array(CalendarDayJson) },
    },
  }, async (c, { query }) => {
    const start = query.start ?? toEt(deps.clock.now()).dateStr;
    if (start < DATE_FIRST || start > DATE_LAST) {
      throw new ApiError(
        400,
        "VALIDATION_FAILED",
        `Cannot list the calendar from today (${start}): the calendar covers ${DATE_FIRST} to ${DATE_LAST}`,
      );
    }
    let end = query.end;
    if (end === undefined) {
      end = addDays(start, 30);
      if (end > DATE_LAST) end = DATE_LAST;
    }
    const days = await deps.engine.brokerFor(c.var.user.id).getCalendar(start, end);
    return c.json(days.map((d) => ({
      date: d.date,
      open: d.open,
      close: d.close,
      session_open: d.sessionOpen,
      session_close: d.sessionClose,
      settlement_date: d.settlementDate,
    })));
  });

  defineRoute(target, {
    method: "get",
    path: "/market/assets",
    summary: "Every asset the venue knows",
    tags,
    responses: { 200: { description: "The assets, by symbol", schema: z.array(AssetJson) } },
  }, async (c) => {
    const assets = await deps.engine.brokerFor(c.var.user.id).listAssets();
    return c.json(assets);
  });

  defineRoute(target, {
    method: "get",
    path: "/market/assets/:symbol",
    summary: "One asset, by symbol or asset id",
    tags,
    params: z.object({
      symbol: z.union([z.guid(), SymbolParam], {
        error: "Must be a ticker such as AAPL or an asset id",
      }),
    }),
    responses: { 200: { description: "The asset", schema: AssetJson }, 404: NOT_FOUND },
  }, async (c, { params: { symbol } }) => {
    const asset = await lookup(
      `asset "${symbol}"`,
      () => deps.engine.brokerFor(c.var.user.id).getAsset(symbol),
    );
    return c.json(asset);
  });
  return target.app;
}
