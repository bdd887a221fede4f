/**
 * `verifyAudit` recomputes every hash in TypeScript and checks chains against checkpoints:
 * each test tampers as a superuser would (triggers disabled, rows deleted or rewritten with
 * recomputed hashes, the database's hash function redefined) and shows what is caught.
 */
import fc from "fast-check";
import postgres, { type Sql } from "postgres";
import { assert, assertEquals } from "../_assert.ts";
import { appendAudit, appendAudits, readAuditHeads, verifyAudit } from "../../db/audit.ts";
import { withTenant } from "../../db/database.ts";
import { auditRowHash, makeCheckpoint, parseUtcTimestamp } from "../../core/audit_chain.ts";
import { createTestDb, DB_TEST, type TestDb } from "../_helpers.ts";

const T0 = Date.parse("2026-12-06T02:00:00Z");

async function user(db: TestDb, name: string): Promise<string> {
  const [row] = await db.sql<
    { id: string }[]
  >`select tradewind_ensure_user(${name}, 'trader') as id`;
  return row!.id;
}

async function append(db: TestDb, userId: string, n: number, action = "FILLED"): Promise<void> {
  for (let i = 0; i < n; i++) {
    await withTenant(
      db.sql,
      { userId, role: "trader" },
      (tx) => appendAudit(tx, { userId, action, status: "ok", payload: { qty: String(i) } }),
    );
  }
}

async function seqsOf(db: TestDb, userId: string): Promise<string[]> {
  const rows = await db.owner<{ seq: string }[]>`
    select seq from execution_logs where user_id = ${userId} order by seq`;
  return rows.map((r) => r.seq);
}

/** Runs `fn` as the superuser with the append-only triggers off, as an attacker would. */
async function behindTheTriggers(owner: Sql, fn: (tx: Sql) => Promise<unknown>): Promise<void> {
  await owner.begin(async (tx) => {
    await tx`alter table execution_logs disable trigger user`;
    await fn(tx as unknown as Sql);
    for (
      const t of [
        "execution_logs_chain",
        "execution_logs_no_change",
        "execution_logs_no_truncate",
        "execution_logs_announce",
      ]
    ) {
      await tx.unsafe(`alter table execution_logs enable always trigger ${t}`);
    }
  });
}

/** Text without NUL (PostgreSQL text refuses it) or lone surrogates. */
const text = (max: number) =>
  fc.string({ unit: "binary", maxLength: max }).map((s) => s.replaceAll("\0", "").toWellFormed());
const ctrl = fc.constantFrom("\b", "\f", "\n", "\r", "\t", "\u0001", "\u001f", "\u007f", '"', "\\");
const nasty = fc.array(fc.oneof(text(6), ctrl), { maxLength: 6 }).map((a) => a.join(""));
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    nasty,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.oneof(nasty, text(12)), tie("value"), { maxKeys: 4 }),
  ),
})).value;

