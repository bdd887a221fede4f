import fc from "fast-check";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../_assert.ts";
import { dec, Decimal } from "../../core/decimal.ts";
import {
  isTradeError,
  TRADE_ERROR_CODES,
  TRADE_ERRORS,
  TradeError,
  tradeErrorFromAlpaca,
  tradeErrors,
} from "../../core/errors.ts";
import { cryptoIdSource, isUuidV4, seededIdSource, uuidV4FromBytes } from "../../core/ids.ts";
import {
  createOrder,
  formatTimestamp,
  type Order,
  type OrderRequest,
  parseAlpacaOrder,
  parseOrderRequest,
  parseReplaceRequest,
  parseTimestamp,
  replacementOrder,
  toAlpacaJson,
  withLegs,
} from "../../core/order.ts";

const FC = { seed: 20261123, numRuns: 300 } as const;
const T0 = Date.UTC(2026, 10, 23, 15, 0, 0, 123);
const ASSET_ID = "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415";

/** Every key of Alpaca's Order, in the order Alpaca sends them. */
const ALPACA_ORDER_KEYS = [
  "id",
  "client_order_id",
  "created_at",
  "updated_at",
  "submitted_at",
  "filled_at",
  "expired_at",
  "canceled_at",
  "failed_at",
  "replaced_at",
  "replaced_by",
  "replaces",
  "asset_id",
  "symbol",
  "asset_class",
  "notional",
  "qty",
  "filled_qty",
  "filled_avg_price",
  "order_class",
  "order_type",
  "type",
  "side",
  "position_intent",
  "time_in_force",
  "limit_price",
  "stop_price",
  "status",
  "extended_hours",
  "legs",
  "trail_percent",
  "trail_price",
  "hwm",
  "subtag",
  "source",
  "expires_at",
];

function orderFor(request: OrderRequest, seed = "t"): Order {
  return createOrder(request, { ids: seededIdSource(seed), tsMs: T0, assetId: ASSET_ID }).order;
}

function invalid(fn: () => unknown): TradeError {
  const err = assertThrows(fn, TradeError);
  assertEquals(err.code, "INVALID_REQUEST");
  assertEquals(err.status, 400);
  return err;
}

// ---------------------------------------------------------------------------------------------
// ids

Deno.test("ids: a seeded source repeats its sequence exactly", () => {
  const a = seededIdSource("backtest-1");
  const b = seededIdSource("backtest-1");
  const first = Array.from({ length: 50 }, () => a());
  assertEquals(Array.from({ length: 50 }, () => b()), first);
  assertEquals(first[0], seededIdSource("backtest-1")());
  assert(first.every(isUuidV4), "every id is a UUID v4");
  assert(seededIdSource("backtest-2")() !== first[0], "another seed gives other ids");
  assertEquals(seededIdSource(7)(), seededIdSource("7")());
});

Deno.test("ids: seeded ids do not collide", () => {
  const next = seededIdSource(42);
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) seen.add(next());
  assertEquals(seen.size, 20_000);
});

Deno.test("ids: crypto source and byte formatting give UUID v4", () => {
  assert(isUuidV4(cryptoIdSource()));
  assertEquals(uuidV4FromBytes(new Uint8Array(16)), "00000000-0000-4000-8000-000000000000");
  assertEquals(
    uuidV4FromBytes(new Uint8Array(16).fill(255)),
    "ffffffff-ffff-4fff-bfff-ffffffffffff",
  );
  assertThrows(() => uuidV4FromBytes(new Uint8Array(15)), RangeError, 'need "16"');
  assert(!isUuidV4("7b08a1c2-0000-1000-8000-000000000000"), "version 1 is not v4");
});

// ---------------------------------------------------------------------------------------------
// errors

