/**
 * The Alpaca adapter end to end: engine A (`BROKER=alpaca`) trades through engine B (the
 * paper venue behind Tradewind's `/v2` face) over real HTTP and WebSockets, with the fault
 * proxy of tests/_fault_proxy.ts between them (see tests/_alpaca_pair.ts).
 */
import { assert, assertEquals } from "./_assert.ts";
import { alpacaSdk } from "./_alpaca.ts";
import { type EnginePair, enginePair } from "./_alpaca_pair.ts";
import { TREND } from "./_bots.ts";
import { DB_TEST } from "./_helpers.ts";
import type { TradeUpdate } from "../brokers/broker.ts";
import { Decimal } from "../core/decimal.ts";

const BUY = { symbol: "AAPL", qty: "3", side: "buy", type: "market", time_in_force: "day" };

async function placeOnA(p: EnginePair, body: Record<string, unknown>) {
  const res = await p.a.as("/api/v1/orders", { method: "POST", json: body });
  return { status: res.status, body: await res.json() };
}

interface LedgerOrder {
  id: string;
  status: string;
  filled_qty: string;
  broker_order_id: string | null;
  retry_of: string | null;
  bot_id: string | null;
  client_order_id: string;
}

async function ordersOn(side: "a" | "b", p: EnginePair, clientOrderId?: string) {
  const db = side === "a" ? p.a.db : p.b.db;
  const rows = await db.owner<LedgerOrder[]>`
    select id::text, status, filled_qty::text, broker_order_id, retry_of::text, bot_id::text,
      client_order_id
    from orders
    where ${
    clientOrderId === undefined ? db.owner`true` : db.owner`client_order_id = ${clientOrderId}`
  }
    order by created_at`;
  return rows;
}

async function positionOn(side: "a" | "b", p: EnginePair, symbol: string): Promise<string> {
  const db = side === "a" ? p.a.db : p.b.db;
  const [row] = await db.owner<{ qty: string }[]>`
    select coalesce(sum(qty), 0)::text as qty from positions where symbol = ${symbol}`;
  return Decimal.parse(row!.qty).toString();
}

async function fillsOn(side: "a" | "b", p: EnginePair) {
  const db = side === "a" ? p.a.db : p.b.db;
  return (await db.owner<{ qty: string; price: string }[]>`
    select qty::text, price::text from fills order by ts, execution_id`)
    .map((f) => [Decimal.parse(f.qty).toString(), Decimal.parse(f.price).toString()]);
}

const posts = (p: EnginePair) => p.proxy.log.filter((e) => e.method === "POST");

Deno.test({
  name:
    "alpaca e2e: an order placed on A's /api/v1 fills on B, reaches A by its trade stream, and is in both ledgers",
  ...DB_TEST,
}, async () => {
  const p = await enginePair();
  try {
    const seen: TradeUpdate[] = [];
    const stop = p.a.tradeStream.onTradeUpdate((u) => seen.push(u));
    const placed = await placeOnA(p, { ...BUY, client_order_id: "e2e-1" });
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    await p.advance(1_000);
    await p.until(
      async () => (await ordersOn("a", p, "e2e-1"))[0]?.status === "filled",
      "the fill on A's ledger",
    );
    stop();
    assert(
      seen.some((u) => u.event === "fill" && u.order.client_order_id === "e2e-1"),
      `the fill came over A's trade stream: ${seen.map((u) => u.event)}`,
    );
    const [onA] = await ordersOn("a", p, "e2e-1");
    const [onB] = await ordersOn("b", p, "e2e-1");
    assertEquals(onA!.broker_order_id, onB!.id, "A knows B's order by B's id");
    assertEquals([onB!.status, Decimal.parse(onB!.filled_qty).toString()], ["filled", "3"]);
    assertEquals(Decimal.parse(onA!.filled_qty).toString(), "3");
    assertEquals(await positionOn("a", p, "AAPL"), "3");
    assertEquals(await positionOn("b", p, "AAPL"), "3");
    assertEquals(await fillsOn("a", p), await fillsOn("b", p), "the same fills, to the digit");
    assertEquals(posts(p).length, 1, "one POST /v2/orders");
  } finally {
    await p.close();
  }
});

