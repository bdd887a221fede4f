/**
 * A bot's parsed config as plain data, and the helpers that read it, without the schema (no zod):
 * what a bot Worker needs. `bot_config.ts` validates raw input into a {@link BotConfig} and
 * re-exports all of this; its module doc lists the defaults.
 *
 * @module
 */

import type { Timeframe } from "../../core/market.ts";

/** Timeframes a bot can trade on. */
export const BOT_TIMEFRAMES = [
  "1Min",
  "5Min",
  "15Min",
  "1Hour",
  "1Day",
] as const satisfies readonly Timeframe[];

/** Days of the week as configured, Sunday first (index = `Date#getDay`). */
export const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

/** A day of the week. */
export type Weekday = typeof WEEKDAYS[number];

/** Most symbols one bot may trade. */
export const MAX_BOT_SYMBOLS = 50;

const DURATION_RE = /^(\d{1,9})(ms|s|m|h|d)$/;
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Reads a duration such as `"90s"`, `"5m"`, `"1h"`, `"2d"` into milliseconds; `null` when the
 * text is not one.
 */
export function parseDuration(text: string): number | null {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * DURATION_UNITS[m[2]!]!;
}

/** A timeframe a bot can trade on. */
export type BotTimeframe = typeof BOT_TIMEFRAMES[number];

/** How a bot sizes entries (see sizing.ts). Amounts are canonical decimal text. */
export type SizingConfig =
  | { method: "fixed_qty"; qty: string; fractional: boolean }
  | { method: "notional"; amount: string; fractional: boolean }
  | { method: "percent_equity"; percent: string; fractional: boolean }
  | { method: "risk"; percent: string };

/** A stop-loss or take-profit distance: a percentage of the entry price, or a multiple of ATR. */
export type ExitDistance = { percent: string } | { atr_multiple: string; atr_period: number };

/**
 * A bot's config after parsing (`parseBotConfig`): plain data, defaults filled in, durations in
 * milliseconds, decimals as canonical text, `params` already parsed by the strategy's schema.
 */
export interface BotConfig {
  name: string;
  strategy: string;
  /** Upper-case tickers, distinct. */
  symbols: string[];
  timeframe: BotTimeframe;
  /** The strategy's params, validated and defaulted. */
  params: Record<string, unknown>;
  /**
   * Days (in week order) and `[start, end)` as `"HH:MM"` ET (`end` may be `"24:00"`); absent, the
   * bot trades whenever the venue's market is open.
   */
  trading_window?: { days: Weekday[]; start: string; end: string };
  /** Least milliseconds between two orders of one symbol. */
  frequency: number;
  sizing: SizingConfig;
  stop_loss?: ExitDistance;
  take_profit?: ExitDistance;
  max_positions: number;
  /** Milliseconds without entries in a symbol after a losing exit. */
  cooldown_after_loss: number;
  /** The bot's own risk limits as plain data (see `botRiskLimits`). */
  risk: Record<string, string | number | null>;
}

/** Minutes after midnight of an `"HH:MM"` text (already validated). */
export function minutesOf(text: string): number {
  return Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5));
}

/** Milliseconds in one bar of `timeframe` (`1Day`: 24 h). */
export function timeframeMs(timeframe: Timeframe): number {
  switch (timeframe) {
    case "1Min":
      return 60_000;
    case "5Min":
      return 300_000;
    case "15Min":
      return 900_000;
    case "1Hour":
      return 3_600_000;
    case "1Day":
      return 86_400_000;
  }
}
