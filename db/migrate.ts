/**
 * Forward-only SQL migrations: numbered `.sql` files in `db/migrations/`, each applied in one
 * transaction under an advisory lock, with a SHA-256 checksum recorded so that a file edited
 * after it was applied is caught at the next start.
 *
 * @module
 */
import type { Sql } from "postgres";

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Thrown when the migrations on disk and in the database disagree. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

const MIGRATION_LOCK = 727_001_001;
const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads the migration files from a folder (by default `db/migrations/`), in version order.
 *
 * @throws {MigrationError} on a misnamed file or a repeated version number.
 */
export async function readMigrations(
  dir: URL = new URL("./migrations/", import.meta.url),
): Promise<Migration[]> {
  const out: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const m = FILE_RE.exec(entry.name);
    if (!m) {
      throw new MigrationError(
        `Cannot read migration "${entry.name}": name it NNNN_snake_case.sql`,
      );
    }
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    out.push({ version: Number(m[1]), name: entry.name, sql, checksum: await sha256(sql) });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version) {
      throw new MigrationError(`Cannot apply migrations: version ${out[i]!.version} appears twice`);
    }
  }
  return out;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  applied: string[];
  current: number;
}

/**
 * Applies every pending migration, in order, each in its own transaction, while holding an
 * advisory lock so that concurrent engines never migrate at once.
 *
 * @throws {MigrationError} when an applied file's checksum changed, or the database is at a
 * version this code does not know.
 */
export async function migrate(sql: Sql, migrations?: Migration[]): Promise<MigrateResult> {
  const files = migrations ?? await readMigrations();
  const reserved = await sql.reserve();
  try {
    await reserved`select pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await reserved`
        create table if not exists schema_migrations (
          version integer primary key,
          name text not null,
          checksum text not null,
          applied_at timestamptz not null default now()
        )`;
      const done = await reserved<{ version: number; name: string; checksum: string }[]>`
        select version, name, checksum from schema_migrations order by version`;
      const byVersion = new Map(done.map((r) => [r.version, r]));
      for (const row of done) {
        const file = files.find((f) => f.version === row.version);
        if (!file) {
          throw new MigrationError(
            `Cannot migrate: the database has migration ${row.version} ("${row.name}") that this version of Tradewind does not know`,
          );
        }
        if (file.checksum !== row.checksum) {
          throw new MigrationError(
            `Cannot migrate: "${file.name}" was changed after it was applied (checksum ${
              row.checksum.slice(0, 12)
            } in the database, ${
              file.checksum.slice(0, 12)
            } on disk); add a new migration instead of editing an applied one`,
          );
        }
      }
      const applied: string[] = [];
      for (const file of files) {
        if (byVersion.has(file.version)) continue;
        // A reserved connection has no begin(): run the transaction by hand.
        await reserved.unsafe("begin");
        try {
          await reserved.unsafe(file.sql);
          await reserved`insert into schema_migrations (version, name, checksum)
                         values (${file.version}, ${file.name}, ${file.checksum})`;
          await reserved.unsafe("commit");
        } catch (e) {
          await reserved.unsafe("rollback");
          throw new MigrationError(
            `Cannot apply migration "${file.name}": ${(e as Error).message}`,
          );
        }
        applied.push(file.name);
      }
      return { applied, current: files.at(-1)?.version ?? 0 };
    } finally {
      await reserved`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    reserved.release();
  }
}

/**
 * Tells whether the database is at the latest migration this code knows (for `/ready`).
 * Never throws: an unreachable database answers `false`.
 */
export async function migrationsCurrent(sql: Sql, migrations: Migration[]): Promise<boolean> {
  try {
    const rows = await sql<{ version: number; checksum: string }[]>`
      select version, checksum from schema_migrations order by version`;
    if (rows.length !== migrations.length) return false;
    return rows.every((r, i) =>
      r.version === migrations[i]!.version && r.checksum === migrations[i]!.checksum
    );
  } catch {
    return false;
  }
}
