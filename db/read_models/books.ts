/**
 * Read model of the books (see the README's "Books: netting at the venue, hedging in the
 * ledger"): the `bot_id` condition that orders, trades and books share, and the book listing
 * behind `GET /api/v1/books`. Every read runs in a transaction acting for the caller
 * ({@link withTenant}), so row-level security keeps it to that trader.
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";
import { type Tenant, withTenant } from "../database.ts";
import { type BookRow, listBooks } from "../ledger.ts";

/**
 * A book filter: a bot's id (its book), null (the manual book, the trader's own orders) or
 * undefined (every book).
 */
export type BookId = string | null | undefined;

/** The SQL condition of a {@link BookId} on a table with a `bot_id` column (`and …`). */
// deno-lint-ignore no-explicit-any
export function bookCondition(tx: TransactionSql, botId: BookId): any {
  if (botId === undefined) return tx``;
  return botId === null ? tx`and bot_id is null` : tx`and bot_id = ${botId}`;
}

/** Filters of {@link readBooks}. */
export interface BookQuery {
  symbol?: string;
  botId?: string | null;
  /** Flat books too (their realized P&L); otherwise open ones only. */
  all?: boolean;
}

/** The caller's books by symbol, then manual before the bots' books. */
export function readBooks(sql: Sql, tenant: Tenant, query: BookQuery = {}): Promise<BookRow[]> {
  return withTenant(sql, tenant, (tx) => listBooks(tx, query));
}
