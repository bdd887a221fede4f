/**
 * Market data of the Alpaca face, at `/v2/stocks/...` (ALPACA.md §6): latest quotes, trades
 * and minute bars (one symbol or `symbols=`), historical bars with paging (one symbol or
 * several), and snapshots (the multi-symbol answer is Alpaca's unwrapped map). Prices are JSON
 * numbers, as Alpaca's market-data API sends them.
 *
 * Everything reads the cached {@link MarketData} of the trading deps (as `routes/market.ts`).
 * `feed`, `currency` (USD), `adjustment` and `asof` are accepted and validated; the venue has
 * one feed and no corporate actions, so they do not change the answer. An unknown symbol is a
 * 404 for one symbol and simply absent from a multi-symbol answer, as at Alpaca. Bad
 * parameters are a 400 or 422 with Alpaca's `{"code","message"}` body naming the parameter.
 *
 * @module
 */
import type { Hono } from "hono";
import type { Env } from "hono";
import type { MarketData } from "../../brokers/broker.ts";
import type { BarsPage, Timeframe } from "../../core/market.ts";
import type { TradingDeps } from "../app.ts";
import { parseInstant } from "../params.ts";
import { AlpacaApiError } from "./errors.ts";

/** What the market-data routes need from the face's deps. */
export interface AlpacaMarketDataDeps {
  trading: Pick<TradingDeps, "marketData" | "clock">;
}

const TICKER = /^[A-Z][A-Z0-9./-]{0,20}$/;
/** The most symbols one request may name. */
export const MAX_SYMBOLS = 1000;
const FEEDS = new Set(["sip", "iex", "otc", "boats", "delayed_sip", "overnight"]);
const ADJUSTMENTS = new Set(["raw", "split", "dividend", "spin-off", "all"]);

/** Alpaca's timeframe spellings that Tradewind serves, and what they mean. */
const TIMEFRAMES: Record<string, Timeframe> = {
  "1Min": "1Min",
  "1T": "1Min",
  "5Min": "5Min",
  "5T": "5Min",
  "15Min": "15Min",
  "15T": "15Min",
  "60Min": "1Hour",
  "60T": "1Hour",
  "1Hour": "1Hour",
  "1H": "1Hour",
  "1Day": "1Day",
  "1D": "1Day",
};
/** Every timeframe Alpaca accepts (ALPACA.md §6), served or not. */
const ALPACA_TIMEFRAME =
  /^(?:([1-9]|[1-5][0-9])(?:Min|T)|([1-9]|1[0-9]|2[0-3])(?:Hour|H)|1(?:Day|D)|1(?:Week|W)|(?:1|2|3|4|6|12)(?:Month|M))$/;

function invalid(parameter: string, detail: string): AlpacaApiError {
  return new AlpacaApiError(422, 42210000, `invalid ${parameter}: ${detail}`);
}

function symbolOf(raw: string): string {
  const s = raw.trim().toUpperCase();
  if (!TICKER.test(s)) throw new AlpacaApiError(400, 40010001, `invalid symbol: "${raw}"`);
  return s;
}

/** Reads `symbols=` (CSV, or repeated): upper-cased, deduplicated, in the given order. */
function symbolsOf(values: string[]): string[] {
  const out = new Set<string>();
  for (const item of values.flatMap((v) => v.split(","))) {
    if (item.trim() === "") continue;
    out.add(symbolOf(item));
  }
  if (out.size === 0) {
    throw new AlpacaApiError(400, 40010001, "missing symbols: give symbols=AAPL,MSFT");
  }
  if (out.size > MAX_SYMBOLS) {
    throw invalid("symbols", `at most ${MAX_SYMBOLS}, got ${out.size}`);
  }
  return [...out];
}

/** Checks the parameters every market-data route accepts: `feed`, `currency`. */
function checkCommon(query: (name: string) => string | undefined): void {
  const feed = query("feed");
  if (feed !== undefined && !FEEDS.has(feed)) {
    throw invalid("feed", `"${feed}" is not one of ${[...FEEDS].join(", ")}`);
  }
  const currency = query("currency");
  if (currency !== undefined && currency.toUpperCase() !== "USD") {
    throw invalid("currency", `"${currency}": Tradewind quotes prices in USD only`);
  }
}

interface BarsParams {
  timeframe: Timeframe;
  start: number | undefined;
  end: number;
  limit: number;
  pageToken: string | undefined;
  sort: "asc" | "desc";
}

function instant(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  const ms = parseInstant(text.trim());
  if (ms === null || ms < 0) {
    throw invalid(name, `"${text}" is not an RFC-3339 time or a YYYY-MM-DD date`);
  }
  return ms;
}

