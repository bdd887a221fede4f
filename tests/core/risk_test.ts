import fc from "fast-check";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../_assert.ts";
import { orderRequest as req } from "../_fixtures.ts";
import { dec, Decimal } from "../../core/decimal.ts";
import { TRADE_ERRORS, TradeError, type TradeErrorCode } from "../../core/errors.ts";
import type { OrderRequest } from "../../core/order.ts";
import { SlidingWindowLimiter } from "../../core/rate_limiter.ts";
import {
  type AdviceContext,
  evaluateRisk,
  exposureOf,
  mergeLimits,
  parseRiskLimits,
  reducesExposure,
  type RiskContext,
  riskLimitsFromConfig,
  riskLimitsSchema,
  type RiskPosition,
  validationAdvice,
} from "../../core/risk.ts";

const FC = { seed: 20261123, numRuns: 500 } as const;

function pos(qty: string, price: string, sector = "Technology"): RiskPosition {
  return { qty: dec(qty), market_value: dec(qty).mul(dec(price)), sector };
}

function ctx(overrides: Partial<RiskContext> = {}): RiskContext {
  return {
    request: req(),
    asset: { symbol: "AAPL", sector: "Technology" },
    refPrice: dec("100"),
    account: { equity: dec("100000"), last_equity: dec("100000"), buying_power: dec("200000") },
    positions: {},
    pendingQty: {},
    tradesToday: 0,
    state: "active",
    limits: {},
    ...overrides,
  };
}

function codes(c: RiskContext): TradeErrorCode[] {
  return evaluateRisk(c).denials.map((d) => d.code);
}

/** The only denial of `c`, checked for its code, status and the details given. */
function denied(
  c: RiskContext,
  code: TradeErrorCode,
  details: Record<string, string | null>,
): TradeError {
  const { denials } = evaluateRisk(c);
  assertEquals(denials.map((d) => d.code), [code]);
  const err = denials[0]!;
  assertEquals(err.status, TRADE_ERRORS[code].status);
  for (const [k, v] of Object.entries(details)) {
    assertEquals(err.details[k], v, `details.${k} of ${code}`);
  }
  for (const [k, v] of Object.entries(err.details)) {
    assert(v === null || typeof v === "string", `details.${k} must be a string, got ${v}`);
  }
  return err;
}

function passes(c: RiskContext, label = ""): void {
  assertEquals(codes(c), [], label);
}

// ---------------------------------------------------------------------------------------------
// Codes and limits

Deno.test("risk: the new codes are in the error table with their statuses", () => {
  const expected: Array<[TradeErrorCode, number]> = [
    ["RISK_MAX_ORDER_NOTIONAL", 422],
    ["RISK_MAX_POSITION", 422],
    ["RISK_MAX_ALLOCATION", 422],
    ["RISK_MAX_OPEN_POSITIONS", 422],
    ["RISK_MAX_DAILY_TRADES", 422],
    ["RISK_DAILY_LOSS", 422],
    ["RISK_SECTOR_CONCENTRATION", 422],
    ["RISK_PRICE_BAND", 422],
    ["TRADING_HALTED", 403],
    ["TRADING_REDUCING", 403],
    ["RATE_LIMITED", 429],
  ];
  for (const [code, status] of expected) assertEquals(TRADE_ERRORS[code].status, status, code);
});

Deno.test("risk: mergeLimits keeps the strictest value of each field", () => {
  const defaults = riskLimitsFromConfig({
    maxPositionSize: "25000",
    maxDailyTrades: 100,
    maxOpenPositions: 20,
    maxOrdersPerMinute: 100,
  });
  const user = {
    max_position_value: dec("30000"),
    max_order_notional: dec("10000"),
    max_open_positions: 5,
    price_band_pct: dec("10"),
    daily_loss_limit: null,
  };
  const bot = {
    max_order_notional: dec("2500.5"),
    max_orders_per_minute: 150,
    max_daily_trades: 10,
    price_band_pct: dec("12"),
    max_allocation_pct: dec("20"),
  };
  const merged = mergeLimits(defaults, user, undefined, null, bot);
  assertEquals(merged, {
    max_order_notional: dec("2500.5"),
    max_order_qty: dec("1000"),
    max_position_value: dec("25000"),
    max_allocation_pct: dec("20"),
    max_open_positions: 5,
    max_daily_trades: 10,
    daily_loss_limit: null,
    daily_loss_pct: dec("5"),
    max_sector_pct: null,
    max_orders_per_minute: 100,
    price_band_pct: dec("10"),
  });
  assertEquals(mergeLimits(bot, user, defaults), merged, "order of layers does not matter");
  assertEquals(mergeLimits().max_order_notional, null);
  assertEquals(
    mergeLimits({ max_open_positions: 0 }, { max_open_positions: 3 }).max_open_positions,
    0,
  );
});

