/**
 * `tradewind apikey` as a process: the printed pair authenticates `/v2`, `--list` shows it
 * without its secret, `--revoke` ends it.
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { createTestDb, DB_TEST, TEST_DATA_DIR } from "./_helpers.ts";
import { verifyApiKey } from "../db/api_keys.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test(
  "apikey: prints APCA_API_KEY_ID and APCA_API_SECRET_KEY; --list; --revoke",
  DB_TEST,
  async () => {
    const db = await createTestDb();
    try {
      const env = {
        // The test cluster's own data directory: its app.password is the application role's
        // (another directory would give the role a new password under every test connection).
        TRADEWIND_DATA_DIR: TEST_DATA_DIR,
        TRADEWIND_ENV_FILE: "none",
        DATABASE_URL: db.ownerUrl,
        LOG_FORMAT: "json",
        LOG_LEVEL: "error",
      };
      const made = await run(["apikey", "alice"], env);
      assertEquals(made.code, 0, made.stderr);
      const m = /^APCA_API_KEY_ID=(\S+)\nAPCA_API_SECRET_KEY=(\S+)\n$/.exec(made.stdout);
      assert(m, `stdout holds exactly the two lines: ${made.stdout}`);
      const [, keyId, secret] = m;
      assertEquals((await verifyApiKey(db.sql, keyId!, secret!))?.username, "alice");

      const list = await run(["apikey", "--list"], env);
      assertEquals(list.code, 0, list.stderr);
      assertStringIncludes(list.stdout, keyId!);
      assertStringIncludes(list.stdout, "alice");
      assert(!list.stdout.includes(secret!) && !list.stderr.includes(secret!));

      const revoked = await run(["apikey", "--revoke", keyId!], env);
      assertEquals(revoked.code, 0, revoked.stderr);
      assertEquals(await verifyApiKey(db.sql, keyId!, secret!), null);
      const unknown = await run(["apikey", "--revoke", "TWNOSUCHKEYAAAAAAAAA"], env);
      assertEquals(unknown.code, 1);
      assertStringIncludes(unknown.stderr, "No API key");
    } finally {
      await db.close();
    }
  },
);
