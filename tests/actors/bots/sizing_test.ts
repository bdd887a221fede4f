import { assertEquals } from "../../_assert.ts";
import { Decimal } from "../../../core/decimal.ts";
import { parseOrderRequest } from "../../../core/order.ts";
import { StrategyRegistry } from "../../../strategies/registry.ts";
import type { Intent } from "../../../strategies/strategy.ts";
import { parseBotConfig } from "../../../actors/bots/bot_config.ts";
import {
  roundToTick,
  sizeIntent,
  type SizingContext,
  type SizingResult,
  toOrderBody,
} from "../../../actors/bots/sizing.ts";

const registry = new StrategyRegistry();

function config(extra: Record<string, unknown>) {
  return parseBotConfig(
    { name: "b", strategy: "sma_cross", symbols: ["AAPL"], ...extra },
    registry,
  );
}

function intent(kind: Intent["kind"]): Intent {
  return { kind, symbol: "AAPL", reason: "test", snapshot: {}, t: "2024-01-09T14:30:00Z" };
}

/** The result as plain JSON (decimals as text). */
function size(kind: Intent["kind"], extra: Record<string, unknown>, ctx: Partial<SizingContext>) {
  const r: SizingResult = sizeIntent(intent(kind), config(extra), {
    price: 100,
    position: "0",
    equity: "10000",
    ...ctx,
  });
  return r.ok ? toOrderBody(r.request) : r.reason;
}

Deno.test("sizing: fixed qty, whole shares unless fractional", () => {
  assertEquals(size("enter_long", { sizing: { method: "fixed_qty", qty: "2.7" } }, {}), {
    symbol: "AAPL",
    type: "market",
    time_in_force: "day",
    side: "buy",
    order_class: "",
    position_intent: "buy_to_open",
    qty: "2",
  });
  const frac = size(
    "enter_long",
    { sizing: { method: "fixed_qty", qty: "2.7", fractional: true } },
    {},
  );
  assertEquals((frac as Record<string, unknown>).qty, "2.7");
  assertEquals(
    size("enter_long", { sizing: { method: "fixed_qty", qty: "0.5" } }, {}),
    "size rounds to zero",
  );
});

Deno.test("sizing: notional and percent of equity", () => {
  const n = size("enter_long", { sizing: { method: "notional", amount: "1050" } }, { price: 100 });
  assertEquals((n as Record<string, unknown>).qty, "10");
  const nf = size("enter_long", {
    sizing: { method: "notional", amount: "1050.555", fractional: true },
  }, {});
  assertEquals([(nf as Record<string, unknown>).notional, (nf as Record<string, unknown>).qty], [
    "1050.55",
    undefined,
  ]);
  // Fractional short entries fall back to whole shares.
  const short = size("enter_short", {
    sizing: { method: "notional", amount: "1050", fractional: true },
  }, {});
  assertEquals([(short as Record<string, unknown>).side, (short as Record<string, unknown>).qty], [
    "sell",
    "10",
  ]);
  const pct = size("enter_long", { sizing: { method: "percent_equity", percent: "25" } }, {
    price: 33,
  });
  assertEquals((pct as Record<string, unknown>).qty, "75"); // 2500 / 33 = 75.7
  assertEquals(
    size("enter_long", { sizing: { method: "percent_equity", percent: "25" } }, { equity: null }),
    "equity unknown",
  );
  assertEquals(
    size("enter_long", { sizing: { method: "notional", amount: "50" } }, { price: 100 }),
    "size rounds to zero",
  );
});

Deno.test("sizing: brackets by percent, rounded away from the entry", () => {
  const r = size("enter_long", { stop_loss: { percent: "2" }, take_profit: { percent: "3.333" } }, {
    price: 101.37,
  });
  // stop 101.37 − 2.0274 = 99.3426 → 99.34; target 101.37 + 3.37866… → 104.75
  assertEquals(r, {
    symbol: "AAPL",
    type: "market",
    time_in_force: "day",
    side: "buy",
    order_class: "bracket",
    position_intent: "buy_to_open",
    qty: "1",
    take_profit: { limit_price: "104.75" },
    stop_loss: { stop_price: "99.34" },
  });
  const s = size("enter_short", {
    sizing: { method: "fixed_qty", qty: 5 },
    stop_loss: { percent: "2" },
  }, { price: 101.37 }) as Record<string, unknown>;
  assertEquals([s.order_class, s.side, s.stop_loss], ["oto", "sell", { stop_price: "103.4" }]);
  // It reads back as an order request.
  assertEquals(parseOrderRequest(r).order_class, "bracket");
});

Deno.test("sizing: ATR legs and risk per trade", () => {
  const extra = {
    sizing: { method: "risk", percent: "1" },
    stop_loss: { atr_multiple: "2", atr_period: 10 },
    take_profit: { atr_multiple: "3" },
  };
  assertEquals(
    size("enter_long", extra, { atr: { 10: 1.5, 14: null } }),
    "take profit: ATR(14) has no value yet",
  );
  const r = size("enter_long", extra, { atr: { 10: 1.5, 14: 1.25 } }) as Record<string, unknown>;
  // risk 100 / distance 3 = 33.3 → 33 shares; stop 97, target 103.75
  assertEquals([r.qty, r.stop_loss, r.take_profit], ["33", { stop_price: "97" }, {
    limit_price: "103.75",
  }]);
  // Capped at what equity buys.
  const capped = size("enter_long", { ...extra, sizing: { method: "risk", percent: "50" } }, {
    atr: 1,
  }) as Record<string, unknown>;
  assertEquals(capped.qty, "100");
});

Deno.test("sizing: sub-dollar prices use 0.0001 ticks", () => {
  assertEquals(roundToTick(Decimal.parse("0.123456"), "down").toString(), "0.1234");
  assertEquals(roundToTick(Decimal.parse("0.123456"), "up").toString(), "0.1235");
  assertEquals(roundToTick(Decimal.parse("1.005"), "up").toString(), "1.01");
  const r = size("enter_long", {
    sizing: { method: "fixed_qty", qty: 1000 },
    stop_loss: { percent: "5" },
  }, { price: 0.5123 }) as Record<string, unknown>;
  assertEquals(r.stop_loss, { stop_price: "0.4866" }); // 0.486685 down
});

Deno.test("sizing: exits close the held quantity without legs", () => {
  const extra = { stop_loss: { percent: "2" } };
  assertEquals(size("exit_long", extra, { position: "7.5" }), {
    symbol: "AAPL",
    type: "market",
    time_in_force: "day",
    qty: "7.5",
    side: "sell",
    order_class: "",
    position_intent: "sell_to_close",
  });
  assertEquals(
    (size("exit_short", extra, { position: "-3" }) as Record<string, unknown>).side,
    "buy",
  );
  assertEquals(size("exit_long", extra, { position: "0" }), "no long position to close");
  assertEquals(size("exit_short", extra, { position: "2" }), "no short position to close");
});
