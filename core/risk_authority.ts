/**
 * The chain of authority over risk limits and the trading state (DESIGN.md, Invariants).
 *
 * Limits come in layers, most authoritative first: the engine's defaults (configuration), an
 * admin's limits for a user, the user's own, and a bot's own. Each layer can only tighten the
 * layers above it: the effective value of a limit is the strictest (smallest) value any layer
 * sets, and a write to a layer that would exceed the value of the layers above it is refused
 * with `RISK_LIMIT_ABOVE_CEILING` (refused, never clamped: what was asked is what is stored, or
 * nothing is). Clearing a field (`null`) in a layer only clears that layer's own value.
 *
 * The trading state has two layers, the admin's and the user's own; the effective state is the
 * stricter (`halted` over `reducing` over `active`). A user may tighten their own layer freely
 * and loosen it only as far as the admin's layer allows (`TRADING_STATE_SET_BY_ADMIN`
 * otherwise). An admin sets a user's state outright: the admin layer takes the requested state
 * and a stricter user layer is lifted to it.
 *
 * The protective defaults ({@link ADMIN_OVERRIDABLE_LIMITS}: max_order_qty, daily_loss_pct,
 * price_band_pct) are the engine's suggestion rather than the operator's ceiling: an admin's
 * value for a user replaces the default, above or below it (a desk that trades 5,000-share
 * orders, a collar that suits a volatile name); the user and the user's bots still only
 * tighten the result. Every other default is a ceiling an admin may only tighten.
 *
 * Pure: the caller reads and writes the layers.
 *
 * @module
 */

import { Decimal } from "./decimal.ts";
import { TradeError } from "./errors.ts";
import {
  type ResolvedRiskLimits,
  RISK_LIMIT_FIELDS,
  type RiskLimits,
  type TradingState,
} from "./risk.ts";

/**
 * Limits whose engine default an admin may override for a user, loosening as well as
 * tightening it: the protective defaults of `core/risk.ts` (`PROTECTIVE_DEFAULTS`).
 */
export const ADMIN_OVERRIDABLE_LIMITS: ReadonlySet<RiskLimitField> = new Set([
  "max_order_qty",
  "daily_loss_pct",
  "price_band_pct",
]);

/** A layer of limits, most authoritative first. */
export const LIMIT_LAYERS = ["default", "admin", "user", "bot"] as const;

/** Where a limit comes from: the engine's default, an admin, the user, or a bot's own config. */
export type LimitLayer = typeof LIMIT_LAYERS[number];

/** A limit field name. */
export type RiskLimitField = typeof RISK_LIMIT_FIELDS[number];

/** The limits of each layer; a missing layer sets nothing. */
export type LimitLayers = Partial<Record<LimitLayer, RiskLimits | null | undefined>>;

/** Effective limits with the layer each value comes from (null: no layer sets it). */
export interface ResolvedLimits {
  limits: ResolvedRiskLimits;
  sources: Record<RiskLimitField, LimitLayer | null>;
}

function less(a: Decimal | number, b: Decimal | number): boolean {
  return typeof a === "number" && typeof b === "number" ? a < b : (a as Decimal).lt(b as Decimal);
}

/**
 * The effective limits of `layers`: for each field the strictest value any layer sets, and the
 * most authoritative layer that sets that value (a lower layer repeating it tightens nothing),
 * except that an admin's value of an {@link ADMIN_OVERRIDABLE_LIMITS} field replaces the
 * default. With `above`, only the layers more authoritative than that one count: the ceiling a
 * write to `above` must respect (for an admin, the defaults of those fields are no ceiling).
 * Never throws.
 *
 * @example
 * ```ts
 * resolveLimits({ default: defaults, admin, user }).sources.max_orders_per_minute; // "admin"
 * resolveLimits({ default: defaults, admin, user }, "user"); // the user's ceiling
 * ```
 */
export function resolveLimits(layers: LimitLayers, above?: LimitLayer): ResolvedLimits {
  const limits = {} as Record<RiskLimitField, Decimal | number | null>;
  const sources = {} as Record<RiskLimitField, LimitLayer | null>;
  for (const f of RISK_LIMIT_FIELDS) {
    limits[f] = null;
    sources[f] = null;
  }
  const adminLayer = layers.admin;
  for (const layer of LIMIT_LAYERS) {
    if (layer === above) break;
    const values = layers[layer];
    if (!values) continue;
    for (const f of RISK_LIMIT_FIELDS) {
      const v = values[f];
      if (v === null || v === undefined) continue;
      if (layer === "default" && ADMIN_OVERRIDABLE_LIMITS.has(f)) {
        // The admin's value (or, for a write to the admin's layer, the admin) decides.
        if (above === "admin") continue;
        const admin = adminLayer?.[f];
        if (admin !== null && admin !== undefined) continue;
      }
      const cur = limits[f];
      if (cur === null || less(v, cur)) {
        limits[f] = v;
        sources[f] = layer;
      }
    }
  }
  return { limits: limits as ResolvedRiskLimits, sources };
}

/** One field a write would loosen past the layers above. */
export interface CeilingViolation {
  /** The field's path in the request, e.g. `max_orders_per_minute` or `risk.max_orders_per_minute`. */
  field: string;
  requested: string;
  ceiling: string;
  /** The layer that sets the ceiling. */
  ceiling_source: LimitLayer;
}

