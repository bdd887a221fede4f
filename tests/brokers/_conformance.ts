/**
 * The Broker conformance suite: the contract of the {@link Broker} port as the execution engine
 * relies on it, run against any adapter. The paper venue passes it
 * (`tests/brokers/paper/conformance_test.ts`); the Alpaca adapter runs it against a served
 * Tradewind's `/v2` face (`tests/alpaca_e2e_test.ts`).
 *
 * Each check gets a fresh venue from `setup`, so no check depends on another's orders.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import type { Broker, MarketData, TradeUpdate } from "../../brokers/broker.ts";
import { Decimal } from "../../core/decimal.ts";
import { TradeError } from "../../core/errors.ts";
import { type Order, ORDER_STATUSES, type OrderRequest } from "../../core/order_types.ts";

/** A venue under test, as a {@link ConformanceSetup} builds it. */
export interface ConformanceVenue {
  /** The broker of one fresh account with the venue's starting cash. */
  broker: Broker;
  /** The venue's market data, to price limit and stop orders around the market. */
  marketData: MarketData;
  /** Moves the venue's market forward by `ms`, so that marketable orders fill. */
  advance(ms: number): Promise<void>;
  /**
   * Gives events in flight (trade updates on a network stream) a chance to arrive; called
   * between polls of a condition. Default: one macrotask.
   */
  settle?(): Promise<void>;
  /** Stops everything `setup` started. */
  close(): Promise<void>;
}

/** Builds a fresh venue for one check. */
export type ConformanceSetup = () => Promise<ConformanceVenue>;

