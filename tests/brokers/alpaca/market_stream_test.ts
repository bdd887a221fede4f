import {
  AlpacaMarketStream,
  type AlpacaMarketStreamOptions,
  alpacaMarketStreamUrl,
  barsGapFiller,
  type MarketStreamStatus,
} from "../../../brokers/alpaca/market_stream.ts";
import type { Bar, BarsQuery, MarketEvent } from "../../../core/market.ts";
import { TestClock } from "../../../core/clock.ts";
import { seededIdSource } from "../../../core/ids.ts";
import { PaperVenue } from "../../../brokers/paper/venue.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import {
  type AlpacaStreamStandin,
  serveAlpacaStreams,
  type StandinOptions,
} from "../../_alpaca_stream_standin.ts";

const MIN = 60_000;
const M0 = Date.parse("2026-11-23T15:00:00Z");
const m = (k: number) => M0 + k * MIN;
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

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}
function barItem(symbol: string, ms: number, c = 100): Record<string, unknown> {
  return { T: "b", S: symbol, o: c, h: c + 1, l: c - 1, c, v: 100, n: 5, vw: c, t: iso(ms) };
}
function restBar(ms: number, c = 100): Bar {
  return { t: iso(ms), o: c, h: c + 1, l: c - 1, c, v: 100, n: 5, vw: c };
}

interface Rig {
  standin: AlpacaStreamStandin;
  clock: TestClock;
  stream: AlpacaMarketStream;
  statuses: MarketStreamStatus[];
  close(): Promise<void>;
}

function rig(
  options: Partial<AlpacaMarketStreamOptions> = {},
  standinOptions: StandinOptions = {},
  feed = "iex",
): Rig {
  const standin = serveAlpacaStreams(standinOptions);
  const clock = new TestClock(m(0) + 5_000);
  const stream = new AlpacaMarketStream({
    url: standin.marketUrl(feed),
    keyId: KEY,
    secret: SECRET,
    clock,
    backoff: { initialMs: 1000, maxMs: 8000, jitter: 0.2 },
    ...options,
  });
  const statuses: MarketStreamStatus[] = [];
  stream.onStatus((s) => statuses.push(s));
  return {
    standin,
    clock,
    stream,
    statuses,
    async close() {
      await stream.close();
      await standin.close();
    },
  };
}

const live = (r: Rig) => until("live", () => r.stream.status.state === "live");
const subsOf = (r: Rig) => {
  const c = r.standin.market[0];
  return c
    ? { trades: [...c.subs.trades], quotes: [...c.subs.quotes], bars: [...c.subs.bars] }
    : null;
};

for (const codec of ["msgpack", "json"] as const) {
  Deno.test(`AlpacaMarketStream (${codec}) authenticates and hands each listener only what it subscribed to`, async () => {
    const r = rig({ codec });
    try {
      const a: MarketEvent[] = [];
      const b: MarketEvent[] = [];
      r.stream.subscribe({ trades: ["AAPL"] }, (e) => a.push(...e));
      r.stream.subscribe({ bars: ["*"], quotes: ["MSFT"] }, (e) => b.push(...e));
      await live(r);
      await until("subscription", () => subsOf(r)?.trades.length === 1);
      assertEquals(r.standin.market[0]?.codec, codec);
      assertEquals(r.standin.received.map((x) => x.frame.action), ["auth", "subscribe"]);
      assertEquals(r.stream.confirmed, { trades: ["AAPL"], quotes: ["MSFT"], bars: ["*"] });
      r.standin.publish("iex", [
        {
          T: "t",
          S: "AAPL",
          i: 1,
          x: "V",
          p: 150.5,
          s: 10,
          c: ["@"],
          t: "2026-11-23T15:00:21.123456789Z",
          z: "C",
        },
        {
          T: "q",
          S: "MSFT",
          bx: "V",
          bp: 400.1,
          bs: 1,
          ax: "V",
          ap: 400.2,
          as: 2,
          c: ["R"],
          t: "2026-11-23T15:00:21.5Z",
          z: "C",
        },
        barItem("TSLA", m(0)),
      ]);
      await until("events", () => a.length === 1 && b.length === 2);
      assertEquals(a, [{
        type: "trade",
        symbol: "AAPL",
        trade: {
          t: "2026-11-23T15:00:21.123456789Z",
          x: "V",
          p: 150.5,
          s: 10,
          c: ["@"],
          i: 1,
          z: "C",
        },
      }]);
      assertEquals(b.map((e) => e.type), ["quote", "bar"]);
      assertEquals(b[1], { type: "bar", symbol: "TSLA", bar: restBar(m(0)) });
    } finally {
      await r.close();
    }
  });
}

