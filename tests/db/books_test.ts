/**
 * Books in the ledger: every fill moves the account position (the venue's netted one) and its
 * own book (its order's bot, or manual); the books sum to the account, and each book's figures
 * are an average-cost replay of its own fills alone. Also migration 0013, which derives the books
 * of a ledger recorded before it from its fills.
 */
import fc from "fast-check";
import { assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";
import {
  type BookFill,
  type BookMoveShare,
  flattenMoves,
  replayBook,
  splitFlattenFill,
} from "../../core/books.ts";
import { fillAmount } from "../../core/money.ts";
import { createOrder, type OrderSide } from "../../core/order.ts";
import { seededIdSource } from "../../core/ids.ts";
import { withTenant } from "../../db/database.ts";
import { insertOrder, recordFill } from "../../db/ledger.ts";
import { createTestDb, DB_TEST, olderDatabase } from "../_helpers.ts";

const ASSET = "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415";
const T0 = Date.UTC(2026, 10, 23, 15);

/**
 * One order of a run: its owner (0 manual, 1 and 2 bots), side, and its (partial) fills; or,
 * with `flatten`, the close of the whole account position in `parts` fills at `price`.
 */
interface Op {
  owner: 0 | 1 | 2;
  side: OrderSide;
  fills: { qty: string; price: string }[];
  flatten: { parts: number } | null;
}

const qtyArb = fc.oneof(
  fc.integer({ min: 1, max: 20 }).map(String),
  fc.integer({ min: 1, max: 20_000 }).map((n) => Decimal.fromUnits(BigInt(n) * 1_000_000n)),
).map((q) => q.toString());
const priceArb = fc.integer({ min: 950_000, max: 1_050_000 })
  .map((n) => Decimal.fromUnits(BigInt(n) * 100_000n).toString()); // 95.0000 to 105.0000
const opArb: fc.Arbitrary<Op> = fc.record({
  owner: fc.constantFrom(0 as const, 1 as const, 2 as const),
  side: fc.constantFrom("buy" as const, "sell" as const),
  fills: fc.array(fc.record({ qty: qtyArb, price: priceArb }), { minLength: 1, maxLength: 3 }),
  flatten: fc.oneof(
    { arbitrary: fc.constant(null), weight: 4 },
    { arbitrary: fc.record({ parts: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
  ),
});

interface BookFigures {
  qty: string;
  avg: string;
  cost: string;
  realized: string;
}

function figures(fills: BookFill[]): BookFigures {
  const r = replayBook(fills);
  return {
    qty: r.book.qty.toString(),
    avg: r.book.avg.toString(),
    cost: r.book.cost.toString(),
    realized: r.realizedPl.toString(),
  };
}

Deno.test({
  name:
    "books property: any interleaving of manual and bot fills, partial fills and flips keeps each book its own",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        run++;
        const [u] = await db.sql<{ id: string }[]>`
          select tradewind_ensure_user(${`prop${run}`}, 'trader') as id`;
        const userId = u!.id;
        const bots = await db.owner<{ id: string }[]>`
          insert into bots (user_id, name, strategy)
          values (${userId}, 'a', 'sma_cross'), (${userId}, 'b', 'sma_cross') returning id`;
        const owners = [null, bots[0]!.id, bots[1]!.id];
        const tenant = { userId, role: "trader" as const };
        const ids = seededIdSource(run);
        const own = new Map<string | null, BookFill[]>(owners.map((o) => [o, []]));
        const all: BookFill[] = [];
        let ts = T0;
        for (const [i, op] of ops.entries()) {
          let fills = op.fills;
          let side = op.side;
          let botId: string | null = owners[op.owner] ?? null;
          let plan: BookMoveShare[] | null = null;
          const held = replayBook(all).book.qty;
          if (op.flatten && !held.isZero() && held.abs().units >= BigInt(op.flatten.parts)) {
            // Closing the whole position: a manual order whose fills are split among the books.
            botId = null;
            side = held.isPositive() ? "sell" : "buy";
            plan = flattenMoves(
              owners.map((o) => ({ botId: o, qty: replayBook(own.get(o)!).book.qty })),
            );
            const k = BigInt(op.flatten.parts);
            const units = held.abs().units;
            fills = [];
            for (let p = 0n; p < k; p++) {
              const part = units * (p + 1n) / k - units * p / k;
              fills.push({ qty: Decimal.fromUnits(part).toString(), price: op.fills[0]!.price });
            }
          }
          const total = fills.reduce((s, f) => s.add(Decimal.parse(f.qty)), Decimal.ZERO);
          const order = createOrder({
            symbol: "AAPL",
            qty: total,
            side,
            type: "market",
            time_in_force: "day",
          }, { ids, tsMs: ts, assetId: ASSET }).order;
          const bookPlan = plan?.map((m) => ({
            bot_id: m.botId,
            side: m.side,
            qty: m.qty.toString(),
          }));
          await withTenant(db.sql, tenant, async (tx) => {
            await insertOrder(tx, order, {
              userId,
              botId,
              broker: "paper",
              bookPlan: bookPlan ?? null,
            });
            for (const [j, f] of fills.entries()) {
              ts += 1000;
              const fill = { side, qty: Decimal.parse(f.qty), price: Decimal.parse(f.price) };
              await recordFill(tx, {
                userId,
                orderId: order.id,
                botId,
                executionId: `p${run}-${i}-${j}`,
                symbol: "AAPL",
                assetId: ASSET,
                ...fill,
                tsMs: ts,
                venue: "paper",
              });
              all.push(fill);
              if (!plan) {
                own.get(botId)!.push(fill);
                continue;
              }
              // The books' shares of this fill, and what is left of the plan.
              for (const share of splitFlattenFill(plan, side, fill.qty)) {
                own.get(share.botId)!.push({ side: share.side, qty: share.qty, price: fill.price });
                plan = plan.map((m) =>
                  m.botId === share.botId && m.side === share.side
                    ? { ...m, qty: Decimal.max(Decimal.ZERO, m.qty.sub(share.qty)) }
                    : m
                ).filter((m) => m.qty.isPositive());
              }
            }
          });
          if (op.flatten && bookPlan) {
            // The whole close leaves every book flat.
            for (const o of owners) assertEquals(replayBook(own.get(o)!).book.qty.toString(), "0");
          }
        }
        const [books, positions, trades] = await withTenant(db.sql, tenant, (tx) =>
          Promise.all([
            tx<
              { bot_id: string | null; qty: string; avg: string; cost: string; realized: string }[]
            >`
              select bot_id, qty::text, avg_entry_price::text as avg, cost_basis::text as cost,
                     realized_pl::text as realized
              from books where symbol = 'AAPL'`,
            tx<{ qty: string; avg: string; cost: string }[]>`
              select qty::text, avg_entry_price::text as avg, cost_basis::text as cost
              from positions where symbol = 'AAPL'`,
            tx<{ bot_id: string | null; pl: string }[]>`
              select bot_id, sum(realized_pl)::text as pl from trades group by bot_id`,
          ]));
        // The books sum to the account position, which is the venue's netted replay of all.
        const sum = books.reduce((s, b) => s.add(Decimal.parse(b.qty)), Decimal.ZERO);
        const account = figures(all);
        assertEquals(sum.toString(), account.qty);
        assertEquals(
          positions[0]?.qty ? Decimal.parse(positions[0].qty).toString() : "0",
          sum.toString(),
        );
        if (positions[0]) {
          assertEquals(Decimal.parse(positions[0].avg).toString(), account.avg);
          assertEquals(Decimal.parse(positions[0].cost).toString(), account.cost);
        }
        // Each book is an average-cost replay of its own fills, and its trades add up to it.
        for (const owner of owners) {
          const fills = own.get(owner)!;
          if (fills.length === 0 && books.every((b) => b.bot_id !== owner)) continue;
          const row = books.find((b) => b.bot_id === owner);
          if (fills.length === 0) {
            assertEquals(row, undefined);
            continue;
          }
          const want = figures(fills);
          const got = {
            qty: Decimal.parse(row!.qty).toString(),
            avg: Decimal.parse(row!.avg).toString(),
            cost: Decimal.parse(row!.cost).toString(),
            realized: Decimal.parse(row!.realized).toString(),
          };
          assertEquals(got, want, `book ${owner ?? "manual"}`);
          const traded = trades.find((t) => t.bot_id === owner);
          assertEquals(traded ? Decimal.parse(traded.pl).toString() : "0", want.realized);
        }
      }),
      { seed: 20261217, numRuns: 25, endOnFailure: true },
    );
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "migration 0013: the books of a ledger recorded before it are replayed from its fills",
  ...DB_TEST,
}, async () => {
  const older = await olderDatabase(13);
  const sql = older.sql;
  try {
    const [u] = await sql<{ id: string }[]>`
      insert into users (username, role) values ('old', 'trader') returning id`;
    const userId = u!.id;
    const [bot] = await sql<{ id: string }[]>`
      insert into bots (user_id, name, strategy) values (${userId}, 'b', 'sma_cross') returning id`;
    // Manual 10 at 290.10; the bot 3 at 290.09 then out at 290.06; a manual fractional sell;
    // the bot flips short through zero; prices and quantities that round.
    const script: [string | null, OrderSide, string, string][] = [
      [null, "buy", "10", "290.1"],
      [bot!.id, "buy", "3", "290.09"],
      [bot!.id, "sell", "3", "290.06"],
      [null, "sell", "3.333333333", "291.123456789"],
      [bot!.id, "buy", "0.7", "100.000000007"],
      [bot!.id, "buy", "1.3", "100.000000002"],
      [bot!.id, "sell", "5", "101.5"],
      [null, "buy", "0.000000003", "99.999999999"],
    ];
    const own = new Map<string | null, BookFill[]>();
    let ts = T0;
    for (const [i, [botId, side, qty, price]] of script.entries()) {
      const id = crypto.randomUUID();
      ts += 60_000;
      await sql`
        insert into orders (id, user_id, bot_id, client_order_id, created_at, updated_at, symbol,
          qty, filled_qty, type, side, time_in_force, status)
        values (${id}, ${userId}, ${botId}, ${`c${i}`}, ${new Date(ts)}, ${new Date(ts)}, 'AAPL',
          ${qty}, ${qty}, 'market', ${side}, 'day', 'filled')`;
      const amount = fillAmount(Decimal.parse(qty), Decimal.parse(price)).toString();
      await sql`
        insert into fills (user_id, order_id, execution_id, symbol, side, qty, price, amount, ts,
          venue, created_at)
        values (${userId}, ${id}, ${`e${i}`}, 'AAPL', ${side}, ${qty}, ${price}, ${amount},
          ${new Date(ts)}, 'paper', ${new Date(ts)})`;
      const list = own.get(botId) ?? [];
      list.push({ side, qty: Decimal.parse(qty), price: Decimal.parse(price) });
      own.set(botId, list);
    }
    await older.migrateRest();
    const rows = await sql<
      { bot_id: string | null; qty: string; avg: string; cost: string; realized: string }[]
    >`
      select bot_id, qty::text, avg_entry_price::text as avg, cost_basis::text as cost,
             realized_pl::text as realized
      from books where user_id = ${userId} order by bot_id nulls first`;
    const norm = (s: string) => Decimal.parse(s).toString();
    assertEquals(
      rows.map((r) => [r.bot_id, norm(r.qty), norm(r.avg), norm(r.cost), norm(r.realized)]),
      [null, bot!.id].map((o) => {
        const f = figures(own.get(o)!);
        return [o, f.qty, f.avg, f.cost, f.realized];
      }),
    );
    // The bot's book is short 3 from its own 2 shares: entry at 101.5, not the trader's price.
    assertEquals(norm(rows[1]!.qty), "-3");
    assertEquals(norm(rows[1]!.avg), "101.5");
  } finally {
    await older.close();
  }
});
