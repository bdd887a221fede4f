/**
 * The execution engine, by its historical path: it lives in `actors/execution/` (see
 * `actors/execution/engine.ts` for the map of its parts).
 *
 * @module
 */
export { ExecutionEngine } from "./execution/engine.ts";
export { effectiveLimits } from "./execution/pre_trade.ts";
export type {
  CloseAllItem,
  ExecutionDeps,
  OrderCancelResult,
  ReplaceResult,
  SubmitOrder,
  SubmitResult,
  ValidationReport,
} from "./execution/types.ts";
