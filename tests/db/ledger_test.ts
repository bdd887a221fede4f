import { assert, assertEquals, assertRejects } from "../_assert.ts";
import postgres from "postgres";
import { appendAudit, verifyAudit } from "../../db/audit.ts";
import { withTenant } from "../../db/database.ts";
import { migrate, MigrationError, readMigrations } from "../../db/migrate.ts";
import { createTestDb, DB_TEST, type TestDb } from "../_helpers.ts";

async function user(db: TestDb, name: string, role = "trader"): Promise<string> {
  const [row] = await db.sql<
    { id: string }[]
  >`select tradewind_ensure_user(${name}, ${role}) as id`;
  return row!.id;
}

async function insertOrder(db: TestDb, userId: string, clientOrderId: string) {
  await withTenant(
    db.sql,
    { userId, role: "trader" },
    (tx) =>
      tx`insert into orders (id, user_id, client_order_id, created_at, updated_at, symbol, qty,
         type, side, time_in_force, status)
       values (gen_random_uuid(), ${userId}, ${clientOrderId}, now(), now(), 'AAPL', '1.5',
         'market', 'buy', 'day', 'accepted')`,
  );
}

Deno.test(
  { name: "migrations are idempotent and record a checksum per file", ...DB_TEST },
  async () => {
    const db = await createTestDb();
    try {
      const again = await migrate(db.owner);
      assertEquals(again.applied, []);
      const rows = await db.owner<{ version: number; checksum: string }[]>`
      select version, checksum from schema_migrations order by version`;
      const files = await readMigrations();
      assertEquals(rows.map((r) => r.version), files.map((f) => f.version));
      assertEquals(rows.map((r) => r.checksum), files.map((f) => f.checksum));
      assert(await db.ready());
    } finally {
      await db.close();
    }
  },
);

Deno.test({ name: "a migration edited after it was applied is caught", ...DB_TEST }, async () => {
  const db = await createTestDb();
  try {
    const files = await readMigrations();
    const edited = files.map((f, i) =>
      i === 0 ? { ...f, sql: f.sql + "\n-- edited", checksum: "f".repeat(64) } : f
    );
    const err = await assertRejects(() => migrate(db.owner, edited), MigrationError);
    assert(err.message.includes("0001_ledger.sql"), err.message);
    assert(err.message.includes("was changed after it was applied"), err.message);
    assertEquals(await db.ready(), true);
  } finally {
    await db.close();
  }
});

Deno.test(
  { name: "money and quantities are exact numeric, returned as strings", ...DB_TEST },
  async () => {
    const db = await createTestDb();
    try {
      const alice = await user(db, "alice");
      await insertOrder(db, alice, "c-1");
      const [o] = await withTenant(
        db.sql,
        { userId: alice, role: "trader" },
        (tx) => tx<{ qty: string; filled_qty: string }[]>`select qty, filled_qty from orders`,
      );
      assertEquals(o, { qty: "1.5", filled_qty: "0" });
      const [t] = await db.owner<{ t: string }[]>`
      select data_type as t from information_schema.columns
      where table_name = 'orders' and column_name = 'limit_price'`;
      assertEquals(t!.t, "numeric");
    } finally {
      await db.close();
    }
  },
);

Deno.test(
  { name: "row-level security: a trader sees only their own rows", ...DB_TEST },
  async () => {
    const db = await createTestDb();
    try {
      const alice = await user(db, "alice");
      const bob = await user(db, "bob");
      await insertOrder(db, alice, "a-1");
      await insertOrder(db, bob, "b-1");
      await withTenant(db.sql, { userId: alice, role: "trader" }, async (tx) => {
        await appendAudit(tx, { userId: alice, action: "SUBMITTED", status: "ok" });
      });
      await withTenant(db.sql, { userId: bob, role: "trader" }, async (tx) => {
        await appendAudit(tx, { userId: bob, action: "SUBMITTED", status: "ok" });
      });
      // A hand-written query with no WHERE clause on the engine's own connection.
      const seen = await withTenant(db.sql, { userId: alice, role: "trader" }, async (tx) => ({
        orders: await tx<{ client_order_id: string }[]>`select client_order_id from orders`,
        audit: await tx<{ user_id: string }[]>`select user_id from execution_logs`,
        users: await tx<{ username: string }[]>`select username from users`,
      }));
      assertEquals(seen.orders.map((r) => r.client_order_id), ["a-1"]);
      assertEquals(seen.audit.map((r) => r.user_id), [alice]);
      assertEquals(seen.users.map((r) => r.username), ["alice"]);
      // No tenant set: nothing at all.
      assertEquals((await db.sql`select * from orders`).length, 0);
      // Writing a row for someone else is refused.
      await assertRejects(() => insertOrderAs(db, alice, bob));
      // Compliance and admin read every audit row, but still no one else's orders.
      const compliance = await user(db, "carol", "compliance");
      const all = await withTenant(
        db.sql,
        { userId: compliance, role: "compliance" },
        async (tx) => ({
          audit: await tx`select 1 from execution_logs`,
          orders: await tx`select 1 from orders`,
        }),
      );
      assertEquals(all.audit.length, 2);
      assertEquals(all.orders.length, 0);
      // The engine's role cannot bypass row-level security.
      const [role] = await db.sql<{ rolsuper: boolean; rolbypassrls: boolean }[]>`
      select rolsuper, rolbypassrls from pg_roles where rolname = current_user`;
      assertEquals(role, { rolsuper: false, rolbypassrls: false });
    } finally {
      await db.close();
    }
  },
);

