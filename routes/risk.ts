/**
 * Risk limits and the trading state (kill switch). A trader manages their own; an admin may
 * name any user with `username`. Every change is written to the audit trail.
 *
 * @module
 */
import type { Context } from "hono";
import type { Sql, TransactionSql } from "postgres";
import { z } from "zod";
import {
  RISK_LIMIT_FIELDS,
  type RiskLimits,
  riskLimitsSchema,
  type TradingState,
} from "../core/risk.ts";
import { freeText } from "../core/input.ts";
import { effectiveLimits } from "../actors/execution_engine.ts";
import { appendAudit } from "../db/audit.ts";
import { type Tenant, withTenant } from "../db/database.ts";
import { ApiError } from "./errors.ts";
import type { AppEnv, RouteTarget, TradingDeps } from "./mod.ts";
import { defineRoute } from "./openapi.ts";
import { tenantOf } from "./auth.ts";

const LimitsJson = z.object(
  Object.fromEntries(
    RISK_LIMIT_FIELDS.map((f) => [f, z.union([z.string(), z.number()]).nullable()]),
  ),
).meta({ id: "RiskLimits" });

const LimitsView = z.object({
  username: z.string(),
  state: z.enum(["active", "halted", "reducing"]),
  state_reason: z.string().nullable(),
  limits: LimitsJson.describe("This user's own overrides (null: the default applies)"),
  defaults: LimitsJson.describe("The engine's defaults from configuration"),
  effective: LimitsJson.describe("What risk checks use"),
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

function limitsFromRow(row: Record<string, unknown> | undefined): RiskLimits {
  const out: Record<string, unknown> = {};
  for (const f of RISK_LIMIT_FIELDS) {
    const v = row?.[f];
    if (v !== null && v !== undefined) out[f] = typeof v === "number" ? v : String(v);
  }
  return riskLimitsSchema.parse(out);
}

/** Resolves who is acted on: oneself, or (admins only) the named user. */
async function targetTenant(
  c: Context<AppEnv>,
  sql: Sql,
  username: string | undefined,
): Promise<{ tenant: Tenant; username: string }> {
  const user = c.var.user;
  if (!username || username === user.username) {
    return { tenant: tenantOf(user), username: user.username };
  }
  if (user.role !== "admin") {
    throw new ApiError(403, "FORBIDDEN", `Only an admin may act on another user ("${username}")`);
  }
  const [row] = await sql<
    { id: string | null }[]
  >`select tradewind_user_by_name(${username}) as id`;
  if (!row?.id) throw new ApiError(404, "USER_NOT_FOUND", `No user named "${username}"`);
  // Acting as the target tenant with the admin role: RLS admits the write, and the
  // audit row belongs to the target, who can read it.
  return { tenant: { userId: row.id, role: "admin" }, username };
}

async function view(tx: TransactionSql, username: string, defaults: RiskLimits) {
  const [limitsRow] = await tx<Record<string, unknown>[]>`
    select * from risk_limits where user_id = tradewind_user_id() and bot_id is null`;
  const [stateRow] = await tx<{ state: TradingState; reason: string | null }[]>`
    select state, reason from trading_states where user_id = tradewind_user_id()`;
  const own = limitsFromRow(limitsRow);
  return {
    username,
    state: stateRow?.state ?? "active",
    state_reason: stateRow?.reason ?? null,
    limits: limitsOut(own),
    defaults: limitsOut(defaults),
    effective: limitsOut(effectiveLimits(defaults, own, null)),
  };
}

/** Mounts the risk routes. */
export function riskRoutes(target: RouteTarget, deps: TradingDeps, sql: Sql): void {
  const defaults = deps.engine.defaultLimits;

  defineRoute(target, {
    method: "get",
    path: "/risk/limits",
    summary: "Risk limits and trading state",
    tags: ["risk"],
    query: Target,
    responses: {
      200: { description: "Own overrides, defaults and the effective limits", schema: LimitsView },
    },
  }, async (c, { query }) => {
    const t = await targetTenant(c, sql, query.username);
    return c.json(await withTenant(sql, t.tenant, (tx) => view(tx, t.username, defaults)));
  });

  defineRoute(target, {
    method: "put",
    path: "/risk/limits",
    summary: "Set risk limits",
    description:
      "Fields absent keep their value; null clears an override (the default applies again). Admins may set another user's with ?username=.",
    tags: ["risk"],
    query: Target,
    body: riskLimitsSchema,
    responses: { 200: { description: "The limits after the change", schema: LimitsView } },
  }, async (c, { query, body }) => {
    const t = await targetTenant(c, sql, query.username);
    const result = await withTenant(sql, t.tenant, async (tx) => {
      const [current] = await tx<Record<string, unknown>[]>`
        select * from risk_limits where user_id = tradewind_user_id() and bot_id is null for update`;
      const merged = limitsOut({ ...limitsFromRow(current), ...body });
      const values = Object.fromEntries(RISK_LIMIT_FIELDS.map((f) => [f, merged[f] ?? null]));
      if (current) {
        await tx`update risk_limits set ${
          tx(values)
        }, updated_at = now(), updated_by = ${c.var.user.id}
                 where id = ${current.id as string}`;
      } else {
        await tx`insert into risk_limits ${
          tx({ ...values, user_id: t.tenant.userId, updated_by: c.var.user.id })
        }`;
      }
      await appendAudit(tx, {
        userId: t.tenant.userId,
        action: "RISK_LIMITS_SET",
        status: "ok",
        payload: { by: c.var.user.username, changes: limitsOut(body), limits: merged },
        correlationId: c.var.requestId,
      });
      return await view(tx, t.username, defaults);
    });
    return c.json(result);
  });

  const stateRoute = (path: string, state: TradingState, summary: string, action: string) =>
    defineRoute(target, {
      method: "post",
      path,
      summary,
      tags: ["risk"],
      body: StateBody.optional(),
      responses: { 200: { description: "The trading state after the change", schema: LimitsView } },
    }, async (c, { body }) => {
      const t = await targetTenant(c, sql, body?.username);
      const result = await withTenant(sql, t.tenant, async (tx) => {
        await tx`
          insert into trading_states (user_id, state, reason, updated_by)
          values (${t.tenant.userId}, ${state}, ${body?.reason ?? null}, ${c.var.user.id})
          on conflict (user_id) do update set state = excluded.state, reason = excluded.reason,
            updated_at = now(), updated_by = excluded.updated_by`;
        await appendAudit(tx, {
          userId: t.tenant.userId,
          action,
          status: state,
          reason: body?.reason ?? null,
          payload: { by: c.var.user.username },
          correlationId: c.var.requestId,
        });
        return await view(tx, t.username, defaults);
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
}
