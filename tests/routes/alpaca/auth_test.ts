/**
 * Authentication of the `/v2` face: API keys in Alpaca's headers, revocation, the short
 * verification cache, and each key's user seeing only their own account and positions.
 */
import { Hono } from "hono";
import { assertEquals } from "../../_assert.ts";
import { createTestDb, DB_TEST } from "../../_helpers.ts";
import { alpacaSdk, apiKeyFor, servedTestApp } from "../../_alpaca.ts";
import { revokeApiKey } from "../../../db/api_keys.ts";
import type { AuthVariables } from "../../../routes/auth.ts";
import { requireApiKey } from "../../../routes/alpaca/auth.ts";
import { alpacaErrorResponse } from "../../../routes/alpaca/errors.ts";

Deno.test(
  "requireApiKey: a revoked key stops working once its cached verification ends",
  DB_TEST,
  async () => {
    const db = await createTestDb();
    try {
      let now = 1_000_000;
      const app = new Hono<{ Variables: AuthVariables }>();
      app.onError((err, c) => alpacaErrorResponse(c, err));
      app.use("*", requireApiKey(db.sql, { cacheMs: 2_000, now: () => now }));
      app.get("/who", (c) => c.json(c.var.user));
      const key = await apiKeyFor(db.sql, "alice");
      const headers = { "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret };
      const who = await app.request("/who", { headers });
      assertEquals(await who.json(), { id: key.userId, username: "alice", role: "trader" });

      await revokeApiKey(db.owner, key.keyId);
      now += 1_999;
      assertEquals((await app.request("/who", { headers })).status, 200);
      now += 1;
      const refused = await app.request("/who", { headers });
      assertEquals([refused.status, await refused.json()], [401, {
        code: 40110000,
        message: "request is not authorized",
      }]);
      // A wrong secret for a cached key id is never served from the cache.
      const other = await apiKeyFor(db.sql, "bob");
      await app.request("/who", {
        headers: { "APCA-API-KEY-ID": other.keyId, "APCA-API-SECRET-KEY": other.secret },
      });
      const forged = await app.request("/who", {
        headers: { "APCA-API-KEY-ID": other.keyId, "APCA-API-SECRET-KEY": key.secret },
      });
      assertEquals(forged.status, 401);
    } finally {
      await db.close();
    }
  },
);

Deno.test("/v2: a revoked key gets Alpaca's 401 through the SDK (AuthError)", DB_TEST, async () => {
  const t = await servedTestApp();
  try {
    const key = await apiKeyFor(t.db.sql, "carol");
    await revokeApiKey(t.db.owner, key.keyId);
    const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);
    let error: { name?: string; status?: number; code?: unknown } = {};
    try {
      await alpaca.trading.account.getAccount();
    } catch (e) {
      error = e as typeof error;
    }
    assertEquals([error.name, error.status, Number(error.code)], ["AuthError", 401, 40110000]);
  } finally {
    await t.close();
  }
});

Deno.test("/v2: each key's user sees only their own account and positions", DB_TEST, async () => {
  const t = await servedTestApp();
  try {
    const alice = await apiKeyFor(t.db.sql, "alice");
    const bob = await apiKeyFor(t.db.sql, "bob");
    const r = await t.as("alice", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "AAPL", qty: "2", side: "buy", type: "market", time_in_force: "day" },
    });
    assertEquals(r.status, 201);
    await r.body?.cancel();
    await t.trading.advance(100);
    const a = alpacaSdk(t.baseUrl, alice.keyId, alice.secret);
    const b = alpacaSdk(t.baseUrl, bob.keyId, bob.secret);
    assertEquals((await a.trading.positions.getAllOpenPositions()).map((p) => p.symbol), ["AAPL"]);
    assertEquals(await b.trading.positions.getAllOpenPositions(), []);
    const [accA, accB] = [
      await a.trading.account.getAccount(),
      await b.trading.account.getAccount(),
    ];
    assertEquals(accA.id === accB.id, false);
    assertEquals(accB.cash, "100000");
    // Bob cannot close Alice's position.
    const close = await fetch(`${t.baseUrl}/v2/positions/AAPL`, {
      method: "DELETE",
      headers: { "APCA-API-KEY-ID": bob.keyId, "APCA-API-SECRET-KEY": bob.secret },
    });
    assertEquals(close.status, 404);
    await close.body?.cancel();
    assertEquals((await a.trading.positions.getAllOpenPositions()).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("/v2/account: a halted trader's account shows trading_blocked", DB_TEST, async () => {
  const t = await servedTestApp();
  try {
    const key = await apiKeyFor(t.db.sql, "dora");
    const halt = await t.as("dora", "/api/v1/risk/halt", { method: "POST", json: {} });
    assertEquals(halt.status < 300, true, await halt.clone().text());
    await halt.body?.cancel();
    const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);
    assertEquals((await alpaca.trading.account.getAccount()).tradingBlocked, true);
  } finally {
    await t.close();
  }
});
