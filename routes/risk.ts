/**
 * Risk limits and the trading state (kill switch), under the chain of authority of
 * `core/risk_authority.ts`: engine defaults, then an admin's limits for a user, then the
 * user's own. A trader manages their own layer and can only tighten the layers above it; an
 * admin names any user with `username` and writes that user's admin layer, which may also
 * raise the protective defaults (max_order_qty, daily_loss_pct, price_band_pct) for that user. Every change is an
 * audit row naming who made it (user id, username, role) and the layer it changed.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import type { Sql, TransactionSql } from "postgres";
import { z } from "zod";
import {
  RISK_DEFAULT_SETTINGS,
  RISK_LIMIT_FIELDS,
  type RiskLimits,
  riskLimitsSchema,
  type TradingState,
} from "../core/risk.ts";
import {
  ADMIN_OVERRIDABLE_LIMITS,
  assertWithinCeiling,
  changeState,
  effectiveState,
  resolveLimits,
  STATE_LAYERS,
} from "../core/risk_authority.ts";
import { freeText } from "../core/input.ts";
import { appendAudit } from "../db/audit.ts";
import { type Tenant, withTenant } from "../db/database.ts";
import { userIdByName } from "../db/users.ts";
import {
  readLimitLayers,
  readStateLayers,
  type StoredState,
  writeLimitLayer,
  writeStateLayer,
} from "../db/risk_limits.ts";
import { ApiError } from "./errors.ts";
import { type AppEnv, type ResourceDeps, resourceTarget } from "./app.ts";
import { defineRoute } from "./openapi.ts";
import { tenantOf } from "./auth.ts";

const LimitsJson = z.object(
  Object.fromEntries(
    RISK_LIMIT_FIELDS.map((f) => [f, z.union([z.string(), z.number()]).nullable()]),
  ),
).meta({ id: "RiskLimits" });

const SourcesJson = z.object(
  Object.fromEntries(
    RISK_LIMIT_FIELDS.map((f) => [f, z.enum(["default", "admin", "user"]).nullable()]),
  ),
).meta({ id: "RiskLimitSources" });

const StateJson = z.object({
  state: z.enum(["active", "halted", "reducing"]),
  reason: z.string().nullable(),
  updated_at: z.string(),
  updated_by: z.string().nullable().describe("User id of who set it"),
}).nullable();

const LimitsView = z.object({
  username: z.string(),
  state: z.enum(["active", "halted", "reducing"]).describe("The effective trading state"),
  state_set_by: z.enum(["admin", "user"]).nullable().describe(
    "The layer the effective state comes from (null when active)",
  ),
  state_reason: z.string().nullable(),
  states: z.object({ admin: StateJson, user: StateJson }).describe(
    "Each layer's state: an admin's (lifted only by an admin) and the user's own",
  ),
  limits: LimitsJson.describe("The user's own limits (null: not set in this layer)"),
  admin_limits: LimitsJson.describe("Limits an admin set for this user"),
  defaults: LimitsJson.describe(
    "The engine's defaults from configuration (MAX_ORDER_QTY, DAILY_LOSS_PCT, PRICE_BAND_PCT, MAX_POSITION_SIZE, …)",
  ),
  effective: LimitsJson.describe("What risk checks use: the strictest value of the layers"),
  sources: SourcesJson.describe("The layer each effective limit comes from (null: no limit)"),
  default_settings: z.object(
    Object.fromEntries(RISK_LIMIT_FIELDS.map((f) => [f, z.string().nullable()])),
  ).describe(
    "The setting (environment variable) that changes each engine default (null: none)",
  ),
  admin_overridable: z.array(z.string()).describe(
    "Limits whose engine default an admin may raise or lower for this user (the protective defaults); an admin only tightens the others",
  ),
});

const Target = z.object({
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/).optional().describe(
    "Admins only: the user to act on",
  ),
});

const StateBody = z.object({
  reason: freeText(500).optional(),
  username: Target.shape.username,
}).strict();

function limitsOut(limits: RiskLimits): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const f of RISK_LIMIT_FIELDS) {
    const v = (limits as Record<string, unknown>)[f];
    out[f] = v === null || v === undefined ? null : typeof v === "number" ? v : String(v);
  }
  return out;
}

function stateOut(row: StoredState | undefined): z.output<typeof StateJson> {
  return row
    ? {
      state: row.state,
      reason: row.reason,
      updated_at: new Date(row.updated_at).toISOString(),
      updated_by: row.updated_by,
    }
    : null;
}

/** Resolves who is acted on: oneself, or (admins only) the named user. */
async function targetTenant(
  c: Context<AppEnv>,
  sql: Sql,
  username: string | undefined,
): Promise<{ tenant: Tenant; username: string; layer: "admin" | "user" }> {
  const user = c.var.user;
  if (!username || username === user.username) {
    return { tenant: tenantOf(user), username: user.username, layer: "user" };
  }
  if (user.role !== "admin") {
    throw new ApiError(403, "FORBIDDEN", `Only an admin may act on another user ("${username}")`);
  }
  const userId = await userIdByName(sql, username);
  if (!userId) throw new ApiError(404, "USER_NOT_FOUND", `No user named "${username}"`);
  // Acting as the target tenant with the admin role: RLS admits the write, and the
  // audit row belongs to the target, who can read it.
  return { tenant: { userId, role: "admin" }, username, layer: "admin" };
}

