/**
 * The Alpaca adapter against a served Tradewind's Alpaca-compatible face (`/v2`, engine B on
 * the paper venue), over real HTTP with a real API key: the trading half of the Broker port
 * behaves as against Alpaca, and engine A's pipeline places an order that lands in B's ledger
 * and comes back to A's by reconciliation. (B's `/v2/stocks` market data is another branch's.)
 */
import { assert, assertEquals } from "../../_assert.ts";
import { apiKeyFor, servedTestApp } from "../../_alpaca.ts";
import { createTestDb, DB_TEST, TEST_START_MS } from "../../_helpers.ts";
import { MessageBus } from "../../../actors/bus.ts";
import { ExecutionEngine } from "../../../actors/execution_engine.ts";
import { AlpacaVenue } from "../../../brokers/alpaca/venue.ts";
import { BrokerUnavailableError } from "../../../brokers/resilient.ts";
import { SystemClock, TestClock } from "../../../core/clock.ts";
import { Decimal } from "../../../core/decimal.ts";
import { TradeError } from "../../../core/errors.ts";
import { seededIdSource } from "../../../core/ids.ts";
import { findUserIdByUsername } from "../../../db/account_holder.ts";

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (e) => e);
  if (e instanceof TradeError) return e.code;
  if (e instanceof BrokerUnavailableError) return "BROKER_UNAVAILABLE";
  throw new Error(`Expected an error, got ${e === null ? "success" : String(e)}`);
}

Deno.test(
  "alpaca adapter on a Tradewind /v2 face: orders, account, positions, clock, calendar, assets",
  DB_TEST,
  async () => {
    const b = await servedTestApp();
    try {
      const key = await apiKeyFor(b.db.sql, "bob");
      const holder = "00000000-0000-4000-8000-00000000000a";
      const venue = new AlpacaVenue({
        clock: new SystemClock(),
        keyId: key.keyId,
        secretKey: key.secret,
        tradingUrl: b.baseUrl,
        dataUrl: b.baseUrl,
        accountHolder: () => Promise.resolve(holder),
      });
      const broker = venue.brokerFor(holder);
      const account = await broker.getAccount();
      assert(account.cash.isPositive(), "bob's paper account");
      const placed = await broker.submitOrder({
        symbol: "AAPL",
        qty: Decimal.parse("2"),
        side: "buy",
        type: "limit",
        limit_price: Decimal.parse("1.5"),
        time_in_force: "gtc",
        client_order_id: "face-limit",
      });
      assertEquals([placed.client_order_id, placed.qty?.toString()], ["face-limit", "2"]);
      assertEquals((await broker.getOrder(placed.id)).id, placed.id);
      assertEquals((await broker.getOrderByClientId("face-limit")).id, placed.id);
      assert(
        (await broker.listOrders({ status: "all" })).some((o) => o.id === placed.id),
        "listed",
      );
      const replaced = await broker.replaceOrder(placed.id, { limit_price: Decimal.parse("1.25") });
      assertEquals(replaced.replaces, placed.id);
      assertEquals(replaced.limit_price?.toString(), "1.25");
      await broker.cancelOrder(replaced.id);
      await b.trading.advance(1_000);
      assertEquals((await broker.getOrder(replaced.id)).status, "canceled");
      assertEquals(await code(broker.getOrder(crypto.randomUUID())), "ORDER_NOT_FOUND");
      assertEquals(await code(broker.getOrderByClientId("nope")), "ORDER_NOT_FOUND");

      await broker.submitOrder({
        symbol: "MSFT",
        qty: Decimal.parse("3"),
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "face-mkt",
      });
      await b.trading.advance(3_000);
      const msft = await broker.getPosition("MSFT");
      assertEquals(msft.qty.toString(), "3");
      assertEquals((await broker.listPositions()).map((p) => p.symbol), ["MSFT"]);
      assertEquals(await code(broker.getPosition("TSLA")), "POSITION_NOT_FOUND");
      const closing = await broker.closePosition("MSFT", { qty: Decimal.parse("1") });
      assertEquals([closing.side, closing.qty?.toString()], ["sell", "1"]);
      await b.trading.advance(3_000);
      const all = await broker.closeAllPositions({ cancelOrders: true });
      assertEquals(all.map((r) => [r.symbol, r.status]), [["MSFT", 200]]);

      const huge = await code(broker.submitOrder({
        symbol: "AAPL",
        qty: Decimal.parse("900"),
        side: "buy",
        type: "limit",
        limit_price: Decimal.parse("5000"),
        time_in_force: "day",
        client_order_id: "face-huge",
      }));
      assert(["INSUFFICIENT_BUYING_POWER", "RISK_MAX_ORDER_NOTIONAL"].includes(huge), huge);

      assertEquals(typeof (await broker.getClock()).is_open, "boolean");
      const days = await broker.getCalendar("2026-11-25", "2026-11-30");
      assertEquals(days.map((d) => d.date), ["2026-11-25", "2026-11-27", "2026-11-30"]);
      assertEquals((await broker.getAsset("AAPL")).symbol, "AAPL");
      assert((await broker.listAssets()).length > 5, "assets");
      assertEquals(await code(broker.getAsset("ZZZZQX")), "ASSET_NOT_FOUND");
    } finally {
      await b.close();
    }
  },
);

