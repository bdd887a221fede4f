import type { Hono } from "hono";
import {
  StreamHub,
  type StreamHub as StreamHubType,
  type StreamLimits,
  type StreamStore,
} from "../../actors/stream_hub.ts";
import { openDatabase } from "../../db/database.ts";
import { PostgresStreamStore } from "../../db/stream.ts";
import { createAuthenticator, signToken } from "../../routes/auth.ts";
import { Metrics } from "../../routes/metrics.ts";
import { type AppEnv, createApp } from "../../routes/mod.ts";
import { CachedMarketData } from "../../brokers/cache.ts";
import { parseOrderRequest } from "../../core/order.ts";
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import {
  createTestDb,
  createTestTrading,
  DB_TEST,
  TEST_DATA_DIR,
  TEST_SECRET,
  type TestDb,
  type TestTrading,
  tokenFor,
} from "../_helpers.ts";

// deno-lint-ignore no-explicit-any
type Msg = { stream: string; symbol: string | null; seq: any; data: any };

const WAIT_MS = 20_000;

/** A WebSocket client that records every message; `next` waits for the next match. */
class Client {
  readonly ws: WebSocket;
  readonly messages: Msg[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #cursor = 0;
  #wake: (() => void)[] = [];

  constructor(url: string, protocols?: string[]) {
    this.ws = new WebSocket(url, protocols);
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error(`Cannot connect to ${url}`));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (e) => {
        resolve({ code: e.code, reason: e.reason });
        for (const w of this.#wake.splice(0)) w();
      };
    });
    this.ws.onmessage = (e) => {
      this.messages.push(JSON.parse(String(e.data)));
      for (const w of this.#wake.splice(0)) w();
    };
  }