async function view(tx: TransactionSql, userId: string, username: string, defaults: RiskLimits) {
  const layers = await readLimitLayers(tx, userId);
  const states = await readStateLayers(tx, userId);
  const resolved = resolveLimits({ default: defaults, admin: layers.admin, user: layers.user });
  const effective = effectiveState({ admin: states.admin?.state, user: states.user?.state });
  return {
    username,
    state: effective.state,
    state_set_by: effective.source,
    state_reason: effective.source ? states[effective.source]?.reason ?? null : null,
    states: { admin: stateOut(states.admin), user: stateOut(states.user) },
    limits: limitsOut(layers.user),
    admin_limits: limitsOut(layers.admin),
    defaults: limitsOut(defaults),
    effective: limitsOut(resolved.limits),
    sources: resolved.sources as Record<string, "default" | "admin" | "user" | null>,
    default_settings: Object.fromEntries(
      RISK_LIMIT_FIELDS.map((f) => [f, RISK_DEFAULT_SETTINGS[f] ?? null]),
    ),
    admin_overridable: [...ADMIN_OVERRIDABLE_LIMITS],
  };
}

/** Who made a change, for its audit row. */
function actorOf(c: Context<AppEnv>, layer: string) {
  const u = c.var.user;
  return { by: u.username, by_user_id: u.id, by_role: u.role, layer };
}

