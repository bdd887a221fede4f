/**
 * Protective limits on by default (issue 17, item 4): a fresh install refuses an order of more
 * than 1000 shares, a limit priced more than 10% through the last trade, and new exposure after
 * a loss of 5% of start-of-day equity. Each default is set by the environment, overridden by an
 * admin per user (either way), and only tightened by a trader or a bot.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";
import { loadConfig } from "../../config.ts";
import { riskLimitsFromConfig } from "../../core/risk.ts";

/** The app with the engine defaults `./tradewind start` gets from this environment. */
function appWith(env: Record<string, string> = {}, startingCash?: string) {
  return createTestApp({
    trading: {
      limits: riskLimitsFromConfig(loadConfig(env).risk),
      ...(startingCash ? { venue: { startingCash } } : {}),
    },
  });
}

async function order(t: TestApp, user: string, body: Record<string, unknown>) {
  const res = await t.as(user, "/api/v1/orders", {
    method: "POST",
    json: { symbol: "AAPL", side: "buy", type: "market", time_in_force: "day", ...body },
  });
  return { status: res.status, body: await res.json() };
}

async function validate(t: TestApp, user: string, body: Record<string, unknown>) {
  const res = await t.as(user, "/api/v1/orders/validate", {
    method: "POST",
    json: { symbol: "AAPL", side: "buy", type: "market", time_in_force: "day", ...body },
  });
  assertEquals(res.status, 200);
  return await res.json();
}

async function put(t: TestApp, user: string, json: unknown, admin?: string) {
  const res = admin
    ? await t.as(admin, `/api/v1/risk/limits?username=${user}`, {
      method: "PUT",
      role: "admin",
      json,
    })
    : await t.as(user, "/api/v1/risk/limits", { method: "PUT", json });
  return { status: res.status, body: await res.json() };
}

async function lastTrade(t: TestApp): Promise<number> {
  return Number((await t.trading.venue.marketData.latestTrade("AAPL")).p);
}

async function ledgerOf(t: TestApp, user: string) {
  const [row] = await t.db.owner<{ orders: number; denied: string[] }[]>`
    select (select count(*)::int from orders o where o.user_id = u.id) as orders,
           (select coalesce(array_agg(l.status order by l.seq), '{}') from execution_logs l
             where l.user_id = u.id and l.action = 'DENIED') as denied
    from users u where u.username = ${user}`;
  return row!;
}

