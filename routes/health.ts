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
}

const Health = z.object({ status: z.literal("ok"), version: z.string() });
const Ready = z.object({
  status: z.literal("ready"),
  checks: z.object({ database: z.literal("ok"), migrations: z.literal("current") }),
});

/** `GET /health` (alive) and `GET /ready` (database reachable, migrations current). */
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
    return c.json({
      status: "ready" as const,
      checks: { database: "ok" as const, migrations: "current" as const },
    });
  });
  return app;
}
