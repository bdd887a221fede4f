/**
 * Indicator specs as plain data: their types, stable keys, builders and snapshot readers, without
 * validation (no zod). What a strategy's logic needs, e.g. inside a bot Worker; `indicator_spec.ts`
 * adds validation, the factory and {@link IndicatorSet}-style holders, and re-exports all of this.
 *
 * @module
 */

import type { BandsValue, IndicatorValue, MacdValue, StochasticValue } from "./indicators.ts";

/** Largest period any indicator accepts. */
export const MAX_PERIOD = 10_000;

/** Parameters of each indicator, after defaults. */
export interface IndicatorParams {
  sma: { period: number };
  ema: { period: number };
  rsi: { period: number };
  macd: { fast: number; slow: number; signal: number };
  bbands: { period: number; k: number };
  stoch: { k: number; kSmooth: number; d: number };
  obv: Record<string, never>;
  atr: { period: number };
}

/** The value type of each indicator. */
export interface IndicatorValues {
  sma: number;
  ema: number;
  rsi: number;
  macd: MacdValue;
  bbands: BandsValue;
  stoch: StochasticValue;
  obv: number;
  atr: number;
}

/** An indicator name. */
export type IndicatorName = keyof IndicatorParams;

/** A validated spec with every parameter present: `{name: "macd", params: {fast, slow, signal}}`. */
export type IndicatorSpec<N extends IndicatorName = IndicatorName> = N extends IndicatorName
  ? { readonly name: N; readonly params: Readonly<IndicatorParams[N]> }
  : never;

/** An unvalidated spec as it arrives from configuration; missing params take their defaults. */
export interface IndicatorSpecInput {
  name: string;
  params?: Record<string, unknown>;
}

/**
 * Indicator values keyed by indicator key, as computed for one bar; `null` while warming up.
 * Plain data (structured-clone friendly).
 */
export type IndicatorSnapshot = Readonly<Record<string, IndicatorValue | null>>;

/** Parameter order in keys, by indicator. */
export const INDICATOR_KEY_PARAMS: {
  readonly [N in IndicatorName]: readonly (keyof IndicatorParams[N])[];
} = {
  sma: ["period"],
  ema: ["period"],
  rsi: ["period"],
  macd: ["fast", "slow", "signal"],
  bbands: ["period", "k"],
  stoch: ["k", "kSmooth", "d"],
  obv: [],
  atr: ["period"],
};

/** Every indicator name, sorted. */
export const INDICATOR_NAMES: readonly IndicatorName[] = Object.keys(INDICATOR_KEY_PARAMS)
  .sort() as IndicatorName[];

/** Whether `name` is a known indicator name. */
export function isIndicatorName(name: unknown): name is IndicatorName {
  return typeof name === "string" && Object.hasOwn(INDICATOR_KEY_PARAMS, name);
}

/**
 * The stable key of a validated spec: the name, then its params in a fixed order, e.g.
 * `"macd:12,26,9"`, `"bbands:20,2.5"`, `"obv"`. Never throws for a spec from
 * {@link parseIndicatorSpec} or {@link specs}.
 */
export function indicatorKey(spec: IndicatorSpec): string {
  const order = INDICATOR_KEY_PARAMS[spec.name] as readonly string[];
  if (order.length === 0) return spec.name;
  const params = spec.params as Readonly<Record<string, number>>;
  return `${spec.name}:${order.map((p) => String(params[p])).join(",")}`;
}

/** Builders of specs with the textbook defaults (unvalidated: {@link createIndicator} checks). */
export const specs = {
  sma: (period = 20): IndicatorSpec<"sma"> => ({ name: "sma", params: { period } }),
  ema: (period = 20): IndicatorSpec<"ema"> => ({ name: "ema", params: { period } }),
  rsi: (period = 14): IndicatorSpec<"rsi"> => ({ name: "rsi", params: { period } }),
  macd: (fast = 12, slow = 26, signal = 9): IndicatorSpec<"macd"> => ({
    name: "macd",
    params: { fast, slow, signal },
  }),
  bbands: (period = 20, k = 2): IndicatorSpec<"bbands"> => ({
    name: "bbands",
    params: { period, k },
  }),
  stoch: (k = 14, kSmooth = 3, d = 3): IndicatorSpec<"stoch"> => ({
    name: "stoch",
    params: { k, kSmooth, d },
  }),
  obv: (): IndicatorSpec<"obv"> => ({ name: "obv", params: {} }),
  atr: (period = 14): IndicatorSpec<"atr"> => ({ name: "atr", params: { period } }),
} as const;

/**
 * The value of `spec` in a snapshot, typed by the indicator (`null` while warming up).
 * Throws an Error when the snapshot lacks the key: the strategy read an indicator it did not
 * declare.
 */
export function readIndicator<N extends IndicatorName>(
  snapshot: IndicatorSnapshot,
  spec: IndicatorSpec<N>,
): IndicatorValues[N] | null {
  const key = indicatorKey(spec);
  if (!Object.hasOwn(snapshot, key)) {
    throw new Error(
      `Cannot read indicator "${key}": not in the snapshot (has ${
        Object.keys(snapshot).map((k) => `"${k}"`).join(", ") || "nothing"
      })`,
    );
  }
  return snapshot[key] as IndicatorValues[N] | null;
}

/** The entries of `snapshot` for the given specs only (what a signal or intent reports). */
export function pickSnapshot(
  snapshot: IndicatorSnapshot,
  wanted: readonly IndicatorSpec[],
): Record<string, IndicatorValue | null> {
  const out: Record<string, IndicatorValue | null> = {};
  for (const spec of wanted) {
    const key = indicatorKey(spec);
    out[key] = snapshot[key] ?? null;
  }
  return out;
}