Deno.test("risk: riskLimitsSchema reads PUT /risk/limits bodies", () => {
  const ok = riskLimitsSchema.parse({
    max_order_notional: "10000.50",
    max_position_value: 25000,
    max_allocation_pct: "100",
    max_open_positions: 20,
    max_daily_trades: "50",
    daily_loss_limit: null,
    price_band_pct: 0,
  });
  assertEquals(ok, {
    max_order_notional: dec("10000.5"),
    max_position_value: dec("25000"),
    max_allocation_pct: dec("100"),
    max_open_positions: 20,
    max_daily_trades: 50,
    daily_loss_limit: null,
    price_band_pct: Decimal.ZERO,
  });
  assert(!("max_sector_pct" in ok), "an absent key stays absent (keep the stored value)");
  assertEquals(riskLimitsSchema.parse({}), {});
  const stored = { max_order_notional: dec("5000"), daily_loss_limit: dec("1000") };
  assertEquals({ ...stored, ...riskLimitsSchema.parse({ daily_loss_limit: null }) }, {
    max_order_notional: dec("5000"),
    daily_loss_limit: null,
  });

  const bad: Array<[unknown, string]> = [
    [{ max_order_notional: "-1" }, 'max_order_notional: Expected a value >= 0, got "-1"'],
    [{ max_allocation_pct: "100.01" }, 'max_allocation_pct: Expected a value <= 100, got "100.01"'],
    [{ max_sector_pct: 150 }, "max_sector_pct: Expected a value <= 100"],
    [{ price_band_pct: "abc" }, 'price_band_pct: Cannot read "abc" as a decimal'],
    [{ daily_loss_limit: "1.0000000001" }, "more than 9 decimal places"],
    [{ max_position_value: true }, 'max_position_value: Expected a decimal or null, got "true"'],
    [{ max_open_positions: 1.5 }, "max_open_positions: Expected an integer from 0"],
    [{ max_daily_trades: -1 }, "max_daily_trades: Expected an integer from 0"],
    [{ max_orders_per_minute: 0 }, "max_orders_per_minute: Expected an integer from 1"],
    [{ max_orders_per_min: 10 }, 'Unrecognized key: "max_orders_per_min"'],
    [[], "(body): Expected an object"],
  ];
  for (const [body, text] of bad) {
    const err = assertThrows(() => parseRiskLimits(body), TradeError, text);
    assertEquals([err.code, err.status], ["INVALID_REQUEST", 400]);
  }
});

// ---------------------------------------------------------------------------------------------
// Each rule

Deno.test("risk: max order notional names the figures; at the limit passes", () => {
  const limits = { max_order_notional: dec("10000") };
  const err = denied(
    ctx({ request: req({ qty: dec("120"), client_order_id: "c-42" }), limits }),
    "RISK_MAX_ORDER_NOTIONAL",
    { rule: "max_order_notional", limit: "10000", actual: "12000", qty: "120", price: "100" },
  );
  assertEquals(err.message, 'Cannot submit order "c-42": notional 12000 exceeds limit 10000');
  assertEquals(err.details.client_order_id, "c-42");
  assertEquals(err.details.symbol, "AAPL");
  passes(ctx({ request: req({ qty: dec("100") }), limits }), "exactly 10000");
  // Limit orders use the limit price; notional orders their notional.
  denied(
    ctx({ request: req({ qty: dec("100"), type: "limit", limit_price: dec("100.01") }), limits }),
    "RISK_MAX_ORDER_NOTIONAL",
    { actual: "10001", price: "100.01" },
  );
  const n = denied(
    ctx({ request: req({ qty: undefined, notional: dec("10000.01") }), limits }),
    "RISK_MAX_ORDER_NOTIONAL",
    { actual: "10000.01", notional: "10000.01", qty: null, price: null },
  );
  assertStringIncludes(n.message, 'Cannot submit order for "AAPL": notional 10000.01');
  // The fat-finger guard applies to exits too.
  denied(
    ctx({
      request: req({ side: "sell", qty: dec("200") }),
      positions: { AAPL: pos("500", "100") },
      limits,
    }),
    "RISK_MAX_ORDER_NOTIONAL",
    { actual: "20000" },
  );
});

