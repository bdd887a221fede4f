import {
  AlpacaPayloadError,
  orderFromAlpaca,
  tradeUpdateFromAlpaca,
} from "../../../brokers/alpaca/mapping.ts";
import { Backoff } from "../../../brokers/alpaca/_backoff.ts";
import { TRADE_UPDATE_EVENTS } from "../../../core/order_types.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../_assert.ts";
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
    assertThrows(() => tradeUpdateFromAlpaca({ event: "teleported", order }), AlpacaPayloadError)
      .message,
    '"teleported"',
  );
  assertThrows(() => tradeUpdateFromAlpaca({ event: "new" }), AlpacaPayloadError);
  assertThrows(() => tradeUpdateFromAlpaca({ event: "fill", order, qty: "1" }), AlpacaPayloadError);
  assertThrows(
    () => tradeUpdateFromAlpaca({ event: "fill", order, qty: "1", price: "abc" }),
    AlpacaPayloadError,
  );
  assertThrows(
    () => tradeUpdateFromAlpaca({ event: "canceled", order, timestamp: "yesterday" }),
    AlpacaPayloadError,
  );
});

Deno.test("Backoff grows exponentially with seeded jitter, caps, and resets", () => {
  const delays = (seed: number) => {
    let x = seed;
    const b = new Backoff({
      initialMs: 1000,
      maxMs: 8000,
      jitter: 0.2,
      random: () => (x = (x * 9301 + 49297) % 233280) / 233280,
    });
    return [b.next(), b.next(), b.next(), b.next(), b.next(), b.next()];
  };
  const a = delays(7);
  assertEquals(a, delays(7));
  const bases = [1000, 2000, 4000, 8000, 8000, 8000];
  a.forEach((d, i) => assert(d >= bases[i]! * 0.8 && d <= Math.min(8000, bases[i]! * 1.2), `${d}`));
  const fixed = new Backoff({ initialMs: 500, jitter: 0 });
  assertEquals([fixed.next(), fixed.next()], [500, 1000]);
  fixed.reset();
  assertEquals(fixed.next(), 500);
  assertThrows(() => new Backoff({ initialMs: 0 }), RangeError);
  assertThrows(() => new Backoff({ jitter: 2 }), RangeError);
});
