/**
 * Alpaca's trading JSON (ALPACA.md §2, §3.2, §5) to and from Tradewind's core types, exactly:
 * amounts are decimal strings on the wire and {@link Decimal}s here (never JS floats),
 * timestamps RFC-3339 on the wire and epoch ms here.
 *
 * Every parser throws {@link AlpacaShapeError} when a required field is missing or malformed,
 * naming the field and the value, so a body that is not what Alpaca documents is never
 * half-read into the ledger. Orders are read by core's one wire parser, as the stream clients'
 * ./mapping.ts reads them (one of the two wrappers can go once both branches are merged).
 *
 * @module
 */
import { etToEpochMs, type TradingDay } from "../../core/calendar.ts";
import { Decimal } from "../../core/decimal.ts";
import type { OrderRequest, ReplaceRequest } from "../../core/order_types.ts";
import { type Order, parseAlpacaOrder } from "../../core/order.ts";
import type { Asset, MarketClock } from "../../core/market.ts";
import type { Account, CancelResult, ClosePositionResult, Position } from "../../core/account.ts";

/** A body from Alpaca that does not have the documented shape. */
export class AlpacaShapeError extends Error {
  override name = "AlpacaShapeError";
}

type Json = Record<string, unknown>;

function obj(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AlpacaShapeError(`Alpaca sent ${what} that is not an object: ${preview(value)}`);
  }
  return value as Json;
}

/** A JSON array of objects, or an {@link AlpacaShapeError}. */
export function arr(value: unknown, what: string): Json[] {
  if (!Array.isArray(value)) {
    throw new AlpacaShapeError(`Alpaca sent ${what} that is not an array: ${preview(value)}`);
  }
  return value.map((v, i) => obj(v, `${what}[${i}]`));
}

function preview(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return `"${s.length > 80 ? s.slice(0, 80) + "…" : s}"`;
}

function str(o: Json, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== "string") {
    throw new AlpacaShapeError(`Alpaca sent ${what} without a string "${key}": ${preview(v)}`);
  }
  return v;
}

function optStr(o: Json, key: string): string | null {
  const v = o[key];
  return typeof v === "string" ? v : null;
}

function dec(o: Json, key: string, what: string): Decimal {
  const d = optDec(o, key, what);
  if (d === null) {
    throw new AlpacaShapeError(`Alpaca sent ${what} without "${key}"`);
  }
  return d;
}

function optDec(o: Json, key: string, what: string): Decimal | null {
  const v = o[key];
  if (v === null || v === undefined || v === "") return null;
  // Trading amounts are strings; a number is taken through its shortest decimal text.
  const d = typeof v === "string" || typeof v === "number" ? Decimal.tryParse(v) : null;
  if (d === null) {
    throw new AlpacaShapeError(`Alpaca sent ${what} with "${key}" not a decimal: ${preview(v)}`);
  }
  return d;
}

function bool(o: Json, key: string, fallback = false): boolean {
  const v = o[key];
  return typeof v === "boolean" ? v : fallback;
}

