/**
 * The execution engine on the Alpaca adapter, against the stand-in over real HTTP and the
 * real ledger: orders go through the one pipeline, an ambiguous submit is resolved by client
 * order id (never resent), reconciliation applies fills and adopts orders placed outside
 * Tradewind, for the account holder even when they have no open orders.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { type AlpacaStandin, serveAlpacaStandin } from "../../_alpaca_standin.ts";
import { createTestDb, DB_TEST, TEST_START_MS, type TestDb } from "../../_helpers.ts";
import { MessageBus } from "../../../actors/bus.ts";
import { ExecutionEngine } from "../../../actors/execution_engine.ts";
import { AlpacaVenue } from "../../../brokers/alpaca/venue.ts";
import { PaperVenue } from "../../../brokers/paper/venue.ts";
import { SystemClock, TestClock } from "../../../core/clock.ts";
import { Decimal } from "../../../core/decimal.ts";
import { TradeError } from "../../../core/errors.ts";
import { seededIdSource } from "../../../core/ids.ts";
import { findUserIdByUsername } from "../../../db/account_holder.ts";

interface Stack {
  db: TestDb;
  clock: TestClock;
  standin: AlpacaStandin;
  venue: AlpacaVenue;
  engine: ExecutionEngine;
  holder: string;
  close(): Promise<void>;
}

async function stack(): Promise<Stack> {
  const db = await createTestDb();
  const clock = new TestClock(TEST_START_MS);
  const paper = new PaperVenue({ clock, ids: seededIdSource(21), seed: 7 });
  const standin = await serveAlpacaStandin({ venue: paper });
  const venue = new AlpacaVenue({
    clock: new SystemClock(),
    keyId: standin.keyId,
    secretKey: standin.secret,
    tradingUrl: standin.url,
    dataUrl: standin.url,
    timeoutMs: 400,
    accountHolder: () => findUserIdByUsername(db.sql, "holder"),
  });
  const engine = new ExecutionEngine({
    sql: db.sql,
    venue,
    clock,
    ids: seededIdSource(77),
    bus: new MessageBus(),
    defaultLimits: {},
    reconcileEveryMs: 0,
    snapshotEveryMs: 0,
    resilience: { timeoutMs: 2_000, attempts: 2, initialDelayMs: 1 },
  });
  const [row] = await db.owner<{ id: string }[]>`
    select tradewind_ensure_user('holder', 'trader') as id`;
  return {
    db,
    clock,
    standin,
    venue,
    engine,
    holder: row!.id,
    async close() {
      await engine.stop();
      await standin.close();
      await db.close();
    },
  };
}

const limitBuy = (clientOrderId: string) => ({
  symbol: "AAPL",
  qty: Decimal.parse("2"),
  side: "buy" as const,
  type: "limit" as const,
  limit_price: Decimal.parse("1"),
  time_in_force: "day" as const,
  client_order_id: clientOrderId,
});

Deno.test(
  "alpaca engine: an order goes to Alpaca once; its fill reaches the ledger by reconciliation",
  DB_TEST,
  async () => {
    const s = await stack();
    try {
      const tenant = { userId: s.holder, role: "trader" as const };
      const result = await s.engine.submit({
        tenant,
        request: {
          symbol: "AAPL",
          qty: Decimal.parse("3"),
          side: "buy",
          type: "market",
          time_in_force: "day",
          client_order_id: "e2e-1",
        },
        correlationId: crypto.randomUUID(),
      });
      assert(result.created, "created");
      assertEquals(s.standin.count("POST", "/v2/orders"), 1);
      const [row] = await s.db.owner<{ broker: string; broker_order_id: string }[]>`
      select broker, broker_order_id from orders where client_order_id = 'e2e-1'`;
      assertEquals(row!.broker, "alpaca");
      const atVenue = await s.standin.broker.getOrderByClientId("e2e-1");
      assertEquals(row!.broker_order_id, atVenue.id);
      s.clock.advance(5_000);
      await s.engine.reconcile();
      const [order] = await s.db.owner<{ status: string; filled_qty: string }[]>`
      select status, filled_qty::text from orders where client_order_id = 'e2e-1'`;
      assertEquals(order!.status, "filled");
      assertEquals(Decimal.parse(order!.filled_qty).toString(), "3");
      const [pos] = await s.db.owner<{ qty: string }[]>`
      select qty::text from positions where user_id = ${s.holder} and symbol = 'AAPL'`;
      assertEquals(Decimal.parse(pos!.qty).toString(), "3");
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "alpaca engine: a submit that lands and never answers is resolved by client_order_id, not resent",
  DB_TEST,
  async () => {
    const s = await stack();
    try {
      s.standin.fault({ method: "POST", path: "/v2/orders", forward: true, hang: true });
      const result = await s.engine.submit({
        tenant: { userId: s.holder, role: "trader" },
        request: limitBuy("e2e-hang"),
        correlationId: crypto.randomUUID(),
      });
      assertEquals(result.pending, false, "found by its client order id");
      assertEquals(result.order.client_order_id, "e2e-hang");
      assertEquals(s.standin.count("POST", "/v2/orders"), 1, "never resent");
      assert(s.standin.count("GET", "/v2/orders:by_client_order_id") >= 1, "looked up");
      const [row] = await s.db.owner<{ status: string; broker_order_id: string }[]>`
      select status, broker_order_id from orders where client_order_id = 'e2e-hang'`;
      assertEquals(
        row!.broker_order_id,
        (await s.standin.broker.getOrderByClientId("e2e-hang")).id,
      );
      assert(["accepted", "new", "pending_new"].includes(row!.status), row!.status);
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "alpaca engine: a 429 on submit is RATE_LIMITED: rejected in the ledger, nothing placed at Alpaca",
  DB_TEST,
  async () => {
    const s = await stack();
    try {
      s.standin.fault({
        method: "POST",
        path: "/v2/orders",
        respond: {
          status: 429,
          body: { code: 42910000, message: "rate limit exceeded" },
          headers: { "Retry-After": "0" },
        },
      });
      const tenant = { userId: s.holder, role: "trader" as const };
      const e = await assertRejects(
        () =>
          s.engine.submit({
            tenant,
            request: limitBuy("e2e-429"),
            correlationId: crypto.randomUUID(),
          }),
        TradeError,
      );
      assertEquals(e.code, "RATE_LIMITED");
      assertEquals((await s.standin.broker.listOrders({ status: "all" })).length, 0);
      const [row] = await s.db.owner<{ status: string; reject_reason: string }[]>`
      select status, reject_reason from orders where client_order_id = 'e2e-429'`;
      assertEquals([row!.status, row!.reject_reason], ["rejected", "RATE_LIMITED"]);
      // Alpaca's refusal keeps the id in the ledger (core/order_retry.ts): a new id places it.
      const again = await s.engine.submit({
        tenant,
        request: limitBuy("e2e-429-b"),
        correlationId: crypto.randomUUID(),
      });
      assertEquals(again.order.client_order_id, "e2e-429-b");
      assertEquals(s.standin.count("POST", "/v2/orders"), 2);
      assertEquals((await s.standin.broker.listOrders({ status: "all" })).length, 1);
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "alpaca engine: reconciliation adopts an order placed outside Tradewind, with no open orders in the ledger",
  DB_TEST,
  async () => {
    const s = await stack();
    try {
      const outside = await s.standin.broker.submitOrder({
        symbol: "MSFT",
        qty: Decimal.parse("1"),
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "placed-on-alpaca",
      });
      s.clock.advance(5_000);
      const { users, changes } = await s.engine.reconcile();
      assertEquals(users, 1, "the holder is visited although the ledger has no open orders");
      assert(changes > 0, "something was adopted");
      const rows = await s.db.owner<
        { status: string; broker_order_id: string; external: boolean }[]
      >`
      select status, broker_order_id, external from orders where user_id = ${s.holder}`;
      assertEquals(rows.length, 1);
      assertEquals(rows[0]!.broker_order_id, outside.id);
      assertEquals(rows[0]!.external, true);
      assertEquals(rows[0]!.status, "filled");
    } finally {
      await s.close();
    }
  },
);
