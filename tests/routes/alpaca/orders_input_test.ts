/**
 * Bad input on the Alpaca face's order routes, sent raw (as any Alpaca client could): each is
 * a 4xx with Alpaca's `{code, message}` body, never a 500, and leaves the ledger as it was.
 * Amounts as JSON numbers and OCO without a top-level limit_price are accepted.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { apiKeyFor, servedTestApp } from "../../_alpaca.ts";
import { type Faults, faultyVenue } from "../../_faults.ts";
import { Decimal } from "../../../core/decimal.ts";

const ORDER = { symbol: "AAPL", qty: "1", side: "buy", type: "market", time_in_force: "day" };

async function setUp(username: string) {
  const t = await servedTestApp({ trading: true });
  const key = await apiKeyFor(t.db.sql, username);
  const raw = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    return fetch(`${t.baseUrl}${path}`, {
      ...rest,
      headers: {
        "APCA-API-KEY-ID": key.keyId,
        "APCA-API-SECRET-KEY": key.secret,
        "Content-Type": "application/json",
        ...rest.headers,
      },
      body: json !== undefined ? JSON.stringify(json) : rest.body,
    });
  };
  return { t, raw };
}

/** Asserts an Alpaca error answer; answers its body. */
async function refused(
  res: Response,
  status: number,
  code: number,
  message?: RegExp,
): Promise<{ code: number; message: string }> {
  const text = await res.text();
  assertEquals(res.status, status, `${res.url}: ${text}`);
  const body = JSON.parse(text);
  assertEquals(body.code, code, text);
  assert(typeof body.message === "string" && body.message.length > 0, text);
  if (message) assert(message.test(body.message), `${body.message} !~ ${message}`);
  assert(!("error" in body), `Tradewind's own error body on the Alpaca face: ${text}`);
  return body;
}

