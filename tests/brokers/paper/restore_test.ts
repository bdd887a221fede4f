import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { testAsset as asset } from "../../_fixtures.ts";
import { TestClock } from "../../../core/clock.ts";
import { dec, Decimal } from "../../../core/decimal.ts";
import { type IdSource, seededIdSource } from "../../../core/ids.ts";
import { type Order, type OrderRequest, toAlpacaJson } from "../../../core/order.ts";
import type { Quote, Trade } from "../../../core/market.ts";
import type { Account, TradeUpdate } from "../../../core/account.ts";
import {
  type PaperAccountState,
  type PaperEvent,
  PaperExchange,
  PaperRestoreError,
} from "../../../brokers/paper/exchange.ts";
import { PaperVenue } from "../../../brokers/paper/venue.ts";

// Monday 2026-11-23, 10:00 ET (EST, UTC−5)
const T0 = Date.UTC(2026, 10, 23, 15, 0);
const MIN = 60_000;
const SEED = 7;
const IDS = "restore";
const SYMBOLS = ["AAPL", "MSFT", "NVDA"];
const U1 = "user-1";
const U2 = "user-2";

/** A seeded id source that counts its draws, so a restarted run can continue the sequence. */
function countingIds(seed: string): { ids: IdSource; drawn: () => number } {
  const inner = seededIdSource(seed);
  let n = 0;
  return {
    ids: () => {
      n++;
      return inner();
    },
    drawn: () => n,
  };
}

function continuedIds(seed: string, skip: number): IdSource {
  const ids = seededIdSource(seed);
  for (let i = 0; i < skip; i++) ids();
  return ids;
}

/** A trade update as it goes over the wire: byte-comparable. */
function wire(u: TradeUpdate | PaperEvent): string {
  const update = "update" in u ? u.update : u;
  return JSON.stringify({
    account: "accountId" in u ? u.accountId : undefined,
    event: update.event,
    order: { ...toAlpacaJson(update.order), parent_id: update.order.parent_id },
    timestamp: update.timestamp,
    price: update.price,
    qty: update.qty,
    position_qty: update.position_qty,
    execution_id: update.execution_id,
    fill: "fill" in u ? u.fill : undefined,
  });
}

function orderWire(o: Order): string {
  return JSON.stringify({ ...toAlpacaJson(o), parent_id: o.parent_id });
}

function accountWire(a: Account): string {
  return JSON.stringify({ ...a, created_at: undefined });
}

/** What a ledger knows of one user after reconciling with the venue. */
function ledgerState(ex: PaperExchange, user: string, status: "open" | "all" = "open") {
  const acct = ex.account(user);
  return {
    cash: acct.cash,
    lastEquity: acct.last_equity,
    positions: ex.positions(user).map((p) => ({
      symbol: p.symbol,
      qty: p.qty,
      avgEntryPrice: p.avg_entry_price,
      costBasis: p.cost_basis,
    })),
    orders: ex.listOrders(user, { status, limit: 500, direction: "asc" }),
  } satisfies PaperAccountState;
}

function openOrders(ex: PaperExchange, user: string): string[] {
  return ex.listOrders(user, { limit: 500, direction: "asc" }).map(orderWire);
}

function venue(clock: TestClock, ids: IdSource): PaperVenue {
  return new PaperVenue({ clock, ids, seed: SEED, symbols: SYMBOLS });
}

/** A price `f` times the last print before now, on the penny grid. */
function px(v: PaperVenue, symbol: string, now: number, f: number): Decimal {
  return Decimal.parse((v.model.latestTrade(symbol, now - 1)!.p * f).toFixed(2));
}

