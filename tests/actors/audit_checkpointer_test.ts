/**
 * The engine logs audit checkpoints at start, every hour on its clock and at shutdown; what it
 * logs is what `audit verify --checkpoint` reads back.
 */
import { assert, assertEquals } from "../_assert.ts";
import { AuditCheckpointer, CHECKPOINT_EVERY_MS } from "../../actors/audit_checkpointer.ts";
import { type AuditCheckpoint, parseCheckpoints } from "../../core/audit_chain.ts";
import { TestClock } from "../../core/clock.ts";
import { appendAudit, verifyAudit } from "../../db/audit.ts";
import { withTenant } from "../../db/database.ts";
import { createTestDb, DB_TEST, TEST_START_MS } from "../_helpers.ts";

Deno.test({
  name: "the checkpointer logs every chain's head at start, each hour and at stop",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const [row] = await db.sql<{ id: string }[]>`
      select tradewind_ensure_user('alice', 'trader') as id`;
    const alice = row!.id;
    const add = () =>
      withTenant(
        db.sql,
        { userId: alice, role: "trader" },
        (tx) => appendAudit(tx, { userId: alice, action: "SENT", status: "ok" }),
      );
    await add();
    const clock = new TestClock(TEST_START_MS);
    const logged: { level: string; message: string; checkpoint: AuditCheckpoint }[] = [];
    const checkpointer = new AuditCheckpointer({
      sql: db.sql,
      clock,
      log: (level, message, fields) =>
        logged.push({ level, message, checkpoint: fields.checkpoint as AuditCheckpoint }),
    });
    const first = await checkpointer.start();
    assertEquals(logged.length, 1);
    assertEquals(logged[0]!.message, "Audit checkpoint {checkpoint}");
    assertEquals(first!.taken_at, new Date(TEST_START_MS).toISOString());
    assertEquals(first!.chains.map((c) => [c.chain, c.username]), [[alice, "alice"]]);

    await add();
    clock.advance(CHECKPOINT_EVERY_MS - 1);
    await checkpointer.checkpoint(); // an explicit one, to wait on
    assertEquals(logged.length, 2);
    clock.advance(1); // the hour: the timer fires
    const hourly = await checkpointer.checkpoint();
    assertEquals(logged.length, 4);
    assertEquals(logged[2]!.checkpoint.taken_at, new Date(TEST_START_MS + 3_600_000).toISOString());
    assertEquals(hourly!.chains, logged[2]!.checkpoint.chains);

    await add();
    await checkpointer.stop();
    assertEquals(logged.length, 5);
    const last = logged[4]!.checkpoint;
    const v = await verifyAudit(db.owner);
    assert(v.ok);
    assertEquals(last.chains.map(({ chain, seq, hash }) => ({ chain, seq, hash })), v.heads);
    clock.advance(10 * CHECKPOINT_EVERY_MS);
    await checkpointer.stop();
    assertEquals(logged.length, 5, "nothing after stop");
    assertEquals(clock.pending, 0);

    // As a JSON log line (LOG_FORMAT=json nests properties), it reads back as a checkpoint.
    const line = JSON.stringify({
      "@timestamp": last.taken_at,
      level: "INFO",
      message: `Audit checkpoint ${JSON.stringify(last)}`,
      logger: "tradewind.audit",
      properties: { checkpoint: last },
    });
    const read = parseCheckpoints(`{"level":"INFO","message":"listening"}\n${line}\n`, "log");
    assertEquals(read, [last]);
    const ok = await verifyAudit(db.owner, { checkpoints: read });
    assertEquals(ok.ok ? ok.checkpointHeads : ok, 1);
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "a checkpoint that cannot be read is logged as an error and the timer carries on",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  const clock = new TestClock(TEST_START_MS);
  const levels: string[] = [];
  const checkpointer = new AuditCheckpointer({
    sql: db.sql,
    clock,
    everyMs: 60_000,
    log: (level) => levels.push(level),
  });
  try {
    assertEquals((await checkpointer.start())?.chains, []);
    await db.owner`revoke execute on function tradewind_audit_heads() from tradewind_app`;
    clock.advance(60_000);
    assertEquals(await checkpointer.checkpoint(), null);
    assertEquals(levels, ["info", "error", "error"]);
    assertEquals(clock.pending, 1);
  } finally {
    await db.owner`grant execute on function tradewind_audit_heads() to tradewind_app`;
    await checkpointer.stop();
    await db.close();
  }
});
