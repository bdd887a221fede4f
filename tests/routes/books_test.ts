/**
 * Books over HTTP: a bot's positions and P&L are its own (issue 17, item 2). A trader's manual
 * shares and a bot's in the same symbol are kept apart in the ledger while the venue nets them.
 */
import { assert, assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";
import { isTradeError } from "../../core/errors.ts";
import { parseOrderRequest } from "../../core/order.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";

const d = (s: string) => Decimal.parse(s);

async function userId(t: TestApp, username: string): Promise<string> {
  const [u] = await t.db.owner<{ id: string }[]>`select id from users where username = ${username}`;
  return u!.id;
}

/** Creates a (stopped) bot for `username` and answers its id. */
async function createBot(
  t: TestApp,
  username: string,
  name: string,
  risk: Record<string, string> = {},
): Promise<string> {
  const res = await t.as(username, "/api/v1/bots", {
    method: "POST",
    json: {
      name,
      strategy: "sma_cross",
      symbols: ["AAPL"],
      timeframe: "1Min",
      params: { fast: 2, slow: 4 },
      sizing: { method: "fixed_qty", qty: "1" },
      risk,
    },
  });
  assertEquals(res.status, 201, await res.clone().text());
  return (await res.json()).id;
}

/** A market order placed by the bot, through the one execution path as a bot places it. */
async function botOrder(
  t: TestApp,
  user: string,
  botId: string,
  side: "buy" | "sell",
  qty: string,
): Promise<string> {
  const result = await t.trading.engine.submit({
    tenant: { userId: user, role: "trader" },
    request: parseOrderRequest({
      symbol: "AAPL",
      qty,
      side,
      type: "market",
      time_in_force: "day",
    }),
    botId,
    correlationId: crypto.randomUUID(),
  });
  return result.order.id;
}

async function filledPrice(t: TestApp, username: string, id: string): Promise<Decimal> {
  const o = await (await t.as(username, `/api/v1/orders/${id}`)).json();
  assertEquals(o.status, "filled", JSON.stringify(o));
  return d(o.filled_avg_price);
}

Deno.test({
  name:
    "books acceptance: a bot's round trip beside the trader's 10 shares is priced on its own book",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    // A trader buys 10 at p0 by hand.
    const manual = await t.as("tia", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "AAPL", qty: "10", side: "buy", type: "market", time_in_force: "day" },
    });
    assertEquals(manual.status, 201);
    const manualId = (await manual.json()).id;
    await t.trading.advance(100);
    const p0 = await filledPrice(t, "tia", manualId);
    const tia = await userId(t, "tia");
    const bot = await createBot(t, "tia", "book-bot");

    // The market moves; the bot buys 3 at p1, and later sells 3 at p2.
    await t.trading.advance(15 * 60_000);
    const buyId = await botOrder(t, tia, bot, "buy", "3");
    await t.trading.advance(100);
    const p1 = await filledPrice(t, "tia", buyId);
    assert(!p1.eq(p0), `the test needs p1 ${p1} to differ from p0 ${p0}`);
    await t.trading.advance(15 * 60_000);
    const sellId = await botOrder(t, tia, bot, "sell", "3");
    await t.trading.advance(100);
    const p2 = await filledPrice(t, "tia", sellId);

    // The bot's one trade: entry p1, exit p2, P&L 3 × (p2 − p1).
    const botTrades = await (await t.as("tia", `/api/v1/trades?bot_id=${bot}`)).json();
    assertEquals(botTrades.totalItems, 1);
    const trade = botTrades.items[0];
    assertEquals([trade.bot_id, trade.side, trade.qty], [bot, "long", "3"]);
    assertEquals(trade.entry_price, p1.toString());
    assertEquals(trade.exit_price, p2.toString());
    assertEquals(trade.realized_pl, p2.sub(p1).mul(d("3")).toString());
    assertEquals(trade.exit_order_id, sellId);

    // The account shows 10; the manual book 10 at p0, the bot's book flat with its P&L.
    const positions = await (await t.as("tia", "/api/v1/positions")).json();
    assertEquals(positions.map((p: { symbol: string; qty: string }) => [p.symbol, p.qty]), [
      ["AAPL", "10"],
    ]);
    const books = await (await t.as("tia", "/api/v1/books?closed=true")).json();
    assertEquals(
      books.map((b: Record<string, string>) => [b.bot_id, b.qty, b.avg_entry_price, b.realized_pl]),
      [
        [null, "10", p0.toString(), "0"],
        [bot, "0", "0", trade.realized_pl],
      ],
    );
    const manualBooks = await (await t.as("tia", "/api/v1/books?bot_id=manual")).json();
    assertEquals(manualBooks.length, 1);

    // The trader's stats hold no bot trade, and the bot's none of the trader's.
    const manualStats = await (await t.as("tia", "/api/v1/trades/stats?bot_id=manual")).json();
    assertEquals(manualStats.count, 0);
    const botStats = await (await t.as("tia", `/api/v1/trades/stats?bot_id=${bot}`)).json();
    assertEquals([botStats.count, botStats.total_pl], [1, trade.realized_pl]);

    // A manual sell of 4 is the trader's trade, against p0, and leaves the bot's book alone.
    const sell = await t.as("tia", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "AAPL", qty: "4", side: "sell", type: "market", time_in_force: "day" },
    });
    assertEquals(sell.status, 201);
    await t.trading.advance(100);
    const mine = await (await t.as("tia", "/api/v1/trades?bot_id=manual")).json();
    assertEquals(mine.items.map((x: Record<string, string>) => [x.bot_id, x.qty, x.entry_price]), [
      [null, "4", p0.toString()],
    ]);
    assertEquals((await (await t.as("tia", `/api/v1/trades?bot_id=${bot}`)).json()).totalItems, 1);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "orders show their book: bot_id in the order JSON, and GET /orders?bot_id= filters by it",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const placed = await t.as("uma", "/api/v1/orders", {
      method: "POST",
      json: {
        symbol: "AAPL",
        qty: "1",
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "by-hand",
      },
    });
    assertEquals(placed.status, 201);
    const manual = await placed.json();
    assertEquals(manual.bot_id, null);
    const uma = await userId(t, "uma");
    const bot = await createBot(t, "uma", "order-bot");
    const botId = await botOrder(t, uma, bot, "buy", "2");
    await t.trading.advance(100);

    const one = await (await t.as("uma", `/api/v1/orders/${botId}`)).json();
    assertEquals([one.id, one.bot_id], [botId, bot]);
    const byClient = await (await t.as("uma", "/api/v1/orders/by-client-id/by-hand")).json();
    assertEquals(byClient.bot_id, null);
    const all = await (await t.as("uma", "/api/v1/orders?status=all")).json();
    assertEquals(
      all.map((o: Record<string, string>) => [o.id, o.bot_id]).sort(),
      [[manual.id, null], [botId, bot]].sort(),
    );
    const bots = await (await t.as("uma", `/api/v1/orders?status=all&bot_id=${bot}`)).json();
    assertEquals(bots.map((o: Record<string, string>) => o.id), [botId]);
    const hand = await (await t.as("uma", "/api/v1/orders?status=all&bot_id=manual")).json();
    assertEquals(hand.map((o: Record<string, string>) => o.id), [manual.id]);
    // The same client order id again answers the existing order with its book.
    const again = await t.as("uma", "/api/v1/orders", {
      method: "POST",
      json: {
        symbol: "AAPL",
        qty: "1",
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "by-hand",
      },
    });
    assertEquals([again.status, (await again.json()).bot_id], [200, null]);

    const bad = await t.as("uma", "/api/v1/orders?bot_id=robot");
    const body = await bad.json();
    assertEquals([bad.status, body.error.code], [400, "VALIDATION_FAILED"]);
    assert(JSON.stringify(body).includes("manual"), JSON.stringify(body));
  } finally {
    await t.close();
  }
});

