/**
 * Indicator specs, their stable keys, the validated factory, and a shared set of indicators.
 *
 * A spec names an indicator and its parameters, `{name: "ema", params: {period: 20}}`; its key,
 * `"ema:20"`, lists the parameters in a fixed order, so a symbol actor can keep one indicator per
 * (symbol, timeframe, key) and hand the same value to every bot that asked for it. Keys:
 *
 * | spec                                    | key              | value                |
 * | --------------------------------------- | ---------------- | -------------------- |
 * | `sma {period=20}`                       | `sma:20`         | number               |
 * | `ema {period=20}`                       | `ema:20`         | number               |
 * | `rsi {period=14}`                       | `rsi:14`         | number (0–100)       |
 * | `macd {fast=12, slow=26, signal=9}`     | `macd:12,26,9`   | {@link MacdValue}    |
 * | `bbands {period=20, k=2}`               | `bbands:20,2`    | {@link BandsValue}   |
 * | `stoch {k=14, kSmooth=3, d=3}`          | `stoch:14,3,3`   | {@link StochasticValue} |
 * | `obv {}`                                | `obv`            | number               |
 * | `atr {period=14}`                       | `atr:14`         | number               |
 *
 * @example
 * ```ts
 * const set = new IndicatorSet();
 * const key = set.add({ name: "ema", params: { period: 20 } }); // "ema:20"
 * const snapshot = set.update(bar); // { "ema:20": null } until 20 bars
 * ```
 *
 * @module
 */

import { z } from "zod";
import { TradeError } from "../core/errors.ts";
import {
  Atr,
  type BandsValue,
  Bollinger,
  Ema,
  type Indicator,
  type IndicatorBar,
  type IndicatorValue,
  Macd,
  type MacdValue,
  Obv,
  Rsi,
  Sma,
  Stochastic,
  type StochasticValue,
} from "./indicators.ts";

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

const period = (fallback: number) => z.int().min(1).max(MAX_PERIOD).default(fallback);

const PARAM_SCHEMAS = {
  sma: z.strictObject({ period: period(20) }),
  ema: z.strictObject({ period: period(20) }),
  rsi: z.strictObject({ period: period(14) }),
  macd: z.strictObject({ fast: period(12), slow: period(26), signal: period(9) }).refine(
    (p) => p.fast < p.slow,
    { message: "fast must be below slow", path: ["fast"] },
  ),
  bbands: z.strictObject({ period: period(20), k: z.number().positive().max(100).default(2) }),
  stoch: z.strictObject({ k: period(14), kSmooth: period(3), d: period(3) }),
  obv: z.strictObject({}),
  atr: z.strictObject({ period: period(14) }),
} satisfies { [N in IndicatorName]: z.ZodType<IndicatorParams[N], unknown> };