/** RFC-3339 (any number of fraction digits, `Z` or an offset) to epoch ms, or null. */
export function parseTimestamp(value: unknown): number | null {
  if (typeof value !== "string" || value === "") return null;
  // Alpaca sends nanoseconds; keep milliseconds (truncated) so every runtime parses it.
  const trimmed = value.replace(/(\.\d{3})\d+/, "$1");
  const ms = Date.parse(trimmed);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * An Alpaca Order object (REST or `trade_updates`) as a core {@link Order}, read by core's one
 * wire parser (`parseAlpacaOrder`); nested legs get `parent_id`. A body that does not parse is
 * an {@link AlpacaShapeError} (never a `TradeError`: Alpaca answered, so the request may well
 * have been carried out).
 */
export function orderFromAlpaca(value: unknown): Order {
  try {
    return parseAlpacaOrder(value);
  } catch (e) {
    const id = typeof value === "object" && value !== null && "id" in value &&
        typeof value.id === "string"
      ? ` "${value.id}"`
      : "";
    throw new AlpacaShapeError(
      `Alpaca sent an order${id} that cannot be read: ${(e as Error).message}`,
    );
  }
}

/** A core {@link OrderRequest} as the JSON body of `POST /v2/orders` (amounts as strings). */
export function orderRequestToAlpaca(request: OrderRequest): Json {
  const body: Json = {
    symbol: request.symbol,
    side: request.side,
    type: request.type,
    time_in_force: request.time_in_force,
  };
  const put = (key: string, v: Decimal | undefined) => {
    if (v !== undefined) body[key] = v.toString();
  };
  put("qty", request.qty);
  put("notional", request.notional);
  put("limit_price", request.limit_price);
  put("stop_price", request.stop_price);
  put("trail_price", request.trail_price);
  put("trail_percent", request.trail_percent);
  if (request.extended_hours !== undefined) body.extended_hours = request.extended_hours;
  if (request.client_order_id !== undefined) body.client_order_id = request.client_order_id;
  if (request.order_class !== undefined && request.order_class !== "") {
    body.order_class = request.order_class;
  }
  if (request.take_profit) {
    body.take_profit = { limit_price: request.take_profit.limit_price.toString() };
  }
  if (request.stop_loss) {
    body.stop_loss = {
      stop_price: request.stop_loss.stop_price.toString(),
      ...(request.stop_loss.limit_price
        ? { limit_price: request.stop_loss.limit_price.toString() }
        : {}),
    };
  }
  if (request.position_intent !== undefined) body.position_intent = request.position_intent;
  return body;
}

/** A core {@link ReplaceRequest} as the JSON body of `PATCH /v2/orders/{id}`. */
export function replaceRequestToAlpaca(request: ReplaceRequest): Json {
  const body: Json = {};
  if (request.qty !== undefined) body.qty = request.qty.toString();
  if (request.time_in_force !== undefined) body.time_in_force = request.time_in_force;
  if (request.limit_price !== undefined) body.limit_price = request.limit_price.toString();
  if (request.stop_price !== undefined) body.stop_price = request.stop_price.toString();
  if (request.trail !== undefined) body.trail = request.trail.toString();
  if (request.client_order_id !== undefined) body.client_order_id = request.client_order_id;
  return body;
}

const ZERO_OR = (o: Json, key: string, what: string) => optDec(o, key, what) ?? Decimal.ZERO;

/** Alpaca's Account object as a core {@link Account}. Throws {@link AlpacaShapeError}. */
export function accountFromAlpaca(value: unknown): Account {
  const o = obj(value, "an account");
  const what = "the account";
  const equity = dec(o, "equity", what);
  const multiplier = String(o.multiplier ?? "1");
  const createdAt = parseTimestamp(o.created_at);
  const account: Account = {
    id: str(o, "id", what),
    account_number: optStr(o, "account_number") ?? "",
    // Tradewind's type knows ACTIVE only; Alpaca's flags below say what is blocked.
    status: "ACTIVE",
    currency: "USD",
    cash: dec(o, "cash", what),
    portfolio_value: optDec(o, "portfolio_value", what) ?? equity,
    equity,
    last_equity: optDec(o, "last_equity", what) ?? equity,
    long_market_value: ZERO_OR(o, "long_market_value", what),
    short_market_value: ZERO_OR(o, "short_market_value", what),
    buying_power: dec(o, "buying_power", what),
    regt_buying_power: ZERO_OR(o, "regt_buying_power", what),
    non_marginable_buying_power: ZERO_OR(o, "non_marginable_buying_power", what),
    initial_margin: ZERO_OR(o, "initial_margin", what),
    maintenance_margin: ZERO_OR(o, "maintenance_margin", what),
    last_maintenance_margin: ZERO_OR(o, "last_maintenance_margin", what),
    sma: ZERO_OR(o, "sma", what),
    multiplier: multiplier === "2" || multiplier === "4" ? multiplier : "1",
    shorting_enabled: bool(o, "shorting_enabled"),
    // Alpaca's own flag: it refuses orders itself when its account status forbids them.
    trading_blocked: bool(o, "trading_blocked"),
    transfers_blocked: bool(o, "transfers_blocked"),
    account_blocked: bool(o, "account_blocked"),
    trade_suspended_by_user: bool(o, "trade_suspended_by_user"),
    created_at: createdAt ?? 0,
    balance_asof: optStr(o, "balance_asof") ?? "",
    accrued_fees: ZERO_OR(o, "accrued_fees", what),
    pending_transfer_in: ZERO_OR(o, "pending_transfer_in", what),
    pending_transfer_out: ZERO_OR(o, "pending_transfer_out", what),
  };
  if (typeof o.daytrade_count === "number") account.daytrade_count = o.daytrade_count;
  if (typeof o.pattern_day_trader === "boolean") {
    account.pattern_day_trader = o.pattern_day_trader;
  }
  return account;
}

/**
 * Alpaca's Position object as a core {@link Position}. `qty` is made signed (negative for a
 * short) whichever way Alpaca sends it (ALPACA.md §5.2 leaves that open).
 */
export function positionFromAlpaca(value: unknown): Position {
  const o = obj(value, "a position");
  const symbol = str(o, "symbol", "a position");
  const what = `position "${symbol}"`;
  const side = o.side === "short" ? "short" : "long";
  const rawQty = dec(o, "qty", what);
  const qty = side === "short" && rawQty.isPositive() ? rawQty.neg() : rawQty;
  const rawAvail = optDec(o, "qty_available", what) ?? rawQty;
  return {
    asset_id: optStr(o, "asset_id") ?? "",
    symbol,
    exchange: optStr(o, "exchange") ?? "",
    asset_class: "us_equity",
    asset_marginable: bool(o, "asset_marginable"),
    qty,
    qty_available: side === "short" && rawAvail.isPositive() ? rawAvail.neg() : rawAvail,
    side,
    avg_entry_price: dec(o, "avg_entry_price", what),
    market_value: ZERO_OR(o, "market_value", what),
    cost_basis: ZERO_OR(o, "cost_basis", what),
    unrealized_pl: ZERO_OR(o, "unrealized_pl", what),
    unrealized_plpc: ZERO_OR(o, "unrealized_plpc", what),
    unrealized_intraday_pl: ZERO_OR(o, "unrealized_intraday_pl", what),
    unrealized_intraday_plpc: ZERO_OR(o, "unrealized_intraday_plpc", what),
    current_price: ZERO_OR(o, "current_price", what),
    lastday_price: ZERO_OR(o, "lastday_price", what),
    change_today: ZERO_OR(o, "change_today", what),
  };
}

/** Alpaca's Asset object as a core {@link Asset} (`sector` is unknown at Alpaca: `""`). */
export function assetFromAlpaca(value: unknown): Asset {
  const o = obj(value, "an asset");
  const symbol = str(o, "symbol", "an asset");
  return {
    id: str(o, "id", `asset "${symbol}"`),
    class: "us_equity",
    exchange: optStr(o, "exchange") ?? "",
    symbol,
    name: optStr(o, "name") ?? "",
    status: o.status === "active" ? "active" : "inactive",
    tradable: bool(o, "tradable"),
    marginable: bool(o, "marginable"),
    shortable: bool(o, "shortable"),
    easy_to_borrow: typeof o.easy_to_borrow === "boolean"
      ? o.easy_to_borrow
      : o.borrow_status === "easy_to_borrow",
    fractionable: bool(o, "fractionable"),
    sector: "",
    attributes: Array.isArray(o.attributes) ? o.attributes.map(String) : [],
  };
}

/** Alpaca's `GET /v2/clock` body. */
export function clockFromAlpaca(value: unknown): MarketClock {
  const o = obj(value, "the clock");
  return {
    timestamp: str(o, "timestamp", "the clock"),
    is_open: o.is_open === true,
    next_open: str(o, "next_open", "the clock"),
    next_close: str(o, "next_close", "the clock"),
  };
}

/** One day of Alpaca's `GET /v2/calendar` as a core {@link TradingDay}. */
export function tradingDayFromAlpaca(value: unknown): TradingDay {
  const o = obj(value, "a calendar day");
  const date = str(o, "date", "a calendar day").slice(0, 10);
  const what = `calendar day "${date}"`;
  const hhmm = (v: string) => v.replace(":", "");
  const colon = (v: string) => `${v.slice(0, 2)}:${v.slice(2, 4)}`;
  const open = str(o, "open", what);
  const close = str(o, "close", what);
  const sessionOpen = hhmm(optStr(o, "session_open") ?? "0400");
  const sessionClose = hhmm(optStr(o, "session_close") ?? "2000");
  if (![open, close].every((t) => /^\d{2}:\d{2}$/.test(t))) {
    throw new AlpacaShapeError(`Alpaca sent ${what} with times not HH:MM: "${open}", "${close}"`);
  }
  if (![sessionOpen, sessionClose].every((t) => /^\d{4}$/.test(t))) {
    throw new AlpacaShapeError(`Alpaca sent ${what} with session times not HHMM`);
  }
  return {
    date,
    open,
    close,
    sessionOpen,
    sessionClose,
    settlementDate: (optStr(o, "settlement_date") ?? date).slice(0, 10),
    openMs: etToEpochMs(date, open),
    closeMs: etToEpochMs(date, close),
    preOpenMs: etToEpochMs(date, colon(sessionOpen)),
    postCloseMs: etToEpochMs(date, colon(sessionClose)),
  };
}

/** One item of cancel-all's 207 array. */
export function cancelResultFromAlpaca(value: unknown): CancelResult {
  const o = obj(value, "a cancel result");
  return { id: str(o, "id", "a cancel result"), status: Number(o.status ?? 0) };
}

/** One item of close-all's 207 array: the closing order, or Alpaca's error body. */
export function closeResultFromAlpaca(value: unknown): ClosePositionResult {
  const o = obj(value, "a close result");
  const status = Number(o.status ?? 0);
  const symbol = str(o, "symbol", "a close result");
  if (status >= 200 && status < 300) {
    return { symbol, status, order: orderFromAlpaca(o.body) };
  }
  const body = typeof o.body === "object" && o.body !== null ? o.body as Json : {};
  return {
    symbol,
    status,
    error: {
      code: Number(body.code ?? status * 100_000),
      message: typeof body.message === "string" ? body.message : "",
    },
  };
}
