/**
 * What the Alpaca face's `trade_updates` stream reads back from the audit trail: the fill of
 * an order event (its execution id and the position after it), which the `/api/v1` stream's
 * order event rows (db/stream.ts) do not carry.
 *
 * @module
 */
import type { Sql } from "postgres";
import { type Tenant, withTenant } from "./database.ts";

/** A fill as the execution engine audited it (payload `fill` of the event's audit row). */
export interface AuditedFill {
  qty: string;
  price: string;
  execution_id: string;
  position_qty: string;
}

interface Row {
  seq: string;
  qty: string | null;
  price: string | null;
  execution_id: string | null;
  position_qty: string | null;
}

/**
 * The audited fills among these audit sequences, by sequence. Runs as the tenant, so
 * row-level security keeps a trader to their own rows; a sequence without a fill is absent.
 */
export async function auditedFills(
  sql: Sql,
  tenant: Tenant,
  seqs: readonly string[],
): Promise<Map<string, AuditedFill>> {
  const out = new Map<string, AuditedFill>();
  if (seqs.length === 0) return out;
  const rows = await withTenant(sql, tenant, (tx) =>
    tx<Row[]>`
      select seq::text as seq,
             payload -> 'fill' ->> 'qty' as qty,
             payload -> 'fill' ->> 'price' as price,
             payload -> 'fill' ->> 'execution_id' as execution_id,
             payload -> 'fill' ->> 'position_qty' as position_qty
        from execution_logs
       where user_id = ${tenant.userId} and seq = any(${seqs as string[]}::bigint[])
         and payload ? 'fill'`);
  for (const r of rows) {
    if (r.qty === null || r.price === null) continue;
    out.set(r.seq, {
      qty: r.qty,
      price: r.price,
      execution_id: r.execution_id ?? "",
      position_qty: r.position_qty ?? "0",
    });
  }
  return out;
}
