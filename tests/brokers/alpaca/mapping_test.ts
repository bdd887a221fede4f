import { AlpacaPayloadError, orderFromAlpaca } from "../../../brokers/alpaca/mapping.ts";
import { assertEquals, assertStringIncludes, assertThrows } from "../../_assert.ts";
import { alpacaOrderJson } from "../../_alpaca_stream_standin.ts";

Deno.test("orderFromAlpaca reads every field: decimals from strings, nanosecond timestamps to ms", () => {
  const order = orderFromAlpaca(alpacaOrderJson({ filled_qty: "2.5", filled_avg_price: "150.1" }));
  assertEquals(order.id, "61e69015-8549-4bfd-b9c3-01e75843f47d");
  assertEquals(order.created_at, Date.parse("2026-11-23T15:00:00.123Z"));
  assertEquals(order.updated_at, Date.parse("2026-11-23T15:00:01.500Z"));
  assertEquals(order.expires_at, Date.parse("2026-11-23T21:00:00Z"));
  assertEquals(order.qty?.toString(), "10");
  assertEquals(order.filled_qty.toString(), "2.5");
  assertEquals(order.filled_avg_price?.toString(), "150.1");
  assertEquals(order.limit_price?.toString(), "150.25");
  assertEquals(order.notional, null);
  assertEquals(order.stop_price, null);
  assertEquals(order.order_class, "");
  assertEquals(order.type, "limit");
  assertEquals(order.side, "buy");
  assertEquals(order.time_in_force, "day");
  assertEquals(order.status, "new");
  assertEquals(order.position_intent, "buy_to_open");
  assertEquals(order.legs, null);
  assertEquals(order.parent_id, null);
});

Deno.test("orderFromAlpaca keeps a bracket's nested legs, each pointing at its parent", () => {
  const parent = alpacaOrderJson({
    order_class: "bracket",
    type: "market",
    limit_price: null,
    legs: [
      alpacaOrderJson({
        id: "leg-tp",
        client_order_id: "c-tp",
        status: "held",
        limit_price: "160",
      }),
      alpacaOrderJson({
        id: "leg-sl",
        client_order_id: "c-sl",
        status: "held",
        type: "stop",
        limit_price: null,
        stop_price: "140",
      }),
    ],
  });
  const order = orderFromAlpaca(parent);
  assertEquals(order.legs?.map((l) => [l.id, l.parent_id, l.status]), [
    ["leg-tp", order.id, "held"],
    ["leg-sl", order.id, "held"],
  ]);
  assertEquals(order.legs?.[1]?.stop_price?.toString(), "140");
});

Deno.test("orderFromAlpaca refuses a malformed order with AlpacaPayloadError naming the field", () => {
  const e = assertThrows(
    () => orderFromAlpaca(alpacaOrderJson({ qty: "ten", status: "dancing" })),
    AlpacaPayloadError,
  );
  assertStringIncludes(e.message, "61e69015");
  assertStringIncludes(e.message, "qty");
  assertThrows(() => orderFromAlpaca("nope"), AlpacaPayloadError);
});
