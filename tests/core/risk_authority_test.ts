import { assertEquals, assertThrows } from "../_assert.ts";
import { dec } from "../../core/decimal.ts";
import { TradeError } from "../../core/errors.ts";
import {
  assertWithinCeiling,
  changeState,
  effectiveState,
  resolveLimits,
} from "../../core/risk_authority.ts";

Deno.test("risk authority: the strictest layer wins, and a tie belongs to the layer above", () => {
  const r = resolveLimits({
    default: { max_orders_per_minute: 100, max_position_value: dec("25000") },
    admin: { max_orders_per_minute: 20, max_order_notional: dec("1000") },
    user: { max_orders_per_minute: 20, max_order_notional: dec("500") },
    bot: { max_order_notional: dec("900"), max_daily_trades: 3 },
  });
  assertEquals(r.limits.max_orders_per_minute, 20);
  assertEquals(r.sources.max_orders_per_minute, "admin");
  assertEquals(String(r.limits.max_order_notional), "500");
  assertEquals(r.sources.max_order_notional, "user");
  assertEquals([r.limits.max_daily_trades, r.sources.max_daily_trades], [3, "bot"]);
  assertEquals([r.limits.price_band_pct, r.sources.price_band_pct], [null, null]);
  // The ceiling of a layer is what the layers above it resolve to.
  const ceiling = resolveLimits({
    default: { max_orders_per_minute: 100 },
    admin: { max_order_notional: dec("1000") },
    user: { max_order_notional: dec("1") },
  }, "user");
  assertEquals(String(ceiling.limits.max_order_notional), "1000");
  assertWithinCeiling({ max_order_notional: dec("1000"), max_orders_per_minute: null }, ceiling);
  const e = assertThrows(
    () => assertWithinCeiling({ max_order_notional: dec("1000.01") }, ceiling),
    TradeError,
  );
  assertEquals([e.code, e.status], ["RISK_LIMIT_ABOVE_CEILING", 403]);
  assertEquals(
    e.message,
    'Cannot set risk limits: max_order_notional "1000.01" exceeds the limit an admin set "1000" (a limit may only tighten the limits above it)',
  );
});

Deno.test("risk authority: an admin overrides a protective default either way; a user only tightens", () => {
  const defaults = {
    max_order_qty: dec("1000"),
    daily_loss_pct: dec("5"),
    price_band_pct: dec("10"),
    max_orders_per_minute: 100,
  };
  // No admin value: the default applies, and is the user's ceiling.
  const plain = resolveLimits({ default: defaults, user: { price_band_pct: dec("5") } });
  assertEquals([String(plain.limits.max_order_qty), plain.sources.max_order_qty], [
    "1000",
    "default",
  ]);
  assertEquals([String(plain.limits.price_band_pct), plain.sources.price_band_pct], ["5", "user"]);
  // An admin's write is not capped by those defaults (it is by the others).
  const adminCeiling = resolveLimits({ default: defaults }, "admin");
  assertWithinCeiling(
    { max_order_qty: dec("5000"), daily_loss_pct: dec("20"), price_band_pct: dec("30") },
    adminCeiling,
  );
  assertThrows(
    () => assertWithinCeiling({ max_orders_per_minute: 101 }, adminCeiling),
    TradeError,
  );
  // The admin's value replaces the default, loosening or tightening it.
  const layers = {
    default: defaults,
    admin: { max_order_qty: dec("5000"), daily_loss_pct: dec("2") },
  };
  const r = resolveLimits(layers);
  assertEquals([String(r.limits.max_order_qty), r.sources.max_order_qty], ["5000", "admin"]);
  assertEquals([String(r.limits.daily_loss_pct), r.sources.daily_loss_pct], ["2", "admin"]);
  assertEquals([String(r.limits.price_band_pct), r.sources.price_band_pct], ["10", "default"]);
  // The user (and a bot) only tighten the result: the admin's 5000 is the ceiling now.
  const userCeiling = resolveLimits(layers, "user");
  assertWithinCeiling({ max_order_qty: dec("5000") }, userCeiling);
  const e = assertThrows(
    () =>
      assertWithinCeiling({ max_order_qty: dec("5001"), price_band_pct: dec("11") }, userCeiling),
    TradeError,
  );
  assertEquals(e.details.violations, [
    { field: "max_order_qty", requested: "5001", ceiling: "5000", ceiling_source: "admin" },
    { field: "price_band_pct", requested: "11", ceiling: "10", ceiling_source: "default" },
  ]);
  const withBot = resolveLimits({
    ...layers,
    user: { max_order_qty: dec("3000") },
    bot: {
      max_order_qty: dec("100"),
    },
  });
  assertEquals([String(withBot.limits.max_order_qty), withBot.sources.max_order_qty], [
    "100",
    "bot",
  ]);
});

Deno.test("risk authority: a user loosens only their own state; an admin sets it outright", () => {
  assertEquals(effectiveState({}), { state: "active", source: null });
  assertEquals(effectiveState({ admin: "reducing", user: "halted" }), {
    state: "halted",
    source: "user",
  });
  assertEquals(changeState({ user: "halted" }, "user", "active"), {
    admin: "active",
    user: "active",
  });
  assertEquals(changeState({ admin: "halted" }, "user", "halted"), {
    admin: "halted",
    user: "halted",
  });
  assertEquals(changeState({ admin: "reducing", user: "halted" }, "user", "reducing"), {
    admin: "reducing",
    user: "reducing",
  });
  for (
    const [admin, requested] of [["halted", "active"], ["halted", "reducing"], [
      "reducing",
      "active",
    ]] as const
  ) {
    const e = assertThrows(() => changeState({ admin }, "user", requested, "review"), TradeError);
    assertEquals([e.code, e.status], ["TRADING_STATE_SET_BY_ADMIN", 403]);
  }
  assertEquals(changeState({ admin: "halted", user: "halted" }, "admin", "reducing"), {
    admin: "reducing",
    user: "reducing",
  });
  assertEquals(changeState({ user: "reducing" }, "admin", "halted"), {
    admin: "halted",
    user: "reducing",
  });
});
