/**
 * The built-in strategies' logic, by name, without their params schemas (no zod): what the bot
 * Worker behaviour looks strategies up in. The main thread's {@link StrategyRegistry}
 * (registry.ts) holds the full definitions of the same strategies and validates params; a bot
 * Worker then trusts them.
 *
 * @module
 */

import { rsiReversionLogic } from "./examples/rsi_reversion_logic.ts";
import { indicatorVoteLogic } from "./indicator_vote_logic.ts";
import { smaCrossLogic } from "./sma_cross_logic.ts";
import type { StrategyLogic, StrategyLookup } from "./strategy_logic.ts";

/** The logic of every built-in strategy (the same names as `BUILTIN_STRATEGIES`). */
export const BUILTIN_LOGIC: readonly StrategyLogic[] = [
  smaCrossLogic as StrategyLogic,
  indicatorVoteLogic as StrategyLogic,
  rsiReversionLogic as StrategyLogic,
];

/** Strategy logic by name: a {@link StrategyLookup} without schemas. */
export class StrategyLogicSet implements StrategyLookup {
  readonly #byName = new Map<string, StrategyLogic>();

  /** Holds `logic` (default: the built-ins). Throws an Error on a duplicate name. */
  constructor(logic: Iterable<StrategyLogic> = BUILTIN_LOGIC) {
    for (const l of logic) {
      if (this.#byName.has(l.name)) {
        throw new Error(`Cannot register strategy "${l.name}": name already registered`);
      }
      this.#byName.set(l.name, l);
    }
  }

  /** Every name, sorted. */
  names(): string[] {
    return [...this.#byName.keys()].sort();
  }

  /**
   * The logic called `name`. Throws an Error with code `INVALID_REQUEST` listing the known names
   * (a plain Error: bot Workers load this module, and the main thread has already checked the
   * name against the registry, whose error is the `TradeError` clients see).
   */
  get(name: string): StrategyLogic {
    const logic = this.#byName.get(name);
    if (logic) return logic;
    const known = this.names();
    throw Object.assign(
      new Error(
        `Cannot find strategy "${name}": known strategies are ${
          known.map((n) => `"${n}"`).join(", ")
        }`,
      ),
      { code: "INVALID_REQUEST" },
    );
  }
}