// deno-lint-ignore no-explicit-any
async function reenableTriggers(tx: any) {
  for (
    const t of ["execution_logs_chain", "execution_logs_no_change", "execution_logs_no_truncate"]
  ) {
    await tx.unsafe(`alter table execution_logs enable always trigger ${t}`);
  }
}

function insertOrderAs(db: TestDb, actingAs: string, ownerId: string) {
  return withTenant(
    db.sql,
    { userId: actingAs, role: "trader" },
    (tx) =>
      tx`insert into orders (id, user_id, client_order_id, created_at, updated_at, symbol, qty,
         type, side, time_in_force, status)
       values (gen_random_uuid(), ${ownerId}, 'x', now(), now(), 'AAPL', '1', 'market', 'buy',
         'day', 'accepted')`,
  );
}

Deno.test({ name: "client_order_id is unique per user", ...DB_TEST }, async () => {
  const db = await createTestDb();
  try {
    const alice = await user(db, "alice");
    const bob = await user(db, "bob");
    await insertOrder(db, alice, "same");
    await insertOrder(db, bob, "same");
    const err = await assertRejects(() => insertOrder(db, alice, "same"));
    assertEquals((err as { code?: string }).code, "23505");
  } finally {
    await db.close();
  }
});

Deno.test(
  { name: "audit rows chain by hash and cannot be changed by any role", ...DB_TEST },
  async () => {
    const db = await createTestDb();
    try {
      const alice = await user(db, "alice");
      for (let i = 0; i < 5; i++) {
        await withTenant(db.sql, { userId: alice, role: "trader" }, (tx) =>
          appendAudit(tx, {
            userId: alice,
            action: "SUBMITTED",
            status: "ok",
            payload: { i, price: "10.25" },
          }));
      }
      const rows = await db.owner<{ seq: string; prev_hash: string; hash: string }[]>`
      select seq, prev_hash, hash from execution_logs order by seq`;
      assertEquals(rows.length, 5);
      assertEquals(rows[0]!.prev_hash, "0".repeat(64));
      for (let i = 1; i < rows.length; i++) assertEquals(rows[i]!.prev_hash, rows[i - 1]!.hash);
      const ok = await verifyAudit(db.owner);
      assertEquals(ok.ok, true);

      // The engine's role: no UPDATE, DELETE or TRUNCATE.
      for (
        const stmt of [
          "update execution_logs set status = 'x'",
          "delete from execution_logs",
          "truncate execution_logs",
        ]
      ) {
        await assertRejects(() =>
          withTenant(db.sql, { userId: alice, role: "trader" }, (tx) => tx.unsafe(stmt))
        );
      }
      // The superuser/owner: refused by the database itself, even in replica mode.
      for (
        const stmt of [
          "update execution_logs set status = 'x'",
          "delete from execution_logs",
          "truncate execution_logs",
        ]
      ) {
        const err = await assertRejects(() => db.owner.unsafe(stmt));
        assert(String((err as Error).message).includes("append-only"), (err as Error).message);
      }
      await assertRejects(() =>
        db.owner.begin(async (tx) => {
          await tx`set local session_replication_role = replica`;
          await tx`update execution_logs set status = 'x'`;
        })
      );
      assertEquals((await db.owner`select 1 from execution_logs where status = 'x'`).length, 0);
    } finally {
      await db.close();
    }
  },
);

