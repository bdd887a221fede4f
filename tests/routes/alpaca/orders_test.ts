/**
 * The Alpaca face's order routes, driven by the official SDK (`@alpacahq/alpaca-trade-api`,
 * unmodified) over real HTTP against a served Tradewind on the paper venue: every order
 * builder, orders placed on one face read on the other, and list with its filters, get and
 * get by client order id.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { quote, setUp } from "./_orders.ts";

/** Every key of Alpaca's Order JSON (ALPACA.md §3.2) and nothing Tradewind-only. */
const ORDER_KEYS = [
  "asset_class",
  "asset_id",
  "canceled_at",
  "client_order_id",
  "created_at",
  "expired_at",
  "expires_at",
  "extended_hours",
  "failed_at",
  "filled_at",
  "filled_avg_price",
  "filled_qty",
  "hwm",
  "id",
  "legs",
  "limit_price",
  "notional",
  "order_class",
  "order_type",
  "position_intent",
  "qty",
  "replaced_at",
  "replaced_by",
  "replaces",
  "side",
  "source",
  "status",
  "stop_price",
  "subtag",
  "submitted_at",
  "symbol",
  "time_in_force",
  "trail_percent",
  "trail_price",
  "type",
  "updated_at",
];

Deno.test({
  name: "alpaca orders: every SDK order builder places its order through the one path",
  ...DB_TEST,
}, async () => {
  const { t, alpaca, raw } = await setUp("sdk-builders");
  try {
    const orders = alpaca.trading.orders;
    const aapl = await quote(t, "AAPL");
    const msft = await quote(t, "MSFT");
    const low = (p: number) => (p * 0.8).toFixed(2);
    const high = (p: number) => (p * 1.2).toFixed(2);

    const market = await orders.market({
      symbol: "AAPL",
      qty: 5,
      side: "buy",
      clientOrderId: "sdk-market",
    });
    assertEquals(
      [market.symbol, market.qty, market.type, market.side, market.timeInForce],
      ["AAPL", "5", "market", "buy", "day"],
    );
    assertEquals(market.clientOrderId, "sdk-market");
    assert(market.createdAt instanceof Date, "created_at is a timestamp");
    const notional = await orders.market({ symbol: "MSFT", notional: "250.50", side: "buy" });
    assertEquals([notional.notional, notional.qty], ["250.5", undefined]);
    const limit = await orders.limit({
      symbol: "AAPL",
      qty: "2",
      side: "buy",
      limitPrice: low(aapl.bp),
      timeInForce: "gtc",
    });
    assertEquals([limit.type, limit.limitPrice, limit.timeInForce], ["limit", low(aapl.bp), "gtc"]);
    const stop = await orders.stop({
      symbol: "AAPL",
      qty: 1,
      side: "buy",
      stopPrice: high(aapl.ap),
    });
    assertEquals([stop.type, stop.stopPrice], ["stop", high(aapl.ap)]);
    const stopLimit = await orders.stopLimit({
      symbol: "AAPL",
      qty: 1,
      side: "buy",
      stopPrice: high(aapl.ap),
      limitPrice: (aapl.ap * 1.25).toFixed(2),
    });
    assertEquals([stopLimit.type, stopLimit.limitPrice], [
      "stop_limit",
      (aapl.ap * 1.25).toFixed(2),
    ]);
    const trailPrice = await orders.trailingStop({
      symbol: "MSFT",
      qty: 1,
      side: "buy",
      trailPrice: 5,
    });
    assertEquals([trailPrice.type, trailPrice.trailPrice], ["trailing_stop", "5"]);
    const trailPercent = await orders.trailingStop({
      symbol: "MSFT",
      qty: 1,
      side: "buy",
      trailPercent: "2.5",
      timeInForce: "gtc",
    });
    assertEquals([trailPercent.trailPercent, trailPercent.trailPrice], ["2.5", undefined]);
    const bracket = await orders.bracket({
      symbol: "MSFT",
      qty: 3,
      side: "buy",
      limitPrice: low(msft.bp),
      takeProfit: { limitPrice: high(msft.ap) },
      stopLoss: { stopPrice: (msft.bp * 0.7).toFixed(2), limitPrice: (msft.bp * 0.69).toFixed(2) },
      timeInForce: "gtc",
    });
    assertEquals([bracket.orderClass, bracket.type, bracket.status], ["bracket", "limit", "new"]);
    assertEquals(
      bracket.legs?.map((l) => [l.type, l.side, l.status, l.limitPrice, l.stopPrice]),
      [
        ["limit", "sell", "held", high(msft.ap), undefined],
        ["stop_limit", "sell", "held", (msft.bp * 0.69).toFixed(2), (msft.bp * 0.7).toFixed(2)],
      ],
    );
    const oto = await orders.oto({
      symbol: "AAPL",
      qty: 1,
      side: "buy",
      takeProfit: { limitPrice: high(aapl.ap) },
    });
    assertEquals([oto.orderClass, oto.type, oto.legs?.length], ["oto", "market", 1]);

    // OCO exits a position: 4 JPM bought first.
    const jpm = await quote(t, "JPM");
    await orders.market({ symbol: "JPM", qty: 4, side: "buy" });
    await t.trading.advance(1_000);
    const oco = await orders.oco({
      symbol: "JPM",
      qty: 4,
      side: "sell",
      takeProfit: { limitPrice: high(jpm.ap) },
      stopLoss: { stopPrice: low(jpm.bp) },
      timeInForce: "gtc",
    });
    assertEquals([oco.orderClass, oco.type, oco.limitPrice], ["oco", "limit", high(jpm.ap)]);
    assertEquals(oco.legs?.map((l) => [l.type, l.side, l.stopPrice]), [[
      "stop",
      "sell",
      low(jpm.bp),
    ]]);

    // Alpaca's JSON exactly: no bot_id, warnings or fills on this face.
    const res = await raw(`/v2/orders/${market.id}`);
    assertEquals(res.status, 200);
    const body = await res.json();
    assertEquals(Object.keys(body).sort(), [...ORDER_KEYS].sort());
    assertEquals([body.status, body.filled_qty, body.legs, body.order_class], [
      "filled",
      "5",
      null,
      "",
    ]);

    // Each went through the ledger and its audit trail, as on /api/v1.
    const trail = await t.as("sdk-builders", `/api/v1/orders/${market.id}/audit`);
    assertEquals(
      (await trail.json()).map((r: { action: string }) => r.action),
      ["SUBMITTED", "VALIDATED", "SENT", "PENDING_NEW", "ACCEPTED", "FILLED"],
    );
    const [count] = await t.db.owner<{ n: number }[]>`
      select count(*)::int as n from orders where parent_id is null`;
    assertEquals(count?.n, 11);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "alpaca orders: an order placed on either face is the same order on the other",
  ...DB_TEST,
}, async () => {
  const { t, alpaca, raw } = await setUp("both-faces");
  try {
    const viaV2 = await alpaca.trading.orders.limit({
      symbol: "AAPL",
      qty: 1,
      side: "buy",
      limitPrice: "50",
      clientOrderId: "from-v2",
    });
    const read = await (await t.as("both-faces", `/api/v1/orders/${viaV2.id}`)).json();
    assertEquals(
      [read.client_order_id, read.status, read.limit_price, read.bot_id],
      ["from-v2", "new", "50", null],
    );

    const placed = await t.as("both-faces", "/api/v1/orders", {
      method: "POST",
      json: {
        symbol: "MSFT",
        qty: "2",
        side: "buy",
        type: "limit",
        limit_price: "60",
        time_in_force: "gtc",
        client_order_id: "from-v1",
      },
    });
    assertEquals(placed.status, 201);
    const viaV1 = await placed.json();
    const got = await alpaca.trading.orders.getOrderByOrderID({ orderId: viaV1.id! });
    assertEquals([got.clientOrderId, got.qty, got.limitPrice], ["from-v1", "2", "60"]);
    const byCid = await alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: "from-v1" });
    assertEquals(byCid.id, viaV1.id);

    // The same client order id and body on /v2 answers the existing order, not a second one.
    const again = await alpaca.trading.orders.limit({
      symbol: "AAPL",
      qty: 1,
      side: "buy",
      limitPrice: "50",
      clientOrderId: "from-v2",
    });
    assertEquals(again.id, viaV2.id);
    const list = await alpaca.trading.orders.getAllOrders({ status: "all" });
    assertEquals(list.map((o) => o.clientOrderId).sort(), ["from-v1", "from-v2"]);

    // The request id the face answers with is the correlation id of the order's audit rows.
    const res = await raw("/v2/orders", {
      method: "POST",
      body: JSON.stringify({
        symbol: "AAPL",
        qty: "1",
        side: "buy",
        type: "limit",
        limit_price: "45",
        time_in_force: "day",
        client_order_id: "traced",
      }),
    });
    assertEquals(res.status, 200);
    const requestId = res.headers.get("x-request-id");
    const traced = await res.json();
    const rows = await t.db.owner<{ action: string; correlation_id: string }[]>`
      select action, correlation_id from execution_logs where order_id = ${traced.id} order by seq`;
    assert(rows.length >= 3, JSON.stringify(rows));
    assertEquals(rows[0], { action: "SUBMITTED", correlation_id: requestId! });
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "alpaca orders: list filters by status, time, direction, symbols, side, cursors and nests",
  ...DB_TEST,
}, async () => {
  const { t, alpaca } = await setUp("lister");
  try {
    const o = alpaca.trading.orders;
    const aapl = await quote(t, "AAPL");
    const first = await o.market({ symbol: "AAPL", qty: 1, side: "buy", clientOrderId: "l-1" });
    await t.trading.advance(1_000);
    const second = await o.limit({
      symbol: "MSFT",
      qty: 1,
      side: "buy",
      limitPrice: "10",
      clientOrderId: "l-2",
    });
    await t.trading.advance(1_000);
    const third = await o.bracket({
      symbol: "AAPL",
      qty: 1,
      side: "buy",
      limitPrice: "20",
      takeProfit: { limitPrice: (aapl.ap * 1.2).toFixed(2) },
      stopLoss: { stopPrice: "15" },
      clientOrderId: "l-3",
      timeInForce: "gtc",
    });
    await t.trading.advance(1_000);
    const cids = (list: { clientOrderId?: string }[]) => list.map((x) => x.clientOrderId);

    // Default: open, newest first, legs listed as orders of their own.
    const open = await o.getAllOrders();
    assertEquals(open.filter((x) => !x.clientOrderId?.startsWith("l-")).length, 2);
    assertEquals(cids(open.filter((x) => x.clientOrderId?.startsWith("l-"))), ["l-3", "l-2"]);
    assertEquals(cids(await o.getAllOrders({ status: "closed" })), ["l-1"]);
    assertEquals(
      cids(await o.getAllOrders({ status: "all", direction: "asc", nested: true })),
      ["l-1", "l-2", "l-3"],
    );
    const nested = await o.getAllOrders({ status: "open", nested: true });
    assertEquals(cids(nested), ["l-3", "l-2"]);
    assertEquals(nested[0]!.legs?.map((l) => l.status), ["held", "held"]);
    assertEquals(nested[1]!.legs, undefined);

    // after/until: exclusive bounds on submission time, ISO with milliseconds as the SDK sends.
    const at = (x: { createdAt?: Date }) => x.createdAt!.toISOString();
    assertEquals(
      cids(await o.getAllOrders({ status: "all", nested: true, after: at(first) })),
      ["l-3", "l-2"],
    );
    assertEquals(
      cids(await o.getAllOrders({ status: "all", nested: true, until: at(third) })),
      ["l-2", "l-1"],
    );
    assertEquals(
      cids(
        await o.getAllOrders({ status: "all", nested: true, after: at(first), until: at(third) }),
      ),
      ["l-2"],
    );
    assertEquals(
      cids(await o.getAllOrders({ status: "all", symbols: ["MSFT"], side: "buy" })),
      ["l-2"],
    );
    assertEquals(
      cids(await o.getAllOrders({ status: "all", symbols: "AAPL,MSFT", nested: true, limit: 2 })),
      ["l-3", "l-2"],
    );
    assertEquals((await o.getAllOrders({ status: "all", side: "sell" })).length, 2);
    assertEquals(
      cids(await o.getAllOrders({ status: "all", nested: true, beforeOrderId: third.id })),
      ["l-2", "l-1"],
    );
    assertEquals(
      cids(
        await o.getAllOrders({
          status: "all",
          nested: true,
          direction: "asc",
          afterOrderId: first.id,
        }),
      ),
      ["l-2", "l-3"],
    );
    assertEquals(
      cids(await o.getAllOrders({ status: "all", nested: true, assetClass: ["us_equity"] })),
      ["l-3", "l-2", "l-1"],
    );
    assertEquals((await o.getAllOrders({ status: "all", assetClass: ["crypto"] })).length, 0);

    // get: legs only when nested; by client order id with its legs.
    const plain = await o.getOrderByOrderID({ orderId: third.id! });
    assertEquals(plain.legs, undefined);
    const withLegs = await o.getOrderByOrderID({ orderId: third.id!, nested: true });
    assertEquals(withLegs.legs?.length, 2);
    const byCid = await o.getOrderByClientOrderId({ clientOrderId: "l-3" });
    assertEquals([byCid.id, byCid.legs?.length], [third.id, 2]);
    assertEquals(second.status, "new");

    // A filled bracket whose exits still work is open when nested, its exits with it.
    const jpm = await quote(t, "JPM");
    const filled = await o.bracket({
      symbol: "JPM",
      qty: 1,
      side: "buy",
      takeProfit: { limitPrice: (jpm.ap * 1.2).toFixed(2) },
      stopLoss: { stopPrice: (jpm.bp * 0.8).toFixed(2) },
      timeInForce: "gtc",
    });
    await t.trading.advance(1_000);
    const groups = await o.getAllOrders({ status: "open", nested: true, symbols: "JPM" });
    assertEquals(
      groups.map((g) => [g.id, g.status, g.legs?.map((l) => l.status)]),
      [[filled.id, "filled", ["new", "held"]]],
    );
    // Its entry, filled, is closed too: a group is listed under either while it has both.
    const closed = await o.getAllOrders({ status: "closed", nested: true, symbols: "JPM" });
    assertEquals(closed.map((g) => [g.id, g.legs?.length]), [[filled.id, 2]]);
  } finally {
    await t.close();
  }
});
