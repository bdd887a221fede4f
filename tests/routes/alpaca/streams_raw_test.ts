import { assert, assertEquals } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { apiKeyFor } from "../../_alpaca.ts";
import { PostgresStreamStore } from "../../../db/stream.ts";
import { RawClient, streamEnv, until } from "./_streams.ts";

// deno-lint-ignore no-explicit-any
type Frame = any;

function error(code: number, msg: string) {
  return [{ T: "error", code, msg }];
}

Deno.test(
  "Market-data stream in JSON: connected, auth, idempotent subscribe, and each error code",
  DB_TEST,
  async () => {
    const env = await streamEnv({ maxSymbols: 3 });
    const clients: RawClient[] = [];
    const open = async (path: string) => {
      const c = new RawClient(`${env.wsUrl}${path}`);
      clients.push(c);
      await c.opened;
      return c;
    };
    try {
      const key = await apiKeyFor(env.db.sql, "alice");
      const c = await open("/v2/iex");
      assertEquals(await c.nth(1), [{ T: "success", msg: "connected" }]);

      c.send({ action: "subscribe", trades: ["AAPL"] });
      assertEquals(await c.nth(2), error(401, "not authenticated"));
      c.send("this is not json");
      assertEquals(await c.nth(3), error(400, "invalid syntax"));
      c.send({ action: "dance" });
      assertEquals(await c.nth(4), error(400, "invalid syntax"));

      c.send({ action: "auth", key: key.keyId, secret: key.secret });
      assertEquals(await c.nth(5), [{ T: "success", msg: "authenticated" }]);
      c.send({ action: "auth", key: key.keyId, secret: key.secret });
      assertEquals(await c.nth(6), error(403, "already authenticated"));

      c.send({ action: "subscribe", trades: ["AAPL"], quotes: ["msft"] });
      const first: Frame = await c.nth(7);
      assertEquals(first[0].T, "subscription");
      assertEquals(first[0].trades, ["AAPL"]);
      assertEquals(first[0].quotes, ["MSFT"]);
      assertEquals(first[0].bars, []);
      assertEquals(first[0].corrections, ["AAPL"]);
      // The same subscribe again (the SDK may send it twice) changes nothing.
      c.send({ action: "subscribe", trades: ["AAPL"], quotes: ["MSFT"] });
      assertEquals(await c.nth(8), first);

      c.send({ action: "subscribe", trades: ["GOOGL", "AMZN"] });
      assertEquals(await c.nth(9), error(405, "symbol limit exceeded"));
      c.send({ action: "subscribe", bars: [] });
      assertEquals(await c.nth(10), first, "a 405 leaves the subscription as it was");

      c.send({ action: "subscribe", dailyBars: ["AAPL"] });
      assertEquals(await c.nth(11), error(409, "insufficient subscription"));
      c.send({ action: "subscribe", news: ["*"] });
      assertEquals(await c.nth(12), error(410, "invalid subscribe action for this feed"));
      c.send({ action: "subscribe", trades: "AAPL" });
      assertEquals(await c.nth(13), error(400, "invalid syntax"));
      c.send({ action: "subscribe", trades: ["not a symbol"] });
      assertEquals(await c.nth(14), error(400, "invalid syntax"));

      c.send({ action: "unsubscribe", quotes: ["MSFT"] });
      const after: Frame = await c.nth(15);
      assertEquals(after[0].trades, ["AAPL"]);
      assertEquals(after[0].quotes, []);

      // Data arrives as arrays of {"T":"t",...} with the JSON time as text.
      await env.trading.advance(60_000);
      await until(() => c.messages.length > 15, "a trade");
      const data: Frame = c.messages[15];
      assert(Array.isArray(data) && data.length > 0);
      assertEquals(data[0].T, "t");
      assertEquals(data[0].S, "AAPL");
      assertEquals(typeof data[0].p, "number");
      assertEquals(typeof data[0].t, "string");

      // One connection per key and feed: a second gets 406 and is closed.
      const second = await open("/v2/iex");
      await second.nth(1);
      second.send({ action: "auth", key: key.keyId, secret: key.secret });
      assertEquals(await second.nth(2), error(406, "connection limit exceeded"));
      await second.waitClosed();
      // Another feed is another slot.
      const sip = await open("/v2/sip");
      await sip.nth(1);
      sip.send({ action: "auth", key: key.keyId, secret: key.secret });
      assertEquals(await sip.nth(2), [{ T: "success", msg: "authenticated" }]);
      // Once the first connection is gone, its slot is free again (the server sees the close
      // a moment after the client does: try until it has).
      await c.close();
      let reply: Frame = null;
      for (let i = 0; i < 100 && reply?.[0]?.msg !== "authenticated"; i++) {
        const again = await open("/v2/iex");
        await again.nth(1);
        again.send({ action: "auth", key: key.keyId, secret: key.secret });
        reply = await again.nth(2);
        if (reply[0].msg !== "authenticated") await again.waitClosed();
      }
      assertEquals(reply, [{ T: "success", msg: "authenticated" }]);

      // A wrong secret: 402, then the server closes.
      const bad = await open("/v2/test");
      await bad.nth(1);
      bad.send({ action: "auth", key: key.keyId, secret: "x".repeat(40) });
      assertEquals(await bad.nth(2), error(402, "auth failed"));
      await bad.waitClosed();
    } finally {
      for (const c of clients) await c.close();
      await env.close();
    }
  },
);

