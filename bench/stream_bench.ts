/**
 * The WebSocket stream under load (issue 5): 1,000 clients on real WebSockets, each its own
 * trader subscribed to the same 20 symbols, while a synthetic feed sends 2,000 trades/s over
 * those symbols and 100 order events/s go through the message bus, each to one trader.
 * Prints p50 and p99 from event creation to client receipt, and what was dropped.
 *
 * Every trade reaches 1,000 subscribers, so the demand is 2,000,000 market messages/s: far
 * beyond one core. The figures show the hub shedding market data oldest-first (counted, with
 * `lagged` notices) while order events, which are never dropped, keep their latency.
 *
 * The server (hub, feed, bus, PostgreSQL user rows) runs on the main thread; the clients run in
 * a Worker on the other core (this same module). It starts its own embedded PostgreSQL under
 * `.tradewind-bench/stream` (port 54359).
 *
 * @module
 */
import { MessageBus } from "../actors/bus.ts";
import { StreamHub } from "../actors/stream_hub.ts";
import type { MarketEvent, MarketSubscription, Trade } from "../core/market.ts";
import { openDatabase } from "../db/database.ts";
import { PostgresStreamStore } from "../db/stream.ts";
import { configureLogging } from "../logging.ts";
import { createAuthenticator, signToken } from "../routes/auth.ts";
import { Metrics } from "../routes/metrics.ts";
import { createApp } from "../routes/mod.ts";
import { benchDatabase, percentile, report, section } from "./_harness.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "10");
const WARMUP_MS = 2_000;
const CLIENTS = 1_000;
const SYMBOLS = Array.from({ length: 20 }, (_, i) => `SYM${String(i).padStart(2, "0")}`);
const TICKS_PER_SECOND = 2_000;
const ORDERS_PER_SECOND = 100;

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

// ---------------------------------------------------------------------------------------
// Clients (in the Worker)

interface ClientJob {
  url: string;
  tokens: string[];
  query: string;
}

interface ClientReport {
  connected: number;
  closes: Record<string, number>;
  orders: number;
  orderLatencies: number[];
  market: number;
  marketLatencies: Float64Array;
  laggedNotices: number;
  laggedDropped: number;
}

function runClients(): void {
  const scope = self as unknown as Worker;
  let since = Infinity;
  let orders = 0;
  const orderLatencies: number[] = [];
  let market = 0;
  let marketLatencies = new Float64Array(1 << 20);
  let marketSamples = 0;
  let laggedNotices = 0;
  let laggedDropped = 0;
  let connected = 0;
  const closes: Record<string, number> = {};
  const onMessage = (e: MessageEvent) => {
    const text = e.data as string;
    const received = nowMs();
    if (text.startsWith('{"stream":"trades"')) {
      // Cheap: read the creation time without parsing the whole message.
      const at = text.indexOf('"created":');
      const created = parseFloat(text.slice(at + 10, text.indexOf("}", at)));
      if (created < since) return;
      market++;
      if (marketSamples === marketLatencies.length) {
        const grown = new Float64Array(marketLatencies.length * 2);
        grown.set(marketLatencies);
        marketLatencies = grown;
      }
      marketLatencies[marketSamples++] = received - created;
      return;
    }
    const m = JSON.parse(text);
    if (m.stream === "orders") {
      const created = Number(String(m.data.client_order_id).split("@")[1]);
      if (created < since) return;
      orders++;
      orderLatencies.push(received - created);
    } else if (m.stream === "lagged" && since !== Infinity) {
      laggedNotices++;
      laggedDropped += m.data.dropped;
    }
  };
  scope.onmessage = async (e: MessageEvent) => {
    const msg = e.data as { type: string; job?: ClientJob; since?: number };
    if (msg.type === "connect") {
      const job = msg.job!;
      for (let i = 0; i < job.tokens.length; i += 50) {
        await Promise.all(
          job.tokens.slice(i, i + 50).map((token) =>
            new Promise<void>((resolve, reject) => {
              const ws = new WebSocket(`${job.url}?token=${token}&${job.query}`);
              ws.onmessage = () => {
                // The first message is the subscription: the connection is live.
                ws.onmessage = onMessage;
                connected++;
                resolve();
              };
              ws.onclose = (ev) => {
                closes[ev.code] = (closes[ev.code] ?? 0) + 1;
                reject(new Error(`Client closed: ${ev.code} ${ev.reason}`));
              };
            })
          ),
        );
      }
      scope.postMessage({ type: "connected", connected });
    } else if (msg.type === "measure") {
      since = msg.since!;
    } else if (msg.type === "report") {
      const out: ClientReport = {
        connected,
        closes,
        orders,
        orderLatencies,
        market,
        marketLatencies: marketLatencies.slice(0, marketSamples),
        laggedNotices,
        laggedDropped,
      };
      scope.postMessage({ type: "report", report: out });
    }
  };
}

