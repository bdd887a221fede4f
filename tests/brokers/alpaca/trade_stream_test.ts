import {
  AlpacaTradeStream,
  type AlpacaTradeStreamOptions,
  alpacaTradeStreamUrl,
  TradeSession,
} from "../../../brokers/alpaca/trade_stream.ts";
import type { TradeUpdate } from "../../../core/account.ts";
import { TestClock } from "../../../core/clock.ts";
import { TRADE_UPDATE_EVENTS } from "../../../core/order_types.ts";
import { assert, assertEquals } from "../../_assert.ts";
import {
  alpacaOrderJson,
  type AlpacaStreamStandin,
  serveAlpacaStreams,
  type StandinOptions,
} from "../../_alpaca_stream_standin.ts";

const KEY = "AKTEST";
const SECRET = "stand-in-secret";

/** Resolves once `check` answers true; fails after `timeoutMs` of real time. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Rig {
  standin: AlpacaStreamStandin;
  clock: TestClock;
  stream: AlpacaTradeStream;
  updates: TradeUpdate[];
  close(): Promise<void>;
}

function rig(
  options: Partial<AlpacaTradeStreamOptions> = {},
  standinOptions: StandinOptions = {},
): Rig {
  const standin = serveAlpacaStreams(standinOptions);
  const clock = new TestClock(Date.parse("2026-11-23T15:00:00Z"));
  const stream = new AlpacaTradeStream({
    url: standin.tradeUrl,
    keyId: KEY,
    secret: SECRET,
    clock,
    backoff: { initialMs: 1000, maxMs: 8000, jitter: 0.2 },
    ...options,
  });
  const updates: TradeUpdate[] = [];
  stream.onTradeUpdate((u) => updates.push(u));
  return {
    standin,
    clock,
    stream,
    updates,
    async close() {
      await stream.close();
      await standin.close();
    },
  };
}

/** The `data` of a trade_updates frame for `event`, as Alpaca sends it. */
function eventData(event: string, n: number): Record<string, unknown> {
  const fill = event === "fill" || event === "partial_fill";
  return {
    event,
    order: alpacaOrderJson({ id: `order-${n}`, client_order_id: `cid-${n}` }),
    timestamp: `2026-11-23T15:00:${String(n).padStart(2, "0")}.000000001Z`,
    ...(fill ? { price: "150.25", qty: "3", position_qty: "3", execution_id: `exec-${n}` } : {}),
  };
}

for (const text of [false, true]) {
  Deno.test(`AlpacaTradeStream authenticates, listens and delivers every event kind in order (${text ? "text" : "binary"} frames)`, async () => {
    const r = rig({}, { textTradeFrames: text });
    try {
      await until("live", () => r.stream.status.state === "live");
      assertEquals(r.standin.received.map((x) => x.frame), [
        { action: "auth", key: KEY, secret: SECRET },
        { action: "listen", data: { streams: ["trade_updates"] } },
      ]);
      TRADE_UPDATE_EVENTS.forEach((event, i) => r.standin.tradeUpdate(eventData(event, i)));
      await until("all events", () => r.updates.length === TRADE_UPDATE_EVENTS.length);
      assertEquals(r.updates.map((u) => u.event), [...TRADE_UPDATE_EVENTS]);
      assertEquals(
        r.updates.map((u) => u.order.id),
        TRADE_UPDATE_EVENTS.map((_, i) => `order-${i}`),
      );
      const fill = r.updates.find((u) => u.event === "fill")!;
      assertEquals(
        [
          fill.price?.toString(),
          fill.qty?.toString(),
          fill.position_qty?.toString(),
          fill.execution_id,
        ],
        ["150.25", "3", "3", "exec-1"],
      );
      assertEquals(fill.timestamp, Date.parse("2026-11-23T15:00:01Z"));
      assertEquals(fill.order.limit_price?.toString(), "150.25");
    } finally {
      await r.close();
    }
  });
}

