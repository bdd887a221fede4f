/**
 * The engine as a process: start-up errors, the token command, crash recovery after kill -9
 * (the orphaned embedded PostgreSQL is adopted), graceful shutdown, and `audit verify`.
 */
import postgres from "postgres";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { testCluster } from "./_helpers.ts";
import { serveAlpacaStandin } from "./_alpaca_standin.ts";
import { PaperVenue } from "../brokers/paper/venue.ts";
import { TestClock } from "../core/clock.ts";
import { seededIdSource } from "../core/ids.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A port free when this file loads, for the engines it starts (one at a time). */
const PG_PORT = (() => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
})();

function env(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TRADEWIND_DATA_DIR: dataDir,
    TRADEWIND_ENV_FILE: "none", // a developer's .env must not reach the engines tests start
    EMBEDDED_PG_PORT: String(PG_PORT),
    PORT: "0",
    LOG_FORMAT: "json",
    ...extra,
  };
}

async function run(args: string[], envVars: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env: envVars,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A running engine and a reader of its JSON log lines. */
class Engine {
  readonly child: Deno.ChildProcess;
  #lines: AsyncIterator<string>;
  readonly seen: string[] = [];

  constructor(envVars: Record<string, string>) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "serve"],
      env: envVars,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#lines = lines(this.child.stderr)[Symbol.asyncIterator]();
  }

  /** Reads log lines until one matches; answers it. */
  async waitFor(pattern: RegExp): Promise<string> {
    while (true) {
      const next = await this.#lines.next();
      if (next.done) {
        throw new Error(`Engine exited before logging ${pattern}:\n${this.seen.join("\n")}`);
      }
      this.seen.push(next.value);
      if (pattern.test(next.value)) return next.value;
    }
  }

  async drain(): Promise<void> {
    while (!(await this.#lines.next()).done) { /* read to the end */ }
  }

  async port(): Promise<number> {
    const line = await this.waitFor(/listening on/);
    return JSON.parse(line).properties.port;
  }
}

/** Whether a process runs (a reaped or zombie process has no command line). */
function alive(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("postgres");
  } catch {
    return false;
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

Deno.test("start-up: a bad PORT stops the engine with a message naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(["serve"], env(dir, { PORT: "eighty" }));
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "Invalid PORT");
    assertStringIncludes(r.stderr, '"eighty"');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("token: prints only the token, and refuses a bad role or a ttl beyond JWT_MAX_TTL", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(["token", "alice", "--role", "admin", "--ttl", "1h"], env(dir));
    assertEquals(r.code, 0);
    assert(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+\n$/.test(r.stdout), r.stdout);
    const secret = await Deno.stat(`${dir}/jwt.secret`);
    assertEquals((secret.mode ?? 0) & 0o777, 0o600);
    const payload = JSON.parse(atob(r.stdout.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    assertEquals([payload.sub, payload.role], ["alice", "admin"]);
    assertEquals(payload.exp - payload.iat, 3600);
    const bad = await run(["token", "alice", "--role", "root"], env(dir));
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, 'Cannot use role "root"');
    // A lifetime beyond JWT_MAX_TTL (30 days unless set) is refused: no token is printed.
    const long = await run(["token", "alice", "--ttl", "31d"], env(dir));
    assertEquals([long.code, long.stdout], [2, ""]);
    assertStringIncludes(long.stderr, 'the maximum is "30d" (JWT_MAX_TTL)');
    const capped = await run(["token", "alice", "--ttl", "2h"], env(dir, { JWT_MAX_TTL: "1h" }));
    assertEquals([capped.code, capped.stdout], [2, ""]);
    assertStringIncludes(capped.stderr, 'the maximum is "1h"');
    assertEquals((await run(["token", "alice", "--ttl", "30d"], env(dir))).code, 0);
    // Without --ttl: 12 hours, or the cap when it is shorter.
    const short = await run(["token", "alice"], env(dir, { JWT_MAX_TTL: "1h" }));
    assertEquals(short.code, 0, short.stderr);
    const claims = JSON.parse(
      atob(short.stdout.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")),
    );
    assertEquals(claims.exp - claims.iat, 3600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "crash recovery: after kill -9 the next start adopts the orphaned PostgreSQL",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = new Engine(env(dir));
    const port1 = await first.port();
    const r1 = await fetch(`http://127.0.0.1:${port1}/ready`);
    assertEquals(r1.status, 200);
    await r1.body?.cancel();
    const pidText = await Deno.readTextFile(`${dir}/pg/postmaster.pid`);
    const pgPid = Number(pidText.split("\n")[0]);

    first.child.kill("SIGKILL");
    await first.child.status;
    await first.drain();
    // PostgreSQL outlived its engine: an orphan on the same data directory and port.
    assert(alive(pgPid));

    const second = new Engine(env(dir));
    await second.waitFor(/Adopting embedded PostgreSQL/);
    const port2 = await second.port();
    const r2 = await fetch(`http://127.0.0.1:${port2}/ready`);
    assertEquals(r2.status, 200);
    await r2.body?.cancel();

    second.child.kill("SIGTERM");
    await second.waitFor(/Stopped cleanly/);
    assertEquals((await second.child.status).code, 0);
    await second.drain();
    assert(!alive(pgPid), "graceful shutdown stops the adopted PostgreSQL");

    const verify = await run(["audit", "verify"], env(dir));
    assertEquals(verify.code, 0, verify.stderr);
    assertStringIncludes(verify.stdout, "Audit chain intact: 0 rows in 0 chains");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "external database: with DATABASE_URL on an empty database the engine migrates and is ready",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const { serverUrl } = await testCluster();
  const name = `tw_t${Deno.pid}_external`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const dir = await Deno.makeTempDir();
  try {
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const engine = new Engine(env(dir, { DATABASE_URL: url.toString() }));
    const port = await engine.port();
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    assertEquals(ready.status, 200);
    await ready.body?.cancel();
    // Nothing embedded was started in the engine's data directory.
    let pgDir = true;
    try {
      await Deno.stat(`${dir}/pg`);
    } catch {
      pgDir = false;
    }
    assertEquals(pgDir, false);
    assert(!engine.seen.join("\n").includes("postgres:"), "no connection URL in the logs");
    engine.child.kill("SIGTERM");
    await engine.waitFor(/Stopped cleanly/);
    assertEquals((await engine.child.status).code, 0);
    await engine.drain();
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "alpaca: BROKER=alpaca with live money starts against the configured URLs, says so loudly, and /ready warns",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const { serverUrl } = await testCluster();
  const name = `tw_t${Deno.pid}_alpaca`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const clock = new TestClock(Date.parse("2026-11-23T15:00:00Z"));
  const standin = await serveAlpacaStandin({
    venue: new PaperVenue({ clock, ids: seededIdSource(1), seed: 3 }),
    secret: "standin-secret-value",
  });
  const dir = await Deno.makeTempDir();
  try {
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const engine = new Engine(env(dir, {
      DATABASE_URL: url.toString(),
      BROKER: "alpaca",
      ALPACA_KEY_ID: standin.keyId,
      ALPACA_SECRET_KEY: standin.secret,
      ALPACA_ACCOUNT_USER: "alice",
      ALPACA_PAPER: "false",
      TRADEWIND_LIVE_TRADING: "true",
      ALPACA_TRADING_URL: standin.url,
      ALPACA_DATA_URL: standin.url,
    }));
    const banner = JSON.parse(await engine.waitFor(/LIVE TRADING IS ON/));
    assertEquals(banner.level, "ERROR");
    const venue = JSON.parse(await engine.waitFor(/Alpaca venue/));
    assertEquals(venue.properties.url, standin.url);
    assertEquals(venue.properties.mode, "LIVE");
    const port = await engine.port();
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    assertEquals(ready.status, 200);
    const body = await ready.json();
    assertEquals(body.live_trading, true);
    assertStringIncludes(body.warning, "real money");
    assert(
      !engine.seen.join("\n").includes("standin-secret-value"),
      "the secret key never reaches the logs",
    );
    engine.child.kill("SIGTERM");
    await engine.waitFor(/Stopped cleanly/);
    assertEquals((await engine.child.status).code, 0);
    await engine.drain();
  } finally {
    await standin.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    await Deno.remove(dir, { recursive: true });
  }
});
