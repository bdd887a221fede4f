/**
 * Signal evaluators without their config schema (no zod): the signal types, the configured
 * {@link Evaluator} and {@link buildEvaluator} for a validated config. `evaluators.ts` adds the
 * schema and validation and re-exports all of this; its module doc describes the evaluators.
 *
 * @module
 */

import type { Bar } from "../core/market.ts";
import { crossStep, type Sign } from "./cross.ts";
import {
  indicatorKey,
  type IndicatorName,
  type IndicatorSnapshot,
  type IndicatorSpec,
  type IndicatorValues,
  pickSnapshot,
  readIndicator,
  specs,
} from "./indicator_keys.ts";
import type { IndicatorValue } from "./indicators.ts";

/** What a signal says. */
export type SignalAction = "buy" | "sell" | "hold";

/** One evaluator's verdict on one bar. */
export interface Signal {
  action: SignalAction;
  /** Human-readable, e.g. `RSI(14) 24.31 below 30`. */
  reason: string;
  /** The indicator values the verdict was made from, by key. */
  snapshot: Record<string, IndicatorValue | null>;
}

/** One evaluator's configuration with defaults filled in (see `evaluatorConfigSchema`). */
export type EvaluatorConfig =
  | { type: "rsi"; period: number; oversold: number; overbought: number }
  | { type: "macd_cross"; fast: number; slow: number; signal: number }
  | { type: "price_ma"; ma: "sma" | "ema"; period: number }
  | { type: "ma_cross"; ma: "sma" | "ema"; fast: number; slow: number }
  | { type: "bbands"; period: number; k: number }
  | { type: "stoch"; k: number; kSmooth: number; d: number; oversold: number; overbought: number }
  | { type: "obv_trend"; bars: number };
/** An evaluator type. */
export type EvaluatorType = EvaluatorConfig["type"];

/** Evaluator state: plain data. */
export type EvaluatorState = null | { sign: Sign } | { history: number[] };

/** What one evaluation gives. */
export interface EvaluatorStep {
  state: EvaluatorState;
  signal: Signal;
}

/** A configured evaluator: the indicators it reads and its pure evaluation. */
export interface Evaluator {
  readonly config: EvaluatorConfig;
  /** The indicators this evaluator reads. */
  readonly indicators: readonly IndicatorSpec[];
  /** State before the first bar. */
  initialState(): EvaluatorState;
  /** Judges a closed bar. Pure. Throws only if `snapshot` lacks a declared indicator. */
  evaluate(state: EvaluatorState, bar: Pick<Bar, "c">, snapshot: IndicatorSnapshot): EvaluatorStep;
}

/** Formats an indicator number for a reason: at most four decimals. */
export function fmt(x: number): string {
  return String(Math.round(x * 10_000) / 10_000);
}

function signal(
  action: SignalAction,
  reason: string,
  snapshot: IndicatorSnapshot,
  used: readonly IndicatorSpec[],
): Signal {
  return { action, reason, snapshot: pickSnapshot(snapshot, used) };
}

function warming(spec: IndicatorSpec, snapshot: IndicatorSnapshot, used: readonly IndicatorSpec[]) {
  return signal("hold", `Warming up: "${indicatorKey(spec)}" has no value yet`, snapshot, used);
}

function maSpec(ma: "sma" | "ema", n: number): IndicatorSpec<"sma" | "ema"> {
  return ma === "sma" ? specs.sma(n) : specs.ema(n);
}

function maLabel(ma: "sma" | "ema", n: number): string {
  return `${ma.toUpperCase()}(${n})`;
}

function levels(
  value: number,
  low: number,
  high: number,
  label: string,
): [SignalAction, string] {
  if (value < low) return ["buy", `${label} ${fmt(value)} below ${low}`];
  if (value > high) return ["sell", `${label} ${fmt(value)} above ${high}`];
  return ["hold", `${label} ${fmt(value)} within ${low}–${high}`];
}

/** An evaluator on one indicator, holding (warming up) until it has a value. Stateless. */
function levelEvaluator<N extends IndicatorName>(
  config: EvaluatorConfig,
  spec: IndicatorSpec<N>,
  judge: (value: IndicatorValues[N], close: number) => [SignalAction, string],
): Evaluator {
  const used = [spec];
  return {
    config,
    indicators: used,
    initialState: () => null,
    evaluate(state, bar, snapshot) {
      const value = readIndicator(snapshot, spec);
      if (value === null) return { state, signal: warming(spec, snapshot, used) };
      const [action, reason] = judge(value, bar.c);
      return { state, signal: signal(action, reason, snapshot, used) };
    },
  };
}

