/**
 * Money is exact across restarts: after fractional and notional fills the engine starts again
 * (after a clean stop, and after a kill -9 that stopped nothing) with the same cash and
 * positions, cash is starting cash less the exact sum of the fills' amounts, and every
 * order's average fill price is the exact average of its fills.
 */
import { assert, assertEquals } from "../_assert.ts";
import fc from "fast-check";
import { Decimal, divRound } from "../../core/decimal.ts";
import type { OrderRequest } from "../../core/order.ts";
import { loadPaperState } from "../../db/paper_state.ts";
import {
  createTestApp,
  createTestTrading,
  DB_TEST,
  type TestDb,
  type TestTrading,
} from "../_helpers.ts";

const START = Decimal.parse("100000");
const SYMBOLS = ["AAPL", "MSFT", "NVDA"] as const;
/** Traded in whole shares, long and short, through zero and back. */
const WHOLE = "SPY";

/**
 * One generated order: a fractional or notional buy, a sell of part of what is held, or a
 * whole-share order in {@link WHOLE} that may open, add to, close or flip a long or a short.
 */
interface Op {
  symbol: (typeof SYMBOLS)[number];
  kind: "qty" | "notional" | "sell_qty" | "sell_notional" | "whole";
  /** Nano-shares of a fractional buy (0.02 to 2.5 shares: at least $1 at these prices). */
  units: number;
  /** Cents of a notional order ($1 to $800). */
  cents: number;
  /** Percent of the position a sell closes. */
  pct: number;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  symbol: fc.constantFrom(...SYMBOLS),
  kind: fc.constantFrom("qty", "notional", "sell_qty", "sell_notional", "whole"),
  units: fc.integer({ min: 20_000_000, max: 2_500_000_000 }),
  cents: fc.integer({ min: 100, max: 80_000 }),
  pct: fc.integer({ min: 1, max: 100 }),
});

async function request(s: TestTrading, userId: string, op: Op): Promise<OrderRequest | null> {
  if (op.kind === "whole") {
    // pct's parity picks the side, units the size (1 to 5 shares)
    return {
      symbol: WHOLE,
      type: "market",
      time_in_force: "day",
      side: op.pct % 2 === 0 ? "buy" : "sell",
      qty: Decimal.int(1 + (op.units % 5)),
    };
  }
  const base = { symbol: op.symbol, type: "market", time_in_force: "day" } as const;
  if (op.kind === "qty") return { ...base, side: "buy", qty: Decimal.fromUnits(BigInt(op.units)) };
  const notional = Decimal.int(op.cents).div(Decimal.int(100));
  if (op.kind === "notional") return { ...base, side: "buy", notional };
  const held = (await s.venue.brokerFor(userId).listPositions()).find((p) =>
    p.symbol === op.symbol
  );
  if (!held || !held.qty.isPositive()) return null;
  if (op.kind === "sell_qty") {
    const qty = held.qty.mul(Decimal.int(op.pct)).div(Decimal.int(100), "down");
    // fractional orders are worth at least $1
    return qty.mul(held.current_price).gte(Decimal.int(2)) ? { ...base, side: "sell", qty } : null;
  }
  // a notional sell of at most half of what the position is worth
  const cap = held.market_value.div(Decimal.int(2)).round(2, "floor");
  const sell = Decimal.min(notional, cap);
  return sell.gte(Decimal.ONE) ? { ...base, side: "sell", notional: sell } : null;
}

async function trade(s: TestTrading, userId: string, ops: Op[]): Promise<void> {
  for (const op of ops) {
    const req = await request(s, userId, op);
    if (req === null) continue;
    await s.engine.submit({
      tenant: { userId, role: "trader" },
      request: req,
      correlationId: crypto.randomUUID(),
    });
    await s.advance(3_000);
  }
}

const norm = (v: string) => Decimal.parse(v).toString();

/**
 * The venue's cash and positions; checks that the ledger's positions are the venue's, that
 * cash is starting cash less the exact sum of the ledger's fills, and that each order's
 * average fill price is the exact average of its fills.
 */
