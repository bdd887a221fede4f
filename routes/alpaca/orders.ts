/**
 * The order routes of the Alpaca-compatible face (`/v2/orders…`), through the one execution
 * path. Built by face-orders.
 *
 * @module
 */
import type { Hono } from "hono";
import type { AppEnv } from "../mod.ts";
import type { AlpacaFaceDeps } from "./mod.ts";

/** Mounts the order routes on `v2` (the `/v2` app, already behind the API-key middleware). */
export function alpacaOrderRoutes(_v2: Hono<AppEnv>, _deps: AlpacaFaceDeps): void {}
