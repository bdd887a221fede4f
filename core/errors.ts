/**
 * The trading domain's error type, {@link TradeError}, and the one table of its codes.
 *
 * A TradeError has two faces:
 * - Tradewind's own API renders {@link TradeError.toTradewindBody}:
 *   `{"error":{"code":"INSUFFICIENT_BUYING_POWER","message":"Cannot …","details":{…}}}`.
 * - The Alpaca-compatible face renders {@link TradeError.toAlpacaBody}:
 *   `{"code":40310000,"message":"insufficient buying power","buying_power":"…","cost_basis":"…"}`,
 *   with Alpaca's numeric code and, where ALPACA.md records one, Alpaca's verbatim text.
 *
 * Both faces use the same HTTP {@link TradeError.status}. Every code, its status, Alpaca code and
 * default Alpaca text live in {@link TRADE_ERRORS}.
 *
 * @module
 */

import type { Decimal } from "./decimal.ts";

/** Every stable Tradewind error code. */
export const TRADE_ERROR_CODES = [
  "INVALID_REQUEST",
  "INVALID_ORDER",
  "INVALID_TIME_IN_FORCE",
  "SUB_PENNY_PRICE",
  "EXTENDED_HOURS_NOT_ALLOWED",
  "FRACTIONAL_NOT_ALLOWED",
  "NOTIONAL_TOO_SMALL",
  "COST_BASIS_TOO_SMALL",
  "BRACKET_INVALID",
  "MARKET_CLOSED",
  "ASSET_NOT_FOUND",
  "ASSET_NOT_TRADABLE",
  "ASSET_NOT_FRACTIONABLE",
  "ASSET_NOT_SHORTABLE",
  "SHORTING_NOT_ALLOWED",
  "INSUFFICIENT_BUYING_POWER",
  "INSUFFICIENT_QTY",
  "WASH_TRADE",
  "PDT_PROTECTION",
  "DUPLICATE_CLIENT_ORDER_ID",
  "CLIENT_ORDER_ID_CONFLICT",
  "ORDER_NOT_FOUND",
  "ORDER_NOT_CANCELABLE",
  "ORDER_NOT_REPLACEABLE",
  "ORDERS_STILL_OPEN",
  "POSITION_NOT_FOUND",
  "ILLEGAL_TRANSITION",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "RATE_LIMITED",
  "RISK_MAX_ORDER_NOTIONAL",
  "RISK_MAX_ORDER_QTY",
  "RISK_MAX_POSITION",
  "RISK_MAX_ALLOCATION",
  "RISK_MAX_OPEN_POSITIONS",
  "RISK_MAX_DAILY_TRADES",
  "RISK_DAILY_LOSS",
  "RISK_SECTOR_CONCENTRATION",
  "RISK_PRICE_BAND",
  "TRADING_HALTED",
  "TRADING_REDUCING",
  "RISK_LIMIT_ABOVE_CEILING",
  "TRADING_STATE_SET_BY_ADMIN",
  "VENUE_UNAVAILABLE",
  "INTERNAL",
] as const;

/** A stable SNAKE_CASE error code. */
export type TradeErrorCode = typeof TRADE_ERROR_CODES[number];

/** One row of {@link TRADE_ERRORS}. */
export interface TradeErrorSpec {
  /** HTTP status on both API faces. */
  readonly status: number;
  /** Alpaca's 8-digit error code. */
  readonly alpacaCode: number;
  /** Alpaca's default message text (a representative instance when it carries values). */
  readonly alpacaMessage: string;
  /** True when ALPACA.md records this text from Alpaca; false when Tradewind made it up. */
  readonly verbatim: boolean;
}