/** Parameter order in keys. */
const KEY_PARAMS: { readonly [N in IndicatorName]: readonly (keyof IndicatorParams[N])[] } = {
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
export const INDICATOR_NAMES: readonly IndicatorName[] = Object.keys(KEY_PARAMS)
  .sort() as IndicatorName[];

function isName(name: unknown): name is IndicatorName {
  return typeof name === "string" && Object.hasOwn(KEY_PARAMS, name);
}

function invalid(message: string, details: Record<string, unknown>): TradeError {
  return new TradeError("INVALID_REQUEST", message, { details });
}

function issuesText(error: z.ZodError): { text: string; issues: unknown[] } {
  const issues = error.issues.map((i) => ({
    path: i.path.map(String).join("."),
    message: i.message,
  }));
  return {
    text: issues.map((i) => `${i.path ? `params.${i.path}` : "params"}: ${i.message}`).join("; "),
    issues,
  };
}

/**
 * Validates a spec and fills in default params. Throws {@link TradeError} `INVALID_REQUEST`
 * naming the indicator and each bad parameter, e.g.
 * `Cannot create indicator "macd": params.fast: fast must be below slow`, or listing the known
 * names for an unknown one.
 */
export function parseIndicatorSpec(input: IndicatorSpecInput | IndicatorSpec): IndicatorSpec {
  const name: unknown = (input as { name?: unknown } | null)?.name;
  if (!isName(name)) {
    throw invalid(
      `Cannot create indicator "${String(name)}": unknown name; known indicators are ${
        INDICATOR_NAMES.map((n) => `"${n}"`).join(", ")
      }`,
      { name, known: INDICATOR_NAMES },
    );
  }
  const result = PARAM_SCHEMAS[name].safeParse(input.params ?? {});
  if (!result.success) {
    const { text, issues } = issuesText(result.error);
    throw invalid(`Cannot create indicator "${name}": ${text}`, { name, issues });
  }
  return { name, params: result.data } as IndicatorSpec;
}

/**
 * The stable key of a validated spec: the name, then its params in a fixed order, e.g.
 * `"macd:12,26,9"`, `"bbands:20,2.5"`, `"obv"`. Never throws for a spec from
 * {@link parseIndicatorSpec} or {@link specs}.
 */
export function indicatorKey(spec: IndicatorSpec): string {
  const order = KEY_PARAMS[spec.name] as readonly string[];
  if (order.length === 0) return spec.name;
  const params = spec.params as Readonly<Record<string, number>>;
  return `${spec.name}:${order.map((p) => String(params[p])).join(",")}`;
}

/**
 * Reads a key such as `"ema:20"` back into a validated spec. Throws {@link TradeError}
 * `INVALID_REQUEST` on an unknown name, a wrong number of params or a bad value.
 */
export function parseIndicatorKey(key: string): IndicatorSpec {
  const colon = key.indexOf(":");
  const name = colon < 0 ? key : key.slice(0, colon);
  if (!isName(name)) return parseIndicatorSpec({ name });
  const order = KEY_PARAMS[name] as readonly string[];
  const parts = colon < 0 ? [] : key.slice(colon + 1).split(",");
  if (parts.length !== order.length) {
    throw invalid(
      `Cannot read indicator key "${key}": expected ${order.length} params (${order.join(",")})`,
      { key },
    );
  }
  const params: Record<string, unknown> = {};
  order.forEach((p, i) => {
    const text = parts[i]!.trim();
    params[p] = text === "" ? Number.NaN : Number(text);
  });
  const spec = parseIndicatorSpec({ name, params });
  if (indicatorKey(spec) !== key) {
    throw invalid(
      `Cannot read indicator key "${key}": not canonical, use "${indicatorKey(spec)}"`,
      {
        key,
      },
    );
  }
  return spec;
}

/**
 * Creates the indicator a spec describes, after validating it. Accepts a spec or a key.
 * Throws {@link TradeError} `INVALID_REQUEST` as {@link parseIndicatorSpec} does.
 */
export function createIndicator(input: IndicatorSpecInput | IndicatorSpec | string): Indicator {
  const spec = typeof input === "string" ? parseIndicatorKey(input) : parseIndicatorSpec(input);
  switch (spec.name) {
    case "sma":
      return new Sma(spec.params.period);
    case "ema":
      return new Ema(spec.params.period);
    case "rsi":
      return new Rsi(spec.params.period);
    case "macd":
      return new Macd(spec.params);
    case "bbands":
      return new Bollinger(spec.params);
    case "stoch":
      return new Stochastic(spec.params);
    case "obv":
      return new Obv();
    case "atr":
      return new Atr(spec.params.period);
  }
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

interface Entry {
  spec: IndicatorSpec;
  indicator: Indicator;
  refs: number;
}

/**
 * The indicators of one (symbol, timeframe): one instance per key however many users ask for it,
 * reference-counted. Not plain data (it holds indicator objects); it lives where bars arrive.
 */
export class IndicatorSet {
  readonly #entries = new Map<string, Entry>();

  /**
   * Adds a user of the indicator `spec` and answers its key. A new indicator is first fed
   * `history` (closed bars, oldest first) so it can be warm at once; an existing one is shared.
   * Throws {@link TradeError} `INVALID_REQUEST` on a bad spec.
   */
  add(spec: IndicatorSpecInput | IndicatorSpec, history: readonly IndicatorBar[] = []): string {
    const parsed = parseIndicatorSpec(spec);
    const key = indicatorKey(parsed);
    const entry = this.#entries.get(key);
    if (entry) {
      entry.refs++;
      return key;
    }
    const indicator = createIndicator(parsed);
    for (const bar of history) indicator.update(bar);
    this.#entries.set(key, { spec: parsed, indicator, refs: 1 });
    return key;
  }

  /** Drops one user of `key`; the indicator goes when none is left. Answers whether it went. */
  release(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    if (--entry.refs > 0) return false;
    this.#entries.delete(key);
    return true;
  }

  /** The keys held, in insertion order. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** The indicator under `key`, if held. */
  get(key: string): Indicator | undefined {
    return this.#entries.get(key)?.indicator;
  }

  /** Feeds a closed bar to every indicator; answers the snapshot of all of them. */
  update(bar: IndicatorBar): IndicatorSnapshot {
    const out: Record<string, IndicatorValue | null> = {};
    for (const [key, entry] of this.#entries) out[key] = entry.indicator.update(bar);
    return out;
  }

  /** The snapshot an in-progress bar would give, changing nothing. */
  peek(bar: IndicatorBar): IndicatorSnapshot {
    const out: Record<string, IndicatorValue | null> = {};
    for (const [key, entry] of this.#entries) out[key] = entry.indicator.peek(bar);
    return out;
  }

  /** The current values of `keys` (default: all); a key not held reads `null`. */
  snapshot(keys?: readonly string[]): IndicatorSnapshot {
    const out: Record<string, IndicatorValue | null> = {};
    for (const key of keys ?? this.#entries.keys()) {
      out[key] = this.#entries.get(key)?.indicator.value ?? null;
    }
    return out;
  }
}
