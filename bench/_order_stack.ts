/**
 * The served order stack the HTTP order benchmarks measure: a fresh bench database, the paper
 * venue on the system clock, the execution engine and the whole app (both faces, `/api/v1`
 * and `/v2`), served on a port the OS picks, with its load generator.
 *
 * @module
 */
import type { Hono } from "hono";
import { MessageBus } from "../actors/bus.ts";
import { ExecutionEngine } from "../actors/execution_engine.ts";
import { CachedMarketData } from "../brokers/cache.ts";
import { PaperVenue } from "../brokers/paper/venue.ts";
import { SystemClock } from "../core/clock.ts";
import { cryptoIdSource } from "../core/ids.ts";
import { type Database, openDatabase } from "../db/database.ts";
import { type Authenticator, createAuthenticator, signToken } from "../routes/auth.ts";
import { Metrics } from "../routes/metrics.ts";
import { type AppEnv, createApp } from "../routes/mod.ts";
import type { BenchDatabase } from "./_harness.ts";
import type { LoadJob, LoadResult } from "./_load_worker.ts";

/** Runs one load job in its own Worker (its own core). */
export function load(job: LoadJob): Promise<LoadResult> {
  const worker = new Worker(new URL("./_load_worker.ts", import.meta.url), { type: "module" });
  return new Promise((resolve, reject) => {
    worker.onmessage = (e) => {
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(e);
    };
    worker.postMessage(job);
  });
}

/** A served order stack. */
export interface OrderStack {
  db: Database;
  app: Hono<AppEnv>;
  /** The bearer-token verifier the app uses. */
  auth: Authenticator;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** A bearer token for user `username` (role trader, valid 1 h). */
  token(username: string): Promise<string>;
  /** Stops the server, the venue and the engine, and closes the pool. */
  stop(): Promise<void>;
}

/** Builds and serves the stack over the bench database `pg`. */
export async function startOrderStack(pg: BenchDatabase): Promise<OrderStack> {
  const db = await openDatabase({
    dataDir: pg.dataDir,
    databaseUrl: pg.ownerUrl,
    embeddedPort: pg.port,
    poolMax: 32,
  });
  const clock = new SystemClock();
  const venue = new PaperVenue({ clock, ids: cryptoIdSource, seed: 42 });
  const bus = new MessageBus();
  const engine = new ExecutionEngine({
    sql: db.sql,
    venue,
    clock,
    ids: cryptoIdSource,
    bus,
    defaultLimits: {},
    reconcileEveryMs: 0,
    snapshotEveryMs: 0,
  });
  venue.start();
  const secret = "bench-secret-bench-secret-bench-secret-0000";
  const auth = createAuthenticator({ secret, issuer: "tradewind", audience: "tradewind" });
  const app = createApp({
    sql: db.sql,
    ready: db.ready,
    auth,
    metrics: new Metrics(),
    version: "bench",
    trading: { engine, venue, marketData: new CachedMarketData(venue, clock), clock },
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  return {
    db,
    app,
    auth,
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    token: (username) =>
      signToken({ username, role: "trader" }, {
        secret,
        issuer: "tradewind",
        audience: "tradewind",
        ttlSeconds: 3600,
      }),
    async stop() {
      await server.shutdown();
      venue.stop();
      await engine.stop();
      await db.close();
    },
  };
}
