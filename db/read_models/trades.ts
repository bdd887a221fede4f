/**
 * Read model of the closed trades behind `GET /api/v1/trades`, `/trades/stats`,
 * `/trades/{id}` and the day figures of `/summary`. Every read runs in a transaction acting
 * for the caller ({@link withTenant}), so row-level security keeps it to that trader.
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";
import { type Tenant, withTenant } from "../database.ts";
import { bookCondition, type BookId } from "./books.ts";

/** A `trades` row as the API reads it (money and quantities as decimal strings). */
export interface TradeRow {
  id: string;
  bot_id: string | null;
  symbol: string;
  side: "long" | "short";
  qty: string;
  entry_price: string;
  exit_price: string;
  realized_pl: string;
  opened_at: Date | null;
  closed_at: Date;
  exit_order_id: string | null;
}

/** Which trades: closed in `[fromMs, toMs)` (null: unbounded), of a book, symbol and side. */
export interface TradeFilter {
  fromMs: number | null;
  toMs: number | null;
  botId?: BookId;
  symbol?: string | undefined;
  side?: "long" | "short" | undefined;
}

/** The columns a trade list may be sorted on. */
export const TRADE_SORT_COLUMNS = [
  "closed_at",
  "opened_at",
  "symbol",
  "side",
  "qty",
  "entry_price",
  "exit_price",
  "realized_pl",
] as const;

/** One page of {@link listTrades}: 1-based `page` of `pageSize`, sorted (nulls last, then id). */
export interface TradePage {
  sort: typeof TRADE_SORT_COLUMNS[number];
  order: "asc" | "desc";
  page: number;
  pageSize: number;
}

function where(tx: TransactionSql, f: TradeFilter) {
  return tx`
    where true
      ${f.fromMs !== null ? tx`and closed_at >= ${new Date(f.fromMs)}` : tx``}
      ${f.toMs !== null ? tx`and closed_at < ${new Date(f.toMs)}` : tx``}
      ${bookCondition(tx, f.botId)}
      ${f.symbol ? tx`and symbol = ${f.symbol}` : tx``}
      ${f.side ? tx`and side = ${f.side}` : tx``}`;
}

/** A page of the caller's trades matching `filter`, and how many match in all. */
export function listTrades(
  sql: Sql,
  tenant: Tenant,
  options: { filter: TradeFilter; page: TradePage },
): Promise<{ items: TradeRow[]; total: number }> {
  const { filter, page } = options;
  return withTenant(sql, tenant, async (tx) => {
    const [count] = await tx<{ n: number }[]>`select count(*)::int as n from trades ${
      where(tx, filter)
    }`;
    const items = await tx<TradeRow[]>`
      select id, bot_id, symbol, side, qty, entry_price, exit_price, realized_pl, opened_at,
             closed_at, exit_order_id
      from trades ${where(tx, filter)}
      order by ${tx(page.sort)} ${page.order === "asc" ? tx`asc` : tx`desc`} nulls last, id
      limit ${page.pageSize} offset ${(page.page - 1) * page.pageSize}`;
    return { items, total: count!.n };
  });
}

/** The realized P&L (decimal strings) of the caller's trades matching `filter`, oldest first. */
export async function tradePnls(sql: Sql, tenant: Tenant, filter: TradeFilter): Promise<string[]> {
  const rows = await withTenant(sql, tenant, (tx) =>
    tx<{ realized_pl: string }[]>`
      select realized_pl from trades ${where(tx, filter)} order by closed_at, id`);
  return rows.map((r) => r.realized_pl);
}

/** One of the caller's trades, or null. */
export async function findTrade(sql: Sql, tenant: Tenant, id: string): Promise<TradeRow | null> {
  const [row] = await withTenant(sql, tenant, (tx) =>
    tx<TradeRow[]>`
      select id, bot_id, symbol, side, qty, entry_price, exit_price, realized_pl, opened_at,
             closed_at, exit_order_id
      from trades where id = ${id}`);
  return row ?? null;
}

/** The caller's figures since an instant: trades closed, their realized P&L, running bots. */
export interface DayFigures {
  trades: number;
  /** Realized P&L of those trades, a decimal string. */
  realizedPl: string;
  runningBots: number;
}

/** {@link DayFigures} since `sinceMs` (epoch ms). */
export function dayFigures(sql: Sql, tenant: Tenant, sinceMs: number): Promise<DayFigures> {
  return withTenant(sql, tenant, async (tx) => {
    const [t] = await tx<{ n: number; pl: string }[]>`
      select count(*)::int as n, coalesce(sum(realized_pl), 0)::text as pl
      from trades where closed_at >= ${new Date(sinceMs)}`;
    const [b] = await tx<{ n: number }[]>`
      select count(*)::int as n from bots where status = 'running'`;
    return { trades: t!.n, realizedPl: t!.pl, runningBots: b!.n };
  });
}