Deno.test(
  "Market-data stream: 404 auth timeout, 407 slow client, auth by headers, a plain GET is a 426",
  DB_TEST,
  async () => {
    const quick = await streamEnv({ authTimeoutMs: 50 });
    const idle = new RawClient(`${quick.wsUrl}/v2/delayed_sip`);
    try {
      assertEquals(await idle.nth(1), [{ T: "success", msg: "connected" }]);
      assertEquals(await idle.nth(2), error(404, "auth timeout"));
      await idle.waitClosed();
    } finally {
      await idle.close();
      await quick.close();
    }

    const env = await streamEnv({ maxBufferedBytes: 10 });
    const clients: RawClient[] = [];
    try {
      const key = await apiKeyFor(env.db.sql, "alice");

      const slow = new RawClient(`${env.wsUrl}/v2/iex`);
      clients.push(slow);
      await slow.nth(1);
      slow.send({ action: "auth", key: key.keyId, secret: key.secret });
      await slow.nth(2);
      slow.send({ action: "subscribe", quotes: ["*"] });
      await slow.nth(3);
      await env.trading.advance(60_000);
      assertEquals(await slow.nth(4), error(407, "slow client"));
      await slow.waitClosed();

      // The key headers on the upgrade authenticate at once, without an auth message.
      const bob = await apiKeyFor(env.db.sql, "bob");
      const byHeaders = new RawClient(`${env.wsUrl}/v2/sip`, {
        "APCA-API-KEY-ID": bob.keyId,
        "APCA-API-SECRET-KEY": bob.secret,
      });
      clients.push(byHeaders);
      assertEquals(await byHeaders.nth(1), [{ T: "success", msg: "connected" }]);
      assertEquals(await byHeaders.nth(2), [{ T: "success", msg: "authenticated" }]);
      byHeaders.send({ action: "subscribe", bars: ["AAPL"] });
      assertEquals(((await byHeaders.nth(3)) as Frame)[0].bars, ["AAPL"]);

      const plain = await fetch(`${env.baseUrl}/v2/iex`);
      assertEquals(plain.status, 426);
      const body = await plain.json();
      assertEquals(typeof body.code, "number");
      assert(String(body.message).includes("WebSocket"));
    } finally {
      for (const c of clients) await c.close();
      await env.close();
    }
  },
);

Deno.test(
  "Trading stream in JSON: listen before auth, a bad key, listen and stop listening",
  DB_TEST,
  async () => {
    const env = await streamEnv();
    const clients: RawClient[] = [];
    try {
      const key = await apiKeyFor(env.db.sql, "alice");
      const c = new RawClient(`${env.wsUrl}/stream`);
      clients.push(c);
      await c.opened;
      c.send({ action: "listen", data: { streams: ["trade_updates"] } });
      assertEquals(await c.nth(1), {
        stream: "authorization",
        data: { status: "unauthorized", action: "listen" },
      });
      // Binary frames carrying JSON are read too (Alpaca's own server sends binary JSON).
      c.ws.send(new TextEncoder().encode(JSON.stringify({
        action: "authenticate",
        data: { key_id: key.keyId, secret_key: key.secret },
      })));
      assertEquals(await c.nth(2), {
        stream: "authorization",
        data: { status: "authorized", action: "authenticate" },
      });
      c.send({ action: "listen", data: { streams: ["trade_updates", "account_updates"] } });
      assertEquals(await c.nth(3), { stream: "listening", data: { streams: ["trade_updates"] } });

      await env.placeV1("alice", {
        symbol: "MSFT",
        qty: "2",
        side: "buy",
        type: "limit",
        limit_price: "1",
        time_in_force: "gtc",
      });
      await until(() => c.messages.length >= 4, "the new order's event");
      const update: Frame = c.messages[3];
      assertEquals(update.stream, "trade_updates");
      assertEquals(update.data.order.symbol, "MSFT");
      assertEquals(update.data.order.limit_price, "1");
      assertEquals(update.data.order.qty, "2");
      assertEquals(typeof update.data.timestamp, "string");

      c.send({ action: "listen", data: { streams: [] } });
      await until(
        () =>
          c.messages.some((m: Frame) => m.stream === "listening" && m.data.streams.length === 0),
        "the empty listening ack",
      );
      const count = c.messages.length;
      await env.placeV1("alice", {
        symbol: "MSFT",
        qty: "1",
        side: "buy",
        type: "limit",
        limit_price: "1",
        time_in_force: "gtc",
      });
      await env.trading.advance(1_000);
      // A round trip: an unknown action's error arrives after anything queued before it.
      c.send({ action: "dance" });
      await until(() => c.messages.length > count, "the error reply");
      assertEquals(c.messages.length, count + 1, JSON.stringify(c.messages.slice(count - 2)));
      assertEquals((c.messages[count] as Frame).action, "error");

      const bad = new RawClient(`${env.wsUrl}/stream`);
      clients.push(bad);
      await bad.opened;
      bad.send({ action: "authenticate", data: { key_id: key.keyId, secret_key: "nope" } });
      assertEquals(await bad.nth(1), {
        stream: "authorization",
        data: { status: "unauthorized", action: "authenticate" },
      });
      await bad.waitClosed();
    } finally {
      for (const c of clients) await c.close();
      await env.close();
    }
  },
);

