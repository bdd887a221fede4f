/**
 * The audit routes (being written).
 *
 * @module
 */
import type { Sql } from "postgres";
import type { RouteTarget, TradingDeps } from "./mod.ts";

/** Mounts the routes of this resource. */
export function auditRoutes(_target: RouteTarget, _deps: TradingDeps, _sql: Sql): void {}
