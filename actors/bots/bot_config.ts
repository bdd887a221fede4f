/**
 * A trading bot's configuration: which strategy it runs on which symbols and timeframe, when it
 * may trade, how it sizes orders, and its own risk limits.
 *
 * The parsed config is plain data (decimal amounts stay decimal strings, durations become
 * milliseconds), so it crosses a Worker boundary and survives a structured clone unchanged.
 *
 * Defaults:
 * - `timeframe` `"1Min"`; `params` `{}` (then the strategy's own defaults);
 * - `trading_window` none: the bot trades whenever the venue's market is open (every minute in the
 *   24x7 simulation; the exchange's core session under `SIM_HOURS=nyse`, holidays and early closes
 *   included, as the market monitor says). A window only narrows that: its days default to all
 *   seven, `start` to 00:00 and `end` to 24:00 America/New_York (start inclusive, end exclusive);
 * - `frequency` `"0s"` (no minimum time between orders); `cooldown_after_loss` `"0s"`;
 * - `sizing` `{method: "fixed_qty", qty: "1"}`; no `stop_loss`, no `take_profit`;
 * - `max_positions` the number of symbols; `risk` `{}` (no bot-specific limits).
 *
 * @example
 * ```ts
 * const config = parseBotConfig({
 *   name: "trend", strategy: "sma_cross", symbols: ["aapl"], params: { fast: 5, slow: 20 },
 *   sizing: { method: "percent_equity", percent: "10" }, stop_loss: { percent: "2" },
 * }, new StrategyRegistry());
 * config.symbols; // ["AAPL"]
 * ```
 *
 * @module
 */

import { z } from "zod";
import { Decimal } from "../../core/decimal.ts";
import { fieldIssues, TradeError } from "../../core/errors.ts";
import { decimalTextIssue, hasControlCharacter } from "../../core/input.ts";
import { parseRiskLimits, type RiskLimits, riskLimitsSchema } from "../../core/risk.ts";
import type { StrategyRegistry } from "../../strategies/registry.ts";
import {
  BOT_TIMEFRAMES,
  type BotConfig,
  MAX_BOT_SYMBOLS,
  minutesOf,
  parseDuration,
  WEEKDAYS,
} from "./bot_config_data.ts";

export * from "./bot_config_data.ts";

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === null) {
    ctx.addIssue({
      code: "custom",
      message: `Expected a duration such as "30s", "5m", "1h" or "1d", got ${JSON.stringify(text)}`,
    });
    return z.NEVER;
  }
  return ms;
});