Deno.test("risk: the price collar refuses a limit more than the band through the last trade", () => {
  const limits = { price_band_pct: dec("10") };
  const limit = (p: string, side: "buy" | "sell" = "buy") =>
    ctx({ request: req({ type: "limit", side, limit_price: dec(p) }), limits });
  passes(limit("110"), "+10% exactly");
  passes(limit("90", "sell"), "-10% exactly");
  passes(ctx({ limits }), "market orders use the reference price");
  const err = denied(limit("110.01"), "RISK_PRICE_BAND", {
    rule: "price_band_pct",
    limit: "10",
    actual: "10.01",
    field: "limit_price",
    price: "110.01",
    ref_price: "100",
    reference_price: "100",
    max_price: "110",
  });
  assertEquals(
    err.message,
    'Cannot submit order for "AAPL": limit_price 110.01 is 10.01% above the last trade 100, beyond the price collar of 10%: a buy limit may be at most 110',
  );
  denied(limit("89.99", "sell"), "RISK_PRICE_BAND", { actual: "10.01", min_price: "90" });
  // The passive side rests: only a warning (see the advice tests), never a denial.
  passes(limit("50"), "a buy limit far below the market");
  passes(limit("500", "sell"), "a sell limit far above the market");
  passes(ctx({ request: req({ type: "stop", stop_price: dec("125") }), limits }), "a stop");
  // A stop-limit's limit goes live where the stop elects: measured from the stop price when
  // that is beyond the last trade, from the last trade when the stop elects at once.
  passes(
    ctx({
      request: req({ type: "stop_limit", stop_price: dec("91"), limit_price: dec("90") }),
      limits,
    }),
  );
  passes(
    ctx({
      request: req({ type: "stop_limit", stop_price: dec("150"), limit_price: dec("165") }),
      limits,
    }),
    "a buy stop-limit 10% over its stop",
  );
  denied(
    ctx({
      request: req({ type: "stop_limit", stop_price: dec("150"), limit_price: dec("165.01") }),
      limits,
    }),
    "RISK_PRICE_BAND",
    { reference_price: "150", max_price: "165" },
  );
  denied(
    ctx({
      request: req({ type: "stop_limit", stop_price: dec("80"), limit_price: dec("111") }),
      limits,
    }),
    "RISK_PRICE_BAND",
    { reference_price: "100", actual: "11" },
  );
  // The 1900-for-190 typo.
  const typo = denied(
    ctx({
      refPrice: dec("190"),
      request: req({ type: "limit", limit_price: dec("1900"), qty: dec("1") }),
      limits,
    }),
    "RISK_PRICE_BAND",
    { actual: "900", max_price: "209" },
  );
  assertStringIncludes(typo.message, "a buy limit may be at most 209");
  // A stop-limit stop-loss leg sells: its limit far below its stop is refused.
  denied(
    ctx({
      request: req({
        type: "limit",
        limit_price: dec("100"),
        order_class: "bracket",
        take_profit: { limit_price: dec("120") },
        stop_loss: { stop_price: dec("95"), limit_price: dec("80") },
      }),
      limits,
    }),
    "RISK_PRICE_BAND",
    { field: "stop_loss.limit_price", reference_price: "95", min_price: "85.5" },
  );
  // The collar guards exits too: a reducing sell limit far through the market is refused.
  denied(
    ctx({
      request: req({ type: "limit", side: "sell", limit_price: dec("50"), qty: dec("10") }),
      positions: { AAPL: pos("10", "100") },
      limits,
    }),
    "RISK_PRICE_BAND",
    { min_price: "90" },
  );
});

Deno.test("risk: max_order_qty caps an order that adds exposure, not one that reduces it", () => {
  const limits = { max_order_qty: dec("1000") };
  passes(ctx({ request: req({ qty: dec("1000") }), limits }), "exactly at the limit");
  const err = denied(ctx({ request: req({ qty: dec("1001") }), limits }), "RISK_MAX_ORDER_QTY", {
    rule: "max_order_qty",
    limit: "1000",
    actual: "1001",
  });
  assertEquals(
    err.message,
    'Cannot submit order for "AAPL": qty 1001 exceeds limit 1000 shares per order; split the order or ask an admin to raise max_order_qty',
  );
  assertEquals(TRADE_ERRORS.RISK_MAX_ORDER_QTY.status, 422);
  // A short sale of 1001 adds exposure; selling 1500 of a 1500 long does not.
  denied(
    ctx({ request: req({ side: "sell", qty: dec("1001") }), limits }),
    "RISK_MAX_ORDER_QTY",
    { actual: "1001" },
  );
  passes(
    ctx({
      request: req({ side: "sell", qty: dec("1500") }),
      positions: { AAPL: pos("1500", "100") },
      limits,
    }),
    "closing a position larger than the cap",
  );
  // A notional order is capped by its estimated qty (at the limit, else the last trade).
  denied(
    ctx({ request: req({ qty: undefined, notional: dec("100050") }), limits }),
    "RISK_MAX_ORDER_QTY",
    { actual: "1000.5", notional: "100050" },
  );
  const near = evaluateRisk(ctx({ request: req({ qty: dec("900") }), limits }));
  assertEquals(near.warnings.map((w) => [w.code, w.details?.rule]), [[
    "RISK_NEAR_LIMIT",
    "max_order_qty",
  ]]);
});

Deno.test("risk: daily_loss_pct stops new exposure at a share of start-of-day equity", () => {
  const limits = { daily_loss_pct: dec("5") };
  const account = (equity: string) => ({
    equity: dec(equity),
    last_equity: dec("100000"),
    buying_power: dec("200000"),
  });
  passes(ctx({ account: account("95000.01"), limits }), "4.99999% down");
  const err = denied(ctx({ account: account("95000"), limits }), "RISK_DAILY_LOSS", {
    rule: "daily_loss_pct",
    limit: "5000",
    limit_pct: "5",
    actual: "5000",
    last_equity: "100000",
  });
  assertEquals(
    err.message,
    'Cannot submit order for "AAPL": loss today 5000 reaches limit 5000 (5% of start-of-day equity 100000); only orders that reduce exposure are allowed',
  );
  passes(
    ctx({
      account: account("90000"),
      request: req({ side: "sell", qty: dec("10") }),
      positions: { AAPL: pos("10", "100") },
      limits,
    }),
    "an exit past the limit",
  );
  // With a dollar limit too, the tighter one decides, once.
  denied(
    ctx({ account: account("96000"), limits: { ...limits, daily_loss_limit: dec("3000") } }),
    "RISK_DAILY_LOSS",
    { rule: "daily_loss_limit", limit: "3000" },
  );
  denied(
    ctx({ account: account("94000"), limits: { ...limits, daily_loss_limit: dec("9000") } }),
    "RISK_DAILY_LOSS",
    { rule: "daily_loss_pct", limit: "5000" },
  );
  const near = evaluateRisk(ctx({ account: account("95900"), limits }));
  assertEquals(near.warnings.map((w) => w.details?.rule), ["daily_loss_pct"]);
});

