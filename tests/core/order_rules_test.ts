import fc from "fast-check";
import { assert, assertEquals } from "../_assert.ts";
import { orderRequest as req } from "../_fixtures.ts";
import { dec, Decimal } from "../../core/decimal.ts";
import { TRADE_ERRORS, TradeError, type TradeErrorCode } from "../../core/errors.ts";
import { seededIdSource } from "../../core/ids.ts";
import {
  createOrder,
  type Order,
  ORDER_TYPES,
  type OrderClass,
  type OrderRequest,
  type OrderType,
  TIME_IN_FORCES,
  type TimeInForce,
} from "../../core/order.ts";
import {
  assertValidOrder,
  type AssetInfo,
  buyStopLimitPrice,
  convertBuyStop,
  isValidPriceIncrement,
  orderCostBasis,
  type RuleContext,
  validateOrder,
  validateReplace,
} from "../../core/order_rules.ts";

const FC = { seed: 20261123, numRuns: 500 } as const;

const AAPL: AssetInfo = {
  symbol: "AAPL",
  tradable: true,
  fractionable: true,
  shortable: true,
  easy_to_borrow: true,
  marginable: true,
};
const CORE: RuleContext = { lastPrice: dec("100"), session: "core" };

/** Asserts a rejection: Tradewind code, Alpaca text, and the table's status and Alpaca code. */
function rejects(
  err: TradeError | null,
  code: TradeErrorCode,
  alpacaMessage: string,
  label = alpacaMessage,
): TradeError {
  assert(err !== null, `expected ${code} "${alpacaMessage}" (${label}), got acceptance`);
  assertEquals([err.code, err.alpacaMessage], [code, alpacaMessage], label);
  assertEquals(err.status, TRADE_ERRORS[code].status, label);
  if (code !== "ORDER_NOT_REPLACEABLE") {
    assertEquals(err.alpacaCode, TRADE_ERRORS[code].alpacaCode, label);
  }
  assert(/^[A-Z]/.test(err.message) && !err.message.endsWith("."), err.message);
  return err;
}

// ---------------------------------------------------------------------------------------------
// The matrix: type × time_in_force × class × (qty | fractional | notional) × extended_hours

type Size = "qty" | "fractional" | "notional";
const CLASSES: OrderClass[] = ["", "bracket", "oco", "oto"];
const SIZES: Size[] = ["qty", "fractional", "notional"];
const DAY_GTC = (tif: TimeInForce) => tif === "day" || tif === "gtc";

function build(type: OrderType, tif: TimeInForce, cls: OrderClass, size: Size, eh: boolean) {
  const r: OrderRequest = {
    symbol: "AAPL",
    side: cls === "oco" ? "sell" : "buy",
    type,
    time_in_force: tif,
    order_class: cls,
    extended_hours: eh,
  };
  if (size === "qty") r.qty = dec("10");
  if (size === "fractional") r.qty = dec("0.5");
  if (size === "notional") r.notional = dec("500");
  // OCO carries no top-level limit_price (the SDK quirk): the take-profit is the limit
  if (type === "limit" && cls !== "oco") r.limit_price = dec("100");
  if (type === "stop") r.stop_price = dec("101");
  if (type === "stop_limit") Object.assign(r, { stop_price: dec("101"), limit_price: dec("102") });
  if (type === "trailing_stop") r.trail_price = dec("1");
  if (cls === "bracket" || cls === "oco" || cls === "oto") {
    r.take_profit = { limit_price: dec("110") };
  }
  if (cls === "bracket" || cls === "oco") r.stop_loss = { stop_price: dec("90") };
  return r;
}