Deno.test({
  name: "the TypeScript hash of a row equals the trigger's, byte for byte, for any content",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const alice = await user(db, "alice");
    const entries = fc.sample(
      fc.record({
        status: nasty,
        reason: fc.option(nasty),
        clientOrderId: fc.option(nasty),
        correlationId: fc.option(fc.uuid()),
        causationId: fc.option(fc.uuid()),
        payload: fc.dictionary(fc.oneof(nasty, text(12)), jsonValue, { maxKeys: 6 }),
      }),
      { seed: 20261206, numRuns: 150 },
    );
    await withTenant(db.sql, { userId: alice, role: "trader" }, (tx) =>
      appendAudits(
        tx,
        entries.map((e) => ({ userId: alice, action: "SUBMITTED", ...e })),
      ));
    // Numbers as jsonb keeps them (scale, exponents), straight from SQL text.
    await db.owner`
      insert into execution_logs (seq, ts, user_id, action, status, payload, prev_hash, hash)
      values (0, now(), null, 'RECONCILED', 'ok',
        '{"a": 1.50, "b": 1e3, "c": -0.000, "bb": [1E-7, 12345678901234567890.1], "é": "ü"}',
        '', '')`;
    const r = await verifyAudit(db.owner, { batchSize: 64 });
    assertEquals(r.ok ? r.rows : r, entries.length + 1);

    // And directly: the stored hash (the trigger's) is the one computed here.
    const rows = await db.owner.begin(async (tx) => {
      await tx`set local timezone to 'UTC'`;
      await tx`set local datestyle to 'ISO, YMD'`;
      return await tx`
        select seq::text as seq, ts::text as ts, user_id::text as user_id, client_order_id,
          action, status, reason, payload::text as payload,
          correlation_id::text as correlation_id, causation_id::text as causation_id,
          prev_hash, hash
        from execution_logs order by seq`;
    });
    for (const row of rows) {
      const computed = auditRowHash({
        seq: row.seq,
        tsMicros: parseUtcTimestamp(row.ts)!,
        userId: row.user_id,
        orderId: null,
        botId: null,
        clientOrderId: row.client_order_id,
        action: row.action,
        status: row.status,
        reason: row.reason,
        payload: row.payload,
        correlationId: row.correlation_id,
        causationId: row.causation_id,
        prevHash: row.prev_hash,
      });
      assertEquals(computed, row.hash, `seq ${row.seq}: ${row.payload}`);
    }
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "verify does not trust the database's hash function: a redefined one hides nothing",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const alice = await user(db, "alice");
    const bob = await user(db, "bob");
    await append(db, alice, 4);
    await append(db, bob, 2);
    const [, second] = await seqsOf(db, alice);
    // Alter a row, then make execution_log_hash() answer whatever hash each row stores.
    await behindTheTriggers(db.owner, async (tx) => {
      await tx`update execution_logs set payload = '{"qty": "999"}' where seq = ${second!}`;
    });
    await db.owner.unsafe(`
      create or replace function execution_log_hash(
        p_seq bigint, p_ts timestamptz, p_user_id uuid, p_order_id uuid, p_bot_id uuid,
        p_client_order_id text, p_action text, p_status text, p_reason text, p_payload jsonb,
        p_correlation_id uuid, p_causation_id uuid, p_prev_hash text
      ) returns text language sql stable as $$
        select coalesce((select hash from execution_logs where seq = p_seq),
          encode(sha256(convert_to(p_prev_hash, 'UTF8')), 'hex'))
      $$`);
    // The database now agrees with itself everywhere...
    const [agree] = await db.owner<{ n: number }[]>`
      select count(*)::int as n from execution_logs
      where hash <> execution_log_hash(seq, ts, user_id, order_id, bot_id, client_order_id,
        action, status, reason, payload, correlation_id, causation_id, prev_hash)`;
    assertEquals(agree!.n, 0);
    // ...and a row appended under the redefined function gets a hash that covers nothing.
    await append(db, bob, 1, "SENT");
    const bobSeqs = await seqsOf(db, bob);

    const r = await verifyAudit(db.owner);
    assert(!r.ok, "verify must catch it");
    assertEquals(r.seq, second);
    assertEquals(r.chain, alice);
    assert(r.problem.includes("content does not match its hash"), r.problem);
    assertEquals(r.problems.map((p) => [p.chain, p.seq]), [
      [alice, second],
      [bob, bobSeqs[2]],
    ]);
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "removing a chain's newest rows is caught against a checkpoint, naming the chain",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const alice = await user(db, "alice");
    const bob = await user(db, "bob");
    const carol = await user(db, "carol");
    await append(db, alice, 4);
    await append(db, bob, 3);
    await append(db, carol, 2);
    const checkpoint = makeCheckpoint(T0, await readAuditHeads(db.sql));
    assertEquals(checkpoint.chains.length, 3);
    const clean = await verifyAudit(db.owner, { checkpoints: [checkpoint] });
    assertEquals(clean.ok ? clean.checkpointHeads : clean, 3);
    // Rows appended after the checkpoint are fine.
    await append(db, bob, 2);
    const later = await verifyAudit(db.owner, { checkpoints: [checkpoint] });
    assertEquals(later.ok, true, JSON.stringify(later));

    const aliceSeqs = await seqsOf(db, alice);
    await behindTheTriggers(db.owner, async (tx) => {
      await tx`delete from execution_logs where seq in ${tx(aliceSeqs.slice(2))}`;
      await tx`delete from execution_logs where user_id = ${carol}`;
    });
    // What the chain alone cannot show: the rest of each chain still links.
    const alone = await verifyAudit(db.owner);
    assertEquals(alone.ok, true, JSON.stringify(alone));

    const r = await verifyAudit(db.owner, { checkpoints: [checkpoint] });
    assert(!r.ok, "the checkpoint must catch it");
    assertEquals(r.problems.map((p) => [p.chain, p.seq]), [
      [alice, aliceSeqs[3]],
      [carol, checkpoint.chains.find((c) => c.chain === carol)!.seq],
    ]);
    assertEquals(r.chains, 3);
    assert(r.problems[0]!.problem.includes("is gone"), r.problems[0]!.problem);
    assert(r.problems[0]!.problem.includes(checkpoint.taken_at), r.problems[0]!.problem);
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "a chain rewritten with recomputed hashes is caught against a checkpoint",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const alice = await user(db, "alice");
    const bob = await user(db, "bob");
    await append(db, alice, 5);
    await append(db, bob, 2);
    const before = await verifyAudit(db.owner);
    assert(before.ok);
    const checkpoint = makeCheckpoint(T0, before.heads);
    const seqs = await seqsOf(db, alice);

    // Rewrite alice's second row, then re-link and re-hash the rest of her chain properly.
    await behindTheTriggers(db.owner, async (tx) => {
      await tx`update execution_logs set payload = '{"qty": "999"}' where seq = ${seqs[1]!}`;
      await tx.unsafe(`
        do $$
        declare r record; v_prev text;
        begin
          for r in select * from execution_logs where user_id = '${alice}' order by seq loop
            if v_prev is not null then
              update execution_logs set prev_hash = v_prev where seq = r.seq;
            end if;
            update execution_logs set hash = execution_log_hash(seq, ts, user_id, order_id,
              bot_id, client_order_id, action, status, reason, payload, correlation_id,
              causation_id, prev_hash) where seq = r.seq
              returning hash into v_prev;
          end loop;
        end $$`);
    });
    const [changed] = await db.owner<{ payload: { qty: string } }[]>`
      select payload from execution_logs where seq = ${seqs[1]!}`;
    assertEquals(changed!.payload.qty, "999");
    // A consistent forgery: only an outside copy of the head can tell.
    assertEquals((await verifyAudit(db.owner)).ok, true);

    const r = await verifyAudit(db.owner, { checkpoints: [checkpoint] });
    assert(!r.ok, "the checkpoint must catch it");
    assertEquals(r.problems.map((p) => [p.chain, p.seq]), [[alice, seqs[4]]]);
    assert(r.problem.includes("differs from the checkpoint"), r.problem);
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "a removed middle row, or a chain's first rows, break the link of the row after",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const alice = await user(db, "alice");
    const bob = await user(db, "bob");
    await append(db, alice, 4);
    await append(db, bob, 3);
    const a = await seqsOf(db, alice);
    const b = await seqsOf(db, bob);
    await behindTheTriggers(db.owner, async (tx) => {
      await tx`delete from execution_logs where seq = ${a[2]!}`;
      await tx`delete from execution_logs where seq = ${b[0]!}`;
    });
    const r = await verifyAudit(db.owner, { batchSize: 2 });
    assert(!r.ok);
    assertEquals(r.problems.map((p) => [p.chain, p.seq]), [[alice, a[3]], [bob, b[1]]]);
    assert(r.problems[0]!.problem.includes(`row ${a[1]}`), r.problems[0]!.problem);
    assert(r.problems[1]!.problem.includes("genesis"), r.problems[1]!.problem);
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "the engine's role reads every chain's head (system chain included), nothing more",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    assertEquals(await readAuditHeads(db.sql), []);
    const alice = await user(db, "alice");
    const bob = await user(db, "bob");
    await append(db, alice, 3);
    await append(db, bob, 1);
    await withTenant(
      db.sql,
      { userId: "00000000-0000-4000-8000-000000000000", role: "system" as never },
      (tx) => appendAudit(tx, { userId: null, action: "RECONCILED", status: "ok" }),
    );
    await append(db, alice, 1);
    const v = await verifyAudit(db.owner);
    assert(v.ok);
    const heads = await readAuditHeads(db.sql);
    assertEquals(
      makeCheckpoint(T0, heads).chains.map(({ chain, seq, hash }) => ({ chain, seq, hash })),
      makeCheckpoint(T0, v.heads).chains,
    );
    assertEquals(heads.find((h) => h.chain === alice)?.username, "alice");
    assertEquals(heads[0]!.chain, "system");
  } finally {
    await db.close();
  }
});