/** A positive decimal kept as canonical decimal text. */
function positiveDecimal(max?: number) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const tooLong = decimalTextIssue(value);
    if (tooLong) {
      ctx.addIssue({ code: "custom", message: tooLong });
      return z.NEVER;
    }
    const d = Decimal.tryParse(value);
    if (d === null) {
      ctx.addIssue({ code: "custom", message: `Expected a decimal, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (!d.isPositive()) {
      ctx.addIssue({ code: "custom", message: `Expected a value > 0, got "${d}"` });
      return z.NEVER;
    }
    if (max !== undefined && d.gt(Decimal.int(max))) {
      ctx.addIssue({ code: "custom", message: `Expected a value <= ${max}, got "${d}"` });
      return z.NEVER;
    }
    return d.toString();
  });
}

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: "Expected HH:MM (24-hour)" });
/** An end time: HH:MM, or 24:00 for the end of the day. */
const hhmmEnd = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, {
  message: "Expected HH:MM (24-hour, or 24:00 for the end of the day)",
});

/** A window narrows the venue's hours; each field left out narrows nothing. */
const tradingWindowSchema = z.strictObject({
  /** Days the bot may trade (default all seven). */
  days: z.array(z.enum(WEEKDAYS)).min(1).default([...WEEKDAYS])
    .transform((days) => WEEKDAYS.filter((d) => days.includes(d))),
  /** First minute, ET, inclusive (default 00:00). */
  start: hhmm.default("00:00"),
  /** End, ET, exclusive (default 24:00). */
  end: hhmmEnd.default("24:00"),
}).refine((w) => minutesOf(w.start) < minutesOf(w.end), {
  message: "start must be before end",
  path: ["start"],
});

const sizingSchema = z.discriminatedUnion("method", [
  /** A fixed number of shares (whole unless `fractional`). */
  z.strictObject({
    method: z.literal("fixed_qty"),
    qty: positiveDecimal(),
    fractional: z.boolean().default(false),
  }),
  /** A fixed dollar amount per entry. */
  z.strictObject({
    method: z.literal("notional"),
    amount: positiveDecimal(),
    fractional: z.boolean().default(false),
  }),
  /** A percentage (0–100] of account equity per entry. */
  z.strictObject({
    method: z.literal("percent_equity"),
    percent: positiveDecimal(100),
    fractional: z.boolean().default(false),
  }),
  /** Risk `percent` of equity between entry and stop: qty = equity·percent/100 ÷ stop distance. */
  z.strictObject({
    method: z.literal("risk"),
    percent: positiveDecimal(100),
  }),
], {
  error: (iss) =>
    iss.code === "invalid_union"
      ? 'Expected method "fixed_qty", "notional", "percent_equity" or "risk"'
      : undefined,
});

/** A stop-loss or take-profit distance: a percentage of the entry price, or a multiple of ATR. */
const exitDistanceSchema = z.union([
  z.strictObject({ percent: positiveDecimal(100) }),
  z.strictObject({
    atr_multiple: positiveDecimal(),
    /** ATR period (default 14). */
    atr_period: z.int().min(1).max(1000).default(14),
  }),
], { error: () => "Expected {percent} or {atr_multiple, atr_period?}" });

const riskSchema = riskLimitsSchema.transform((limits) => {
  // Keep plain data: decimals as their canonical text.
  const out: Record<string, string | number | null> = {};
  for (const [k, v] of Object.entries(limits)) {
    out[k] = v instanceof Decimal ? v.toString() : (v as number | null);
  }
  return out;
});

const TICKER_RE = /^[A-Z][A-Z0-9.]{0,9}$/;

/** The zod schema of a bot's config, without the strategy params check (see {@link parseBotConfig}). */
export const botConfigSchema = z.strictObject({
  name: z.string().trim().min(1).max(64).refine((s) => !hasControlCharacter(s), {
    message: "Must not contain control characters",
  }),
  strategy: z.string().min(1).max(64),
  symbols: z.array(
    z.string().trim().transform((s) => s.toUpperCase()).refine((s) => TICKER_RE.test(s), {
      message: "Expected a ticker such as AAPL or BRK.B",
    }),
  ).min(1).max(MAX_BOT_SYMBOLS).refine((list) => new Set(list).size === list.length, {
    message: "Symbols must not repeat",
  }),
  timeframe: z.enum(BOT_TIMEFRAMES).default("1Min"),
  params: z.record(z.string(), z.unknown()).default({}),
  /** Absent: the venue's hours alone decide (see the module documentation). */
  trading_window: tradingWindowSchema.optional(),
  frequency: duration.default(0),
  sizing: sizingSchema.default({ method: "fixed_qty", qty: "1", fractional: false }),
  stop_loss: exitDistanceSchema.optional(),
  take_profit: exitDistanceSchema.optional(),
  max_positions: z.int().min(1).max(MAX_BOT_SYMBOLS).optional(),
  cooldown_after_loss: duration.default(0),
  risk: riskSchema.default({}),
}).superRefine((c, ctx) => {
  if (c.sizing.method === "risk" && !c.stop_loss) {
    ctx.addIssue({
      code: "custom",
      message: 'Sizing method "risk" needs a stop_loss',
      path: ["stop_loss"],
    });
  }
}).transform((c) => ({ ...c, max_positions: c.max_positions ?? c.symbols.length }));

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The hand-written BotConfig (bot_config_data.ts) must be what the schema gives.
const _sameShape: Same<z.output<typeof botConfigSchema>, BotConfig> = true;

/** One field error. */
export interface ConfigIssue {
  /** Dotted path, e.g. `"params.fast"`, `"symbols.2"`, `"(config)"` for the whole. */
  path: string;
  message: string;
}

/**
 * Parses a bot config: the shape by {@link botConfigSchema}, then `params` by the strategy's own
 * `paramsSchema` from `registry` (defaults filled in). Throws {@link TradeError}
 * `INVALID_REQUEST` naming every bad field, e.g.
 * `Cannot configure bot "trend": params.fast: fast must be below slow`; an unknown strategy is
 * reported at `strategy` with the list of known names. Details carry `{issues}`.
 */
export function parseBotConfig(input: unknown, registry: StrategyRegistry): BotConfig {
  const issues: ConfigIssue[] = [];
  const result = botConfigSchema.safeParse(input);
  const name = typeof (input as { name?: unknown })?.name === "string"
    ? (input as { name: string }).name
    : "(unnamed)";
  if (!result.success) {
    issues.push(...fieldIssues(result.error, "(config)"));
  }
  const rawStrategy = (input as { strategy?: unknown })?.strategy;
  const rawParams = (input as { params?: unknown })?.params;
  let params: unknown = undefined;
  if (typeof rawStrategy === "string" && rawStrategy.length > 0) {
    if (!registry.has(rawStrategy)) {
      issues.push({
        path: "strategy",
        message: `Unknown strategy ${JSON.stringify(rawStrategy)}; known strategies are ${
          registry.names().map((n) => `"${n}"`).join(", ")
        }`,
      });
    } else {
      const parsed = registry.get(rawStrategy).paramsSchema.safeParse(rawParams ?? {});
      if (parsed.success) params = parsed.data;
      else {
        for (const i of parsed.error.issues) {
          issues.push({ path: ["params", ...i.path.map(String)].join("."), message: i.message });
        }
      }
    }
  }
  if (issues.length > 0 || !result.success) {
    const text = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    throw new TradeError("INVALID_REQUEST", `Cannot configure bot "${name}": ${text}`, {
      details: { issues },
    });
  }
  return { ...result.data, params: params as Record<string, unknown> };
}

/** The bot's risk limits as `core/risk.ts` uses them (decimals rebuilt from the config text). */
export function botRiskLimits(config: BotConfig): RiskLimits {
  return parseRiskLimits(config.risk);
}
