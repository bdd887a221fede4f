/**
 * Liveness and readiness, the two routes that need no token.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "./errors.ts";
import { type ApiSpec, defineRoute } from "./openapi.ts";

/** What the health routes need. */
export interface HealthDeps {
  /** True when the database answers and migrations are current. */
  ready: () => Promise<boolean>;
  version: string;
  /** True when orders trade real money (Alpaca live): `/ready` says so, loudly. */
  liveTrading?: boolean;
}

/** What `/ready` says when real money is traded. */
export const LIVE_TRADING_WARNING =
  "LIVE TRADING: orders go to Alpaca's live API and trade real money (ALPACA_PAPER=false, TRADEWIND_LIVE_TRADING=true)";

const Health = z.object({ status: z.literal("ok"), version: z.string() });
const Ready = z.object({
  status: z.literal("ready"),
  checks: z.object({ database: z.literal("ok"), migrations: z.literal("current") }),
  live_trading: z.boolean(),
  warning: z.string().optional(),
});

/**
 * `GET /health` (alive) and `GET /ready` (database reachable, migrations current; with
 * `live_trading`, and a `warning` when it is true).
 */
export function healthRoutes(deps: HealthDeps, spec: ApiSpec): Hono {
  const app = new Hono();
  const target = { app, spec, prefix: "" };
  defineRoute(target, {
    method: "get",
    path: "/health",
    summary: "Liveness: the process answers",
    tags: ["health"],
    auth: false,
    responses: { 200: { description: "Alive", schema: Health } },
  }, (c) => c.json({ status: "ok" as const, version: deps.version }));
  defineRoute(target, {
    method: "get",
    path: "/ready",
    summary: "Readiness: the ledger database is reachable and migrated",
    tags: ["health"],
    auth: false,
    responses: {
      200: { description: "Ready", schema: Ready },
      503: { description: "Not ready (NOT_READY)" },
    },
  }, async (c) => {
    if (!(await deps.ready())) {
      throw new ApiError(
        503,
        "NOT_READY",
        "The ledger database is unreachable or its migrations are not current",
        { headers: { "Retry-After": "2" } },
      );
    }
    const live = deps.liveTrading === true;
    return c.json({
      status: "ready" as const,
      checks: { database: "ok" as const, migrations: "current" as const },
      live_trading: live,
      ...(live ? { warning: LIVE_TRADING_WARNING } : {}),
    });
  });
  return app;
}