/** ALPACA.md §3.3/§3.4 for this combination, in validateOrder's documented check order. */
function expected(
  type: OrderType,
  tif: TimeInForce,
  cls: OrderClass,
  size: Size,
  eh: boolean,
): [TradeErrorCode, string] | null {
  if (type === "trailing_stop" && !DAY_GTC(tif)) {
    return ["INVALID_TIME_IN_FORCE", "trailing_stop orders must be DAY or GTC orders"];
  }
  if ((type === "stop" || type === "stop_limit") && !DAY_GTC(tif)) {
    return ["INVALID_TIME_IN_FORCE", `time_in_force ${tif} is not supported for ${type} orders`];
  }
  if (eh && cls !== "") {
    return ["EXTENDED_HOURS_NOT_ALLOWED", `extended hours is not supported for ${cls} orders`];
  }
  if (eh && (type !== "limit" || !DAY_GTC(tif))) {
    return ["EXTENDED_HOURS_NOT_ALLOWED", "extended hours order must be DAY or GTC limit orders"];
  }
  if (cls === "oco" && type !== "limit") {
    return ["BRACKET_INVALID", "oco orders must be limit orders"];
  }
  if ((cls === "bracket" || cls === "oto") && type !== "market" && type !== "limit") {
    return ["BRACKET_INVALID", `${cls} orders must be market or limit orders`];
  }
  if (cls !== "" && !DAY_GTC(tif)) {
    return ["BRACKET_INVALID", `${cls} orders must be DAY or GTC orders`];
  }
  if (size !== "qty") {
    if (cls !== "") return ["FRACTIONAL_NOT_ALLOWED", "fractional orders must be simple orders"];
    if (tif !== "day") return ["FRACTIONAL_NOT_ALLOWED", "fractional orders must be DAY orders"];
    if (type === "trailing_stop") {
      return ["FRACTIONAL_NOT_ALLOWED", "fractional orders cannot be trailing_stop orders"];
    }
    if (eh) {
      return [
        "FRACTIONAL_NOT_ALLOWED",
        "fractional orders are not eligible for extended hours trading",
      ];
    }
  }
  return null;
}

Deno.test("matrix: type × time_in_force × class × size × extended_hours", () => {
  const tally = new Map<string, number>();
  let combos = 0;
  for (const type of ORDER_TYPES) {
    for (const tif of TIME_IN_FORCES) {
      for (const cls of CLASSES) {
        for (const size of SIZES) {
          for (const eh of [false, true]) {
            combos++;
            const label = `${type}/${tif}/${cls || "simple"}/${size}/eh=${eh}`;
            const err = validateOrder(build(type, tif, cls, size, eh), AAPL, CORE);
            const want = expected(type, tif, cls, size, eh);
            if (want === null) {
              assertEquals(err, null, `${label} should be accepted: ${err?.message}`);
            } else {
              const e = rejects(err, want[0], want[1], label);
              assertEquals(e.message, `Cannot place order for "AAPL": ${want[1]}`, label);
            }
            const key = want?.[0] ?? "ACCEPTED";
            tally.set(key, (tally.get(key) ?? 0) + 1);
          }
        }
      }
    }
  }
  assertEquals(combos, 5 * 6 * 4 * 3 * 2);
  // every branch of the matrix is exercised
  for (
    const key of [
      "ACCEPTED",
      "INVALID_TIME_IN_FORCE",
      "EXTENDED_HOURS_NOT_ALLOWED",
      "BRACKET_INVALID",
      "FRACTIONAL_NOT_ALLOWED",
    ]
  ) {
    assert((tally.get(key) ?? 0) > 0, `${key} occurs`);
  }
});

