import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { ConfigError, loadConfig } from "../config.ts";

Deno.test("config: embedded defaults with an empty environment", () => {
  const c = loadConfig({});
  assertEquals(c.port, 8000);
  assertEquals(c.host, "127.0.0.1");
  assertEquals(c.dataDir, "./.tradewind");
  assertEquals(c.databaseUrl, undefined);
  assertEquals(c.broker, "paper");
  assertEquals(c.liveTrading, false);
  assertEquals(c.risk.maxOrdersPerMinute, 100);
});

Deno.test("config: a bad PORT names the variable and says what to fix", () => {
  for (const bad of ["abc", "", "70000", "80.5", "-1"].filter(Boolean)) {
    const e = assertThrows(() => loadConfig({ PORT: bad }), ConfigError);
    assert(e.message.startsWith("Invalid PORT:"), e.message);
    assert(e.message.includes(JSON.stringify(bad)), e.message);
  }
});

Deno.test("config: secrets are never echoed in errors", () => {
  const e = assertThrows(() => loadConfig({ JWT_SECRET: "short-secret" }), ConfigError);
  assert(e.message.startsWith("Invalid JWT_SECRET"), e.message);
  assert(!e.message.includes("short-secret"), e.message);
  const u = assertThrows(() => loadConfig({ DATABASE_URL: "mysql://u:pw@h/db" }), ConfigError);
  assert(!u.message.includes("pw"), u.message);
});

Deno.test("config: BROKER=alpaca is refused at validation until its adapter exists", () => {
  const keys = { BROKER: "alpaca", ALPACA_KEY_ID: "k", ALPACA_SECRET_KEY: "s" };
  for (
    const env of [
      { BROKER: "alpaca" },
      keys,
      { ...keys, ALPACA_PAPER: "false", TRADEWIND_LIVE_TRADING: "true" },
    ]
  ) {
    const e = assertThrows(() => loadConfig(env), ConfigError);
    assert(e.message.startsWith('Invalid BROKER: "alpaca" is not available'), e.message);
    assert(e.message.includes("use BROKER=paper"), e.message);
  }
  assertEquals(loadConfig({ BROKER: "paper" }).liveTrading, false);
});

Deno.test("config: an external identity provider needs issuer and audience", () => {
  assertThrows(
    () => loadConfig({ JWT_JWKS_URL: "https://idp.example/jwks.json" }),
    ConfigError,
    "JWT_ISSUER",
  );
});

Deno.test("config: JWT_MAX_TTL (default 30 days) and METRICS_TOKEN", () => {
  assertEquals(loadConfig({}).jwt.maxTtlSeconds, 30 * 86400);
  assertEquals(loadConfig({}).metricsToken, undefined);
  assertEquals(loadConfig({ JWT_MAX_TTL: "7d" }).jwt.maxTtlSeconds, 7 * 86400);
  assertEquals(loadConfig({ JWT_MAX_TTL: "90m" }).jwt.maxTtlSeconds, 5400);
  for (const bad of ["forever", "0h", "30", "4000d"]) {
    const e = assertThrows(() => loadConfig({ JWT_MAX_TTL: bad }), ConfigError);
    assert(e.message.startsWith(`Invalid JWT_MAX_TTL: "${bad}"`), e.message);
  }
  const e = assertThrows(() => loadConfig({ METRICS_TOKEN: "short-token" }), ConfigError);
  assert(e.message.startsWith("Invalid METRICS_TOKEN: (hidden)"), e.message);
});

Deno.test("config: protective risk defaults (1000 shares, 5% daily loss, 10% collar), set or off", () => {
  const d = loadConfig({}).risk;
  assertEquals([d.maxOrderQty, d.dailyLossPct, d.priceBandPct], ["1000", "5", "10"]);
  const set = loadConfig({ MAX_ORDER_QTY: "250.5", DAILY_LOSS_PCT: "2", PRICE_BAND_PCT: "OFF" });
  assertEquals([set.risk.maxOrderQty, set.risk.dailyLossPct, set.risk.priceBandPct], [
    "250.5",
    "2",
    null,
  ]);
  const bad: Array<[Record<string, string>, string]> = [
    [{ MAX_ORDER_QTY: "-5" }, 'Invalid MAX_ORDER_QTY: "-5" must be a non-negative decimal'],
    [{ DAILY_LOSS_PCT: "150" }, 'Invalid DAILY_LOSS_PCT: "150" must be at most 100, or off'],
    [{ PRICE_BAND_PCT: "ten" }, 'Invalid PRICE_BAND_PCT: "ten" must be a non-negative decimal'],
  ];
  for (const [env, text] of bad) {
    const e = assertThrows(() => loadConfig(env), ConfigError);
    assert(e.message.startsWith(text), e.message);
  }
});
