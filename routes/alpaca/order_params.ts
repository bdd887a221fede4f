/**
 * The query parameters and bodies of the Alpaca face's order routes, read the way Alpaca's
 * server reads them (ALPACA.md §2.2, §3): `GET /v2/orders` filters (repeated or CSV lists,
 * RFC-3339 with or without milliseconds, or dates), JSON bodies, order ids. Bad input is a
 * 422 with Alpaca's code 40010001 and a lowercase Alpaca-style text that names the parameter
 * and what to send instead; an unreadable body is 400 `request body format is invalid`.
 *
 * @module
 */
import { MAX_SYMBOL_LENGTH } from "../../core/order.ts";
import { isTradeError, TradeError } from "../../core/errors.ts";
import { OPEN_STATUSES, TERMINAL_STATUSES } from "../../core/order_state.ts";
import type { OrderListFilter } from "../../db/order_queries.ts";
import { parseInstant } from "../params.ts";
import { invalidParameter } from "./errors.ts";

/** Alpaca's largest `limit` of `GET /v2/orders`. */
export const MAX_LIST_LIMIT = 500;
/** Alpaca's default `limit` of `GET /v2/orders`. */
export const DEFAULT_LIST_LIMIT = 50;
/** The most symbols one `symbols` filter may name. */
export const MAX_FILTER_SYMBOLS = 100;

