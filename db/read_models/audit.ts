/**
 * Read model of the audit trail behind `GET /api/v1/audit`: pages of `execution_logs` in
 * sequence order, with the acting user's name. The read runs in a transaction acting for the
 * caller ({@link withTenant}): a trader sees their own rows, admin and compliance everyone's
 * (row-level security decides, and hides the names of users the caller may not see).
 *
 * @module
 */
import type { Sql } from "postgres";
import { type Tenant, withTenant } from "../database.ts";

/** One audit row as the API answers it. */
export interface AuditItem {
  seq: string;
  ts: string;
  user_id: string | null;
  username: string | null;
  order_id: string | null;
  bot_id: string | null;
  client_order_id: string | null;
  action: string;
  status: string;
  reason: string | null;
  payload: unknown;
  correlation_id: string | null;
  causation_id: string | null;
  hash: string;
  prev_hash: string;
}

/** Which audit rows: of a user, of an order, of an action, strictly between two instants. */
export interface AuditFilter {
  userId?: string | undefined;
  orderId?: string | undefined;
  action?: string | undefined;
  /** RFC 3339 instants, exclusive. */
  after?: string | undefined;
  until?: string | undefined;
}

/**
 * Up to `limit` of the caller's audit rows matching `filter` with a sequence above `afterSeq`
 * (a bigint as a string), in sequence order; `ts` is RFC 3339 UTC with microseconds.
 */
export function readAuditRows(
  sql: Sql,
  tenant: Tenant,
  options: { filter: AuditFilter; afterSeq: string; limit: number },
): Promise<AuditItem[]> {
  const { filter, afterSeq, limit } = options;
  return withTenant(sql, tenant, async (tx) => {
    const none = tx``;
    const rows = await tx<AuditItem[]>`
      select l.seq, to_char(l.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts,
        l.user_id, u.username, l.order_id, l.bot_id, l.client_order_id, l.action, l.status,
        l.reason, l.payload, l.correlation_id, l.causation_id, l.hash, l.prev_hash
      from execution_logs l
      left join users u on u.id = l.user_id
      where l.seq > ${afterSeq}::bigint
        ${filter.userId === undefined ? none : tx`and l.user_id = ${filter.userId}::uuid`}
        ${filter.orderId === undefined ? none : tx`and l.order_id = ${filter.orderId}::uuid`}
        ${filter.action === undefined ? none : tx`and l.action = ${filter.action}`}
        ${filter.after === undefined ? none : tx`and l.ts > ${filter.after}::text::timestamptz`}
        ${filter.until === undefined ? none : tx`and l.ts < ${filter.until}::text::timestamptz`}
      order by l.seq
      limit ${limit}`;
    return rows.map((r) => ({ ...r }));
  });
}
