/**
 * Test helpers: one real embedded PostgreSQL cluster for the whole test run (under
 * `.tradewind-test/`), a migrated template database, and a fresh database cloned from it for
 * each test that asks. `TRADEWIND_TEST_DATABASE_URL` points the tests at an external server
 * instead (its user needs CREATEDB and CREATEROLE).
 *
 * @module
 */
import postgres, { type Sql } from "postgres";
import { resolve } from "node:path";
import { EmbeddedPostgres } from "../db/embedded.ts";
import { type Database, ensureDatabase, openDatabase, type Role } from "../db/database.ts";
import { migrate, readMigrations } from "../db/migrate.ts";
import { configureLogging } from "../logging.ts";
import { createAuthenticator, signToken } from "../routes/auth.ts";
import { Metrics } from "../routes/metrics.ts";
import { type AppEnv, createApp } from "../routes/mod.ts";
import type { Hono } from "hono";
import { BotManager } from "../actors/bots/manager.ts";
import { MessageBus } from "../actors/bus.ts";
import { ExecutionEngine } from "../actors/execution_engine.ts";
import { CachedMarketData } from "../brokers/cache.ts";
import { PaperVenue, type PaperVenueOptions } from "../brokers/paper/venue.ts";
import { TestClock } from "../core/clock.ts";
import { seededIdSource } from "../core/ids.ts";
import type { RiskLimits } from "../core/risk.ts";
import type { Venue } from "../brokers/broker.ts";
import type { StrategyRegistry } from "../strategies/registry.ts";
import type { ResilienceOptions } from "../brokers/resilient.ts";

/** Where the test cluster lives. */
export const TEST_DATA_DIR = resolve(
  Deno.env.get("TRADEWIND_TEST_DATA_DIR") ??
    new URL("../.tradewind-test", import.meta.url).pathname,
);
/**
 * The test cluster's port: TRADEWIND_TEST_PG_PORT, else one derived from the checkout's path
 * (54400–58399), so two checkouts running their suites at once do not fight over one port.
 */
const TEST_PORT = Number(
  Deno.env.get("TRADEWIND_TEST_PG_PORT") ?? String(54_400 + pathHash(TEST_DATA_DIR) % 4_000),
);

/** FNV-1a of a string, as an unsigned 32-bit number. */
function pathHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
const TEMPLATE = `tw_template_${Deno.pid}`;

function processAlive(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
}

interface Cluster {
  serverUrl: string;
  embedded: EmbeddedPostgres | null;
}

let cluster: Promise<Cluster> | null = null;
let counter = 0;

await configureLogging({ level: "fatal", format: "json", write: () => {} });

function dbUrl(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = "/" + name;
  return u.toString();
}