/** Trades for two users on a venue: every kind of open order a restart must keep. */
async function trade(v: PaperVenue, clock: TestClock): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const b1 = v.brokerFor(U1);
  const b2 = v.brokerFor(U2);
  const o = (
    over: Partial<OrderRequest> & Pick<OrderRequest, "symbol" | "side">,
  ): OrderRequest => ({ qty: dec("10"), type: "market", time_in_force: "gtc", ...over });
  // a resting GTC limit, first of all (its id is the seed's first); a trailing stop
  ids.gtc = (await b1.submitOrder(
    o({ symbol: "AAPL", side: "buy", type: "limit", limit_price: px(v, "AAPL", T0, 0.995) }),
  )).id;
  await b1.submitOrder(o({ symbol: "MSFT", side: "buy", qty: dec("30"), time_in_force: "day" }));
  ids.trail = (await b1.submitOrder(o({
    symbol: "MSFT",
    side: "sell",
    qty: dec("30"),
    type: "trailing_stop",
    trail_percent: dec("0.5"),
  }))).id;

  // minutes later (the trailing stop's hwm has moved), when the AAPL ask shows few shares
  let at = T0 + 5 * MIN;
  while (v.model.quoteAt("AAPL", at)!.as > 500) at += 1000;
  clock.set(at + 1); // the venue has then taken that quote, and nothing later
  v.pump();
  const now = clock.now();
  const bracket = await b1.submitOrder(o({
    symbol: "NVDA",
    side: "buy",
    qty: dec("100"),
    order_class: "bracket",
    take_profit: { limit_price: px(v, "NVDA", now, 1.004) },
    stop_loss: { stop_price: px(v, "NVDA", now, 0.996) },
  }));
  ids.bracket = bracket.id;
  ids.tp = bracket.legs![0]!.id;
  ids.sl = bracket.legs![1]!.id;
  // user 2: a short, a resting short-sale limit, a DAY limit, an oco exit of the short
  await b2.submitOrder(o({ symbol: "NVDA", side: "sell", qty: dec("50") }));
  ids.shortLimit = (await b2.submitOrder(
    o({ symbol: "NVDA", side: "sell", type: "limit", limit_price: px(v, "NVDA", now, 1.05) }),
  )).id;
  ids.day = (await b2.submitOrder(o({
    symbol: "MSFT",
    side: "buy",
    qty: dec("2"),
    type: "limit",
    limit_price: px(v, "MSFT", now, 0.9),
    time_in_force: "day",
  }))).id;
  ids.oco = (await b2.submitOrder(o({
    symbol: "NVDA",
    side: "buy",
    qty: dec("50"),
    type: "limit",
    order_class: "oco",
    take_profit: { limit_price: px(v, "NVDA", now, 0.993) },
    stop_loss: { stop_price: px(v, "NVDA", now, 1.007) },
  }))).id;
  // a partial fill: more than the ask shows, at the ask
  const q = v.model.quoteAt("AAPL", at)!;
  ids.partial = (await b1.submitOrder(o({
    symbol: "AAPL",
    side: "buy",
    qty: dec(String(q.as + 40)),
    type: "limit",
    limit_price: Decimal.parse(q.ap),
  }))).id;
  return ids;
}