/** Options of {@link brokerConformance}. */
export interface ConformanceOptions {
  /** Extra `Deno.test` options (e.g. sanitizers off for database-backed venues). */
  test?: Omit<Deno.TestDefinition, "name" | "fn">;
  /** How many polls a wait for an event may take before it fails. Default 2000. */
  maxPolls?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const d = (s: string) => Decimal.parse(s);

/** What one check sees: the venue, the trade updates it has sent, and helpers. */
interface Ctx extends ConformanceVenue {
  updates: TradeUpdate[];
  /** Polls `cond` (settling between polls) until it holds; fails naming `what` otherwise. */
  until(cond: () => boolean, what: string): Promise<void>;
  /** The ask of `symbol` as a decimal. */
  ask(symbol: string): Promise<Decimal>;
  /** Buys `qty` at market and waits for the order to fill; answers its fills. */
  buyFilled(symbol: string, qty: string): Promise<{ order: Order; fills: TradeUpdate[] }>;
}

/** Fails unless `order` carries Alpaca's order fields with the right types. */
export function assertAlpacaOrder(order: Order, request?: Partial<OrderRequest>): void {
  assert(UUID.test(order.id), `order id is a UUID: ${order.id}`);
  assert(order.client_order_id.length > 0, "client_order_id is set");
  assert(UUID.test(order.asset_id), `asset_id is a UUID: ${order.asset_id}`);
  assert(ORDER_STATUSES.includes(order.status), `known status: ${order.status}`);
  assert(Number.isFinite(order.created_at), "created_at is a time");
  assert(order.filled_qty instanceof Decimal, "filled_qty is a Decimal");
  assertEquals(order.asset_class, "us_equity");
  if (request?.symbol) assertEquals(order.symbol, request.symbol);
  if (request?.side) assertEquals(order.side, request.side);
  if (request?.time_in_force) assertEquals(order.time_in_force, request.time_in_force);
  if (request?.qty) assert(order.qty?.eq(request.qty), `qty ${order.qty} = ${request.qty}`);
  if (request?.limit_price && order.type === request.type) {
    assert(order.limit_price?.eq(request.limit_price), `limit_price ${order.limit_price}`);
  }
  if (request?.client_order_id) assertEquals(order.client_order_id, request.client_order_id);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await assertRejects(() => p, TradeError);
  return e.code;
}

/**
 * Registers the conformance checks as `Deno.test`s named `"<name> conformance: …"`.
 *
 * @example
 * ```ts
 * brokerConformance("paper", async () => ({ broker, marketData, advance, close }));
 * ```
 */
export function brokerConformance(
  name: string,
  setup: ConformanceSetup,
  options: ConformanceOptions = {},
): void {
  const maxPolls = options.maxPolls ?? 2000;
  const check = (title: string, fn: (c: Ctx) => Promise<void>) =>
    Deno.test({
      ...options.test,
      name: `${name} conformance: ${title}`,
      async fn() {
        const venue = await setup();
        const updates: TradeUpdate[] = [];
        const stop = venue.broker.onTradeUpdate((u) => updates.push(u));
        const settle = venue.settle ?? (() => new Promise<void>((r) => setTimeout(r, 0)));
        const ctx: Ctx = {
          ...venue,
          updates,
          async until(cond, what) {
            for (let i = 0; i < maxPolls; i++) {
              if (cond()) return;
              await settle();
            }
            throw new Error(
              `Timed out waiting for ${what}; updates: ${
                JSON.stringify(updates.map((u) => [u.event, u.order.client_order_id]))
              }`,
            );
          },
          async ask(symbol) {
            const q = await venue.marketData.latestQuote(symbol);
            return Decimal.parse(q.ap > 0 ? q.ap : q.bp, "half_even").round(2);
          },
          async buyFilled(symbol, qty) {
            const order = await venue.broker.submitOrder({
              symbol,
              qty: d(qty),
              side: "buy",
              type: "market",
              time_in_force: "day",
            });
            const done = () => updates.some((u) => u.order.id === order.id && u.event === "fill");
            for (let i = 0; i < 20 && !done(); i++) await venue.advance(1000);
            await ctx.until(done, `the fill of ${order.client_order_id}`);
            const fills = updates.filter((u) =>
              u.order.id === order.id && (u.event === "fill" || u.event === "partial_fill")
            );
            return { order, fills };
          },
        };
        try {
          await fn(ctx);
        } finally {
          stop();
          await venue.close();
        }
      },
    });

  check("every order type answers an Order with Alpaca's fields", async (c) => {
    const ask = await c.ask("AAPL");
    const below = ask.mul(d("0.8")).round(2);
    const above = ask.mul(d("1.2")).round(2);
    const requests: OrderRequest[] = [
      { symbol: "AAPL", qty: d("1"), side: "buy", type: "market", time_in_force: "day" },
      {
        symbol: "AAPL",
        qty: d("2"),
        side: "buy",
        type: "limit",
        time_in_force: "gtc",
        limit_price: below,
      },
      {
        symbol: "AAPL",
        qty: d("1"),
        side: "buy",
        type: "stop",
        time_in_force: "day",
        stop_price: above,
      },
      {
        symbol: "AAPL",
        qty: d("1"),
        side: "buy",
        type: "stop_limit",
        time_in_force: "day",
        stop_price: above,
        limit_price: above.add(d("1")),
      },
      {
        symbol: "MSFT",
        qty: d("1"),
        side: "sell",
        type: "trailing_stop",
        time_in_force: "day",
        trail_percent: d("5"),
      },
      {
        symbol: "AAPL",
        qty: d("1"),
        side: "buy",
        type: "limit",
        time_in_force: "gtc",
        limit_price: below,
        order_class: "bracket",
        take_profit: { limit_price: above },
        stop_loss: { stop_price: below.sub(d("1")) },
      },
      {
        symbol: "AAPL",
        qty: d("1"),
        side: "buy",
        type: "limit",
        time_in_force: "gtc",
        limit_price: below,
        order_class: "oto",
        stop_loss: { stop_price: below.sub(d("1")) },
      },
    ];
    // The sells (trailing stop, OCO exit) need shares, on another symbol than the buys: an
    // opposite-side order on the same symbol is a potential wash trade.
    await c.buyFilled("MSFT", "5");
    for (const [i, r] of requests.entries()) {
      const req = { ...r, client_order_id: `conf-type-${i}` };
      const order = await c.broker.submitOrder(req);
      assertAlpacaOrder(order, req);
      if (r.type === "stop") assert(["stop", "stop_limit"].includes(order.type), order.type);
      else assertEquals(order.type, r.type);
      if (r.order_class) {
        assertEquals(order.order_class, r.order_class);
        const nested = await c.broker.getOrder(order.id, { nested: true });
        const legs = nested.legs ?? [];
        assertEquals(legs.length, r.order_class === "bracket" ? 2 : 1, `${r.order_class} legs`);
        for (const leg of legs) assertAlpacaOrder(leg);
      }
    }
    const msft = await c.ask("MSFT");
    const oco = await c.broker.submitOrder({
      symbol: "MSFT",
      qty: d("1"),
      side: "sell",
      type: "limit",
      time_in_force: "gtc",
      order_class: "oco",
      client_order_id: "conf-oco",
      take_profit: { limit_price: msft.mul(d("1.2")).round(2) },
      stop_loss: { stop_price: msft.mul(d("0.8")).round(2) },
    });
    assertAlpacaOrder(oco, { symbol: "MSFT", side: "sell", client_order_id: "conf-oco" });
    assertEquals(oco.order_class, "oco");
  });

  check(
    "getOrder and getOrderByClientId find an order; unknown ids are ORDER_NOT_FOUND",
    async (c) => {
      const placed = await c.broker.submitOrder({
        symbol: "MSFT",
        qty: d("1"),
        side: "buy",
        type: "limit",
        time_in_force: "day",
        limit_price: (await c.ask("MSFT")).mul(d("0.5")).round(2),
        client_order_id: "conf-get-1",
      });
      const byId = await c.broker.getOrder(placed.id);
      assertEquals(byId.id, placed.id);
      assertEquals(byId.client_order_id, "conf-get-1");
      assertAlpacaOrder(byId, { symbol: "MSFT", side: "buy" });
      const byCid = await c.broker.getOrderByClientId("conf-get-1");
      assertEquals(byCid.id, placed.id);
      assertEquals(await codeOf(c.broker.getOrder(crypto.randomUUID())), "ORDER_NOT_FOUND");
      assertEquals(await codeOf(c.broker.getOrderByClientId("conf-nope")), "ORDER_NOT_FOUND");
    },
  );

  check("a repeated client_order_id is DUPLICATE_CLIENT_ORDER_ID and places nothing", async (c) => {
    const req: OrderRequest = {
      symbol: "AAPL",
      qty: d("1"),
      side: "buy",
      type: "limit",
      time_in_force: "day",
      limit_price: (await c.ask("AAPL")).mul(d("0.5")).round(2),
      client_order_id: "conf-dup",
    };
    const first = await c.broker.submitOrder(req);
    assertEquals(await codeOf(c.broker.submitOrder(req)), "DUPLICATE_CLIENT_ORDER_ID");
    const all = await c.broker.listOrders({ status: "all", limit: 500 });
    assertEquals(all.filter((o) => o.client_order_id === "conf-dup").map((o) => o.id), [first.id]);
  });

  check(
    "listOrders filters by status, limit, after/until, direction, nested, symbols, side",
    async (c) => {
      const low = (await c.ask("AAPL")).mul(d("0.5")).round(2);
      const placed: Order[] = [];
      const place = async (symbol: string, side: "buy" | "sell", cid: string) => {
        const price = side === "buy"
          ? (await c.ask(symbol)).mul(d("0.5")).round(2)
          : low.mul(d("4"));
        placed.push(
          await c.broker.submitOrder({
            symbol,
            qty: d("1"),
            side,
            type: "limit",
            time_in_force: "gtc",
            limit_price: price,
            client_order_id: cid,
          }),
        );
        await c.advance(1000);
      };
      const { order: filled } = await c.buyFilled("AAPL", "2");
      await c.advance(1000);
      await place("AAPL", "buy", "conf-l-1");
      await place("MSFT", "buy", "conf-l-2");
      await place("AAPL", "sell", "conf-l-3");
      const bracket = await c.broker.submitOrder({
        symbol: "MSFT",
        qty: d("1"),
        side: "buy",
        type: "limit",
        time_in_force: "gtc",
        limit_price: (await c.ask("MSFT")).mul(d("0.5")).round(2),
        order_class: "bracket",
        client_order_id: "conf-l-4",
        take_profit: { limit_price: (await c.ask("MSFT")).mul(d("2")) },
        stop_loss: { stop_price: (await c.ask("MSFT")).mul(d("0.4")).round(2) },
      });
      const cids = (os: Order[]) => os.map((o) => o.client_order_id);

      const open = await c.broker.listOrders();
      assert(!open.some((o) => o.id === filled.id), "the default status is open");
      assert(
        open.every((o) =>
          !["filled", "canceled", "expired", "rejected", "replaced"].includes(o.status)
        ),
      );
      const closed = await c.broker.listOrders({ status: "closed" });
      assertEquals(
        closed.map((o) => o.id),
        [filled.id],
      );
      const all = await c.broker.listOrders({ status: "all", nested: true });
      assertEquals(cids(all), [
        "conf-l-4",
        "conf-l-3",
        "conf-l-2",
        "conf-l-1",
        filled.client_order_id,
      ]);
      assertEquals(all[0]!.legs?.length, 2, "nested rolls the bracket's legs into it");
      const flat = await c.broker.listOrders({ status: "all", limit: 500 });
      assert(
        flat.length > all.length,
        "without nested the legs are listed too (or at least not lost)",
      );
      const asc = await c.broker.listOrders({ status: "all", nested: true, direction: "asc" });
      assertEquals(cids(asc), cids(all).reverse());
      assertEquals(cids(await c.broker.listOrders({ status: "all", nested: true, limit: 2 })), [
        "conf-l-4",
        "conf-l-3",
      ]);
      const t = (o: Order) => o.submitted_at ?? o.created_at;
      const window = await c.broker.listOrders({
        status: "all",
        nested: true,
        after: t(placed[0]!),
        until: t(bracket),
      });
      assertEquals(cids(window), ["conf-l-3", "conf-l-2"], "after and until are exclusive");
      const msft = await c.broker.listOrders({ status: "all", nested: true, symbols: ["MSFT"] });
      assertEquals(cids(msft), ["conf-l-4", "conf-l-2"]);
      const sells = await c.broker.listOrders({ status: "all", nested: true, side: "sell" });
      assertEquals(cids(sells), ["conf-l-3"]);
    },
  );

  check("replaceOrder answers a new order that replaces the old one", async (c) => {
    const low = (await c.ask("AAPL")).mul(d("0.5")).round(2);
    const old = await c.broker.submitOrder({
      symbol: "AAPL",
      qty: d("2"),
      side: "buy",
      type: "limit",
      time_in_force: "gtc",
      limit_price: low,
      client_order_id: "conf-rep-old",
    });
    await c.until(
      () => c.updates.some((u) => u.order.id === old.id),
      "the old order's first event",
    );
    const next = await c.broker.replaceOrder(old.id, {
      qty: d("3"),
      limit_price: low.add(d("0.01")),
      client_order_id: "conf-rep-new",
    });
    assert(next.id !== old.id, "a replace makes a new order id");
    assertEquals(next.replaces, old.id);
    assertEquals(next.client_order_id, "conf-rep-new");
    assert(next.qty?.eq(d("3")), `new qty ${next.qty}`);
    assert(next.limit_price?.eq(low.add(d("0.01"))), `new limit ${next.limit_price}`);
    await c.until(
      () => c.updates.some((u) => u.order.id === old.id && u.event === "replaced"),
      "the replaced event",
    );
    const was = await c.broker.getOrder(old.id);
    assertEquals(was.status, "replaced");
    assertEquals(was.replaced_by, next.id);
  });

  check(
    "cancelOrder ends in a canceled trade update; cancelAllOrders cancels the rest",
    async (c) => {
      const low = (await c.ask("AAPL")).mul(d("0.5")).round(2);
      const ids: string[] = [];
      for (const cid of ["conf-c-1", "conf-c-2", "conf-c-3"]) {
        ids.push(
          (await c.broker.submitOrder({
            symbol: "AAPL",
            qty: d("1"),
            side: "buy",
            type: "limit",
            time_in_force: "gtc",
            limit_price: low,
            client_order_id: cid,
          })).id,
        );
      }
      await c.broker.cancelOrder(ids[0]!);
      const canceled = (id: string) =>
        c.updates.some((u) => u.order.id === id && u.event === "canceled");
      await c.until(() => canceled(ids[0]!), "the canceled event");
      const ev = c.updates.find((u) => u.order.id === ids[0] && u.event === "canceled")!;
      assertEquals(ev.order.status, "canceled");
      assert(Number.isFinite(ev.timestamp), "a canceled event carries its timestamp");
      assertEquals(await codeOf(c.broker.cancelOrder(ids[0]!)), "ORDER_NOT_CANCELABLE");
      const results = await c.broker.cancelAllOrders();
      assertEquals(results.map((r) => r.id).sort(), [ids[1]!, ids[2]!].sort());
      assert(results.every((r) => r.status === 200), JSON.stringify(results));
      await c.until(() => canceled(ids[1]!) && canceled(ids[2]!), "cancel-all's events");
      assertEquals((await c.broker.listOrders()).length, 0);
    },
  );

  check("a fill moves the account and the position by exact decimals", async (c) => {
    const before = await c.broker.getAccount();
    assertEquals(before.status, "ACTIVE");
    assertEquals(before.currency, "USD");
    const { order, fills } = await c.buyFilled("AAPL", "7");
    let qty = Decimal.ZERO;
    let cost = Decimal.ZERO;
    for (const f of fills) {
      qty = qty.add(f.qty!);
      cost = cost.add(f.amount ?? f.qty!.mul(f.price!).round(9));
    }
    assert(qty.eq(d("7")), `filled ${qty}`);
    const after = await c.broker.getAccount();
    assert(after.cash.eq(before.cash.sub(cost)), `cash ${after.cash} = ${before.cash} - ${cost}`);
    const pos = await c.broker.getPosition("AAPL");
    assertEquals(pos.symbol, "AAPL");
    assertEquals(pos.side, "long");
    assertEquals(pos.asset_id, order.asset_id);
    assert(pos.qty.eq(d("7")), `position qty ${pos.qty}`);
    assert(pos.cost_basis.eq(cost), `cost_basis ${pos.cost_basis} = ${cost}`);
    const avg = cost.div(qty);
    assert(
      pos.avg_entry_price.sub(avg).abs().lte(d("0.000001")),
      `avg ${pos.avg_entry_price} ~ ${avg}`,
    );
    const listed = await c.broker.listPositions();
    assertEquals(listed.map((p) => p.symbol), ["AAPL"]);
    assert(listed[0]!.qty.eq(pos.qty));
    assertEquals(await codeOf(c.broker.getPosition("MSFT")), "POSITION_NOT_FOUND");
  });

  check("closePosition by qty and percentage; closeAllPositions flattens the rest", async (c) => {
    await c.buyFilled("AAPL", "10");
    await c.buyFilled("MSFT", "4");
    const byQty = await c.broker.closePosition("AAPL", { qty: d("3") });
    assertAlpacaOrder(byQty, { symbol: "AAPL", side: "sell", qty: d("3") });
    assertEquals(byQty.type, "market");
    const filled = (id: string) => c.updates.some((u) => u.order.id === id && u.event === "fill");
    for (let i = 0; i < 20 && !filled(byQty.id); i++) await c.advance(1000);
    await c.until(() => filled(byQty.id), "the close-by-qty fill");
    assert((await c.broker.getPosition("AAPL")).qty.eq(d("7")));
    const byPct = await c.broker.closePosition("AAPL", { percentage: d("50") });
    assert(byPct.qty?.eq(d("3")), `50% of 7 whole shares rounds down to 3: ${byPct.qty}`);
    for (let i = 0; i < 20 && !filled(byPct.id); i++) await c.advance(1000);
    await c.until(() => filled(byPct.id), "the close-by-percentage fill");
    assert((await c.broker.getPosition("AAPL")).qty.eq(d("4")));
    const results = await c.broker.closeAllPositions({ cancelOrders: true });
    assertEquals(results.map((r) => [r.symbol, r.status]), [["AAPL", 200], ["MSFT", 200]]);
    for (const r of results) assert(r.order && r.order.side === "sell", JSON.stringify(r));
    const ids = results.map((r) => r.order!.id);
    for (let i = 0; i < 20 && !ids.every(filled); i++) await c.advance(1000);
    await c.until(() => ids.every(filled), "the close-all fills");
    assertEquals(await c.broker.listPositions(), []);
    assertEquals(await codeOf(c.broker.closePosition("AAPL")), "POSITION_NOT_FOUND");
  });

  check("clock, calendar and assets; an unknown asset is ASSET_NOT_FOUND", async (c) => {
    const clock = await c.broker.getClock();
    assertEquals(typeof clock.is_open, "boolean");
    for (const t of [clock.timestamp, clock.next_open, clock.next_close]) {
      assert(/[+-]\d\d:\d\d$|Z$/.test(t) && Number.isFinite(Date.parse(t)), `RFC-3339: ${t}`);
    }
    assert(Date.parse(clock.next_close) > Date.parse(clock.timestamp), "next_close is ahead");
    const days = await c.broker.getCalendar("2026-11-23", "2026-11-27");
    assertEquals(days.map((x) => x.date), ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27"]);
    assertEquals(days.map((x) => x.close), ["16:00", "16:00", "16:00", "13:00"]);
    assertEquals(days[0]!.open, "09:30");
    assertEquals(days[0]!.settlementDate, "2026-11-24");
    const assets = await c.broker.listAssets();
    const aapl = assets.find((a) => a.symbol === "AAPL");
    assert(aapl, "AAPL is listed");
    assertEquals(aapl.class, "us_equity");
    assertEquals(aapl.tradable, true);
    assertEquals((await c.broker.getAsset("AAPL")).id, aapl.id);
    assertEquals((await c.broker.getAsset(aapl.id)).symbol, "AAPL");
    assertEquals(await codeOf(c.broker.getAsset("NOPEXYZ")), "ASSET_NOT_FOUND");
  });

  check("trade updates arrive in order, every fill with price, qty and execution_id", async (c) => {
    const { order, fills } = await c.buyFilled("AAPL", "25");
    const mine = c.updates.filter((u) => u.order.id === order.id);
    assertEquals(mine.at(-1)!.event, "fill");
    assertEquals(mine.at(-1)!.order.status, "filled");
    let cum = Decimal.ZERO;
    for (const f of fills) {
      assert(f.price?.isPositive(), `fill price ${f.price}`);
      assert(f.qty?.isPositive(), `fill qty ${f.qty}`);
      assert(f.execution_id && f.execution_id.length > 0, "execution_id");
      cum = cum.add(f.qty!);
      assert(f.order.filled_qty.eq(cum), `filled_qty ${f.order.filled_qty} runs with fills ${cum}`);
      assert(f.position_qty?.eq(cum), `position_qty ${f.position_qty} = ${cum}`);
    }
    const execs = new Set(fills.map((f) => f.execution_id));
    assertEquals(execs.size, fills.length, "execution ids are unique");
    const times = mine.map((u) => u.timestamp);
    for (let i = 1; i < times.length; i++) assert(times[i]! >= times[i - 1]!, "in time order");
    const firstFill = mine.findIndex((u) => u.event === "fill" || u.event === "partial_fill");
    assert(
      mine.slice(firstFill).every((u) => u.event === "fill" || u.event === "partial_fill"),
      `no acknowledgement after a fill: ${mine.map((u) => u.event)}`,
    );
  });
}