Deno.test("risk: a fresh install's defaults are 1000 shares, 5% daily loss and a 10% collar", () => {
  const d = riskLimitsFromConfig({
    maxPositionSize: "25000",
    maxDailyTrades: 100,
    maxOpenPositions: 20,
    maxOrdersPerMinute: 100,
  });
  assertEquals(
    [String(d.max_order_qty), String(d.daily_loss_pct), String(d.price_band_pct)],
    ["1000", "5", "10"],
  );
  const off = riskLimitsFromConfig({
    maxPositionSize: "25000",
    maxDailyTrades: 100,
    maxOpenPositions: 20,
    maxOrdersPerMinute: 100,
    maxOrderQty: "5000",
    dailyLossPct: null,
    priceBandPct: "2.5",
  });
  assertEquals(
    [String(off.max_order_qty), off.daily_loss_pct, String(off.price_band_pct)],
    ["5000", null, "2.5"],
  );
});

Deno.test("risk: max position value counts the position, pending orders and the order", () => {
  const base = {
    positions: { AAPL: pos("200", "95") },
    pendingQty: { AAPL: dec("50") },
    limits: { max_position_value: dec("25000") },
  };
  passes(
    ctx({ ...base, pendingQty: { AAPL: dec("40") }, request: req({ qty: dec("10") }) }),
    "250 × 100 = 25000 is at the limit",
  );
  const err = denied(ctx({ ...base, request: req({ qty: dec("10") }) }), "RISK_MAX_POSITION", {
    rule: "max_position_value",
    limit: "25000",
    actual: "26000",
    position_qty: "200",
    pending_qty: "50",
    qty_after: "260",
  });
  assertEquals(
    err.message,
    'Cannot submit order for "AAPL": position value 26000 in "AAPL" after the order exceeds limit 25000',
  );
  // Shorts count by magnitude, and a flip is not a reduction.
  denied(
    ctx({
      ...base,
      pendingQty: {},
      request: req({ side: "sell", qty: dec("461") }),
    }),
    "RISK_MAX_POSITION",
    { actual: "26100", qty_after: "-261" },
  );
});

Deno.test("risk: allocation is the position value after over equity", () => {
  const positions = {
    AAPL: pos("100", "100"),
    MSFT: pos("50", "400"),
    XOM: pos("-100", "110", "Energy"),
  };
  const limits = { max_allocation_pct: dec("25") };
  const account = { equity: dec("80000"), last_equity: dec("80000"), buying_power: dec("1") };
  passes(ctx({ positions, limits, account, request: req({ qty: dec("100") }) }), "20000 = 25%");
  const err = denied(
    ctx({ positions, limits, account, request: req({ qty: dec("101") }) }),
    "RISK_MAX_ALLOCATION",
    {
      rule: "max_allocation_pct",
      limit: "25",
      actual: "25.125",
      position_value_after: "20100",
      equity: "80000",
    },
  );
  assertStringIncludes(err.message, 'allocation 25.13% of equity in "AAPL" after the order');
  denied(
    ctx({
      positions,
      limits,
      account: { ...account, equity: dec("-5") },
      request: req({ qty: dec("1") }),
    }),
    "RISK_MAX_ALLOCATION",
    { actual: null, equity: "-5" },
  );
});

Deno.test("risk: open positions grow only for a new symbol; pending symbols count", () => {
  const positions = { MSFT: pos("10", "400"), GOOG: pos("5", "150"), OLD: pos("0", "1") };
  const limits = { max_open_positions: 2 };
  const err = denied(ctx({ positions, limits }), "RISK_MAX_OPEN_POSITIONS", {
    rule: "max_open_positions",
    limit: "2",
    actual: "3",
    open_positions: "2",
    symbols_with_pending_orders: "0",
  });
  assertEquals(
    err.message,
    'Cannot submit order for "AAPL": 3 open positions with "AAPL" would exceed limit 2',
  );
  passes(
    ctx({
      positions,
      limits,
      request: req({ symbol: "MSFT" }),
      asset: { symbol: "MSFT", sector: "" },
    }),
    "adding to an open position",
  );
  passes(ctx({ positions, limits: { max_open_positions: 3 } }));
  denied(
    ctx({
      positions: { MSFT: positions.MSFT },
      pendingQty: { TSLA: dec("3") },
      limits,
    }),
    "RISK_MAX_OPEN_POSITIONS",
    { actual: "3", open_positions: "1", symbols_with_pending_orders: "1" },
  );
  passes(
    ctx({ positions: { MSFT: positions.MSFT }, pendingQty: { AAPL: dec("3") }, limits }),
    "a symbol with a pending buy already holds its slot",
  );
});

Deno.test("risk: sector concentration sums gross values of the sector after the order", () => {
  const positions = {
    AAPL: pos("50", "100"), // 5000, replaced by the after-value
    MSFT: pos("50", "400"), // 20000
    NVDA: pos("-50", "200"), // short: 10000 gross
    XOM: pos("300", "100", "Energy"), // 30000, other sector
    CASHLIKE: { qty: dec("10"), market_value: dec("1000") }, // no sector
  };
  const c = (pct: string, qty = "50") =>
    ctx({ positions, limits: { max_sector_pct: dec(pct) }, request: req({ qty: dec(qty) }) });
  passes(c("40"), "20000 + 10000 + 100 × 100 = 40000 = 40% exactly");
  const err = denied(c("39.99"), "RISK_SECTOR_CONCENTRATION", {
    rule: "max_sector_pct",
    limit: "39.99",
    actual: "40",
    sector: "Technology",
    sector_value_after: "40000",
    other_positions_value: "30000",
    position_value_after: "10000",
    equity: "100000",
  });
  assertStringIncludes(err.message, 'sector "Technology" at 40% of equity after the order');
  passes(
    ctx({
      positions,
      limits: { max_sector_pct: dec("1") },
      asset: { symbol: "AAPL", sector: "" },
    }),
    "an asset without a sector is not checked",
  );
});