Deno.test("AlpacaTradeStream: unauthorized is fatal and never retried", async () => {
  const r = rig({ secret: "nope-not-it" });
  try {
    await until("failed", () => r.stream.status.state === "failed");
    assert(!JSON.stringify(r.stream.status).includes("nope-not-it"), "The secret leaked");
    r.clock.advance(600_000);
    assertEquals(r.standin.accepted["/stream"], 1);
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaTradeStream: a drop reconnects with backoff, listens again and calls onReconnected once per reconnect", async () => {
  let reconciled = 0;
  const r = rig({ onReconnected: () => void reconciled++ });
  try {
    await until("live", () => r.stream.status.state === "live");
    r.standin.tradeUpdate(eventData("new", 1));
    await until("first", () => r.updates.length === 1);
    assertEquals(reconciled, 0);
    r.standin.dropAll();
    await until("waiting", () => r.stream.status.state === "waiting");
    const delay = r.stream.status.delayMs!;
    assert(delay >= 800 && delay <= 1200, `${delay}`);
    r.clock.advance(delay);
    await until(
      "live again",
      () => r.stream.status.state === "live" && r.stream.status.reconnected === true,
    );
    await until("reconciled", () => reconciled === 1);
    assertEquals(r.standin.received.filter((x) => x.frame.action === "listen").length, 2);
    r.standin.tradeUpdate(eventData("fill", 2));
    await until("second", () => r.updates.length === 2);
    assertEquals(r.updates.map((u) => u.event), ["new", "fill"]);
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaTradeStream: a server that never answers auth is dropped at the handshake deadline and retried", async () => {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = () => {};
    socket.onerror = () => {};
    return response;
  });
  const clock = new TestClock(0);
  const stream = new AlpacaTradeStream({
    url: `ws://127.0.0.1:${(server.addr as Deno.NetAddr).port}/stream`,
    keyId: KEY,
    secret: SECRET,
    clock,
    authTimeoutMs: 5000,
  });
  try {
    stream.start();
    await until("authenticating", () => stream.status.state === "authenticating");
    clock.advance(5000);
    await until("waiting", () => stream.status.state === "waiting");
  } finally {
    await stream.close();
    await server.shutdown();
  }
});

Deno.test("TradeSession drops a repeated fill and keeps going past a malformed event", () => {
  const s = new TradeSession({ key: KEY, secret: SECRET });
  assertEquals(s.opened(), [{ kind: "send", frame: { action: "auth", key: KEY, secret: SECRET } }]);
  s.received({ stream: "authorization", data: { status: "authorized", action: "authenticate" } });
  assertEquals(s.received({ stream: "listening", data: { streams: ["trade_updates"] } }), [
    { kind: "live", reconnected: false },
  ]);
  const fill = { stream: "trade_updates", data: eventData("fill", 3) };
  assertEquals(s.received(fill)[0]?.kind, "update");
  assertEquals(s.received(fill)[0]?.kind, "warn");
  const bad = s.received({
    stream: "trade_updates",
    data: { event: "fill", order: alpacaOrderJson() },
  });
  assertEquals(bad[0]?.kind, "warn");
  assertEquals(s.received({ action: "error", data: { error_message: "boom" } })[0]?.kind, "warn");
  assertEquals(s.phase, "live");
});

Deno.test("alpacaTradeStreamUrl: paper by default, live only when asked, or /stream under a base", () => {
  assertEquals(alpacaTradeStreamUrl(), "wss://paper-api.alpaca.markets/stream");
  assertEquals(alpacaTradeStreamUrl({ live: true }), "wss://api.alpaca.markets/stream");
  assertEquals(
    alpacaTradeStreamUrl({ base: "http://127.0.0.1:8080/" }),
    "ws://127.0.0.1:8080/stream",
  );
});

Deno.test("AlpacaTradeStream with idleTimeoutMs replaces a connection that went silent, then reconciles", async () => {
  let reconciled = 0;
  const r = rig({ idleTimeoutMs: 30_000, onReconnected: () => void reconciled++ });
  try {
    await until("live", () => r.stream.status.state === "live");
    r.clock.advance(20_000);
    r.standin.tradeUpdate(eventData("new", 1));
    await until("update", () => r.updates.length === 1);
    r.clock.advance(20_000);
    assertEquals(r.stream.status.state, "live");
    r.clock.advance(10_000);
    await until("waiting", () => r.stream.status.state === "waiting");
    r.clock.advance(r.stream.status.delayMs!);
    await until("reconciled", () => reconciled === 1);
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaTradeStream keeps retrying an unreachable server with growing delays", async () => {
  const probe = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const clock = new TestClock(0);
  const stream = new AlpacaTradeStream({
    url: `ws://127.0.0.1:${port}/stream`,
    keyId: KEY,
    secret: SECRET,
    clock,
    backoff: { initialMs: 1000, maxMs: 8000, jitter: 0 },
  });
  try {
    stream.start();
    await until("first wait", () => stream.status.state === "waiting");
    assertEquals([stream.status.attempt, stream.status.delayMs], [1, 1000]);
    clock.advance(1000);
    await until(
      "second wait",
      () => stream.status.state === "waiting" && stream.status.attempt === 2,
    );
    assertEquals(stream.status.delayMs, 2000);
  } finally {
    await stream.close();
  }
});
