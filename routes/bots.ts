/**
 * Trading bots: create, list, read, update and delete a bot's config, and start, stop, pause
 * and resume it through the {@link BotManager}. Row-level security scopes bots to their user:
 * another user's bot answers 404.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import type { TransactionSql } from "postgres";
import { z } from "zod";
import { botRiskLimits, parseBotConfig } from "../actors/bots/bot_config.ts";
import { assertWithinCeiling, limitsFromStored, resolveLimits } from "../core/risk_authority.ts";
import { readLimitLayers } from "../db/risk_limits.ts";
import type { BotManager } from "../actors/bots/manager.ts";
import { isTradeError } from "../core/errors.ts";
import { RISK_LIMIT_FIELDS } from "../core/risk.ts";
import { appendAudit } from "../db/audit.ts";
import {
  type BotRow,
  findBot,
  insertBot,
  listBots,
  markBotDeleted,
  updateBotConfig,
} from "../db/bots.ts";
import { type Tenant, withTenant } from "../db/database.ts";
import { StrategyRegistry } from "../strategies/registry.ts";
import { ApiError } from "./errors.ts";
import { type AppEnv, type ResourceDeps, resourceTarget } from "./app.ts";
import { defineRoute } from "./openapi.ts";
import type { BotStatus as BotActorStatus } from "../actors/bots/bot_behaviour.ts";
import { tenantOf } from "./auth.ts";

const BotJson = z.object({
  id: z.uuid(),
  name: z.string(),
  strategy: z.string(),
  config: z.looseObject({}),
  status: z.enum(["running", "paused", "stopped", "error"]),
  last_run_at: z.string().nullable(),
  error_count: z.number(),
  last_error: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).meta({ id: "Bot" });

const BotRuntimeJson = z.object({
  paused: z.boolean(),
  market_open: z.boolean(),
  equity: z.string().nullable().describe("The account equity the bot sizes with"),
  positions: z.record(z.string(), z.string()).describe("The bot's own signed position by symbol"),
  pending: z.record(z.string(), z.string()).describe("Open order (client order id) by symbol"),
  bars: z.number(),
  signals: z.number(),
  orders: z.number(),
  suppressed: z.number(),
  warm: z.boolean().describe(
    "Every indicator of the bot has its full window on every symbol (warmed from the venue's " +
      "history at start; false while it still warms, e.g. from live bars when history failed)",
  ),
  warmup_bars: z.number().describe("History bars the strategy learnt from at start, trading none"),
}).meta({ id: "BotRuntime" });

const BotDetailJson = BotJson.extend({
  runtime: BotRuntimeJson.nullable().describe(
    "What the running bot actor reports; null when it is not running in this engine",
  ),
}).meta({ id: "BotDetail" });

const IdParams = z.object({ id: z.uuid({ error: "Must be a bot id (a UUID)" }) });
const ConfigBody = z.looseObject({});

/** The API shape of a bot row. */
export function botJson(r: BotRow): z.output<typeof BotJson> {
  return {
    id: r.id,
    name: r.name,
    strategy: r.strategy,
    config: r.config,
    status: r.status,
    last_run_at: r.last_run_at?.toISOString() ?? null,
    error_count: r.error_count,
    last_error: r.last_error,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

function notFound(id: string): ApiError {
  return new ApiError(404, "BOT_NOT_FOUND", `Cannot find bot "${id}"`);
}

function isActive(row: BotRow, bots: BotManager | undefined): boolean {
  return row.status === "running" || row.status === "paused" || !!bots?.isRunning(row.id);
}

/** A bot's `risk` as comparable text: every limit field, in canonical form, or null. */
function riskText(risk: unknown): Record<string, string | null> {
  const limits = limitsFromStored((risk ?? {}) as Record<string, unknown>);
  const out: Record<string, string | null> = {};
  for (const f of RISK_LIMIT_FIELDS) {
    const v = limits[f];
    out[f] = v === null || v === undefined ? null : String(v);
  }
  return out;
}

/**
 * Writes a `RISK_LIMITS_SET` audit row (layer `bot`) when a bot's own limits change, naming
 * who changed them, like a change of the user's limits.
 */
async function auditBotRisk(
  tx: TransactionSql,
  c: Context<AppEnv>,
  botId: string,
  before: unknown,
  after: unknown,
): Promise<void> {
  const [from, to] = [riskText(before), riskText(after)];
  if (JSON.stringify(from) === JSON.stringify(to)) return;
  const u = c.var.user;
  await appendAudit(tx, {
    userId: u.id,
    botId,
    action: "RISK_LIMITS_SET",
    status: "ok",
    payload: {
      by: u.username,
      by_user_id: u.id,
      by_role: u.role,
      layer: "bot",
      before: from,
      limits: to,
    },
    correlationId: c.var.requestId,
  });
}

/** Mounts the bot routes. */
export function botRoutes({ trading: deps, sql, spec }: ResourceDeps): Hono<AppEnv> {
  const target = resourceTarget(spec);
  const bots = deps.bots;
  const registry = bots?.registry ?? new StrategyRegistry();

  /**
   * Validates a config, its symbols included (each must be an asset of the venue); 400
   * `VALIDATION_FAILED` with `details.issues` ({path, message}). A `risk` limit above the
   * owner's effective limit is 403 `RISK_LIMIT_ABOVE_CEILING`, naming `risk.<field>`.
   */
  async function validate(config: unknown, tenant: Tenant) {
    const userId = tenant.userId;
    let parsed;
    try {
      parsed = parseBotConfig(config, registry);
    } catch (e) {
      if (!isTradeError(e)) throw e;
      throw new ApiError(400, "VALIDATION_FAILED", e.message, {
        details: (e as { details?: unknown }).details,
      });
    }
    const issues: { path: string; message: string }[] = [];
    for (const [i, symbol] of parsed.symbols.entries()) {
      try {
        await deps.engine.brokerFor(userId).getAsset(symbol);
      } catch (e) {
        if (!isTradeError(e) || e.code !== "ASSET_NOT_FOUND") throw e;
        issues.push({ path: `symbols.${i}`, message: `Unknown symbol "${symbol}"` });
      }
    }
    if (issues.length > 0) {
      throw new ApiError(
        400,
        "VALIDATION_FAILED",
        `Cannot configure bot "${parsed.name}": ${
          issues.map((i) => `${i.path}: ${i.message}`).join("; ")
        }`,
        { details: { issues } },
      );
    }
    // A bot's own limits can only tighten its owner's effective limits.
    const layers = await withTenant(sql, tenant, (tx) => readLimitLayers(tx, userId));
    assertWithinCeiling(
      botRiskLimits(parsed),
      resolveLimits({ default: deps.engine.defaultLimits, ...layers }),
      { action: `Cannot configure bot "${parsed.name}"`, prefix: "risk." },
    );
    return parsed;
  }

  function nameTaken(e: unknown, name: string): unknown {
    return (e as { code?: unknown })?.code === "23505"
      ? new ApiError(409, "BOT_NAME_TAKEN", `Cannot save bot "${name}": the name is taken`)
      : e;
  }

  async function load(tenant: Tenant, id: string): Promise<BotRow> {
    const row = await findBot(sql, tenant, id);
    if (!row) throw notFound(id);
    return row;
  }

  function manager(): BotManager {
    if (!bots) throw new ApiError(503, "BOTS_UNAVAILABLE", "Bots are not enabled on this server");
    return bots;
  }

  defineRoute(target, {
    method: "post",
    path: "/bots",
    summary: "Create a bot (stopped)",
    description:
      "The body is the bot's config (name, strategy, symbols, timeframe, params, trading_window, sizing, stop_loss, take_profit …), validated against the strategy's params.",
    tags: ["bots"],
    body: ConfigBody,
    responses: {
      201: { description: "Created", schema: BotJson },
      400: { description: "VALIDATION_FAILED with details.issues [{path, message}]" },
      403: { description: "RISK_LIMIT_ABOVE_CEILING: a risk limit above the owner's" },
      409: { description: "BOT_NAME_TAKEN" },
    },
  }, async (c, { body }) => {
    const config = await validate(body, tenantOf(c.var.user));
    const user = c.var.user;
    try {
      const row = await withTenant(sql, tenantOf(c.var.user), async (tx) => {
        const row = await insertBot(tx, user.id, {
          name: config.name,
          strategy: config.strategy,
          config: body,
        });
        await auditBotRisk(tx, c, row.id, {}, config.risk);
        return row;
      });
      return c.json(botJson(row), 201);
    } catch (e) {
      throw nameTaken(e, config.name);
    }
  });

  defineRoute(target, {
    method: "get",
    path: "/bots",
    summary: "List bots",
    tags: ["bots"],
    responses: { 200: { description: "Bots by creation", schema: z.array(BotJson) } },
  }, async (c) => {
    const rows = await listBots(sql, tenantOf(c.var.user));
    return c.json(rows.map(botJson));
  });

  defineRoute(target, {
    method: "get",
    path: "/bots/:id",
    summary: "One bot",
    tags: ["bots"],
    params: IdParams,
    responses: {
      200: { description: "The bot, with its actor's live figures", schema: BotDetailJson },
      404: { description: "BOT_NOT_FOUND" },
    },
  }, async (c, { params }) => {
    const row = await load(tenantOf(c.var.user), params.id);
    let runtime: z.output<typeof BotRuntimeJson> | null = null;
    // A bot whose Worker is busy or hung must not hold the request for long.
    const status = await deps.bots?.botStatus(row.id, { timeoutMs: 1_000 }).catch(() => null) as
      | BotActorStatus
      | null
      | undefined;
    if (status) {
      runtime = {
        paused: status.paused,
        market_open: status.marketOpen,
        equity: status.equity,
        positions: status.positions,
        pending: status.pending,
        ...status.counts,
        warm: status.warm,
        warmup_bars: status.warmupBars,
      };
    }
    return c.json({ ...botJson(row), runtime });
  });

  defineRoute(target, {
    method: "patch",
    path: "/bots/:id",
    summary: "Change a stopped bot's config",
    description: "The body's fields replace the stored config's; the result is validated whole.",
    tags: ["bots"],
    params: IdParams,
    body: ConfigBody,
    responses: {
      200: { description: "Updated", schema: BotJson },
      400: { description: "VALIDATION_FAILED" },
      403: { description: "RISK_LIMIT_ABOVE_CEILING: a risk limit above the owner's" },
      404: { description: "BOT_NOT_FOUND" },
      409: { description: "BOT_RUNNING or BOT_NAME_TAKEN" },
    },
  }, async (c, { params, body }) => {
    const tenant = tenantOf(c.var.user);
    const row = await load(tenant, params.id);
    if (isActive(row, bots)) {
      throw new ApiError(409, "BOT_RUNNING", `Cannot update bot "${row.name}": stop it first`);
    }
    const merged = { ...row.config, ...body };
    const config = await validate(merged, tenant);
    try {
      const updated = await withTenant(sql, tenant, async (tx) => {
        const updated = await updateBotConfig(tx, params.id, {
          name: config.name,
          strategy: config.strategy,
          config: merged,
        });
        if (updated) await auditBotRisk(tx, c, updated.id, row.config.risk, config.risk);
        return updated;
      });
      if (!updated) throw notFound(params.id);
      return c.json(botJson(updated));
    } catch (e) {
      throw nameTaken(e, config.name);
    }
  });

  defineRoute(target, {
    method: "delete",
    path: "/bots/:id",
    summary: "Delete a stopped bot (its orders, trades and audit rows are kept)",
    tags: ["bots"],
    params: IdParams,
    responses: {
      204: { description: "Deleted" },
      404: { description: "BOT_NOT_FOUND" },
      409: { description: "BOT_RUNNING: stop it first" },
    },
  }, async (c, { params }) => {
    const tenant = tenantOf(c.var.user);
    const row = await load(tenant, params.id);
    if (isActive(row, bots)) {
      throw new ApiError(409, "BOT_RUNNING", `Cannot delete bot "${row.name}": stop it first`);
    }
    // Its orders, trades and audit rows keep referring to it: mark it deleted, keep the row.
    await withTenant(sql, tenant, async (tx) => {
      await markBotDeleted(tx, params.id);
      await appendAudit(tx, {
        userId: tenant.userId,
        botId: params.id,
        action: "BOT_DELETED",
        status: "ok",
        payload: { name: row.name },
        correlationId: c.var.requestId,
      });
    });
    return c.body(null, 204);
  });

  const actions = [
    ["start", "Start a bot (status running)"],
    ["stop", "Stop a bot (status stopped)"],
    ["pause", "Pause a running bot: it keeps computing and records signals, places nothing"],
    ["resume", "Resume a paused bot"],
  ] as const;
  for (const [action, summary] of actions) {
    defineRoute(target, {
      method: "post",
      path: `/bots/:id/${action}`,
      summary,
      tags: ["bots"],
      params: IdParams,
      responses: {
        200: { description: "The bot after the action", schema: BotJson },
        404: { description: "BOT_NOT_FOUND" },
        409: { description: "BOT_CONFLICT (e.g. pausing a bot that is not running)" },
      },
    }, async (c, { params }) => {
      const row = await manager()[action](tenantOf(c.var.user), params.id);
      return c.json(botJson(row));
    });
  }
  return target.app;
}
