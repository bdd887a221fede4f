/**
 * The ledger side of retrying a client order id (migration 0012): one live order per id and
 * user; attempts that never reached the venue keep the id beside it once retried; an attempt
 * is taken by one retry only.
 */
import { assertEquals, assertRejects } from "../_assert.ts";
import { withTenant } from "../../db/database.ts";
import { findOrderByClientId, markRetried } from "../../db/ledger.ts";
import { createTestDb, DB_TEST, type TestDb } from "../_helpers.ts";

async function user(db: TestDb, name: string): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    select tradewind_ensure_user(${name}, 'trader') as id`;
  return row!.id;
}

async function insert(db: TestDb, userId: string, status: string, retryOf: string | null = null) {
  const [row] = await withTenant(
    db.sql,
    { userId, role: "trader" },
    (tx) =>
      tx<{ id: string }[]>`insert into orders (id, user_id, client_order_id, created_at,
         updated_at, symbol, qty, type, side, time_in_force, status, reject_reason, retry_of)
       values (gen_random_uuid(), ${userId}, 'k', now(), now(), 'AAPL', '1', 'market', 'buy',
         'day', ${status}, ${status === "rejected" ? "BROKER_TIMEOUT" : null}, ${retryOf})
       returning id`,
  );
  return row!.id;
}

Deno.test({
  name: "order retries: a client order id names one live order; retried attempts share it",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const ann = await user(db, "ann");
    const tenant = { userId: ann, role: "trader" as const };
    const attempt = await insert(db, ann, "rejected");
    // While the attempt is live, its id is taken.
    const err = await assertRejects(() => insert(db, ann, "accepted"));
    assertEquals((err as { code?: string }).code, "23505");

    // One transaction: the retry takes the attempt, then records its own order.
    const retry = await withTenant(db.sql, tenant, async (tx) => {
      const id = crypto.randomUUID();
      assertEquals(await markRetried(tx, attempt, id), true);
      assertEquals(await markRetried(tx, attempt, id), false, "taken once");
      await tx`insert into orders (id, user_id, client_order_id, created_at, updated_at, symbol,
                 qty, type, side, time_in_force, status, retry_of)
               values (${id}, ${ann}, 'k', now(), now(), 'AAPL', '1', 'market', 'buy', 'day',
                 'accepted', ${attempt})`;
      return id;
    });
    const live = await withTenant(db.sql, tenant, (tx) => findOrderByClientId(tx, "k"));
    assertEquals([live!.id, live!.retry_of, live!.retried_by], [retry, attempt, null]);
    const rows = await db.owner<{ id: string; retried_by: string | null }[]>`
      select id, retried_by from orders where client_order_id = 'k' order by retry_of nulls first`;
    assertEquals(rows.map((r) => [r.id, r.retried_by]), [[attempt, retry], [retry, null]]);
    // Still one live order per id.
    const again = await assertRejects(() => insert(db, ann, "accepted"));
    assertEquals((again as { code?: string }).code, "23505");
    // Only a rejected order can be retried.
    const other = await withTenant(db.sql, tenant, (tx) => markRetried(tx, retry, attempt));
    assertEquals(other, false);
  } finally {
    await db.close();
  }
});
