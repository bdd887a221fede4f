/**
 * Authentication of the Alpaca-compatible face: Alpaca's headers `APCA-API-KEY-ID` and
 * `APCA-API-SECRET-KEY` carry a Tradewind API key (`./tradewind apikey <username>`), which
 * names the request's user. Anything else is Alpaca's 401
 * `{"code":40110000,"message":"request is not authorized"}`.
 *
 * @module
 */
import { createMiddleware } from "hono/factory";
import type { Sql } from "postgres";
import { type ApiKeyUser, verifyApiKey } from "../../db/api_keys.ts";
import type { AuthVariables } from "../auth.ts";
import { notAuthorized } from "./errors.ts";

/** Options of {@link requireApiKey}. */
export interface ApiKeyAuthOptions {
  /**
   * How long a verified key is taken as valid without asking the database again, in ms
   * (default 2000): a key revoked elsewhere stops working within this time. 0 disables it.
   */
  cacheMs?: number;
  /** The time in epoch ms (default `Date.now`). */
  now?: () => number;
}

/** The default of {@link ApiKeyAuthOptions.cacheMs}. */
export const API_KEY_CACHE_MS = 2_000;
const CACHE_MAX = 10_000;

/** A cache key that does not keep the secret itself in memory. */
async function cacheKey(keyId: string, secret: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(`${keyId}\u0000${secret}`),
  );
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Middleware: requires a valid, unrevoked API key in `APCA-API-KEY-ID` and
 * `APCA-API-SECRET-KEY`, and sets `c.var.user` to its user.
 *
 * @throws {AlpacaApiError} 401 `40110000` when a header is missing or the key does not verify.
 */
export function requireApiKey(sql: Sql, options: ApiKeyAuthOptions = {}) {
  const ttl = options.cacheMs ?? API_KEY_CACHE_MS;
  const now = options.now ?? Date.now;
  const verified = new Map<string, { user: ApiKeyUser; until: number }>();
  return createMiddleware<{ Variables: AuthVariables }>(async (c, next) => {
    const keyId = c.req.header("apca-api-key-id")?.trim();
    const secret = c.req.header("apca-api-secret-key")?.trim();
    if (!keyId || !secret) throw notAuthorized();
    const key = await cacheKey(keyId, secret);
    const at = now();
    let user = verified.get(key);
    if (!user || at >= user.until) {
      verified.delete(key);
      const found = await verifyApiKey(sql, keyId, secret);
      if (!found) throw notAuthorized();
      user = { user: found, until: at + ttl };
      if (ttl > 0) {
        if (verified.size >= CACHE_MAX) verified.clear();
        verified.set(key, user);
      }
    }
    c.set("user", { ...user.user });
    await next();
  });
}
