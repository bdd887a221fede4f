/**
 * The order model shared by the paper venue, the execution engine and the Alpaca adapter.
 *
 * Field names and enum values are Alpaca's (ALPACA.md §3). Inside Tradewind, money, prices and
 * quantities are {@link Decimal}s and timestamps are epoch milliseconds; {@link toAlpacaJson} and
 * {@link parseAlpacaOrder} convert to and from Alpaca's wire shape (string amounts, RFC-3339
 * timestamps). {@link parseOrderRequest} and {@link parseReplaceRequest} read client JSON. The
 * plain types and enum values live in `order_types.ts` (no zod) and are re-exported here.
 *
 * @module
 */

import { z } from "zod";
import { Decimal, DecimalError } from "./decimal.ts";
import { TradeError } from "./errors.ts";
import { decimalTextIssue, hasControlCharacter } from "./input.ts";
import type { IdSource } from "./ids.ts";
import {
  ASSET_CLASSES,
  type AssetClass,
  MAX_CLIENT_ORDER_ID_LENGTH,
  type Order,
  ORDER_CLASSES,
  ORDER_SIDES,
  ORDER_STATUSES,
  ORDER_TYPES,
  type OrderClass,
  type OrderRequest,
  type OrderSide,
  type OrderStatus,
  type OrderType,
  POSITION_INTENTS,
  type PositionIntent,
  type ReplaceRequest,
  TIME_IN_FORCES,
  type TimeInForce,
} from "./order_types.ts";

export * from "./order_types.ts";

// ---------------------------------------------------------------------------------------------
// Schemas

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return `"${value}"`;
  return value === null ? '"null"' : `a ${Array.isArray(value) ? "list" : typeof value}`;
}

function decimalField(required: boolean) {
  return z.unknown().optional().transform((value, ctx): Decimal | undefined => {
    if (value === undefined || value === null || value === "") {
      if (required) {
        ctx.addIssue({ code: "custom", message: "Required" });
        return z.NEVER;
      }
      return undefined;
    }
    if (typeof value !== "string" && typeof value !== "number") {
      ctx.addIssue({ code: "custom", message: `Expected a decimal, got ${describe(value)}` });
      return z.NEVER;
    }
    // Refused before parsing: a million digits would hold the event loop for seconds.
    const tooLong = decimalTextIssue(value);
    if (tooLong) {
      ctx.addIssue({ code: "custom", message: tooLong });
      return z.NEVER;
    }
    try {
      return Decimal.parse(value);
    } catch (e) {
      const why = e instanceof DecimalError ? e.message : String(e);
      ctx.addIssue({ code: "custom", message: why });
      return z.NEVER;
    }
  });
}

const optionalDecimal = decimalField(false);
const requiredDecimal = decimalField(true) as unknown as z.ZodType<Decimal, unknown>;

function enumField<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (iss) =>
      iss.input === undefined
        ? "Required"
        : `Expected one of ${values.map((v) => `"${v}"`).join("|")}, got ${describe(iss.input)}`,
  });
}

/**
 * The longest order symbol: a ticker, a crypto pair (`BTC/USD`), an option contract
 * (21 characters) or an asset id (a UUID, 36).
 */
export const MAX_SYMBOL_LENGTH = 36;

/** Text of at most `max` characters with no control characters; `trim` first when asked. */
function boundedText(max: number, required: boolean) {
  const base = z.string({
    error: (iss) =>
      iss.input === undefined && required
        ? "Required"
        : `Expected a string, got ${describe(iss.input)}`,
  });
  return (required ? base.trim().min(1, { error: "Required" }) : base)
    .max(max, {
      error: (iss) =>
        `Must be at most ${max} characters, got ${String((iss.input as string).length)}`,
    })
    .refine((text) => !hasControlCharacter(text), {
      error: "Must not contain control characters",
    });
}

const symbolField = boundedText(MAX_SYMBOL_LENGTH, true);

const clientOrderIdField = boundedText(MAX_CLIENT_ORDER_ID_LENGTH, false).nullish()
  .transform((v) => v || undefined);

