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

const ALPACA = {
  BROKER: "alpaca",
  ALPACA_KEY_ID: "PKTEST",
  ALPACA_SECRET_KEY: "alpaca-secret-value",
  ALPACA_ACCOUNT_USER: "alice",
};

Deno.test("config: BROKER=alpaca is paper by default, on Alpaca's hosts", () => {
  const c = loadConfig(ALPACA);
  assertEquals(c.broker, "alpaca");
  assertEquals(c.liveTrading, false);
  assertEquals(c.alpaca, {
    keyId: "PKTEST",
    secretKey: "alpaca-secret-value",
    paper: true,
    accountUser: "alice",
    tradingUrl: "https://paper-api.alpaca.markets",
    dataUrl: "https://data.alpaca.markets",
    streamUrl: "wss://paper-api.alpaca.markets/stream",
    dataStreamUrl: "wss://stream.data.alpaca.markets/v2",
    feed: "iex",
  });
});

Deno.test("config: BROKER=alpaca needs its keys and the account's user", () => {
  for (const missing of ["ALPACA_KEY_ID", "ALPACA_SECRET_KEY", "ALPACA_ACCOUNT_USER"]) {
    const env: Record<string, string> = { ...ALPACA };
    delete env[missing];
    const e = assertThrows(() => loadConfig(env), ConfigError);
    assert(e.message.startsWith('Invalid BROKER: "alpaca" needs'), e.message);
    assert(e.message.includes(missing), e.message);
    assert(!e.message.includes("alpaca-secret-value"), "the secret is never echoed");
  }
  const bad = assertThrows(
    () => loadConfig({ ...ALPACA, ALPACA_ACCOUNT_USER: "no spaces" }),
    ConfigError,
  );
  assert(bad.message.startsWith("Invalid ALPACA_ACCOUNT_USER"), bad.message);
});

Deno.test("config: real money needs ALPACA_PAPER=false and TRADEWIND_LIVE_TRADING=true", () => {
  const e = assertThrows(() => loadConfig({ ...ALPACA, ALPACA_PAPER: "false" }), ConfigError);
  assert(e.message.includes("TRADEWIND_LIVE_TRADING=true"), e.message);
  const live = loadConfig({ ...ALPACA, ALPACA_PAPER: "false", TRADEWIND_LIVE_TRADING: "true" });
  assertEquals(live.liveTrading, true);
  assertEquals(live.alpaca.tradingUrl, "https://api.alpaca.markets");
  assertEquals(live.alpaca.streamUrl, "wss://api.alpaca.markets/stream");
  // The live host while ALPACA_PAPER is true would trade real money: refused.
  const sneaky = assertThrows(
    () => loadConfig({ ...ALPACA, ALPACA_TRADING_URL: "https://api.alpaca.markets/" }),
    ConfigError,
  );
  assert(sneaky.message.startsWith("Invalid ALPACA_TRADING_URL"), sneaky.message);
  assert(sneaky.message.includes("live"), sneaky.message);
  // Live switches without Alpaca change nothing.
  assertEquals(loadConfig({ TRADEWIND_LIVE_TRADING: "true" }).liveTrading, false);
});

Deno.test("config: Alpaca base URLs are overridable; streams follow the hosts unless set", () => {
  const c = loadConfig({
    ...ALPACA,
    ALPACA_TRADING_URL: "http://127.0.0.1:9100/",
    ALPACA_DATA_URL: "https://proxy.example/alpaca-data",
    ALPACA_DATA_FEED: "sip",
  });
  assertEquals(c.alpaca.tradingUrl, "http://127.0.0.1:9100");
  assertEquals(c.alpaca.streamUrl, "ws://127.0.0.1:9100/stream");
  assertEquals(c.alpaca.dataUrl, "https://proxy.example/alpaca-data");
  assertEquals(c.alpaca.dataStreamUrl, "wss://proxy.example/alpaca-data/v2");
  assertEquals(c.alpaca.feed, "sip");
  const set = loadConfig({
    ...ALPACA,
    ALPACA_STREAM_URL: "ws://127.0.0.1:9200/stream",
    ALPACA_DATA_STREAM_URL: "wss://stream.data.sandbox.alpaca.markets/v2",
  });
  assertEquals(set.alpaca.streamUrl, "ws://127.0.0.1:9200/stream");
  assertEquals(set.alpaca.dataStreamUrl, "wss://stream.data.sandbox.alpaca.markets/v2");
  for (
    const [name, value] of [
      ["ALPACA_TRADING_URL", "ftp://paper-api.alpaca.markets"],
      ["ALPACA_TRADING_URL", "paper-api.alpaca.markets"],
      ["ALPACA_DATA_URL", "wss://data.alpaca.markets"],
      ["ALPACA_STREAM_URL", "https://paper-api.alpaca.markets/stream"],
      ["ALPACA_DATA_STREAM_URL", "ws://user:pw@host/v2"],
      ["ALPACA_TRADING_URL", "https://host/?key=1"],
    ]
  ) {
    const e = assertThrows(() => loadConfig({ ...ALPACA, [name!]: value! }), ConfigError);
    assert(e.message.startsWith(`Invalid ${name}: (hidden) must be a `), e.message);
    assert(!e.message.includes("pw"), e.message);
  }
  const feed = assertThrows(() => loadConfig({ ...ALPACA, ALPACA_DATA_FEED: "otc" }), ConfigError);
  assert(feed.message.startsWith("Invalid ALPACA_DATA_FEED"), feed.message);
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
