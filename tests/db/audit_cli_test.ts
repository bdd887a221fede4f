/**
 * `tradewind audit checkpoint` and `tradewind audit verify --checkpoint FILE`, as a process on
 * a real database, and their messages for bad usage.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { appendAudit } from "../../db/audit.ts";
import { runAuditCommand } from "../../db/audit_cli.ts";
import { withTenant } from "../../db/database.ts";
import { createTestDb, DB_TEST, TEST_DATA_DIR, type TestDb } from "../_helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function tradewind(db: TestDb, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env: { DATABASE_URL: db.ownerUrl, TRADEWIND_DATA_DIR: TEST_DATA_DIR, LOG_LEVEL: "error" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function user(db: TestDb, name: string): Promise<string> {
  const [row] = await db.sql<
    { id: string }[]
  >`select tradewind_ensure_user(${name}, 'trader') as id`;
  const id = row!.id;
  for (let i = 0; i < 3; i++) {
    await withTenant(
      db.sql,
      { userId: id, role: "trader" },
      (tx) => appendAudit(tx, { userId: id, action: "SENT", status: "ok", payload: { i } }),
    );
  }
  return id;
}

Deno.test({
  name: "audit verify --checkpoint exits 1 naming the chain whose newest rows were removed",
  ...DB_TEST,
}, async () => {
  const db = await createTestDb();
  const dir = await Deno.makeTempDir();
  try {
    const alice = await user(db, "alice");
    await user(db, "bob");
    const taken = await tradewind(db, ["audit", "checkpoint"]);
    assertEquals(taken.code, 0, taken.stderr);
    const checkpoint = JSON.parse(taken.stdout);
    assertEquals(checkpoint.kind, "tradewind.audit.checkpoint");
    assertEquals(
      checkpoint.chains.map((c: { username: string }) => c.username).sort(),
      ["alice", "bob"],
    );
    const file = `${dir}/checkpoint.json`;
    await Deno.writeTextFile(file, taken.stdout);

    const clean = await tradewind(db, ["audit", "verify", "--checkpoint", file]);
    assertEquals(clean.code, 0, clean.stdout + clean.stderr);
    assertStringIncludes(clean.stdout, "Audit chain intact: 6 rows in 2 chains");
    assertStringIncludes(clean.stdout, "(2 chain heads) is in place, unchanged");

    // A superuser removes alice's newest row.
    await db.owner.begin(async (tx) => {
      await tx`alter table execution_logs disable trigger user`;
      await tx`delete from execution_logs where seq = (
        select max(seq) from execution_logs where user_id = ${alice})`;
      await tx`alter table execution_logs enable always trigger execution_logs_no_change`;
    });
    const plain = await tradewind(db, ["audit", "verify"]);
    assertEquals(plain.code, 0, "the chain alone cannot show it");
    assertStringIncludes(plain.stdout, "Without --checkpoint");

    const caught = await tradewind(db, ["audit", "verify", `--checkpoint=${file}`]);
    assertEquals(caught.code, 1, caught.stdout + caught.stderr);
    assertStringIncludes(caught.stdout, `Audit chain BROKEN: chain "alice" (${alice}) at seq`);
    assertStringIncludes(caught.stdout, "is gone (its newest rows were removed)");
    assert(!caught.stdout.includes('"bob"'), caught.stdout);

    // A new checkpoint is refused while the trail does not match the old one.
    const refused = await tradewind(db, ["audit", "checkpoint", "--checkpoint", file]);
    assertEquals([refused.code, refused.stdout], [1, ""]);
    assertStringIncludes(refused.stderr, "No checkpoint taken: the audit trail is broken");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await db.close();
  }
});

Deno.test({ name: "audit commands say what to fix on bad usage", ...DB_TEST }, async () => {
  const db = await createTestDb();
  try {
    const files: Record<string, string> = {
      "empty.json": "{}",
      "bad.json": JSON.stringify({
        kind: "tradewind.audit.checkpoint",
        version: 1,
        taken_at: "2026-12-06T00:00:00.000Z",
        chains: [{ chain: "system", seq: "1", hash: "xyz" }],
      }),
    };
    const run = (args: string[]) =>
      runAuditCommand(db.owner, args, {
        now: () => 0,
        readTextFile: (p) =>
          p in files ? Promise.resolve(files[p]!) : Promise.reject(new Error("No such file")),
      });
    const cases: [string[], string][] = [
      [["audit"].slice(1), "audit needs a subcommand"],
      [["verify", "--checkpoint"], "--checkpoint needs a file"],
      [["verify", "--force"], 'Unknown argument "--force"'],
      [["verify", "--checkpoint", "missing.json"], 'Cannot read checkpoint file "missing.json"'],
      [["verify", "--checkpoint", "empty.json"], 'Cannot read "empty.json": no audit checkpoint'],
      [["verify", "--checkpoint", "bad.json"], 'chains[0].hash "xyz" is not a SHA-256 in hex'],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      assertEquals(r.code, 2, args.join(" "));
      assertStringIncludes(r.stderr, message);
    }
  } finally {
    await db.close();
  }
});