const optionalBoolean = z.boolean({
  error: (iss) => `Expected true or false, got ${describe(iss.input)}`,
}).nullish().transform((v) => v ?? undefined);

function optionalEnum<const T extends readonly [string, ...string[]]>(values: T) {
  return enumField(values).nullish().transform((v) => v ?? undefined);
}

/**
 * Zod schema for an Alpaca-style order body (ALPACA.md §3.1). Amounts may be strings or numbers;
 * `null` counts as absent; unknown keys are dropped. `order_class` `"simple"` or absent becomes
 * `""`. An OCO without a top-level `limit_price` takes `take_profit.limit_price` (the SDK quirk).
 * It checks shape only; {@link validateOrder} in `order_rules.ts` checks meaning.
 */
export const orderRequestSchema: z.ZodType<OrderRequest, unknown> = z.object({
  symbol: symbolField,
  qty: optionalDecimal,
  notional: optionalDecimal,
  side: enumField(ORDER_SIDES),
  type: enumField(ORDER_TYPES),
  time_in_force: enumField(TIME_IN_FORCES),
  limit_price: optionalDecimal,
  stop_price: optionalDecimal,
  trail_price: optionalDecimal,
  trail_percent: optionalDecimal,
  extended_hours: optionalBoolean,
  client_order_id: clientOrderIdField,
  order_class: optionalEnum(ORDER_CLASSES),
  take_profit: z.object({ limit_price: requiredDecimal }, {
    error: (iss) => `Expected an object, got ${describe(iss.input)}`,
  }).nullish(),
  stop_loss: z.object({ stop_price: requiredDecimal, limit_price: optionalDecimal }, {
    error: (iss) => `Expected an object, got ${describe(iss.input)}`,
  }).nullish(),
  position_intent: optionalEnum(POSITION_INTENTS),
}, { error: (iss) => `Expected an object, got ${describe(iss.input)}` }).transform((r) => {
  const out: OrderRequest = {
    symbol: r.symbol,
    side: r.side,
    type: r.type,
    time_in_force: r.time_in_force,
    order_class: r.order_class === "simple" || r.order_class === undefined ? "" : r.order_class,
    extended_hours: r.extended_hours ?? false,
  };
  if (r.qty !== undefined) out.qty = r.qty;
  if (r.notional !== undefined) out.notional = r.notional;
  if (r.limit_price !== undefined) out.limit_price = r.limit_price;
  if (r.stop_price !== undefined) out.stop_price = r.stop_price;
  if (r.trail_price !== undefined) out.trail_price = r.trail_price;
  if (r.trail_percent !== undefined) out.trail_percent = r.trail_percent;
  if (r.client_order_id !== undefined) out.client_order_id = r.client_order_id;
  if (r.take_profit) out.take_profit = { limit_price: r.take_profit.limit_price };
  if (r.stop_loss) {
    out.stop_loss = r.stop_loss.limit_price === undefined
      ? { stop_price: r.stop_loss.stop_price }
      : { stop_price: r.stop_loss.stop_price, limit_price: r.stop_loss.limit_price };
  }
  if (r.position_intent !== undefined) out.position_intent = r.position_intent;
  if (out.order_class === "oco" && out.limit_price === undefined && out.take_profit) {
    out.limit_price = out.take_profit.limit_price;
  }
  return out;
});

/** Zod schema for a PATCH /v2/orders/{id} body (ALPACA.md §3.5); amounts as strings or numbers. */
export const replaceRequestSchema: z.ZodType<ReplaceRequest, unknown> = z.object({
  qty: optionalDecimal,
  time_in_force: optionalEnum(TIME_IN_FORCES),
  limit_price: optionalDecimal,
  stop_price: optionalDecimal,
  trail: optionalDecimal,
  client_order_id: clientOrderIdField,
}, { error: (iss) => `Expected an object, got ${describe(iss.input)}` }).transform((r) => {
  const out: ReplaceRequest = {};
  if (r.qty !== undefined) out.qty = r.qty;
  if (r.time_in_force !== undefined) out.time_in_force = r.time_in_force;
  if (r.limit_price !== undefined) out.limit_price = r.limit_price;
  if (r.stop_price !== undefined) out.stop_price = r.stop_price;
  if (r.trail !== undefined) out.trail = r.trail;
  if (r.client_order_id !== undefined) out.client_order_id = r.client_order_id;
  return out;
});

function issuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    out += typeof p === "number" ? `[${p}]` : `${out ? "." : ""}${String(p)}`;
  }
  return out || "(body)";
}

function parseWith<T>(schema: z.ZodType<T, unknown>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: issuePath(i.path), message: i.message }));
  const text = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  throw new TradeError("INVALID_REQUEST", `Cannot read ${what}: ${text}`, {
    details: { issues },
    alpacaMessage: `request body format is invalid: ${text}`,
  });
}

/**
 * Reads an Alpaca-style order body into an {@link OrderRequest}.
 * Throws {@link TradeError} `INVALID_REQUEST` (400) naming each bad field by path, e.g.
 * `Cannot read order request: take_profit.limit_price: Required`.
 */
export function parseOrderRequest(input: unknown): OrderRequest {
  return parseWith(orderRequestSchema, input, "order request");
}

/**
 * Reads a PATCH body into a {@link ReplaceRequest}.
 * Throws {@link TradeError} `INVALID_REQUEST` (400) naming each bad field by path.
 */
export function parseReplaceRequest(input: unknown): ReplaceRequest {
  return parseWith(replaceRequestSchema, input, "replace request");
}

/** True when the request trades a fractional amount: notional, or a non-integer qty. */
export function isFractionalRequest(request: Pick<OrderRequest, "qty" | "notional">): boolean {
  return request.notional !== undefined ||
    (request.qty !== undefined && !request.qty.isInteger());
}

/** The class with `"simple"` folded into `""`. */
export function normalizeOrderClass(orderClass: OrderClass | undefined): OrderClass {
  return orderClass === undefined || orderClass === "simple" ? "" : orderClass;
}

// ---------------------------------------------------------------------------------------------
// Timestamps

const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * RFC-3339 UTC text with milliseconds, e.g. `2026-11-23T14:30:00.000Z`.
 * Throws `RangeError` when `tsMs` is not a finite time value.
 */
export function formatTimestamp(tsMs: number): string {
  return new Date(tsMs).toISOString();
}

/**
 * Epoch ms from RFC-3339 text with an explicit offset; fractions beyond milliseconds are cut.
 * Throws `RangeError` on anything else.
 */
export function parseTimestamp(text: string): number {
  const m = RFC3339_RE.exec(text);
  if (!m) throw new RangeError(`Cannot read timestamp "${text}": expected RFC-3339 with an offset`);
  const [, y, mo, d, h, mi, s, frac = "", zone = "Z"] = m;
  const ms = Number(frac.padEnd(3, "0").slice(0, 3));
  let ts = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    ts -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (
    day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d) || Number(h) > 23 ||
    Number(mi) > 59 || Number(s) > 60
  ) {
    throw new RangeError(`Cannot read timestamp "${text}": no such date or time`);
  }
  return ts;
}

// ---------------------------------------------------------------------------------------------
// Wire shape

/** Alpaca's Order JSON (ALPACA.md §3.2): snake_case, string amounts, RFC-3339 timestamps. */
export interface AlpacaOrderJson {
  id: string;
  client_order_id: string;
  created_at: string;
  updated_at: string | null;
  submitted_at: string | null;
  filled_at: string | null;
  expired_at: string | null;
  canceled_at: string | null;
  failed_at: string | null;
  replaced_at: string | null;
  replaced_by: string | null;
  replaces: string | null;
  asset_id: string;
  symbol: string;
  asset_class: AssetClass;
  notional: string | null;
  qty: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  order_class: OrderClass;
  order_type: OrderType;
  type: OrderType;
  side: OrderSide;
  position_intent: PositionIntent | null;
  time_in_force: TimeInForce;
  limit_price: string | null;
  stop_price: string | null;
  status: OrderStatus;
  extended_hours: boolean;
  legs: AlpacaOrderJson[] | null;
  trail_percent: string | null;
  trail_price: string | null;
  hwm: string | null;
  subtag: string | null;
  source: string | null;
  expires_at: string | null;
  ratio_qty?: string | null;
}

