/**
 * Strategies: indicators, signal evaluators, voting, strategy definitions and the registry.
 * See strategies/README.md.
 *
 * @module
 */

export * from "./indicators.ts";
export * from "./indicator_spec.ts";
export * from "./cross.ts";
export * from "./evaluators.ts";
export * from "./vote.ts";
export * from "./strategy.ts";
export * from "./sma_cross.ts";
export * from "./indicator_vote.ts";
export * from "./examples/rsi_reversion.ts";
export * from "./registry.ts";
export * from "./builtin_logic.ts";
