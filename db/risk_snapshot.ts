/**
 * What pre-trade risk reads from the ledger for one order, in one statement: a repeated client
 * order id, positions, pending quantities, today's trades and realized P&L, the limit layers,
 * a bot's own book and the trading state. Runs inside the caller's tenant transaction, so
 * row-level security keeps it to one trader.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import { etToEpochMs, toEt } from "../core/calendar.ts";
import { OPEN_STATUSES } from "../core/order_state.ts";
import type { TradingState } from "../core/risk.ts";
import type { OrderRow } from "./ledger.ts";

/** What risk needs from the ledger for one order (numerics as text). */
export interface RiskSnapshot {
  /** The live order under the client order id (as JSON from the one-statement read). */
  existing: OrderRow | null;
  positions: { symbol: string; qty: string }[];
  pending: Record<string, string>;
  trades_today: number;
  realized_today: string;
  /** The user's limit layers by layer name (`admin`, `user`). */
  user_limits: Record<string, Record<string, unknown>> | null;
  /** The bot's own limits (its config's `risk`). */
  bot_limits: Record<string, unknown> | null;
  /** The bot's own book, for a bot's order (core/books.ts); null for a manual order. */
  bot_book: {
    positions: { symbol: string; qty: string; cost: string }[];
    pending: Record<string, string>;
    trades_today: number;
    realized_today: string;
  } | null;
  state: TradingState | null;
}

/**
 * Reads the {@link RiskSnapshot} in one statement within the caller's tenant transaction
 * (`existing` is the row as JSON). Queued at once, so it travels with BEGIN; `finish` lets the
 * caller send COMMIT with it.
 */
export async function readRiskSnapshot(
  tx: TransactionSql,
  query: { clientOrderId: string; botId: string | null; nowMs: number },
  finish: <R>(last: Promise<R>) => Promise<R> = (last) => last,
): Promise<RiskSnapshot> {
  const { clientOrderId, botId } = query;
  const dayStart = etToEpochMs(toEt(query.nowMs).dateStr, "00:00");
  const open = OPEN_STATUSES as string[];
  // Numerics travel as text inside the JSON: a JSON number would print 1e-7 for a residual
  // position, or lose digits past a float's sixteen.
  const [row] = await finish(tx<RiskSnapshot[]>`
      select
        (select row_to_json(o) from orders o
           where client_order_id = ${clientOrderId} and retried_by is null) as existing,
        (select coalesce(json_agg(json_build_object('symbol', symbol, 'qty', qty::text)), '[]')
           from positions) as positions,
        (select coalesce(json_object_agg(symbol, q::text), '{}') from (
           select symbol, sum(case when side = 'buy' then 1 else -1 end
                              * (coalesce(qty, 0) - filled_qty)) as q
           from orders where parent_id is null and status = any(${open})
           group by symbol) p) as pending,
        (select count(distinct order_id)::int from fills where ts >= ${new Date(dayStart)})
          as trades_today,
        (select coalesce(sum(realized_pl), 0)::text from trades
           where closed_at >= ${new Date(dayStart)}) as realized_today,
        (select json_object_agg(
                  r.layer,
                  (select json_object_agg(k, v) from json_each_text(row_to_json(r)) e(k, v)))
           from risk_limits r
           where r.user_id = tradewind_user_id() and r.bot_id is null) as user_limits,
        (select (select json_object_agg(k, v) from jsonb_each_text(b.config -> 'risk') e(k, v))
           from bots b
           where b.id = ${botId} and b.user_id = tradewind_user_id()) as bot_limits,
        (select json_build_object(
           'positions', (select coalesce(json_agg(json_build_object(
                            'symbol', symbol, 'qty', qty::text, 'cost', cost_basis::text)), '[]')
                         from books where bot_id = ${botId} and qty <> 0),
           'pending', (select coalesce(json_object_agg(symbol, q::text), '{}') from (
                         select symbol, sum(case when side = 'buy' then 1 else -1 end
                                            * (coalesce(qty, 0) - filled_qty)) as q
                         from orders where bot_id = ${botId} and parent_id is null
                           and status = any(${open})
                         group by symbol) p),
           'trades_today', (select count(distinct f.order_id)::int from fills f
                            join orders o on o.id = f.order_id
                            where o.bot_id = ${botId} and f.ts >= ${new Date(dayStart)}),
           'realized_today', (select coalesce(sum(realized_pl), 0)::text from trades
                              where bot_id = ${botId} and closed_at >= ${new Date(dayStart)}))
         where ${botId}::uuid is not null) as bot_book,
        (select state from trading_states where user_id = tradewind_user_id()
           order by case state when 'halted' then 0 when 'reducing' then 1 else 2 end
           limit 1) as state`.execute());
  return row!;
}
