/**
 * The users the HTTP layer meets: the row of a token's identity (created on first sight) and
 * the look-up of a user by name. Both go through the database's own functions
 * (`tradewind_ensure_user`, `tradewind_user_by_name`), which the application role may call
 * without seeing other users' rows.
 *
 * @module
 */
import type { Sql } from "postgres";
import type { Role } from "./database.ts";

/** The id of the user named `username`, created with `role` on first sight. */
export async function ensureUser(sql: Sql, username: string, role: Role): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    select tradewind_ensure_user(${username}, ${role}) as id`;
  return row!.id;
}

/** The id of the user named `username`, or null when there is none. */
export async function userIdByName(sql: Sql, username: string): Promise<string | null> {
  const [row] = await sql<{ id: string | null }[]>`
    select tradewind_user_by_name(${username}) as id`;
  return row?.id ?? null;
}
