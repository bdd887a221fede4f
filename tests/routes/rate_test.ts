/**
 * The per-user rate over HTTP: denied orders spend the orders-per-minute budget like placed
 * ones; beyond it every attempt is a 429 and the audit trail gets one RATE_LIMITED row per
 * window, not one per call; `POST /orders/validate` has its own budget of the same size.
 */
import { assert, assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";

const BUY = { symbol: "AAPL", qty: "1", side: "buy", type: "market", time_in_force: "day" };
/** Refused by a rule (sub-penny limit price): 422, one DENIED row. */
const BAD = { ...BUY, type: "limit", limit_price: "1.001" };
/** Refused before any rule: the venue lists no such asset (422, one DENIED row). */
const UNKNOWN = { ...BUY, symbol: "ZZZZQ" };

async function post(t: TestApp, user: string, path: string, json: unknown) {
  const res = await t.as(user, path, { method: "POST", json });
  const body = await res.json();
  return { status: res.status, code: body.error?.code as string | undefined, res, body };
}

async function denials(
  t: TestApp,
): Promise<{ status: string; payload: Record<string, unknown> }[]> {
  return await t.db.owner<{ status: string; payload: Record<string, unknown> }[]>`
    select status, payload from execution_logs where action = 'DENIED' order by seq`;
}

Deno.test({
  name: "rate: denied orders spend the budget; beyond it 429 with one audit row per window",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: { limits: { max_orders_per_minute: 3 } } });
  try {
    assertEquals((await post(t, "rex", "/api/v1/orders", BAD)).status, 422);
    assertEquals((await post(t, "rex", "/api/v1/orders", UNKNOWN)).status, 422);
    assertEquals((await post(t, "rex", "/api/v1/orders", BAD)).status, 422);
    // The budget is spent by the three denials: a good order now waits.
    const limited = await post(t, "rex", "/api/v1/orders", BUY);
    assertEquals([limited.status, limited.code], [429, "RATE_LIMITED"]);
    assert(Number(limited.res.headers.get("retry-after")) >= 1, "Retry-After");
    for (let i = 0; i < 25; i++) {
      const again = await post(t, "rex", "/api/v1/orders", [BUY, BAD, UNKNOWN][i % 3]);
      assertEquals([again.status, again.code], [429, "RATE_LIMITED"]);
    }
    let rows = await denials(t);
    assertEquals(rows.map((r) => r.status), [
      "SUB_PENNY_PRICE",
      "ASSET_NOT_FOUND",
      "SUB_PENNY_PRICE",
      "RATE_LIMITED",
    ]);
    assertEquals(rows[3]!.payload.unrecorded_refusals, 0);
    // Another trader is not affected.
    assertEquals((await post(t, "sue", "/api/v1/orders", BUY)).status, 201);

    // A minute on, the budget is back.
    await t.trading.advance(61_000);
    assertEquals((await post(t, "rex", "/api/v1/orders", BUY)).status, 201);
    assertEquals((await post(t, "rex", "/api/v1/orders", BUY)).status, 201);
    assertEquals((await post(t, "rex", "/api/v1/orders", BAD)).status, 422);
    for (let i = 0; i < 4; i++) {
      assertEquals((await post(t, "rex", "/api/v1/orders", BUY)).status, 429);
    }
    rows = await denials(t);
    assertEquals(rows.map((r) => r.status).slice(4), ["SUB_PENNY_PRICE", "RATE_LIMITED"]);
    // The new window's row counts the refusals the last one stood for.
    assertEquals(rows[5]!.payload.unrecorded_refusals, 25);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "rate: validate calls have their own budget; beyond it 429 and nothing written",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: { limits: { max_orders_per_minute: 3 } } });
  try {
    for (let i = 0; i < 3; i++) {
      const ok = await post(t, "val", "/api/v1/orders/validate", i === 1 ? BAD : BUY);
      assertEquals(ok.status, 200);
    }
    for (let i = 0; i < 10; i++) {
      const limited = await post(t, "val", "/api/v1/orders/validate", BUY);
      assertEquals([limited.status, limited.code], [429, "RATE_LIMITED"]);
      assert(Number(limited.res.headers.get("retry-after")) >= 1, "Retry-After");
      assertEquals(limited.body.error.details.limit, "3");
    }
    // Orders keep their own budget, and validating spent none of it.
    for (let i = 0; i < 3; i++) {
      assertEquals((await post(t, "val", "/api/v1/orders", BUY)).status, 201);
    }
    const [row] = await t.db.owner<{ n: number }[]>`
      select count(*)::int as n from execution_logs where action = 'DENIED'`;
    assertEquals(row!.n, 0);
    await t.trading.advance(61_000);
    assertEquals((await post(t, "val", "/api/v1/orders/validate", BUY)).status, 200);
  } finally {
    await t.close();
  }
});
