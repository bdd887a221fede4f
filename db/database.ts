/**
 * Opening the ledger database: embedded or external server, migrations, the application's
 * non-superuser role, and the per-transaction tenant that row-level security keys on.
 *
 * @module
 */
import postgres, { type Sql, type TransactionSql } from "postgres";
import { join, resolve } from "node:path";
import { denoSocketOption } from "./deno_socket.ts";
import { EmbeddedPostgres } from "./embedded.ts";
import { migrate, type Migration, migrationsCurrent, readMigrations } from "./migrate.ts";

/** A user's role, as carried in their token. */
export type Role = "trader" | "admin" | "compliance";

/** Who a transaction acts for; row-level security limits it to this user's rows. */
export interface Tenant {
  userId: string;
  role: Role;
}

/** Thrown when the database cannot be opened safely. */
export class DatabaseError extends Error {
  override name = "DatabaseError";
}

/** Options for {@link openDatabase}. */
export interface OpenDatabaseOptions {
  dataDir: string;
  /** External server (owner credentials, used for migrations); unset starts embedded. */
  databaseUrl?: string | undefined;
  /** Connect the engine with this URL instead of managing the tradewind_app role. */
  databaseAppUrl?: string | undefined;
  embeddedPort: number;
  poolMax: number;
  /** Database name on the embedded server. */
  database?: string;
  log?: (message: string) => void;
}

/** An open ledger database. */
export interface Database {
  /** The engine's pool, connected as the non-superuser application role. */
  sql: Sql;
  /** Owner (migration) connection URL: for `audit verify` and administration only. */
  ownerUrl: string;
  /** The migrations this code knows. */
  migrations: Migration[];
  /** The embedded server, when one was started or shared. */
  embedded: EmbeddedPostgres | null;
  /** True when reachable and at the latest migration. Never throws. */
  ready(): Promise<boolean>;
  /** Closes the pool and stops the embedded server if this process owns it. */
  close(): Promise<void>;
}

const POSTGRES_OPTIONS = {
  onnotice: () => {},
  connection: { application_name: "tradewind" },
  // Fail fast when the server is unreachable: order routes answer 503 promptly.
  connect_timeout: 3,
} as const;

