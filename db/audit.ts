/**
 * The audit trail (`execution_logs`): appending rows inside ledger transactions, reading a
 * tenant's rows, and verifying the hash chain.
 *
 * The database numbers, timestamps and hashes each row in a trigger, under a lock held to
 * commit, so the chain order is the commit order and no code path can forget to link a row.
 * The verifier trusts none of the database's functions: it reads each row's stored fields and
 * recomputes its hash in TypeScript ({@link auditRowHash}).
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";
import {
  type AuditCheckpoint,
  auditRowHash,
  type ChainHead,
  GENESIS_HASH,
  parseUtcTimestamp,
  SYSTEM_CHAIN,
} from "../core/audit_chain.ts";
import type { RiskNotice } from "../core/risk.ts";

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
  | "RETRIED"
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

/**
 * The warnings an order was placed with: the `warnings` of its VALIDATED row (written by the
 * execution engine with the order), or none when it has no such row (an order adopted from the
 * venue, a leg, a replacement). Within the caller's tenant transaction.
 */
export async function placementWarnings(
  tx: TransactionSql | Sql,
  orderId: string,
): Promise<RiskNotice[]> {
  const [row] = await tx<{ warnings: unknown }[]>`
    select payload -> 'warnings' as warnings from execution_logs
    where order_id = ${orderId} and action = 'VALIDATED'
    order by seq limit 1`;
  return Array.isArray(row?.warnings) ? row.warnings as RiskNotice[] : [];
}

/** One chain found broken, at its first bad row. */
export interface AuditProblem {
  /** The user's id, or `"system"`. */
  chain: string;
  /** The first bad row (or the checkpointed row that is gone). */
  seq: string;
  problem: string;
}

/** The result of walking the chains. */
export type VerifyResult =
  | {
    ok: true;
    rows: number;
    chains: number;
    /** The newest row's hash over all chains; null when the trail is empty. */
    head: string | null;
    /** Each chain's newest row, verified. */
    heads: ChainHead[];
    /** Chain heads checked against the given checkpoints. */
    checkpointHeads: number;
  }
  | {
    ok: false;
    rows: number;
    chains: number;
    /** The first problem (lowest sequence number) of all. */
    seq: string;
    chain: string;
    problem: string;
    /** The first problem of each broken chain, in sequence order. */
    problems: AuditProblem[];
  };

/** Options for {@link verifyAudit}. */
export interface VerifyOptions {
  /** Rows read per round trip (5,000). */
  batchSize?: number;
  /** Outside copies of chain heads every chain must still hold unchanged. */
  checkpoints?: AuditCheckpoint[];
}

interface StoredRow {
  seq: string;
  ts: string;
  user_id: string | null;
  order_id: string | null;
  bot_id: string | null;
  client_order_id: string | null;
  action: string;
  status: string;
  reason: string | null;
  payload: string;
  correlation_id: string | null;
  causation_id: string | null;
  prev_hash: string;
  hash: string;
}

interface Expected {
  chain: string;
  hash: string;
  takenAt: string;
}

/**
 * Walks every chain (one per user, plus the system chain) in sequence order within one
 * snapshot, recomputing each row's hash in TypeScript from its stored fields and checking
 * that it links to the previous row of its chain. With checkpoints, also checks that every
 * checkpointed head is still in its chain with the same hash: that alone detects removal of
 * a chain's newest rows and a chain rewritten with recomputed hashes. Needs a connection that
 * sees every row (the owner, or the compliance role); a trader's own connection verifies their
 * own chain. Reports the first broken row of each chain.
 */