/** The table of all error codes: HTTP status, Alpaca code and Alpaca's text. */
export const TRADE_ERRORS: Readonly<Record<TradeErrorCode, TradeErrorSpec>> = {
  INVALID_REQUEST: spec(400, 40010000, "request body format is invalid", false),
  INVALID_ORDER: spec(422, 42210000, "invalid order", false),
  INVALID_TIME_IN_FORCE: spec(422, 42210000, "invalid time_in_force", false),
  SUB_PENNY_PRICE: spec(
    422,
    42210000,
    "invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria",
    true,
  ),
  EXTENDED_HOURS_NOT_ALLOWED: spec(
    422,
    42210000,
    "extended hours order must be DAY or GTC limit orders",
    true,
  ),
  FRACTIONAL_NOT_ALLOWED: spec(422, 42210000, "fractional orders must be DAY orders", true),
  NOTIONAL_TOO_SMALL: spec(422, 42210000, "notional must be >= 1.00", true),
  COST_BASIS_TOO_SMALL: spec(
    403,
    40310000,
    "cost basis must be >= minimal amount of order 1",
    true,
  ),
  BRACKET_INVALID: spec(422, 42210000, "bracket orders require take_profit.limit_price", true),
  MARKET_CLOSED: spec(422, 42210000, "market is closed", false),
  ASSET_NOT_FOUND: spec(422, 42210000, 'asset "LYC.AX" not found', true),
  ASSET_NOT_TRADABLE: spec(422, 42210000, 'asset "RGC" is not tradable', true),
  ASSET_NOT_FRACTIONABLE: spec(403, 40310000, 'asset "FNGU" is not fractionable', true),
  ASSET_NOT_SHORTABLE: spec(422, 42210000, 'asset "EIDO" cannot be sold short', true),
  SHORTING_NOT_ALLOWED: spec(403, 40310000, "account is not allowed to short", true),
  INSUFFICIENT_BUYING_POWER: spec(403, 40310000, "insufficient buying power", true),
  INSUFFICIENT_QTY: spec(
    403,
    40310000,
    "insufficient qty available for order (requested: 4459, available: 0)",
    true,
  ),
  WASH_TRADE: spec(403, 40310000, "potential wash trade detected. use complex orders", true),
  PDT_PROTECTION: spec(
    403,
    40310100,
    "trade denied due to pattern day trading protection",
    true,
  ),
  DUPLICATE_CLIENT_ORDER_ID: spec(422, 40010001, "client_order_id must be unique", true),
  CLIENT_ORDER_ID_CONFLICT: spec(422, 40010001, "client_order_id must be unique", true),
  ORDER_NOT_FOUND: spec(404, 40410000, "order not found", true),
  ORDER_NOT_CANCELABLE: spec(422, 42210000, 'order is already in "filled" state', true),
  ORDER_NOT_REPLACEABLE: spec(422, 40010001, "unable to replace order, order is not open", true),
  ORDERS_STILL_OPEN: spec(409, 40910000, "open orders are still being canceled", false),
  POSITION_NOT_FOUND: spec(404, 40410000, "position does not exist", true),
  ILLEGAL_TRANSITION: spec(500, 50010000, "internal server error", false),
  UNAUTHORIZED: spec(401, 40110000, "request is not authorized", true),
  FORBIDDEN: spec(403, 40110000, "forbidden", true),
  RATE_LIMITED: spec(429, 42910000, "rate limit exceeded", true),
  RISK_MAX_ORDER_NOTIONAL: spec(422, 42210000, "order notional exceeds the risk limit", false),
  RISK_MAX_ORDER_QTY: spec(422, 42210000, "order qty exceeds the risk limit", false),
  RISK_MAX_POSITION: spec(422, 42210000, "position value would exceed the risk limit", false),
  RISK_MAX_ALLOCATION: spec(
    422,
    42210000,
    "portfolio allocation would exceed the risk limit",
    false,
  ),
  RISK_MAX_OPEN_POSITIONS: spec(422, 42210000, "open positions would exceed the risk limit", false),
  RISK_MAX_DAILY_TRADES: spec(422, 42210000, "daily trade count reached the risk limit", false),
  RISK_DAILY_LOSS: spec(422, 42210000, "daily loss limit reached", false),
  RISK_SECTOR_CONCENTRATION: spec(
    422,
    42210000,
    "sector concentration would exceed the risk limit",
    false,
  ),
  RISK_PRICE_BAND: spec(422, 42210000, "price is outside the allowed band", false),
  TRADING_HALTED: spec(403, 40310000, "trading is halted", false),
  TRADING_REDUCING: spec(403, 40310000, "trading is limited to reducing positions", false),
  RISK_LIMIT_ABOVE_CEILING: spec(403, 40310000, "risk limit exceeds the limit above it", false),
  TRADING_STATE_SET_BY_ADMIN: spec(403, 40310000, "trading state was set by an admin", false),
  VENUE_UNAVAILABLE: spec(503, 50310000, "service unavailable", false),
  INTERNAL: spec(500, 50010000, "internal server error", false),
};

