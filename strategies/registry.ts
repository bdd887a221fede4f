/**
 * The strategy registry: finds strategy definitions by name.
 *
 * Built in: `sma_cross`, `indicator_vote`, and the example custom strategy `rsi_reversion`
 * (strategies/examples/rsi_reversion.ts). To add a custom strategy, write a module exporting a
 * {@link StrategyDefinition} and list it in {@link BUILTIN_STRATEGIES} (and its logic in
 * `BUILTIN_LOGIC`, builtin_logic.ts, which bot Workers use), or pass it to a
 * {@link StrategyRegistry} of your own (strategies/README.md).
 *
 * @example
 * ```ts
 * const registry = new StrategyRegistry();
 * const def = registry.get("sma_cross");
 * const instance = createInstance(def, { symbol: "AAPL", params: { fast: 5, slow: 20 } });
 * ```
 *
 * @module
 */

import { z } from "zod";
import { TradeError } from "../core/errors.ts";
import { rsiReversion } from "./examples/rsi_reversion.ts";
import { indicatorVote } from "./indicator_vote.ts";
import { smaCross } from "./sma_cross.ts";
import type { StrategyDefinition } from "./strategy.ts";

/** The strategies every registry starts with. */
export const BUILTIN_STRATEGIES: readonly StrategyDefinition[] = [
  smaCross as StrategyDefinition,
  indicatorVote as StrategyDefinition,
  rsiReversion as StrategyDefinition,
];

const NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;

/** A strategy as listed for clients. */
export interface StrategyDescription {
  name: string;
  description: string;
  /** JSON Schema of the params (input side: defaults shown, optional fields optional). */
  params: Record<string, unknown>;
}

/** An immutable set of strategy definitions, by name. */
export class StrategyRegistry {
  readonly #byName = new Map<string, StrategyDefinition>();

  /**
   * Holds `definitions` (default: the built-ins). Throws an Error on a duplicate name or one
   * that is not snake_case.
   */
  constructor(definitions: Iterable<StrategyDefinition> = BUILTIN_STRATEGIES) {
    for (const def of definitions) {
      if (!NAME_RE.test(def.name)) {
        throw new Error(`Cannot register strategy "${def.name}": name is not snake_case`);
      }
      if (this.#byName.has(def.name)) {
        throw new Error(`Cannot register strategy "${def.name}": name already registered`);
      }
      this.#byName.set(def.name, def);
    }
  }

  /** Whether a strategy of that name exists. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** Every name, sorted. */
  names(): string[] {
    return [...this.#byName.keys()].sort();
  }

  /**
   * The definition called `name`. Throws {@link TradeError} `INVALID_REQUEST` listing the known
   * names, e.g. `Cannot find strategy "foo": known strategies are "indicator_vote", …`.
   */
  get(name: string): StrategyDefinition {
    const def = this.#byName.get(name);
    if (def) return def;
    const known = this.names();
    throw new TradeError(
      "INVALID_REQUEST",
      `Cannot find strategy "${name}": known strategies are ${
        known.map((n) => `"${n}"`).join(", ")
      }`,
      { details: { strategy: name, known } },
    );
  }

  /** Name, description and params JSON Schema of every strategy, sorted by name. */
  describe(): StrategyDescription[] {
    return this.names().map((name) => {
      const def = this.#byName.get(name)!;
      const params = z.toJSONSchema(def.paramsSchema, { io: "input", unrepresentable: "any" });
      return { name, description: def.description, params: params as Record<string, unknown> };
    });
  }
}

const BUILTINS = new StrategyRegistry();

/**
 * A built-in strategy by name. Throws {@link TradeError} `INVALID_REQUEST` listing the known
 * names.
 */
export function findStrategy(name: string): StrategyDefinition {
  return BUILTINS.get(name);
}