Deno.test("matrix spot checks against ALPACA.md 3.3", () => {
  const ok = (r: OrderRequest) =>
    assertEquals(validateOrder(r, AAPL, CORE), null, JSON.stringify(r));
  ok(req({ time_in_force: "ioc" }));
  ok(req({ type: "limit", limit_price: dec("99.5"), time_in_force: "fok" }));
  ok(req({ type: "limit", limit_price: dec("99.5"), time_in_force: "gtc", extended_hours: true }));
  ok(
    req({ type: "stop_limit", stop_price: dec("101"), limit_price: dec("102"), qty: dec("0.25") }),
  );
  ok(req({ type: "trailing_stop", trail_percent: dec("2.5"), time_in_force: "gtc", side: "sell" }));
  ok(req({ qty: undefined, notional: dec("1.00") }));
  rejects(
    validateOrder(
      req({ type: "trailing_stop", trail_price: dec("1"), time_in_force: "opg" }),
      AAPL,
      CORE,
    ),
    "INVALID_TIME_IN_FORCE",
    "trailing_stop orders must be DAY or GTC orders",
  );
  rejects(
    validateOrder(req({ type: "market", extended_hours: true }), AAPL, CORE),
    "EXTENDED_HOURS_NOT_ALLOWED",
    "extended hours order must be DAY or GTC limit orders",
  );
  const ehFractional = req({
    type: "limit",
    limit_price: dec("100"),
    qty: dec("0.5"),
    extended_hours: true,
  });
  rejects(
    validateOrder(ehFractional, AAPL, CORE),
    "FRACTIONAL_NOT_ALLOWED",
    "fractional orders are not eligible for extended hours trading",
  );
  assertEquals(validateOrder(ehFractional, { ...AAPL, fractional_eh_enabled: true }, CORE), null);
  rejects(
    validateOrder(req({ qty: dec("1.5"), time_in_force: "gtc" }), AAPL, CORE),
    "FRACTIONAL_NOT_ALLOWED",
    "fractional orders must be DAY orders",
  );
});

// ---------------------------------------------------------------------------------------------
// Individual rules

Deno.test("asset rules: not found, not tradable, not fractionable, not shortable", () => {
  rejects(
    validateOrder(req({ symbol: "LYC.AX" }), null, CORE),
    "ASSET_NOT_FOUND",
    'asset "LYC.AX" not found',
  );
  rejects(
    validateOrder(req({ symbol: "RGC" }), { ...AAPL, symbol: "RGC", tradable: false }, CORE),
    "ASSET_NOT_TRADABLE",
    'asset "RGC" is not tradable',
  );
  const fngu = { ...AAPL, symbol: "FNGU", fractionable: false };
  const err = rejects(
    validateOrder(req({ symbol: "FNGU", qty: undefined, notional: dec("50") }), fngu, CORE),
    "ASSET_NOT_FRACTIONABLE",
    'asset "FNGU" is not fractionable',
  );
  assertEquals(err.toAlpacaBody(), { code: 40310000, message: 'asset "FNGU" is not fractionable' });
  assertEquals(err.status, 403);
  assertEquals(validateOrder(req({ symbol: "FNGU" }), fngu, CORE), null, "whole shares are fine");
  const eido = { ...AAPL, symbol: "EIDO", easy_to_borrow: false };
  const short = req({ symbol: "EIDO", side: "sell", position_intent: "sell_to_open" });
  rejects(
    validateOrder(short, eido, CORE),
    "ASSET_NOT_SHORTABLE",
    'asset "EIDO" cannot be sold short',
  );
  rejects(
    validateOrder({ ...short, position_intent: undefined }, eido, { ...CORE, shortSale: true }),
    "ASSET_NOT_SHORTABLE",
    'asset "EIDO" cannot be sold short',
  );
  assertEquals(validateOrder({ ...short, position_intent: "sell_to_close" }, eido, CORE), null);
  rejects(
    validateOrder({ ...short, symbol: "AAPL", qty: dec("0.5") }, AAPL, CORE),
    "FRACTIONAL_NOT_ALLOWED",
    "fractional orders cannot be sold short",
  );
});

