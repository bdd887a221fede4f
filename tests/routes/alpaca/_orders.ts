/**
 * Set-up shared by the Alpaca face's order tests: a served app on the paper venue, an SDK
 * client holding a user's API key, and raw requests with the same key.
 *
 * @module
 */
import { alpacaSdk, apiKeyFor, servedTestApp } from "../../_alpaca.ts";

/** A served test app (tests/_alpaca.ts). */
export type Served = Awaited<ReturnType<typeof servedTestApp>>;

/** A served app on the paper venue and an SDK client holding `username`'s API key. */
export async function setUp(username: string) {
  const t = await servedTestApp({ trading: true });
  const key = await apiKeyFor(t.db.sql, username);
  const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);
  /** A raw request to the face with the user's key (what the SDK sends, byte for byte). */
  const raw = (path: string, init: RequestInit = {}) =>
    fetch(`${t.baseUrl}${path}`, {
      ...init,
      headers: {
        "APCA-API-KEY-ID": key.keyId,
        "APCA-API-SECRET-KEY": key.secret,
        ...(init.body ? { "Content-Type": "application/json" } : {}),
        ...init.headers,
      },
    });
  return { t, alpaca, raw };
}

/** The paper venue's latest quote of `symbol`. */
export async function quote(t: Served, symbol: string) {
  return await t.trading.venue.latestQuote(symbol);
}
