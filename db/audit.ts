/**
 * The audit trail (`execution_logs`): appending rows inside ledger transactions, reading a
 * tenant's rows, and verifying the hash chain.
 *
 * The database numbers, timestamps and hashes each row in a trigger, under a lock held to
 * commit, so the chain order is the commit order and no code path can forget to link a row.
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";

/** Audit actions of the order life cycle (and engine events). */
export type AuditAction =
  | "SUBMITTED"
  | "VALIDATED"
  | "DENIED"
  | "SENT"
  | "ACCEPTED"
  | "PARTIALLY_FILLED"
  | "FILLED"
  | "REPLACED"
  | "CANCEL_REQUESTED"
  | "CANCELED"
  | "EXPIRED"
  | "REJECTED"
  | "RECOVERED"
  | "RECONCILED"
  | string;

/** One audit row to append. */
export interface AuditEntry {
  userId: string | null;
  action: AuditAction;
  status: string;
  orderId?: string | null;
  botId?: string | null;
  clientOrderId?: string | null;
  reason?: string | null;
  payload?: Record<string, unknown>;
  correlationId?: string | null;
  causationId?: string | null;
}

/** An appended row's place in the chain. */
export interface AuditReceipt {
  seq: string;
  hash: string;
  ts: Date;
}

/**
 * Appends one audit row within the caller's transaction. Append it last in the transaction:
 * the chain lock it takes is held until commit.
 */
export async function appendAudit(
  tx: TransactionSql | Sql,
  entry: AuditEntry,
): Promise<AuditReceipt> {
  const payload = JSON.parse(JSON.stringify(entry.payload ?? {}));
  const [row] = await tx<AuditReceipt[]>`
    insert into execution_logs (seq, ts, user_id, order_id, bot_id, client_order_id, action,
      status, reason, payload, correlation_id, causation_id, prev_hash, hash)
    values (0, now(), ${entry.userId}, ${entry.orderId ?? null}, ${entry.botId ?? null},
      ${entry.clientOrderId ?? null}, ${entry.action}, ${entry.status}, ${entry.reason ?? null},
      ${tx.json(payload)}, ${entry.correlationId ?? null}, ${entry.causationId ?? null}, '', '')
    returning seq, hash, ts`.execute();
  return row!;
}

const GENESIS = "0".repeat(64);

/**
 * Appends several audit rows in one statement (one round trip), in the given order, within
 * the caller's transaction.
 */
export async function appendAudits(
  tx: TransactionSql | Sql,
  entries: AuditEntry[],
): Promise<AuditReceipt[]> {
  if (entries.length === 0) return [];
  const rows = entries.map((e) => ({
    seq: 0,
    ts: new Date(0),
    user_id: e.userId,
    order_id: e.orderId ?? null,
    bot_id: e.botId ?? null,
    client_order_id: e.clientOrderId ?? null,
    action: e.action,
    status: e.status,
    reason: e.reason ?? null,
    payload: tx.json(JSON.parse(JSON.stringify(e.payload ?? {}))),
    correlation_id: e.correlationId ?? null,
    causation_id: e.causationId ?? null,
    prev_hash: "",
    hash: "",
  }));
  // execute(): queued at once, so a COMMIT pipelined after it stays after it.
  return await tx<AuditReceipt[]>`insert into execution_logs ${tx(rows)} returning seq, hash, ts`
    .execute();
}

/** The result of walking the chains. */
export type VerifyResult =
  | { ok: true; rows: number; head: string | null; chains: number }
  | { ok: false; rows: number; seq: string; problem: string };

/**
 * Walks every chain (one per user, plus the system chain) in sequence order, recomputing each
 * row's hash and checking that it links to the previous row of its chain. Needs a connection
 * that sees every row (the owner, or the compliance role); a trader's own connection verifies
 * their own chain. Names the first broken row (lowest sequence number).
 */
export async function verifyAudit(sql: Sql, batchSize = 5_000): Promise<VerifyResult> {
  const last = new Map<string, string>();
  let after = "-1";
  let rows = 0;
  let head: string | null = null;
  while (true) {
    const batch = await sql<
      { seq: string; user_id: string | null; prev_hash: string; hash: string; expected: string }[]
    >`
      select seq, user_id, prev_hash, hash,
        execution_log_hash(seq, ts, user_id, order_id, bot_id, client_order_id, action,
          status, reason, payload, correlation_id, causation_id, prev_hash) as expected
      from execution_logs where seq > ${after} order by seq limit ${batchSize}`;
    for (const row of batch) {
      rows++;
      const chain = row.user_id ?? "system";
      if (row.prev_hash !== (last.get(chain) ?? GENESIS)) {
        return {
          ok: false,
          rows,
          seq: row.seq,
          problem:
            `its prev_hash does not match the hash of the row before it in its chain (a row was removed or altered)`,
        };
      }
      if (row.expected !== row.hash) {
        return {
          ok: false,
          rows,
          seq: row.seq,
          problem: `its content does not match its hash (the row was altered)`,
        };
      }
      last.set(chain, row.hash);
      head = row.hash;
      after = row.seq;
    }
    if (batch.length < batchSize) return { ok: true, rows, head, chains: last.size };
  }
}
