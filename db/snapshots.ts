/**
 * Snapshot writes: a user's open positions (price, market value, unrealized P&L) and their
 * account (cash, equity, positions value), all stamped with one time, for analytics and the
 * dashboard's equity curve.
 *
 * @module
 */
import type { TransactionSql } from "postgres";

/** One open position as it stood at the snapshot (decimal strings; marks may be unknown). */
export interface PositionSnapshotRow {
  symbol: string;
  qty: string;
  avgEntryPrice: string;
  currentPrice: string | null;
  marketValue: string | null;
  costBasis: string;
  unrealizedPl: string | null;
}

/** The account as it stood at the snapshot (decimal strings, Alpaca's meanings). */
export interface AccountSnapshotRow {
  cash: string;
  equity: string;
  lastEquity: string;
  longMarketValue: string;
  shortMarketValue: string;
  positionsValue: string;
  buyingPower: string;
}

/**
 * Writes one user's snapshot rows inside the caller's tenant transaction. An account row for
 * the same user and time already there is kept (a repeated run writes nothing twice).
 * Answers the number of position rows and whether the account row was written.
 */
export async function writeSnapshots(
  tx: TransactionSql,
  snapshot: {
    userId: string;
    ts: number;
    positions: PositionSnapshotRow[];
    account: AccountSnapshotRow | null;
  },
): Promise<{ positions: number; account: boolean }> {
  const ts = new Date(snapshot.ts);
  const { userId } = snapshot;
  let account = false;
  if (snapshot.account) {
    const a = snapshot.account;
    const written = await tx`
      insert into account_snapshots (user_id, ts, cash, equity, last_equity, long_market_value,
        short_market_value, positions_value, buying_power)
      values (${userId}, ${ts}, ${a.cash}, ${a.equity}, ${a.lastEquity}, ${a.longMarketValue},
        ${a.shortMarketValue}, ${a.positionsValue}, ${a.buyingPower})
      on conflict (user_id, ts) do nothing
      returning id`;
    account = written.length > 0;
    // The position rows of a run are written with its account row, never twice.
    if (!account) return { positions: 0, account };
  }
  for (const p of snapshot.positions) {
    await tx`
      insert into position_snapshots (user_id, ts, symbol, qty, avg_entry_price, current_price,
        market_value, cost_basis, unrealized_pl)
      values (${userId}, ${ts}, ${p.symbol}, ${p.qty}, ${p.avgEntryPrice}, ${p.currentPrice},
        ${p.marketValue}, ${p.costBasis}, ${p.unrealizedPl})`;
  }
  return { positions: snapshot.positions.length, account };
}
