/**
 * The non-order trading routes of the Alpaca-compatible face, in Alpaca's shapes (money as
 * decimal strings) and status codes:
 *
 * - `GET /v2/account`: the account (`trading_blocked` also while the engine's kill switch halts
 *   the user);
 * - `GET /v2/positions`, `GET /v2/positions/{symbol_or_asset_id}` (404 `40410000` "position does
 *   not exist");
 * - `DELETE /v2/positions/{symbol_or_asset_id}?qty=|percentage=`: 200 with the closing Order;
 * - `DELETE /v2/positions?cancel_orders=true`: 207, one `{symbol, status, body}` per position;
 * - `GET /v2/clock`, `GET /v2/calendar?start=&end=&date_type=`;
 * - `GET /v2/assets?status=&asset_class=&exchange=&attributes=`, `GET /v2/assets/{symbol_or_id}`.
 *
 * Everything goes through the execution engine and the venue exactly as `/api/v1` does, so
 * closing a position takes the same validation, risk checks, ledger and audit as any order.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { Asset } from "../../core/market.ts";
import type { Position } from "../../core/account.ts";
import { CALENDAR_FIRST_YEAR, CALENDAR_LAST_YEAR } from "../../core/calendar.ts";
import { Decimal } from "../../core/decimal.ts";
import { isTradeError, TRADE_ERRORS } from "../../core/errors.ts";
import { toAlpacaJson } from "../../core/order.ts";
import { accountJson, positionJson, userAccount } from "../account.ts";
import { tenantOf } from "../auth.ts";
import type { AppEnv } from "../app.ts";
import { parseInstant } from "../params.ts";
import { AlpacaApiError, invalidParameter } from "./errors.ts";
import { ALPACA_ASSET_CLASSES, isUuid } from "./order_params.ts";
import type { AlpacaFaceDeps } from "./_deps.ts";

/** Up to 9 decimals, as Alpaca takes `qty` and `percentage` of a close. */
const AMOUNT = /^(?:\d{1,12})(?:\.\d{1,9})?$/;
const HUNDRED = Decimal.int(100);

const EXCHANGES = ["AMEX", "ARCA", "BATS", "NYSE", "NASDAQ", "NYSEARCA", "OTC", "CRYPTO"];

const DATE_FIRST = `${CALENDAR_FIRST_YEAR}-01-01`;
// The calendar cannot tell the settlement date of the last day it knows.
const DATE_LAST = `${CALENDAR_LAST_YEAR}-12-30`;
const DAY_MS = 86_400_000;

/** A positive amount with at most 9 decimals, or a 422 naming the parameter. */
function amount(name: string, text: string): Decimal {
  const d = AMOUNT.test(text.trim()) ? Decimal.tryParse(text.trim()) : null;
  if (!d || !d.isPositive()) {
    throw invalidParameter(
      `invalid ${name} "${text}": use a positive number with up to 9 decimals`,
    );
  }
  return d;
}

/**
 * The date of a calendar bound: `YYYY-MM-DD`, or an RFC-3339 time (the SDK sends
 * `toISOString()`), of which the date as written is taken.
 */
function calendarDate(name: string, text: string | undefined): string | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const t = text.trim();
  if (parseInstant(t) === null) {
    throw invalidParameter(
      `invalid ${name} "${text}": use a date such as 2026-11-27 or an RFC-3339 time`,
    );
  }
  return t.slice(0, 10);
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(date + "T00:00:00Z") + days * DAY_MS).toISOString().slice(0, 10);
}

/** Alpaca's asset JSON (Tradewind's `sector` left out). */
export function assetJson(a: Asset): Record<string, unknown> {
  return {
    id: a.id,
    class: a.class,
    exchange: a.exchange,
    symbol: a.symbol,
    name: a.name,
    status: a.status,
    tradable: a.tradable,
    marginable: a.marginable,
    shortable: a.shortable,
    easy_to_borrow: a.easy_to_borrow,
    borrow_status: a.easy_to_borrow ? "easy_to_borrow" : "hard_to_borrow",
    fractionable: a.fractionable,
    attributes: a.attributes,
  };
}