export async function verifyAudit(sql: Sql, options: VerifyOptions = {}): Promise<VerifyResult> {
  const batchSize = options.batchSize ?? 5_000;
  const expected = new Map<string, Expected[]>();
  let checkpointHeads = 0;
  for (const cp of options.checkpoints ?? []) {
    for (const h of cp.chains) {
      checkpointHeads++;
      const list = expected.get(h.seq) ?? [];
      list.push({ chain: h.chain, hash: h.hash, takenAt: cp.taken_at });
      expected.set(h.seq, list);
    }
  }
  const last = new Map<string, { seq: string; hash: string }>();
  const problems = new Map<string, AuditProblem>();
  const flag = (chain: string, seq: string, problem: string) => {
    if (!problems.has(chain)) problems.set(chain, { chain, seq, problem });
  };
  let rows = 0;
  let head: string | null = null;
  await sql.begin("isolation level repeatable read read only", async (tx) => {
    // Timestamps as UTC text, whatever the role's or database's settings.
    await tx`set local timezone to 'UTC'`;
    await tx`set local datestyle to 'ISO, YMD'`;
    let after = "-1";
    while (true) {
      const batch = await tx<StoredRow[]>`
        select l.seq::text as seq, l.ts::text as ts, l.user_id::text as user_id,
          l.order_id::text as order_id, l.bot_id::text as bot_id, l.client_order_id, l.action,
          l.status, l.reason, l.payload::text as payload,
          l.correlation_id::text as correlation_id, l.causation_id::text as causation_id,
          l.prev_hash, l.hash
        from execution_logs l where l.seq > ${after}::bigint order by l.seq limit ${batchSize}`;
      for (const row of batch) {
        rows++;
        checkRow(row);
        after = row.seq;
      }
      if (batch.length < batchSize) break;
    }
  });

  function checkRow(row: StoredRow): void {
    const chain = row.user_id ?? SYSTEM_CHAIN;
    const prev = last.get(chain);
    if (row.prev_hash !== (prev?.hash ?? GENESIS_HASH)) {
      flag(
        chain,
        row.seq,
        prev === undefined
          ? `its prev_hash should be the genesis hash of its chain's first row (rows before it were removed or it was altered)`
          : `its prev_hash does not match the hash of row ${prev.seq}, the row before it in its chain (a row was removed or altered)`,
      );
    }
    const tsMicros = parseUtcTimestamp(row.ts);
    if (tsMicros === null) {
      flag(chain, row.seq, `its ts "${row.ts}" is not a time the chain could have hashed`);
    } else {
      const computed = auditRowHash({
        seq: row.seq,
        tsMicros,
        userId: row.user_id,
        orderId: row.order_id,
        botId: row.bot_id,
        clientOrderId: row.client_order_id,
        action: row.action,
        status: row.status,
        reason: row.reason,
        payload: row.payload,
        correlationId: row.correlation_id,
        causationId: row.causation_id,
        prevHash: row.prev_hash,
      });
      if (computed !== row.hash) {
        flag(chain, row.seq, `its content does not match its hash (the row was altered)`);
      }
    }
    for (const want of expected.get(row.seq) ?? []) {
      if (want.chain !== chain) {
        flag(
          want.chain,
          row.seq,
          `the checkpoint of ${want.takenAt} has its head at seq ${row.seq}, which is now a row of chain "${chain}" (the trail was rewritten)`,
        );
      } else if (want.hash !== row.hash) {
        flag(
          chain,
          row.seq,
          `its hash differs from the checkpoint of ${want.takenAt} (the chain was rewritten up to here and its hashes recomputed)`,
        );
      }
    }
    expected.delete(row.seq);
    last.set(chain, { seq: row.seq, hash: row.hash });
    head = row.hash;
  }

  // Checkpointed heads never met: those rows are gone.
  for (const [seq, wants] of expected) {
    for (const want of wants) {
      flag(
        want.chain,
        seq,
        `its head in the checkpoint of ${want.takenAt}, seq ${seq}, is gone (its newest rows were removed)`,
      );
    }
  }
  if (problems.size > 0) {
    const list = [...problems.values()].sort((a, b) => compareSeq(a.seq, b.seq));
    const first = list[0]!;
    return {
      ok: false,
      rows,
      // Chains read, and chains a checkpoint knows that are gone altogether.
      chains: new Set([...last.keys(), ...problems.keys()]).size,
      seq: first.seq,
      chain: first.chain,
      problem: first.problem,
      problems: list,
    };
  }
  const heads = [...last].map(([chain, h]) => ({ chain, seq: h.seq, hash: h.hash }));
  return { ok: true, rows, chains: last.size, head, heads, checkpointHeads };
}

function compareSeq(a: string, b: string): number {
  const x = BigInt(a), y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Each chain's newest row (chain, seq, hash), read through `tradewind_audit_heads()` in one
 * statement: cheap enough for the engine to log a checkpoint every hour. Answers them ordered
 * with the system chain first.
 */
export async function readAuditHeads(sql: Sql): Promise<ChainHead[]> {
  const rows = await sql<{ chain: string; username: string | null; seq: string; hash: string }[]>`
    select chain, username, seq::text as seq, hash from tradewind_audit_heads()`;
  return rows.map((r) => ({ chain: r.chain, username: r.username, seq: r.seq, hash: r.hash }));
}
