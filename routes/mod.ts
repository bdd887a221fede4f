/**
 * The Hono application: middleware (request ids, access logs, metrics, body limit), the
 * resource routes mounted under `/api/v1`, the Alpaca-compatible face at `/v2` (routes/alpaca,
 * its own API-key auth and error bodies), the OpenAPI document, docs, metrics, and the one
 * error mapper.
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import { z } from "zod";
import { logger } from "../logging.ts";
import { API_PREFIX, type AppDeps, type AppEnv, type ResourceDeps } from "./app.ts";
import { requireAuth } from "./auth.ts";
import { DOCS_HTML } from "./docs.ts";
import { ApiError, errorResponse, mapError } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { accountRoutes } from "./account.ts";
import { auditRoutes } from "./audit.ts";
import { botRoutes } from "./bots.ts";
import { bookRoutes } from "./books.ts";
import { marketRoutes } from "./market.ts";
import { orderRoutes } from "./orders.ts";
import { riskRoutes } from "./risk.ts";
import { tradeRoutes } from "./trades.ts";
import { streamRoutes } from "./stream.ts";
import { requireMetricsAccess } from "./metrics.ts";
import { ApiSpec, defineRoute } from "./openapi.ts";
import { alpacaFace } from "./alpaca/mod.ts";
import { alpacaErrorResponse } from "./alpaca/errors.ts";

const Me = z.object({
  id: z.uuid(),
  username: z.string(),
  role: z.enum(["trader", "admin", "compliance"]),
});

/**
 * The largest request body, in bytes. The biggest legitimate body (a bot config with its
 * params) is a few KB; anything near this is an attack or a mistake.
 */
export const MAX_BODY_BYTES = 64 * 1024;

export type { AppDeps, AppEnv, TradingDeps } from "./app.ts";

/** The resource modules mounted under /api/v1 when trading is wired, each its own Hono. */
const TRADING_ROUTES: ((deps: ResourceDeps) => Hono<AppEnv>)[] = [
  accountRoutes,
  orderRoutes,
  marketRoutes,
  riskRoutes,
  auditRoutes,
  tradeRoutes,
  botRoutes,
  bookRoutes,
];

/** Builds the Hono app. Tests call `app.request()` on it; main.ts serves it. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const log = logger("http");
  const spec = new ApiSpec();
  const app = new Hono<AppEnv>();

  app.use("*", requestId({ headerName: "X-Request-Id" }));
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = c.res.status === 404 && c.error === undefined ? "(unmatched)" : routePath(c, -1);
    deps.metrics.observeRequest(c.req.method, route, c.res.status, seconds);
    const fields = {
      requestId: c.var.requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(seconds * 100000) / 100,
      user: c.var.user?.username,
    };
    if (c.res.status >= 500) log.error("{method} {path} {status}", fields);
    else log.info("{method} {path} {status}", fields);
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(
          413,
          "PAYLOAD_TOO_LARGE",
          `Request body is over ${
            MAX_BODY_BYTES / 1024
          } KB: send one order, bot or change per request`,
        );
      },
    }),
  );

  app.route(
    "/",
    healthRoutes(
      { ready: deps.ready, version: deps.version, liveTrading: deps.liveTrading === true },
      spec,
    ),
  );

  app.get("/openapi.json", (c) =>
    c.json(spec.document({
      title: "Tradewind API",
      version: deps.version,
      description:
        "Self-hosted algorithmic trading engine. Every route but /health and /ready needs a bearer token.",
    })));
  app.get("/docs", (c) => c.html(DOCS_HTML));
  app.get(
    "/metrics",
    requireMetricsAccess(deps.auth, deps.sql, deps.metricsToken),
    (c) =>
      c.text(deps.metrics.render(), 200, {
        "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
      }),
  );

  const api = new Hono<AppEnv>();
  api.use("*", requireAuth(deps.auth, deps.sql));
  defineRoute({ app: api, spec, prefix: API_PREFIX }, {
    method: "get",
    path: "/me",
    summary: "The authenticated user",
    tags: ["account"],
    responses: { 200: { description: "The user behind the token", schema: Me } },
  }, (c) => c.json(c.var.user));
  if (deps.trading) {
    const resource = { trading: deps.trading, sql: deps.sql, spec };
    for (const routes of TRADING_ROUTES) api.route("/", routes(resource));
  }
  // Before the bearer-header middleware: the stream takes its token from the query or the
  // subprotocol and refuses with a WebSocket close, not a 401.
  if (deps.stream) {
    app.route(API_PREFIX, streamRoutes({ hub: deps.stream, auth: deps.auth, sql: deps.sql }, spec));
  }
  app.route(API_PREFIX, api);
  // The Alpaca-compatible face: `/v2/...` (API keys, Alpaca's error bodies) and its streams.
  if (deps.trading) {
    app.route("/", alpacaFace({ sql: deps.sql, trading: deps.trading, stream: deps.stream }));
  }

  app.notFound((c) =>
    errorResponse(c, {
      status: 404,
      code: "NOT_FOUND",
      message: `No route for ${c.req.method} ${c.req.path}`,
    })
  );
  app.onError((err, c) => {
    // The Alpaca face's paths answer Alpaca's body also for the app-wide middleware (413 …).
    if (/^\/v2(\/|$)/.test(c.req.path)) return alpacaErrorResponse(c, err);
    const mapped = mapError(err);
    if (mapped.status >= 500) {
      log.error("Request failed: {error}", {
        requestId: c.var.requestId,
        method: c.req.method,
        path: c.req.path,
        error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err),
      });
    }
    return errorResponse(c, mapped);
  });
  return app;
}