Deno.test({
  name: "alpaca orders input: bad order bodies are 4xx with Alpaca's codes and place nothing",
  ...DB_TEST,
}, async () => {
  const { t, raw } = await setUp("bad-bodies");
  try {
    const post = (body: BodyInit | null, json?: unknown) =>
      raw("/v2/orders", { method: "POST", ...(json !== undefined ? { json } : { body }) });
    await refused(await post(null), 400, 40010000, /request body format is invalid/);
    await refused(await post("{not json"), 400, 40010000, /not valid JSON/);
    await refused(await post(null, []), 400, 40010000, /JSON object/);
    const huge = JSON.stringify({ ...ORDER, client_order_id: "x".repeat(70_000) });
    await refused(await post(huge), 413, 41310000);
    await refused(await post(null, {}), 422, 40010001, /invalid symbol: Required/);
    await refused(await post(null, { ...ORDER, type: "iceberg" }), 422, 40010001, /invalid type/);
    await refused(await post(null, { ...ORDER, time_in_force: "week" }), 422, 40010001);
    await refused(await post(null, { ...ORDER, qty: "ten" }), 422, 40010001, /invalid qty/);
    await refused(await post(null, { ...ORDER, qty: { n: 1 } }), 422, 40010001, /invalid qty/);
    await refused(await post(null, { ...ORDER, extended_hours: "yes" }), 422, 40010001);
    await refused(
      await post(null, { ...ORDER, client_order_id: "x".repeat(129) }),
      422,
      40010001,
      /invalid client_order_id/,
    );
    const invalid = [
      { ...ORDER, qty: "-1" },
      { ...ORDER, qty: "0" },
      { ...ORDER, notional: "100" },
      { ...ORDER, qty: undefined },
      { ...ORDER, type: "limit" },
      { ...ORDER, type: "stop" },
      { ...ORDER, type: "trailing_stop" },
      { ...ORDER, type: "limit", limit_price: "290.123" },
      { ...ORDER, order_class: "bracket", take_profit: { limit_price: "1000" } },
      { ...ORDER, order_class: "mleg" },
      { ...ORDER, symbol: "NOPE" },
    ];
    for (const body of invalid) {
      const res = await post(null, body);
      const text = await res.clone().text();
      assert(res.status >= 400 && res.status < 500, `${JSON.stringify(body)}: ${text}`);
      const err = JSON.parse(text);
      assert(typeof err.code === "number" && typeof err.message === "string", text);
    }
    await refused(
      await post(null, { ...ORDER, type: "limit", limit_price: "290.123" }),
      422,
      42210000,
      /sub-penny/,
    );
    await refused(
      await post(null, { ...ORDER, symbol: "NOPE" }),
      422,
      42210000,
      /"NOPE" not found/,
    );
    await refused(
      await post(null, { ...ORDER, qty: "100000" }),
      403,
      40310000,
      /insufficient buying power/,
    );
    const [count] = await t.db.owner<{ n: number }[]>`select count(*)::int as n from orders`;
    assertEquals(count?.n, 0, "a refused order leaves no order in the ledger");

    // Amounts as JSON numbers; a client order id of 128 characters; OCO needs no limit_price.
    const numbers = await post(null, {
      ...ORDER,
      type: "limit",
      qty: 2,
      limit_price: 50.5,
      time_in_force: "gtc",
      client_order_id: "c".repeat(128),
      order_class: "simple",
    });
    assertEquals(numbers.status, 200, await numbers.clone().text());
    const placed = await numbers.json();
    assertEquals([placed.qty, placed.limit_price, placed.order_class], ["2", "50.5", ""]);
    // An asset id stands for its symbol, as at Alpaca.
    const asset = await (await raw("/v2/assets/MSFT")).json();
    const byId = await post(null, { ...ORDER, symbol: asset.id.toUpperCase() });
    assertEquals([byId.status, (await byId.json()).symbol], [200, "MSFT"]);
    await refused(
      await post(null, { ...ORDER, symbol: crypto.randomUUID() }),
      422,
      42210000,
      /not found/,
    );
    // The same client order id with another body: Alpaca's 422 40010001.
    await refused(
      await post(null, { ...ORDER, client_order_id: "c".repeat(128) }),
      422,
      40010001,
      /client_order_id must be unique/,
    );
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "alpaca orders input: bad list queries, ids and client order ids are 4xx, never 500",
  ...DB_TEST,
}, async () => {
  const { t, raw } = await setUp("bad-queries");
  try {
    for (
      const query of [
        "status=pending",
        "limit=0",
        "limit=501",
        "limit=ten",
        "limit=1.5",
        "after=yesterday",
        "until=2026-13-01",
        "direction=up",
        "nested=maybe",
        "side=short",
        "asset_class=bonds",
        "before_order_id=42",
        "status=open&status=closed",
        `before_order_id=${crypto.randomUUID()}&after_order_id=${crypto.randomUUID()}`,
        `before_order_id=${crypto.randomUUID()}&after=2026-11-23T14:00:00.000Z`,
        `after_order_id=${crypto.randomUUID()}`,
        `symbols=${"A".repeat(40)}`,
      ]
    ) {
      await refused(await raw(`/v2/orders?${query}`), 422, 40010001);
    }
    const ok = await raw(
      "/v2/orders?status=all&limit=500&after=2026-11-23&until=2026-11-24T00:00:00.123Z&direction=asc&nested=TRUE&symbols=aapl,MSFT&side=buy&asset_class=us_equity&asset_class=crypto&unknown=1",
    );
    assertEquals([ok.status, await ok.json()], [200, []]);

    await refused(await raw("/v2/orders/not-an-id"), 404, 40410000, /order not found/);
    await refused(await raw(`/v2/orders/${crypto.randomUUID()}`), 404, 40410000);
    await refused(await raw(`/v2/orders/${crypto.randomUUID()}?nested=2`), 422, 40010001);
    await refused(await raw("/v2/orders:by_client_order_id"), 422, 40010001, /client_order_id/);
    await refused(
      await raw(`/v2/orders:by_client_order_id?client_order_id=${"x".repeat(129)}`),
      422,
      40010001,
    );
    await refused(
      await raw("/v2/orders:by_client_order_id?client_order_id=nope"),
      404,
      40410000,
      /order not found/,
    );
    await refused(
      await raw("/v2/orders%3Aby_client_order_id?client_order_id=nope"),
      404,
      40410000,
    );
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "alpaca orders input: bad replaces and cancels are 4xx and leave the order as it was",
  ...DB_TEST,
}, async () => {
  const { t, raw } = await setUp("bad-changes");
  try {
    const resting = await (await raw("/v2/orders", {
      method: "POST",
      json: { ...ORDER, type: "limit", limit_price: "40", time_in_force: "gtc" },
    })).json();
    const filled = await (await raw("/v2/orders", { method: "POST", json: ORDER })).json();
    await t.trading.advance(1_000);
    const patch = (id: string, init: RequestInit & { json?: unknown }) =>
      raw(`/v2/orders/${id}`, { method: "PATCH", ...init });
    await refused(await patch(resting.id, { body: "" }), 400, 40010000);
    await refused(await patch(resting.id, { body: "[" }), 400, 40010000);
    await refused(await patch(resting.id, { json: {} }), 422, 40010001, /nothing to replace/);
    await refused(await patch(resting.id, { json: { qty: "many" } }), 422, 40010001, /qty/);
    await refused(await patch(resting.id, { json: { notional: "10" } }), 422, 40010001);
    await refused(
      await patch(resting.id, { json: { advanced_instructions: { algorithm: "TWAP" } } }),
      422,
      40010001,
    );
    await refused(
      await patch(resting.id, { json: { trail: "1" } }),
      422,
      42210000,
      /trail is only allowed for trailing_stop orders/,
    );
    await refused(
      await patch(filled.id, { json: { limit_price: "41" } }),
      422,
      40010001,
      /unable to replace order/,
    );
    await refused(await patch("nope", { json: { qty: "2" } }), 404, 40410000);
    await refused(await patch(crypto.randomUUID(), { json: { qty: "2" } }), 404, 40410000);

    await refused(
      await raw(`/v2/orders/${filled.id}`, { method: "DELETE" }),
      422,
      42210000,
      /order is already in "filled" state/,
    );
    await refused(await raw("/v2/orders/nope", { method: "DELETE" }), 404, 40410000);
    await refused(
      await raw(`/v2/orders/${crypto.randomUUID()}`, { method: "DELETE" }),
      404,
      40410000,
    );

    const after = await (await raw(`/v2/orders/${resting.id}`)).json();
    assertEquals(
      [after.status, after.limit_price, after.qty, after.replaced_by],
      ["new", "40", "1", null],
    );
    const [count] = await t.db.owner<{ n: number }[]>`select count(*)::int as n from orders`;
    assertEquals(count?.n, 2);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "alpaca orders input: another user's order is not found on any route",
  ...DB_TEST,
}, async () => {
  const owner = await setUp("owner");
  try {
    const key = await apiKeyFor(owner.t.db.sql, "intruder");
    const theirs = await (await owner.raw("/v2/orders", {
      method: "POST",
      json: { ...ORDER, type: "limit", limit_price: "40", client_order_id: "private" },
    })).json();
    const as = (path: string, init: RequestInit = {}) =>
      fetch(`${owner.t.baseUrl}${path}`, {
        ...init,
        headers: {
          "APCA-API-KEY-ID": key.keyId,
          "APCA-API-SECRET-KEY": key.secret,
          "Content-Type": "application/json",
        },
      });
    await refused(await as(`/v2/orders/${theirs.id}`), 404, 40410000);
    await refused(await as("/v2/orders:by_client_order_id?client_order_id=private"), 404, 40410000);
    await refused(
      await as(`/v2/orders/${theirs.id}`, { method: "PATCH", body: '{"qty":"2"}' }),
      404,
      40410000,
    );
    await refused(await as(`/v2/orders/${theirs.id}`, { method: "DELETE" }), 404, 40410000);
    await refused(
      await as(`/v2/orders?before_order_id=${theirs.id}`),
      422,
      40010001,
      /names no order/,
    );
    assertEquals(await (await as("/v2/orders?status=all")).json(), []);
    const cancelAll = await as("/v2/orders", { method: "DELETE" });
    assertEquals([cancelAll.status, await cancelAll.json()], [207, []]);
    const still = await (await owner.raw(`/v2/orders/${theirs.id}`)).json();
    assertEquals(still.status, "new");
  } finally {
    await owner.t.close();
  }
});

Deno.test({
  name: "alpaca orders input: a venue that fails is Alpaca's 503, per order in cancel all",
  ...DB_TEST,
}, async () => {
  const faults: Faults = {
    hangAfterSubmit: false,
    hangBeforeSubmit: false,
    dropEvents: false,
    down: false,
  };
  const t = await servedTestApp({
    trading: {
      wrap: (venue) => faultyVenue(venue, faults),
      resilience: { timeoutMs: 500, attempts: 1, initialDelayMs: 1 },
    },
  });
  try {
    const key = await apiKeyFor(t.db.sql, "venue-down");
    const raw = (path: string, init: RequestInit = {}) =>
      fetch(`${t.baseUrl}${path}`, {
        ...init,
        headers: {
          "APCA-API-KEY-ID": key.keyId,
          "APCA-API-SECRET-KEY": key.secret,
          "Content-Type": "application/json",
        },
      });
    const resting = { ...ORDER, type: "limit", limit_price: "40", time_in_force: "gtc" };
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await raw("/v2/orders", { method: "POST", body: JSON.stringify(resting) });
      assertEquals(res.status, 200);
      ids.push((await res.json()).id);
    }
    faults.down = true;
    const one = await raw(`/v2/orders/${ids[0]}`, { method: "DELETE" });
    await refused(one, 503, 50310000, /service unavailable/);
    assert(one.headers.get("retry-after"), "a 503 says when to retry");
    const all = await raw("/v2/orders", { method: "DELETE" });
    assertEquals(all.status, 207);
    const items = await all.json();
    assertEquals(
      items.map((i: { id: string; status: number; body: { code: number } }) => [
        i.id,
        i.status,
        i.body.code,
      ]).sort(),
      ids.map((id) => [id, 503, 50310000]).sort(),
    );
    faults.down = false;
    const open = await (await raw("/v2/orders")).json();
    assertEquals(open.map((o: { status: string }) => o.status), ["new", "new"]);
  } finally {
    faults.down = false;
    await t.close();
  }
});

Deno.test({
  name: "alpaca orders input: a risk denial and the order rate limit answer Alpaca's bodies",
  ...DB_TEST,
}, async () => {
  const t = await servedTestApp({
    trading: { limits: { max_orders_per_minute: 2, max_order_qty: Decimal.parse("50") } },
  });
  try {
    const key = await apiKeyFor(t.db.sql, "limited");
    const post = (body: unknown) =>
      fetch(`${t.baseUrl}/v2/orders`, {
        method: "POST",
        headers: {
          "APCA-API-KEY-ID": key.keyId,
          "APCA-API-SECRET-KEY": key.secret,
          "Content-Type": "application/json",
        },
        body: JSON.stringify(body),
      });
    await refused(await post({ ...ORDER, qty: "51" }), 422, 42210000, /qty exceeds the risk limit/);
    assertEquals((await post(ORDER)).status, 200);
    const limited = await post(ORDER);
    await refused(limited, 429, 42910000, /rate limit exceeded/);
    assert(Number(limited.headers.get("retry-after")) > 0, "429 says when to retry");
    const [count] = await t.db.owner<{ n: number }[]>`select count(*)::int as n from orders`;
    assertEquals(count?.n, 1);
  } finally {
    await t.close();
  }
});