// ---------------------------------------------------------------------------------------
// Server side (main thread)

/** A market-data source that emits trades at a fixed rate, in 10 ms batches. */
class SyntheticFeed {
  readonly #listeners = new Set<{ sub: MarketSubscription; fn: (e: MarketEvent[]) => void }>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #emitted = 0;
  #started = 0;
  #price = 100;
  ticks = 0;

  subscribe(sub: MarketSubscription, fn: (e: MarketEvent[]) => void): () => void {
    const entry = { sub, fn };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  start(perSecond: number): void {
    this.#started = performance.now();
    this.#emitted = 0;
    this.#timer = setInterval(() => {
      const due = Math.floor(((performance.now() - this.#started) / 1000) * perSecond);
      const batch: MarketEvent[] = [];
      for (; this.#emitted < due; this.#emitted++) {
        const symbol = SYMBOLS[this.#emitted % SYMBOLS.length]!;
        this.#price += (this.#emitted % 7) - 3 > 0 ? 0.01 : -0.01;
        const created = nowMs();
        const trade = {
          t: new Date(created).toISOString(),
          x: "V",
          p: Math.round(this.#price * 100) / 100,
          s: 100,
          c: ["@"],
          i: this.#emitted,
          z: "C",
          created, // the benchmark's timestamp; last, so clients find it cheaply
        } as Trade & { created: number };
        batch.push({ type: "trade", symbol, trade });
      }
      this.ticks += batch.length;
      for (const { sub, fn } of this.#listeners) {
        const picked = batch.filter((e) => sub.trades?.includes(e.symbol));
        if (picked.length) fn(picked);
      }
    }, 10);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}

function ask<T>(worker: Worker, message: unknown, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (e) => {
      if (e.data.type === type) resolve(e.data as T);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`Client worker failed: ${e.message}`));
    };
    worker.postMessage(message);
  });
}

/** Runs the stream benchmark. */
export async function run(): Promise<void> {
  await configureLogging({ level: "error", format: "json", write: () => {} });
  section(
    `WebSocket stream: ${CLIENTS} clients x ${SYMBOLS.length} symbols, ${TICKS_PER_SECOND} ticks/s, ` +
      `${ORDERS_PER_SECOND} order events/s (${SECONDS}s measured after ${
        WARMUP_MS / 1000
      }s warm-up)`,
  );
  const pg = await benchDatabase("tradewind_stream_bench");
  const ownerUrl = pg.ownerUrl;
  const db = await openDatabase({
    dataDir: pg.dataDir,
    databaseUrl: ownerUrl,
    embeddedPort: pg.port,
    poolMax: 8,
  });
  const secret = "bench-secret-bench-secret-bench-secret-0123";
  const auth = createAuthenticator({ secret, issuer: "tradewind", audience: "tradewind" });
  const bus = new MessageBus();
  const feed = new SyntheticFeed();
  const hub = new StreamHub({
    bus,
    marketData: feed,
    store: new PostgresStreamStore(db.sql),
    limits: { pingMs: 0 },
  });
  await hub.start();
  const app = createApp({
    sql: db.sql,
    ready: db.ready,
    auth,
    metrics: new Metrics(),
    version: "bench",
    stream: hub,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const worker = new Worker(import.meta.url, { type: "module" });
  let orderTimer: ReturnType<typeof setInterval> | null = null;
  try {
    const usernames = Array.from({ length: CLIENTS }, (_, i) => `trader${i}`);
    const tokens = await Promise.all(
      usernames.map((username) =>
        signToken({ username, role: "trader" }, {
          secret,
          issuer: "tradewind",
          audience: "tradewind",
          ttlSeconds: 3600,
        })
      ),
    );
    const ids = await Promise.all(usernames.map(async (u) => {
      const [row] = await db.sql<{ id: string }[]>`
        select tradewind_ensure_user(${u}, 'trader') as id`;
      return row!.id;
    }));
    const t0 = performance.now();
    await ask(worker, {
      type: "connect",
      job: {
        url: `ws://127.0.0.1:${server.addr.port}/api/v1/stream`,
        tokens,
        query: `symbols=${SYMBOLS.join(",")}&streams=trades,orders`,
      },
    }, "connected");
    report({
      name: `connect ${CLIENTS} clients (token, user row, upgrade)`,
      value: performance.now() - t0,
      unit: "ms",
    });

    // Order events: synthetic, through the bus as the engine publishes them after commit.
    let seq = 0;
    let published = 0;
    let since = Infinity;
    const orderStart = performance.now();
    orderTimer = setInterval(() => {
      const due = Math.floor(((performance.now() - orderStart) / 1000) * ORDERS_PER_SECOND);
      while (seq < due) {
        const n = seq++;
        const created = nowMs();
        if (created >= since) published++;
        const filled = n % 2 === 1;
        bus.publish({
          topic: "order",
          userId: ids[n % CLIENTS]!,
          seq: String(n + 1),
          event: filled ? "fill" : "new",
          order: {
            id: crypto.randomUUID(),
            client_order_id: `bench-${n}@${created}`,
            symbol: SYMBOLS[n % SYMBOLS.length],
            status: filled ? "filled" : "new",
            filled_qty: filled ? "1" : "0",
          },
          fill: filled
            ? { qty: "1", price: "100.00", execution_id: `x${n}`, position_qty: "1" }
            : null,
          correlationId: null,
          tsMs: Date.now(),
        });
      }
    }, 10);
    feed.start(TICKS_PER_SECOND);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const hubBefore = hub.stats();
    const ticksBefore = feed.ticks;
    since = nowMs();
    worker.postMessage({ type: "measure", since });
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    feed.stop();
    clearInterval(orderTimer);
    orderTimer = null;
    const ticks = feed.ticks - ticksBefore;
    const hubAfter = hub.stats();
    // Let what is in flight arrive (order events must all arrive), up to 10 s.
    let r: ClientReport;
    const deadline = performance.now() + 10_000;
    while (true) {
      r = (await ask<{ report: ClientReport }>(worker, { type: "report" }, "report")).report;
      if (r.orders >= published || performance.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const demanded = ticks * CLIENTS;
    const dropped = hubAfter.marketDropped - hubBefore.marketDropped;
    report({ name: "order events published", value: published, unit: "events" });
    report({
      name: "order events lost",
      value: published - r.orders,
      unit: "events",
      target: "== 0",
      ok: published === r.orders,
    });
    const p99 = percentile(r.orderLatencies, 99);
    report({
      name: "order event latency p50",
      value: percentile(r.orderLatencies, 50),
      unit: "ms",
    });
    report({
      name: "order event latency p99",
      value: p99,
      unit: "ms",
      target: "< 50",
      ok: p99 < 50,
    });
    const market = Array.from(r.marketLatencies);
    report({ name: "market data latency p50", value: percentile(market, 50), unit: "ms" });
    report({ name: "market data latency p99", value: percentile(market, 99), unit: "ms" });
    report({
      name: "market messages demanded (ticks x subscribers)",
      value: demanded / SECONDS,
      unit: "msg/s",
    });
    report({ name: "market messages delivered", value: r.market / SECONDS, unit: "msg/s" });
    report({
      name: "market messages dropped (oldest first)",
      value: dropped,
      unit: "msgs",
      note: `${
        ((dropped / demanded) * 100).toFixed(1)
      }% of demand; clients saw ${r.laggedNotices} lagged notices for ${r.laggedDropped}`,
    });
    report({
      name: "connections closed by the server",
      value: Object.values(r.closes).reduce((a, b) => a + b, 0),
      unit: "conns",
      note: `1013 overflow closes: ${hubAfter.overflowClosed}`,
    });
  } finally {
    if (orderTimer !== null) clearInterval(orderTimer);
    feed.stop();
    worker.terminate();
    await hub.stop();
    await server.shutdown();
    await db.close();
    await pg.stop();
  }
}

if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  runClients();
} else if (import.meta.main) {
  await run();
}