/** The values of a repeatable query parameter, each also split on commas. */
function listParam(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v);
}

const AssetQuery = z.object({
  status: z.enum(["active", "inactive"], { error: 'Must be "active" or "inactive"' }).optional(),
  asset_class: z.array(
    z.enum(ALPACA_ASSET_CLASSES, { error: `Must be one of ${ALPACA_ASSET_CLASSES}` }),
  ),
  exchange: z.enum(EXCHANGES, { error: `Must be one of ${EXCHANGES}` }).optional(),
  attributes: z.array(z.string().max(64)),
});

/** Mounts account, positions, clock, calendar and assets on `v2`. */
export function alpacaTradingRoutes(v2: Hono<AppEnv>, deps: AlpacaFaceDeps): void {
  const { engine } = deps.trading;

  v2.get(
    "/account",
    async (c) => c.json(accountJson(await userAccount(engine, deps.sql, c.var.user))),
  );

  // Positions ---------------------------------------------------------------------------------

  /** The position named by a symbol or an asset id, or a 404. */
  async function findPosition(userId: string, symbolOrId: string): Promise<Position> {
    const key = symbolOrId.trim();
    const found = (await engine.positions(userId)).find((p) =>
      isUuid(key) ? p.asset_id === key.toLowerCase() : p.symbol === key.toUpperCase()
    );
    if (!found) throw new AlpacaApiError(404, 40410000, "position does not exist");
    return found;
  }

  v2.get(
    "/positions",
    async (c) => c.json((await engine.brokerFor(c.var.user.id).listPositions()).map(positionJson)),
  );

  v2.get(
    "/positions/:symbol_or_asset_id",
    async (c) =>
      c.json(positionJson(await findPosition(c.var.user.id, c.req.param("symbol_or_asset_id")))),
  );

  v2.delete("/positions/:symbol_or_asset_id", async (c) => {
    const qtyText = c.req.query("qty");
    const pctText = c.req.query("percentage");
    if (qtyText !== undefined && pctText !== undefined) {
      throw invalidParameter("qty and percentage are mutually exclusive: send one of them");
    }
    const qty = qtyText !== undefined ? amount("qty", qtyText) : undefined;
    const percentage = pctText !== undefined ? amount("percentage", pctText) : undefined;
    if (percentage && percentage.gt(HUNDRED)) {
      throw invalidParameter(`invalid percentage "${pctText}": must be at most 100`);
    }
    const position = await findPosition(c.var.user.id, c.req.param("symbol_or_asset_id"));
    try {
      const result = await engine.closePosition(
        tenantOf(c.var.user),
        position.symbol,
        { ...(qty ? { qty } : {}), ...(percentage ? { percentage } : {}) },
        c.var.requestId,
      );
      return c.json(toAlpacaJson(result.order));
    } catch (e) {
      throw closeError(e, position.symbol);
    }
  });

  v2.delete("/positions", async (c) => {
    const cancel = c.req.query("cancel_orders");
    if (cancel !== undefined && cancel !== "true" && cancel !== "false") {
      throw invalidParameter(`invalid cancel_orders "${cancel}": use true or false`);
    }
    const results = await engine.closeAll(
      tenantOf(c.var.user),
      cancel === "true",
      c.var.requestId,
    );
    // One item per position, as Alpaca answers; a symbol that only had orders to cancel is not
    // a position and is left out.
    return c.json(
      results.filter((r) => r.order || r.error).map((r) => ({
        symbol: r.symbol,
        status: r.status,
        body: r.order ? toAlpacaJson(r.order) : {
          code: TRADE_ERRORS[r.error!.code as keyof typeof TRADE_ERRORS]?.alpacaCode ??
            r.status * 100_000 + 10_000,
          message: r.error!.message,
          symbol: r.symbol,
        },
      })),
      207,
    );
  });

  // Clock and calendar ----------------------------------------------------------------------

  v2.get("/clock", async (c) => c.json(await engine.brokerFor(c.var.user.id).getClock()));

  v2.get("/calendar", async (c) => {
    const dateType = (c.req.query("date_type") ?? "TRADING").toUpperCase();
    if (dateType !== "TRADING" && dateType !== "SETTLEMENT") {
      throw invalidParameter(
        `invalid date_type "${c.req.query("date_type")}": use TRADING or SETTLEMENT`,
      );
    }
    // As Alpaca: without bounds, every day the calendar knows; days outside it are absent.
    let start = calendarDate("start", c.req.query("start")) ?? DATE_FIRST;
    let end = calendarDate("end", c.req.query("end")) ?? DATE_LAST;
    const [wantStart, wantEnd] = [start, end];
    // A settlement date falls at most a week after its trading day.
    if (dateType === "SETTLEMENT") start = addDays(start, -7);
    if (start < DATE_FIRST) start = DATE_FIRST;
    if (end > DATE_LAST) end = DATE_LAST;
    if (start > end) return c.json([]);
    const days = await engine.brokerFor(c.var.user.id).getCalendar(start, end);
    return c.json(
      days.filter((d) =>
        dateType === "TRADING" ||
        (d.settlementDate >= wantStart && d.settlementDate <= wantEnd)
      ).map((d) => ({
        date: d.date,
        open: d.open,
        close: d.close,
        session_open: d.sessionOpen,
        session_close: d.sessionClose,
        settlement_date: d.settlementDate,
      })),
    );
  });

  // Assets ------------------------------------------------------------------------------------

  v2.get("/assets", async (c) => {
    const parsed = AssetQuery.safeParse({
      status: c.req.query("status") || undefined,
      asset_class: listParam(c.req.queries("asset_class")),
      exchange: c.req.query("exchange")?.toUpperCase() || undefined,
      attributes: listParam(c.req.queries("attributes")),
    });
    if (!parsed.success) throw parsed.error;
    const q = parsed.data;
    // Alpaca's default class is us_equity: the only class this venue trades.
    const classes = q.asset_class.length > 0 ? q.asset_class : ["us_equity"];
    const assets = await engine.brokerFor(c.var.user.id).listAssets();
    const wanted = assets.filter((a) =>
      (classes.includes("all") || classes.includes(a.class)) &&
      (!q.status || a.status === q.status) &&
      (!q.exchange || a.exchange === q.exchange) &&
      (q.attributes.length === 0 || q.attributes.some((x) => a.attributes.includes(x)))
    );
    wanted.sort((a, b) =>
      a.class.localeCompare(b.class) || a.exchange.localeCompare(b.exchange) ||
      a.symbol.localeCompare(b.symbol)
    );
    return c.json(wanted.map(assetJson));
  });

  v2.get("/assets/:symbol_or_asset_id", async (c) => {
    const key = c.req.param("symbol_or_asset_id").trim();
    if (key.length === 0 || key.length > 64) {
      throw invalidParameter(`invalid symbol_or_asset_id "${key}": use a ticker or an asset id`);
    }
    try {
      return c.json(assetJson(await engine.brokerFor(c.var.user.id).getAsset(key)));
    } catch (e) {
      if (isTradeError(e) && e.code === "ASSET_NOT_FOUND") {
        throw new AlpacaApiError(404, 40410000, `asset not found for ${key}`);
      }
      throw e;
    }
  });
}

/**
 * Alpaca's error for a failed close: an insufficient quantity names the figures (the domain
 * error's own Alpaca text is a representative instance); anything else as it is.
 */
function closeError(e: unknown, symbol: string): unknown {
  if (!isTradeError(e)) return e;
  const details = e.details as { requested?: unknown; available?: unknown };
  if (e.code === "INSUFFICIENT_QTY" && details.requested !== undefined) {
    return new AlpacaApiError(
      403,
      40310000,
      `insufficient qty available for order (requested: ${details.requested}, available: ${details.available})`,
      {
        extra: {
          symbol,
          available: String(details.available),
          existing_qty: String(details.available),
        },
      },
    );
  }
  if (e.code === "INVALID_REQUEST") return invalidParameter(e.message);
  return e;
}
