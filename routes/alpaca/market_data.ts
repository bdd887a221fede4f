/**
 * The market-data routes of the Alpaca-compatible face (`/v2/stocks/…`). Built by face-data.
 *
 * @module
 */
import type { Hono } from "hono";
import type { AppEnv } from "../mod.ts";
import type { AlpacaFaceDeps } from "./mod.ts";

/** Mounts the market-data routes on `v2` (the `/v2` app, already behind the API-key middleware). */
export function alpacaMarketDataRoutes(_v2: Hono<AppEnv>, _deps: AlpacaFaceDeps): void {}
