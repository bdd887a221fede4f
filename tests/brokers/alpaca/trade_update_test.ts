import { TradeUpdateError, tradeUpdateFromAlpaca } from "../../../brokers/alpaca/trade_update.ts";
import { TRADE_UPDATE_EVENTS } from "../../../core/order_types.ts";
import { assertEquals, assertStringIncludes, assertThrows } from "../../_assert.ts";
import { alpacaOrderJson } from "../../_alpaca_stream_standin.ts";

Deno.test("tradeUpdateFromAlpaca reads a fill with price, qty, signed position_qty and execution id", () => {
  const u = tradeUpdateFromAlpaca({
    event: "partial_fill",
    execution_id: "exec-1",
    order: alpacaOrderJson({ status: "partially_filled", filled_qty: "4" }),
    position_qty: "-4",
    price: "150.2",
    qty: "4",
    timestamp: "2026-11-23T15:00:02.024916716Z",
  });
  assertEquals(u.event, "partial_fill");
  assertEquals(u.order.status, "partially_filled");
  assertEquals(u.price?.toString(), "150.2");
  assertEquals(u.qty?.toString(), "4");
  assertEquals(u.position_qty?.toString(), "-4");
  assertEquals(u.execution_id, "exec-1");
  assertEquals(u.timestamp, Date.parse("2026-11-23T15:00:02.024Z"));
});

Deno.test("tradeUpdateFromAlpaca reads every event of ALPACA.md §7.1; without a timestamp it uses the order's", () => {
  for (const event of TRADE_UPDATE_EVENTS) {
    const fill = event === "fill" || event === "partial_fill";
    const u = tradeUpdateFromAlpaca({
      event,
      order: alpacaOrderJson(),
      ...(fill ? { price: "1", qty: "1", position_qty: "1", execution_id: `x-${event}` } : {}),
    });
    assertEquals(u.event, event);
    assertEquals(u.timestamp, Date.parse("2026-11-23T15:00:01.500Z"));
  }
});

Deno.test("tradeUpdateFromAlpaca reads a status-named event such as held as restated, keeping the order", () => {
  const u = tradeUpdateFromAlpaca({ event: "held", order: alpacaOrderJson({ status: "held" }) });
  assertEquals([u.event, u.order.status], ["restated", "held"]);
});

Deno.test("tradeUpdateFromAlpaca refuses unknown events, a missing order and fills without a price", () => {
  const order = alpacaOrderJson();
  assertStringIncludes(
    assertThrows(() => tradeUpdateFromAlpaca({ event: "teleported", order }), TradeUpdateError)
      .message,
    '"teleported"',
  );
  assertThrows(() => tradeUpdateFromAlpaca({ event: "new" }), TradeUpdateError);
  assertThrows(() => tradeUpdateFromAlpaca({ event: "fill", order, qty: "1" }), TradeUpdateError);
  assertThrows(
    () => tradeUpdateFromAlpaca({ event: "fill", order, qty: "1", price: "abc" }),
    TradeUpdateError,
  );
  assertThrows(
    () => tradeUpdateFromAlpaca({ event: "canceled", order, timestamp: "yesterday" }),
    TradeUpdateError,
  );
});

Deno.test("tradeUpdateFromAlpaca names the event when its order does not read", () => {
  const e = assertThrows(
    () => tradeUpdateFromAlpaca({ event: "canceled", order: alpacaOrderJson({ side: "up" }) }),
    TradeUpdateError,
  );
  assertStringIncludes(e.message, '"canceled"');
  assertStringIncludes(e.message, "side");
});
