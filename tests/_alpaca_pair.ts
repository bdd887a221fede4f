/**
 * Two engines, one trading through the other: engine B is a served Tradewind on the paper
 * venue with its Alpaca face (`/v2`, `/stream`, `/v2/{feed}`) and an API key; engine A is
 * Tradewind with `BROKER=alpaca`, its {@link AlpacaVenue}, trade_updates stream client and
 * market-data stream client pointed at B through a {@link FaultProxy}. Everything is real
 * (databases, sockets, the SDK inside the adapter); only the proxy misbehaves, when told.
 *
 * Time: B's paper market runs on a `TestClock` and moves only in {@link EnginePair.advance},
 * which moves A's engine clock with it. The adapter's request budget and the stream clients'
 * reconnects run on the system clock, with short backoffs.
 *
 * @module
 */
import type { Hono } from "hono";
import { BotManager } from "../actors/bots/manager.ts";
import { MessageBus } from "../actors/bus.ts";
import { ExecutionEngine } from "../actors/execution_engine.ts";
import { StreamHub } from "../actors/stream_hub.ts";
import { AlpacaMarketStream, barsGapFiller } from "../brokers/alpaca/market_stream.ts";
import { AlpacaTradeStream } from "../brokers/alpaca/trade_stream.ts";
import { AlpacaVenue } from "../brokers/alpaca/venue.ts";
import { CachedMarketData } from "../brokers/cache.ts";
import { SystemClock, TestClock } from "../core/clock.ts";
import { seededIdSource } from "../core/ids.ts";
import type { RiskLimits } from "../core/risk.ts";
import type { Role } from "../db/database.ts";
import { PostgresStreamStore } from "../db/stream.ts";
import { createAuthenticator } from "../routes/auth.ts";
import { Metrics } from "../routes/metrics.ts";
import { type AppEnv, createApp } from "../routes/mod.ts";
import { apiKeyFor } from "./_alpaca.ts";
import { type FaultProxy, startFaultProxy } from "./_fault_proxy.ts";
import {
  createTestDb,
  createTestTrading,
  TEST_SECRET,
  TEST_START_MS,
  type TestDb,
  type TestTrading,
  tokenFor,
} from "./_helpers.ts";

/** Engine B: the paper venue behind Tradewind's Alpaca face. */
export interface EngineB {
  db: TestDb;
  trading: TestTrading;
  hub: StreamHub;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** The API key engine A uses, of B's user `alice`. */
  key: { keyId: string; secret: string; userId: string };
  close(): Promise<void>;
}

/** Engine A: Tradewind with `BROKER=alpaca`, its account held by user `holder`. */
export interface EngineA {
  db: TestDb;
  clock: TestClock;
  venue: AlpacaVenue;
  engine: ExecutionEngine;
  bus: MessageBus;
  bots: BotManager;
  app: Hono<AppEnv>;
  tradeStream: AlpacaTradeStream;
  marketStream: AlpacaMarketStream;
  /** The account holder's user id on A. */
  holder: string;
  /** A request to A's app with a token for `holder` (or `username`). */
  as(
    path: string,
    init?: RequestInit & { json?: unknown; username?: string; role?: Role },
  ): Promise<Response>;
  close(): Promise<void>;
}

/** Options of {@link enginePair}. */
export interface EnginePairOptions {
  /** A's risk limits. */
  limits?: RiskLimits;
  /** A's per-request timeout at Alpaca (ms). Default 2000 (generous for a loaded machine). */
  requestTimeoutMs?: number;
  /**
   * A's broker timeout (ms, the engine's resilience). Default 5000: above a request's timeout
   * plus the budget's longest wait (1500), as in production.
   */
  brokerTimeoutMs?: number;
}