function crossEvaluator(
  config: EvaluatorConfig,
  used: readonly IndicatorSpec[],
  read: (snapshot: IndicatorSnapshot) => { a: number; b: number } | IndicatorSpec,
  labels: [string, string],
): Evaluator {
  return {
    config,
    indicators: used,
    initialState: () => ({ sign: 0 }),
    evaluate(state, _bar, snapshot) {
      const got = read(snapshot);
      if ("name" in got) return { state, signal: warming(got, snapshot, used) };
      const previous = state !== null && "sign" in state ? state.sign : 0;
      const step = crossStep(previous, got.a - got.b);
      const [a, b] = labels;
      const values = `${a} ${fmt(got.a)}, ${b} ${fmt(got.b)}`;
      const sig = step.cross === "up"
        ? signal("buy", `${a} crossed above ${b} (${values})`, snapshot, used)
        : step.cross === "down"
        ? signal("sell", `${a} crossed below ${b} (${values})`, snapshot, used)
        : signal("hold", `No cross of ${a} and ${b} (${values})`, snapshot, used);
      return { state: { sign: step.sign }, signal: sig };
    },
  };
}

/**
 * Builds the evaluator of an already validated configuration (defaults filled in; see
 * `createEvaluator` in evaluators.ts to validate raw input). Checks nothing.
 */
export function buildEvaluator(config: EvaluatorConfig): Evaluator {
  switch (config.type) {
    case "rsi":
      return levelEvaluator(
        config,
        specs.rsi(config.period),
        (rsi) => levels(rsi, config.oversold, config.overbought, `RSI(${config.period})`),
      );
    case "macd_cross": {
      const spec = specs.macd(config.fast, config.slow, config.signal);
      return crossEvaluator(config, [spec], (snapshot) => {
        const v = readIndicator(snapshot, spec);
        return v === null ? spec : { a: v.macd, b: v.signal };
      }, ["MACD", "signal"]);
    }
    case "ma_cross": {
      const fast = maSpec(config.ma, config.fast);
      const slow = maSpec(config.ma, config.slow);
      return crossEvaluator(config, [fast, slow], (snapshot) => {
        const a = readIndicator(snapshot, fast);
        if (a === null) return fast;
        const b = readIndicator(snapshot, slow);
        return b === null ? slow : { a, b };
      }, [maLabel(config.ma, config.fast), maLabel(config.ma, config.slow)]);
    }
    case "price_ma": {
      const label = maLabel(config.ma, config.period);
      return levelEvaluator(
        config,
        maSpec(config.ma, config.period),
        (ma, c) =>
          c > ma
            ? ["buy", `Close ${fmt(c)} above ${label} ${fmt(ma)}`]
            : c < ma
            ? ["sell", `Close ${fmt(c)} below ${label} ${fmt(ma)}`]
            : ["hold", `Close ${fmt(c)} at ${label} ${fmt(ma)}`],
      );
    }
    case "bbands":
      return levelEvaluator(
        config,
        specs.bbands(config.period, config.k),
        (bands, c) =>
          c < bands.lower
            ? ["buy", `Close ${fmt(c)} below lower band ${fmt(bands.lower)}`]
            : c > bands.upper
            ? ["sell", `Close ${fmt(c)} above upper band ${fmt(bands.upper)}`]
            : ["hold", `Close ${fmt(c)} within bands ${fmt(bands.lower)}–${fmt(bands.upper)}`],
      );
    case "stoch":
      return levelEvaluator(
        config,
        specs.stoch(config.k, config.kSmooth, config.d),
        (v) => levels(v.k, config.oversold, config.overbought, "Stochastic %K"),
      );
    case "obv_trend": {
      const spec = specs.obv();
      const used = [spec];
      const n = config.bars;
      return {
        config,
        indicators: used,
        initialState: () => ({ history: [] }),
        evaluate(state, _bar, snapshot) {
          const obv = readIndicator(snapshot, spec);
          if (obv === null) return { state, signal: warming(spec, snapshot, used) };
          const before = state !== null && "history" in state ? state.history : [];
          const history = [...before.slice(Math.max(0, before.length - n)), obv];
          const next = { history };
          if (history.length <= n) {
            const reason = `Warming up: OBV trend needs ${n + 1} bars, has ${history.length}`;
            return { state: next, signal: signal("hold", reason, snapshot, used) };
          }
          const past = history[0]!;
          const values = `${fmt(past)} → ${fmt(obv)}`;
          const sig = obv > past
            ? signal("buy", `OBV rising over ${n} bars (${values})`, snapshot, used)
            : obv < past
            ? signal("sell", `OBV falling over ${n} bars (${values})`, snapshot, used)
            : signal("hold", `OBV unchanged over ${n} bars (${values})`, snapshot, used);
          return { state: next, signal: sig };
        },
      };
    }
  }
}