async function startCluster(): Promise<Cluster> {
  const external = Deno.env.get("TRADEWIND_TEST_DATABASE_URL");
  let serverUrl: string;
  let embedded: EmbeddedPostgres | null = null;
  if (external) {
    serverUrl = external;
  } else {
    embedded = new EmbeddedPostgres({ dataDir: TEST_DATA_DIR, port: TEST_PORT, disposable: true });
    serverUrl = await embedded.start();
    // Every test process using the cluster leaves its pid here; the one that started the
    // server stops it on exit only when no other test process still uses it.
    const users = `${TEST_DATA_DIR}/users`;
    Deno.mkdirSync(users, { recursive: true });
    Deno.writeTextFileSync(`${users}/${Deno.pid}`, "");
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(`${users}/${Deno.pid}`);
      } catch { /* already gone */ }
      let others = false;
      for (const entry of Deno.readDirSync(users)) {
        if (processAlive(Number(entry.name))) others = true;
        else {
          try {
            Deno.removeSync(`${users}/${entry.name}`);
          } catch { /* raced */ }
        }
      }
      if (!others) embedded?.stopNowait();
    });
  }
  // Each test process has its own template (fresh, so schema changes are picked up) and
  // databases named after its pid; leftovers of dead processes are dropped.
  const admin = postgres(dbUrl(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
  try {
    const stale = await admin<{ datname: string }[]>`
      select datname from pg_database where datname ~ '^tw_(t|template_)[0-9]+'`;
    for (const { datname } of stale) {
      const pid = Number(/^tw_(?:t|template_)(\d+)/.exec(datname)?.[1]);
      if (pid === Deno.pid || !processAlive(pid)) {
        await admin.unsafe(`drop database if exists ${datname} with (force)`);
      }
    }
  } finally {
    await admin.end();
  }
  await ensureDatabase(serverUrl, TEMPLATE);
  const tpl = postgres(dbUrl(serverUrl, TEMPLATE), { max: 1, onnotice: () => {} });
  try {
    await migrate(tpl);
  } finally {
    await tpl.end();
  }
  return { serverUrl, embedded };
}

/** The shared test cluster (started on first use). */
export function testCluster(): Promise<Cluster> {
  cluster ??= startCluster();
  return cluster;
}

/** A fresh, migrated database and the engine's connection to it. */
export interface TestDb extends Database {
  name: string;
  /** A superuser/owner connection to the same database, for setup and tamper tests. */
  owner: Sql;
}

/** Creates a fresh database cloned from the migrated template. Close it when done. */
export async function createTestDb(): Promise<TestDb> {
  const { serverUrl } = await testCluster();
  const name = `tw_t${Deno.pid}_${++counter}`;
  const admin = postgres(dbUrl(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name} template ${TEMPLATE}`);
  } finally {
    await admin.end();
  }
  const ownerUrl = dbUrl(serverUrl, name);
  const db = await openDatabase({
    dataDir: TEST_DATA_DIR,
    databaseUrl: ownerUrl,
    embeddedPort: TEST_PORT,
    poolMax: 4,
  });
  const owner = postgres(ownerUrl, { max: 2, onnotice: () => {} });
  return {
    ...db,
    name,
    owner,
    async close() {
      await owner.end({ timeout: 2 });
      await db.close();
      const a = postgres(dbUrl(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** The HS256 secret tests sign with. */
export const TEST_SECRET = "test-secret-test-secret-test-secret-0123456789";

/** Signs a test token. */
export function tokenFor(username: string, role: Role = "trader", ttlSeconds = 3600) {
  return signToken({ username, role }, {
    secret: TEST_SECRET,
    issuer: "tradewind",
    audience: "tradewind",
    ttlSeconds,
  });
}

/** A Monday afternoon in New York, in the core session: 2026-11-23 15:00 UTC. */
export const TEST_START_MS = Date.parse("2026-11-23T15:00:00Z");

/** The trading stack of a test app: paper venue on a test clock, engine, bus. */
export interface TestTrading {
  clock: TestClock;
  venue: PaperVenue;
  engine: ExecutionEngine;
  bus: MessageBus;
  /** Runs bots inline on the venue's bars. */
  bots: BotManager;
  /** Moves the test clock, pumps the venue and waits for the ledger to settle. */
  advance(ms: number): Promise<void>;
}

/** Options of {@link createTestApp}. */
export interface TestAppOptions {
  /** Wire the trading stack (paper venue, execution engine). */
  trading?: boolean | {
    venue?: Partial<PaperVenueOptions>;
    limits?: RiskLimits;
    startMs?: number;
    /** Wraps the venue the engine sees (fault injection). */
    wrap?: (venue: PaperVenue) => Venue;
    resilience?: ResilienceOptions;
    /** Strategies bots may run (default: the built-ins). */
    registry?: StrategyRegistry;
    /** Seeds of the venue's and the engine's ids (a restarted stack needs fresh ones). */
    idSeeds?: { venue: number; engine: number };
    /** The engine's snapshot interval once `engine.start()` runs (default 0: off). */
    snapshotEveryMs?: number;
  };
  /** `METRICS_TOKEN` of the app (a bearer that may read `/metrics`). */
  metricsToken?: string;
}

/** An app wired to a fresh test database. */
export interface TestApp {
  app: Hono<AppEnv>;
  db: TestDb;
  metrics: Metrics;
  /** Present when built with `trading`. */
  trading: TestTrading;
  /** Sends a request with a token for `username`. */
  as(
    username: string,
    path: string,
    init?: RequestInit & { role?: Role; json?: unknown },
  ): Promise<Response>;
  close(): Promise<void>;
}

/** Builds a paper venue and engine on a test clock over `db`. */
export function createTestTrading(
  db: TestDb,
  options: Exclude<TestAppOptions["trading"], boolean | undefined> = {},
): TestTrading {
  const clock = new TestClock(options.startMs ?? TEST_START_MS);
  const venue = new PaperVenue({
    clock,
    ids: seededIdSource(options.idSeeds?.venue ?? 11),
    seed: 7,
    ...options.venue,
  });
  const bus = new MessageBus();
  const engine = new ExecutionEngine({
    sql: db.sql,
    venue: options.wrap ? options.wrap(venue) : venue,
    clock,
    ids: seededIdSource(options.idSeeds?.engine ?? 99),
    bus,
    defaultLimits: options.limits ?? {},
    reconcileEveryMs: 0,
    snapshotEveryMs: options.snapshotEveryMs ?? 0,
    resilience: options.resilience ?? { timeoutMs: 2_000, attempts: 2, initialDelayMs: 1 },
  });
  const bots = new BotManager({
    sql: db.sql,
    engine,
    venue: venue.marketData,
    bus,
    clock,
    placement: "inline",
    ...(options.registry ? { registry: options.registry } : {}),
  });
  return {
    clock,
    venue,
    engine,
    bus,
    bots,
    async advance(ms: number) {
      clock.advance(ms);
      venue.pump();
      await engine.settle();
      await bots.settle();
    },
  };
}

/** Builds the app on a fresh database. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = await createTestDb();
  const metrics = new Metrics();
  const auth = createAuthenticator({
    secret: TEST_SECRET,
    issuer: "tradewind",
    audience: "tradewind",
  });
  const trading = options.trading
    ? createTestTrading(db, options.trading === true ? {} : options.trading)
    : null;
  const app = createApp({
    sql: db.sql,
    ready: db.ready,
    auth,
    metrics,
    metricsToken: options.metricsToken,
    version: "test",
    ...(trading
      ? {
        trading: {
          engine: trading.engine,
          venue: trading.venue,
          marketData: new CachedMarketData(trading.venue, trading.clock),
          clock: trading.clock,
          bots: trading.bots,
        },
      }
      : {}),
  });
  return {
    app,
    db,
    metrics,
    get trading(): TestTrading {
      if (!trading) {
        throw new Error("This test app was built without trading: pass { trading: true }");
      }
      return trading;
    },
    async as(username, path, init = {}) {
      const { role, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set("Authorization", `Bearer ${await tokenFor(username, role ?? "trader")}`);
      if (json !== undefined) headers.set("Content-Type", "application/json");
      return await app.request(path, {
        ...rest,
        headers,
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      });
    },
    async close() {
      await trading?.bots.close();
      await trading?.engine.stop();
      await db.close();
    },
  };
}

/** Deno.test options for tests holding pooled database connections across awaits. */
export const DB_TEST = { sanitizeOps: false, sanitizeResources: false } as const;

/** A database migrated only up to a version, to test the migration that follows on old rows. */
export interface OlderDatabase {
  /** Superuser connection to it. */
  sql: Sql;
  /** Applies every remaining migration. */
  migrateRest(): Promise<void>;
  /** Closes the connections and drops the database. */
  close(): Promise<void>;
}

/** Creates a fresh database with the migrations numbered below `version` applied. */
export async function olderDatabase(version: number): Promise<OlderDatabase> {
  const { serverUrl } = await testCluster();
  const name = `tw_t${Deno.pid}_m${String(version).padStart(4, "0")}`;
  const admin = postgres(dbUrl(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const sql = postgres(dbUrl(serverUrl, name), { max: 1, onnotice: () => {} });
  const all = await readMigrations();
  await migrate(sql, all.filter((m) => m.version < version));
  return {
    sql,
    migrateRest: () => migrate(sql, all).then(() => {}),
    async close() {
      await sql.end();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