Deno.test({
  name: "alpaca e2e: a bot on A trades on B's bars, its orders in both ledgers",
  ...DB_TEST,
}, async () => {
  const p = await enginePair();
  try {
    const res = await p.a.as("/api/v1/bots", { method: "POST", json: TREND });
    assertEquals(res.status, 201, await res.clone().text());
    const botId = (await res.json()).id as string;
    const tenant = { userId: p.a.holder, role: "trader" as const };
    let bars = 0;
    const stopBars = p.a.venue.marketData.subscribe({ bars: ["AAPL"] }, (events) => {
      bars += events.filter((e) => e.type === "bar").length;
    });
    try {
      assertEquals((await p.a.bots.start(tenant, botId)).status, "running");
      let botOrders: LedgerOrder[] = [];
      // B publishes a minute's bar on the tick after it closes; A takes bars from the minute
      // it subscribed in on, so the bar of minute n - 1 arrives while minute n + 1 begins.
      for (let minute = 1; minute <= 120 && botOrders.length === 0; minute++) {
        await p.advance(60_000);
        await p.until(() => bars >= minute - 1, `B's bar ${minute - 1} on A`);
        await p.a.bots.settle();
        await p.a.engine.settle();
        botOrders = (await ordersOn("a", p)).filter((o) => o.bot_id === botId);
      }
      assert(botOrders.length > 0, "the bot placed an order within two simulated hours");
      const entry = botOrders[0]!;
      await p.until(
        async () => (await ordersOn("b", p, entry.client_order_id)).length === 1,
        "the bot's order at B",
      );
      const [atB] = await ordersOn("b", p, entry.client_order_id);
      const [atA] = await ordersOn("a", p, entry.client_order_id);
      assertEquals(atA!.broker_order_id, atB!.id);
    } finally {
      stopBars();
    }
  } finally {
    await p.close();
  }
});

Deno.test({
  name:
    "alpaca e2e faults: a 429 with rate-limit headers pauses reads and retries them; a refused submit is not resent",
  ...DB_TEST,
}, async () => {
  const p = await enginePair();
  try {
    p.proxy.rateLimit({ method: "GET", path: "/v2/account" }, { retryAfterSec: 1 });
    const account = await p.a.as("/api/v1/account");
    assertEquals(account.status, 200, await account.clone().text());
    const reads = p.proxy.log.filter((e) => e.path.startsWith("/v2/account"));
    assertEquals(reads.map((e) => e.outcome), [429, 200], "the read was retried after the pause");
    assert(p.a.venue.budget.stats.throttled >= 1, "the budget counted the 429");

    p.proxy.rateLimit({ method: "POST", path: "/v2/orders" }, { retryAfterSec: 1 });
    const refused = await placeOnA(p, { ...BUY, client_order_id: "rl-1" });
    assertEquals([refused.status, refused.body.error.code], [429, "RATE_LIMITED"]);
    assertEquals(posts(p).length, 1, "the submit was sent once and never resent");
    assertEquals((await ordersOn("b", p, "rl-1")).length, 0, "nothing at B");
    // A 429 placed nothing: retrying with the same client_order_id, as told, places it.
    const again = await placeOnA(p, { ...BUY, client_order_id: "rl-1" });
    assertEquals(again.status, 201, JSON.stringify(again.body));
    assertEquals((await ordersOn("b", p, "rl-1")).length, 1, "placed once at B");
    const onA = await ordersOn("a", p, "rl-1");
    assertEquals(onA.map((o) => o.status), ["rejected", onA[1]!.status]);
    assertEquals(onA[1]!.retry_of, onA[0]!.id, "linked to the refused attempt");
  } finally {
    await p.close();
  }
});

Deno.test({
  name:
    "alpaca e2e faults: a 5xx on a read is a 503 on A, not a 500; a 5xx on submit is resolved by client_order_id",
  ...DB_TEST,
}, async () => {
  const p = await enginePair();
  try {
    p.proxy.fail({ method: "GET", path: "/v2/account" }, { status: 503, times: 10 });
    const account = await p.a.as("/api/v1/account");
    assertEquals(account.status, 503, await account.clone().text());
    p.proxy.clear();

    p.proxy.fail({ method: "POST", path: "/v2/orders" }, { status: 500 });
    const first = await placeOnA(p, { ...BUY, client_order_id: "5xx-1" });
    assertEquals(first.status, 503, JSON.stringify(first.body));
    const lookups = p.proxy.log.filter((e) => e.path.includes("by_client_order_id"));
    assert(lookups.length >= 1, "A looked the order up by client_order_id");
    assertEquals((await ordersOn("b", p, "5xx-1")).length, 0);
    const retry = await placeOnA(p, { ...BUY, client_order_id: "5xx-1" });
    assertEquals(retry.status, 201, JSON.stringify(retry.body));
    assertEquals((await ordersOn("b", p, "5xx-1")).length, 1, "placed once at B");
    const onA = await ordersOn("a", p, "5xx-1");
    assertEquals(onA.length, 2, "the failed attempt stays in A's ledger");
    assertEquals(onA[1]!.retry_of, onA[0]!.id);
  } finally {
    await p.close();
  }
});