Deno.test("errors: the table covers every code with a status and an 8-digit Alpaca code", () => {
  assertEquals(Object.keys(TRADE_ERRORS).sort(), [...TRADE_ERROR_CODES].sort());
  for (const code of TRADE_ERROR_CODES) {
    const row = TRADE_ERRORS[code];
    assert(/^[A-Z]+(_[A-Z]+)*$/.test(code), code);
    assert(row.status >= 400 && row.status < 600, code);
    assert(row.alpacaCode >= 10_000_000 && row.alpacaCode < 100_000_000, code);
    assert(row.alpacaMessage.length > 0, code);
  }
  assertEquals(TRADE_ERRORS.INSUFFICIENT_BUYING_POWER.alpacaCode, 40310000);
  assertEquals(TRADE_ERRORS.DUPLICATE_CLIENT_ORDER_ID.status, 422);
  assertEquals(TRADE_ERRORS.DUPLICATE_CLIENT_ORDER_ID.alpacaCode, 40010001);
  assertEquals(TRADE_ERRORS.PDT_PROTECTION.alpacaCode, 40310100);
  assertEquals(TRADE_ERRORS.ORDER_NOT_FOUND.alpacaCode, 40410000);
  assertEquals(TRADE_ERRORS.SUB_PENNY_PRICE.alpacaCode, 42210000);
});

Deno.test("errors: both faces of insufficient buying power", () => {
  const err = tradeErrors.insufficientBuyingPower(dec("27032.36"), dec("3388.32"));
  assert(isTradeError(err) && err instanceof Error);
  assertEquals(err.status, 403);
  assertEquals(err.toAlpacaBody(), {
    code: 40310000,
    message: "insufficient buying power",
    buying_power: "3388.32",
    cost_basis: "27032.36",
  });
  assertEquals(err.toTradewindBody(), {
    error: {
      code: "INSUFFICIENT_BUYING_POWER",
      message: 'Cannot place order: cost basis "27032.36" exceeds buying power "3388.32"',
      details: { buying_power: "3388.32", cost_basis: "27032.36" },
    },
  });
  assertEquals(TradeError.fromData(structuredClone(err.toData())).toData(), err.toData());
});

Deno.test("errors: builders use Alpaca's verbatim texts and house-style messages", () => {
  const cases: Array<[TradeError, number, number, string]> = [
    [
      tradeErrors.insufficientQty("AAPL", {
        requested: dec("4459"),
        available: dec("0"),
        heldForOrders: dec("4459"),
      }),
      403,
      40310000,
      "insufficient qty available for order (requested: 4459, available: 0)",
    ],
    [tradeErrors.assetNotFound("LYC.AX"), 422, 42210000, 'asset "LYC.AX" not found'],
    [tradeErrors.assetNotTradable("RGC"), 422, 42210000, 'asset "RGC" is not tradable'],
    [tradeErrors.assetNotFractionable("FNGU"), 403, 40310000, 'asset "FNGU" is not fractionable'],
    [tradeErrors.assetNotShortable("EIDO"), 422, 42210000, 'asset "EIDO" cannot be sold short'],
    [tradeErrors.duplicateClientOrderId("cid-1"), 422, 40010001, "client_order_id must be unique"],
    [tradeErrors.orderNotFound("x"), 404, 40410000, "order not found"],
    [
      tradeErrors.orderNotCancelable("x", "filled"),
      422,
      42210000,
      'order is already in "filled" state',
    ],
    [
      tradeErrors.orderNotReplaceable("x", "order is not open"),
      422,
      40010001,
      "unable to replace order, order is not open",
    ],
    [tradeErrors.positionNotFound("AAPL"), 404, 40410000, "position does not exist"],
    [
      tradeErrors.washTrade("e1", "opposite side market/stop order exists"),
      403,
      40310000,
      "potential wash trade detected. use complex orders",
    ],
    [
      tradeErrors.pdtProtection(3),
      403,
      40310100,
      "trade denied due to pattern day trading protection",
    ],
    [
      tradeErrors.illegalTransition({ id: "x", status: "filled" }, "new"),
      500,
      50010000,
      "internal server error",
    ],
  ];
  for (const [err, status, alpacaCode, alpacaMessage] of cases) {
    assertEquals([err.status, err.alpacaCode, err.alpacaMessage], [
      status,
      alpacaCode,
      alpacaMessage,
    ]);
    assert(/^[A-Z]/.test(err.message) && !err.message.endsWith("."), err.message);
    assert(err.message.includes('"'), `quotes a value: ${err.message}`);
  }
  assertEquals(
    tradeErrors.insufficientQty("AAPL", {
      requested: dec("5"),
      available: dec("0"),
      heldForOrders: dec("5"),
    }).toAlpacaBody(),
    {
      code: 40310000,
      message: "insufficient qty available for order (requested: 5, available: 0)",
      available: "0",
      held_for_orders: "5",
      symbol: "AAPL",
    },
  );
  assertEquals(tradeErrors.washTrade("e1", "r").toAlpacaBody().existing_order_id, "e1");
});