Deno.test("size rules: qty XOR notional (400), positive qty, notional and cost minimums", () => {
  const both = rejects(
    validateOrder(req({ notional: dec("100") }), AAPL, CORE),
    "INVALID_REQUEST",
    "qty and notional cannot both be specified",
  );
  assertEquals(both.status, 400);
  rejects(
    validateOrder(req({ qty: undefined }), AAPL, CORE),
    "INVALID_REQUEST",
    "qty or notional is required",
  );
  const zero = rejects(
    validateOrder(req({ qty: dec("0") }), AAPL, CORE),
    "INVALID_ORDER",
    "qty must be > 0",
  );
  assertEquals(zero.message, 'Cannot place order for "AAPL": qty "0" must be > 0');
  // Named like every other field error (sub-penny prices, non-positive prices).
  assertEquals(zero.details, { field: "qty", value: "0" });
  const negative = rejects(
    validateOrder(req({ qty: dec("-3") }), AAPL, CORE),
    "INVALID_ORDER",
    "qty must be > 0",
  );
  assertEquals(negative.details, { field: "qty", value: "-3" });
  const price = rejects(
    validateOrder(req({ type: "limit", limit_price: dec("0") }), AAPL, CORE),
    "INVALID_ORDER",
    "limit_price must be > 0",
  );
  assertEquals(price.details, { field: "limit_price", value: "0" });
  rejects(
    validateOrder(req({ qty: undefined, notional: dec("0.99") }), AAPL, CORE),
    "NOTIONAL_TOO_SMALL",
    "notional must be >= 1.00",
  );
  const tiny = rejects(
    validateOrder(req({ qty: dec("0.001") }), AAPL, CORE),
    "COST_BASIS_TOO_SMALL",
    "cost basis must be >= minimal amount of order 1",
  );
  assertEquals([tiny.status, tiny.details.cost_basis], [403, "0.1"]);
  assertEquals(validateOrder(req({ qty: dec("0.01") }), AAPL, CORE), null, "0.01 × 100 = 1.00");
});

Deno.test("price rules: required per type, forbidden elsewhere, positive, trail XOR", () => {
  const bad = (r: Partial<OrderRequest>, text: string) =>
    rejects(validateOrder(req(r), AAPL, CORE), "INVALID_ORDER", text);
  bad({ type: "limit" }, "limit_price is required for limit orders");
  bad({ type: "stop" }, "stop_price is required for stop orders");
  bad(
    { type: "stop_limit", limit_price: dec("1") },
    "stop_price is required for stop_limit orders",
  );
  bad(
    { type: "stop_limit", stop_price: dec("1") },
    "limit_price is required for stop_limit orders",
  );
  bad(
    { type: "trailing_stop" },
    "trail_price or trail_percent is required for trailing_stop orders",
  );
  bad(
    { type: "trailing_stop", trail_price: dec("1"), trail_percent: dec("1") },
    "trail_price and trail_percent cannot both be specified",
  );
  bad({ limit_price: dec("100") }, "limit_price is not allowed for market orders");
  bad(
    { type: "limit", limit_price: dec("1"), stop_price: dec("1") },
    "stop_price is not allowed for limit orders",
  );
  bad(
    { trail_percent: dec("1") },
    "trail_price and trail_percent are only allowed for trailing_stop orders",
  );
  bad({ type: "limit", limit_price: dec("0") }, "limit_price must be > 0");
  bad({ type: "trailing_stop", trail_percent: dec("100") }, "trail_percent must be < 100");
  bad(
    { position_intent: "sell_to_close" },
    "position_intent sell_to_close does not match side buy",
  );
  bad({ client_order_id: "x".repeat(129) }, "client_order_id must be no more than 128 characters");
  assertEquals(validateOrder(req({ client_order_id: "x".repeat(128) }), AAPL, CORE), null);
  bad({ order_class: "mleg" }, "mleg orders are only supported for options");
});