const ts = (v: number | null): string | null => v === null ? null : formatTimestamp(v);
const amt = (v: Decimal | null): string | null => v === null ? null : v.toString();

/**
 * The exact Alpaca wire shape of an order: every key present in Alpaca's order, amounts as
 * canonical decimal strings, timestamps RFC-3339 UTC with ms or null, `order_type` duplicating
 * `type`, and `legs` null unless the order carries a nested snapshot (one level only).
 * `ratio_qty` appears only when set. Throws `RangeError` on a non-finite timestamp.
 */
export function toAlpacaJson(order: Order): AlpacaOrderJson {
  return toJson(order, true);
}

function toJson(order: Order, nest: boolean): AlpacaOrderJson {
  const out: AlpacaOrderJson = {
    id: order.id,
    client_order_id: order.client_order_id,
    created_at: formatTimestamp(order.created_at),
    updated_at: ts(order.updated_at),
    submitted_at: ts(order.submitted_at),
    filled_at: ts(order.filled_at),
    expired_at: ts(order.expired_at),
    canceled_at: ts(order.canceled_at),
    failed_at: ts(order.failed_at),
    replaced_at: ts(order.replaced_at),
    replaced_by: order.replaced_by,
    replaces: order.replaces,
    asset_id: order.asset_id,
    symbol: order.symbol,
    asset_class: order.asset_class,
    notional: amt(order.notional),
    qty: amt(order.qty),
    filled_qty: order.filled_qty.toString(),
    filled_avg_price: amt(order.filled_avg_price),
    order_class: order.order_class,
    order_type: order.type,
    type: order.type,
    side: order.side,
    position_intent: order.position_intent,
    time_in_force: order.time_in_force,
    limit_price: amt(order.limit_price),
    stop_price: amt(order.stop_price),
    status: order.status,
    extended_hours: order.extended_hours,
    legs: nest && order.legs ? order.legs.map((l) => toJson(l, false)) : null,
    trail_percent: amt(order.trail_percent),
    trail_price: amt(order.trail_price),
    hwm: amt(order.hwm),
    subtag: order.subtag,
    source: order.source,
    expires_at: ts(order.expires_at),
  };
  if (order.ratio_qty !== null) out.ratio_qty = order.ratio_qty.toString();
  return out;
}