Deno.test("restore: a restarted venue holds the same accounts and moves them like the original", async () => {
  const clock = new TestClock(T0);
  const counted = countingIds(IDS);
  const a = venue(clock, counted.ids);
  const fills: TradeUpdate[] = [];
  a.listen(U1, (u) => fills.push(u));
  const ids = await trade(a, clock);

  const ex = a.exchange;
  const s1 = ledgerState(ex, U1);
  const s2 = ledgerState(ex, U2);
  // the ledger's cash: starting cash − Σ buys + Σ sells
  let cash = dec("100000");
  for (const f of fills) {
    if (f.price === undefined || f.qty === undefined) continue;
    const n = f.qty.mul(f.price);
    cash = f.order.side === "buy" ? cash.sub(n) : cash.add(n);
  }
  assertEquals(cash.toString(), s1.cash.toString());
  // what the scenario set out to leave open
  const byId = new Map(s1.orders.concat(s2.orders).map((o) => [o.id, o]));
  assertEquals(byId.get(ids.gtc!)?.status, "new");
  assertEquals(byId.get(ids.partial!)?.status, "partially_filled");
  assertEquals(byId.get(ids.tp!)?.status, "new");
  assertEquals(byId.get(ids.sl!)?.status, "held");
  assertEquals(byId.has(ids.bracket!), false);
  assert(byId.get(ids.trail!)?.hwm !== null);
  assertEquals(byId.get(ids.shortLimit!)?.status, "new");
  assertEquals(byId.get(ids.oco!)?.legs?.length, undefined);
  assertEquals(s1.orders.length + s2.orders.length, 9);

  // restart: a new venue with the same seeds at the same time, the id sequence continued
  const b = venue(clock, continuedIds(IDS, counted.drawn()));
  b.brokerFor(U1); // a broker opened before the restore leaves the account pristine
  const results = b.restore(new Map([[U1, s1], [U2, s2]]));
  assertEquals(results.map((r) => r.skipped.length), [0, 0]);
  assertEquals(b.exchange.drainEvents(), []);
  for (const user of [U1, U2]) {
    assertEquals(accountWire(b.exchange.account(user)), accountWire(ex.account(user)), user);
    assertEquals(
      JSON.stringify(b.exchange.positions(user)),
      JSON.stringify(ex.positions(user)),
      user,
    );
    assertEquals(openOrders(b.exchange, user), openOrders(ex, user), user);
  }

  // the same market from here on, and the same new orders: the same events, byte for byte
  const seen = { a: [] as string[], b: [] as string[] };
  for (const user of [U1, U2]) {
    a.listen(user, (u) => seen.a.push(user + " " + wire(u)));
    b.listen(user, (u) => seen.b.push(user + " " + wire(u)));
  }
  const end = T0 + 15 * 60 * MIN; // past midnight ET: DAY orders expire, the day rolls
  for (let step = 1; clock.now() < end; step++) {
    clock.advance(5 * MIN);
    a.pump();
    b.pump();
    if (step === 12) {
      for (const v of [a, b]) {
        await v.brokerFor(U1).submitOrder({
          symbol: "AAPL",
          qty: dec("5"),
          side: "buy",
          type: "market",
          time_in_force: "day",
        });
        await v.brokerFor(U2).cancelOrder(ids.shortLimit!);
      }
    }
  }
  assertEquals(seen.b.length, seen.a.length);
  for (let i = 0; i < seen.a.length; i++) assertEquals(seen.b[i], seen.a[i], `event ${i}`);
  const events = seen.a.map((e) => JSON.parse(e.slice(e.indexOf(" ") + 1)));
  const touched = (id: string) => events.filter((e) => e.order.id === id).map((e) => e.event);
  // every kind of restored order did something after the restart
  assert(touched(ids.gtc!).includes("fill"), "the GTC limit filled");
  assert(touched(ids.partial!).includes("fill"), "the partial fill completed");
  assert(touched(ids.trail!).includes("fill"), "the trailing stop triggered");
  assert(touched(ids.tp!).length + touched(ids.sl!).length > 0, "the bracket exited");
  assertEquals(touched(ids.day!), ["expired"]);
  assertEquals(touched(ids.shortLimit!), ["pending_cancel", "canceled"]);
  for (const user of [U1, U2]) {
    assertEquals(accountWire(b.exchange.account(user)), accountWire(ex.account(user)), user);
    assertEquals(JSON.stringify(b.exchange.positions(user)), JSON.stringify(ex.positions(user)));
    assertEquals(openOrders(b.exchange, user), openOrders(ex, user), user);
  }
});

Deno.test("restore: ids drawn after a restore never reuse a restored order's ids", async () => {
  const clock = new TestClock(T0);
  const a = venue(clock, seededIdSource(IDS));
  await trade(a, clock);
  const state = ledgerState(a.exchange, U1);
  // the same seed from its start: the first ids drawn are those of the first orders above
  const b = venue(clock, seededIdSource(IDS));
  const [r] = b.restore([[U1, state]]);
  const taken = new Set(state.orders.flatMap((o) => [o.id, o.client_order_id]));
  assertEquals(r!.restored.length, state.orders.length);
  assert(taken.has(seededIdSource(IDS)()), "the seed's first id is a restored order's");
  const next = await b.brokerFor(U1).submitOrder({
    symbol: "AAPL",
    qty: dec("1"),
    side: "buy",
    type: "market",
    time_in_force: "day",
  });
  assert(!taken.has(next.id) && !taken.has(next.client_order_id), next.id);
  // the restored order keeps its id and client order id
  const gtc = state.orders[0]!;
  assertEquals(orderWire(await b.brokerFor(U1).getOrder(gtc.id)), orderWire(gtc));
  assertEquals((await b.brokerFor(U1).getOrderByClientId(gtc.client_order_id)).id, gtc.id);
});

