/**
 * Alpaca's error bodies on the `/v2` face: how each kind of thrown error is rendered.
 */
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { assertEquals } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { apiKeyFor, servedTestApp } from "../../_alpaca.ts";
import { TradeError, tradeErrors } from "../../../core/errors.ts";
import { ApiError } from "../../../routes/errors.ts";
import { AlpacaApiError, mapAlpacaError } from "../../../routes/alpaca/errors.ts";

Deno.test("mapAlpacaError: domain, face, zod, HTTP, database and unknown errors", () => {
  assertEquals(mapAlpacaError(tradeErrors.positionNotFound("AAPL")), {
    status: 404,
    body: { code: 40410000, message: "position does not exist" },
    headers: {},
  });
  const limited = mapAlpacaError(
    new TradeError("RATE_LIMITED", "Too many", { details: { retry_after_seconds: 7 } }),
  );
  assertEquals([limited.status, limited.body.code, limited.headers], [429, 42910000, {
    "Retry-After": "7",
  }]);
  assertEquals(
    mapAlpacaError(
      new AlpacaApiError(403, 40310000, "insufficient qty", { extra: { symbol: "X" } }),
    )
      .body,
    { code: 40310000, message: "insufficient qty", symbol: "X" },
  );
  const zod = z.object({ qty: z.string() }).safeParse({ qty: 1 });
  const invalid = mapAlpacaError(zod.error);
  assertEquals([invalid.status, invalid.body.code], [422, 40010001]);
  assertEquals(invalid.body.message.startsWith("invalid qty:"), true);
  assertEquals(mapAlpacaError(new ApiError(400, "MALFORMED_JSON", "Bad JSON")).body, {
    code: 40010000,
    message: "request body format is invalid",
  });
  assertEquals(
    mapAlpacaError(new ApiError(413, "PAYLOAD_TOO_LARGE", "Too big")).body.code,
    41310000,
  );
  assertEquals(mapAlpacaError(new HTTPException(405, { message: "no" })).status, 405);
  const db = mapAlpacaError(Object.assign(new Error("gone"), { code: "ECONNREFUSED" }));
  assertEquals([db.status, db.body.code, db.headers["Retry-After"]], [503, 50310000, "5"]);
  assertEquals(mapAlpacaError(new Error("boom")), {
    status: 500,
    body: { code: 50010000, message: "internal server error" },
    headers: {},
  });
});

Deno.test(
  "/v2: an oversized body and an unknown path answer Alpaca's bodies",
  DB_TEST,
  async () => {
    const t = await servedTestApp();
    try {
      const key = await apiKeyFor(t.db.sql, "alice");
      const headers = { "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret };
      const big = await fetch(`${t.baseUrl}/v2/orders`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify({ pad: "x".repeat(70 * 1024) }),
      });
      assertEquals([big.status, (await big.json()).code], [413, 41310000]);
      const none = await fetch(`${t.baseUrl}/v2/watchlists`, { headers });
      assertEquals([none.status, (await none.json()).code], [404, 40410000]);
      // Tradewind's own face keeps its own body.
      const own = await t.as("alice", "/api/v1/nothing");
      assertEquals((await own.json()).error.code, "NOT_FOUND");
    } finally {
      await t.close();
    }
  },
);