/** The `asset_class` values Alpaca's lists (orders, assets) accept (ALPACA.md §2.2). */
export const ALPACA_ASSET_CLASSES = [
  "us_equity",
  "us_option",
  "crypto",
  "crypto_perp",
  "treasury",
  "corporate",
  "global_equity",
  "us_index",
  "us_equity_chain",
  "ipo",
  "all",
] as const;
const LIST_ASSET_CLASSES: ReadonlySet<string> = new Set(ALPACA_ASSET_CLASSES);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` is a UUID (an order id can be nothing else). */
export function isUuid(text: string): boolean {
  return UUID_RE.test(text);
}

/** A 400 (Alpaca code 40010000) for a body that is not a JSON object. Never throws. */
export function invalidBody(why: string): TradeError {
  return new TradeError("INVALID_REQUEST", `Cannot read request body: ${why}`, {
    alpacaMessage: `request body format is invalid: ${why}`,
  });
}

/**
 * Reads a JSON request body; throws {@link invalidBody} for an empty body, bad JSON or
 * anything but an object.
 */
export async function readJsonObject(req: { text(): Promise<string> }): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") throw invalidBody("the body is empty; send a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidBody("the body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidBody("expected a JSON object");
  }
  return value;
}

/** The query of a request: each key's values (repeated keys kept, in order). */
export type QueryValues = Record<string, string[]>;

function one(query: QueryValues, key: string): string | undefined {
  const values = query[key];
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) {
    throw invalidParameter(`${key} must be given once`);
  }
  return values[0]!.trim();
}

/** Values of a list parameter given as repeated keys, CSV, or both; empty items dropped. */
function list(query: QueryValues, key: string): string[] {
  return (query[key] ?? []).flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean);
}

function choice<const T extends string>(
  query: QueryValues,
  key: string,
  values: readonly T[],
): T | undefined {
  const v = one(query, key);
  if (v === undefined || v === "") return undefined;
  const lower = v.toLowerCase() as T;
  if (values.includes(lower)) return lower;
  const allowed = values.join(", ");
  throw invalidParameter(`invalid ${key} "${v}": use one of ${allowed}`);
}

function instant(query: QueryValues, key: string): number | undefined {
  const v = one(query, key);
  if (v === undefined || v === "") return undefined;
  const ms = parseInstant(v);
  if (ms === null || ms < 0 || ms >= Date.UTC(10000, 0, 1)) {
    throw invalidParameter(
      `invalid ${key} "${v}": use an RFC-3339 time such as 2026-11-23T14:30:00Z or a date such as 2026-11-23`,
    );
  }
  return ms;
}

function cursorId(query: QueryValues, key: string): string | undefined {
  const v = one(query, key);
  if (v === undefined || v === "") return undefined;
  if (!isUuid(v)) {
    throw invalidParameter(`invalid ${key} "${v.slice(0, 64)}": expected an order id`);
  }
  return v.toLowerCase();
}

/**
 * Reads `nested` (`true`/`false`, any case; absent is false). Throws {@link invalidParameter}
 * for anything else.
 */
export function readNested(query: QueryValues): boolean {
  return choice(query, "nested", ["true", "false"] as const) === "true";
}

/**
 * Reads the query of `GET /v2/orders` into a filter: `status` (open, closed, all; default
 * open), `limit` (1 to 500, default 50), `after`/`until`, `direction` (default desc),
 * `nested`, `symbols`, `side`, `asset_class`, `before_order_id`/`after_order_id`. Unknown
 * parameters are ignored, as Alpaca does. Throws {@link invalidParameter} naming the parameter.
 */
export function readListQuery(query: QueryValues): OrderListFilter {
  const status = choice(query, "status", ["open", "closed", "all"] as const) ?? "open";
  const limitText = one(query, "limit");
  let limit = DEFAULT_LIST_LIMIT;
  if (limitText !== undefined && limitText !== "") {
    limit = Number(limitText);
    if (!/^\d{1,6}$/.test(limitText) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw invalidParameter(
        `invalid limit "${limitText.slice(0, 32)}": use a whole number from 1 to ${MAX_LIST_LIMIT}`,
      );
    }
  }
  const symbols = [...new Set(list(query, "symbols").map((s) => s.toUpperCase()))];
  if (symbols.length > MAX_FILTER_SYMBOLS) {
    throw invalidParameter(`too many symbols: at most ${MAX_FILTER_SYMBOLS}`);
  }
  const longSymbol = symbols.find((s) => s.length > MAX_SYMBOL_LENGTH);
  if (longSymbol) {
    throw invalidParameter(`invalid symbol "${longSymbol.slice(0, 64)}"`);
  }
  const classes = list(query, "asset_class").map((s) => s.toLowerCase());
  const badClass = classes.find((c) => !LIST_ASSET_CLASSES.has(c));
  if (badClass !== undefined) {
    const allowed = [...LIST_ASSET_CLASSES].join(", ");
    throw invalidParameter(`invalid asset_class "${badClass.slice(0, 32)}": use one of ${allowed}`);
  }
  const filter: OrderListFilter = {
    statuses: status === "open" ? OPEN_STATUSES : status === "closed" ? TERMINAL_STATUSES : null,
    limit,
    direction: choice(query, "direction", ["asc", "desc"] as const) ?? "desc",
    nested: readNested(query),
    afterMs: instant(query, "after"),
    untilMs: instant(query, "until"),
    symbols: symbols.length ? symbols : undefined,
    side: choice(query, "side", ["buy", "sell"] as const),
    assetClasses: classes.length && !classes.includes("all") ? classes : undefined,
    beforeOrderId: cursorId(query, "before_order_id"),
    afterOrderId: cursorId(query, "after_order_id"),
  };
  if (filter.beforeOrderId && filter.afterOrderId) {
    throw invalidParameter("before_order_id and after_order_id are mutually exclusive");
  }
  if (
    (filter.beforeOrderId || filter.afterOrderId) &&
    (filter.afterMs !== undefined || filter.untilMs !== undefined)
  ) {
    throw invalidParameter(
      "before_order_id and after_order_id cannot be combined with after or until",
    );
  }
  return filter;
}

/**
 * Runs a body reader (`parseOrderRequest`, `parseReplaceRequest`); a field it cannot read
 * becomes Alpaca's 422 `40010001` naming the field, e.g. `invalid qty: Required`.
 */
export function readBody<T>(parse: (input: unknown) => T, input: unknown): T {
  try {
    return parse(input);
  } catch (e) {
    if (!isTradeError(e) || e.code !== "INVALID_REQUEST") throw e;
    const issues = (e.details.issues ?? []) as { path: string; message: string }[];
    const text = issues.map((i) => `invalid ${i.path}: ${i.message}`).join("; ");
    throw invalidParameter(text || "invalid request body");
  }
}