Deno.test("risk: trades today; the order that would exceed the count is denied", () => {
  const limits = { max_daily_trades: 100 };
  passes(ctx({ limits, tradesToday: 99 }));
  const err = denied(ctx({ limits, tradesToday: 100 }), "RISK_MAX_DAILY_TRADES", {
    rule: "max_daily_trades",
    limit: "100",
    actual: "100",
  });
  assertEquals(err.message, 'Cannot submit order for "AAPL": 100 trades today reach limit 100');
  passes(
    ctx({
      limits,
      tradesToday: 150,
      positions: { AAPL: pos("10", "100") },
      request: req({ side: "sell", qty: dec("10") }),
    }),
    "an exit is still allowed",
  );
});

Deno.test("risk: daily loss stops new exposure at or beyond the limit, not exits", () => {
  const limits = { daily_loss_limit: dec("1000") };
  const account = (equity: string) => ({
    equity: dec(equity),
    last_equity: dec("100000"),
    buying_power: dec("1"),
  });
  passes(ctx({ limits, account: account("99000.01") }), "loss 999.99");
  const err = denied(
    ctx({
      limits,
      account: account("99000"),
      realizedPlToday: dec("-400"),
      unrealizedPl: dec("-600"),
    }),
    "RISK_DAILY_LOSS",
    {
      rule: "daily_loss_limit",
      limit: "1000",
      actual: "1000",
      equity: "99000",
      last_equity: "100000",
      realized_pl_today: "-400",
      unrealized_pl: "-600",
    },
  );
  assertEquals(
    err.message,
    'Cannot submit order for "AAPL": loss today 1000 reaches limit 1000; only orders that reduce exposure are allowed',
  );
  denied(ctx({ limits, account: account("90000") }), "RISK_DAILY_LOSS", { actual: "10000" });
  passes(
    ctx({
      limits,
      account: account("90000"),
      positions: { AAPL: pos("-30", "100") },
      request: req({ side: "buy", qty: dec("30") }),
    }),
    "covering a short reduces exposure",
  );
  passes(ctx({ limits: { daily_loss_limit: dec("0") } }), "a flat day is no loss");
  denied(
    ctx({ limits: { daily_loss_limit: dec("0") }, account: account("99999.99") }),
    "RISK_DAILY_LOSS",
    {
      actual: "0.01",
    },
  );
});

Deno.test("risk: the rate decision becomes a 429 with retry_after_seconds", () => {
  const limiter = new SlidingWindowLimiter();
  for (let i = 0; i < 100; i++) assert(limiter.tryAcquire("user-1", 100, i * 100).allowed);
  const rate = limiter.tryAcquire("user-1", 100, 30_000);
  const err = denied(ctx({ rate, limits: { max_orders_per_minute: 100 } }), "RATE_LIMITED", {
    rule: "max_orders_per_minute",
    limit: "100",
    actual: "100",
    retry_after_seconds: "30",
    retry_after_ms: "30000",
  });
  assertEquals(err.status, 429);
  assertStringIncludes(err.message, "100 orders in the last minute reach limit 100; retry in 30 s");
  const late = limiter.tryAcquire("user-1", 100, 59_999);
  denied(ctx({ rate: late }), "RATE_LIMITED", { retry_after_seconds: "1", retry_after_ms: "1" });
  passes(ctx({ rate: limiter.tryAcquire("user-1", 100, 60_000) }));
});

// ---------------------------------------------------------------------------------------------
// Trading state and ordering

Deno.test("risk: halted denies every order, exits included", () => {
  const exit = ctx({
    state: "halted",
    positions: { AAPL: pos("10", "100") },
    request: req({ side: "sell", qty: dec("10") }),
  });
  const err = denied(exit, "TRADING_HALTED", { rule: "trading_state", state: "halted" });
  assertEquals(err.status, 403);
  assertEquals(err.message, 'Cannot submit order for "AAPL": trading is halted');
  denied(ctx({ state: "halted" }), "TRADING_HALTED", {});
});

