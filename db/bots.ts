/**
 * The `bots` table as the bot routes use it: the configs a trader lists, reads, creates,
 * changes and deletes (a deleted bot's row is kept, marked, because its orders, trades and
 * audit rows refer to it). Reads run in a transaction acting for the caller
 * ({@link withTenant}); the writes take the caller's transaction, so the route can write the
 * change's audit row in the same commit.
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";
import { type Tenant, withTenant } from "./database.ts";

/** A bot's status as stored. */
export type BotStatus = "running" | "paused" | "stopped" | "error";

/** A `bots` row. */
export interface BotRow {
  id: string;
  user_id: string;
  name: string;
  strategy: string;
  config: Record<string, unknown>;
  status: BotStatus;
  last_run_at: Date | null;
  error_count: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** The caller's bot, or null when there is none (or it was deleted). */
export async function findBot(sql: Sql, tenant: Tenant, id: string): Promise<BotRow | null> {
  const [row] = await withTenant(
    sql,
    tenant,
    (tx) => tx<BotRow[]>`select * from bots where id = ${id} and deleted_at is null`,
  );
  return row ?? null;
}

/** The caller's bots (not deleted), by creation. */
export function listBots(sql: Sql, tenant: Tenant): Promise<BotRow[]> {
  return withTenant(
    sql,
    tenant,
    (tx) => tx<BotRow[]>`select * from bots where deleted_at is null order by created_at, id`,
  );
}

/** What a bot's config row holds: its name, strategy and the config as the trader sent it. */
export interface BotConfigRow {
  name: string;
  strategy: string;
  config: unknown;
}

/** Creates a (stopped) bot for `userId`. A taken name fails with PostgreSQL's 23505. */
export async function insertBot(
  tx: TransactionSql,
  userId: string,
  bot: BotConfigRow,
): Promise<BotRow> {
  const [row] = await tx<BotRow[]>`
    insert into bots (user_id, name, strategy, config)
    values (${userId}, ${bot.name}, ${bot.strategy}, ${tx.json(bot.config as never)})
    returning *`;
  return row!;
}

/**
 * Replaces a bot's name, strategy and config; null when the caller has no such bot. A taken
 * name fails with PostgreSQL's 23505.
 */
export async function updateBotConfig(
  tx: TransactionSql,
  id: string,
  bot: BotConfigRow,
): Promise<BotRow | null> {
  const [row] = await tx<BotRow[]>`
    update bots set name = ${bot.name}, strategy = ${bot.strategy},
      config = ${tx.json(bot.config as never)}, updated_at = now()
    where id = ${id} returning *`;
  return row ?? null;
}

/** Marks a bot deleted and stopped; its row stays for the orders, trades and audit rows. */
export async function markBotDeleted(tx: TransactionSql, id: string): Promise<void> {
  await tx`update bots set deleted_at = now(), status = 'stopped', updated_at = now()
           where id = ${id}`;
}