function barsParams(query: (name: string) => string | undefined, nowMs: number): BarsParams {
  checkCommon(query);
  const tf = query("timeframe");
  if (tf === undefined || tf === "") {
    throw new AlpacaApiError(400, 40010001, "missing timeframe: give timeframe=1Min");
  }
  const timeframe = TIMEFRAMES[tf];
  if (timeframe === undefined) {
    throw ALPACA_TIMEFRAME.test(tf)
      ? invalid("timeframe", `"${tf}" is not served here: use 1Min, 5Min, 15Min, 1Hour or 1Day`)
      : invalid("timeframe", `"${tf}"`);
  }
  const start = instant("start", query("start"));
  const endAsked = instant("end", query("end"));
  if (start !== undefined && endAsked !== undefined && endAsked < start) {
    throw invalid("end", "end must not be before start");
  }
  // An open or future end means "up to now": pinned to the current second so identical
  // requests within it share one upstream call (as routes/market.ts).
  const nowSecond = Math.floor(nowMs / 1000) * 1000;
  const end = endAsked === undefined || endAsked > nowSecond ? nowSecond : endAsked;
  const limitText = query("limit");
  const limit = limitText === undefined || limitText === "" ? 1000 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw invalid("limit", `"${limitText}" is not an integer from 1 to 10000`);
  }
  const sort = query("sort") ?? "asc";
  if (sort !== "asc" && sort !== "desc") throw invalid("sort", `"${sort}" is not asc or desc`);
  const adjustment = query("adjustment");
  if (
    adjustment !== undefined && !adjustment.split(",").every((a) => ADJUSTMENTS.has(a.trim()))
  ) {
    throw invalid("adjustment", `"${adjustment}" is not raw, split, dividend, spin-off or all`);
  }
  const pageToken = query("page_token") || undefined;
  return { timeframe, start, end, limit, pageToken, sort };
}

function isAssetNotFound(e: unknown): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === "ASSET_NOT_FOUND";
}

/** One symbol: the port's ASSET_NOT_FOUND (a 422 on the order path) becomes a 404. */
async function one<T>(symbol: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (isAssetNotFound(e)) {
      throw new AlpacaApiError(404, 40410000, `asset not found for ${symbol}`);
    }
    throw e;
  }
}

/**
 * Several symbols: one batch call; when a symbol is unknown, each symbol alone, leaving the
 * unknown ones out of the map (Alpaca answers only what it found).
 */
async function many<T>(
  symbols: string[],
  batch: (symbols: string[]) => Promise<Record<string, T>>,
  single: (symbol: string) => Promise<T | null>,
): Promise<Record<string, T>> {
  try {
    return await batch(symbols);
  } catch (e) {
    if (!isAssetNotFound(e)) throw e;
  }
  const out: Record<string, T> = {};
  for (const symbol of symbols) {
    try {
      const value = await single(symbol);
      if (value !== null) out[symbol] = value;
    } catch (e) {
      if (!isAssetNotFound(e)) throw e;
    }
  }
  return out;
}

// Multi-symbol bar pages ------------------------------------------------------------------------

interface MultiCursor {
  /** The symbol the next page starts with. */
  s: string;
  /** The venue's page token within that symbol, or null to start it from the beginning. */
  p: string | null;
}

function encodeCursor(cursor: MultiCursor): string {
  return btoa(JSON.stringify(cursor));
}

function decodeCursor(token: string, symbols: string[]): MultiCursor {
  let cursor: unknown;
  try {
    cursor = JSON.parse(atob(token));
  } catch {
    throw invalid("page_token", "use the next_page_token of the previous page");
  }
  const c = cursor as Partial<MultiCursor> | null;
  if (
    typeof c !== "object" || c === null || typeof c.s !== "string" ||
    (c.p !== null && typeof c.p !== "string")
  ) {
    throw invalid("page_token", "use the next_page_token of the previous page");
  }
  if (!symbols.includes(c.s)) {
    throw invalid("page_token", `it continues symbol "${c.s}", which this request does not name`);
  }
  return { s: c.s, p: c.p };
}

/**
 * A page of bars of several symbols, sorted by symbol then time, at most `limit` in all
 * (Alpaca's limit caps the total); `next_page_token` names where the next page starts.
 */
async function multiBars(
  md: MarketData,
  symbols: string[],
  params: BarsParams,
): Promise<{ bars: Record<string, unknown[]>; next_page_token: string | null }> {
  const sorted = [...symbols].sort();
  let index = 0;
  let inner: string | undefined;
  if (params.pageToken !== undefined) {
    const cursor = decodeCursor(params.pageToken, sorted);
    index = sorted.indexOf(cursor.s);
    inner = cursor.p ?? undefined;
  }
  const bars: Record<string, unknown[]> = {};
  let remaining = params.limit;
  for (; index < sorted.length; index++) {
    const symbol = sorted[index]!;
    if (remaining === 0) return { bars, next_page_token: encodeCursor({ s: symbol, p: null }) };
    let page: BarsPage;
    try {
      page = await md.bars(symbol, {
        timeframe: params.timeframe,
        ...(params.start !== undefined ? { start: params.start } : {}),
        end: params.end,
        limit: remaining,
        ...(inner !== undefined ? { pageToken: inner } : {}),
        sort: params.sort,
      });
    } catch (e) {
      if (!isAssetNotFound(e)) throw e;
      inner = undefined;
      continue;
    }
    inner = undefined;
    if (page.bars.length > 0) bars[symbol] = page.bars;
    remaining -= page.bars.length;
    if (page.next_page_token !== null) {
      return { bars, next_page_token: encodeCursor({ s: symbol, p: page.next_page_token }) };
    }
  }
  return { bars, next_page_token: null };
}