Deno.test("risk: reducing allows exits and denies entries, adds and flips", () => {
  const positions = { AAPL: pos("100", "100"), TSLA: pos("-20", "250") };
  const c = (o: Partial<OrderRequest>, pendingQty: Record<string, Decimal> = {}) =>
    ctx({ state: "reducing", positions, pendingQty, request: req(o) });
  passes(c({ side: "sell", qty: dec("40") }), "partial exit");
  passes(c({ side: "sell", qty: dec("100") }), "full exit");
  passes(c({ side: "sell", qty: undefined, notional: dec("5000") }), "notional exit");
  passes(c({ symbol: "TSLA", side: "buy", qty: dec("20") }), "short cover");
  const err = denied(c({ side: "sell", qty: dec("101") }), "TRADING_REDUCING", {
    rule: "trading_state",
    state: "reducing",
    position_qty: "100",
    pending_qty: "0",
    qty_after: "-1",
  });
  assertEquals(err.status, 403);
  assertStringIncludes(
    err.message,
    "trading is reduce-only and the order would open, grow or flip",
  );
  denied(c({ side: "buy", qty: dec("1") }), "TRADING_REDUCING", {});
  denied(c({ symbol: "NVDA" }), "TRADING_REDUCING", { position_qty: "0" });
  denied(c({ symbol: "TSLA", side: "sell", qty: dec("1") }), "TRADING_REDUCING", {});
  // Pending sells of 80 could fill first: selling 50 more might open a short.
  denied(c({ side: "sell", qty: dec("50") }, { AAPL: dec("-80") }), "TRADING_REDUCING", {
    pending_qty: "-80",
    qty_after: "-30",
  });
  // Pending buys of 50 could be canceled: selling 120 might flip.
  denied(c({ side: "sell", qty: dec("120") }, { AAPL: dec("50") }), "TRADING_REDUCING", {});
  passes(c({ side: "sell", qty: dec("20") }, { AAPL: dec("-80") }));
});

Deno.test("risk: all denials are listed, most severe first", () => {
  const limiter = new SlidingWindowLimiter();
  limiter.tryAcquire("u", 1, 0);
  const c = ctx({
    state: "halted",
    rate: limiter.tryAcquire("u", 1, 1),
    request: req({ qty: dec("1000"), type: "limit", limit_price: dec("150") }),
    positions: { MSFT: pos("10", "100") },
    tradesToday: 5,
    account: { equity: dec("50000"), last_equity: dec("60000"), buying_power: dec("1") },
    limits: {
      max_order_notional: dec("1000"),
      price_band_pct: dec("5"),
      max_position_value: dec("1000"),
      max_allocation_pct: dec("10"),
      max_open_positions: 1,
      max_sector_pct: dec("10"),
      max_daily_trades: 5,
      daily_loss_limit: dec("5000"),
    },
  });
  assertEquals(codes(c), [
    "TRADING_HALTED",
    "RATE_LIMITED",
    "RISK_MAX_ORDER_NOTIONAL",
    "RISK_PRICE_BAND",
    "RISK_MAX_POSITION",
    "RISK_MAX_ALLOCATION",
    "RISK_MAX_OPEN_POSITIONS",
    "RISK_SECTOR_CONCENTRATION",
    "RISK_MAX_DAILY_TRADES",
    "RISK_DAILY_LOSS",
  ]);
  const reducing = codes({ ...c, state: "reducing" });
  assertEquals(reducing.slice(0, 2), ["TRADING_REDUCING", "RATE_LIMITED"]);
  for (const d of evaluateRisk(c).denials) {
    assert(typeof d.details.rule === "string", `${d.code} names its rule`);
    assertEquals(d.status, TRADE_ERRORS[d.code].status);
  }
});

Deno.test("risk: near-limit warnings at 80% of a limit", () => {
  const { denials, warnings } = evaluateRisk(ctx({
    request: req({ qty: dec("80") }),
    account: { equity: dec("100000"), last_equity: dec("100900"), buying_power: dec("1") },
    limits: {
      max_order_notional: dec("10000"),
      max_position_value: dec("9000"),
      daily_loss_limit: dec("1000"),
      max_allocation_pct: dec("50"),
    },
  }));
  assertEquals(denials, []);
  assertEquals(
    warnings.map((w) => [w.code, w.details?.rule, w.details?.actual]),
    [
      ["RISK_NEAR_LIMIT", "max_order_notional", "8000"],
      ["RISK_NEAR_LIMIT", "max_position_value", "8000"],
      ["RISK_NEAR_LIMIT", "daily_loss_limit", "900"],
    ],
  );
});

Deno.test("risk: exposure figures; notional orders estimate qty away from zero", () => {
  const f = exposureOf(ctx({
    request: req({ qty: undefined, notional: dec("1000"), side: "sell" }),
    refPrice: dec("300"),
    positions: { AAPL: pos("10", "300") },
  }));
  assertEquals(f.orderQty, dec("-3.333333334"));
  assertEquals(f.qtyAfter, dec("6.666666666"));
  assertEquals(f.notional, dec("1000"));
  assert(f.reducesExposure);
  assertThrows(() => evaluateRisk(ctx({ refPrice: Decimal.ZERO })), RangeError, "not positive");
  assert(reducesExposure(dec("5"), dec("0"), dec("-5")), "closing to zero reduces");
  assert(!reducesExposure(dec("0"), dec("5"), dec("-5")), "nothing filled: nothing to reduce");
  assert(!reducesExposure(dec("5"), dec("0"), dec("1")));
});

// ---------------------------------------------------------------------------------------------
// Properties

const EXPOSURE_CODES = new Set<TradeErrorCode>([
  "RISK_MAX_POSITION",
  "RISK_MAX_ALLOCATION",
  "RISK_MAX_OPEN_POSITIONS",
  "RISK_SECTOR_CONCENTRATION",
  "RISK_DAILY_LOSS",
  "RISK_MAX_DAILY_TRADES",
]);