function spec(
  status: number,
  alpacaCode: number,
  alpacaMessage: string,
  verbatim: boolean,
): TradeErrorSpec {
  return { status, alpacaCode, alpacaMessage, verbatim };
}

/** Extra keys Alpaca puts beside `code` and `message` in an error body. Amounts are strings. */
export interface AlpacaErrorExtra {
  buying_power?: string;
  cost_basis?: string;
  base_price?: string;
  existing_order_id?: string;
  reject_reason?: string;
  held_for_orders?: string;
  available?: string;
  existing_qty?: string;
  symbol?: string;
  related_orders?: string[];
}

/** Options for {@link TradeError}. */
export interface TradeErrorOptions {
  /** Structured facts for Tradewind's API (`error.details`). */
  details?: Record<string, unknown>;
  /** Alpaca's message text; defaults to the code's text in {@link TRADE_ERRORS}. */
  alpacaMessage?: string;
  /** Alpaca's numeric code; defaults to the code's in {@link TRADE_ERRORS}. */
  alpacaCode?: number;
  /** Extra keys for the Alpaca error body. */
  alpacaExtra?: AlpacaErrorExtra;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** The serialisable form of a {@link TradeError}, safe to post between workers. */
export interface TradeErrorData {
  code: TradeErrorCode;
  message: string;
  status: number;
  details: Record<string, unknown>;
  alpacaCode: number;
  alpacaMessage: string;
  alpacaExtra: AlpacaErrorExtra;
}

/** Tradewind's API error body. */
export interface TradewindErrorBody {
  error: { code: TradeErrorCode; message: string; details: Record<string, unknown> };
}

/** Alpaca's API error body: `{code, message, ...extra}`. */
export type AlpacaErrorBody = { code: number; message: string } & AlpacaErrorExtra;

/**
 * A domain error with a stable {@link TradeErrorCode}, an HTTP status, a Tradewind message, optional
 * details, and Alpaca's code, text and extra body keys.
 *
 * @example
 * ```ts
 * throw new TradeError("ORDER_NOT_FOUND", 'Cannot cancel order "O-1": not found');
 * ```
 */
export class TradeError extends Error {
  override name = "TradeError";
  /** Stable SNAKE_CASE code. */
  readonly code: TradeErrorCode;
  /** HTTP status for both API faces. */
  readonly status: number;
  /** Structured facts (`error.details` on Tradewind's API). */
  readonly details: Readonly<Record<string, unknown>>;
  /** Alpaca's numeric code. */
  readonly alpacaCode: number;
  /** Alpaca's message text. */
  readonly alpacaMessage: string;
  /** Extra keys of Alpaca's error body. */
  readonly alpacaExtra: Readonly<AlpacaErrorExtra>;

