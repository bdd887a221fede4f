import { assert, assertEquals } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { alpacaSdk, apiKeyFor, servedTestApp } from "../../_alpaca.ts";

Deno.test(
  "GET /v2/account through the official SDK: Alpaca's account, money as strings",
  DB_TEST,
  async () => {
    const t = await servedTestApp();
    try {
      const key = await apiKeyFor(t.db.sql, "alice");
      const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);
      const account = await alpaca.trading.account.getAccount();
      assertEquals(account.status, "ACTIVE");
      assertEquals(account.currency, "USD");
      assertEquals(account.cash, "100000");
      assert(typeof account.id === "string" && account.id.length > 0);
      const raw = await fetch(`${t.baseUrl}/v2/account`, {
        headers: { "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret },
      });
      assertEquals(raw.status, 200);
      const body = await raw.json();
      assertEquals(typeof body.buying_power, "string");
      assertEquals(typeof body.equity, "string");
      assertEquals(body.trading_blocked, false);
      // The SDK's own connection check.
      const check = await alpaca.trading.validateConnection();
      assertEquals(check.ok, true);
      const bad = await alpacaSdk(t.baseUrl, key.keyId, "x".repeat(40)).trading
        .validateConnection();
      assertEquals(bad.ok ? null : [bad.status, Number(bad.code)], [401, 40110000]);
    } finally {
      await t.close();
    }
  },
);

Deno.test("/v2 without a valid key: 401 with Alpaca's body and X-Request-ID", DB_TEST, async () => {
  const t = await servedTestApp();
  try {
    const key = await apiKeyFor(t.db.sql, "alice");
    const cases: Record<string, string>[] = [
      {},
      { "APCA-API-KEY-ID": key.keyId },
      { "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret.slice(0, -1) + "x" },
      { "APCA-API-KEY-ID": "TWAAAAAAAAAAAAAAAAAA", "APCA-API-SECRET-KEY": key.secret },
      { "APCA-API-KEY-ID": "nonsense", "APCA-API-SECRET-KEY": "nonsense" },
    ];
    for (const headers of cases) {
      const res = await fetch(`${t.baseUrl}/v2/account`, { headers });
      assertEquals(res.status, 401);
      assert(res.headers.get("x-request-id"), "X-Request-ID is set");
      assertEquals(await res.json(), { code: 40110000, message: "request is not authorized" });
    }
    const unknown = await fetch(`${t.baseUrl}/v2/nothing-here`, {
      headers: { "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret },
    });
    assertEquals(unknown.status, 404);
    assertEquals((await unknown.json()).code, 40410000);
  } finally {
    await t.close();
  }
});