const SOURCE_TEXT: Record<LimitLayer, string> = {
  default: "the engine default",
  admin: "the limit an admin set",
  user: "the owner's own limit",
  bot: "the bot's limit",
};

/**
 * The fields of `requested` (set, not null) above the ceiling. `prefix` is prepended to field
 * names (`"risk."` for a bot's config). Never throws.
 */
export function ceilingViolations(
  requested: RiskLimits,
  ceiling: ResolvedLimits,
  prefix = "",
): CeilingViolation[] {
  const out: CeilingViolation[] = [];
  for (const f of RISK_LIMIT_FIELDS) {
    const v = requested[f];
    const top = ceiling.limits[f];
    if (v === null || v === undefined || top === null || !less(top, v)) continue;
    out.push({
      field: prefix + f,
      requested: String(v),
      ceiling: String(top),
      ceiling_source: ceiling.sources[f]!,
    });
  }
  return out;
}

/**
 * Throws {@link TradeError} `RISK_LIMIT_ABOVE_CEILING` (403) when any field of `requested`
 * exceeds `ceiling`, naming each field, the value asked, the ceiling and where it comes from,
 * e.g. `Cannot set risk limits: max_orders_per_minute "1000000" exceeds the engine default "100"
 * (a limit may only tighten the limits above it)`. `details.violations` lists them.
 */
export function assertWithinCeiling(
  requested: RiskLimits,
  ceiling: ResolvedLimits,
  options: { action?: string; prefix?: string } = {},
): void {
  const violations = ceilingViolations(requested, ceiling, options.prefix);
  if (violations.length === 0) return;
  const text = violations.map((v) =>
    `${v.field} "${v.requested}" exceeds ${SOURCE_TEXT[v.ceiling_source]} "${v.ceiling}"`
  ).join("; ");
  throw new TradeError(
    "RISK_LIMIT_ABOVE_CEILING",
    `${
      options.action ?? "Cannot set risk limits"
    }: ${text} (a limit may only tighten the limits above it)`,
    { details: { violations } },
  );
}

// ---------------------------------------------------------------------------------------------
// Trading state

/** The layers of the trading state, most authoritative first. */
export const STATE_LAYERS = ["admin", "user"] as const;

/** Who set a trading state: an admin (for the user) or the user. */
export type StateLayer = typeof STATE_LAYERS[number];

/** The trading state of each layer; a missing layer is `active`. */
export type StateLayers = Partial<Record<StateLayer, TradingState>>;

const SEVERITY: Record<TradingState, number> = { active: 0, reducing: 1, halted: 2 };

/** The effective state of `layers` and the layer it comes from (null when active). */
export function effectiveState(
  layers: StateLayers,
): { state: TradingState; source: StateLayer | null } {
  let state: TradingState = "active";
  let source: StateLayer | null = null;
  for (const layer of STATE_LAYERS) {
    const s = layers[layer] ?? "active";
    if (SEVERITY[s] > SEVERITY[state]) {
      state = s;
      source = layer;
    }
  }
  return { state, source };
}

const VERB: Record<TradingState, string> = {
  active: "resume trading",
  reducing: "set trading to reducing",
  halted: "halt trading",
};

/**
 * The layers after `actor` asks for `requested`. A user sets their own layer; the result must
 * be the requested state, so a user cannot loosen past an admin's layer. An admin sets the
 * admin layer to `requested` and lifts a stricter user layer to it, so the result is exactly
 * `requested`.
 *
 * @throws {TradeError} `TRADING_STATE_SET_BY_ADMIN` (403) when a user asks for a state looser
 * than the admin's layer, e.g. `Cannot resume trading: an admin halted it ("review"); only an
 * admin can lift it`.
 */
export function changeState(
  current: StateLayers,
  actor: StateLayer,
  requested: TradingState,
  adminReason?: string | null,
): Required<StateLayers> {
  const admin = current.admin ?? "active";
  const user = current.user ?? "active";
  if (actor === "admin") {
    return {
      admin: requested,
      user: SEVERITY[user] > SEVERITY[requested] ? requested : user,
    };
  }
  if (SEVERITY[admin] > SEVERITY[requested]) {
    const what = admin === "halted" ? "halted it" : "limited it to reducing positions";
    throw new TradeError(
      "TRADING_STATE_SET_BY_ADMIN",
      `Cannot ${VERB[requested]}: an admin ${what}${
        adminReason ? ` (${JSON.stringify(adminReason)})` : ""
      }; only an admin can lift it`,
      { details: { requested, admin_state: admin, own_state: user } },
    );
  }
  return { admin, user: requested };
}

/** Limits from stored values (numeric columns as text, counts as numbers). Never throws on null. */
export function limitsFromStored(
  row: Readonly<Record<string, unknown>> | null | undefined,
): RiskLimits {
  const out: Record<string, Decimal | number> = {};
  if (!row) return out as RiskLimits;
  for (const f of RISK_LIMIT_FIELDS) {
    const v = row[f];
    if (v === null || v === undefined) continue;
    out[f] = f === "max_open_positions" || f === "max_daily_trades" ||
        f === "max_orders_per_minute"
      ? Number(v)
      : Decimal.parse(String(v));
  }
  return out as RiskLimits;
}