/** A and B, with the proxy between them. */
export interface EnginePair {
  a: EngineA;
  b: EngineB;
  proxy: FaultProxy;
  /** Moves both clocks by `ms`; B pumps its market and settles its ledger. */
  advance(ms: number): Promise<void>;
  /** Polls `cond` (A's engine settling between polls) until it holds, or fails naming `what`. */
  until(cond: () => boolean | Promise<boolean>, what: string, polls?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts engine B: a fresh database, the paper venue, the stream hub and the served app. */
export async function servedEngineB(): Promise<EngineB> {
  const db = await createTestDb();
  const trading = createTestTrading(db);
  const hub = new StreamHub({
    bus: trading.bus,
    marketData: trading.venue,
    store: new PostgresStreamStore(db.sql),
    limits: { pingMs: 0 },
  });
  await hub.start();
  const app = createApp({
    sql: db.sql,
    ready: db.ready,
    auth: createAuthenticator({ secret: TEST_SECRET, issuer: "tradewind", audience: "tradewind" }),
    metrics: new Metrics(),
    version: "test-b",
    trading: {
      engine: trading.engine,
      venue: trading.venue,
      marketData: new CachedMarketData(trading.venue, trading.clock),
      clock: trading.clock,
      bots: trading.bots,
    },
    stream: hub,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const key = await apiKeyFor(db.sql, "alice");
  return {
    db,
    trading,
    hub,
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    key,
    async close() {
      await server.shutdown();
      await hub.stop();
      await trading.bots.close();
      await trading.engine.stop();
      await db.close();
    },
  };
}

/**
 * Starts engine A on a fresh database: the Alpaca venue at `base` (trading and market data
 * REST, and both streams under the same origin), the engine, inline bots and the app.
 */
export async function alpacaEngineA(
  base: { http: string; ws: string },
  key: { keyId: string; secret: string },
  options: EnginePairOptions = {},
): Promise<EngineA> {
  const db = await createTestDb();
  const clock = new TestClock(TEST_START_MS);
  const [row] = await db.owner<{ id: string }[]>`
    select tradewind_ensure_user('holder', 'trader') as id`;
  const holder = row!.id;
  let engine: ExecutionEngine | null = null;
  const tradeStream = new AlpacaTradeStream({
    url: `${base.ws}/stream`,
    keyId: key.keyId,
    secret: key.secret,
    backoff: { initialMs: 20, maxMs: 200, jitter: 0 },
    authTimeoutMs: 5_000,
    // What happened while disconnected is found by reconciliation.
    onReconnected: () => engine?.reconcile().then(() => {}),
  });
  let marketStream: AlpacaMarketStream | null = null;
  const venue = new AlpacaVenue({
    clock: new SystemClock(),
    keyId: key.keyId,
    secretKey: key.secret,
    tradingUrl: base.http,
    dataUrl: base.http,
    timeoutMs: options.requestTimeoutMs ?? 2_000,
    accountHolder: () => Promise.resolve(holder),
    tradeUpdates: tradeStream,
    marketStream: (rest) =>
      marketStream = new AlpacaMarketStream({
        url: `${base.ws}/v2/iex`,
        keyId: key.keyId,
        secret: key.secret,
        // A's clock: bars are due from A's "now" on, and reconnects wait on A's time.
        clock,
        backoff: { initialMs: 20, maxMs: 200, jitter: 0 },
        fillGap: barsGapFiller(rest),
      }),
  });
  const bus = new MessageBus();
  engine = new ExecutionEngine({
    sql: db.sql,
    venue,
    clock,
    ids: seededIdSource(313),
    bus,
    defaultLimits: options.limits ?? {},
    reconcileEveryMs: 0,
    snapshotEveryMs: 0,
    resilience: {
      timeoutMs: options.brokerTimeoutMs ?? 5_000,
      attempts: 2,
      initialDelayMs: 1,
      breakerThreshold: 50,
    },
  });
  const bots = new BotManager({
    sql: db.sql,
    engine,
    venue: venue.marketData,
    bus,
    clock,
    placement: "inline",
  });
  const app = createApp({
    sql: db.sql,
    ready: db.ready,
    auth: createAuthenticator({ secret: TEST_SECRET, issuer: "tradewind", audience: "tradewind" }),
    metrics: new Metrics(),
    version: "test-a",
    trading: {
      engine,
      venue,
      marketData: new CachedMarketData(venue.marketData, clock),
      clock,
      bots,
    },
  });
  const eng = engine;
  return {
    db,
    clock,
    venue,
    engine: eng,
    bus,
    bots,
    app,
    tradeStream,
    get marketStream(): AlpacaMarketStream {
      if (!marketStream) throw new Error("Engine A has no market stream yet");
      return marketStream;
    },
    holder,
    async as(path, init = {}) {
      const { json, username, role, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set("Authorization", `Bearer ${await tokenFor(username ?? "holder", role)}`);
      if (json !== undefined) headers.set("Content-Type", "application/json");
      return await app.request(path, {
        ...rest,
        headers,
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      });
    },
    async close() {
      await bots.close();
      await eng.stop();
      await tradeStream.close();
      await marketStream?.close();
      await db.close();
    },
  };
}

/**
 * B served, the proxy in front of it, A pointed at the proxy; A's trade stream is live
 * before this answers, so no event of the test can precede it.
 */
export async function enginePair(options: EnginePairOptions = {}): Promise<EnginePair> {
  const b = await servedEngineB();
  const proxy = startFaultProxy(b.baseUrl);
  const a = await alpacaEngineA({ http: proxy.baseUrl, ws: proxy.wsUrl }, b.key, options);
  const until = async (
    cond: () => boolean | Promise<boolean>,
    what: string,
    polls = 2_000,
  ) => {
    for (let i = 0; i < polls; i++) {
      if (await cond()) return;
      await a.engine.settle();
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`Timed out waiting for ${what}`);
  };
  // Reconciling the holder subscribes the engine to the account's trade updates.
  await a.engine.reconcile();
  await until(() => a.tradeStream.status.state === "live", "A's trade stream to be live");
  return {
    a,
    b,
    proxy,
    async advance(ms: number) {
      a.clock.advance(ms);
      await b.trading.advance(ms);
    },
    until,
    async close() {
      await a.close();
      await proxy.close();
      await b.close();
    },
  };
}
