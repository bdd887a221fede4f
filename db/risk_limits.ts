/**
 * The stored layers of risk limits (`risk_limits`) and of the trading state
 * (`trading_states`): an admin's for a user and the user's own (see `core/risk_authority.ts`).
 * Every function runs inside the caller's tenant transaction; row-level security lets a trader
 * write only their own layers.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import type { RiskLimits, TradingState } from "../core/risk.ts";
import { RISK_LIMIT_FIELDS } from "../core/risk.ts";
import { limitsFromStored, type StateLayer } from "../core/risk_authority.ts";

/**
 * Serialises writers of one user's limits and states until commit, including the first write,
 * when there is no row yet to lock.
 */
async function lockUser(tx: TransactionSql, userId: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${"tradewind.risk:" + userId}, 0))`;
}

/** A user's limit layers as stored; an absent layer sets nothing. */
export interface StoredLimitLayers {
  admin: RiskLimits;
  user: RiskLimits;
}

/**
 * Reads the admin's and the user's own limits of `userId`; with `lock`, first takes the user's
 * risk lock for the rest of the transaction (a writer must, so concurrent writes apply one
 * after the other). Not `for update`: row-level security would hide from a trader the admin's
 * rows, which they may read but not write.
 */
export async function readLimitLayers(
  tx: TransactionSql,
  userId: string,
  options: { lock?: boolean } = {},
): Promise<StoredLimitLayers> {
  if (options.lock) await lockUser(tx, userId);
  const rows = await tx<Record<string, unknown>[]>`
    select * from risk_limits where user_id = ${userId} and bot_id is null`;
  const out: StoredLimitLayers = { admin: {}, user: {} };
  for (const row of rows) {
    if (row.layer === "admin" || row.layer === "user") out[row.layer] = limitsFromStored(row);
  }
  return out;
}

/** Stores a whole layer of limits (every field; null clears it), recording who wrote it. */
export async function writeLimitLayer(
  tx: TransactionSql,
  entry: { userId: string; layer: "admin" | "user"; limits: RiskLimits; by: string },
): Promise<void> {
  const values: Record<string, string | number | null> = {};
  for (const f of RISK_LIMIT_FIELDS) {
    const v = entry.limits[f];
    values[f] = v === null || v === undefined ? null : typeof v === "number" ? v : String(v);
  }
  // A serialisation-proof upsert: the partial unique index names the conflict target.
  await tx`
    insert into risk_limits ${
    tx({ ...values, user_id: entry.userId, layer: entry.layer, updated_by: entry.by })
  }
    on conflict (user_id, layer) where bot_id is null do update set ${
    tx({ ...values, updated_by: entry.by })
  }, updated_at = now()`;
}

/** One stored layer of the trading state. */
export interface StoredState {
  state: TradingState;
  reason: string | null;
  updated_at: Date;
  /** The user id of who set it. */
  updated_by: string | null;
}

/** Reads the trading-state layers of `userId`; `lock` as in {@link readLimitLayers}. */
export async function readStateLayers(
  tx: TransactionSql,
  userId: string,
  options: { lock?: boolean } = {},
): Promise<Partial<Record<StateLayer, StoredState>>> {
  if (options.lock) await lockUser(tx, userId);
  const rows = await tx<(StoredState & { layer: StateLayer })[]>`
    select layer, state, reason, updated_at, updated_by from trading_states
    where user_id = ${userId}`;
  const out: Partial<Record<StateLayer, StoredState>> = {};
  for (const { layer, ...row } of rows) out[layer] = row;
  return out;
}

/** Stores one layer of the trading state, recording who set it and why. */
export async function writeStateLayer(
  tx: TransactionSql,
  entry: {
    userId: string;
    layer: StateLayer;
    state: TradingState;
    reason: string | null;
    by: string;
  },
): Promise<void> {
  await tx`
    insert into trading_states (user_id, layer, state, reason, updated_by)
    values (${entry.userId}, ${entry.layer}, ${entry.state}, ${entry.reason}, ${entry.by})
    on conflict (user_id, layer) do update set state = excluded.state, reason = excluded.reason,
      updated_at = now(), updated_by = excluded.updated_by`;
}
