/**
 * Test helpers for the Alpaca-compatible face: the official SDK (unmodified) pointed at a
 * served Tradewind, a test app served over real HTTP on a port the OS picks, and API keys.
 *
 * @module
 */
import { Alpaca } from "@alpacahq/alpaca-trade-api";
import type { Sql } from "postgres";
import { createApiKey, type NewApiKey } from "../db/api_keys.ts";
import { type Role, withTenant } from "../db/database.ts";
import { createTestApp, type TestApp, type TestAppOptions } from "./_helpers.ts";

/** Alpaca's REST hosts, as the SDK builds its URLs (ALPACA.md §8). */
const ALPACA_HOSTS = /^https:\/\/(paper-api|api|data|data\.sandbox)\.alpaca\.markets/;

/**
 * The official SDK's `new Alpaca({...})`, its requests sent to `baseUrl` instead of Alpaca's
 * hosts (the `fetchApi` option), with retries and the client-side rate limiter off.
 */
export function alpacaSdk(baseUrl: string, keyId: string, secret: string): Alpaca {
  const origin = baseUrl.replace(/\/$/, "");
  return new Alpaca({
    keyId,
    secret,
    fetchApi: (url, init) => fetch(String(url).replace(ALPACA_HOSTS, origin), init),
    retry: false,
    rateLimit: false,
  });
}

/** A test app served over HTTP. */
export interface ServedTestApp extends TestApp {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** Stops the server, then closes the app. */
  close(): Promise<void>;
}

/**
 * A {@link createTestApp} app served by `Deno.serve` on port 0. Trading is wired unless
 * `options.trading` says otherwise (the `/v2` face is mounted only with trading).
 */
export async function servedTestApp(options: TestAppOptions = {}): Promise<ServedTestApp> {
  const t = await createTestApp({ trading: true, ...options });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    t.app.fetch,
  );
  const { port } = server.addr as Deno.NetAddr;
  const closeApp = t.close.bind(t);
  return Object.assign(t, {
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      await server.shutdown();
      await closeApp();
    },
  });
}

/**
 * A new API key for `username`, made in the user's own tenant transaction. The user is created
 * on first sight and their stored role becomes `role` (default trader), as a first request
 * with a token of that role would make it.
 */
export async function apiKeyFor(
  sql: Sql,
  username: string,
  role: Role = "trader",
): Promise<NewApiKey & { userId: string }> {
  const [row] = await sql<{ id: string }[]>`
    select tradewind_ensure_user(${username}, ${role}) as id`;
  const userId = row!.id;
  const key = await withTenant(sql, { userId, role }, (tx) => createApiKey(tx, userId));
  return { ...key, userId };
}