Deno.test("sub-penny: 2 places at or above $1, 4 below, on every price field", () => {
  const err = rejects(
    validateOrder(req({ type: "limit", limit_price: dec("290.123") }), AAPL, {
      ...CORE,
      lastPrice: dec("290"),
    }),
    "SUB_PENNY_PRICE",
    "invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria",
  );
  assertEquals(err.toAlpacaBody(), {
    code: 42210000,
    message:
      "invalid limit_price 290.123. sub-penny increment does not fulfill minimum pricing criteria",
  });
  assertEquals(
    err.message,
    'Cannot place order for "AAPL": limit_price "290.123" has more than 2 decimal places',
  );
  const penny = { ...CORE, lastPrice: dec("0.5") };
  assertEquals(
    validateOrder(req({ type: "limit", limit_price: dec("0.1234") }), AAPL, penny),
    null,
  );
  rejects(
    validateOrder(req({ type: "limit", limit_price: dec("0.12345") }), AAPL, penny),
    "SUB_PENNY_PRICE",
    "invalid limit_price 0.12345. sub-penny increment does not fulfill minimum pricing criteria",
  );
  rejects(
    validateOrder(req({ type: "stop", stop_price: dec("101.005") }), AAPL, CORE),
    "SUB_PENNY_PRICE",
    "invalid stop_price 101.005. sub-penny increment does not fulfill minimum pricing criteria",
  );
  const bracket = req({
    type: "limit",
    limit_price: dec("100"),
    order_class: "bracket",
    take_profit: { limit_price: dec("110.001") },
    stop_loss: { stop_price: dec("90"), limit_price: dec("89.999") },
  });
  rejects(
    validateOrder(bracket, AAPL, CORE),
    "SUB_PENNY_PRICE",
    "invalid take_profit.limit_price 110.001. sub-penny increment does not fulfill minimum pricing criteria",
  );
  rejects(
    validateOrder({ ...bracket, take_profit: { limit_price: dec("110") } }, AAPL, CORE),
    "SUB_PENNY_PRICE",
    "invalid stop_loss.limit_price 89.999. sub-penny increment does not fulfill minimum pricing criteria",
  );
  assert(isValidPriceIncrement(dec("1.00")) && !isValidPriceIncrement(dec("1.001")));
  assert(isValidPriceIncrement(dec("0.9999")) && !isValidPriceIncrement(dec("0.99999")));
});

Deno.test("bracket structure and base prices carry base_price", () => {
  const bracket = (o: Partial<OrderRequest>) =>
    req({
      type: "limit",
      limit_price: dec("100"),
      order_class: "bracket",
      take_profit: { limit_price: dec("110") },
      stop_loss: { stop_price: dec("90") },
      ...o,
    });
  assertEquals(validateOrder(bracket({}), AAPL, CORE), null);
  rejects(
    validateOrder(bracket({ take_profit: undefined }), AAPL, CORE),
    "BRACKET_INVALID",
    "bracket orders require take_profit.limit_price",
  );
  rejects(
    validateOrder(bracket({ stop_loss: undefined }), AAPL, CORE),
    "BRACKET_INVALID",
    "bracket orders require stop_loss.stop_price",
  );
  const tp = rejects(
    validateOrder(bracket({ take_profit: { limit_price: dec("100") } }), AAPL, CORE),
    "BRACKET_INVALID",
    "take_profit.limit_price must be >= base_price + 0.01",
  );
  assertEquals(tp.toAlpacaBody(), {
    code: 42210000,
    message: "take_profit.limit_price must be >= base_price + 0.01",
    base_price: "100",
  });
  assertEquals(tp.details.base_price, "100");
  rejects(
    validateOrder(bracket({ stop_loss: { stop_price: dec("99.995") } }), AAPL, CORE),
    "SUB_PENNY_PRICE",
    "invalid stop_loss.stop_price 99.995. sub-penny increment does not fulfill minimum pricing criteria",
  );
  rejects(
    validateOrder(bracket({ stop_loss: { stop_price: dec("100") } }), AAPL, CORE),
    "BRACKET_INVALID",
    "stop_loss.stop_price must be <= base_price - 0.01",
  );
  // the last trade is a base too: a market entry at 120 needs a stop below 119.99
  const market = rejects(
    validateOrder(bracket({ type: "market", limit_price: undefined }), AAPL, {
      ...CORE,
      lastPrice: dec("120"),
    }),
    "BRACKET_INVALID",
    "take_profit.limit_price must be >= base_price + 0.01",
  );
  assertEquals(market.alpacaExtra.base_price, "120");
  // a short bracket mirrors the rule
  const shortBracket = bracket({
    side: "sell",
    take_profit: { limit_price: dec("90") },
    stop_loss: { stop_price: dec("100") },
  });
  rejects(
    validateOrder(shortBracket, AAPL, CORE),
    "BRACKET_INVALID",
    "stop_loss.stop_price must be >= base_price + 0.01",
  );
  assertEquals(
    validateOrder({ ...shortBracket, stop_loss: { stop_price: dec("110") } }, AAPL, CORE),
    null,
  );
  // OCO: the take-profit limit is the stop's base; a limit_price must agree with it
  const oco = req({
    side: "sell",
    type: "limit",
    order_class: "oco",
    take_profit: { limit_price: dec("95") },
    stop_loss: { stop_price: dec("95") },
  });
  const ocoErr = rejects(
    validateOrder(oco, AAPL, { ...CORE, lastPrice: dec("90") }),
    "BRACKET_INVALID",
    "stop_loss.stop_price must be <= base_price - 0.01",
  );
  assertEquals(ocoErr.alpacaExtra.base_price, "95");
  rejects(
    validateOrder({ ...oco, limit_price: dec("96") }, AAPL, CORE),
    "BRACKET_INVALID",
    "limit_price must equal take_profit.limit_price for oco orders",
  );
  rejects(
    validateOrder(req({ order_class: "oto" }), AAPL, CORE),
    "BRACKET_INVALID",
    "oto orders require exactly one of take_profit or stop_loss",
  );
  rejects(
    validateOrder(req({ take_profit: { limit_price: dec("110") } }), AAPL, CORE),
    "BRACKET_INVALID",
    "take_profit and stop_loss require order_class bracket, oco or oto",
  );
});