const qtyArb = fc.integer({ min: -2_000, max: 2_000 }).map((n) => Decimal.int(n));
const scenarioArb = fc.record({
  position: qtyArb,
  pending: qtyArb,
  orderAbs: fc.integer({ min: 1, max: 2_000 }),
  side: fc.constantFrom("buy" as const, "sell" as const),
  price: fc.integer({ min: 1, max: 100_000 }).map((n) =>
    Decimal.fromUnits(BigInt(n) * 10_000_000n)
  ),
  equity: fc.integer({ min: -10_000, max: 1_000_000 }).map((n) => Decimal.int(n)),
  lastEquity: fc.integer({ min: 0, max: 1_000_000 }).map((n) => Decimal.int(n)),
  others: fc.array(
    fc.record({
      qty: fc.integer({ min: -500, max: 500 }),
      value: fc.integer({ min: 0, max: 500_000 }),
      sector: fc.constantFrom("Technology", "Energy"),
    }),
    { maxLength: 6 },
  ),
  tradesToday: fc.integer({ min: 0, max: 50 }),
  limits: fc.record({
    max_position_value: fc.integer({ min: 0, max: 100_000 }).map((n) => Decimal.int(n)),
    max_allocation_pct: fc.integer({ min: 0, max: 100 }).map((n) => Decimal.int(n)),
    max_open_positions: fc.integer({ min: 0, max: 5 }),
    max_sector_pct: fc.integer({ min: 0, max: 100 }).map((n) => Decimal.int(n)),
    daily_loss_limit: fc.integer({ min: 0, max: 10_000 }).map((n) => Decimal.int(n)),
    max_daily_trades: fc.integer({ min: 0, max: 50 }),
  }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function scenarioCtx(s: Scenario, state: RiskContext["state"] = "active"): RiskContext {
  const positions: Record<string, RiskPosition> = {};
  s.others.forEach((o, i) => {
    positions[`S${i}`] = {
      qty: Decimal.int(o.qty),
      market_value: Decimal.int(o.qty < 0 ? -o.value : o.value),
      sector: o.sector,
    };
  });
  if (!s.position.isZero()) {
    positions.AAPL = {
      qty: s.position,
      market_value: s.position.mul(s.price),
      sector: "Technology",
    };
  }
  return ctx({
    request: req({ side: s.side, qty: Decimal.int(s.orderAbs) }),
    refPrice: s.price,
    positions,
    pendingQty: { AAPL: s.pending },
    account: { equity: s.equity, last_equity: s.lastEquity, buying_power: s.equity },
    tradesToday: s.tradesToday,
    limits: s.limits,
    state,
  });
}

/** The test's own reading of "strictly shrinks |position| without flipping", pending or not. */
function strictlyShrinks(s: Scenario): boolean {
  const o = BigInt(s.side === "buy" ? s.orderAbs : -s.orderAbs);
  const abs = (x: bigint) => (x < 0n ? -x : x);
  const ok = (base: bigint) => {
    const after = base + o;
    return abs(after) < abs(base) && (after === 0n || (after < 0n) === (base < 0n));
  };
  const p = s.position.units / Decimal.ONE.units;
  return ok(p) && ok(p + s.pending.units / Decimal.ONE.units);
}

Deno.test("risk property: an order that strictly shrinks |position| passes the exposure rules", () => {
  let checked = 0;
  fc.assert(
    fc.property(scenarioArb, (s) => {
      if (!strictlyShrinks(s)) return;
      checked++;
      const result = evaluateRisk(scenarioCtx(s));
      const hit = result.denials.filter((d) => EXPOSURE_CODES.has(d.code)).map((d) => d.code);
      assertEquals(hit, [], `position ${s.position} pending ${s.pending} ${s.side} ${s.orderAbs}`);
      assert(result.exposure.reducesExposure);
    }),
    { ...FC, numRuns: 3_000 },
  );
  assert(checked > 100, `too few shrinking scenarios: ${checked}`);
});

Deno.test("risk property: reducing state denies exactly the orders that do not shrink", () => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const got = codes(scenarioCtx(s, "reducing")).includes("TRADING_REDUCING");
      assertEquals(got, !strictlyShrinks(s));
      assertEquals(codes(scenarioCtx(s, "halted"))[0], "TRADING_HALTED");
    }),
    FC,
  );
});

Deno.test("risk property: every denial carries rule, limit and actual as strings", () => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      for (const d of evaluateRisk(scenarioCtx(s)).denials) {
        assertEquals(typeof d.details.rule, "string");
        assertEquals(typeof d.details.limit, "string");
        assert(d.details.actual === null || typeof d.details.actual === "string");
        if (typeof d.details.actual === "string") Decimal.parse(d.details.actual);
        assertEquals(d.status, 422);
      }
    }),
    FC,
  );
});

// ---------------------------------------------------------------------------------------------
// Advice for POST /orders/validate

function advice(overrides: Partial<AdviceContext> = {}) {
  const base: AdviceContext = {
    request: req(),
    refPrice: dec("100"),
    account: { buying_power: dec("10000") },
    positions: {},
    session: "core",
    ...overrides,
  };
  const a = validationAdvice(base);
  return { warnings: a.warnings.map((w) => w.code), recs: a.recommendations.map((r) => r.code), a };
}