  /** Resolves on the next message (after the last one `next` answered) matching `match`. */
  async next(match: (m: Msg) => boolean, label: string): Promise<Msg> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `Timed out waiting for ${label}; last: ${JSON.stringify(this.messages.slice(-3))}`,
            ),
          ),
        WAIT_MS,
      );
    });
    try {
      while (true) {
        for (; this.#cursor < this.messages.length; this.#cursor++) {
          const m = this.messages[this.#cursor]!;
          if (match(m)) {
            this.#cursor++;
            return m;
          }
        }
        if (this.ws.readyState >= WebSocket.CLOSING) {
          throw new Error(`Socket closed while waiting for ${label}`);
        }
        await Promise.race([new Promise<void>((r) => this.#wake.push(r)), timeout]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once `condition` holds, checking again on every message. */
  async until(condition: () => boolean, label: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out waiting for ${label}`)), WAIT_MS);
    });
    try {
      while (!condition()) {
        if (this.ws.readyState >= WebSocket.CLOSING) {
          throw new Error(`Socket closed while waiting for ${label}`);
        }
        await Promise.race([new Promise<void>((r) => this.#wake.push(r)), timeout]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the next message of a stream (and event, for orders). */
  stream(stream: string, event?: string): Promise<Msg> {
    return this.next(
      (m) => m.stream === stream && (event === undefined || m.data?.event === event),
      event ?? stream,
    );
  }

  send(command: unknown): void {
    this.ws.send(typeof command === "string" ? command : JSON.stringify(command));
  }

  /** Pings and waits for the pong: everything queued before it has been read. */
  async roundTrip(): Promise<void> {
    const id = crypto.randomUUID();
    this.send({ action: "ping", id });
    await this.next((m) => m.stream === "pong" && m.data.id === id, "pong");
  }

  orders(): Msg[] {
    return this.messages.filter((m) => m.stream === "orders");
  }

  async close(): Promise<void> {
    if (this.ws.readyState < WebSocket.CLOSING) this.ws.close();
    await this.closed;
  }
}

interface Env {
  db: TestDb;
  trading: TestTrading;
  hub: StreamHubType;
  app: Hono<AppEnv>;
  server: Deno.HttpServer<Deno.NetAddr>;
  url(query?: string): string;
  connect(user: string, query?: string): Promise<Client>;
  // deno-lint-ignore no-explicit-any
  place(user: string, body: Record<string, unknown>): Promise<{ status: number; body: any }>;
  userId(user: string): Promise<string>;
  close(): Promise<void>;
}

interface EnvOptions {
  /** Share this database (a second process: its own pool, bus, engine and hub). */
  db?: TestDb;
  limits?: Partial<StreamLimits>;
  highWaterBytes?: number;
  store?: (real: PostgresStreamStore) => StreamStore;
}

async function startEnv(options: EnvOptions = {}): Promise<Env> {
  const own = !options.db;
  const db: TestDb = options.db
    ? {
      ...options.db,
      ...(await openDatabase({
        dataDir: TEST_DATA_DIR,
        databaseUrl: options.db.ownerUrl,
        embeddedPort: 1,
        poolMax: 4,
      })),
    }
    : await createTestDb();
  const trading = createTestTrading(db);
  const real = new PostgresStreamStore(db.sql);
  const hub = new StreamHub({
    bus: trading.bus,
    marketData: trading.venue,
    store: options.store ? options.store(real) : real,
    limits: { pingMs: 0, ...options.limits },
    ...(options.highWaterBytes ? { highWaterBytes: options.highWaterBytes } : {}),
  });
  await hub.start();
  const auth = createAuthenticator({
    secret: TEST_SECRET,
    issuer: "tradewind",
    audience: "tradewind",
  });
  const app = createApp({
    sql: db.sql,
    ready: db.ready,
    auth,
    metrics: new Metrics(),
    version: "test",
    trading: {
      engine: trading.engine,
      venue: trading.venue,
      marketData: new CachedMarketData(trading.venue, trading.clock),
      clock: trading.clock,
    },
    stream: hub,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const clients: Client[] = [];
  const url = (query = "") => `ws://127.0.0.1:${server.addr.port}/api/v1/stream${query}`;
  return {
    db,
    trading,
    hub,
    app,
    server,
    url,
    async connect(user, query = "") {
      const token = await tokenFor(user);
      const client = new Client(url(`?token=${token}${query ? "&" + query : ""}`));
      clients.push(client);
      await client.stream("subscription");
      return client;
    },
    async place(user, body) {
      const res = await app.request("/api/v1/orders", {
        method: "POST",
        headers: {
          Authorization: `Bearer ${await tokenFor(user)}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async userId(user) {
      const [row] = await db.sql<{ id: string }[]>`
        select tradewind_ensure_user(${user}, 'trader') as id`;
      return row!.id;
    },
    async close() {
      for (const c of clients) await c.close().catch(() => {});
      await hub.stop();
      await server.shutdown();
      await trading.engine.stop();
      if (own) await db.close();
      else await db.sql.end({ timeout: 2 });
    },
  };
}

function buy(symbol: string, qty: string, clientOrderId?: string) {
  return {
    symbol,
    qty,
    side: "buy",
    type: "market",
    time_in_force: "day",
    ...(clientOrderId ? { client_order_id: clientOrderId } : {}),
  };
}

/** A connection attempt that must be refused: answers the close and the data received. */
async function refused(url: string, protocols?: string[]) {
  const c = new Client(url, protocols);
  const closed = await c.closed;
  return { ...closed, messages: c.messages };
}

Deno.test(
  { name: "stream: a missing, invalid or expired token closes with 1008", ...DB_TEST },
  async () => {
    const env = await startEnv();
    try {
      const other = await signToken({ username: "alice", role: "trader" }, {
        secret: "another-secret-another-secret-0123456789",
        issuer: "tradewind",
        audience: "tradewind",
        ttlSeconds: 3600,
      });
      const wrongAudience = await signToken({ username: "alice", role: "trader" }, {
        secret: TEST_SECRET,
        issuer: "tradewind",
        audience: "elsewhere",
        ttlSeconds: 3600,
      });
      const expired = await tokenFor("alice", "trader", -120);
      const cases: [string, string, string[] | undefined, string][] = [
        ["no token", "", undefined, "Missing token"],
        ["garbage", "?token=abc", undefined, "Token is malformed"],
        ["other secret", `?token=${other}`, undefined, "Token signature is invalid"],
        ["wrong audience", `?token=${wrongAudience}`, undefined, "Token claim check failed"],
        ["expired", `?token=${expired}`, undefined, "Token has expired"],
        ["bearer only", "", ["bearer"], "Missing token"],
        ["bad subprotocol token", "", ["bearer", "abc.def.ghi"], "Token"],
        ["expired subprotocol token", "", ["bearer", expired], "Token has expired"],
      ];
      for (const [label, query, protocols, reason] of cases) {
        const r = await refused(env.url(query), protocols);
        assertEquals(r.code, 1008, `${label}: ${r.reason}`);
        assertStringIncludes(r.reason, reason, `${label}: ${r.reason}`);
        assertEquals(r.messages, [], `${label}: no data before the close`);
      }
      // The token as a subprotocol works, and the server answers "bearer".
      const good = new Client(env.url("?streams=orders"), ["bearer", await tokenFor("alice")]);
      await good.opened;
      assertEquals(good.ws.protocol, "bearer");
      const sub = await good.stream("subscription");
      assertEquals(sub.data, { symbols: [], streams: ["orders"] });
      await good.close();
      // Not a WebSocket: 426.
      const plain = await env.app.request("/api/v1/stream");
      assertEquals(plain.status, 426);
      assertEquals((await plain.json()).error.code, "UPGRADE_REQUIRED");
    } finally {
      await env.close();
    }
  },
);

Deno.test(
  { name: "stream: subscribe, unsubscribe, ping, bad commands and limits", ...DB_TEST },
  async () => {
    const env = await startEnv({ limits: { maxSymbols: 3, maxConnectionsPerUser: 2, pingMs: 50 } });
    try {
      const c = await env.connect("alice", "symbols=aapl&streams=trades");
      assertEquals(c.messages[0]!.data, { symbols: ["AAPL"], streams: ["trades"] });
      await env.trading.advance(5_000);
      const trade = await c.stream("trades");
      assertEquals(trade.symbol, "AAPL");
      assertEquals(trade.seq, 1);
      assert(typeof trade.data.p === "number" && typeof trade.data.t === "string", "Alpaca trade");

      c.send({ action: "subscribe", symbols: ["MSFT"], streams: ["quotes"] });
      const sub = await c.stream("subscription");
      assertEquals(sub.data, { symbols: ["AAPL", "MSFT"], streams: ["trades", "quotes"] });
      await env.trading.advance(5_000);
      const quote = await c.next((m) => m.stream === "quotes" && m.symbol === "MSFT", "MSFT quote");
      assert(typeof quote.data.bp === "number", "Alpaca quote");

      c.send({ action: "unsubscribe", symbols: ["AAPL"] });
      const unsub = await c.stream("subscription");
      assertEquals(unsub.data, { symbols: ["MSFT"], streams: ["trades", "quotes"] });
      const mark = c.messages.indexOf(unsub);
      await env.trading.advance(5_000);
      await c.next((m) => m.stream === "quotes" && m.symbol === "MSFT", "MSFT quote after");

      c.send({ action: "ping", id: 7 });
      assertEquals((await c.stream("pong")).data.id, 7);

      const errors: [unknown, string, string][] = [
        ["not json", "BAD_COMMAND", "not JSON"],
        [{ action: "dance" }, "BAD_COMMAND", '"dance"'],
        [{ action: "subscribe" }, "BAD_COMMAND", "give"],
        [{ action: "subscribe", symbols: "AAPL" }, "BAD_COMMAND", "list of strings"],
        [{ action: "subscribe", symbols: ["bad symbol!"] }, "BAD_SUBSCRIPTION", "bad symbol!"],
        [{ action: "subscribe", streams: ["news"] }, "BAD_SUBSCRIPTION", '"news"'],
        [{ action: "subscribe", symbols: ["A", "B", "C"] }, "LIMIT_EXCEEDED", "limit is 3"],
      ];
      for (const [command, code, text] of errors) {
        c.send(command);
        const err = await c.stream("error");
        assertEquals(err.data.code, code, JSON.stringify(command));
        assertStringIncludes(err.data.message, text);
      }
      await c.roundTrip(); // still connected
      // Server heartbeats.
      assert((await c.stream("ping")).data.timestamp, "heartbeat");

      // Nothing for AAPL once the unsubscribe was confirmed.
      assertEquals(c.messages.slice(mark).filter((m) => m.symbol === "AAPL"), []);

      // Limits at connect: symbols, then connections per user.
      const tooMany = await refused(
        env.url(`?token=${await tokenFor("bob")}&symbols=A,B,C,D`),
      );
      assertEquals(tooMany.code, 1008);
      assertStringIncludes(tooMany.reason, "limit is 3");
      const badStream = await refused(env.url(`?token=${await tokenFor("bob")}&streams=news`));
      assertEquals([badStream.code, badStream.messages.length], [1008, 0]);
      await env.connect("alice", "streams=orders");
      const third = await refused(env.url(`?token=${await tokenFor("alice")}`));
      assertEquals(third.code, 1008);
      assertStringIncludes(third.reason, "limit is 2 connections per user");
      assertEquals(third.messages, []);
    } finally {
      await env.close();
    }
  },
);

Deno.test(
  { name: "stream: a trader never receives another trader's order events", ...DB_TEST },
  async () => {
    const env = await startEnv();
    try {
      const alice = await env.connect("alice", "streams=orders,account");
      const bob = await env.connect("bob", "streams=orders,account");
      const placed = await env.place("bob", buy("AAPL", "10", "bob-1"));
      assertEquals(placed.status, 201, JSON.stringify(placed.body));
      await env.trading.advance(1_000);
      const created = await bob.stream("orders", "order.new");
      const filled = await bob.stream("orders", "order.filled");
      assertEquals(created.data.order_id, placed.body.id);
      assertEquals(filled.symbol, "AAPL");
      assert(/^\d+$/.test(filled.seq) && BigInt(filled.seq) > BigInt(created.seq), "ledger seqs");
      const d = filled.data;
      assertEquals(
        [d.order_id, d.client_order_id, d.quantity_filled, d.total_filled, d.status],
        [placed.body.id, "bob-1", "10", "10", "filled"],
      );
      assert(Number(d.price_at_fill) > 0 && !Number.isNaN(Date.parse(d.timestamp)), "fill");

      const bobId = await env.userId("bob");
      env.trading.bus.publish({
        topic: "account",
        userId: bobId,
        event: "updated",
        data: { cash: "99000" },
        tsMs: env.trading.clock.now(),
      });
      assertEquals((await bob.stream("account", "account.updated")).data.event, "account.updated");

      // Everything bob caused has been published; alice's pong comes after anything sent her.
      await alice.roundTrip();
      assertEquals(
        alice.messages.filter((m) => m.stream === "orders" || m.stream === "account"),
        [],
      );

      await env.place("alice", buy("MSFT", "1", "alice-1"));
      await env.trading.advance(1_000);
      await alice.stream("orders", "order.filled");
      await bob.roundTrip();
      assertEquals(alice.orders().map((m) => m.data.client_order_id), [
        "alice-1",
        "alice-1",
        "alice-1",
      ]);
      assertEquals(bob.orders().map((m) => [m.data.event, m.data.status]), [
        ["order.accepted", "accepted"],
        ["order.new", "new"],
        ["order.filled", "filled"],
      ]);
    } finally {
      await env.close();
    }
  },
);

Deno.test({
  name: "stream: reconnecting with ?after= replays what was missed, then goes live",
  ...DB_TEST,
}, async () => {
  const env = await startEnv();
  try {
    // A second connection of the same trader stays up throughout: the reference.
    const watcher = await env.connect("alice", "streams=orders");
    const first = await env.connect("alice", "streams=orders");
    await env.place("alice", buy("AAPL", "5", "o-1"));
    await env.trading.advance(1_000);
    const last = await first.stream("orders", "order.filled");
    await first.close();

    await env.place("alice", buy("MSFT", "3", "o-2"));
    await env.trading.advance(1_000);
    await env.place("alice", buy("BAC", "7", "o-3"));
    await env.trading.advance(1_000);
    await watcher.next(
      (m) => m.data?.client_order_id === "o-3" && m.data.event === "order.filled",
      "o-3 fill",
    );

    const again = await env.connect("alice", `streams=orders&after=${last.seq}`);
    const replayed = await again.stream("replayed");
    assertEquals(replayed.data.count, 6);
    await env.place("alice", buy("AAPL", "2", "o-4"));
    await env.trading.advance(1_000);
    await again.next(
      (m) => m.data?.client_order_id === "o-4" && m.data.event === "order.filled",
      "o-4",
    );
    await watcher.next(
      (m) => m.data?.client_order_id === "o-4" && m.data.event === "order.filled",
      "o-4",
    );

    const view = (m: Msg) => [
      m.seq,
      m.symbol,
      m.data.event,
      m.data.order_id,
      m.data.client_order_id,
      m.data.quantity_filled,
      m.data.price_at_fill,
      m.data.total_filled,
      m.data.status,
    ];
    const expected = watcher.orders().filter((m) => BigInt(m.seq) > BigInt(last.seq)).map(view);
    assertEquals(again.orders().map(view), expected);
    assertEquals(expected.map((r) => r[4]), [
      "o-2",
      "o-2",
      "o-2",
      "o-3",
      "o-3",
      "o-3",
      "o-4",
      "o-4",
      "o-4",
    ]);
    const seqs = again.orders().map((m) => BigInt(m.seq));
    assert(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), "increasing, no duplicates");
  } finally {
    await env.close();
  }
});

Deno.test({
  name: "stream: events committed during the replay are neither lost nor doubled",
  ...DB_TEST,
}, async () => {
  let gate = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  const env = await startEnv({
    store: (real) => ({
      async orderEventsAfter(userId, after, limit) {
        entered.resolve();
        await gate.promise;
        return await real.orderEventsAfter(userId, after, limit);
      },
      orderEventsBySeq: (userId, seqs) => real.orderEventsBySeq(userId, seqs),
      listen: (fn) => real.listen(fn),
      signal: (s) => real.signal(s),
    }),
  });
  try {
    const watcher = await env.connect("carol", "streams=orders");
    await env.place("carol", buy("AAPL", "1", "r-1"));
    await env.trading.advance(1_000);
    const before = await watcher.stream("orders", "order.filled");

    const late = await env.connect("carol", `streams=orders&after=${before.seq}`);
    await entered.promise;
    // Live events arrive while the replay's read is still pending.
    await env.place("carol", buy("MSFT", "1", "r-2"));
    await env.trading.advance(1_000);
    await watcher.next(
      (m) => m.data?.client_order_id === "r-2" && m.data.event === "order.filled",
      "r-2",
    );
    gate.resolve();
    gate = Promise.withResolvers<void>();
    gate.resolve();
    const replayed = await late.stream("replayed");
    assertEquals(replayed.data.count, 3, "the read saw the committed events too");
    await env.place("carol", buy("BAC", "1", "r-3"));
    await env.trading.advance(1_000);
    await late.next(
      (m) => m.data?.client_order_id === "r-3" && m.data.event === "order.filled",
      "r-3",
    );
    assertEquals(
      late.orders().map((m) => `${m.data.client_order_id} ${m.data.event}`),
      [
        "r-2 order.accepted",
        "r-2 order.new",
        "r-2 order.filled",
        "r-3 order.accepted",
        "r-3 order.new",
        "r-3 order.filled",
      ],
    );
    const seqs = late.orders().map((m) => m.seq);
    assertEquals(new Set(seqs).size, seqs.length);
  } finally {
    await env.close();
  }
});

/** A WebSocket client over raw TCP that stops reading after the handshake. */
async function stalledClient(port: number, path: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  const decoder = new TextDecoder();
  let text = "";
  const buf = new Uint8Array(64 * 1024);
  // A guard, not a timing assertion: a stream that never sends `part` fails the test with what
  // it did send instead of hanging the whole suite.
  const readUntil = async (part: string, guardMs = 60_000) => {
    let gaveUp = false;
    const guard = setTimeout(() => {
      gaveUp = true;
      conn.close();
    }, guardMs);
    try {
      while (!text.includes(part)) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) {
          throw new Error(
            `Stalled client: ${gaveUp ? "nothing" : "connection closed"} before "${part}"; ` +
              `last read: ${text.slice(-300)}`,
          );
        }
        text += decoder.decode(buf.subarray(0, n), { stream: true });
        if (text.length > 1_000_000) text = text.slice(-100_000);
      }
    } finally {
      clearTimeout(guard);
    }
  };
  await readUntil("\r\n\r\n");
  assertStringIncludes(text, "101 Switching Protocols");
  return { readUntil, close: () => conn.close() };
}

Deno.test({ name: "stream: one slow consumer does not delay the others", ...DB_TEST }, async () => {
  // The stalled client answers no pings: on a loaded machine this test can outlast the default
  // idle timeout, which would close it for that reason instead.
  const env = await startEnv({ limits: { bufferSize: 500, idleTimeoutMs: 3_600_000 } });
  try {
    const symbols = env.trading.venue.symbols.join(",");
    const query = `symbols=${symbols}&streams=trades,quotes,bars,orders`;
    const slow = await stalledClient(
      env.server.addr.port,
      `/api/v1/stream?token=${await tokenFor("slow")}&${query}`,
    );
    // Registered with the hub once its subscription is sent; it reads nothing after that.
    await slow.readUntil('"stream":"subscription"');
    const fast = await env.connect("fast", query);
    let expected = 0;
    env.trading.venue.subscribe(
      { trades: ["*"], quotes: ["*"], bars: ["*"] },
      (events) => (expected += events.length),
    );
    const slowStats = () => env.hub.connectionStats().find((s) => s.username === "slow")!;
    const market = () =>
      fast.messages.filter((m) =>
        m.stream === "trades" || m.stream === "quotes" || m.stream === "bars"
      )
        .length;
    let steps = 0;
    while (slowStats().dropped === 0) {
      assert(++steps <= 400, `no drops for the stalled client after ${steps} steps`);
      await env.trading.advance(10_000);
      await fast.until(() => market() >= expected, `all ${expected} market messages`);
    }
    assertEquals(market(), expected, "the fast client got every market message");
    assertEquals(fast.messages.filter((m) => m.stream === "lagged"), []);
    const last = new Map<string, number>();
    for (const m of fast.messages) {
      if (m.stream !== "trades" && m.stream !== "quotes" && m.stream !== "bars") continue;
      const key = `${m.stream}:${m.symbol}`;
      assertEquals(m.seq, (last.get(key) ?? 0) + 1, `contiguous ${key}`);
      last.set(key, m.seq);
    }

    // The stalled trader's order events are kept (market data makes room for them).
    const placed = await env.place("slow", buy("AAPL", "1", "slow-1"));
    assertEquals(placed.status, 201);
    await env.trading.advance(1_000);
    await fast.roundTrip();
    assert(slowStats().queued > 0, "the stalled connection is still open with data queued");
    await slow.readUntil('"stream":"lagged"');
    await slow.readUntil('"client_order_id":"slow-1","quantity_filled":"1"');
    slow.close();
  } finally {
    await env.close();
  }
});

Deno.test({
  name: "stream: a client that answers no pings is closed after the idle timeout",
  ...DB_TEST,
}, async () => {
  const env = await startEnv({ limits: { idleTimeoutMs: 400 } });
  try {
    const mute = await stalledClient(
      env.server.addr.port,
      `/api/v1/stream?token=${await tokenFor("mute")}&streams=orders`,
    );
    // The server pings after half the timeout, then closes (1001) with this reason.
    await mute.readUntil("No response from ping frame.");
    mute.close();
  } finally {
    await env.close();
  }
});

Deno.test({
  name: "stream: events reach a client of a second process on the same database",
  ...DB_TEST,
}, async () => {
  const a = await startEnv();
  const b = await startEnv({ db: a.db });
  try {
    const onB = await b.connect("dave", "streams=orders,account");
    const otherOnB = await b.connect("erin", "streams=orders,account");
    const onA = await a.connect("dave", "streams=orders,account");
    const placed = await a.place("dave", buy("AAPL", "4", "x-1"));
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    await a.trading.advance(1_000);
    const filledA = await onA.stream("orders", "order.filled");
    const filledB = await onB.stream("orders", "order.filled");
    const view = (m: Msg) => [m.seq, m.symbol, m.data.order_id, m.data.total_filled, m.data.status];
    assertEquals(view(filledB), view(filledA));
    assertEquals(onB.orders().map((m) => m.data.event), [
      "order.accepted",
      "order.new",
      "order.filled",
    ]);

    // Account events cross too (the hub announces them), once.
    a.trading.bus.publish({
      topic: "account",
      userId: await a.userId("dave"),
      event: "updated",
      data: { buying_power: "1" },
      tsMs: a.trading.clock.now(),
    });
    assertEquals((await onB.stream("account", "account.updated")).data.buying_power, "1");
    await onA.stream("account", "account.updated");

    await otherOnB.roundTrip();
    assertEquals(
      otherOnB.messages.filter((m) => m.stream === "orders" || m.stream === "account"),
      [],
    );
    await onA.roundTrip();
    await onB.roundTrip();
    for (const c of [onA, onB]) {
      const seqs = c.orders().map((m) => m.seq);
      assertEquals(new Set(seqs).size, seqs.length, "each sequence once");
      // Each account event arrives once: the fill's and the one published above. They cross
      // processes by NOTIFY on pooled connections, so their order may differ: wait for both.
      const accountEvents = () =>
        c.messages.filter((m) => m.stream === "account").map((m) => String(m.data.event)).sort();
      await c.until(() => accountEvents().length >= 2, "both account events");
      await c.roundTrip();
      assertEquals(accountEvents(), ["account.fill", "account.updated"]);
    }
  } finally {
    await b.close();
    await a.close();
  }
});

Deno.test({
  name: "stream: a replay from ?after= never delivers an event at or before that sequence",
  ...DB_TEST,
}, async () => {
  // A second process learns of an order event by NOTIFY and reads it; that read can end after
  // a client connected with ?after= past the event. The client must not receive it.
  const a = await startEnv();
  const fetchEntered = Promise.withResolvers<void>();
  const fetchGate = Promise.withResolvers<void>();
  const b = await startEnv({
    db: a.db,
    store: (real) => ({
      orderEventsAfter: (userId, after, limit) => real.orderEventsAfter(userId, after, limit),
      async orderEventsBySeq(userId, seqs) {
        fetchEntered.resolve();
        await fetchGate.promise;
        return await real.orderEventsBySeq(userId, seqs);
      },
      listen: (fn) => real.listen(fn),
      signal: (s) => real.signal(s),
    }),
  });
  try {
    const watcherB = await b.connect("frank", "streams=orders");
    const onA = await a.connect("frank", "streams=orders");
    await a.place("frank", buy("AAPL", "1", "f-1"));
    await a.trading.advance(1_000);
    const filled = await onA.stream("orders", "order.filled");
    await fetchEntered.promise; // b is reading f-1's events, announced by NOTIFY

    const late = await b.connect("frank", `streams=orders&after=${filled.seq}`);
    assertEquals((await late.stream("replayed")).data.count, 0);
    fetchGate.resolve();
    await watcherB.next(
      (m) => m.data?.client_order_id === "f-1" && m.data.event === "order.filled",
      "f-1 on the watcher",
    );
    await a.place("frank", buy("MSFT", "1", "f-2"));
    await a.trading.advance(1_000);
    await late.next(
      (m) => m.data?.client_order_id === "f-2" && m.data.event === "order.filled",
      "f-2",
    );
    assertEquals(
      late.orders().map((m) => `${m.data.client_order_id} ${m.data.event}`),
      ["f-2 order.accepted", "f-2 order.new", "f-2 order.filled"],
    );
  } finally {
    await b.close();
    await a.close();
  }
});

Deno.test({
  name:
    "stream: a trailing stop's moving hwm and stop_price arrive as order.restated, live and replayed",
  ...DB_TEST,
}, async () => {
  const env = await startEnv();
  try {
    const live = await env.connect("tess", "streams=orders");
    await env.place("tess", buy("AAPL", "10", "long-1"));
    await env.trading.advance(1_000);
    const filled = await live.stream("orders", "order.filled");
    const trail = await env.place("tess", {
      symbol: "AAPL",
      qty: "10",
      side: "sell",
      type: "trailing_stop",
      trail_percent: "20",
      time_in_force: "gtc",
      client_order_id: "trail-1",
    });
    assertEquals(trail.status, 201);
    for (let s = 0; s < 10; s++) await env.trading.advance(1_000);
    await live.roundTrip();
    const restated = live.orders().filter((m) => m.data.event === "order.restated");
    assert(restated.length > 0, "restated events arrive");
    const lastOne = restated.at(-1)!;
    assertEquals(lastOne.data.client_order_id, "trail-1");
    assertEquals(lastOne.data.status, "new");
    const shown = await (await env.app.request(`/api/v1/orders/${trail.body.id}`, {
      headers: { Authorization: `Bearer ${await tokenFor("tess")}` },
    })).json();
    assertEquals([lastOne.data.hwm, lastOne.data.stop_price], [shown.hwm, shown.stop_price]);

    const again = await env.connect("tess", `streams=orders&after=${filled.seq}`);
    await again.stream("replayed");
    const view = (m: Msg) => [m.seq, m.data.event, m.data.hwm, m.data.stop_price];
    assertEquals(
      again.orders().filter((m) => m.data.event === "order.restated").map(view),
      restated.map(view),
    );
  } finally {
    await env.close();
  }
});

Deno.test({
  name: "stream: order.restated reaches a client of a second process on the same database",
  ...DB_TEST,
}, async () => {
  const a = await startEnv();
  const b = await startEnv({ db: a.db });
  try {
    const onB = await b.connect("ursa", "streams=orders");
    await a.place("ursa", buy("AAPL", "10", "u-long"));
    await a.trading.advance(1_000);
    await onB.next(
      (m) => m.data?.client_order_id === "u-long" && m.data.event === "order.filled",
      "the fill on b",
    );
    const trail = await a.place("ursa", {
      symbol: "AAPL",
      qty: "10",
      side: "sell",
      type: "trailing_stop",
      trail_percent: "20",
      time_in_force: "gtc",
      client_order_id: "u-trail",
    });
    assertEquals(trail.status, 201, JSON.stringify(trail.body));
    for (let s = 0; s < 10; s++) await a.trading.advance(1_000);
    const restated = await onB.next(
      (m) => m.data?.client_order_id === "u-trail" && m.data.event === "order.restated",
      "order.restated on b",
    );
    assert(restated.data.hwm !== null && restated.data.stop_price !== null, "hwm and stop shown");
  } finally {
    await b.close();
    await a.close();
  }
});

Deno.test({
  name: "stream: order events name their book (bot_id, null when manual), live and replayed",
  ...DB_TEST,
}, async () => {
  const env = await startEnv();
  try {
    const live = await env.connect("vera", "streams=orders");
    const userId = await env.userId("vera");
    const created = await env.app.request("/api/v1/bots", {
      method: "POST",
      headers: {
        Authorization: `Bearer ${await tokenFor("vera")}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({
        name: "book-bot",
        strategy: "sma_cross",
        symbols: ["AAPL"],
        timeframe: "1Min",
        params: { fast: 2, slow: 4 },
        sizing: { method: "fixed_qty", qty: "1" },
      }),
    });
    assertEquals(created.status, 201, await created.clone().text());
    const botId = (await created.json()).id as string;
    await env.trading.engine.submit({
      tenant: { userId, role: "trader" },
      request: parseOrderRequest({
        symbol: "AAPL",
        qty: "1",
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "v-bot",
      }),
      botId,
      correlationId: crypto.randomUUID(),
    });
    await env.place("vera", buy("MSFT", "1", "v-manual"));
    await env.trading.advance(1_000);
    for (const cid of ["v-bot", "v-manual"]) {
      await live.next(
        (m) => m.data?.client_order_id === cid && m.data.event === "order.filled",
        `${cid} filled`,
      );
    }
    const books = (c: Client) =>
      c.orders().map((m) => `${m.data.client_order_id} ${m.data.event} ${m.data.bot_id}`);
    const expected = books(live);
    for (const line of expected) {
      assert(
        line.startsWith("v-bot ") ? line.endsWith(` ${botId}`) : line.endsWith(" null"),
        line,
      );
    }
    const again = await env.connect("vera", "streams=orders&after=0");
    await again.stream("replayed");
    assertEquals(books(again), expected);
  } finally {
    await env.close();
  }
});
