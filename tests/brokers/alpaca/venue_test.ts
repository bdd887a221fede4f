/**
 * The Alpaca adapter over real HTTP against the Alpaca stand-in (tests/_alpaca_standin.ts,
 * backed by a real paper account): every Broker and MarketData method, the exact mapping of
 * Alpaca's JSON, its errors, and the faults a real server cannot be made to show.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { serveAlpacaStandin } from "../../_alpaca_standin.ts";
import { AlpacaVenue, type AlpacaVenueOptions } from "../../../brokers/alpaca/venue.ts";
import { PaperVenue } from "../../../brokers/paper/venue.ts";
import { BrokerUnavailableError } from "../../../brokers/resilient.ts";
import { SystemClock, TestClock } from "../../../core/clock.ts";
import { Decimal } from "../../../core/decimal.ts";
import { TradeError } from "../../../core/errors.ts";
import { seededIdSource } from "../../../core/ids.ts";

const START = Date.parse("2026-11-23T15:00:00Z");
const HOLDER = "00000000-0000-4000-8000-000000000001";

async function setup(options: Partial<AlpacaVenueOptions> = {}) {
  const clock = new TestClock(START);
  const paper = new PaperVenue({ clock, ids: seededIdSource(5), seed: 7 });
  const standin = await serveAlpacaStandin({ venue: paper });
  const venue = new AlpacaVenue({
    clock: new SystemClock(),
    keyId: standin.keyId,
    secretKey: standin.secret,
    tradingUrl: standin.url,
    dataUrl: standin.url,
    accountHolder: () => Promise.resolve(HOLDER),
    ...options,
  });
  return { clock, paper, standin, venue, broker: venue.brokerFor(HOLDER) };
}

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (e) => e);
  if (e instanceof TradeError) return e.code;
  if (e instanceof BrokerUnavailableError) return "BROKER_UNAVAILABLE";
  throw new Error(`Expected an error, got ${e === null ? "success" : String(e)}`);
}

Deno.test("alpaca broker: an order round trip maps Alpaca's JSON exactly (decimals, times, statuses)", async () => {
  const s = await setup();
  try {
    const placed = await s.broker.submitOrder({
      symbol: "AAPL",
      qty: Decimal.parse("3"),
      side: "buy",
      type: "limit",
      time_in_force: "gtc",
      limit_price: Decimal.parse("1.5"),
      client_order_id: "cid-limit-1",
    });
    assertEquals(placed.client_order_id, "cid-limit-1");
    assertEquals(placed.qty?.toString(), "3");
    assertEquals(placed.limit_price?.toString(), "1.5");
    assert(Number.isFinite(placed.created_at), "created_at is epoch ms");
    const venueOrder = await s.standin.broker.getOrder(placed.id);
    assertEquals(placed.status, venueOrder.status);
    assertEquals((await s.broker.getOrder(placed.id)).id, placed.id);
    assertEquals((await s.broker.getOrderByClientId("cid-limit-1")).id, placed.id);
    const open = await s.broker.listOrders({ status: "open", symbols: ["AAPL"] });
    assertEquals(open.map((o) => o.id), [placed.id]);

    const replaced = await s.broker.replaceOrder(placed.id, {
      limit_price: Decimal.parse("1.25"),
      client_order_id: "cid-limit-2",
    });
    assertEquals(replaced.replaces, placed.id);
    assertEquals(replaced.limit_price?.toString(), "1.25");
    await s.broker.cancelOrder(replaced.id);
    assertEquals(s.standin.count("DELETE", `/v2/orders/${replaced.id}`), 1);
    const after = await s.broker.getOrder(replaced.id);
    assert(["canceled", "pending_cancel"].includes(after.status), after.status);
    assertEquals(await code(s.broker.cancelOrder(replaced.id)), "ORDER_NOT_CANCELABLE");
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca broker: account, positions, close one and close all (207) with exact amounts", async () => {
  const s = await setup();
  try {
    const account = await s.broker.getAccount();
    const direct = await s.standin.broker.getAccount();
    assertEquals(account.cash.toString(), direct.cash.toString());
    assertEquals(account.buying_power.toString(), direct.buying_power.toString());
    await s.broker.submitOrder({
      symbol: "MSFT",
      qty: Decimal.parse("2.5"),
      side: "buy",
      type: "market",
      time_in_force: "day",
      client_order_id: "cid-mkt",
    });
    s.clock.advance(5_000);
    const positions = await s.broker.listPositions();
    const direct2 = await s.standin.broker.listPositions();
    assertEquals(
      positions.map((p) => [p.symbol, p.qty.toString(), p.avg_entry_price.toString()]),
      direct2.map((p) => [p.symbol, p.qty.toString(), p.avg_entry_price.toString()]),
    );
    assertEquals((await s.broker.getPosition("MSFT")).qty.toString(), "2.5");
    assertEquals(await code(s.broker.getPosition("TSLA")), "POSITION_NOT_FOUND");
    const closing = await s.broker.closePosition("MSFT", { qty: Decimal.parse("0.5") });
    assertEquals(closing.side, "sell");
    assertEquals(closing.qty?.toString(), "0.5");
    assert(
      s.standin.requests.some((r) => r.method === "DELETE" && r.search === "?qty=0.5"),
      "qty goes on the wire as exact text",
    );
    s.clock.advance(5_000);
    const all = await s.broker.closeAllPositions({ cancelOrders: true });
    assertEquals(all.map((r) => [r.symbol, r.status]), [["MSFT", 200]]);
    assertEquals(all[0]!.order?.side, "sell");
    assertEquals(await s.broker.cancelAllOrders(), []);
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca broker: clock, calendar (exact days, holidays absent), assets", async () => {
  const s = await setup();
  try {
    const clock = await s.broker.getClock();
    assert(typeof clock.is_open === "boolean" && clock.next_open.length > 0, "a clock");
    const days = await s.broker.getCalendar("2026-11-25", "2026-11-30");
    assertEquals(days.map((d) => [d.date, d.close]), [
      ["2026-11-25", "16:00"],
      ["2026-11-27", "13:00"],
      ["2026-11-30", "16:00"],
    ]);
    assertEquals(days[1]!.closeMs, Date.parse("2026-11-27T18:00:00Z"));
    assertEquals(await code(s.broker.getCalendar("26-11-25", "2026-11-30")), "INVALID_REQUEST");
    const assets = await s.broker.listAssets();
    assert(assets.some((a) => a.symbol === "AAPL"), "AAPL listed");
    assertEquals((await s.broker.getAsset("AAPL")).symbol, "AAPL");
    assertEquals(await code(s.broker.getAsset("ZZZZQX")), "ASSET_NOT_FOUND");
    assertEquals(await code(s.broker.getOrder("no-such-order")), "ORDER_NOT_FOUND");
    assertEquals(await code(s.broker.getOrderByClientId("no-such-cid")), "ORDER_NOT_FOUND");
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca errors: Alpaca's refusals keep their code, text and extra keys", async () => {
  const s = await setup();
  try {
    const e = await assertRejects(
      () =>
        s.broker.submitOrder({
          symbol: "AAPL",
          qty: Decimal.parse("1000000"),
          side: "buy",
          type: "market",
          time_in_force: "day",
          client_order_id: "cid-huge",
        }),
      TradeError,
    );
    assertEquals(e.code, "INSUFFICIENT_BUYING_POWER");
    assertEquals(e.status, 403);
    assertEquals(e.alpacaCode, 40310000);
    assert(e.alpacaExtra.buying_power !== undefined, "buying_power kept");
    // A duplicate client_order_id is Alpaca's 422 40010001.
    await s.broker.submitOrder({
      symbol: "AAPL",
      qty: Decimal.parse("1"),
      side: "buy",
      type: "limit",
      limit_price: Decimal.parse("1"),
      time_in_force: "day",
      client_order_id: "cid-dup",
    });
    assertEquals(
      await code(s.broker.submitOrder({
        symbol: "AAPL",
        qty: Decimal.parse("1"),
        side: "buy",
        type: "limit",
        limit_price: Decimal.parse("1"),
        time_in_force: "day",
        client_order_id: "cid-dup",
      })),
      "DUPLICATE_CLIENT_ORDER_ID",
    );
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca errors: a refused key is VENUE_UNAVAILABLE naming the variables to fix", async () => {
  const s = await setup({ secretKey: "wrong" });
  try {
    const e = await assertRejects(() => s.broker.getAccount(), TradeError);
    assertEquals(e.code, "VENUE_UNAVAILABLE");
    assert(e.message.includes("ALPACA_SECRET_KEY"), e.message);
    assert(!e.message.includes("wrong"), "the secret is not in the message");
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca faults: 5xx and a body that is not JSON are BrokerUnavailable, not refusals", async () => {
  const s = await setup();
  try {
    s.standin.fault({ path: "/v2/account", respond: { status: 503 } });
    assertEquals(await code(s.broker.getAccount()), "BROKER_UNAVAILABLE");
    s.standin.fault({ path: "/v2/positions", respond: { status: 200, body: "<html>oops" } });
    assertEquals(await code(s.broker.listPositions()), "BROKER_UNAVAILABLE");
    // A submit answered 500 after Alpaca took it: ambiguous, and the order is findable.
    s.standin.fault({
      method: "POST",
      path: "/v2/orders",
      forward: true,
      respond: { status: 500 },
    });
    assertEquals(
      await code(s.broker.submitOrder({
        symbol: "AAPL",
        qty: Decimal.parse("1"),
        side: "buy",
        type: "limit",
        limit_price: Decimal.parse("1"),
        time_in_force: "day",
        client_order_id: "cid-500",
      })),
      "BROKER_UNAVAILABLE",
    );
    assertEquals((await s.broker.getOrderByClientId("cid-500")).client_order_id, "cid-500");
    assertEquals(s.standin.count("POST", "/v2/orders"), 1);
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca faults: a submit that never answers times out once, with no second POST", async () => {
  const s = await setup({ timeoutMs: 300 });
  try {
    s.standin.fault({ method: "POST", path: "/v2/orders", forward: true, hang: true });
    assertEquals(
      await code(s.broker.submitOrder({
        symbol: "AAPL",
        qty: Decimal.parse("1"),
        side: "buy",
        type: "limit",
        limit_price: Decimal.parse("1"),
        time_in_force: "day",
        client_order_id: "cid-hang",
      })),
      "BROKER_UNAVAILABLE",
    );
    assertEquals(s.standin.count("POST", "/v2/orders"), 1);
    assertEquals((await s.broker.getOrderByClientId("cid-hang")).status !== undefined, true);
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca 429: a read waits for Retry-After and is retried; a submit is RATE_LIMITED, sent once", async () => {
  const s = await setup();
  try {
    s.standin.fault({
      path: "/v2/account",
      respond: {
        status: 429,
        body: { code: 42910000, message: "rate limit exceeded" },
        headers: { "Retry-After": "0" },
      },
    });
    const account = await s.broker.getAccount();
    assert(account.cash.isPositive(), "answered after the retry");
    assertEquals(s.standin.count("GET", "/v2/account"), 2);
    assertEquals(s.venue.budget.stats.retried, 1);

    s.standin.fault({
      method: "POST",
      path: "/v2/orders",
      respond: {
        status: 429,
        body: { code: 42910000, message: "rate limit exceeded" },
        headers: { "Retry-After": "0" },
      },
    });
    const e = await assertRejects(
      () =>
        s.broker.submitOrder({
          symbol: "AAPL",
          qty: Decimal.parse("1"),
          side: "buy",
          type: "market",
          time_in_force: "day",
          client_order_id: "cid-429",
        }),
      TradeError,
    );
    assertEquals(e.code, "RATE_LIMITED");
    assertEquals(e.status, 429);
    assertEquals(s.standin.count("POST", "/v2/orders"), 1);
    assertEquals(await code(s.broker.getOrderByClientId("cid-429")), "ORDER_NOT_FOUND");
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca market data: latest quote/trade/bar, many symbols, bars with paging, snapshots", async () => {
  const s = await setup();
  try {
    s.clock.advance(180_000);
    const md = s.venue.marketData;
    const quote = await md.latestQuote("AAPL");
    assertEquals(quote, await s.paper.latestQuote("AAPL"));
    assertEquals(await md.latestTrade("AAPL"), await s.paper.latestTrade("AAPL"));
    assertEquals(await md.latestBar("AAPL"), await s.paper.latestBar("AAPL"));
    const quotes = await md.latestQuotes(["AAPL", "MSFT"]);
    assertEquals(Object.keys(quotes).sort(), ["AAPL", "MSFT"]);
    assertEquals(Object.keys(await md.latestTrades(["AAPL"])), ["AAPL"]);
    const start = START - 3_600_000;
    const first = await md.bars("AAPL", { timeframe: "1Min", start, end: START, limit: 25 });
    assertEquals(first.bars.length, 25);
    assert(first.next_page_token, "more pages");
    const second = await md.bars("AAPL", {
      timeframe: "1Min",
      start,
      end: START,
      limit: 25,
      pageToken: first.next_page_token!,
    });
    assert(Date.parse(second.bars[0]!.t) > Date.parse(first.bars.at(-1)!.t), "pages continue");
    assertEquals(await code(md.bars("AAPL", { timeframe: "1Min", limit: 0 })), "INVALID_REQUEST");
    const snap = await md.snapshot("AAPL");
    assertEquals(snap, await s.paper.snapshot("AAPL"));
    assertEquals(Object.keys(await md.snapshots(["AAPL", "MSFT"])).sort(), ["AAPL", "MSFT"]);
    assertEquals(await code(md.latestQuote("ZZZZQX")), "ASSET_NOT_FOUND");
    assertEquals(await md.latestQuotes([]), {});
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca venue: only the account holder trades the account; others have nothing there", async () => {
  const s = await setup();
  try {
    const other = s.venue.brokerFor("00000000-0000-4000-8000-000000000002");
    const request = {
      symbol: "AAPL",
      qty: Decimal.parse("1"),
      side: "buy" as const,
      type: "market" as const,
      time_in_force: "day" as const,
    };
    assertEquals(await code(other.submitOrder(request)), "FORBIDDEN");
    assertEquals(await code(other.getAccount()), "FORBIDDEN");
    await s.broker.submitOrder({ ...request, client_order_id: "cid-holder" });
    assertEquals(await other.listOrders({ status: "all" }), []);
    assertEquals(await other.listPositions(), []);
    assertEquals(await code(other.getOrderByClientId("cid-holder")), "ORDER_NOT_FOUND");
    assertEquals(s.standin.count("POST", "/v2/orders"), 1);
    assertEquals(await s.venue.accountHolders(), [HOLDER]);
    assertEquals((await other.getAsset("AAPL")).symbol, "AAPL");
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca market data: without a stream, live data is polled over REST, each print once", async () => {
  const clock = new TestClock(START);
  const s = await setup({ clock, poll: { everyMs: 1_000, barsEveryMs: 60_000 } });
  const settle = async (cond: () => boolean, max = 2000) => {
    for (let i = 0; i < max && !cond(); i++) await new Promise((r) => setTimeout(r, 0));
  };
  try {
    s.clock.advance(120_000);
    const seen: string[] = [];
    const stop = s.venue.marketData.subscribe({ trades: ["AAPL"], bars: ["AAPL"] }, (events) => {
      for (const e of events) seen.push(`${e.type} ${e.symbol}`);
    });
    const polls = () => s.standin.count("GET", "/v2/stocks/trades/latest");
    clock.advance(1_000); // a trades round
    await settle(() => seen.length > 0);
    assertEquals(seen, ["trade AAPL"]);
    clock.advance(1_000); // the same print again: nothing new
    await settle(() => polls() >= 2);
    await settle(() => false, 100); // let that round's answer be handled
    assertEquals(seen, ["trade AAPL"], "an unchanged print is not repeated");
    clock.advance(58_000); // the bars round
    await settle(() => seen.includes("bar AAPL"));
    assert(seen.includes("bar AAPL"), seen.join());
    stop();
    assertEquals(clock.pending, 0, "polling stops with the last listener");
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca market data: one symbol's latest quote and trade are shared for a second", async () => {
  const clock = new TestClock(START);
  const s = await setup({ clock });
  try {
    const md = s.venue.marketData;
    const path = "/v2/stocks/AAPL/quotes/latest";
    const [a, b] = await Promise.all([md.latestQuote("AAPL"), md.latestQuote("aapl")]);
    assertEquals(a, b);
    await md.latestQuote("AAPL");
    assertEquals(s.standin.count("GET", path), 1, "concurrent and repeated asks share one");
    clock.advance(1_000);
    await md.latestQuote("AAPL");
    assertEquals(s.standin.count("GET", path), 2, "asked again once a second has passed");
    await md.latestTrade("AAPL");
    await md.latestTrade("AAPL");
    assertEquals(s.standin.count("GET", "/v2/stocks/AAPL/trades/latest"), 1);
  } finally {
    await s.standin.close();
  }
});

Deno.test("alpaca budget through the venue: past the budget a submit is RATE_LIMITED and never sent", async () => {
  const clock = new TestClock(START);
  const s = await setup({ clock, budget: { perMinute: 2 } });
  try {
    await s.broker.getAccount();
    await s.broker.getClock();
    const e = await assertRejects(
      () =>
        s.broker.submitOrder({
          symbol: "AAPL",
          qty: Decimal.parse("1"),
          side: "buy",
          type: "market",
          time_in_force: "day",
          client_order_id: "cid-over-budget",
        }),
      TradeError,
    );
    assertEquals(e.code, "RATE_LIMITED");
    assert(e.message.includes("2 requests a minute"), e.message);
    assertEquals(s.standin.count("POST", "/v2/orders"), 0, "nothing reached Alpaca");
    clock.advance(60_000);
    assertEquals((await s.standin.broker.listOrders({ status: "all" })).length, 0);
    assert((await s.broker.getAccount()).cash.isPositive(), "a minute later there is room again");
  } finally {
    await s.standin.close();
  }
});