const wireTs = z.string().nullish().transform((v, ctx) => {
  if (v === null || v === undefined) return null;
  try {
    return parseTimestamp(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});
const wireAmount = optionalDecimal.transform((v) => v ?? null);
const wireStr = z.string().nullish().transform((v) => v ?? null);
const wireId = z.string({
  error: (iss) =>
    iss.input === undefined ? "Required" : `Expected a string, got ${describe(iss.input)}`,
}).min(1, { error: "Required" });

interface WireOrder {
  [key: string]: unknown;
}

const alpacaOrderSchema: z.ZodType<Order, unknown> = z.lazy(() =>
  z.object({
    id: wireId,
    client_order_id: wireId,
    created_at: wireTs,
    updated_at: wireTs,
    submitted_at: wireTs,
    filled_at: wireTs,
    expired_at: wireTs,
    canceled_at: wireTs,
    failed_at: wireTs,
    replaced_at: wireTs,
    replaced_by: wireStr,
    replaces: wireStr,
    asset_id: wireStr,
    symbol: z.string(),
    asset_class: enumField(ASSET_CLASSES).nullish(),
    notional: wireAmount,
    qty: wireAmount,
    filled_qty: wireAmount,
    filled_avg_price: wireAmount,
    order_class: enumField(ORDER_CLASSES).nullish(),
    type: enumField(ORDER_TYPES),
    side: enumField(ORDER_SIDES),
    position_intent: enumField(POSITION_INTENTS).nullish(),
    time_in_force: enumField(TIME_IN_FORCES),
    limit_price: wireAmount,
    stop_price: wireAmount,
    status: enumField(ORDER_STATUSES),
    extended_hours: z.boolean().nullish(),
    legs: z.array(z.custom<WireOrder>((v) => typeof v === "object" && v !== null)).nullish(),
    trail_percent: wireAmount,
    trail_price: wireAmount,
    hwm: wireAmount,
    subtag: wireStr,
    source: wireStr,
    expires_at: wireTs,
    ratio_qty: wireAmount,
  }).transform((w, ctx): Order => {
    if (w.created_at === null) {
      ctx.addIssue({ code: "custom", message: "Required", path: ["created_at"] });
      return z.NEVER;
    }
    const order: Order = {
      ...w,
      created_at: w.created_at,
      asset_id: w.asset_id ?? "",
      asset_class: w.asset_class ?? "us_equity",
      filled_qty: w.filled_qty ?? Decimal.ZERO,
      order_class: w.order_class ?? "",
      position_intent: w.position_intent ?? null,
      extended_hours: w.extended_hours ?? false,
      legs: null,
      parent_id: null,
    };
    if (!w.legs) return order;
    const legs: Order[] = [];
    for (const [i, raw] of w.legs.entries()) {
      const leg = alpacaOrderSchema.safeParse(raw);
      if (!leg.success) {
        for (const iss of leg.error.issues) {
          ctx.addIssue({ code: "custom", message: iss.message, path: ["legs", i, ...iss.path] });
        }
        return z.NEVER;
      }
      legs.push({ ...leg.data, parent_id: order.id });
    }
    return { ...order, legs };
  })
);

/**
 * Reads Alpaca's Order JSON (REST or `trade_updates`) into an {@link Order}; nested `legs` get
 * `parent_id` set. Missing optional keys become null. Throws {@link TradeError}
 * `INVALID_REQUEST` naming each bad field by path.
 */
export function parseAlpacaOrder(input: unknown): Order {
  return parseWith(alpacaOrderSchema, input, "Alpaca order");
}

// ---------------------------------------------------------------------------------------------
// Construction

/** Options for {@link createOrder}. */
export interface CreateOrderOptions {
  /** Source of order ids and of generated client order ids. */
  ids: IdSource;
  /** Creation time, epoch ms. */
  tsMs: number;
  /** The asset's id (a UUID at Alpaca). */
  assetId: string;
  /** Defaults to `us_equity`. */
  assetClass?: AssetClass;
  /** Initial status of the parent; defaults to `accepted` (the usual POST response). */
  status?: "accepted" | "pending_new" | "new";
}

/** An order and its child legs (bracket: take-profit then stop-loss; oco: stop-loss). */
export interface OrderGroup {
  order: Order;
  legs: Order[];
}

function baseOrder(
  request: OrderRequest,
  id: string,
  clientOrderId: string,
  opts: CreateOrderOptions,
): Order {
  return {
    id,
    client_order_id: clientOrderId,
    created_at: opts.tsMs,
    updated_at: opts.tsMs,
    submitted_at: opts.tsMs,
    filled_at: null,
    expired_at: null,
    canceled_at: null,
    failed_at: null,
    replaced_at: null,
    replaced_by: null,
    replaces: null,
    asset_id: opts.assetId,
    symbol: request.symbol,
    asset_class: opts.assetClass ?? "us_equity",
    notional: request.notional ?? null,
    qty: request.notional !== undefined ? null : request.qty ?? null,
    filled_qty: Decimal.ZERO,
    filled_avg_price: null,
    order_class: normalizeOrderClass(request.order_class),
    type: request.type,
    side: request.side,
    position_intent: request.position_intent ?? null,
    time_in_force: request.time_in_force,
    limit_price: request.limit_price ?? null,
    stop_price: request.stop_price ?? null,
    status: opts.status ?? "accepted",
    extended_hours: request.extended_hours ?? false,
    legs: null,
    trail_percent: request.trail_percent ?? null,
    trail_price: request.trail_price ?? null,
    hwm: null,
    subtag: null,
    source: null,
    expires_at: null,
    ratio_qty: null,
    parent_id: null,
  };
}

const opposite = (side: OrderSide): OrderSide => side === "buy" ? "sell" : "buy";

/**
 * Builds the order (and, for bracket/oco/oto, its `held` legs) for a request that passed
 * validation. Legs get fresh ids and client order ids, the parent's qty and time in force, and
 * the exit side (opposite the entry; for oco the request's own side, the parent being the
 * take-profit limit). The parent's `legs` is null; use {@link withLegs} for a nested view.
 * Never throws.
 */
export function createOrder(request: OrderRequest, opts: CreateOrderOptions): OrderGroup {
  const id = opts.ids();
  const cls = normalizeOrderClass(request.order_class);
  let req = request;
  if (cls === "oco" && req.limit_price === undefined && req.take_profit) {
    req = { ...req, limit_price: req.take_profit.limit_price };
  }
  const order = baseOrder(req, id, req.client_order_id ?? opts.ids(), opts);
  const legs: Order[] = [];
  if (cls !== "bracket" && cls !== "oco" && cls !== "oto") return { order, legs };
  const exitSide = cls === "oco" ? req.side : opposite(req.side);
  const leg = (type: OrderType, limit: Decimal | null, stop: Decimal | null): Order => ({
    ...order,
    id: opts.ids(),
    client_order_id: opts.ids(),
    notional: null,
    side: exitSide,
    position_intent: null,
    type,
    limit_price: limit,
    stop_price: stop,
    status: "held",
    extended_hours: false,
    trail_percent: null,
    trail_price: null,
    parent_id: id,
  });
  if (req.take_profit && cls !== "oco") {
    legs.push(leg("limit", req.take_profit.limit_price, null));
  }
  if (req.stop_loss) {
    const sl = req.stop_loss;
    legs.push(leg(sl.limit_price ? "stop_limit" : "stop", sl.limit_price ?? null, sl.stop_price));
  }
  return { order, legs };
}

/** A copy of `parent` whose `legs` is the given snapshot (each leg's own `legs` null). */
export function withLegs(parent: Order, legs: readonly Order[]): Order {
  return { ...parent, legs: legs.map((l) => ({ ...l, legs: null })) };
}

/** Options for {@link replacementOrder}. */
export interface ReplacementOptions {
  ids: IdSource;
  tsMs: number;
  /** Initial status of the new order; defaults to `accepted`. */
  status?: "accepted" | "pending_new" | "new";
}

/**
 * The new order a replace creates (ALPACA.md §3.5): a new id, `replaces` = old id, unspecified
 * attributes copied from the old order. `qty` is the chain total, so `filled_qty` and
 * `filled_avg_price` carry over. `trail` updates whichever of trail_price/trail_percent the old
 * order used. Does not validate (see `validateReplace`); never throws.
 */
export function replacementOrder(
  old: Order,
  request: ReplaceRequest,
  opts: ReplacementOptions,
): Order {
  const trailIsPercent = old.trail_percent !== null;
  const next: Order = {
    ...old,
    id: opts.ids(),
    client_order_id: request.client_order_id ?? opts.ids(),
    created_at: opts.tsMs,
    updated_at: opts.tsMs,
    submitted_at: opts.tsMs,
    filled_at: null,
    expired_at: null,
    canceled_at: null,
    failed_at: null,
    replaced_at: null,
    replaced_by: null,
    replaces: old.id,
    qty: request.qty ?? old.qty,
    time_in_force: request.time_in_force ?? old.time_in_force,
    limit_price: request.limit_price ?? old.limit_price,
    stop_price: request.stop_price ?? old.stop_price,
    trail_percent: request.trail !== undefined && trailIsPercent
      ? request.trail
      : old.trail_percent,
    trail_price: request.trail !== undefined && !trailIsPercent ? request.trail : old.trail_price,
    status: opts.status ?? "accepted",
    legs: null,
  };
  return next;
}