async function books(s: TestTrading, db: TestDb, userId: string) {
  const broker = s.venue.brokerFor(userId);
  const cash = (await broker.getAccount()).cash.toString();
  const positions = (await broker.listPositions()).map((p) =>
    `${p.symbol} ${p.qty} @ ${p.avg_entry_price} cost ${p.cost_basis}`
  );
  const ledger = await db.owner<
    { symbol: string; qty: string; avg_entry_price: string; cost_basis: string }[]
  >`select symbol, qty::text, avg_entry_price::text, cost_basis::text from positions
    where user_id = ${userId} and qty <> 0 order by symbol`;
  assertEquals(
    ledger.map((p) =>
      `${p.symbol} ${norm(p.qty)} @ ${norm(p.avg_entry_price)} cost ${norm(p.cost_basis)}`
    ),
    positions,
    "the ledger's positions are the venue's",
  );

  const fills = await db.owner<{ order_id: string; side: string; qty: string; price: string }[]>`
    select order_id, side, qty::text, price::text from fills where user_id = ${userId}
    order by ts, id`;
  assert(fills.length > 0, "some orders filled");
  let expected = START;
  const byOrder = new Map<string, { qty: bigint; wide: bigint; prices: string[] }>();
  for (const f of fills) {
    const qty = Decimal.parse(f.qty);
    const price = Decimal.parse(f.price);
    // the stated rule: qty × price, rounded half-even to nine places
    const amount = Decimal.fromUnits(divRound(qty.units * price.units, 10n ** 9n, "half_even"));
    expected = f.side === "buy" ? expected.sub(amount) : expected.add(amount);
    const o = byOrder.get(f.order_id) ?? { qty: 0n, wide: 0n, prices: [] };
    o.qty += qty.units;
    o.wide += qty.units * price.units;
    o.prices.push(price.toString());
    byOrder.set(f.order_id, o);
  }
  assertEquals(cash, expected.toString(), "cash is starting cash less the exact fills");
  const orders = await db.owner<{ id: string; filled_qty: string; filled_avg_price: string }[]>`
    select id, filled_qty::text, filled_avg_price::text from orders
    where user_id = ${userId} and filled_qty > 0`;
  assertEquals(orders.length, byOrder.size);
  for (const o of orders) {
    const f = byOrder.get(o.id)!;
    assertEquals(Decimal.parse(o.filled_qty).units, f.qty);
    const avg = Decimal.fromUnits(divRound(f.wide, f.qty, "half_even"));
    assertEquals(norm(o.filled_avg_price), avg.toString(), `order ${o.id} ${f.prices}`);
    if (f.prices.length === 1) assertEquals(norm(o.filled_avg_price), f.prices[0]);
  }
  return { cash, positions };
}

/** A new process on the same ledger: a fresh venue restored from it, and a fresh engine. */
async function restart(db: TestDb, after: TestTrading, userId: string, n: number) {
  const next = createTestTrading(db, {
    startMs: after.clock.now() + 60_000,
    idSeeds: { venue: 100 + n, engine: 200 + n },
  });
  const restored = next.venue.restore(await loadPaperState(db.sql, START));
  assertEquals(restored.length, 1);
  assertEquals((await next.engine.reconcile([userId])).changes, 0, "nothing to reconcile");
  return next;
}

Deno.test({
  name: "restart: fractional and notional fills restore to the same cash and positions " +
    "after a stop and after a kill -9 (property)",
  ...DB_TEST,
}, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArb, { minLength: 4, maxLength: 9 }),
      fc.array(opArb, { minLength: 2, maxLength: 6 }),
      async (first, second) => {
        const t = await createTestApp({ trading: true });
        const stacks: TestTrading[] = [];
        try {
          const [u] = await t.db.owner<{ id: string }[]>`
            select tradewind_ensure_user('mona', 'trader') as id`;
          const userId = u!.id;
          // the first process trades, then stops cleanly
          await trade(t.trading, userId, first);
          const before = await books(t.trading, t.db, userId);
          await t.trading.engine.stop();
          const b = await restart(t.db, t.trading, userId, 1);
          stacks.push(b);
          assertEquals(await books(b, t.db, userId), before, "after a clean stop");

          // the second trades on, then dies without a stop (kill -9)
          await trade(b, userId, second);
          const killed = await books(b, t.db, userId);
          const c = await restart(t.db, b, userId, 2);
          stacks.push(c);
          assertEquals(await books(c, t.db, userId), killed, "after a kill -9");
          // and a third start, from the second's state, changes nothing
          await c.engine.stop();
          const d = await restart(t.db, c, userId, 3);
          stacks.push(d);
          assertEquals(await books(d, t.db, userId), killed, "after a further start");
        } finally {
          for (const s of stacks) await s.engine.stop();
          await t.close();
        }
      },
    ),
    { seed: 20261206, numRuns: 6, endOnFailure: true },
  );
});
