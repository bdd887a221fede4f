/**
 * Broker conformance: placing, finding, listing, replacing and canceling orders.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { TradeError } from "../../core/errors.ts";
import type { Order, OrderRequest } from "../../core/order_types.ts";
import { assertAlpacaOrder, type Check, codeOf, d } from "./_conformance_ctx.ts";

/** Registers the checks with `check`. */
export function orderChecks(check: Check): void {
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

  check("a reused client_order_id is DUPLICATE_CLIENT_ORDER_ID and places nothing", async (c) => {
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
    // Another order under the id: refused, as Alpaca does.
    const other = { ...req, qty: d("2") };
    assertEquals(await codeOf(c.broker.submitOrder(other)), "DUPLICATE_CLIENT_ORDER_ID");
    // The very same request: Alpaca and the paper venue refuse it too; Tradewind's /v2 face
    // answers the existing order instead (documented: a replay is idempotent). Either way,
    // never a second order.
    try {
      const again = await c.broker.submitOrder(req);
      assertEquals(again.id, first.id, "a replay answers the one existing order");
    } catch (e) {
      assert(e instanceof TradeError, String(e));
      assertEquals(e.code, "DUPLICATE_CLIENT_ORDER_ID");
    }
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
    // A closed order cannot be replaced; an unknown one is not found.
    assertEquals(
      await codeOf(c.broker.replaceOrder(old.id, { qty: d("4") })),
      "ORDER_NOT_REPLACEABLE",
    );
    assertEquals(
      await codeOf(c.broker.replaceOrder(crypto.randomUUID(), { qty: d("4") })),
      "ORDER_NOT_FOUND",
    );
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
      assertEquals(await codeOf(c.broker.cancelOrder(crypto.randomUUID())), "ORDER_NOT_FOUND");
      const first = c.updates.find((u) => u.order.id === ids[0]);
      assert(
        first && ["new", "accepted", "pending_new"].includes(first.event),
        `a resting order's first event acknowledges it: ${first?.event}`,
      );
      const results = await c.broker.cancelAllOrders();
      assertEquals(results.map((r) => r.id).sort(), [ids[1]!, ids[2]!].sort());
      assert(results.every((r) => r.status === 200), JSON.stringify(results));
      await c.until(() => canceled(ids[1]!) && canceled(ids[2]!), "cancel-all's events");
      assertEquals((await c.broker.listOrders()).length, 0);
    },
  );
}