Deno.test({
  name:
    "alpaca e2e faults: a submit that lands but times out is resolved by client_order_id, with no duplicate at B",
  ...DB_TEST,
}, async () => {
  const p = await enginePair({ requestTimeoutMs: 1_000 });
  try {
    const held = p.proxy.hold({ method: "POST", path: "/v2/orders" }, { forward: "now" });
    const placing = placeOnA(p, { ...BUY, client_order_id: "slow-1" });
    const h = await held;
    assertEquals(await h.forwarded, 200, "B took the order");
    await h.clientGone;
    const placed = await placing;
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    const again = await placeOnA(p, { ...BUY, client_order_id: "slow-1" });
    assertEquals([again.status, again.body.id], [200, placed.body.id]);
    assertEquals(posts(p).length, 1, "the submit was never resent");
    const atB = await ordersOn("b", p, "slow-1");
    assertEquals(atB.length, 1, "one order at B");
    const [atA] = await ordersOn("a", p, "slow-1");
    assertEquals(atA!.broker_order_id, atB[0]!.id);
  } finally {
    await p.close();
  }
});

Deno.test({
  name:
    "alpaca e2e faults (issue 17): a submit held until A gives up, unknown at B, is retried with its client_order_id and placed once, linked",
  ...DB_TEST,
}, async () => {
  const p = await enginePair({ requestTimeoutMs: 1_000 });
  try {
    const held = p.proxy.hold({ method: "POST", path: "/v2/orders" }, { forward: "never" });
    const placing = placeOnA(p, { ...BUY, client_order_id: "lost-1" });
    const h = await held;
    await h.clientGone;
    const first = await placing;
    assertEquals(first.status, 503, JSON.stringify(first.body));
    assert(
      String(first.body.error.message).includes("safe to retry with the same client_order_id"),
      first.body.error.message,
    );
    await h.release();
    const lookups = p.proxy.log.filter((e) => e.path.includes("by_client_order_id"));
    assert(lookups.some((e) => e.outcome === 404), "B answered 404 for the client order id");
    const retry = await placeOnA(p, { ...BUY, client_order_id: "lost-1" });
    assertEquals(retry.status, 201, JSON.stringify(retry.body));
    assertEquals(retry.body.retry_of, first.body.error.details.order_id);
    assertEquals((await ordersOn("b", p, "lost-1")).length, 1, "placed once at B");
    const onA = await ordersOn("a", p, "lost-1");
    assertEquals(onA.map((o) => o.retry_of), [null, first.body.error.details.order_id]);
  } finally {
    await p.close();
  }
});

Deno.test({
  name:
    "alpaca e2e faults: a dropped stream reconnects and listens again; the fill it missed is found by reconciliation",
  ...DB_TEST,
}, async () => {
  const p = await enginePair();
  try {
    const listens = () =>
      p.proxy.sent.filter((f) => f.path === "/stream" && f.text?.includes('"listen"')).length;
    assertEquals(listens(), 1);
    p.proxy.refuseStreams(true);
    assertEquals(p.proxy.dropStreams("/stream"), 1);
    // B fills while A cannot hear it.
    const placed = await placeOnA(p, { ...BUY, client_order_id: "gap-1" });
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    await p.advance(1_000);
    await p.until(
      async () => (await ordersOn("b", p, "gap-1"))[0]?.status === "filled",
      "the fill at B",
    );
    assert((await ordersOn("a", p, "gap-1"))[0]?.status !== "filled", "A missed it");
    p.proxy.refuseStreams(false);
    await p.until(() => listens() === 2, "A to listen again");
    await p.until(
      async () => (await ordersOn("a", p, "gap-1"))[0]?.status === "filled",
      "reconciliation to find the fill",
    );
    assertEquals(await positionOn("a", p, "AAPL"), "3");
  } finally {
    await p.close();
  }
});