  /** Builds an error; status and Alpaca defaults come from {@link TRADE_ERRORS}. Never throws. */
  constructor(code: TradeErrorCode, message: string, options: TradeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const row = TRADE_ERRORS[code];
    this.code = code;
    this.status = row.status;
    this.details = options.details ?? {};
    this.alpacaCode = options.alpacaCode ?? row.alpacaCode;
    this.alpacaMessage = options.alpacaMessage ?? row.alpacaMessage;
    this.alpacaExtra = options.alpacaExtra ?? {};
  }

  /** The Alpaca-compatible body `{code, message, ...extra}`. Never throws. */
  toAlpacaBody(): AlpacaErrorBody {
    return { code: this.alpacaCode, message: this.alpacaMessage, ...this.alpacaExtra };
  }

  /** Tradewind's body `{"error":{"code","message","details"}}`. Never throws. */
  toTradewindBody(): TradewindErrorBody {
    return { error: { code: this.code, message: this.message, details: { ...this.details } } };
  }

  /** Plain data for worker messages and logs. Never throws. */
  toData(): TradeErrorData {
    return {
      code: this.code,
      message: this.message,
      status: this.status,
      details: { ...this.details },
      alpacaCode: this.alpacaCode,
      alpacaMessage: this.alpacaMessage,
      alpacaExtra: { ...this.alpacaExtra },
    };
  }

  /** Rebuilds an error from {@link TradeError.toData} output. Never throws. */
  static fromData(data: TradeErrorData): TradeError {
    return new TradeError(data.code, data.message, {
      details: data.details,
      alpacaCode: data.alpacaCode,
      alpacaMessage: data.alpacaMessage,
      alpacaExtra: data.alpacaExtra,
    });
  }
}

/** A field path (`a.b.0`) and what is wrong with it, as `details.issues` carries them. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * The issues of a failed schema parse (zod's shape, without importing zod) as field paths and
 * messages; an issue at the root gets `root` as its path.
 */
export function fieldIssues(
  error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] },
  root = "",
): FieldIssue[] {
  return error.issues.map((i) => ({
    path: i.path.length ? i.path.map(String).join(".") : root,
    message: i.message,
  }));
}

/** True when `value` is a {@link TradeError}. */
export function isTradeError(value: unknown): value is TradeError {
  return value instanceof TradeError;
}

/**
 * Builders for errors whose Alpaca text carries values, so every layer words them the same way.
 * None of them throws; they return the error for the caller to throw or report.
 */