Deno.test("sessions: OPG and CLS windows, IOC and FOK outside the core session", () => {
  const at = (tif: TimeInForce, h: number, m: number) =>
    validateOrder(req({ time_in_force: tif }), AAPL, { ...CORE, etMinutesOfDay: h * 60 + m });
  assertEquals(at("opg", 9, 27), null);
  rejects(
    at("opg", 9, 28),
    "INVALID_TIME_IN_FORCE",
    "opg orders cannot be submitted between 9:28am and 7:00pm ET",
  );
  rejects(
    at("opg", 18, 59),
    "INVALID_TIME_IN_FORCE",
    "opg orders cannot be submitted between 9:28am and 7:00pm ET",
  );
  assertEquals(at("opg", 19, 0), null);
  assertEquals(at("cls", 15, 49), null);
  rejects(
    at("cls", 15, 50),
    "INVALID_TIME_IN_FORCE",
    "cls orders cannot be submitted between 3:50pm and 7:00pm ET",
  );
  assertEquals(at("cls", 20, 0), null);
  assertEquals(
    validateOrder(req({ time_in_force: "opg" }), AAPL, CORE),
    null,
    "no ET time, no window check",
  );
  rejects(
    validateOrder(req({ time_in_force: "ioc" }), AAPL, { ...CORE, session: "pre" }),
    "MARKET_CLOSED",
    "ioc orders are only accepted during the core session",
  );
  assertEquals(
    validateOrder(req(), AAPL, { ...CORE, session: "closed" }),
    null,
    "day orders queue",
  );
});

Deno.test("assertValidOrder throws the first violation", () => {
  assertValidOrder(req(), AAPL, CORE);
  let thrown: unknown;
  try {
    assertValidOrder(req({ qty: dec("0") }), AAPL, CORE);
  } catch (e) {
    thrown = e;
  }
  assert(thrown instanceof TradeError && thrown.code === "INVALID_ORDER");
});

