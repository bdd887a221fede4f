/**
 * The paper venue's state as the ledger knows it, for restoring the venue at start: each
 * user's cash (starting cash moved by every fill), positions and open orders under the
 * venue's own ids. Startup and crash recovery are one path: the venue is rebuilt from the
 * ledger, then reconciliation settles anything still different.
 *
 * @module
 */
import type { Sql } from "postgres";
import { Decimal } from "../core/decimal.ts";
import type { Order } from "../core/order.ts";
import { OPEN_STATUSES } from "../core/order_state.ts";
import type { PaperAccountState } from "../brokers/paper/exchange.ts";
import { withTenant } from "./database.ts";
import { type OrderRow, rowToOrder } from "./ledger.ts";

/**
 * Reads every paper user's state from the ledger. `startingCash` is the cash accounts open
 * with (PAPER_STARTING_CASH); each fill then moves it by its stored amount (`fills.amount`,
 * the exact cash the venue moved, nine places), so the restored cash is the venue's to the
 * last nano-unit. Positions come back with the ledger's average entry price and cost basis,
 * which follow the venue's rules (`core/money.ts`). Every value read fits nine places (the
 * ledger's checks hold them to it).
 */
export async function loadPaperState(
  sql: Sql,
  startingCash: Decimal,
): Promise<Map<string, PaperAccountState>> {
  const users = await sql<{ id: string }[]>`select id from tradewind_all_users()`;
  const out = new Map<string, PaperAccountState>();
  for (const { id } of users) {
    const state = await withTenant(sql, { userId: id, role: "trader" }, async (tx) => {
      const [flow] = await tx<{ net: string | null; n: number }[]>`
        select sum(case when f.side = 'sell' then f.amount else -f.amount end)::text as net,
               count(*)::int as n
        from fills f join orders o on o.id = f.order_id
        where o.broker = 'paper'`;
      const positions = await tx<
        { symbol: string; qty: string; avg_entry_price: string; cost_basis: string }[]
      >`select symbol, qty, avg_entry_price, cost_basis from positions where qty <> 0`;
      const rows = await tx<OrderRow[]>`
        select * from orders
        where broker = 'paper' and broker_order_id is not null
          and (status = any(${OPEN_STATUSES as string[]})
               or id in (select parent_id from orders
                         where parent_id is not null and status = any(${OPEN_STATUSES as string[]})))
        order by created_at, id`;
      return { flow: flow!, positions, rows };
    });
    if (state.flow.n === 0 && state.positions.length === 0 && state.rows.length === 0) continue;
    const venueId = new Map(state.rows.map((r) => [r.id, r.broker_order_id!]));
    const orders: Order[] = state.rows.map((r) => {
      const o = rowToOrder(r);
      return {
        ...o,
        id: r.broker_order_id!,
        parent_id: r.parent_id ? venueId.get(r.parent_id) ?? null : null,
        replaces: null,
        replaced_by: null,
      };
    });
    out.set(id, {
      cash: startingCash.add(Decimal.parse(state.flow.net ?? "0")),
      positions: state.positions.map((p) => ({
        symbol: p.symbol,
        qty: Decimal.parse(p.qty),
        avgEntryPrice: Decimal.parse(p.avg_entry_price),
        costBasis: Decimal.parse(p.cost_basis),
      })),
      orders,
    });
  }
  return out;
}
