/**
 * A replace is a new order: it passes validation and risk exactly as a new submit would (halt,
 * reduce-only, rate limit, limits), with the replaced order's own exposure taken out of the
 * figures. A denied replace leaves the original order untouched and writes a DENIED audit row.
 */
import { assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";

async function call(t: TestApp, user: string, method: string, path: string, json?: unknown) {
  const res = await t.as(user, `/api/v1${path}`, { method, ...(json ? { json } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function restingBuy(t: TestApp, user: string, qty = "10") {
  const r = await call(t, user, "POST", "/orders", {
    symbol: "AAPL",
    qty,
    side: "buy",
    type: "limit",
    limit_price: "100",
    time_in_force: "gtc",
  });
  assertEquals([r.status, r.body.status], [201, "new"], JSON.stringify(r.body));
  return r.body as { id: string };
}

/** The order is as placed: still open, same price, nothing replaced it; a DENIED row says why. */
async function untouched(t: TestApp, user: string, id: string, code: string) {
  const o = await call(t, user, "GET", `/orders/${id}`);
  assertEquals([o.body.status, o.body.limit_price, o.body.qty, o.body.replaced_by], [
    "new",
    "100",
    "10",
    null,
  ]);
  const audit = await call(t, user, "GET", `/orders/${id}/audit`);
  const last = audit.body.at(-1);
  assertEquals([last.action, last.status], ["DENIED", code]);
  const venue = await t.trading.engine.brokerFor(
    (await t.db.owner<{ id: string }[]>`select id from users where username = ${user}`)[0]!.id,
  ).listOrders({ status: "all" });
  assertEquals(venue.map((v) => v.status), ["new"], "the venue never saw the replace");
}

Deno.test({
  name: "replace: a halt, reduce-only and the rate limit apply to a replace as to a new order",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const order = await restingBuy(t, "eve");
    assertEquals((await call(t, "eve", "POST", "/risk/halt")).status, 200);
    const halted = await call(t, "eve", "PATCH", `/orders/${order.id}`, { limit_price: "101" });
    assertEquals([halted.status, halted.body.error.code], [403, "TRADING_HALTED"]);
    await untouched(t, "eve", order.id, "TRADING_HALTED");

    assertEquals((await call(t, "eve", "POST", "/risk/reduce")).status, 200);
    const growing = await call(t, "eve", "PATCH", `/orders/${order.id}`, { limit_price: "101" });
    assertEquals([growing.status, growing.body.error.code], [403, "TRADING_REDUCING"]);
    await untouched(t, "eve", order.id, "TRADING_REDUCING");

    assertEquals((await call(t, "eve", "POST", "/risk/resume")).status, 200);
    await call(t, "eve", "PUT", "/risk/limits", { max_orders_per_minute: 2 });
    // A new order takes one slot; its replace takes the second; the next is refused.
    const second = await restingBuy(t, "eve");
    const ok = await call(t, "eve", "PATCH", `/orders/${second.id}`, { limit_price: "101" });
    assertEquals(ok.status, 200, JSON.stringify(ok.body));
    const limited = await call(t, "eve", "PATCH", `/orders/${ok.body.id}`, {
      limit_price: "102",
    });
    assertEquals([limited.status, limited.body.error.code], [429, "RATE_LIMITED"]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "replace: limits see the replacement, without the exposure of the order it replaces",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const last = Number((await t.trading.venue.marketData.latestTrade("AAPL")).p);
    const order = await restingBuy(t, "fox");
    // 12 shares fit, 13 do not. Counting the replaced order's 10 as well would deny 12.
    await call(t, "fox", "PUT", "/risk/limits", {
      max_position_value: (last * 12.5).toFixed(2),
      max_order_notional: "1500",
      price_band_pct: "80",
    });
    const tooBig = await call(t, "fox", "PATCH", `/orders/${order.id}`, { qty: "13" });
    assertEquals([tooBig.status, tooBig.body.error.code], [422, "RISK_MAX_POSITION"]);
    await untouched(t, "fox", order.id, "RISK_MAX_POSITION");
    const notional = await call(t, "fox", "PATCH", `/orders/${order.id}`, {
      qty: "12",
      limit_price: "130",
    });
    assertEquals([notional.status, notional.body.error.code], [422, "RISK_MAX_ORDER_NOTIONAL"]);
    // The price collar: a buy limit 90% through the market (a limit far below it only rests).
    await call(t, "fox", "PUT", "/risk/limits", { max_order_notional: null });
    const band = await call(t, "fox", "PATCH", `/orders/${order.id}`, {
      limit_price: (last * 1.9).toFixed(2),
    });
    assertEquals([band.status, band.body.error.code], [422, "RISK_PRICE_BAND"]);
    await untouched(t, "fox", order.id, "RISK_PRICE_BAND");

    const grown = await call(t, "fox", "PATCH", `/orders/${order.id}`, { qty: "12" });
    assertEquals([grown.status, grown.body.qty, grown.body.replaces], [200, "12", order.id]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "replace: buying power counts what the replaced order already holds",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const account = await call(t, "gus", "GET", "/account");
    const bp = Number(account.body.buying_power);
    // A resting buy that holds most of the buying power: a small increase still fits, since
    // the venue holds the larger of the old and the new order, not both.
    const qty = String(Math.floor((bp * 0.9) / 100));
    const order = await restingBuy(t, "gus", qty);
    const more = await call(t, "gus", "PATCH", `/orders/${order.id}`, {
      qty: String(Number(qty) + 1),
    });
    assertEquals(more.status, 200, JSON.stringify(more.body));
    const tooMuch = await call(t, "gus", "PATCH", `/orders/${more.body.id}`, {
      qty: String(Math.ceil((bp * 1.1) / 100)),
    });
    assertEquals([tooMuch.status, tooMuch.body.error.code], [403, "INSUFFICIENT_BUYING_POWER"]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "replace: a client_order_id already in use is refused before anything reaches the venue",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const order = await restingBuy(t, "hana");
    const other = await restingBuy(t, "hana", "1");
    const otherCid = (await call(t, "hana", "GET", `/orders/${other.id}`)).body.client_order_id;
    const dup = await call(t, "hana", "PATCH", `/orders/${order.id}`, {
      limit_price: "99",
      client_order_id: otherCid,
    });
    assertEquals([dup.status, dup.body.error.code], [422, "DUPLICATE_CLIENT_ORDER_ID"]);
    const o = await call(t, "hana", "GET", `/orders/${order.id}`);
    assertEquals([o.body.status, o.body.limit_price], ["new", "100"]);
  } finally {
    await t.close();
  }
});