Deno.test("AlpacaMarketStream sends Alpaca the union and unsubscribes a symbol when its last listener leaves", async () => {
  const r = rig();
  try {
    const stopA = r.stream.subscribe({ trades: ["AAPL", "MSFT"] }, () => {});
    const stopB = r.stream.subscribe({ trades: ["AAPL"], bars: ["SPY"] }, () => {});
    await live(r);
    await until("both", () => subsOf(r)?.bars.length === 1);
    assertEquals(subsOf(r), { trades: ["AAPL", "MSFT"], quotes: [], bars: ["SPY"] });
    stopA();
    await until("MSFT gone", () => subsOf(r)?.trades.length === 1);
    assertEquals(subsOf(r), { trades: ["AAPL"], quotes: [], bars: ["SPY"] });
    stopB();
    stopB();
    await until("all gone", () => subsOf(r)?.trades.length === 0 && subsOf(r)?.bars.length === 0);
    assertEquals(r.stream.subscription, { trades: [], quotes: [], bars: [] });
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaMarketStream: a wrong secret (402) is fatal, reported without the secret, and never retried", async () => {
  const r = rig({ secret: "wrong-secret" });
  try {
    r.stream.subscribe({ trades: ["AAPL"] }, () => {});
    await until("failed", () => r.stream.status.state === "failed");
    assertEquals(r.stream.status.code, 402);
    assert(!JSON.stringify(r.statuses).includes("wrong-secret"), "The secret leaked into a status");
    r.clock.advance(10 * MIN);
    assertEquals(r.standin.accepted["/v2/iex"], 1);
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaMarketStream: 405 and 409 refuse only the subscribe that caused them; the rest keeps streaming", async () => {
  const r = rig({}, { symbolLimit: 2, insufficient: ["BRK.A"] });
  try {
    const got: MarketEvent[] = [];
    r.stream.subscribe({ trades: ["AAPL"] }, (e) => got.push(...e));
    await live(r);
    await until("AAPL", () => subsOf(r)?.trades.length === 1);
    r.stream.subscribe({ quotes: ["MSFT", "TSLA"] }, () => {});
    await until("405", () => r.statuses.some((s) => s.code === 405));
    r.stream.subscribe({ bars: ["BRK.A"] }, () => {});
    await until("409", () => r.statuses.some((s) => s.code === 409));
    assertEquals(r.stream.status.state, "live");
    assertEquals(subsOf(r), { trades: ["AAPL"], quotes: [], bars: [] });
    assertEquals(r.stream.subscription, { trades: ["AAPL"], quotes: [], bars: [] });
    r.standin.publish("iex", [{
      T: "t",
      S: "AAPL",
      i: 2,
      x: "V",
      p: 1,
      s: 1,
      c: [],
      t: "2026-11-23T15:00:30Z",
      z: "C",
    }]);
    await until("trade", () => got.length === 1);
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaMarketStream: a feed the plan lacks (409 at auth) is fatal", async () => {
  const r = rig({}, { deniedFeeds: ["sip"] }, "sip");
  try {
    r.stream.subscribe({ bars: ["AAPL"] }, () => {});
    await until("failed", () => r.stream.status.state === "failed");
    assertEquals(r.stream.status.code, 409);
    r.clock.advance(10 * MIN);
    assertEquals(r.standin.accepted["/v2/sip"], 1);
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaMarketStream: 406 (another program holds the feed) retries with backoff until the feed is free", async () => {
  const r = rig();
  const other = new WebSocket(r.standin.marketUrl("iex"));
  try {
    await new Promise((resolve) => other.onopen = resolve);
    other.send(JSON.stringify({ action: "auth", key: KEY, secret: SECRET }));
    await until("other authenticated", () => r.standin.market.some((c) => c.key === KEY));
    r.stream.subscribe({ trades: ["AAPL"] }, () => {});
    await until("406", () => r.stream.status.state === "waiting");
    assertEquals(r.stream.status.attempt, 1);
    r.clock.advance(1200);
    await until(
      "406 again",
      () => r.stream.status.state === "waiting" && r.stream.status.attempt === 2,
    );
    assert(
      r.stream.status.delayMs! >= 1600 && r.stream.status.delayMs! <= 2400,
      `${r.stream.status.delayMs}`,
    );
    other.close();
    await until("other gone", () => r.standin.market.length === 0);
    r.clock.advance(2400);
    await live(r);
    await until("subscribed", () => subsOf(r)?.trades.length === 1);
  } finally {
    other.close();
    await r.close();
  }
});

Deno.test("AlpacaMarketStream: a second stream of this process on the same feed and key is refused", async () => {
  const r = rig();
  try {
    r.stream.start();
    const twin = new AlpacaMarketStream({
      url: r.standin.marketUrl("iex"),
      keyId: KEY,
      secret: SECRET,
      clock: r.clock,
    });
    assertThrows(
      () => twin.subscribe({ trades: ["AAPL"] }, () => {}),
      Error,
      "one connection per feed",
    );
    await twin.close();
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaMarketStream: 400 is logged and ignored, 404 reconnects, 401 is fatal", async () => {
  const r = rig();
  try {
    r.stream.subscribe({ trades: ["AAPL"] }, () => {});
    await live(r);
    await until("subscribed", () => subsOf(r)?.trades.length === 1);
    r.standin.sendRaw("iex", [{ T: "error", code: 400, msg: "invalid syntax" }]);
    r.standin.sendRaw("iex", [{ T: "error", code: 404, msg: "auth timeout" }]);
    await until("waiting", () => r.stream.status.state === "waiting");
    r.clock.advance(1200);
    await until(
      "live again",
      () => r.stream.status.state === "live" && r.stream.status.reconnected === true,
    );
    await until("resubscribed", () => subsOf(r)?.trades.length === 1);
    r.standin.sendRaw("iex", [{ T: "error", code: 401, msg: "not authenticated" }]);
    await until("failed", () => r.stream.status.state === "failed");
    assertEquals(r.stream.status.code, 401);
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaMarketStream: a drop mid-stream reconnects, resubscribes, fills the gap once from REST, no duplicates", async () => {
  const fills: [string, number, number][] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const r = rig({
    fillGap: async (symbol, fromMs, toMs) => {
      fills.push([symbol, fromMs, toMs]);
      await gate;
      // REST overlaps both ends of the gap.
      return [restBar(m(1)), restBar(m(2)), restBar(m(3)), restBar(m(4))];
    },
  });
  try {
    const bars: string[] = [];
    const trades: number[] = [];
    r.stream.subscribe(
      { bars: ["AAPL"] },
      (e) => bars.push(...e.map((x) => x.type === "bar" ? x.bar.t : "?")),
    );
    r.stream.subscribe({ trades: ["MSFT"], quotes: ["MSFT"] }, (e) => trades.push(e.length));
    await live(r);
    await until("subscribed", () => subsOf(r)?.bars.length === 1 && subsOf(r)?.trades.length === 1);
    r.clock.set(m(1) + 1000);
    r.standin.publish("iex", [barItem("AAPL", m(0))]);
    r.clock.set(m(2) + 1000);
    r.standin.publish("iex", [barItem("AAPL", m(1))]);
    await until("two bars", () => bars.length === 2);

    r.standin.dropAll();
    await until("waiting", () => r.stream.status.state === "waiting");
    r.clock.set(m(5) + 30_000);
    await until(
      "live again",
      () => r.stream.status.state === "live" && r.stream.status.reconnected === true,
    );
    await until(
      "resubscribed",
      () => subsOf(r)?.bars.length === 1 && subsOf(r)?.quotes.length === 1,
    );
    assertEquals(subsOf(r), { trades: ["MSFT"], quotes: ["MSFT"], bars: ["AAPL"] });
    assertEquals(fills, [["AAPL", m(2), m(4)]]);

    // Live bars arrive while REST is still answering: they wait, then merge without repeats.
    r.standin.publish("iex", [barItem("AAPL", m(4)), barItem("AAPL", m(5))]);
    r.stream.subscribe({ quotes: ["ZZZ"] }, () => {});
    await until("frames before ZZZ read", () => r.stream.confirmed.quotes.includes("ZZZ"));
    assertEquals(bars.length, 2);
    release();
    await until("gap filled", () => bars.length === 6);
    r.standin.publish("iex", [barItem("AAPL", m(5)), barItem("AAPL", m(6))]);
    await until("next bar", () => bars.length === 7);
    assertEquals(bars, [0, 1, 2, 3, 4, 5, 6].map((k) => iso(m(k))));
    assertEquals(fills.length, 1);
  } finally {
    await r.close();
  }
});

Deno.test("barsGapFiller pages through MarketData.bars in ascending order", async () => {
  const queries: BarsQuery[] = [];
  const fill = barsGapFiller({
    bars: (_symbol, query) => {
      queries.push(query);
      return Promise.resolve(
        query.pageToken
          ? { bars: [restBar(m(3))], next_page_token: null }
          : { bars: [restBar(m(1)), restBar(m(2))], next_page_token: "p2" },
      );
    },
  });
  assertEquals(await fill("AAPL", m(1), m(3)), [restBar(m(1)), restBar(m(2)), restBar(m(3))]);
  assertEquals(queries.map((q) => [q.timeframe, q.start, q.end, q.sort, q.pageToken]), [
    ["1Min", m(1), m(3), "asc", undefined],
    ["1Min", m(1), m(3), "asc", "p2"],
  ]);
});

Deno.test("alpacaMarketStreamUrl names Alpaca's feed URL or one under a proxy's base", () => {
  assertEquals(alpacaMarketStreamUrl("iex"), "wss://stream.data.alpaca.markets/v2/iex");
  assertEquals(
    alpacaMarketStreamUrl("sip", "https://proxy.example/v2/"),
    "wss://proxy.example/v2/sip",
  );
  assertEquals(
    alpacaMarketStreamUrl("iex", "http://127.0.0.1:8080/v2"),
    "ws://127.0.0.1:8080/v2/iex",
  );
  assertThrows(
    () => new AlpacaMarketStream({ url: "https://x", keyId: KEY, secret: SECRET }),
    TypeError,
  );
  assertThrows(() => new AlpacaMarketStream({ url: "wss://x", keyId: KEY, secret: "" }), TypeError);
});

Deno.test("AlpacaMarketStream cannot be started again once closed, and frees its feed", async () => {
  const r = rig();
  try {
    r.stream.subscribe({ trades: ["AAPL"] }, () => {});
    await live(r);
    await r.stream.close();
    assertThrows(() => r.stream.start(), Error, "closed");
    const next = new AlpacaMarketStream({
      url: r.standin.marketUrl("iex"),
      keyId: KEY,
      secret: SECRET,
      clock: r.clock,
    });
    next.subscribe({ trades: ["AAPL"] }, () => {});
    await until("next live", () => next.status.state === "live");
    await next.close();
  } finally {
    await r.close();
  }
});

Deno.test("AlpacaMarketStream over a paper venue's bars: live, dropped, refilled through barsGapFiller = the venue's minute bars exactly", async () => {
  const venueClock = new TestClock(m(30));
  const venue = new PaperVenue({ clock: venueClock, ids: seededIdSource(3), seed: 5 });
  const truth =
    (await venue.bars("AAPL", { timeframe: "1Min", start: m(0), end: m(6), sort: "asc" })).bars;
  assertEquals(truth.length, 7);
  const asItem = (bar: Bar) => ({ T: "b", S: "AAPL", ...bar });
  let fills = 0;
  const gapFiller = barsGapFiller(venue);
  const r = rig({ fillGap: (s, from, to) => (fills++, gapFiller(s, from, to)) });
  try {
    const got: Bar[] = [];
    r.stream.subscribe(
      { bars: ["AAPL"] },
      (e) => got.push(...e.flatMap((x) => x.type === "bar" ? [x.bar] : [])),
    );
    await live(r);
    await until("subscribed", () => subsOf(r)?.bars.length === 1);
    r.clock.set(m(2) + 1000);
    r.standin.publish("iex", truth.slice(0, 2).map(asItem));
    await until("two", () => got.length === 2);
    r.standin.dropAll();
    await until("waiting", () => r.stream.status.state === "waiting");
    r.clock.set(m(6) + 10_000);
    await until(
      "live again",
      () => r.stream.status.reconnected === true && subsOf(r)?.bars.length === 1,
    );
    r.standin.publish("iex", truth.slice(4).map(asItem));
    await until("all", () => got.length === 7);
    assertEquals(got, truth);
    assertEquals(fills, 1);
  } finally {
    await r.close();
  }
});