// Routes --------------------------------------------------------------------------------------

/**
 * Mounts the market-data routes on the face's `/v2` app (paths relative to it:
 * `/stocks/...`). Handlers throw {@link AlpacaApiError} or the ports' `TradeError`s, which
 * the face renders as Alpaca's error body.
 */
export function alpacaMarketDataRoutes<E extends Env>(
  v2: Hono<E>,
  deps: AlpacaMarketDataDeps,
): void {
  const md = deps.trading.marketData;
  const now = () => deps.trading.clock.now();

  // Multi-symbol routes first: "/stocks/bars" must not be read as the bars of symbol "BARS".
  v2.get("/stocks/bars/latest", async (c) => {
    checkCommon((n) => c.req.query(n));
    const symbols = symbolsOf(c.req.queries("symbols") ?? []);
    const bars: Record<string, unknown> = {};
    for (const symbol of symbols) {
      try {
        const bar = await md.latestBar(symbol);
        if (bar !== null) bars[symbol] = bar;
      } catch (e) {
        if (!isAssetNotFound(e)) throw e;
      }
    }
    return c.json({ bars });
  });

  v2.get("/stocks/quotes/latest", async (c) => {
    checkCommon((n) => c.req.query(n));
    const symbols = symbolsOf(c.req.queries("symbols") ?? []);
    const quotes = await many(symbols, (s) => md.latestQuotes(s), (s) => md.latestQuote(s));
    return c.json({ quotes });
  });

  v2.get("/stocks/trades/latest", async (c) => {
    checkCommon((n) => c.req.query(n));
    const symbols = symbolsOf(c.req.queries("symbols") ?? []);
    const trades = await many(symbols, (s) => md.latestTrades(s), (s) => md.latestTrade(s));
    return c.json({ trades });
  });

  v2.get("/stocks/snapshots", async (c) => {
    checkCommon((n) => c.req.query(n));
    const symbols = symbolsOf(c.req.queries("symbols") ?? []);
    // Alpaca's multi-symbol snapshot answer is the map itself, with no wrapper key.
    return c.json(await many(symbols, (s) => md.snapshots(s), (s) => md.snapshot(s)));
  });

  v2.get("/stocks/bars", async (c) => {
    const params = barsParams((n) => c.req.query(n), now());
    const symbols = symbolsOf(c.req.queries("symbols") ?? []);
    return c.json(await multiBars(md, symbols, params));
  });

  v2.get("/stocks/:symbol/quotes/latest", async (c) => {
    checkCommon((n) => c.req.query(n));
    const symbol = symbolOf(c.req.param("symbol"));
    const quote = await one(symbol, () => md.latestQuote(symbol));
    return c.json({ symbol, quote });
  });

  v2.get("/stocks/:symbol/trades/latest", async (c) => {
    checkCommon((n) => c.req.query(n));
    const symbol = symbolOf(c.req.param("symbol"));
    const trade = await one(symbol, () => md.latestTrade(symbol));
    return c.json({ symbol, trade });
  });

  v2.get("/stocks/:symbol/bars/latest", async (c) => {
    checkCommon((n) => c.req.query(n));
    const symbol = symbolOf(c.req.param("symbol"));
    const bar = await one(symbol, () => md.latestBar(symbol));
    if (bar === null) {
      throw new AlpacaApiError(404, 40410000, `no bar found for ${symbol}`);
    }
    return c.json({ symbol, bar });
  });

  v2.get("/stocks/:symbol/bars", async (c) => {
    const params = barsParams((n) => c.req.query(n), now());
    const symbol = symbolOf(c.req.param("symbol"));
    const page = await one(symbol, () =>
      md.bars(symbol, {
        timeframe: params.timeframe,
        ...(params.start !== undefined ? { start: params.start } : {}),
        end: params.end,
        limit: params.limit,
        ...(params.pageToken !== undefined ? { pageToken: params.pageToken } : {}),
        sort: params.sort,
      }).catch((e) => {
        // The venue reads its own page tokens: one it cannot read is this parameter's fault.
        const status = (e as { status?: unknown }).status;
        if (params.pageToken !== undefined && (status === 400 || status === 422)) {
          throw invalid("page_token", "use the next_page_token of the previous page");
        }
        throw e;
      }));
    return c.json({ symbol, bars: page.bars, next_page_token: page.next_page_token });
  });

  v2.get("/stocks/:symbol/snapshot", async (c) => {
    checkCommon((n) => c.req.query(n));
    const symbol = symbolOf(c.req.param("symbol"));
    const snapshot = await one(symbol, () => md.snapshot(symbol));
    return c.json({ symbol, ...snapshot });
  });
}