Deno.test("restore: refuses an account with activity, and a refusal changes nothing", async () => {
  const clock = new TestClock(T0);
  const a = venue(clock, seededIdSource(IDS));
  await trade(a, clock);
  const s1 = ledgerState(a.exchange, U1);
  const s2 = ledgerState(a.exchange, U2);

  const b = venue(clock, seededIdSource("other"));
  await b.brokerFor(U2).submitOrder({
    symbol: "MSFT",
    qty: dec("1"),
    side: "buy",
    type: "market",
    time_in_force: "day",
  });
  b.exchange.drainEvents();
  const before = accountWire(b.exchange.account(U1));
  const err = assertThrows(() => b.restore([[U1, s1], [U2, s2]]), PaperRestoreError);
  assertEquals(
    err.message,
    `Cannot restore paper account "${U2}": it already has activity (orders, fills, positions or ` +
      "an earlier restore)",
  );
  // U1 was checked first but not restored
  assertEquals(accountWire(b.exchange.account(U1)), before);
  assertEquals(b.exchange.listOrders(U1), []);

  const c = venue(clock, seededIdSource("other"));
  c.restore([[U1, s1]]);
  assertThrows(() => c.restore([[U1, s1]]), PaperRestoreError, "already has activity");
  const empty = { cash: dec("5000"), positions: [], orders: [] };
  c.restore([["user-3", empty]]);
  assertThrows(() => c.restore([["user-3", empty]]), PaperRestoreError, "already has activity");
  // the same order id for another account
  assertThrows(() => c.restore([[U2, s1]]), PaperRestoreError, "is already in use");
  assertThrows(
    () =>
      c.restore([["user-4", {
        ...empty,
        positions: [{ symbol: "ZZZZ", qty: dec("1"), avgEntryPrice: dec("1") }],
      }]]),
    PaperRestoreError,
    'position symbol "ZZZZ" is unknown',
  );
  const odd = {
    ...s2.orders[0]!,
    id: "odd-1",
    client_order_id: "odd-1",
    status: "stopped" as const,
  };
  assertThrows(
    () => c.restore([["user-4", { ...empty, orders: [odd] }]]),
    PaperRestoreError,
    '"stopped", which this venue never uses',
  );
  assertEquals(c.exchange.account("user-4").cash.toString(), "100000");
  assertEquals(c.exchange.drainEvents(), []);
});

// ---------------------------------------------------------------------------------------------
// The exchange alone, with hand-made quotes

const ASSETS = new Map(["AAPL", "MSFT"].map((s) => [s, asset(s)]));
const quote = (bp: number, ap: number, bs = 100, as = 100): Quote => ({
  t: "",
  bx: "Q",
  bp,
  bs,
  ax: "Q",
  ap,
  as,
  c: ["R"],
  z: "C",
});
const print = (p: number): Trade => ({ t: "", x: "Q", p, s: 100, c: ["@"], i: 1, z: "C" });

function exchange(ids: IdSource, at: number): PaperExchange {
  const ex = new PaperExchange({ ids, assets: (s) => ASSETS.get(s) });
  for (const s of ASSETS.keys()) {
    ex.onTrade(s, print(100), at);
    ex.onQuote(s, quote(99.99, 100.01), at);
  }
  ex.drainEvents();
  return ex;
}

type Tick = [kind: "q", symbol: string, bp: number, ap: number, size?: number] | [
  kind: "t",
  symbol: string,
  price: number,
];