Deno.test(
  "Trading stream: every order event of the ledger, once each, in commit order",
  DB_TEST,
  async () => {
    const env = await streamEnv();
    const c = new RawClient(`${env.wsUrl}/stream`);
    try {
      const key = await apiKeyFor(env.db.sql, "alice");
      await c.opened;
      c.send({ action: "auth", key: key.keyId, secret: key.secret });
      await c.nth(1);
      c.send({ action: "listen", data: { streams: ["trade_updates"] } });
      assertEquals(await c.nth(2), { stream: "listening", data: { streams: ["trade_updates"] } });

      const symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META"];
      await Promise.all(symbols.map((symbol, i) =>
        env.placeV1("alice", {
          symbol,
          qty: String(i + 1),
          side: "buy",
          type: "market",
          time_in_force: "day",
        })
      ));
      await env.trading.advance(1_000);
      const updates = () => c.messages.slice(2) as Frame[];
      await until(
        () => updates().filter((m) => m.data.event === "fill").length === symbols.length,
        "every fill",
      );

      const rows = await new PostgresStreamStore(env.db.sql).orderEventsAfter(
        key.userId,
        "0",
        1000,
      );
      await until(() => updates().length >= rows.length, "every event");
      assertEquals(
        updates().map((m) => `${m.data.order.id} ${m.data.event}`),
        rows.map((r) => `${r.orderId} ${r.event}`),
      );
      for (const m of updates().filter((m) => m.data.event === "fill")) {
        assertEquals(m.data.qty, m.data.order.qty);
        assertEquals(m.data.position_qty, m.data.order.qty);
        assertEquals(m.data.order.status, "filled");
      }
      for (const m of updates().filter((m) => m.data.event === "new")) {
        assertEquals(m.data.order.filled_qty, "0");
        assertEquals(m.data.order.filled_at, null);
      }
    } finally {
      await c.close();
      await env.close();
    }
  },
);

Deno.test(
  "Trading stream: a client of a second engine on the same database gets the events",
  DB_TEST,
  async () => {
    const a = await streamEnv();
    const b = await streamEnv({}, a.db);
    const c = new RawClient(`${b.wsUrl}/stream`);
    try {
      const key = await apiKeyFor(a.db.sql, "alice");
      await c.opened;
      c.send({ action: "authenticate", data: { key_id: key.keyId, secret_key: key.secret } });
      await c.nth(1);
      c.send({ action: "listen", data: { streams: ["trade_updates"] } });
      await c.nth(2);
      const placed = await a.placeV1("alice", {
        symbol: "AAPL",
        qty: "4",
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "cross-1",
      });
      await a.trading.advance(1_000);
      const updates = () => c.messages.slice(2) as Frame[];
      await until(() => updates().some((m) => m.data.event === "fill"), "the fill on B");
      assertEquals(updates().map((m) => m.data.event), ["accepted", "new", "fill"]);
      const fill = updates()[2];
      assertEquals(fill.data.order.id, placed.id);
      assertEquals(fill.data.order.client_order_id, "cross-1");
      assertEquals(fill.data.qty, "4");
      assertEquals(fill.data.position_qty, "4");
      assert(fill.data.execution_id.length > 0);
    } finally {
      await c.close();
      await b.close();
      await a.close();
    }
  },
);
