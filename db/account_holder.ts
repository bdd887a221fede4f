/**
 * Finds the Tradewind user who holds the engine's Alpaca account (`ALPACA_ACCOUNT_USER`).
 *
 * @module
 */
import type { Sql } from "postgres";
import { withTenant } from "./database.ts";

const NOBODY = "00000000-0000-0000-0000-000000000000";

/**
 * The id of the user named `username`, or null while no such user exists (a user exists once
 * they have signed in with a token or an API key). Reads as the engine (an admin read of
 * `users`, which row-level security allows). Throws on a database error.
 */
export async function findUserIdByUsername(sql: Sql, username: string): Promise<string | null> {
  const rows = await withTenant(
    sql,
    { userId: NOBODY, role: "admin" },
    (tx) => tx<{ id: string }[]>`select id::text as id from users where username = ${username}`,
  );
  return rows[0]?.id ?? null;
}