Deno.test("advice: market closed, the order will queue unless extended-hours eligible", () => {
  assertEquals(advice({ session: "post" }).warnings, ["MARKET_CLOSED_WILL_QUEUE"]);
  const eh = req({ type: "limit", limit_price: dec("100"), extended_hours: true });
  assertEquals(advice({ session: "pre", request: eh }).warnings, []);
  assertEquals(advice({ session: "closed", request: eh }).warnings, ["MARKET_CLOSED_WILL_QUEUE"]);
  assertEquals(advice({ session: "core" }).warnings, []);
});

Deno.test("advice: over 80% of buying power warns; exactly 80% does not", () => {
  assertEquals(advice({ request: req({ qty: dec("80") }) }).warnings, []);
  const { warnings, a } = advice({ request: req({ qty: dec("81") }) });
  assertEquals(warnings, ["HIGH_BUYING_POWER_USE"]);
  assertEquals(a.warnings[0]!.details, { cost_basis: "8100", buying_power: "10000", pct: "81" });
  assertEquals(
    advice({ request: req({ qty: dec("1") }), account: { buying_power: dec("0") } }).warnings,
    ["HIGH_BUYING_POWER_USE"],
  );
  assertEquals(
    advice({
      request: req({ side: "sell", qty: dec("100") }),
      positions: { AAPL: pos("100", "100") },
    }).warnings,
    [],
    "selling a long costs no buying power",
  );
});

Deno.test("advice: a limit or stop more than 10% from the last trade warns", () => {
  const lim = (p: string) => req({ type: "limit", limit_price: dec(p), qty: dec("1") });
  assertEquals(advice({ request: lim("110") }).warnings, []);
  assertEquals(advice({ request: lim("89.99") }).warnings, ["PRICE_FAR_FROM_MARKET"]);
  const stop = advice({ request: req({ type: "stop", stop_price: dec("120"), qty: dec("1") }) });
  assertEquals(stop.warnings, ["PRICE_FAR_FROM_MARKET"]);
  assertStringIncludes(
    stop.a.warnings[0]!.message,
    "stop_price 120 is 20% from the last trade 100",
  );
});

Deno.test("advice: PRICE_FAR_FROM_MARKET follows the collar: passive side warns, through side is the collar's", () => {
  const lim = (p: string, side: "buy" | "sell" = "buy") =>
    req({ type: "limit", side, limit_price: dec(p), qty: dec("1") });
  const collar = { priceBandPct: dec("10") };
  // Passive, beyond the collar: a warning that says it rests.
  const passive = advice({ request: lim("85"), ...collar });
  assertEquals(passive.warnings, ["PRICE_FAR_FROM_MARKET"]);
  assertEquals(passive.a.warnings[0]!.details?.placement, "passive");
  assertEquals(passive.a.warnings[0]!.details?.threshold_pct, "10");
  assertStringIncludes(passive.a.warnings[0]!.message, "passive: it rests");
  assertEquals(advice({ request: lim("200", "sell"), ...collar }).warnings, [
    "PRICE_FAR_FROM_MARKET",
  ]);
  // Through the market beyond the collar: refused by risk (RISK_PRICE_BAND), not warned twice.
  assertEquals(advice({ request: lim("1900"), ...collar }).warnings, []);
  // The threshold is the collar's: an admin's 25% collar warns from 25%.
  assertEquals(advice({ request: lim("80"), priceBandPct: dec("25") }).warnings, []);
  assertEquals(advice({ request: lim("74"), priceBandPct: dec("25") }).warnings, [
    "PRICE_FAR_FROM_MARKET",
  ]);
  // No collar: 10%, and a marketable limit far through the market is the loudest warning.
  const through = advice({ request: lim("1900"), priceBandPct: null });
  assertEquals(through.warnings, ["PRICE_FAR_FROM_MARKET"]);
  assertStringIncludes(through.a.warnings[0]!.message, "marketable: it trades at once");
  // A buy stop far below the market elects at once: warned, never collared.
  const stop = advice({
    request: req({ type: "stop", stop_price: dec("80"), qty: dec("1") }),
    ...collar,
  });
  assertEquals(stop.warnings, ["PRICE_FAR_FROM_MARKET"]);
  assertStringIncludes(stop.a.warnings[0]!.message, "it elects at once");
});

Deno.test("advice: recommendations for exits and limit orders", () => {
  assertEquals(advice().recs, ["USE_BRACKET"]);
  const bracket = req({
    order_class: "bracket",
    take_profit: { limit_price: dec("110") },
    stop_loss: { stop_price: dec("95") },
  });
  assertEquals(advice({ request: bracket }).recs, []);
  const otoTp = req({ order_class: "oto", take_profit: { limit_price: dec("110") } });
  assertEquals(advice({ request: otoTp }).recs, ["ADD_STOP_LOSS"]);
  assertEquals(
    advice({ request: req({ side: "sell" }), positions: { AAPL: pos("10", "100") } }).recs,
    [],
    "an exit needs no exits",
  );
  const exit = { request: req({ side: "sell" }), positions: { AAPL: pos("10", "100") } };
  assertEquals(advice({ ...exit, session: "pre" }).recs, ["USE_LIMIT_ORDER"]);
  assertEquals(advice({ ...exit, quote: { bid: dec("99.75"), ask: dec("100.25") } }).recs, []);
  const wide = advice({ ...exit, quote: { bid: dec("99.5"), ask: dec("100.5") } });
  assertEquals(wide.recs, ["USE_LIMIT_ORDER"]);
  assertStringIncludes(wide.a.recommendations[0]!.message, "wide spread (1% of the mid)");
});