Deno.test("property: validateOrder never throws and reports only table codes", () => {
  const amount = fc.option(
    fc.oneof(
      fc.constantFrom("0", "-1", "0.5", "1", "99.999", "100", "0.00001"),
      fc.integer({ min: 1, max: 500 }).map(String),
    )
      .map((s) => dec(s)),
    { nil: undefined },
  );
  const request = fc.record({
    symbol: fc.constant("AAPL"),
    qty: amount,
    notional: amount,
    side: fc.constantFrom("buy", "sell"),
    type: fc.constantFrom(...ORDER_TYPES),
    time_in_force: fc.constantFrom(...TIME_IN_FORCES),
    limit_price: amount,
    stop_price: amount,
    trail_price: amount,
    trail_percent: amount,
    extended_hours: fc.boolean(),
    order_class: fc.constantFrom("", "simple", "bracket", "oco", "oto", "mleg"),
    take_profit: fc.option(
      amount.filter((a) => a !== undefined).map((p) => ({ limit_price: p! })),
      { nil: undefined },
    ),
    stop_loss: fc.option(amount.filter((a) => a !== undefined).map((p) => ({ stop_price: p! })), {
      nil: undefined,
    }),
    position_intent: fc.constantFrom(undefined, "buy_to_open", "sell_to_open", "sell_to_close"),
  }) as fc.Arbitrary<OrderRequest>;
  const context = fc.record({
    lastPrice: fc.constantFrom("0.5", "50", "100").map(dec),
    session: fc.constantFrom("pre", "core", "post", "closed"),
    etMinutesOfDay: fc.option(fc.integer({ min: 0, max: 1439 }), { nil: undefined }),
  }) as fc.Arbitrary<RuleContext>;
  const asset = fc.record({
    symbol: fc.constant("AAPL"),
    tradable: fc.boolean(),
    fractionable: fc.boolean(),
    shortable: fc.boolean(),
    easy_to_borrow: fc.boolean(),
    marginable: fc.boolean(),
  });
  fc.assert(
    fc.property(request, fc.option(asset, { nil: null }), context, (r, a, c) => {
      const err = validateOrder(r, a, c);
      if (err === null) return;
      assertEquals(err.status, TRADE_ERRORS[err.code].status);
      assertEquals(err.alpacaCode, TRADE_ERRORS[err.code].alpacaCode);
      assert(err.message.startsWith("Cannot place order"), err.message);
    }),
    FC,
  );
});

// ---------------------------------------------------------------------------------------------
// Replace

function working(o: Partial<OrderRequest> = {}, patch: Partial<Order> = {}): Order {
  const { order } = createOrder(req({ type: "limit", limit_price: dec("100"), ...o }), {
    ids: seededIdSource("replace"),
    tsMs: 0,
    assetId: "a",
  });
  return { ...order, status: "new", ...patch };
}

Deno.test("validateReplace: state rules use code 40010001", () => {
  const cases: Array<[Partial<Order>, string]> = [
    [{ status: "accepted" }, "unable to replace order, order isn't sent to exchange yet"],
    [{ status: "pending_new" }, "unable to replace order, order isn't sent to exchange yet"],
    [{ status: "filled" }, "unable to replace order, order is not open"],
    [{ status: "canceled" }, "unable to replace order, order is not open"],
    [{ status: "pending_cancel" }, 'unable to replace order, order is in "pending_cancel" state'],
    [
      { status: "new", notional: dec("5"), qty: null },
      "unable to replace order, notional orders cannot be replaced",
    ],
    [
      { status: "new", order_class: "oto" },
      "unable to replace order, oto orders cannot be replaced",
    ],
  ];
  for (const [patch, message] of cases) {
    const err = rejects(
      validateReplace(working({}, patch), { limit_price: dec("99") }),
      "ORDER_NOT_REPLACEABLE",
      message,
    );
    assertEquals([err.status, err.alpacaCode], [422, 40010001]);
  }
  const partial = working({}, { status: "partially_filled", filled_qty: dec("4") });
  rejects(
    validateReplace(partial, { qty: dec("4") }),
    "ORDER_NOT_REPLACEABLE",
    "unable to replace order, qty must be > filled_qty",
  );
  assertEquals(validateReplace(partial, { qty: dec("5") }), null);
  rejects(
    validateReplace(working({ qty: dec("0.5") }), { qty: dec("0.6") }),
    "ORDER_NOT_REPLACEABLE",
    "unable to replace order, fractional qty cannot be changed",
  );
});