/** Mounts the risk routes. */
export function riskRoutes({ trading: deps, sql, spec }: ResourceDeps): Hono<AppEnv> {
  const target = resourceTarget(spec);
  const defaults = deps.engine.defaultLimits;

  defineRoute(target, {
    method: "get",
    path: "/risk/limits",
    summary: "Risk limits and trading state",
    description:
      "Each layer's limits (the engine's defaults, an admin's for this user, the user's own), the effective value of each limit and the layer it comes from, and the trading state of each layer.",
    tags: ["risk"],
    query: Target,
    responses: {
      200: { description: "The layers, the effective limits and the state", schema: LimitsView },
    },
  }, async (c, { query }) => {
    const t = await targetTenant(c, sql, query.username);
    return c.json(
      await withTenant(sql, t.tenant, (tx) => view(tx, t.tenant.userId, t.username, defaults)),
    );
  });

  defineRoute(target, {
    method: "put",
    path: "/risk/limits",
    summary: "Set risk limits",
    description:
      "Sets your own limits; an admin with ?username= sets the admin's limits for that user. Fields absent keep their value; null clears the value of this layer only (the layers above still apply). A value above the layers above (the engine default, or an admin's limit) is refused with 403 RISK_LIMIT_ABOVE_CEILING naming the field and the ceiling: each layer can only tighten the one above it. The protective defaults (max_order_qty, daily_loss_pct, price_band_pct) are the exception for an admin: an admin's value for a user replaces the default, higher or lower.",
    tags: ["risk"],
    query: Target,
    body: riskLimitsSchema,
    responses: {
      200: { description: "The limits after the change", schema: LimitsView },
      403: { description: "RISK_LIMIT_ABOVE_CEILING, or FORBIDDEN (another user, not admin)" },
    },
  }, async (c, { query, body }) => {
    const t = await targetTenant(c, sql, query.username);
    const userId = t.tenant.userId;
    const result = await withTenant(sql, t.tenant, async (tx) => {
      const stored = await readLimitLayers(tx, userId, { lock: true });
      const ceiling = resolveLimits({ default: defaults, ...stored }, t.layer);
      assertWithinCeiling(body, ceiling, {
        action: t.layer === "admin"
          ? `Cannot set risk limits for "${t.username}"`
          : "Cannot set risk limits",
      });
      const before = stored[t.layer];
      const after: RiskLimits = { ...before, ...body };
      await writeLimitLayer(tx, { userId, layer: t.layer, limits: after, by: c.var.user.id });
      await appendAudit(tx, {
        userId,
        action: "RISK_LIMITS_SET",
        status: "ok",
        payload: {
          ...actorOf(c, t.layer),
          changes: limitsOut(body),
          before: limitsOut(before),
          limits: limitsOut(after),
        },
        correlationId: c.var.requestId,
      });
      return await view(tx, userId, t.username, defaults);
    });
    return c.json(result);
  });

  const stateRoute = (
    path: string,
    state: TradingState,
    summary: string,
    action: string,
  ) =>
    defineRoute(target, {
      method: "post",
      path,
      summary,
      description:
        "A trader sets their own state and may lift only their own halt or reduce: while an admin's halt (or reduce) stands, a looser request is refused with 403 TRADING_STATE_SET_BY_ADMIN. An admin with username sets that user's state outright (the admin's layer, and lifts a stricter own layer of the user).",
      tags: ["risk"],
      body: StateBody.optional(),
      responses: {
        200: { description: "The trading state after the change", schema: LimitsView },
        403: { description: "TRADING_STATE_SET_BY_ADMIN, or FORBIDDEN" },
      },
    }, async (c, { body }) => {
      const t = await targetTenant(c, sql, body?.username);
      const userId = t.tenant.userId;
      const reason = body?.reason ?? null;
      const result = await withTenant(sql, t.tenant, async (tx) => {
        const stored = await readStateLayers(tx, userId, { lock: true });
        const current = { admin: stored.admin?.state, user: stored.user?.state };
        const next = changeState(current, t.layer, state, stored.admin?.reason);
        for (const layer of STATE_LAYERS) {
          if (layer !== t.layer && next[layer] === (current[layer] ?? "active")) continue;
          await writeStateLayer(tx, {
            userId,
            layer,
            state: next[layer],
            reason: layer === t.layer ? reason : `Lifted by admin "${c.var.user.username}"`,
            by: c.var.user.id,
          });
        }
        const before = effectiveState(current);
        const after = effectiveState(next);
        await appendAudit(tx, {
          userId,
          action,
          status: after.state,
          reason,
          payload: {
            ...actorOf(c, t.layer),
            before: { state: before.state, set_by: before.source },
            after: { state: after.state, set_by: after.source },
            layers: next,
          },
          correlationId: c.var.requestId,
        });
        return await view(tx, userId, t.username, defaults);
      });
      return c.json(result);
    });

  stateRoute("/risk/halt", "halted", "Kill switch: refuse every new order", "TRADING_HALTED");
  stateRoute(
    "/risk/reduce",
    "reducing",
    "Allow only orders that reduce exposure",
    "TRADING_REDUCING",
  );
  stateRoute("/risk/resume", "active", "Resume normal trading", "TRADING_RESUMED");
  return target.app;
}