Deno.test({
  name: "risk defaults: a fresh install caps qty at 1000, collars limits at 10% and shows both",
  ...DB_TEST,
}, async () => {
  // A large account and position limit, so the figures under test are the only ones that bite.
  const t = await appWith({ MAX_POSITION_SIZE: "100000000" }, "10000000");
  try {
    const view = await (await t.as("kim", "/api/v1/risk/limits")).json();
    const expected: Array<[string, string]> = [
      ["max_order_qty", "1000"],
      ["daily_loss_pct", "5"],
      ["price_band_pct", "10"],
    ];
    for (const [field, value] of expected) {
      assertEquals([view.defaults[field], view.effective[field], view.sources[field]], [
        value,
        value,
        "default",
      ], field);
    }
    assertEquals(
      [view.default_settings.max_order_qty, view.default_settings.daily_loss_pct],
      ["MAX_ORDER_QTY", "DAILY_LOSS_PCT"],
    );
    assertEquals(view.default_settings.price_band_pct, "PRICE_BAND_PCT");
    assertEquals(view.default_settings.max_order_notional, null);
    assertEquals(view.admin_overridable, ["max_order_qty", "daily_loss_pct", "price_band_pct"]);

    // 1001 shares: refused, nothing placed, the denial audited.
    const big = await order(t, "kim", { qty: "1001" });
    assertEquals([big.status, big.body.error.code], [422, "RISK_MAX_ORDER_QTY"]);
    assertEquals([big.body.error.details.limit, big.body.error.details.actual], ["1000", "1001"]);
    assertStringIncludes(big.body.error.message, "exceeds limit 1000 shares per order");
    const noted = await ledgerOf(t, "kim");
    assertEquals([noted.orders, noted.denied], [0, ["RISK_MAX_ORDER_QTY"]]);

    // The 1900-for-190 typo: a buy limit ten times the last trade is refused, saying the bound.
    const last = await lastTrade(t);
    const typo = await order(t, "kim", {
      qty: "1",
      type: "limit",
      limit_price: (last * 10).toFixed(2),
    });
    assertEquals([typo.status, typo.body.error.code], [422, "RISK_PRICE_BAND"]);
    assertEquals(typo.body.error.details.rule, "price_band_pct");
    assertEquals(typo.body.error.details.max_price, String(Number((last * 1.1).toFixed(9))));
    assertStringIncludes(typo.body.error.message, "beyond the price collar of 10%");
    // A sell limit 20% below: refused too. 9% through: placed.
    const dump = await order(t, "kim", {
      qty: "1",
      side: "sell",
      type: "limit",
      limit_price: (last * 0.8).toFixed(2),
    });
    assertEquals([dump.status, dump.body.error.code], [422, "RISK_PRICE_BAND"]);
    const inside = await order(t, "kim", {
      qty: "1",
      type: "limit",
      limit_price: (last * 1.09).toFixed(2),
    });
    assertEquals(inside.status, 201, JSON.stringify(inside.body));
    // A buy limit 50% below rests: placed, and validate warns it is far on the passive side.
    const low = { qty: "1", type: "limit", limit_price: (last * 0.5).toFixed(2) };
    assertEquals((await order(t, "kim", low)).status, 201);
    const v = await validate(t, "kim", low);
    assertEquals(v.valid, true);
    const far = v.warnings.filter((w: { code: string }) => w.code === "PRICE_FAR_FROM_MARKET");
    assertEquals(far.map((w: { details: Record<string, string> }) => w.details.placement), [
      "passive",
    ]);
    assertEquals(far[0].details.threshold_pct, "10");
    // The typo, validated: an error, and not a warning besides.
    const vt = await validate(t, "kim", {
      qty: "1",
      type: "limit",
      limit_price: (last * 10).toFixed(2),
    });
    assertEquals(vt.valid, false);
    assertEquals(vt.errors.map((e: { code: string }) => e.code), ["RISK_PRICE_BAND"]);
    assert(
      !vt.warnings.some((w: { code: string }) => w.code === "PRICE_FAR_FROM_MARKET"),
      JSON.stringify(vt.warnings),
    );

    // The qty cap never traps a position: 1200 shares bought in two orders close in one.
    for (let i = 0; i < 2; i++) assertEquals((await order(t, "lee", { qty: "600" })).status, 201);
    // Fills are sized by the displayed quote: let the market fill the rest.
    for (let i = 0; i < 60; i++) {
      const open = await (await t.as("lee", "/api/v1/orders?status=open")).json();
      if (open.length === 0) break;
      await t.trading.advance(1_000);
    }
    const held = await (await t.as("lee", "/api/v1/positions/AAPL")).json();
    assertEquals(held.qty, "1200");
    const close = await t.as("lee", "/api/v1/positions/AAPL/close", { method: "POST" });
    const closed = await close.json();
    assertEquals([close.status, closed.qty], [200, "1200"], JSON.stringify(closed));
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "risk defaults: the environment sets or turns off each default",
  ...DB_TEST,
}, async () => {
  const t = await appWith({ MAX_ORDER_QTY: "5", PRICE_BAND_PCT: "off", DAILY_LOSS_PCT: "0" });
  try {
    const view = await (await t.as("max", "/api/v1/risk/limits")).json();
    assertEquals(
      [view.effective.max_order_qty, view.effective.price_band_pct, view.sources.price_band_pct],
      ["5", null, null],
    );
    const six = await order(t, "max", { qty: "6" });
    assertEquals([six.status, six.body.error.code], [422, "RISK_MAX_ORDER_QTY"]);
    // No collar: a buy limit 50% through the market is placed (only a warning says so).
    const last = await lastTrade(t);
    const through = { qty: "1", type: "limit", limit_price: (last * 1.5).toFixed(2) };
    const v = await validate(t, "max", through);
    assertEquals(v.valid, true);
    assert(
      v.warnings.some((w: { code: string; details: Record<string, string> }) =>
        w.code === "PRICE_FAR_FROM_MARKET" && w.details.placement === "through"
      ),
      JSON.stringify(v.warnings),
    );
    assertEquals((await order(t, "max", through)).status, 201);

    // DAILY_LOSS_PCT=0: buying at the ask and selling at the bid at the same instant is a loss,
    // and any loss reaches 0% of start-of-day equity, after which only exits are allowed.
    assertEquals((await order(t, "max", { qty: "5" })).status, 201);
    assertEquals((await order(t, "max", { qty: "3", side: "sell" })).status, 201);
    await t.trading.engine.settle();
    const more = await order(t, "max", { symbol: "MSFT", qty: "1" });
    assertEquals(
      [more.status, more.body.error?.code],
      [422, "RISK_DAILY_LOSS"],
      JSON.stringify(more.body),
    );
    assertEquals(more.body.error.details.rule, "daily_loss_pct");
    assertEquals(more.body.error.details.limit_pct, "0");
    assert(Number(more.body.error.details.actual) > 0, JSON.stringify(more.body.error.details));
    assertStringIncludes(more.body.error.message, "(0% of start-of-day equity 100000)");
    assertEquals((await order(t, "max", { qty: "2", side: "sell" })).status, 201, "an exit");
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "risk defaults: an admin raises or lowers a default for a user; the user and bots " +
    "only tighten",
  ...DB_TEST,
}, async () => {
  const t = await appWith({ MAX_POSITION_SIZE: "100000000" }, "10000000");
  try {
    // A trader cannot loosen a default, and nothing is stored.
    const loosen = await put(t, "ned", { max_order_qty: "5000", price_band_pct: "50" });
    assertEquals([loosen.status, loosen.body.error.code], [403, "RISK_LIMIT_ABOVE_CEILING"]);
    assertEquals(
      loosen.body.error.details.violations.map((v: Record<string, string>) => [
        v.field,
        v.ceiling,
        v.ceiling_source,
      ]),
      [["max_order_qty", "1000", "default"], ["price_band_pct", "10", "default"]],
    );
    assertEquals((await t.db.owner`select 1 from risk_limits`).length, 0);

    // An admin raises ned's qty cap and collar above the defaults, and lowers his daily loss.
    const admin = await put(t, "ned", {
      max_order_qty: "5000",
      price_band_pct: "50",
      daily_loss_pct: "2",
    }, "root");
    assertEquals(admin.status, 200, JSON.stringify(admin.body));
    assertEquals(
      [admin.body.effective.max_order_qty, admin.body.sources.max_order_qty],
      ["5000", "admin"],
    );
    assertEquals(
      [admin.body.effective.daily_loss_pct, admin.body.sources.daily_loss_pct],
      ["2", "admin"],
    );
    assertEquals(admin.body.defaults.max_order_qty, "1000");
    // An admin still cannot pass an operator's ceiling that is not a protective default.
    const ceiling = await put(t, "ned", { max_orders_per_minute: 1000 }, "root");
    assertEquals([ceiling.status, ceiling.body.error.code], [403, "RISK_LIMIT_ABOVE_CEILING"]);

    // The engine applies the admin's values: 1001 shares and a limit 30% through go now.
    const last = await lastTrade(t);
    const big = await order(t, "ned", {
      qty: "1001",
      type: "limit",
      limit_price: (last * 1.3).toFixed(2),
    });
    assertEquals(big.status, 201, JSON.stringify(big.body));

    // Ned may tighten below the admin's values, not loosen past them.
    const past = await put(t, "ned", { max_order_qty: "5001" });
    assertEquals([past.status, past.body.error.details.violations[0].ceiling_source], [
      403,
      "admin",
    ]);
    const tighter = await put(t, "ned", { max_order_qty: "10" });
    assertEquals([tighter.body.effective.max_order_qty, tighter.body.sources.max_order_qty], [
      "10",
      "user",
    ]);
    const eleven = await order(t, "ned", { qty: "11" });
    assertEquals([eleven.status, eleven.body.error.details.limit], [422, "10"]);

    // A bot's own risk is held under its owner's effective limits.
    const bot = await t.as("ned", "/api/v1/bots", {
      method: "POST",
      json: {
        name: "loose",
        strategy: "sma_cross",
        symbols: ["AAPL"],
        params: { fast: 2, slow: 4 },
        sizing: { method: "fixed_qty", qty: "1" },
        risk: { max_order_qty: "11", price_band_pct: "60" },
      },
    });
    const refused = await bot.json();
    assertEquals([bot.status, refused.error.code], [403, "RISK_LIMIT_ABOVE_CEILING"]);
    assertEquals(
      refused.error.details.violations.map((v: Record<string, string>) => v.field),
      ["risk.max_order_qty", "risk.price_band_pct"],
    );

    // Clearing the admin's value brings the default back.
    const cleared = await put(t, "ned", { max_order_qty: null, price_band_pct: null }, "root");
    assertEquals(
      [cleared.body.effective.price_band_pct, cleared.body.sources.price_band_pct],
      ["10", "default"],
    );
  } finally {
    await t.close();
  }
});