function feed(ex: PaperExchange, ticks: Tick[], from: number): void {
  ticks.forEach((t, i) => {
    const at = from + (i + 1) * 1000;
    if (t[0] === "q") ex.onQuote(t[1], quote(t[2], t[3], t[4], t[4]), at);
    else ex.onTrade(t[1], print(t[2]), at);
  });
}

Deno.test("restore: held legs, oco, elected stop-limits and DAY expiry work on as before", () => {
  const A = "acct";
  const counted = countingIds("ex");
  const ex = exchange(counted.ids, T0);
  const t = T0 + 1000;
  const req = (over: Partial<OrderRequest>): OrderRequest => ({
    symbol: "AAPL",
    qty: dec("10"),
    side: "buy",
    type: "limit",
    time_in_force: "gtc",
    ...over,
  });
  // a bracket whose entry has not filled: legs held until it does
  ex.submit(
    A,
    req({
      limit_price: dec("99"),
      order_class: "bracket",
      take_profit: { limit_price: dec("101") },
      stop_loss: { stop_price: dec("98"), limit_price: dec("97.5") },
    }),
    t,
  );
  // a position and an oco exit on it
  ex.submit(A, req({ symbol: "MSFT", qty: dec("40"), type: "market", time_in_force: "day" }), t);
  ex.submit(
    A,
    req({
      symbol: "MSFT",
      qty: dec("40"),
      side: "sell",
      limit_price: dec("103"),
      order_class: "oco",
      take_profit: { limit_price: dec("103") },
      stop_loss: { stop_price: dec("96") },
    }),
    t,
  );
  // a buy limit the ask's size fills in part, and a sell stop (the ask has no size left)
  ex.submit(A, req({ symbol: "MSFT", qty: dec("100"), limit_price: dec("100.01") }), t);
  ex.submit(
    A,
    req({ symbol: "MSFT", qty: dec("5"), side: "sell", type: "stop", stop_price: dec("99.9") }),
    t,
  );
  // a long position, a DAY limit that will expire at the close, and a sell stop-limit that
  // elects on a print but whose limit the bid does not reach
  ex.submit(A, req({ qty: dec("10"), type: "market", time_in_force: "day" }), t);
  ex.submit(A, req({ qty: dec("3"), limit_price: dec("90"), time_in_force: "day" }), t);
  ex.submit(
    A,
    req({
      qty: dec("8"),
      side: "sell",
      type: "stop_limit",
      stop_price: dec("99.5"),
      limit_price: dec("99.4"),
    }),
    t,
  );
  const electAt = T0 + 2000;
  ex.onQuote("AAPL", quote(99.3, 99.5), electAt);
  ex.onTrade("AAPL", print(99.45), electAt);
  ex.drainEvents();

  const at = ex.now;
  const state = ledgerState(ex, A, "all");
  const b = exchange(continuedIds("ex", counted.drawn()), T0);
  b.onTrade("AAPL", print(99.45), at);
  b.onQuote("AAPL", quote(99.3, 99.5), at);
  b.drainEvents();
  const [r] = b.restoreAccounts([[A, state]], at);
  assertEquals(r!.skipped.map((s) => s.reason), ["closed", "closed"]);
  assertEquals(
    state.orders.find((o) => o.qty?.eq(dec("100")))?.filled_qty.toString(),
    "60",
  );
  assertEquals(b.drainEvents(), []);
  assertEquals(accountWire(b.account(A)), accountWire(ex.account(A)));
  assertEquals(openOrders(b, A), openOrders(ex, A));
  assertEquals(
    JSON.stringify(b.getOrder(A, state.orders[0]!.id, { nested: true })),
    JSON.stringify(ex.getOrder(A, state.orders[0]!.id, { nested: true })),
  );

  const ticks: Tick[] = [
    ["t", "AAPL", 97.95], // below the bracket's stop-loss, which waits for its entry
    ["t", "MSFT", 99.85], // the sell stop elects and fills; the partial buy finds no ask left
    ["q", "AAPL", 99.45, 99.5], // the elected stop-limit fills as a limit
    ["q", "AAPL", 98.9, 99], // the bracket entry fills; legs go live
    ["q", "MSFT", 97, 97.1],
    ["t", "MSFT", 95.9], // the oco stop-loss elects, canceling its take-profit
    ["q", "MSFT", 95.8, 95.9, 25],
    ["q", "MSFT", 95.7, 95.8, 25],
    ["q", "AAPL", 101, 101.1, 4], // the take-profit fills in part; the stop-loss shrinks
    ["t", "AAPL", 97.9], // the stop-loss elects
    ["q", "AAPL", 97.6, 97.7],
  ];
  feed(ex, ticks, at);
  feed(b, ticks, at);
  const close = Date.UTC(2026, 10, 23, 21, 0) + 1;
  ex.advance(close);
  b.advance(close);
  const ea = ex.drainEvents().map(wire);
  const eb = b.drainEvents().map(wire);
  const what = ea.map((e) => JSON.parse(e)).map((e) =>
    `${e.event} ${e.order.symbol} ${e.order.side} ${e.order.type}${e.qty ? " " + e.qty : ""}`
  );
  assertEquals(what, [
    "fill MSFT sell stop 5",
    "fill AAPL sell stop_limit 8",
    "fill AAPL buy limit 10",
    "new AAPL sell limit",
    "fill MSFT buy limit 40",
    "new MSFT sell stop",
    "canceled MSFT sell limit",
    "fill MSFT sell stop 40",
    "partial_fill AAPL sell limit 4",
    "new AAPL sell stop_limit",
    "canceled AAPL sell limit",
    "fill AAPL sell stop_limit 6",
    "expired AAPL buy limit",
  ]);
  assertEquals(eb, ea);
  assertEquals(openOrders(b, A), openOrders(ex, A));
  assertEquals(accountWire(b.account(A)), accountWire(ex.account(A)));
});