Deno.test(
  "alpaca engine A on engine B's /v2 face: an order sent through A's adapter is in both ledgers, adopted by A's reconciliation",
  DB_TEST,
  async () => {
    const b = await servedTestApp();
    const dbA = await createTestDb();
    const clockA = new TestClock(TEST_START_MS);
    let engine: ExecutionEngine | null = null;
    try {
      const key = await apiKeyFor(b.db.sql, "bob");
      const [row] = await dbA.owner<{ id: string }[]>`
      select tradewind_ensure_user('alice', 'trader') as id`;
      const alice = row!.id;
      const venue = new AlpacaVenue({
        clock: new SystemClock(),
        keyId: key.keyId,
        secretKey: key.secret,
        tradingUrl: b.baseUrl,
        dataUrl: b.baseUrl,
        accountHolder: () => findUserIdByUsername(dbA.sql, "alice"),
      });
      engine = new ExecutionEngine({
        sql: dbA.sql,
        venue,
        clock: clockA,
        ids: seededIdSource(31),
        bus: new MessageBus(),
        defaultLimits: {},
        reconcileEveryMs: 0,
        snapshotEveryMs: 0,
        resilience: { timeoutMs: 4_000, attempts: 2, initialDelayMs: 1 },
      });
      // A validates against market data; B's /v2/stocks is not served on this branch, so the
      // order goes through B's ledger and A's by the trading routes alone: place it on B's face.
      const broker = venue.brokerFor(alice);
      const placed = await broker.submitOrder({
        symbol: "AAPL",
        qty: Decimal.parse("2"),
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "a-to-b",
      });
      await b.trading.advance(3_000);
      const { changes } = await engine.reconcile();
      assert(changes > 0, "A adopted and filled the order");
      const inA = await dbA.owner<
        { status: string; broker_order_id: string; filled_qty: string }[]
      >`
      select status, broker_order_id, filled_qty::text from orders where user_id = ${alice}`;
      assertEquals(inA.length, 1);
      assertEquals(inA[0]!.broker_order_id, placed.id);
      assertEquals([inA[0]!.status, Decimal.parse(inA[0]!.filled_qty).toString()], ["filled", "2"]);
      const inB = await b.db.owner<{ id: string; status: string }[]>`
      select id, status from orders where client_order_id = 'a-to-b'`;
      assertEquals(inB.map((o) => [o.id, o.status]), [[placed.id, "filled"]]);
    } finally {
      await engine?.stop();
      await dbA.close();
      await b.close();
    }
  },
);
