/**
 * API keys of the `/v2` face: made, verified (constant-time hash compare), revoked, listed
 * under row-level security, and the `apikey` command's logic on the owner connection.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../_assert.ts";
import { createTestDb, DB_TEST } from "../_helpers.ts";
import {
  createApiKey,
  KEY_ID_RE,
  listApiKeys,
  revokeApiKey,
  timingSafeEqual,
  verifyApiKey,
} from "../../db/api_keys.ts";
import { runApiKeyCommand } from "../../db/api_keys_cli.ts";
import { withTenant } from "../../db/database.ts";
import { apiKeyFor } from "../_alpaca.ts";

Deno.test(
  "api keys: verify the right secret only; the secret is stored as a SHA-256 hash",
  DB_TEST,
  async () => {
    const db = await createTestDb();
    try {
      const alice = await apiKeyFor(db.sql, "alice");
      assert(KEY_ID_RE.test(alice.keyId), alice.keyId);
      assertEquals(alice.secret.length, 40);
      assertEquals(await verifyApiKey(db.sql, alice.keyId, alice.secret), {
        id: alice.userId,
        username: "alice",
        role: "trader",
      });
      const wrong = alice.secret.slice(0, -1) + (alice.secret.endsWith("a") ? "b" : "a");
      assertEquals(await verifyApiKey(db.sql, alice.keyId, wrong), null);
      assertEquals(await verifyApiKey(db.sql, "TWAAAAAAAAAAAAAAAAAA", alice.secret), null);
      assertEquals(await verifyApiKey(db.sql, "x'; drop table users; --", alice.secret), null);
      assertEquals(await verifyApiKey(db.sql, alice.keyId, ""), null);

      const [row] = await db.owner<{ secret_hash: Uint8Array; last_used_at: Date | null }[]>`
      select secret_hash, last_used_at from api_keys where key_id = ${alice.keyId}`;
      const expected = new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(alice.secret)),
      );
      assert(timingSafeEqual(new Uint8Array(row!.secret_hash), expected));
      assert(row!.last_used_at !== null, "a verified key records its use");
      const text = JSON.stringify(await db.owner`select * from api_keys`);
      assert(!text.includes(alice.secret), "the secret itself is nowhere in the table");

      // Without a tenant the application role sees no key at all.
      assertEquals((await db.sql`select key_id from api_keys`).length, 0);
    } finally {
      await db.close();
    }
  },
);

Deno.test(
  "api keys: a revoked key no longer verifies; revoking twice keeps the first time",
  DB_TEST,
  async () => {
    const db = await createTestDb();
    try {
      const k = await apiKeyFor(db.sql, "bob");
      const tenant = { userId: k.userId, role: "trader" as const };
      const first = await withTenant(db.sql, tenant, (tx) => revokeApiKey(tx, k.keyId));
      assertEquals([first?.alreadyRevoked, first?.username], [false, "bob"]);
      assertEquals(await verifyApiKey(db.sql, k.keyId, k.secret), null);
      const again = await withTenant(db.sql, tenant, (tx) => revokeApiKey(tx, k.keyId));
      assertEquals([again?.alreadyRevoked, again?.revokedAt], [true, first?.revokedAt]);
      assertEquals(await withTenant(db.sql, tenant, (tx) => revokeApiKey(tx, "TWNOSUCHKEY")), null);
    } finally {
      await db.close();
    }
  },
);

Deno.test("api keys: row-level security keeps a trader to their own keys", DB_TEST, async () => {
  const db = await createTestDb();
  try {
    const a = await apiKeyFor(db.sql, "alice");
    const b = await apiKeyFor(db.sql, "bob");
    const asAlice = { userId: a.userId, role: "trader" as const };
    const seen = await withTenant(db.sql, asAlice, (tx) => listApiKeys(tx));
    assertEquals(seen.map((k) => k.keyId), [a.keyId]);
    assertEquals(Object.keys(seen[0]!).includes("secret"), false);
    // Bob's key is invisible to Alice: she can neither revoke it nor make keys for him.
    assertEquals(await withTenant(db.sql, asAlice, (tx) => revokeApiKey(tx, b.keyId)), null);
    assert(await verifyApiKey(db.sql, b.keyId, b.secret), "Bob's key still works");
    await assertRejects(() => withTenant(db.sql, asAlice, (tx) => createApiKey(tx, b.userId)));
    // An admin sees every key.
    const admin = await apiKeyFor(db.sql, "root", "admin");
    const all = await withTenant(
      db.sql,
      { userId: admin.userId, role: "admin" },
      (tx) => listApiKeys(tx),
    );
    assertEquals(all.map((k) => k.username).sort(), ["alice", "bob", "root"]);
    // Nobody may delete a key or rewrite its hash: revoking is the only change.
    await assertRejects(() =>
      withTenant(db.sql, asAlice, (tx) => tx`delete from api_keys where key_id = ${a.keyId}`)
    );
    await assertRejects(() =>
      withTenant(
        db.sql,
        asAlice,
        (tx) =>
          tx`update api_keys set secret_hash = ${new Uint8Array(32)} where key_id = ${a.keyId}`,
      )
    );
  } finally {
    await db.close();
  }
});

Deno.test("apikey command: prints the pair, lists without secrets, revokes", DB_TEST, async () => {
  const db = await createTestDb();
  try {
    const made = await runApiKeyCommand(db.owner, ["carol"]);
    assertEquals(made.code, 0, made.stderr);
    const m = /^APCA_API_KEY_ID=(TW[A-Z2-7]{18})\nAPCA_API_SECRET_KEY=([A-Za-z0-9]{40})\n$/.exec(
      made.stdout,
    );
    assert(m, made.stdout);
    const [, keyId, secret] = m;
    assertStringIncludes(made.stderr, "shown only now");
    const user = await verifyApiKey(db.sql, keyId!, secret!);
    assertEquals([user?.username, user?.role], ["carol", "trader"]);

    // An existing user keeps their role (a key is not a way to change it).
    await db.sql`select tradewind_ensure_user('dan', 'admin')`;
    const dan = await runApiKeyCommand(db.owner, ["dan"]);
    const danKey = /APCA_API_KEY_ID=(\S+)\nAPCA_API_SECRET_KEY=(\S+)/.exec(dan.stdout)!;
    assertEquals((await verifyApiKey(db.sql, danKey[1]!, danKey[2]!))?.role, "admin");

    const list = await runApiKeyCommand(db.owner, ["--list"]);
    assertEquals(list.code, 0);
    const lines = list.stdout.trimEnd().split("\n");
    assertEquals(lines.length, 3);
    assert(lines[0]!.startsWith("KEY ID"));
    assertStringIncludes(list.stdout, keyId!);
    assert(!list.stdout.includes(secret!), "never the secret");
    const mine = await runApiKeyCommand(db.owner, ["--list", "carol"]);
    assertEquals(mine.stdout.trimEnd().split("\n").length, 2);
    assertEquals((await runApiKeyCommand(db.owner, ["--list", "nobody"])).code, 1);

    const revoked = await runApiKeyCommand(db.owner, ["--revoke", keyId!]);
    assertEquals([revoked.code, revoked.stdout], [0, `Revoked API key ${keyId} of "carol"\n`]);
    assertEquals(await verifyApiKey(db.sql, keyId!, secret!), null);
    assertStringIncludes(
      (await runApiKeyCommand(db.owner, ["--revoke", keyId!])).stdout,
      "already revoked",
    );
    const after = await runApiKeyCommand(db.owner, ["--list", "carol"]);
    assert(!after.stdout.trimEnd().split("\n")[1]!.endsWith(" -"), "the list shows the revocation");

    assertEquals((await runApiKeyCommand(db.owner, ["--revoke", "TWNOSUCHKEY0000000000"])).code, 1);
    for (
      const args of [[], ["--revoke"], ["--bogus"], ["a", "b"], ["bad name!"], ["--list", "a", "b"]]
    ) {
      const r = await runApiKeyCommand(db.owner, args);
      assertEquals(r.code, 2, args.join(" "));
      assertStringIncludes(r.stderr, "Usage: tradewind apikey");
    }
  } finally {
    await db.close();
  }
});

Deno.test(
  "api keys: the application role cannot read a hash, not even of its own key",
  DB_TEST,
  async () => {
    const db = await createTestDb();
    try {
      const a = await apiKeyFor(db.sql, "alice");
      await assertRejects(() =>
        withTenant(
          db.sql,
          { userId: a.userId, role: "trader" },
          (tx) => tx`select secret_hash from api_keys`,
        )
      );
    } finally {
      await db.close();
    }
  },
);
