/**
 * The `.env` file: parsed by a small, strict parser, read under the environment (which wins),
 * and read by the engine's commands, as `./tradewind start` runs them (from the checkout).
 */
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./_assert.ts";
import { ConfigError, loadConfig, parseEnvFile, readEnvironment } from "../config.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test(".env: comments, export, quotes, inline comments, later lines win", () => {
  const parsed = parseEnvFile(
    [
      "# a comment",
      "",
      "PORT=9000                 # the API",
      "export HOST = 0.0.0.0",
      "JWT_SECRET='a literal $secret # not a comment'",
      'SIM_SYMBOLS="AAPL,MSFT"   # quoted',
      'LINE="one\\ntwo \\"quoted\\" back\\\\slash"',
      "HASHED=abc#def",
      "EMPTY=",
      "BLANK_WITH_COMMENT=   # nothing",
      "PORT=9001",
      "WINDOWS=crlf\r",
    ].join("\n"),
  );
  assertEquals(parsed, {
    PORT: "9001",
    HOST: "0.0.0.0",
    JWT_SECRET: "a literal $secret # not a comment",
    SIM_SYMBOLS: "AAPL,MSFT",
    LINE: 'one\ntwo "quoted" back\\slash',
    HASHED: "abc#def",
    EMPTY: "",
    BLANK_WITH_COMMENT: "",
    WINDOWS: "crlf",
  });
});

Deno.test(".env: .env.example copied as it is gives the defaults", async () => {
  const example = parseEnvFile(await Deno.readTextFile(`${ROOT}.env.example`));
  assertEquals(example.PORT, "8000");
  assertEquals(example.POSITION_SNAPSHOT_EVERY_MS, "300000");
  assertEquals(example.BOTS_PLACEMENT, "worker");
  assertEquals(loadConfig(example), loadConfig({}));
});

Deno.test(".env: a bad line names the file and line, never the value", () => {
  const e = assertThrows(
    () => parseEnvFile("PORT=1\nJWT_SECRET s3cr3t-value\n", "/x/.env"),
    ConfigError,
  );
  assertEquals(e.message, "Invalid /x/.env line 2: expected KEY=VALUE");
  const q = assertThrows(() => parseEnvFile('A="s3cr3t\n'), ConfigError);
  assertStringIncludes(q.message, 'line 1: A has no closing "');
  assert(!q.message.includes("s3cr3t"), q.message);
  assertThrows(() => parseEnvFile("BAD-NAME=1"), ConfigError, "is not a variable name");
});

Deno.test(".env: the environment wins, even empty; an error says the value came from the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/.env`, "PORT=eighty\nHOST=0.0.0.0\nLOG_LEVEL=debug\n");
    const r = readEnvironment({ path: `${dir}/.env`, env: { HOST: "127.0.0.2", LOG_LEVEL: "" } });
    assertEquals([r.env.PORT, r.env.HOST, r.env.LOG_LEVEL], ["eighty", "127.0.0.2", ""]);
    assertEquals([...r.file!.keys], ["PORT"]);
    const e = assertThrows(() => loadConfig(r.env, { envFile: r.file }), ConfigError);
    assertStringIncludes(e.message, `Invalid PORT: "eighty"`);
    assertStringIncludes(e.message, `(PORT set in ${dir}/.env)`);
    const none = readEnvironment({ path: `${dir}/missing.env`, env: { PORT: "1" } });
    assertEquals([none.env, none.file], [{ PORT: "1" }, null]);
    // TRADEWIND_ENV_FILE names another file, which must exist, or "none".
    const named = readEnvironment({ env: { TRADEWIND_ENV_FILE: `${dir}/.env` } });
    assertEquals(named.env.PORT, "eighty");
    assertThrows(
      () => readEnvironment({ env: { TRADEWIND_ENV_FILE: `${dir}/missing.env` } }),
      ConfigError,
      "(TRADEWIND_ENV_FILE)",
    );
    const off = readEnvironment({ path: `${dir}/.env`, env: { TRADEWIND_ENV_FILE: "none" } });
    assertEquals(off.file, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function main(args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", `${ROOT}deno.json`, `${ROOT}main.ts`, ...args],
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test(".env: the engine's commands read .env from the directory they run in", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/.env`, `TRADEWIND_DATA_DIR=${dir}/from-file\n`);
    const r = await main(["token", "alice"], dir);
    assertEquals(r.code, 0, r.stderr);
    await Deno.stat(`${dir}/from-file/jwt.secret`); // the data dir the file named
    const over = await main(["token", "alice"], dir, { TRADEWIND_DATA_DIR: `${dir}/from-env` });
    assertEquals(over.code, 0, over.stderr);
    await Deno.stat(`${dir}/from-env/jwt.secret`);
    await Deno.writeTextFile(`${dir}/.env`, "BROKER=alpaca\n");
    const bad = await main(["token", "alice"], dir);
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, 'Invalid BROKER: "alpaca" needs ALPACA_KEY_ID');
    assertStringIncludes(bad.stderr, "(BROKER set in .env)");
    // TRADEWIND_ENV_FILE=none: the file is not read (the tests that spawn the engine use it).
    const off = await main(["token", "alice"], dir, {
      TRADEWIND_ENV_FILE: "none",
      TRADEWIND_DATA_DIR: `${dir}/no-file`,
    });
    assertEquals(off.code, 0, off.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