Deno.test({
  name: "alpaca e2e faults: a fill message lost on the way is found by the next reconciliation",
  ...DB_TEST,
}, async () => {
  const p = await enginePair();
  try {
    const dropped = p.proxy.dropMessages((f) =>
      f.path === "/stream" && !!f.text && f.text.includes('"fill"') && f.text.includes("lost-fill")
    );
    const placed = await placeOnA(p, { ...BUY, client_order_id: "lost-fill" });
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    await p.advance(1_000);
    await p.until(() => dropped.length === 1, "the fill message to be dropped");
    assert((await ordersOn("a", p, "lost-fill"))[0]?.status !== "filled", "A missed it");
    await p.a.engine.reconcile();
    const [onA] = await ordersOn("a", p, "lost-fill");
    assertEquals(onA!.status, "filled");
    assertEquals(await positionOn("a", p, "AAPL"), "3");
  } finally {
    await p.close();
  }
});

Deno.test({
  name:
    "alpaca e2e faults: a dropped market-data stream resubscribes, and the bars it missed are filled once, in order",
  ...DB_TEST,
}, async () => {
  const p = await enginePair();
  try {
    const times: string[] = [];
    const stop = p.a.venue.marketData.subscribe({ bars: ["AAPL"] }, (events) => {
      for (const e of events) if (e.type === "bar") times.push(e.bar.t);
    });
    try {
      const subscribes = () => p.proxy.sent.filter((f) => f.path === "/v2/iex").length;
      await p.until(() => p.proxy.streams("/v2/iex") === 1 && subscribes() >= 2, "A to subscribe");
      const sentBefore = subscribes();
      const has = (iso: string) => times.some((t) => Date.parse(t) === Date.parse(iso));
      await p.advance(2 * 60_000);
      await p.until(() => has("2026-11-23T15:00:00Z"), "the bar of 15:00");
      p.proxy.refuseStreams(true);
      assertEquals(p.proxy.dropStreams("/v2/iex"), 1);
      await p.advance(3 * 60_000);
      p.proxy.refuseStreams(false);
      // The reconnect waits on A's clock: move it a second at a time until A is back.
      const back = () => {
        const s = p.a.marketStream.status;
        return s.state === "live" && s.reconnected === true;
      };
      let changes = 0;
      const stopStatus = p.a.marketStream.onStatus(() => changes++);
      for (let i = 0; i < 30 && !back(); i++) {
        // Each second is past the backoff's longest delay (200 ms): an attempt runs and ends.
        const before = changes;
        await p.advance(1_000);
        await p.until(
          () => back() || (changes > before && p.a.marketStream.status.state === "waiting"),
          "an attempt",
        );
      }
      stopStatus();
      assert(back(), `A reconnected: ${JSON.stringify(p.a.marketStream.status)}`);
      assert(subscribes() >= sentBefore + 2, "A authenticated and subscribed again");
      await p.until(() => has("2026-11-23T15:03:00Z"), "the missed bars, from REST");
      const ms = times.map((t) => Date.parse(t));
      for (let i = 1; i < ms.length; i++) assertEquals(ms[i]! - ms[i - 1]!, 60_000, times.join());
    } finally {
      stop();
    }
  } finally {
    await p.close();
  }
});

Deno.test({
  name:
    "alpaca e2e: an order an Alpaca SDK program places on the same account is adopted by A's reconciliation as external",
  ...DB_TEST,
}, async () => {
  const p = await enginePair();
  try {
    const sdk = alpacaSdk(p.b.baseUrl, p.b.key.keyId, p.b.key.secret);
    const outside = await sdk.trading.orders.limit({
      symbol: "MSFT",
      qty: 2,
      side: "buy",
      limitPrice: "10",
      clientOrderId: "outside-1",
    });
    await p.a.engine.reconcile();
    const rows = await p.a.db.owner<{ broker_order_id: string; external: boolean; qty: string }[]>`
      select broker_order_id, external, qty::text from orders where symbol = 'MSFT'`;
    assertEquals(rows.length, 1, "adopted once");
    assertEquals(rows[0]!.broker_order_id, outside.id);
    assertEquals(rows[0]!.external, true);
    assertEquals(Decimal.parse(rows[0]!.qty).toString(), "2");
  } finally {
    await p.close();
  }
});
