/**
 * The streams of the Alpaca-compatible face: `GET /stream` (trade_updates) and `GET /v2/{feed}`
 * (market data), WebSocket upgrades authenticated by the in-band auth message. Built by
 * face-data.
 *
 * Mounted at the root before the API-key header middleware: its routes must match only the
 * stream paths (restrict `{feed}` to the feed names, so `GET /v2/account` does not match).
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "../mod.ts";
import type { AlpacaFaceDeps } from "./mod.ts";

/** The stream routes, as an app mounted at the root. */
export function alpacaStreamRoutes(_deps: AlpacaFaceDeps): Hono<AppEnv> {
  return new Hono<AppEnv>();
}