/** The code and details of a bot order's denial, or "placed". */
async function botAttempt(
  t: TestApp,
  user: string,
  botId: string,
  side: "buy" | "sell",
  qty: string,
): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await botOrder(t, user, botId, side, qty);
    return { code: "placed", details: {} };
  } catch (e) {
    if (!isTradeError(e)) throw e;
    return { code: e.code, details: e.details as Record<string, unknown> };
  }
}

Deno.test({
  name: "a bot's limits read its own book: position value and daily loss, not the trader's shares",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    // The trader holds 10 AAPL (about 1,600) and lost the spread on a round trip in MSFT.
    for (
      const [symbol, side, qty] of [["AAPL", "buy", "10"], ["MSFT", "buy", "20"], [
        "MSFT",
        "sell",
        "20",
      ]]
    ) {
      const r = await t.as("vic", "/api/v1/orders", {
        method: "POST",
        json: { symbol, qty, side, type: "market", time_in_force: "day" },
      });
      assertEquals(r.status, 201);
      await t.trading.advance(100);
    }
    const account = await (await t.as("vic", "/api/v1/account")).json();
    assert(d(account.equity).lt(d(account.last_equity)), JSON.stringify(account));
    const vic = await userId(t, "vic");
    const bot = await createBot(t, "vic", "limited", {
      max_position_value: "1000",
      daily_loss_limit: "0.01",
    });

    // The bot's 3 shares (about 480) are within its 1,000 though the account holds 13.
    assertEquals((await botAttempt(t, vic, bot, "buy", "3")).code, "placed");
    await t.trading.advance(100);
    // 7 more would make its own book about 1,600: refused, naming the book.
    const big = await botAttempt(t, vic, bot, "buy", "7");
    assertEquals([big.code, big.details.book], ["RISK_MAX_POSITION", bot]);
    // Its own round trip loses the spread: now its daily loss stops its openings.
    assertEquals((await botAttempt(t, vic, bot, "sell", "3")).code, "placed");
    await t.trading.advance(100);
    const realized = await (await t.as("vic", `/api/v1/trades/stats?bot_id=${bot}`)).json();
    assert(d(realized.total_pl).isNegative(), JSON.stringify(realized));
    const stopped = await botAttempt(t, vic, bot, "buy", "1");
    assertEquals([stopped.code, stopped.details.book], ["RISK_DAILY_LOSS", bot]);
    assertEquals(stopped.details.realized_pl_today, realized.total_pl);
    // The trader's own orders are not held to the bot's limits.
    const mine = await t.as("vic", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "AAPL", qty: "1", side: "buy", type: "market", time_in_force: "day" },
    });
    assertEquals(mine.status, 201);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "closing a position flattens the account and every book, and says which books it closed",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const buy = await t.as("wes", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "AAPL", qty: "10", side: "buy", type: "market", time_in_force: "day" },
    });
    assertEquals(buy.status, 201);
    await t.trading.advance(100);
    const wes = await userId(t, "wes");
    const longBot = await createBot(t, "wes", "long-bot");
    const shortBot = await createBot(t, "wes", "short-bot");
    await botOrder(t, wes, longBot, "buy", "3");
    await t.trading.advance(100);
    await botOrder(t, wes, shortBot, "sell", "5"); // short in its own book; the venue nets
    await t.trading.advance(100);
    const open = await (await t.as("wes", "/api/v1/books")).json();
    assertEquals(open.map((b: Record<string, string>) => [b.bot_id, b.qty]), [
      [null, "10"],
      ...[[longBot, "3"], [shortBot, "-5"]].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    ]);
    const positions = await (await t.as("wes", "/api/v1/positions")).json();
    assertEquals(positions.map((p: Record<string, string>) => p.qty), ["8"]);

    const closed = await t.as("wes", "/api/v1/positions/AAPL/close", { method: "POST" });
    assertEquals(closed.status, 200);
    const order = await closed.json();
    assertEquals([order.side, order.qty, order.bot_id], ["sell", "8", null]);
    assertEquals(
      order.books.map((b: Record<string, string>) => [b.bot_id, b.side, b.qty]).sort(),
      [[null, "sell", "10"], [longBot, "sell", "3"], [shortBot, "buy", "5"]].sort(),
    );
    await t.trading.advance(100);
    const exit = await filledPrice(t, "wes", order.id);

    // Every book is flat; each closed at the one fill price, against its own entry.
    assertEquals((await (await t.as("wes", "/api/v1/books")).json()).length, 0);
    assertEquals((await (await t.as("wes", "/api/v1/positions")).json()).length, 0);
    for (const [bot, side] of [["manual", "long"], [longBot, "long"], [shortBot, "short"]]) {
      const trades = await (await t.as("wes", `/api/v1/trades?bot_id=${bot}`)).json();
      assertEquals(trades.totalItems, 1, `${bot}: ${JSON.stringify(trades)}`);
      assertEquals(
        [trades.items[0].side, trades.items[0].exit_price, trades.items[0].exit_order_id],
        [side, exit.toString(), order.id],
      );
    }
    const audit = await (await t.as("wes", `/api/v1/orders/${order.id}/audit`)).json();
    const submitted = audit.find((a: { action: string }) => a.action === "SUBMITTED");
    assertEquals(submitted.payload.books.length, 3);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "reconciliation books a difference it cannot attribute to the manual book, audited",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const buy = await t.as("xia", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "AAPL", qty: "10", side: "buy", type: "market", time_in_force: "day" },
    });
    assertEquals(buy.status, 201);
    await t.trading.advance(100);
    const p0 = await filledPrice(t, "xia", (await buy.json()).id);
    const xia = await userId(t, "xia");
    const bot = await createBot(t, "xia", "rec-bot");
    await botOrder(t, xia, bot, "buy", "3");
    await t.trading.advance(100);
    // The ledger loses track of 4 manual shares (say, a transfer in at the venue it never saw).
    await t.db.owner`update books set qty = 6, cost_basis = 6 * avg_entry_price
                     where user_id = ${xia} and bot_id is null`;
    const venueAvg = d((await (await t.as("xia", "/api/v1/positions")).json())[0].avg_entry_price);

    const result = await t.trading.engine.reconcile([xia]);
    assert(result.changes >= 1, JSON.stringify(result));
    const books = await (await t.as("xia", "/api/v1/books")).json();
    assertEquals(books.map((b: Record<string, string>) => [b.bot_id, b.qty]), [
      [null, "10"],
      [bot, "3"],
    ]);
    // The 4 shares come in at the venue's average entry: an adjustment, not a trade.
    assertEquals(books[0].cost_basis, p0.mul(d("6")).add(venueAvg.mul(d("4"))).toString());
    assertEquals((await (await t.as("xia", "/api/v1/trades")).json()).totalItems, 0);
    const [row] = await t.db.owner<
      { status: string; reason: string; payload: { books: Record<string, string> } }[]
    >`
      select status, reason, payload from execution_logs
      where user_id = ${xia} and action = 'RECONCILED'`;
    assertEquals(row!.status, "BOOK_ADJUSTED");
    assertEquals(row!.payload.books, {
      symbol: "AAPL",
      venue_qty: "13",
      books_qty: "9",
      difference: "4",
      manual_qty: "10",
    });
    // A second pass finds nothing to do.
    assertEquals((await t.trading.engine.reconcile([xia])).changes, 0);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "a running bot hears that closing the position flattened its book, and exits nothing more",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const yan = await (async () => {
      assertEquals((await t.as("yan", "/api/v1/me")).status, 200);
      return await userId(t, "yan");
    })();
    const bot = await createBot(t, "yan", "runner");
    assertEquals((await t.as("yan", `/api/v1/bots/${bot}/start`, { method: "POST" })).status, 200);
    await botOrder(t, yan, bot, "buy", "3");
    const position = async () => {
      await t.trading.advance(100);
      const s = await t.trading.bots.botStatus(bot) as { positions: Record<string, string> };
      return s.positions.AAPL ?? "0";
    };
    assertEquals(await position(), "3");

    const closed = await t.as("yan", "/api/v1/positions/AAPL/close", { method: "POST" });
    assertEquals(closed.status, 200);
    assertEquals(await position(), "0");
  } finally {
    await t.close();
  }
});
