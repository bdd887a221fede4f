import { assert, assertEquals } from "../../_assert.ts";
import { DB_TEST } from "../../_helpers.ts";
import { apiKeyFor } from "../../_alpaca.ts";
import { alpacaStreamingSdk as alpacaSdk, streamEnv, until } from "./_streams.ts";

Deno.test(
  "trade_updates through the official SDK: new and fill of an order placed on /api/v1",
  DB_TEST,
  async () => {
    const env = await streamEnv();
    const alpaca = (key: { keyId: string; secret: string }) =>
      alpacaSdk(env.baseUrl, key.keyId, key.secret);
    const alice = await apiKeyFor(env.db.sql, "alice");
    const bob = await apiKeyFor(env.db.sql, "bob");
    const stream = alpaca(alice).trading.stream({ url: `${env.wsUrl}/stream` });
    const other = alpaca(bob).trading.stream({ url: `${env.wsUrl}/stream` });
    try {
      // deno-lint-ignore no-explicit-any
      const updates: any[] = [];
      // deno-lint-ignore no-explicit-any
      const bobs: any[] = [];
      let listening: unknown = null;
      stream.onTradeUpdate((u) => updates.push(u));
      stream.on("subscription", (s: unknown) => listening = s);
      other.onTradeUpdate((u) => bobs.push(u));
      let bobListening = false;
      other.on("subscription", () => bobListening = true);
      stream.subscribeTradeUpdates();
      other.subscribeTradeUpdates();
      stream.connect();
      other.connect();
      await until(() => listening !== null && bobListening, "the listening acks");
      assertEquals(listening, ["trade_updates"]);

      const placed = await env.placeV1("alice", {
        symbol: "AAPL",
        qty: "3",
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "sdk-stream-1",
      });
      await env.trading.advance(1_000);
      await until(() => updates.some((u) => u.event === "fill"), "the fill");

      const events = updates.map((u) => u.event);
      assert(events.includes("new"), `events: ${events}`);
      assertEquals(events.at(-1), "fill");
      const fill = updates.find((u) => u.event === "fill")!;
      assertEquals(fill.order.id, placed.id);
      assertEquals(fill.order.clientOrderId, "sdk-stream-1");
      assertEquals(fill.order.status, "filled");
      assertEquals(fill.order.filledQty, "3");
      assertEquals(fill.qty, "3");
      assertEquals(fill.positionQty, "3");
      assert(Number(fill.price) > 0, "a fill price");
      assert(typeof fill.executionId === "string" && fill.executionId.length > 0);
      assert(fill.timestamp instanceof Date);
      // In commit order: no event after the fill, none twice.
      assertEquals(events.indexOf("fill"), events.length - 1);
      assertEquals(bobs, [], "another user's stream sees nothing of alice's orders");
    } finally {
      stream.disconnect();
      other.disconnect();
      await env.close();
    }
  },
);

Deno.test(
  "Market data through the official SDK's stockStream (msgpack): trades, quotes and bars",
  DB_TEST,
  async () => {
    const env = await streamEnv();
    const key = await apiKeyFor(env.db.sql, "alice");
    const md = alpacaSdk(env.baseUrl, key.keyId, key.secret).marketData.stockStream({
      url: `${env.wsUrl}/v2/iex`,
    });
    try {
      // deno-lint-ignore no-explicit-any
      const got: { trades: any[]; quotes: any[]; bars: any[] } = {
        trades: [],
        quotes: [],
        bars: [],
      };
      // deno-lint-ignore no-explicit-any
      let subscription: any = null;
      md.onTrade((t) => got.trades.push(t));
      md.onQuote((q) => got.quotes.push(q));
      md.onBar((b) => got.bars.push(b));
      md.on("subscription", (s: unknown) => subscription = s);
      md.subscribeForTrades(["AAPL"]);
      md.subscribeForQuotes(["AAPL"]);
      md.subscribeForBars(["*"]);
      md.connect();
      await until(
        () => subscription !== null && subscription.bars.includes("*"),
        "the subscription",
      );
      assertEquals(subscription.trades, ["AAPL"]);
      assertEquals(subscription.quotes, ["AAPL"]);

      for (let i = 0; i < 3; i++) await env.trading.advance(60_000);
      await until(
        () => got.trades.length > 0 && got.quotes.length > 0 && got.bars.length > 0,
        "trades, quotes and bars",
      );
      assert(got.trades.every((t) => t.symbol === "AAPL"), "only AAPL trades");
      assert(got.quotes.every((q) => q.symbol === "AAPL"), "only AAPL quotes");
      const symbols = new Set(got.bars.map((b) => b.symbol));
      assert(symbols.size > 1, `bars of every symbol with "*", got ${[...symbols]}`);
      const trade = got.trades[0];
      assert(trade.price > 0 && trade.size > 0, JSON.stringify(trade));
      assert(trade.timestamp instanceof Date, "t decoded as a timestamp");
      const quote = got.quotes[0];
      assert(quote.bidPrice > 0 && quote.askPrice >= quote.bidPrice, JSON.stringify(quote));
      const bar = got.bars[0];
      assert(bar.high >= bar.low && bar.volume >= 0, JSON.stringify(bar));

      // Unsubscribing stops the flow: the next minutes carry no AAPL trades.
      let unsubscribed = false;
      md.on("subscription", () => unsubscribed = true);
      md.unsubscribeFromTrades(["AAPL"]);
      await until(() => unsubscribed, "the unsubscribe ack");
      const trades = got.trades.length;
      const quotes = got.quotes.length;
      await env.trading.advance(60_000);
      await until(() => got.quotes.length > quotes, "more quotes");
      assertEquals(got.trades.length, trades);
    } finally {
      md.disconnect();
      await env.close();
    }
  },
);
