/**
 * A served app with a stream hub, for the Alpaca face's stream tests: the paper venue on a
 * test clock, the engine, a {@link StreamHub} over the real database, and the app as main.ts
 * builds it (or, with test limits, the face's stream routes built with them in front of it).
 *
 * @module
 */
import { Hono } from "hono";
import { createRequire } from "node:module";
import type { Alpaca } from "@alpacahq/alpaca-trade-api";
import { StreamHub } from "../../../actors/stream_hub.ts";
import { CachedMarketData } from "../../../brokers/cache.ts";
import { openDatabase } from "../../../db/database.ts";
import { PostgresStreamStore } from "../../../db/stream.ts";
import { createAuthenticator } from "../../../routes/auth.ts";
import { Metrics } from "../../../routes/metrics.ts";
import { type AppEnv, createApp, type TradingDeps } from "../../../routes/mod.ts";
import { type AlpacaStreamOptions, alpacaStreamRoutes } from "../../../routes/alpaca/streams.ts";
import {
  createTestDb,
  createTestTrading,
  TEST_DATA_DIR,
  TEST_SECRET,
  type TestDb,
  type TestTrading,
  tokenFor,
} from "../../_helpers.ts";

const ALPACA_HOSTS = /^https:\/\/(paper-api|api|data|data\.sandbox)\.alpaca\.markets/;

/**
 * The official SDK with its stream clients. Under Deno the package's `deno` export condition
 * picks its REST-only build (`alpaca.trading.stream()` throws there); its Node build, loaded
 * with `require`, is the same SDK with the streams. Pointed at `baseUrl` as `alpacaSdk` does.
 */
export function alpacaStreamingSdk(baseUrl: string, keyId: string, secret: string): Alpaca {
  const require = createRequire(import.meta.url);
  const sdk = require("@alpacahq/alpaca-trade-api") as { Alpaca: typeof Alpaca };
  const origin = baseUrl.replace(/\/$/, "");
  return new sdk.Alpaca({
    keyId,
    secret,
    fetchApi: (url, init) => fetch(String(url).replace(ALPACA_HOSTS, origin), init),
    retry: false,
    rateLimit: false,
  });
}

/** The served environment. */
export interface StreamEnv {
  db: TestDb;
  trading: TestTrading;
  hub: StreamHub;
  baseUrl: string;
  wsUrl: string;
  /** Places an order through `/api/v1` as `username`. */
  // deno-lint-ignore no-explicit-any
  placeV1(username: string, body: Record<string, unknown>): Promise<any>;
  close(): Promise<void>;
}

/**
 * Starts the environment; `options` are the face's stream limits. With `shared`, a second
 * engine process on that database (its own pool, bus, engine, hub and server).
 */
export async function streamEnv(
  options: AlpacaStreamOptions = {},
  shared?: TestDb,
): Promise<StreamEnv> {
  const db: TestDb = shared
    ? {
      ...shared,
      ...(await openDatabase({
        dataDir: TEST_DATA_DIR,
        databaseUrl: shared.ownerUrl,
        embeddedPort: 1,
        poolMax: 4,
      })),
    }
    : await createTestDb();
  const trading = createTestTrading(db);
  const hub = new StreamHub({
    bus: trading.bus,
    marketData: trading.venue,
    store: new PostgresStreamStore(db.sql),
    limits: { pingMs: 0 },
  });
  await hub.start();
  const tradingDeps: TradingDeps = {
    engine: trading.engine,
    venue: trading.venue,
    marketData: new CachedMarketData(trading.venue, trading.clock),
    clock: trading.clock,
  };
  const app = createApp({
    sql: db.sql,
    ready: db.ready,
    auth: createAuthenticator({ secret: TEST_SECRET, issuer: "tradewind", audience: "tradewind" }),
    metrics: new Metrics(),
    version: "test",
    trading: tradingDeps,
    stream: hub,
  });
  // Without test limits, the app as main.ts builds it; with them, the face's stream routes
  // built with those limits in front of it.
  let served: Hono<AppEnv> = app;
  if (Object.keys(options).length > 0) {
    served = new Hono<AppEnv>();
    served.route(
      "/",
      alpacaStreamRoutes({
        sql: db.sql,
        trading: tradingDeps,
        stream: hub,
        streamOptions: options,
      }),
    );
    served.route("/", app);
  }
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, served.fetch);
  const port = server.addr.port;
  return {
    db,
    trading,
    hub,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    async placeV1(username, body) {
      const res = await app.request("/api/v1/orders", {
        method: "POST",
        headers: {
          Authorization: `Bearer ${await tokenFor(username)}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify(body),
      });
      const json = await res.json();
      if (res.status >= 300) throw new Error(`Order refused: ${JSON.stringify(json)}`);
      return json;
    },
    async close() {
      await hub.stop();
      await server.shutdown();
      await trading.bots.close();
      await trading.engine.stop();
      if (shared) await db.sql.end({ timeout: 2 });
      else await db.close();
    },
  };
}

/** Polls `condition` (every 5 ms, at most `timeoutMs`) until it holds. */
export async function until(
  condition: () => boolean,
  label: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw WebSocket client that records every decoded message. */
export class RawClient {
  readonly ws: WebSocket;
  readonly messages: unknown[] = [];
  readonly opened: Promise<void>;
  closed: { code: number; reason: string } | null = null;

  /** `headers` go on the upgrade request (a Deno extension of the WebSocket constructor). */
  constructor(url: string, headers?: Record<string, string>) {
    this.ws = headers ? new WebSocket(url, { headers } as unknown as string[]) : new WebSocket(url);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error(`Cannot connect to ${url}`));
    });
    this.opened.catch(() => {});
    this.ws.onclose = (e) => this.closed = { code: e.code, reason: e.reason };
    this.ws.onmessage = (e) => {
      const text = typeof e.data === "string"
        ? e.data
        : new TextDecoder().decode(new Uint8Array(e.data as ArrayBuffer));
      this.messages.push(JSON.parse(text));
    };
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Waits for the `n`th message (1-based) and answers it. */
  async nth(n: number, label = `message ${n}`): Promise<unknown> {
    await until(() => this.messages.length >= n || this.closed !== null, label);
    if (this.messages.length < n) {
      throw new Error(`Socket closed before ${label}: ${JSON.stringify(this.messages)}`);
    }
    return this.messages[n - 1];
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await until(() => this.closed !== null, "close");
    return this.closed!;
  }

  async close(): Promise<void> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close();
    await until(() => this.closed !== null, "close").catch(() => {});
  }
}
