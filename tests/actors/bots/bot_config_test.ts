import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../_assert.ts";
import { TradeError } from "../../../core/errors.ts";
import { StrategyRegistry } from "../../../strategies/registry.ts";
import {
  botRiskLimits,
  type ConfigIssue,
  parseBotConfig,
  parseDuration,
} from "../../../actors/bots/bot_config.ts";

const registry = new StrategyRegistry();

function issuesOf(input: unknown): ConfigIssue[] {
  const e = assertThrows(() => parseBotConfig(input, registry), TradeError);
  return (e.details as { issues: ConfigIssue[] }).issues;
}

Deno.test("bot config: a minimal config gets the documented defaults", () => {
  const c = parseBotConfig(
    { name: "trend", strategy: "sma_cross", symbols: ["aapl", " msft"] },
    registry,
  );
  assertEquals(c.symbols, ["AAPL", "MSFT"]);
  assertEquals(c.timeframe, "1Min");
  assertEquals(c.params, { fast: 10, slow: 30, allowShort: false });
  // No window: the venue's hours decide (not Mon–Fri 09:30–16:00).
  assertEquals(c.trading_window, undefined);
  assertEquals(c.frequency, 0);
  assertEquals(c.cooldown_after_loss, 0);
  assertEquals(c.sizing, { method: "fixed_qty", qty: "1", fractional: false });
  assertEquals(c.max_positions, 2);
  assertEquals(c.risk, {});
  assertEquals(c.stop_loss, undefined);
  // Plain data: a structured clone is equal.
  assertEquals(structuredClone(c), c);
});

Deno.test("bot config: full config parses durations, sizing, legs and risk limits", () => {
  const c = parseBotConfig({
    name: "b",
    strategy: "sma_cross",
    symbols: ["SPY"],
    timeframe: "5Min",
    params: { fast: 5, slow: 20 },
    trading_window: { days: ["fri", "mon"], start: "10:00", end: "15:30" },
    frequency: "5m",
    sizing: { method: "risk", percent: 1 },
    stop_loss: { atr_multiple: "2" },
    take_profit: { percent: "3.50" },
    max_positions: 1,
    cooldown_after_loss: "1h",
    risk: { max_order_notional: "10000", max_open_positions: 3 },
  }, registry);
  assertEquals(c.trading_window?.days, ["mon", "fri"]);
  assertEquals(c.frequency, 300_000);
  assertEquals(c.cooldown_after_loss, 3_600_000);
  assertEquals(c.sizing, { method: "risk", percent: "1" });
  assertEquals(c.stop_loss, { atr_multiple: "2", atr_period: 14 });
  assertEquals(c.take_profit, { percent: "3.5" });
  assertEquals(c.risk, { max_order_notional: "10000", max_open_positions: 3 });
  assertEquals(botRiskLimits(c).max_order_notional?.toString(), "10000");
  assertEquals(parseDuration("90s"), 90_000);
  assertEquals(parseDuration("5 minutes"), null);
});

Deno.test("bot config: a window narrows only what it names; 24:00 ends the day", () => {
  const parse = (trading_window: unknown) =>
    parseBotConfig({ name: "w", strategy: "sma_cross", symbols: ["SPY"], trading_window }, registry)
      .trading_window;
  assertEquals(parse({}), {
    days: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    start: "00:00",
    end: "24:00",
  });
  assertEquals(parse({ start: "10:00" }), {
    days: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    start: "10:00",
    end: "24:00",
  });
  assertEquals(parse({ days: ["sat"], end: "24:00" })?.days, ["sat"]);
  assertEquals(
    issuesOf({
      name: "w",
      strategy: "sma_cross",
      symbols: ["SPY"],
      trading_window: { start: "24:00" },
    })
      .map((i) => i.path).filter((p, i, all) => all.indexOf(p) === i),
    ["trading_window.start"],
  );
  assertEquals(
    issuesOf({
      name: "w",
      strategy: "sma_cross",
      symbols: ["SPY"],
      trading_window: { end: "24:30" },
    })
      .map((i) => i.path),
    ["trading_window.end"],
  );
});

Deno.test("bot config: bad fields are reported with their paths", () => {
  const issues = issuesOf({
    name: "",
    strategy: "sma_cross",
    symbols: ["AAPL", "aapl", "12X"],
    timeframe: "2Min",
    params: { fast: 30, slow: 10 },
    trading_window: { start: "16:00", end: "09:30" },
    frequency: "soon",
    sizing: { method: "percent_equity", percent: "150" },
    max_positions: 0,
    risk: { max_allocation_pct: "150" },
  });
  const paths = issues.map((i) => i.path).sort();
  for (
    const p of [
      "name",
      "symbols.2",
      "timeframe",
      "params.fast",
      "trading_window.start",
      "frequency",
      "sizing.percent",
      "max_positions",
      "risk.max_allocation_pct",
    ]
  ) assert(paths.includes(p), `missing ${p} in ${paths.join(", ")}`);
  const e = assertThrows(
    () => parseBotConfig({ name: "x", strategy: "sma_cross", symbols: [] }, registry),
    TradeError,
  );
  assertStringIncludes(e.message, 'Cannot configure bot "x": symbols:');
  assertEquals(
    issuesOf({
      name: "x",
      strategy: "sma_cross",
      symbols: ["A"],
      sizing: { method: "risk", percent: 1 },
    })
      .map((i) => i.path),
    ["stop_loss"],
  );
});

Deno.test("bot config: an unknown strategy lists the known names", () => {
  const issues = issuesOf({ name: "x", strategy: "moon", symbols: ["AAPL"] });
  assertEquals(issues.map((i) => i.path), ["strategy"]);
  assertStringIncludes(issues[0]!.message, '"indicator_vote", "rsi_reversion", "sma_cross"');
});
