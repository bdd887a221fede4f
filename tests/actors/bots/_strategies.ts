/**
 * Misbehaving strategies for supervision tests, and the bot behaviour a Worker loads to run
 * them: `always_throws` throws on every bar, `hangs` never returns from its first bar.
 *
 * @module
 */
import { z } from "zod";
import { createBotBehaviour } from "../../../actors/bots/bot_behaviour.ts";
import type { BehaviourRef } from "../../../actors/runtime/protocol.ts";
import { BUILTIN_STRATEGIES, StrategyRegistry } from "../../../strategies/registry.ts";
import { defineStrategy, type StrategyDefinition } from "../../../strategies/strategy.ts";

const throwing = defineStrategy<Record<string, never>, Record<string, never>>({
  name: "always_throws",
  description: "Throws on every bar (tests)",
  paramsSchema: z.strictObject({}),
  indicators: () => [],
  initialState: () => ({}),
  onBar() {
    throw new Error("Strategy blew up");
  },
});

const hanging = defineStrategy<Record<string, never>, Record<string, never>>({
  name: "hangs",
  description: "Spins forever on its first bar (tests)",
  paramsSchema: z.strictObject({}),
  indicators: () => [],
  initialState: () => ({}),
  onBar() {
    // deno-lint-ignore no-empty
    for (;;) {}
  },
});

/** The built-ins plus `always_throws` and `hangs`. */
export function testRegistry(): StrategyRegistry {
  return new StrategyRegistry([
    ...BUILTIN_STRATEGIES,
    throwing as StrategyDefinition,
    hanging as StrategyDefinition,
  ]);
}

/** The bot behaviour over {@link testRegistry}, for Workers. */
export const testBotBehaviour = createBotBehaviour(testRegistry());

/** Where a Worker finds {@link testBotBehaviour}. */
export const TEST_BOT_BEHAVIOUR: BehaviourRef = {
  url: import.meta.url,
  export: "testBotBehaviour",
};