Deno.test({
  name: "row times are read to the microsecond as the trigger's epoch arithmetic sees them",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  try {
    const rows = await db.owner.begin(async (tx) => {
      await tx`set local timezone to 'UTC'`;
      await tx`set local datestyle to 'ISO, YMD'`;
      return await tx<{ text: string; micros: string }[]>`
        select t::text as text, ((extract(epoch from t) * 1000000)::bigint)::text as micros
        from unnest(array[
          '2026-12-06 02:20:20.103607+00', '2026-12-06 02:20:20.1+00', '2026-12-06 02:20:20+00',
          '1969-12-31 23:59:59.5+00', '1970-01-01 00:00:00+00', '0044-03-15 12:00:00.000001+00',
          '0001-01-01 00:00:00+00', '0100-02-28 23:59:59.999999-05', '9999-12-31 23:59:59.999999+00',
          '12026-01-01 00:00:00+00', '0753-04-21 00:00:00 BC'
        ]::timestamptz[]) as t`;
    });
    for (const r of rows) assertEquals(parseUtcTimestamp(r.text), BigInt(r.micros), r.text);
    assertEquals(parseUtcTimestamp("infinity"), null);
    assertEquals(parseUtcTimestamp("2026-12-06 02:20:20+01"), null);

    // Whatever time zone and date style the database gives a session, verify reads UTC ISO.
    await db.owner.unsafe(
      `alter database ${db.name} set timezone to 'Asia/Kolkata'; ` +
        `alter database ${db.name} set datestyle to 'German, DMY'`,
    );
    const alice = await user(db, "alice");
    await append(db, alice, 3);
    const fresh = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
    try {
      const [style] = await fresh<{ tz: string }[]>`select current_setting('timezone') as tz`;
      assertEquals(style!.tz, "Asia/Kolkata");
      const r = await verifyAudit(fresh);
      assertEquals(r.ok ? r.rows : r, 3);
    } finally {
      await fresh.end();
    }
  } finally {
    await db.close();
  }
});