async function readOrCreateSecret(path: string): Promise<string> {
  try {
    const existing = (await Deno.readTextFile(path)).trim();
    if (existing) return existing;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const secret = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.writeTextFile(path, secret + "\n", { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return secret;
}

function withCredentials(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = "/" + database;
  return u.toString();
}

/**
 * Ensures a database exists on the server behind `ownerUrl` (embedded servers only).
 */
export async function ensureDatabase(ownerUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new DatabaseError(`Cannot create database "${name}": use lowercase letters, digits, _`);
  }
  const admin = postgres(withDatabase(ownerUrl, "postgres"), { ...POSTGRES_OPTIONS, max: 1 });
  try {
    const rows = await admin`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) {
      try {
        await admin.unsafe(`create database ${name}`);
      } catch (e) {
        // Another process may have created it at the same moment.
        if ((e as { code?: string }).code !== "42P04") throw e;
      }
    }
  } finally {
    await admin.end({ timeout: 2 });
  }
}

/**
 * Opens the ledger: starts (or shares) embedded PostgreSQL when no URL is given, applies
 * pending migrations as the owner, then connects the engine's pool as `tradewind_app`,
 * which cannot bypass row-level security.
 *
 * @throws {DatabaseError} when the engine's role would bypass row-level security.
 * @throws {MigrationError} when migrations on disk and in the database disagree.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const log = options.log ?? (() => {});
  const migrations = await readMigrations();
  let embedded: EmbeddedPostgres | null = null;
  let ownerUrl: string;
  if (options.databaseUrl) {
    ownerUrl = options.databaseUrl;
  } else {
    embedded = new EmbeddedPostgres({ dataDir: options.dataDir, port: options.embeddedPort, log });
    const serverUrl = await embedded.start();
    const name = options.database ?? "tradewind";
    await ensureDatabase(serverUrl, name);
    ownerUrl = withDatabase(serverUrl, name);
  }
  try {
    const owner = postgres(ownerUrl, { ...POSTGRES_OPTIONS, max: 1 });
    let appUrl: string;
    try {
      const result = await migrate(owner, migrations);
      if (result.applied.length > 0) log(`Applied migrations: ${result.applied.join(", ")}`);
      if (options.databaseAppUrl) {
        appUrl = options.databaseAppUrl;
      } else {
        const password = await readOrCreateSecret(join(resolve(options.dataDir), "app.password"));
        // The password is hex we generated; no quoting issue can arise.
        if (!/^[0-9a-f]+$/.test(password)) {
          throw new DatabaseError(`Cannot use ${options.dataDir}/app.password: expected hex`);
        }
        await owner.unsafe(`alter role tradewind_app with login password '${password}'`);
        appUrl = withCredentials(ownerUrl, "tradewind_app", password);
      }
    } finally {
      await owner.end({ timeout: 2 });
    }
    const socket = denoSocketOption(appUrl);
    const sql = postgres(appUrl, {
      ...POSTGRES_OPTIONS,
      max: options.poolMax,
      ...(socket ? { socket: socket as never } : {}),
    });
    const [role] = await sql<{ rolsuper: boolean; rolbypassrls: boolean; name: string }[]>`
      select rolsuper, rolbypassrls, rolname as name from pg_roles where rolname = current_user`;
    if (!role || role.rolsuper || role.rolbypassrls) {
      await sql.end({ timeout: 2 });
      throw new DatabaseError(
        `Cannot run the engine as database role "${
          role?.name ?? "?"
        }": it bypasses row-level security; connect as a non-superuser role (DATABASE_APP_URL)`,
      );
    }
    return {
      sql,
      ownerUrl,
      migrations,
      embedded,
      ready: () => migrationsCurrent(sql, migrations),
      async close() {
        await sql.end({ timeout: 5 });
        await embedded?.stop();
      },
    };
  } catch (e) {
    await embedded?.stop();
    throw e;
  }
}

/**
 * Runs `fn` in one transaction acting for `tenant`: row-level security then limits every
 * statement to that user's rows (and to every audit row for admin and compliance roles).
 *
 * @example
 * ```ts
 * const orders = await withTenant(db.sql, tenant, (tx) => tx`select * from orders`);
 * ```
 */
export async function withTenant<T>(
  sql: Sql,
  tenant: Tenant,
  fn: (tx: TransactionSql, finish: <R>(last: Promise<R>) => Promise<R>) => Promise<T>,
): Promise<T> {
  // A reserved connection and a hand-run transaction, so that BEGIN and the tenant settings
  // travel in the same socket write as the first statement of `fn` (postgres.js pipelines
  // queries issued in the same tick), and — when `fn` hands its last statements to `finish`
  // — COMMIT travels with them. Should any statement fail, PostgreSQL turns that COMMIT into
  // a rollback, so nothing is half-written either way.
  const conn = await sql.reserve();
  let commit: Promise<unknown> | null = null;
  const finish = <R>(last: Promise<R>): Promise<R> => {
    commit = conn.unsafe("commit").execute();
    commit.catch(() => {});
    return last;
  };
  try {
    // postgres.js sends a query when it is first executed or awaited (one microtask later
    // for an await), so statements that must keep their order are executed eagerly.
    const opening = Promise.all([
      conn.unsafe("begin").execute(),
      conn`select set_config('tradewind.user_id', ${tenant.userId}, true),
                  set_config('tradewind.user_role', ${tenant.role}, true)`.execute(),
    ]);
    opening.catch(() => {});
    const result = await fn(conn as unknown as TransactionSql, finish);
    await opening;
    await (commit ?? (commit = conn.unsafe("commit")));
    return result;
  } catch (e) {
    // After a failed statement the pipelined COMMIT already rolled back; this is then a no-op.
    await conn.unsafe("rollback").catch(() => {});
    throw e;
  } finally {
    conn.release();
  }
}
