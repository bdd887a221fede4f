/**
 * Account activities of the Alpaca-compatible face: the ledger's fills as Alpaca's trade
 * activities (`FILL`), each with the order's cumulative and remaining quantity after it. Runs in
 * the caller's tenant transaction, so row-level security keeps a trader to their own fills.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import { Decimal } from "../core/decimal.ts";

/** One fill as a trade activity, amounts as decimal strings. */
export interface FillActivity {
  fillId: string;
  /** Epoch ms of the fill. */
  ts: number;
  orderId: string;
  symbol: string;
  side: "buy" | "sell";
  qty: string;
  price: string;
  /** The order's filled quantity after this fill. */
  cumQty: string;
  /** The order's quantity still open after this fill; null for a notional order not done. */
  leavesQty: string | null;
  /** Whether this fill completed the order. */
  completes: boolean;
}

/** Filters and paging of {@link listFillActivities}. Times are epoch ms, both exclusive. */
export interface FillActivityQuery {
  after?: number;
  until?: number;
  orderId?: string;
  direction: "asc" | "desc";
  limit: number;
  /** Continue after this fill (the previous page's last). */
  afterFillId?: string;
}

interface Row {
  id: string;
  ts: Date;
  order_id: string;
  symbol: string;
  side: "buy" | "sell";
  qty: string;
  price: string;
  cum_qty: string;
  order_qty: string | null;
  filled_qty: string;
  status: string;
}

/**
 * The current tenant's fills as trade activities, newest first (`desc`) or oldest first, at
 * most `limit`. Ties in time are ordered by fill id, so paging never skips or repeats one.
 */
export async function listFillActivities(
  tx: TransactionSql,
  q: FillActivityQuery,
): Promise<FillActivity[]> {
  const desc = q.direction === "desc";
  const cursor = q.afterFillId
    ? (desc
      ? tx`and (fl.ts, fl.id) < (select c.ts, c.id from fills c where c.id = ${q.afterFillId})`
      : tx`and (fl.ts, fl.id) > (select c.ts, c.id from fills c where c.id = ${q.afterFillId})`)
    : tx``;
  const rows = await tx<Row[]>`
    select fl.id, fl.ts, fl.order_id, fl.symbol, fl.side, fl.qty::text as qty,
           fl.price::text as price, o.qty::text as order_qty, o.filled_qty::text as filled_qty,
           o.status,
           (select sum(f2.qty) from fills f2
             where f2.order_id = fl.order_id and (f2.ts, f2.id) <= (fl.ts, fl.id))::text as cum_qty
      from fills fl join orders o on o.id = fl.order_id
     where true
       ${q.after !== undefined ? tx`and fl.ts > ${new Date(q.after)}` : tx``}
       ${q.until !== undefined ? tx`and fl.ts < ${new Date(q.until)}` : tx``}
       ${q.orderId ? tx`and fl.order_id = ${q.orderId}` : tx``}
       ${cursor}
     order by ${desc ? tx`fl.ts desc, fl.id desc` : tx`fl.ts, fl.id`}
     limit ${q.limit}`;
  return rows.map((r) => {
    const cum = Decimal.parse(r.cum_qty);
    let leaves: string | null;
    let completes: boolean;
    if (r.order_qty !== null) {
      const left = Decimal.parse(r.order_qty).sub(cum);
      completes = !left.isPositive();
      leaves = completes ? "0" : left.toString();
    } else {
      // A notional order: done when this fill brought it to its final filled quantity.
      completes = r.status === "filled" && cum.eq(Decimal.parse(r.filled_qty));
      leaves = completes ? "0" : null;
    }
    return {
      fillId: r.id,
      ts: r.ts.getTime(),
      orderId: r.order_id,
      symbol: r.symbol,
      side: r.side,
      qty: r.qty,
      price: r.price,
      cumQty: r.cum_qty,
      leavesQty: leaves,
      completes,
    };
  });
}
