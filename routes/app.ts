/**
 * The HTTP layer's shared types, in their own module so that resource modules import them
 * without importing the app that mounts them (routes/mod.ts): the app's environment
 * ({@link AppEnv}), what main.ts hands the app ({@link AppDeps}, {@link TradingDeps}), and what
 * a resource module under `/api/v1` is built from ({@link ResourceDeps}, {@link RouteTarget}).
 *
 * Each resource module exports a function that builds its own `Hono` from
 * {@link ResourceDeps}; routes/mod.ts mounts it with `app.route`.
 *
 * @module
 */
import { Hono } from "hono";
import type { Sql } from "postgres";
import type { BotManager } from "../actors/bots/manager.ts";
import type { ExecutionEngine } from "../actors/execution_engine.ts";
import type { StreamHub } from "../actors/stream_hub.ts";
import type { MarketData, Venue } from "../brokers/broker.ts";
import type { Clock } from "../core/clock.ts";
import type { Authenticator, AuthVariables } from "./auth.ts";
import type { Metrics } from "./metrics.ts";
import type { ApiSpec } from "./openapi.ts";

/** The app's environment: variables set by middleware. */
export type AppEnv = { Variables: AuthVariables };

/** Everything the HTTP layer needs, built in main.ts. */
export interface AppDeps {
  sql: Sql;
  ready: () => Promise<boolean>;
  auth: Authenticator;
  metrics: Metrics;
  /** `METRICS_TOKEN`: a bearer that may read `/metrics` besides admins. */
  metricsToken?: string | undefined;
  version: string;
  /** The trading stack; absent only in tests of the HTTP plumbing itself. */
  trading?: TradingDeps;
  /** The live WebSocket stream (`GET /api/v1/stream`); absent: not mounted. */
  stream?: StreamHub;
  /** True when orders trade real money (Alpaca live); `/ready` says so. */
  liveTrading?: boolean;
}

/** What the trading routes need. */
export interface TradingDeps {
  engine: ExecutionEngine;
  venue: Venue;
  /** Cached market data (quotes and trades 1 s, snapshots 2 s, bars 5 min). */
  marketData: MarketData;
  clock: Clock;
  /** Runs trading bots; absent: the bot routes manage configs but cannot start them. */
  bots?: BotManager;
}

/** The path the resource modules are mounted at. */
export const API_PREFIX = "/api/v1";

/** What a resource module under {@link API_PREFIX} is built from. */
export interface ResourceDeps {
  trading: TradingDeps;
  /** The ledger, read through db/ read models acting for the caller (`withTenant`). */
  sql: Sql;
  /** The OpenAPI document the resource records its operations in. */
  spec: ApiSpec;
}

/** Where a resource registers its routes (`defineRoute`): its own app, the document, the mount. */
export interface RouteTarget {
  app: Hono<AppEnv>;
  spec: ApiSpec;
  prefix: string;
}

/**
 * A resource's own `Hono` and the target its routes register on, documented under
 * {@link API_PREFIX}. The resource returns `target.app`; routes/mod.ts mounts it there.
 */
export function resourceTarget(spec: ApiSpec): RouteTarget {
  return { app: new Hono<AppEnv>(), spec, prefix: API_PREFIX };
}
