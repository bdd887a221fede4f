/**
 * `GET /v2/account/activities`: the ledger's fills as Alpaca's trade activities, through the
 * official SDK; paging by page_token; filters; non-trade types are empty.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { alpacaSdk, apiKeyFor, servedTestApp } from "../../_alpaca.ts";

Deno.test(
  "/v2/account/activities: fills as FILL activities, paged, filtered",
  DB_TEST,
  async () => {
    const t = await servedTestApp();
    try {
      const key = await apiKeyFor(t.db.sql, "alice");
      const other = await apiKeyFor(t.db.sql, "bob");
      for (const [symbol, qty] of [["AAPL", "3"], ["MSFT", "2"], ["NVDA", "1"]]) {
        const r = await t.as("alice", "/api/v1/orders", {
          method: "POST",
          json: { symbol, qty, side: "buy", type: "market", time_in_force: "day" },
        });
        assertEquals(r.status, 201);
        await r.body?.cancel();
        await t.trading.advance(1_000);
      }
      const alpaca = alpacaSdk(t.baseUrl, key.keyId, key.secret);
      const all = await alpaca.trading.accountActivities.getAccountActivities({
        activityTypes: ["FILL"],
      }) as Record<string, unknown>[];
      const fills = await t.db.owner<{ qty: string }[]>`select qty::text from fills`;
      assertEquals(all.length, fills.length);
      assert(all.length >= 3);
      const newest = all[0]!;
      assertEquals(newest.activityType, "FILL");
      assertEquals(newest.symbol, "NVDA"); // newest first by default
      assertEquals([newest.side, newest.type, newest.leavesQty, newest.orderStatus], [
        "buy",
        "fill",
        "0",
        "filled",
      ]);
      assertEquals(typeof newest.price, "string");
      assert(/^\d{17}::[0-9a-f-]{36}$/.test(String(newest.id)), String(newest.id));

      // Paging: one at a time, oldest first, with page_token; nothing skipped or repeated.
      const headers = { "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret };
      const seen: string[] = [];
      let token = "";
      for (let i = 0; i < 10; i++) {
        const page = await (await fetch(
          `${t.baseUrl}/v2/account/activities?direction=asc&page_size=1${
            token ? `&page_token=${encodeURIComponent(token)}` : ""
          }`,
          { headers },
        )).json() as { id: string }[];
        if (page.length === 0) break;
        seen.push(page[0]!.id);
        token = page[0]!.id;
      }
      assertEquals(seen, all.map((a) => String(a.id)).reverse());

      // The SDK's own cursor paging over the same pages.
      const collected = await alpaca.trading.collectActivities({ pageSize: 2, direction: "asc" });
      assertEquals(collected.map((a) => String((a as { id?: string }).id)), seen);

      const byType = await (await fetch(`${t.baseUrl}/v2/account/activities/FILL`, { headers }))
        .json();
      assertEquals(byType.length, all.length);
      const divs = await (await fetch(`${t.baseUrl}/v2/account/activities?activity_types=DIV`, {
        headers,
      })).json();
      assertEquals(divs, []);
      const nonTrade = await (await fetch(
        `${t.baseUrl}/v2/account/activities?category=non_trade_activity`,
        { headers },
      )).json();
      assertEquals(nonTrade, []);
      const later = await (await fetch(
        `${t.baseUrl}/v2/account/activities?after=${
          encodeURIComponent(new Date(t.trading.clock.now()).toISOString())
        }`,
        { headers },
      )).json();
      assertEquals(later, []);
      const today = await (await fetch(`${t.baseUrl}/v2/account/activities?date=2026-11-23`, {
        headers,
      })).json();
      assertEquals(today.length, all.length);

      const oneOrder = await (await fetch(
        `${t.baseUrl}/v2/account/activities?order_id=${newest.orderId}`,
        { headers },
      )).json();
      assertEquals(oneOrder.map((a: { order_id: string }) => a.order_id), [newest.orderId]);

      // Bob sees none of Alice's fills.
      const b = alpacaSdk(t.baseUrl, other.keyId, other.secret);
      assertEquals(await b.trading.accountActivities.getAccountActivities(), []);

      for (
        const q of [
          "activity_types=NOPE",
          "category=fun",
          "category=trade_activity&activity_types=FILL",
          "page_size=0",
          "page_size=101",
          "direction=up",
          "after=yesterday",
          "date=2026-11-23&after=2026-11-01",
          "page_token=garbage",
          "order_id=42",
        ]
      ) {
        const r = await fetch(`${t.baseUrl}/v2/account/activities?${q}`, { headers });
        assertEquals([r.status, (await r.json()).code], [422, 40010001], q);
      }
    } finally {
      await t.close();
    }
  },
);
