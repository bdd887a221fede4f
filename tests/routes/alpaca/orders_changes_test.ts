/**
 * The Alpaca face's order routes through the official SDK, continued: replace (a bracket's
 * entry too), cancel and cancel all, and every time in force.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { setUp } from "./_orders.ts";

Deno.test({
  name: "alpaca orders: replace, cancel and cancel all through the SDK",
  ...DB_TEST,
}, async () => {
  const { t, alpaca, raw } = await setUp("changer");
  try {
    const o = alpaca.trading.orders;
    const resting = await o.limit({
      symbol: "AAPL",
      qty: 2,
      side: "buy",
      limitPrice: 50,
      timeInForce: "gtc",
    });
    const replaced = await o.patchOrderByOrderId({
      orderId: resting.id!,
      patchOrderRequest: { limitPrice: "51.5", qty: "3", clientOrderId: "replacement" },
    });
    assert(replaced.id !== resting.id, "a replace makes a new order");
    assertEquals(
      [replaced.replaces, replaced.limitPrice, replaced.qty, replaced.clientOrderId],
      [resting.id, "51.5", "3", "replacement"],
    );
    await t.trading.advance(500);
    const old = await o.getOrderByOrderID({ orderId: resting.id! });
    assertEquals([old.status, old.replacedBy], ["replaced", replaced.id]);

    // A trailing stop's trail is replaced in its own kind (percent stays percent).
    const trailing = await o.trailingStop({
      symbol: "MSFT",
      qty: 1,
      side: "buy",
      trailPercent: 3,
      timeInForce: "gtc",
    });
    const retrailed = await o.patchOrderByOrderId({
      orderId: trailing.id!,
      patchOrderRequest: { trail: "4.5" },
    });
    assertEquals(
      [retrailed.replaces, retrailed.trailPercent, retrailed.trailPrice],
      [trailing.id, "4.5", undefined],
    );

    // A bracket's entry is replaced before it fills (the README's example).
    const entry = await o.bracket({
      symbol: "AAPL",
      qty: 2,
      side: "buy",
      limitPrice: 60,
      timeInForce: "gtc",
      takeProfit: { limitPrice: 400 },
      stopLoss: { stopPrice: 55 },
    });
    const moved = await o.patchOrderByOrderId({
      orderId: entry.id!,
      patchOrderRequest: { limitPrice: "61" },
    });
    assertEquals([moved.replaces, moved.limitPrice, moved.orderClass], [entry.id, "61", "bracket"]);
    // The exits go with the group: under the entry that replaced the first, in every view.
    const exitIds = entry.legs!.map((l) => l.id);
    assertEquals(moved.legs?.map((l) => l.id), exitIds);
    await t.trading.advance(500);
    const current = await o.getOrderByOrderID({ orderId: moved.id!, nested: true });
    assertEquals(current.legs?.map((l) => [l.id, l.status]), exitIds.map((id) => [id, "held"]));
    assertEquals((await o.getOrderByOrderID({ orderId: entry.id!, nested: true })).legs, undefined);
    const openGroups = await o.getAllOrders({ status: "open", nested: true, symbols: "AAPL" });
    assertEquals(
      openGroups.filter((g) => g.orderClass === "bracket").map((g) => [g.id, g.legs?.length]),
      [[moved.id, 2]],
    );
    const closedGroups = await o.getAllOrders({ status: "closed", nested: true, symbols: "AAPL" });
    assertEquals(
      closedGroups.filter((g) => g.orderClass === "bracket").map((g) => [g.id, g.legs]),
      [[entry.id, undefined]],
    );
    await o.deleteOrderByOrderID({ orderId: moved.id! });
    await t.trading.advance(500);
    const canceled = await o.getOrderByClientOrderId({ clientOrderId: moved.clientOrderId! });
    assertEquals(canceled.legs?.map((l) => l.status), ["canceled", "canceled"]);

    // Cancel one: 204 with an empty body.
    const del = await raw(`/v2/orders/${replaced.id}`, { method: "DELETE" });
    assertEquals([del.status, await del.text()], [204, ""]);
    await t.trading.advance(500);
    assertEquals((await o.getOrderByOrderID({ orderId: replaced.id! })).status, "canceled");
    // Through the SDK too.
    const another = await o.limit({ symbol: "MSFT", qty: 1, side: "buy", limitPrice: 40 });
    await o.deleteOrderByOrderID({ orderId: another.id! });
    await t.trading.advance(500);
    assertEquals((await o.getOrderByOrderID({ orderId: another.id! })).status, "canceled");

    // Cancel all: 207, one {id, status} per open order.
    const a = await o.limit({ symbol: "AAPL", qty: 1, side: "buy", limitPrice: 30 });
    const b = await o.limit({ symbol: "MSFT", qty: 1, side: "buy", limitPrice: 30 });
    const res = await raw("/v2/orders", { method: "DELETE" });
    assertEquals(res.status, 207);
    const items = await res.json();
    assertEquals(
      items.map((i: { id: string; status: number }) => [i.id, i.status]).sort(),
      [[a.id, 200], [b.id, 200], [retrailed.id, 200]].sort(),
    );
    await t.trading.advance(500);
    const c = await o.limit({ symbol: "AAPL", qty: 1, side: "buy", limitPrice: 31 });
    const sdkItems = await o.deleteAllOrders();
    assertEquals(sdkItems, [{ id: c.id, status: 200 }]);
    await t.trading.advance(500);
    assertEquals((await o.getAllOrders()).length, 0);
    assertEquals(await o.deleteAllOrders(), []);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "alpaca orders: every time in force, extended hours and position intent through the SDK",
  ...DB_TEST,
}, async () => {
  const { t, alpaca } = await setUp("sdk-tifs");
  try {
    const o = alpaca.trading.orders;
    for (const timeInForce of ["day", "gtc", "opg", "cls", "ioc", "fok"] as const) {
      const market = await o.market({ symbol: "AAPL", qty: 1, side: "buy", timeInForce });
      const limit = await o.limit({
        symbol: "AAPL",
        qty: 1,
        side: "buy",
        limitPrice: 50,
        timeInForce,
      });
      assertEquals([market.timeInForce, limit.timeInForce], [timeInForce, timeInForce]);
      // An immediate-or-cancel limit far below the market cancels; the others rest.
      const ioc = timeInForce === "ioc" || timeInForce === "fok";
      assertEquals(limit.status, ioc ? "canceled" : "new", timeInForce);
    }
    const extended = await o.limit({
      symbol: "MSFT",
      qty: 1,
      side: "buy",
      limitPrice: 50,
      extendedHours: true,
      positionIntent: "buy_to_open",
    });
    assertEquals([extended.extendedHours, extended.positionIntent], [true, "buy_to_open"]);
  } finally {
    await t.close();
  }
});