Deno.test({
  name: "audit verify names the first row altered behind the triggers' back",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const alice = await user(db, "alice");
    for (let i = 0; i < 6; i++) {
      await withTenant(
        db.sql,
        { userId: alice, role: "trader" },
        (tx) =>
          appendAudit(tx, {
            userId: alice,
            action: "FILLED",
            status: "ok",
            payload: { qty: String(i) },
          }),
      );
    }
    const [third] = await db.owner<{ seq: string }[]>`
      select seq from execution_logs order by seq offset 2 limit 1`;
    await db.owner.begin(async (tx) => {
      await tx`alter table execution_logs disable trigger user`;
      await tx`update execution_logs set payload = '{"qty":"999"}' where seq = ${third!.seq}`;
      await reenableTriggers(tx);
    });
    const broken = await verifyAudit(db.owner, { batchSize: 2 });
    assertEquals(broken.ok, false);
    if (!broken.ok) {
      assertEquals(broken.seq, third!.seq);
      assert(broken.problem.includes("altered"));
    }

    // Removing a row breaks the link of the row after it.
    const db2 = await createTestDb();
    try {
      const bob = await user(db2, "bob");
      for (let i = 0; i < 4; i++) {
        await withTenant(
          db2.sql,
          { userId: bob, role: "trader" },
          (tx) => appendAudit(tx, { userId: bob, action: "SENT", status: "ok" }),
        );
      }
      const seqs = (await db2.owner<{ seq: string }[]>`select seq from execution_logs order by seq`)
        .map((r) => r.seq);
      await db2.owner.begin(async (tx) => {
        await tx`alter table execution_logs disable trigger user`;
        await tx`delete from execution_logs where seq = ${seqs[1]!}`;
        await reenableTriggers(tx);
      });
      const r = await verifyAudit(db2.owner);
      assertEquals(r.ok ? null : r.seq, seqs[2]);
    } finally {
      await db2.close();
    }
  } finally {
    await db.close();
  }
});

Deno.test({ name: "concurrent audit appends keep one unbroken chain", ...DB_TEST }, async () => {
  const db = await createTestDb();
  try {
    const ids = await Promise.all(["u1", "u2", "u3", "u4"].map((u) => user(db, u)));
    await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) =>
          withTenant(db.sql, { userId: ids[i % 4]!, role: "trader" }, (tx) =>
            appendAudit(tx, {
              userId: ids[i % 4]!,
              action: "SUBMITTED",
              status: "ok",
              payload: { i },
            })),
      ),
    );
    const r = await verifyAudit(db.owner);
    assertEquals(r.ok ? [r.rows, r.chains, r.heads.length] : r, [40, 4, 4]);
  } finally {
    await db.close();
  }
});

Deno.test({ name: "the owner URL is never needed by the engine's pool", ...DB_TEST }, async () => {
  const db = await createTestDb();
  try {
    const [who] = await db.sql<{ u: string }[]>`select current_user as u`;
    assertEquals(who!.u, "tradewind_app");
    const wrong = postgres(db.ownerUrl.replace(/\/\/[^@]+@/, "//tradewind_app:wrong@"), {
      max: 1,
      onnotice: () => {},
      connect_timeout: 5,
    });
    await assertRejects(() => wrong`select 1`);
    await wrong.end();
  } finally {
    await db.close();
  }
});

Deno.test({ name: "system audit rows (no user) chain on their own", ...DB_TEST }, async () => {
  const db = await createTestDb();
  try {
    const system = { userId: "00000000-0000-4000-8000-000000000000", role: "system" as never };
    for (let i = 0; i < 3; i++) {
      await withTenant(
        db.sql,
        system,
        (tx) =>
          appendAudit(tx, { userId: null, action: "RECONCILED", status: "ok", payload: { i } }),
      );
    }
    const alice = await user(db, "alice");
    await withTenant(
      db.sql,
      { userId: alice, role: "trader" },
      (tx) => appendAudit(tx, { userId: alice, action: "SUBMITTED", status: "ok" }),
    );
    const r = await verifyAudit(db.owner);
    assertEquals(r.ok ? r.chains : -1, 2);
    // A trader does not see the system chain.
    const seen = await withTenant(
      db.sql,
      { userId: alice, role: "trader" },
      (tx) => tx`select 1 from execution_logs`,
    );
    assertEquals(seen.length, 1);
  } finally {
    await db.close();
  }
});