Deno.test("restore: closed, in-flight and orphaned orders are skipped; nested legs are read", () => {
  const ex = exchange(seededIdSource("skip"), T0);
  const t = T0 + 1000;
  const A = "acct";
  const bracket = ex.submit(A, {
    symbol: "AAPL",
    qty: dec("10"),
    side: "buy",
    type: "limit",
    limit_price: dec("99"),
    time_in_force: "gtc",
    order_class: "bracket",
    take_profit: { limit_price: dec("101") },
    stop_loss: { stop_price: dec("98") },
  }, t);
  const [tp, sl] = bracket.legs!;
  const canceled: Order = { ...bracket, legs: null, status: "canceled", canceled_at: t };
  const cancelling: Order = {
    ...bracket,
    legs: null,
    id: "in-flight",
    client_order_id: "c-1",
    status: "pending_cancel",
  };
  const ioc: Order = {
    ...cancelling,
    id: "ioc",
    client_order_id: "c-2",
    status: "new",
    time_in_force: "ioc",
    order_class: "",
  };

  const b = exchange(seededIdSource("skip-2"), T0);
  // the entry is closed but not filled: its held legs were canceled with it
  const [r1] = b.restoreAccounts([["x", {
    cash: dec("100000"),
    positions: [],
    orders: [canceled, tp!, sl!, cancelling, ioc],
  }]], t);
  assertEquals(r1!.restored, []);
  assertEquals(r1!.skipped.map((s) => [s.id, s.reason]), [
    [bracket.id, "closed"],
    ["in-flight", '"pending_cancel" completes at once at this venue: the order was already closed'],
    ["ioc", '"ioc" orders never rest at this venue'],
    [tp!.id, "its parent order is closed, which closed it at this venue"],
    [sl!.id, "its parent order is closed, which closed it at this venue"],
  ]);
  // a nested entry brings its legs; they wait for it as before
  const [r2] = b.restoreAccounts(
    [["y", { cash: dec("100000"), positions: [], orders: [bracket] }]],
    t,
  );
  assertEquals(r2!.restored, [bracket.id, tp!.id, sl!.id]);
  assertEquals(
    JSON.stringify(b.getOrder("y", bracket.id, { nested: true })),
    JSON.stringify(ex.getOrder(A, bracket.id, { nested: true })),
  );
  assertEquals(b.account("y").buying_power.toString(), ex.account(A).buying_power.toString());
  assertEquals(b.drainEvents(), []);
});

