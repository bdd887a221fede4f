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
import { fieldIssues, TradeError } from "../core/errors.ts";
import {
  Atr,
  Bollinger,
  Ema,
  type Indicator,
  type IndicatorBar,
  type IndicatorValue,
  Macd,
  Obv,
  Rsi,
  Sma,
  Stochastic,
} from "./indicators.ts";
import {
  INDICATOR_KEY_PARAMS,
  INDICATOR_NAMES,
  indicatorKey,
  type IndicatorName,
  type IndicatorParams,
  type IndicatorSnapshot,
  type IndicatorSpec,
  type IndicatorSpecInput,
  isIndicatorName,
  MAX_PERIOD,
} from "./indicator_keys.ts";

export * from "./indicator_keys.ts";

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

function invalid(message: string, details: Record<string, unknown>): TradeError {
  return new TradeError("INVALID_REQUEST", message, { details });
}

function issuesText(error: z.ZodError): { text: string; issues: unknown[] } {
  const issues = fieldIssues(error);
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
  if (!isIndicatorName(name)) {
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
 * Reads a key such as `"ema:20"` back into a validated spec. Throws {@link TradeError}
 * `INVALID_REQUEST` on an unknown name, a wrong number of params or a bad value.
 */
export function parseIndicatorKey(key: string): IndicatorSpec {
  const colon = key.indexOf(":");
  const name = colon < 0 ? key : key.slice(0, colon);
  if (!isIndicatorName(name)) return parseIndicatorSpec({ name });
  const order = INDICATOR_KEY_PARAMS[name] as readonly string[];
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

  /**
   * Replaces the indicator under `key` by a new one fed `history` (closed bars, oldest first),
   * keeping its users: how a symbol actor warms an indicator once older bars arrive. Answers
   * whether `key` is held.
   */
  rewarm(key: string, history: readonly IndicatorBar[]): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    const indicator = createIndicator(entry.spec);
    for (const bar of history) indicator.update(bar);
    entry.indicator = indicator;
    return true;
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