export const tradeErrors = {
  /** 403 `insufficient buying power` with `buying_power` and `cost_basis`. */
  insufficientBuyingPower(costBasis: Decimal, buyingPower: Decimal): TradeError {
    const extra = { buying_power: buyingPower.toString(), cost_basis: costBasis.toString() };
    return new TradeError(
      "INSUFFICIENT_BUYING_POWER",
      `Cannot place order: cost basis "${costBasis}" exceeds buying power "${buyingPower}"`,
      { details: { ...extra }, alpacaExtra: extra },
    );
  },

  /** 403 `insufficient qty available for order (requested: N, available: M)`. */
  insufficientQty(
    symbol: string,
    qty: { requested: Decimal; available: Decimal; heldForOrders: Decimal },
  ): TradeError {
    const { requested, available, heldForOrders } = qty;
    const extra = {
      available: available.toString(),
      held_for_orders: heldForOrders.toString(),
      symbol,
    };
    return new TradeError(
      "INSUFFICIENT_QTY",
      `Cannot place order for "${symbol}": requested qty "${requested}" exceeds available "${available}"`,
      {
        details: { requested: requested.toString(), ...extra },
        alpacaMessage:
          `insufficient qty available for order (requested: ${requested}, available: ${available})`,
        alpacaExtra: extra,
      },
    );
  },

  /** 422 `asset "X" not found`. */
  assetNotFound(symbol: string): TradeError {
    return new TradeError("ASSET_NOT_FOUND", `Cannot place order: asset "${symbol}" not found`, {
      details: { symbol },
      alpacaMessage: `asset "${symbol}" not found`,
    });
  },

  /** 422 `asset "X" is not tradable`. */
  assetNotTradable(symbol: string): TradeError {
    return new TradeError(
      "ASSET_NOT_TRADABLE",
      `Cannot place order: asset "${symbol}" is not tradable`,
      { details: { symbol }, alpacaMessage: `asset "${symbol}" is not tradable` },
    );
  },

  /** 403 `asset "X" is not fractionable`. */
  assetNotFractionable(symbol: string): TradeError {
    return new TradeError(
      "ASSET_NOT_FRACTIONABLE",
      `Cannot place fractional order: asset "${symbol}" is not fractionable`,
      { details: { symbol }, alpacaMessage: `asset "${symbol}" is not fractionable` },
    );
  },

  /** 422 `asset "X" cannot be sold short`. */
  assetNotShortable(symbol: string): TradeError {
    return new TradeError(
      "ASSET_NOT_SHORTABLE",
      `Cannot sell short: asset "${symbol}" is not shortable or not easy to borrow`,
      { details: { symbol }, alpacaMessage: `asset "${symbol}" cannot be sold short` },
    );
  },

  /** 422 (code 40010001) `client_order_id must be unique`. */
  duplicateClientOrderId(clientOrderId: string, existingOrderId?: string): TradeError {
    return new TradeError(
      "DUPLICATE_CLIENT_ORDER_ID",
      `Cannot place order: client_order_id "${clientOrderId}" is already used`,
      {
        details: existingOrderId === undefined
          ? { client_order_id: clientOrderId }
          : { client_order_id: clientOrderId, existing_order_id: existingOrderId },
      },
    );
  },

  /** 404 `order not found`. */
  orderNotFound(orderId: string): TradeError {
    return new TradeError("ORDER_NOT_FOUND", `Cannot find order "${orderId}"`, {
      details: { order_id: orderId },
    });
  },

  /** 422 `order is already in "<status>" state`. */
  orderNotCancelable(orderId: string, status: string): TradeError {
    return new TradeError(
      "ORDER_NOT_CANCELABLE",
      `Cannot cancel order "${orderId}": it is already "${status}"`,
      {
        details: { order_id: orderId, status },
        alpacaMessage: `order is already in "${status}" state`,
      },
    );
  },

  /** 422 (code 40010001) `unable to replace order, <reason>`. */
  orderNotReplaceable(
    orderId: string,
    reason: string,
    details: Record<string, unknown> = {},
  ): TradeError {
    return new TradeError(
      "ORDER_NOT_REPLACEABLE",
      `Cannot replace order "${orderId}": ${reason}`,
      {
        details: { order_id: orderId, ...details },
        alpacaMessage: `unable to replace order, ${reason}`,
      },
    );
  },

  /** 404 `position does not exist`. */
  positionNotFound(symbol: string): TradeError {
    return new TradeError("POSITION_NOT_FOUND", `Cannot find position "${symbol}"`, {
      details: { symbol },
    });
  },

  /** 403 `potential wash trade detected. use complex orders` with the existing order. */
  washTrade(existingOrderId: string, rejectReason: string): TradeError {
    const extra = { existing_order_id: existingOrderId, reject_reason: rejectReason };
    return new TradeError(
      "WASH_TRADE",
      `Cannot place order: potential wash trade against order "${existingOrderId}"`,
      { details: { ...extra }, alpacaExtra: extra },
    );
  },

  /** 403 (code 40310100) `trade denied due to pattern day trading protection`. */
  pdtProtection(dayTrades: number): TradeError {
    return new TradeError(
      "PDT_PROTECTION",
      `Cannot place order: it could be day trade "${dayTrades + 1}" within 5 business days`,
      { details: { day_trades: dayTrades } },
    );
  },

  /** 500 for an order status change that the transition table forbids. */
  illegalTransition(order: { id: string; status: string }, to: string): TradeError {
    const { id: orderId, status: from } = order;
    return new TradeError(
      "ILLEGAL_TRANSITION",
      `Cannot move order "${orderId}" from "${from}" to "${to}"`,
      { details: { order_id: orderId, from, to } },
    );
  },
} as const;

