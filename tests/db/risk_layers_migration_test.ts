/**
 * Migration 0006 stores risk limits and trading states per layer: rows written before it keep
 * their authority (an admin's row for a user becomes the admin's layer).
 */
import { assertEquals } from "../_assert.ts";
import { DB_TEST, olderDatabase } from "../_helpers.ts";

Deno.test({
  name: "migration 0006: existing limits and halts set by an admin become the admin's layer",
  ...DB_TEST,
}, async () => {
  const older = await olderDatabase(6);
  const sql = older.sql;
  try {
    const [amy, bob, root] = await sql<{ id: string }[]>`
      insert into users (username, role)
      values ('amy', 'trader'), ('bob', 'trader'), ('root', 'admin') returning id`;
    // amy's limits and halt were set by root; bob set his own.
    await sql`insert into risk_limits (user_id, max_order_notional, updated_by)
              values (${amy!.id}, 1000, ${root!.id}), (${bob!.id}, 5, ${bob!.id})`;
    await sql`insert into trading_states (user_id, state, reason, updated_by)
              values (${amy!.id}, 'halted', 'review', ${root!.id}),
                     (${bob!.id}, 'reducing', null, ${bob!.id})`;

    await older.migrateRest();
    const limits = await sql<{ username: string; layer: string; max_order_notional: string }[]>`
      select u.username, r.layer, r.max_order_notional from risk_limits r
      join users u on u.id = r.user_id order by u.username`;
    assertEquals(limits.map((r) => [r.username, r.layer, r.max_order_notional]), [
      ["amy", "admin", "1000"],
      ["bob", "user", "5"],
    ]);
    const states = await sql<{ username: string; layer: string; state: string }[]>`
      select u.username, t.layer, t.state from trading_states t
      join users u on u.id = t.user_id order by u.username`;
    assertEquals(states.map((r) => [r.username, r.layer, r.state]), [
      ["amy", "admin", "halted"],
      ["bob", "user", "reducing"],
    ]);
  } finally {
    await older.close();
  }
});
