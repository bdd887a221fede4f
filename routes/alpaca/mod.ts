/**
 * The Alpaca-compatible face: Alpaca's Trading API paths under `/v2` (and its streams), served
 * on the engine's own port, so a program written for Alpaca (the official SDK pointed here with
 * its `fetchApi` option) trades through Tradewind's validation, risk checks, ledger and audit.
 *
 * Every `/v2` route needs an API key (`APCA-API-KEY-ID` and `APCA-API-SECRET-KEY`, made with
 * `./tradewind apikey <username>`); every failure is Alpaca's `{"code":…,"message":…}` body.
 * The streams authenticate in band, so they are mounted before the header check.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "../app.ts";
import type { AlpacaFaceDeps } from "./_deps.ts";
import { alpacaActivityRoutes } from "./activities.ts";
import { requireApiKey } from "./auth.ts";
import { AlpacaApiError, alpacaErrorResponse } from "./errors.ts";
import { alpacaMarketDataRoutes } from "./market_data.ts";
import { alpacaOrderRoutes } from "./orders.ts";
import { alpacaStreamRoutes } from "./streams.ts";
import { alpacaTradingRoutes } from "./trading.ts";

export type { AlpacaFaceDeps } from "./_deps.ts";

/**
 * The face as an app mounted at the root: the streams (`GET /stream`, `GET /v2/{feed}`), then
 * `/v2/...` behind the API-key middleware. An unknown `/v2` path answers Alpaca's 404 body.
 */
export function alpacaFace(deps: AlpacaFaceDeps): Hono<AppEnv> {
  const face = new Hono<AppEnv>();
  face.onError((err, c) => alpacaErrorResponse(c, err));
  face.route("/", alpacaStreamRoutes(deps));

  const v2 = new Hono<AppEnv>();
  v2.onError((err, c) => alpacaErrorResponse(c, err));
  v2.use("*", requireApiKey(deps.sql));
  alpacaTradingRoutes(v2, deps);
  alpacaActivityRoutes(v2, deps);
  alpacaOrderRoutes(v2, deps);
  alpacaMarketDataRoutes(v2, deps);
  v2.all("*", (c) => {
    throw new AlpacaApiError(404, 40410000, `endpoint not found: ${c.req.method} ${c.req.path}`);
  });
  face.route("/v2", v2);
  return face;
}