Deno.test("errors: Alpaca error bodies map back to Tradewind codes", () => {
  const cases: Array<[number, unknown, string]> = [
    [
      403,
      { code: 40310000, message: "insufficient buying power", buying_power: "1" },
      "INSUFFICIENT_BUYING_POWER",
    ],
    [
      403,
      { code: 40310000, message: 'asset "FNGU" is not fractionable' },
      "ASSET_NOT_FRACTIONABLE",
    ],
    [422, { code: 42210000, message: 'asset "EIDO" cannot be sold short' }, "ASSET_NOT_SHORTABLE"],
    [
      422,
      { code: 40010001, message: "client_order_id must be unique" },
      "DUPLICATE_CLIENT_ORDER_ID",
    ],
    [
      422,
      { code: 42210000, message: 'order is already in "filled" state' },
      "ORDER_NOT_CANCELABLE",
    ],
    [
      422,
      { code: 40010001, message: "unable to replace order, order is not open" },
      "ORDER_NOT_REPLACEABLE",
    ],
    [404, { code: 40410000, message: "order not found" }, "ORDER_NOT_FOUND"],
    [404, { code: 40410000, message: "position does not exist" }, "POSITION_NOT_FOUND"],
    [
      403,
      { code: 40310100, message: "trade denied due to pattern day trading protection" },
      "PDT_PROTECTION",
    ],
    [
      422,
      {
        code: 42210000,
        message: "take_profit.limit_price must be >= base_price + 0.01",
        base_price: "1",
      },
      "BRACKET_INVALID",
    ],
    [
      422,
      {
        code: 42210000,
        message:
          "invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria",
      },
      "SUB_PENNY_PRICE",
    ],
    [401, { code: 40110000, message: "request is not authorized" }, "UNAUTHORIZED"],
    [429, "too many requests", "RATE_LIMITED"],
    [503, "<html>", "VENUE_UNAVAILABLE"],
    [422, { code: 42210000, message: "something new" }, "INVALID_ORDER"],
  ];
  for (const [status, body, code] of cases) {
    const err = tradeErrorFromAlpaca(status, body);
    assertEquals(err.code, code, JSON.stringify(body));
    if (typeof body === "object") {
      const b = body as Record<string, unknown>;
      assertEquals(err.toAlpacaBody(), body as Record<string, unknown>, "kept verbatim");
      assertEquals(err.alpacaCode, b.code);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// OrderRequest schema

Deno.test("parseOrderRequest: SDK body with string amounts", () => {
  const req = parseOrderRequest({
    client_order_id: "cid-1",
    qty: "1",
    side: "buy",
    symbol: "AAPL",
    time_in_force: "day",
    type: "market",
  });
  assertEquals(req, {
    symbol: "AAPL",
    side: "buy",
    type: "market",
    time_in_force: "day",
    order_class: "",
    extended_hours: false,
    qty: dec("1"),
    client_order_id: "cid-1",
  });
});

Deno.test("parseOrderRequest: numbers, nulls, simple class, unknown keys", () => {
  const req = parseOrderRequest({
    symbol: "AAPL",
    qty: 2,
    notional: null,
    side: "sell",
    type: "stop_limit",
    time_in_force: "gtc",
    limit_price: 151.1,
    stop_price: "151.50",
    extended_hours: null,
    order_class: "simple",
    client_order_id: "",
    position_intent: "sell_to_close",
    advanced_instructions: { algorithm: "TWAP" },
    whatever: 1,
  });
  assertEquals(req, {
    symbol: "AAPL",
    side: "sell",
    type: "stop_limit",
    time_in_force: "gtc",
    order_class: "",
    extended_hours: false,
    qty: dec("2"),
    limit_price: dec("151.1"),
    stop_price: dec("151.5"),
    position_intent: "sell_to_close",
  });
});

Deno.test("parseOrderRequest: OCO without top-level limit_price takes the take-profit limit", () => {
  const req = parseOrderRequest({
    symbol: "AAPL",
    qty: "10",
    side: "sell",
    type: "limit",
    time_in_force: "gtc",
    order_class: "oco",
    take_profit: { limit_price: "210" },
    stop_loss: { stop_price: "180", limit_price: "179.5" },
  });
  assertEquals(req.limit_price, dec("210"));
  assertEquals(req.stop_loss, { stop_price: dec("180"), limit_price: dec("179.5") });
  const bracket = parseOrderRequest({
    symbol: "AAPL",
    qty: "1",
    side: "buy",
    type: "market",
    time_in_force: "day",
    order_class: "bracket",
    take_profit: { limit_price: 210 },
    stop_loss: { stop_price: 180 },
  });
  assertEquals(bracket.limit_price, undefined, "only OCO borrows the take-profit limit");
  assertEquals(bracket.stop_loss, { stop_price: dec("180") });
});

Deno.test("parseOrderRequest: errors name each field by path", () => {
  let err = invalid(() => parseOrderRequest({ symbol: "AAPL", qty: "1", type: "market" }));
  assertStringIncludes(
    err.message,
    "Cannot read order request: side: Required; time_in_force: Required",
  );
  assertEquals(err.details.issues, [
    { path: "side", message: "Required" },
    { path: "time_in_force", message: "Required" },
  ]);
  err = invalid(() =>
    parseOrderRequest({
      symbol: "AAPL",
      qty: "1",
      side: "buy",
      type: "limit",
      time_in_force: "day",
      order_class: "bracket",
      take_profit: { limit_price: "abc" },
      stop_loss: {},
    })
  );
  assertStringIncludes(err.message, 'take_profit.limit_price: Cannot read "abc" as a decimal');
  assertStringIncludes(err.message, "stop_loss.stop_price: Required");
  assertStringIncludes(
    err.alpacaMessage,
    "request body format is invalid: take_profit.limit_price",
  );
  assertEquals(err.alpacaCode, 40010000);
  err = invalid(() =>
    parseOrderRequest({
      symbol: "AAPL",
      qty: true,
      side: "hold",
      type: "market",
      time_in_force: "day",
    })
  );
  assertStringIncludes(err.message, 'qty: Expected a decimal, got "true"');
  assertStringIncludes(err.message, 'side: Expected one of "buy"|"sell", got "hold"');
  err = invalid(() =>
    parseOrderRequest({
      symbol: "A",
      qty: "1.0000000001",
      side: "buy",
      type: "market",
      time_in_force: "day",
    })
  );
  assertStringIncludes(err.message, "qty: Cannot read");
  assertStringIncludes(err.message, "more than 9 decimal places");
  err = invalid(() =>
    parseOrderRequest({
      symbol: "",
      qty: "1",
      side: "buy",
      type: "market",
      time_in_force: "day",
      extended_hours: "yes",
    })
  );
  assertStringIncludes(err.message, "symbol: Required");
  assertStringIncludes(err.message, 'extended_hours: Expected true or false, got "yes"');
  err = invalid(() => parseOrderRequest([1]));
  assertStringIncludes(err.message, "(body): Expected an object, got a list");
  invalid(() => parseOrderRequest(null));
});

Deno.test("parseReplaceRequest: optional fields, strings or numbers", () => {
  assertEquals(parseReplaceRequest({}), {});
  assertEquals(
    parseReplaceRequest({
      qty: 2,
      limitPrice: 151,
      limit_price: "151.00",
      trail: "0.5",
      time_in_force: "gtc",
    }),
    { qty: dec("2"), limit_price: dec("151"), trail: dec("0.5"), time_in_force: "gtc" },
  );
  const err = invalid(() => parseReplaceRequest({ time_in_force: "week", stop_price: [] }));
  assertStringIncludes(err.message, "Cannot read replace request: time_in_force: Expected one of");
  assertStringIncludes(err.message, "stop_price: Expected a decimal, got a list");
});

// ---------------------------------------------------------------------------------------------
// Wire shape

Deno.test("toAlpacaJson: every key, string amounts, RFC-3339 ms timestamps", () => {
  const order = orderFor({
    symbol: "AAPL",
    qty: dec("2"),
    side: "buy",
    type: "limit",
    time_in_force: "gtc",
    limit_price: dec("150.00"),
    client_order_id: "5680",
  });
  const json = toAlpacaJson(order);
  assertEquals(Object.keys(json), ALPACA_ORDER_KEYS);
  assertEquals(json.created_at, "2026-11-23T15:00:00.123Z");
  assertEquals(json.updated_at, "2026-11-23T15:00:00.123Z");
  assertEquals(json.filled_at, null);
  assertEquals(json.qty, "2");
  assertEquals(json.notional, null);
  assertEquals(json.filled_qty, "0");
  assertEquals(json.filled_avg_price, null);
  assertEquals(json.limit_price, "150");
  assertEquals(json.order_type, "limit");
  assertEquals(json.type, "limit");
  assertEquals(json.order_class, "");
  assertEquals(json.status, "accepted");
  assertEquals(json.extended_hours, false);
  assertEquals(json.legs, null);
  assertEquals(json.asset_class, "us_equity");
  assertEquals(json.client_order_id, "5680");
  assert(isUuidV4(json.id));
  for (const [k, v] of Object.entries(json)) {
    assert(
      typeof v !== "number" && typeof v !== "bigint" && v !== undefined,
      `${k} is ${typeof v}`,
    );
  }
  assertEquals(JSON.parse(JSON.stringify(json)), json, "plain JSON");
});

Deno.test("toAlpacaJson: legs only when nested, one level deep", () => {
  const group = createOrder({
    symbol: "AAPL",
    qty: dec("10"),
    side: "buy",
    type: "limit",
    time_in_force: "gtc",
    limit_price: dec("100"),
    order_class: "bracket",
    take_profit: { limit_price: dec("110") },
    stop_loss: { stop_price: dec("95"), limit_price: dec("94.5") },
  }, { ids: seededIdSource("b"), tsMs: T0, assetId: ASSET_ID });
  assertEquals(toAlpacaJson(group.order).legs, null);
  const nested = toAlpacaJson(withLegs(group.order, group.legs));
  assertEquals(nested.legs?.length, 2);
  const [tp, sl] = nested.legs!;
  assertEquals(Object.keys(tp!), ALPACA_ORDER_KEYS);
  assertEquals([tp!.side, tp!.type, tp!.limit_price, tp!.status, tp!.legs], [
    "sell",
    "limit",
    "110",
    "held",
    null,
  ]);
  assertEquals(
    [
      sl!.side,
      sl!.type,
      sl!.stop_price,
      sl!.limit_price,
      sl!.qty,
      sl!.order_class,
      sl!.time_in_force,
    ],
    ["sell", "stop_limit", "95", "94.5", "10", "bracket", "gtc"],
  );
});

Deno.test("parseAlpacaOrder: Alpaca's example, nanosecond timestamps, round trip", () => {
  const wire = {
    id: "7b08a1c2-1f0e-4c5e-9d55-1a2b3c4d5e6f",
    client_order_id: "5680c1c4-4f1d-4c8e-9d55-1a2b3c4d5e6f",
    created_at: "2023-12-12T22:31:24.668464435Z",
    updated_at: "2023-12-12T22:31:24.668464435Z",
    submitted_at: "2023-12-12T22:31:24.658Z",
    filled_at: null,
    expired_at: null,
    canceled_at: null,
    failed_at: null,
    replaced_at: null,
    replaced_by: null,
    replaces: null,
    asset_id: ASSET_ID,
    symbol: "AAPL",
    asset_class: "us_equity",
    notional: null,
    qty: "2",
    filled_qty: "0",
    filled_avg_price: null,
    order_class: "",
    order_type: "limit",
    type: "limit",
    side: "buy",
    time_in_force: "gtc",
    limit_price: "150",
    stop_price: null,
    status: "accepted",
    extended_hours: false,
    legs: null,
    trail_percent: null,
    trail_price: null,
    hwm: null,
    subtag: null,
    source: null,
  };
  const order = parseAlpacaOrder(wire);
  assertEquals(order.created_at, Date.UTC(2023, 11, 12, 22, 31, 24, 668));
  assertEquals(order.qty, dec("2"));
  assertEquals(order.position_intent, null);
  assertEquals(order.expires_at, null);
  const again = toAlpacaJson(order);
  assertEquals(again.created_at, "2023-12-12T22:31:24.668Z");
  assertEquals(parseAlpacaOrder(again), order);
  const err = invalid(() => parseAlpacaOrder({ ...wire, status: "weird", legs: [{ id: 1 }] }));
  assertStringIncludes(err.message, "status: Expected one of");
});

Deno.test("parseAlpacaOrder: nested legs get their parent id", () => {
  const group = createOrder({
    symbol: "AAPL",
    qty: dec("5"),
    side: "sell",
    type: "limit",
    time_in_force: "gtc",
    order_class: "oco",
    take_profit: { limit_price: dec("210") },
    stop_loss: { stop_price: dec("180") },
  }, { ids: seededIdSource("oco"), tsMs: T0, assetId: ASSET_ID });
  const parsed = parseAlpacaOrder(
    JSON.parse(JSON.stringify(toAlpacaJson(withLegs(group.order, group.legs)))),
  );
  assertEquals(parsed.legs?.map((l) => l.parent_id), [group.order.id]);
  assertEquals(parsed.legs?.[0]?.side, "sell");
  assertEquals(parsed.legs?.[0]?.type, "stop");
});

Deno.test("property: toAlpacaJson then parseAlpacaOrder is the identity", () => {
  const amount = fc.bigInt({ min: 1n, max: 10n ** 15n }).map((u) => Decimal.fromUnits(u));
  const ts = fc.integer({ min: 0, max: 4_102_444_800_000 });
  fc.assert(
    fc.property(
      amount,
      fc.option(amount, { nil: null }),
      fc.option(ts, { nil: null }),
      fc.constantFrom("market", "limit", "stop", "stop_limit", "trailing_stop"),
      fc.constantFrom("new", "filled", "held", "pending_cancel"),
      fc.string(),
      (qty, price, filledAt, type, status, cid) => {
        const base = orderFor({ symbol: "MSFT", qty, side: "buy", type, time_in_force: "day" });
        const order: Order = {
          ...base,
          client_order_id: cid || "x",
          limit_price: price,
          filled_at: filledAt,
          status,
          hwm: price,
        };
        const back = parseAlpacaOrder(JSON.parse(JSON.stringify(toAlpacaJson(order))));
        assertEquals(back, order);
      },
    ),
    FC,
  );
});

Deno.test("timestamps: RFC-3339 with offsets and fractions", () => {
  assertEquals(
    parseTimestamp("2022-04-28T14:07:04.451420928-04:00"),
    Date.UTC(2022, 3, 28, 18, 7, 4, 451),
  );
  assertEquals(parseTimestamp("2026-11-27T00:00:00Z"), Date.UTC(2026, 10, 27));
  assertEquals(parseTimestamp("2026-11-27T05:30:00.5+05:30"), Date.UTC(2026, 10, 27, 0, 0, 0, 500));
  assertEquals(formatTimestamp(0), "1970-01-01T00:00:00.000Z");
  for (
    const bad of [
      "2026-11-27",
      "2026-02-30T00:00:00Z",
      "2026-11-27T24:00:00Z",
      "yesterday",
      "2026-11-27T00:00:00",
    ]
  ) {
    assertThrows(() => parseTimestamp(bad), RangeError, "Cannot read timestamp");
  }
});

// ---------------------------------------------------------------------------------------------
// Construction

Deno.test("createOrder: simple orders, deterministic ids, notional nulls qty", () => {
  const a = orderFor({
    symbol: "AAPL",
    notional: dec("500"),
    side: "buy",
    type: "market",
    time_in_force: "day",
  });
  const b = orderFor({
    symbol: "AAPL",
    notional: dec("500"),
    side: "buy",
    type: "market",
    time_in_force: "day",
  });
  assertEquals(a, b);
  assertEquals([a.qty, a.notional, a.status, a.parent_id], [null, dec("500"), "accepted", null]);
  assert(isUuidV4(a.client_order_id), "client order id is generated");
});

Deno.test("createOrder: oto and oco legs", () => {
  const oto = createOrder({
    symbol: "AAPL",
    qty: dec("3"),
    side: "sell",
    type: "market",
    time_in_force: "day",
    order_class: "oto",
    stop_loss: { stop_price: dec("120") },
  }, { ids: seededIdSource(1), tsMs: T0, assetId: ASSET_ID, status: "new" });
  assertEquals(oto.order.status, "new");
  assertEquals(
    oto.legs.map((l) => [l.side, l.type, l.stop_price?.toString(), l.status, l.parent_id]),
    [
      ["buy", "stop", "120", "held", oto.order.id],
    ],
  );
  const oco = createOrder({
    symbol: "AAPL",
    qty: dec("3"),
    side: "sell",
    type: "limit",
    time_in_force: "gtc",
    order_class: "oco",
    take_profit: { limit_price: dec("130") },
    stop_loss: { stop_price: dec("120") },
  }, { ids: seededIdSource(1), tsMs: T0, assetId: ASSET_ID });
  assertEquals(oco.order.limit_price, dec("130"), "the parent is the take-profit");
  assertEquals(oco.legs.map((l) => [l.side, l.type]), [["sell", "stop"]]);
  const ids = new Set([
    oco.order.id,
    oco.order.client_order_id,
    ...oco.legs.flatMap((l) => [l.id, l.client_order_id]),
  ]);
  assertEquals(ids.size, 4);
});

Deno.test("replacementOrder: new id, links, copied fields, trail kind kept", () => {
  const old: Order = {
    ...orderFor({
      symbol: "AAPL",
      qty: dec("10"),
      side: "sell",
      type: "trailing_stop",
      time_in_force: "day",
      trail_percent: dec("2"),
    }),
    status: "partially_filled",
    filled_qty: dec("4"),
    filled_avg_price: dec("101.5"),
  };
  const next = replacementOrder(old, { trail: dec("3"), client_order_id: "r-1" }, {
    ids: seededIdSource("r"),
    tsMs: T0 + 1000,
  });
  assert(next.id !== old.id);
  assertEquals(
    [
      next.replaces,
      next.client_order_id,
      next.trail_percent,
      next.trail_price,
      next.qty,
      next.filled_qty,
    ],
    [old.id, "r-1", dec("3"), null, dec("10"), dec("4")],
  );
  assertEquals([next.status, next.created_at, next.time_in_force], ["accepted", T0 + 1000, "day"]);
});