const CLASSIFY: ReadonlyArray<readonly [RegExp, TradeErrorCode]> = [
  [/insufficient buying power|insufficient day trading buying power/, "INSUFFICIENT_BUYING_POWER"],
  [/insufficient qty/, "INSUFFICIENT_QTY"],
  [/is not fractionable/, "ASSET_NOT_FRACTIONABLE"],
  [/cannot be sold short/, "ASSET_NOT_SHORTABLE"],
  [/not allowed to short/, "SHORTING_NOT_ALLOWED"],
  [/is not tradable/, "ASSET_NOT_TRADABLE"],
  [/^asset .*not found|asset not found/, "ASSET_NOT_FOUND"],
  [/sub-penny/, "SUB_PENNY_PRICE"],
  [/extended hours/, "EXTENDED_HOURS_NOT_ALLOWED"],
  [/^fractional orders/, "FRACTIONAL_NOT_ALLOWED"],
  [/^notional must be/, "NOTIONAL_TOO_SMALL"],
  [/^cost basis must be/, "COST_BASIS_TOO_SMALL"],
  [/client_order_id must be unique/, "DUPLICATE_CLIENT_ORDER_ID"],
  [/wash trade/, "WASH_TRADE"],
  [/pattern day trading/, "PDT_PROTECTION"],
  [/unable to replace order/, "ORDER_NOT_REPLACEABLE"],
  [/is already in ".*" state/, "ORDER_NOT_CANCELABLE"],
  [/^order not found/, "ORDER_NOT_FOUND"],
  [/position does not exist/, "POSITION_NOT_FOUND"],
  [/base_price|take_profit|stop_loss|bracket|\boco\b|\boto\b/, "BRACKET_INVALID"],
  [/rate limit|too many requests/, "RATE_LIMITED"],
];

/**
 * Maps an Alpaca error response (HTTP status and parsed body) to a {@link TradeError}, keeping
 * Alpaca's code, text and extra keys verbatim. Recognises the texts in {@link TRADE_ERRORS};
 * otherwise falls back on the HTTP status. Never throws.
 */
export function tradeErrorFromAlpaca(httpStatus: number, body: unknown): TradeError {
  const obj = typeof body === "object" && body !== null ? body as Record<string, unknown> : {};
  const message = typeof obj.message === "string"
    ? obj.message
    : typeof body === "string"
    ? body
    : "";
  const rawCode = Number(obj.code);
  let code: TradeErrorCode | undefined;
  if (rawCode === 40310100) code = "PDT_PROTECTION";
  for (const [re, c] of CLASSIFY) {
    if (code) break;
    if (re.test(message)) code = c;
  }
  code ??= httpStatus === 400
    ? "INVALID_REQUEST"
    : httpStatus === 401
    ? "UNAUTHORIZED"
    : httpStatus === 403
    ? "FORBIDDEN"
    : httpStatus === 404
    ? "ORDER_NOT_FOUND"
    : httpStatus === 422
    ? "INVALID_ORDER"
    : httpStatus === 429
    ? "RATE_LIMITED"
    : "VENUE_UNAVAILABLE";
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k !== "code" && k !== "message") extra[k] = v;
  }
  return new TradeError(
    code,
    `Alpaca refused the request with HTTP "${httpStatus}": "${message}"`,
    {
      details: { http_status: httpStatus, alpaca_code: obj.code ?? null, ...extra },
      alpacaCode: Number.isFinite(rawCode) && rawCode > 0 ? rawCode : TRADE_ERRORS[code].alpacaCode,
      alpacaMessage: message || TRADE_ERRORS[code].alpacaMessage,
      alpacaExtra: extra as AlpacaErrorExtra,
    },
  );
}