Deno.test("validateReplace: field rules on the merged order", () => {
  const limit = working();
  assertEquals(validateReplace(limit, { limit_price: dec("99.5"), time_in_force: "gtc" }), null);
  assertEquals(
    validateReplace({ ...limit, status: "held" }, { limit_price: dec("99") }),
    null,
    "bracket legs",
  );
  rejects(
    validateReplace(limit, { limit_price: dec("99.555") }),
    "SUB_PENNY_PRICE",
    "invalid limit_price 99.555. sub-penny increment does not fulfill minimum pricing criteria",
  );
  rejects(
    validateReplace(limit, { stop_price: dec("99") }),
    "INVALID_ORDER",
    "stop_price is not allowed for limit orders",
  );
  rejects(
    validateReplace(limit, { trail: dec("1") }),
    "INVALID_ORDER",
    "trail is only allowed for trailing_stop orders",
  );
  const trailing = working({
    type: "trailing_stop",
    limit_price: undefined,
    trail_percent: dec("2"),
    side: "sell",
  }, {
    stop_price: dec("98"),
    hwm: dec("100"),
  });
  assertEquals(validateReplace(trailing, { trail: dec("3") }), null);
  rejects(
    validateReplace(trailing, { time_in_force: "ioc" }),
    "INVALID_TIME_IN_FORCE",
    "trailing_stop orders must be DAY or GTC orders",
  );
  rejects(
    validateReplace(working({ extended_hours: true }), { time_in_force: "opg" }),
    "EXTENDED_HOURS_NOT_ALLOWED",
    "extended hours order must be DAY or GTC limit orders",
  );
});

// ---------------------------------------------------------------------------------------------
// Cost basis and buy stops

Deno.test("orderCostBasis per ALPACA.md 3.8", () => {
  const ref = dec("100");
  const cost = (r: Partial<OrderRequest>, short?: boolean) =>
    orderCostBasis(req(r), ref, short === undefined ? {} : { shortSale: short }).toString();
  assertEquals(cost({ type: "limit", limit_price: dec("150") }), "1500");
  assertEquals(cost({}), "1000", "market buy at the reference price");
  assertEquals(cost({ qty: undefined, notional: dec("250.5") }), "250.5");
  assertEquals(cost({ type: "stop", stop_price: dec("40") }), "416", "stop 40 → limit 41.60");
  assertEquals(cost({ type: "stop_limit", stop_price: dec("40"), limit_price: dec("41") }), "410");
  assertEquals(cost({ type: "trailing_stop", trail_price: dec("2") }), "1020");
  assertEquals(cost({ type: "trailing_stop", trail_percent: dec("5") }), "1050");
  assertEquals(cost({ side: "sell" }), "0", "selling a long reserves nothing");
  assertEquals(cost({ side: "sell" }, true), "1030", "market short: ask × 1.03");
  assertEquals(cost({ side: "sell", type: "limit", limit_price: dec("101") }, true), "1030");
  assertEquals(cost({ side: "sell", type: "limit", limit_price: dec("110") }, true), "1100");
  assertEquals(cost({ side: "sell", position_intent: "sell_to_open" }), "1030");
});

Deno.test("buy stops become stop-limits at ×1.04 below $50 and ×1.025 from $50", () => {
  const cases: Array<[string, string]> = [
    ["40", "41.6"],
    ["10.37", "10.78"],
    ["49.99", "51.99"],
    ["50", "51.25"],
    ["100", "102.5"],
    ["0.5", "0.52"],
    ["0.1234", "0.1283"],
  ];
  for (const [stop, limit] of cases) {
    assertEquals(buyStopLimitPrice(dec(stop)).toString(), limit, stop);
  }
  const converted = convertBuyStop(req({ type: "stop", stop_price: dec("60") }));
  assertEquals([converted.type, converted.stop_price, converted.limit_price], [
    "stop_limit",
    dec("60"),
    dec("61.5"),
  ]);
  const sell = req({ side: "sell", type: "stop", stop_price: dec("60") });
  assert(convertBuyStop(sell) === sell, "sell stops are not converted");
  assert(Decimal.parse("61.5").eq(converted.limit_price!));
});
