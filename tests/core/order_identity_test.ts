import { assertEquals } from "../_assert.ts";
import { dec } from "../../core/decimal.ts";
import {
  fingerprintDifferences,
  fingerprintOfOrder,
  orderFingerprint,
} from "../../core/order_identity.ts";
import { createOrder } from "../../core/order.ts";
import { seededIdSource } from "../../core/ids.ts";
import { orderRequest } from "../_fixtures.ts";

Deno.test("order identity: decimals, case and the simple class are compared canonically", () => {
  const a = orderFingerprint(orderRequest({ qty: dec("10"), limit_price: dec("100") }));
  const b = orderFingerprint(
    orderRequest({
      symbol: "aapl",
      qty: dec("10.000"),
      limit_price: dec("100.00"),
      order_class: "simple",
      extended_hours: false,
    }),
  );
  assertEquals(fingerprintDifferences(a, b), []);
  // A stored fingerprint comes back from JSON; it compares the same.
  assertEquals(fingerprintDifferences(JSON.parse(JSON.stringify(a)), b), []);
});

Deno.test("order identity: every field of the order counts, legs included", () => {
  const base = orderRequest({
    type: "limit",
    limit_price: dec("100"),
    order_class: "bracket",
    take_profit: { limit_price: dec("110") },
    stop_loss: { stop_price: dec("90") },
  });
  const fp = orderFingerprint(base);
  const diff = (over: Parameters<typeof orderRequest>[0]) =>
    fingerprintDifferences(fp, orderFingerprint({ ...base, ...over })).map((d) => d.field);
  assertEquals(diff({ symbol: "MSFT", side: "sell" }), ["symbol", "side"]);
  assertEquals(diff({ qty: undefined, notional: dec("500") }), ["qty", "notional"]);
  assertEquals(diff({ take_profit: { limit_price: dec("111") } }), ["take_profit"]);
  assertEquals(diff({ stop_loss: { stop_price: dec("90"), limit_price: dec("89") } }), [
    "stop_loss",
  ]);
  assertEquals(diff({ time_in_force: "gtc", extended_hours: true }), [
    "time_in_force",
    "extended_hours",
  ]);
  assertEquals(diff({ position_intent: "buy_to_open" }), ["position_intent"]);
  assertEquals(diff({ client_order_id: "other" }), []);
});

Deno.test("order identity: an oco's limit price is its take-profit's, given or not", () => {
  const oco = orderRequest({
    side: "sell",
    type: "limit",
    order_class: "oco",
    take_profit: { limit_price: dec("120") },
    stop_loss: { stop_price: dec("80") },
  });
  assertEquals(
    fingerprintDifferences(
      orderFingerprint(oco),
      orderFingerprint({ ...oco, limit_price: dec("120") }),
    ),
    [],
  );
});

Deno.test("order identity: an order recorded without a fingerprint is judged by its fields", () => {
  const request = orderRequest({ type: "limit", limit_price: dec("100"), time_in_force: "gtc" });
  const { order } = createOrder(request, {
    ids: seededIdSource(1),
    tsMs: 0,
    assetId: "a",
  });
  const fromRow = fingerprintOfOrder(order);
  assertEquals(fingerprintDifferences(fromRow, orderFingerprint(request), { lenient: true }), []);
  assertEquals(
    fingerprintDifferences(fromRow, orderFingerprint({ ...request, qty: dec("11") }), {
      lenient: true,
    }).map((d) => d.field),
    ["qty"],
  );
});
