import { assertEquals } from "../_assert.ts";
import { healthRoutes, LIVE_TRADING_WARNING } from "../../routes/health.ts";
import { ApiSpec } from "../../routes/openapi.ts";

Deno.test("health: /ready says whether real money is traded, with a warning when it is", async () => {
  const paper = healthRoutes(
    { ready: () => Promise.resolve(true), version: "t" },
    new ApiSpec(),
  );
  const calm = await (await paper.request("/ready")).json();
  assertEquals(calm.live_trading, false);
  assertEquals(calm.warning, undefined);
  const live = healthRoutes(
    { ready: () => Promise.resolve(true), version: "t", liveTrading: true },
    new ApiSpec(),
  );
  const res = await live.request("/ready");
  assertEquals(res.status, 200);
  const body = await res.json();
  assertEquals(body.status, "ready");
  assertEquals(body.live_trading, true);
  assertEquals(body.warning, LIVE_TRADING_WARNING);
});