Deno.test("restore: queued orders go live when the session allows, as before", () => {
  const PRE = Date.UTC(2026, 10, 23, 13, 0); // 08:00 ET
  const OPEN = Date.UTC(2026, 10, 23, 14, 30); // 09:30 ET
  const counted = countingIds("queued");
  const ex = exchange(counted.ids, PRE);
  const req: OrderRequest = {
    symbol: "AAPL",
    qty: dec("5"),
    side: "buy",
    type: "market",
    time_in_force: "day",
  };
  ex.submit("acct", req, PRE + 1000);
  ex.drainEvents();
  const state = ledgerState(ex, "acct");
  assertEquals(state.orders.map((o) => o.status), ["accepted"]);
  const b = exchange(continuedIds("queued", counted.drawn()), PRE);
  b.restoreAccounts([["acct", state]], ex.now);
  assertEquals(accountWire(b.account("acct")), accountWire(ex.account("acct")));
  for (const x of [ex, b]) {
    x.advance(OPEN);
    x.onQuote("AAPL", quote(100, 100.02), OPEN + 1000);
  }
  const ea = ex.drainEvents();
  assertEquals(ea.map((e) => e.update.event), ["pending_new", "new", "fill"]);
  assertEquals(b.drainEvents().map(wire), ea.map(wire));

  // restored while the session already allows it: it goes live at the next tick
  const c = exchange(seededIdSource("queued-2"), T0);
  c.restoreAccounts([["acct", state]], T0);
  assertEquals(c.drainEvents(), []);
  c.advance(T0 + 1000);
  assertEquals(c.drainEvents().map((e) => e.update.event), ["pending_new", "new"]);
  c.onQuote("AAPL", quote(100, 100.02), T0 + 2000);
  assertEquals(c.drainEvents().map((e) => e.update.event), ["fill"]);
});

Deno.test("restore: a fractional fill at 84.98 averages 84.98; cash and cost stay exact", () => {
  const ex = exchange(seededIdSource("frac"), T0);
  const at = T0 + 1000;
  ex.onQuote("AAPL", quote(84.97, 84.98), at);
  const buy = ex.submit("acct", {
    symbol: "AAPL",
    qty: dec("0.066423869"),
    side: "buy",
    type: "market",
    time_in_force: "day",
  }, at);
  const events = ex.drainEvents();
  const fill = events.find((e) => e.update.event === "fill")!;
  assertEquals(fill.fill!.amount.toString(), "5.644700388"); // 5.64470038762, half-even
  assertEquals(fill.update.amount?.toString(), "5.644700388");
  assertEquals(ex.getOrder("acct", buy.id).filled_avg_price?.toString(), "84.98");
  const [p] = ex.positions("acct");
  assertEquals([p!.avg_entry_price.toString(), p!.cost_basis.toString()], ["84.98", "5.644700388"]);
  assertEquals(ex.account("acct").cash.toString(), "99994.355299612");
  // a notional buy: the amount is at most the notional, and the average is the price
  const n = ex.submit("acct", {
    symbol: "AAPL",
    notional: dec("10"),
    side: "buy",
    type: "market",
    time_in_force: "day",
  }, at);
  ex.drainEvents();
  const filled = ex.getOrder("acct", n.id);
  assertEquals([filled.filled_qty.toString(), filled.filled_avg_price?.toString()], [
    "0.117674746",
    "84.98",
  ]);
  assertEquals(ex.account("acct").cash.toString(), "99984.355299697"); // − 9.999999915

  const state = ledgerState(ex, "acct");
  const b = exchange(seededIdSource("frac-2"), T0);
  b.onQuote("AAPL", quote(84.97, 84.98), at);
  b.restoreAccounts([["acct", state]], at);
  assertEquals(accountWire(b.account("acct")), accountWire(ex.account("acct")));
  assertEquals(JSON.stringify(b.positions("acct")), JSON.stringify(ex.positions("acct")));
});
