/**
 * Position and account snapshots: on a timer (every `snapshotEveryMs`, on the clock's
 * multiples of it), a row per open position of every user and the user's account beside them.
 *
 * @module
 */
import { Decimal } from "../../core/decimal.ts";
import type { Account } from "../../brokers/broker.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import { allUsers, heldPositions } from "../../db/execution_queries.ts";
import { type PositionSnapshotRow, writeSnapshots } from "../../db/snapshots.ts";
import type { EngineContext } from "./context.ts";

/** Takes snapshots, once or on a timer (one run at a time). */
export class Snapshots {
  readonly #ctx: EngineContext;
  #stop: (() => void) | null = null;
  /** The snapshot run in progress (one at a time; a tick that finds one running is skipped). */
  #run: Promise<void> | null = null;

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  /** The timed run in progress, if any. */
  get running(): Promise<void> | null {
    return this.#run;
  }

  /** Starts the timer (`snapshotEveryMs`, default 5 minutes; 0 turns it off). */
  schedule(): void {
    const every = this.#ctx.deps.snapshotEveryMs ?? 300_000;
    if (every <= 0 || this.#stop) return;
    const clock = this.#ctx.deps.clock;
    const tick = () => {
      if (this.#run) {
        this.#ctx.log("warning", "Snapshots skipped: the previous run is still writing", {
          everyMs: every,
        });
        return;
      }
      const run = this.take().then(
        () => {},
        (e) => this.#ctx.log("error", "Snapshots failed", { error: String(e) }),
      );
      this.#run = run;
      run.finally(() => {
        if (this.#run === run) this.#run = null;
      });
    };
    let stopRepeating: (() => void) | null = null;
    const stopFirst = clock.setTimer(() => {
      tick();
      stopRepeating = clock.setRepeating(tick, every);
    }, every - (clock.now() % every));
    this.#stop = () => {
      stopFirst();
      stopRepeating?.();
    };
  }

  /** Stops the timer (a run in progress goes on: see {@link running}). */
  unschedule(): void {
    this.#stop?.();
    this.#stop = null;
  }

  /**
   * Takes one snapshot run, stamped with one time: per user, a row per open position of the
   * ledger (marked at the latest trade) and the account from the venue (cash, equity, long and
   * short market value, buying power), in one transaction. A user whose account the venue
   * cannot give now is logged and skipped; the others are still written. Answers the rows
   * written.
   */
  async take(): Promise<{ positions: number; accounts: number }> {
    const deps = this.#ctx.deps;
    const users = await allUsers(deps.sql);
    const now = deps.clock.now();
    let positions = 0;
    let accounts = 0;
    for (const u of users) {
      const tenant: Tenant = { userId: u.id, role: "trader" };
      const held = await withTenant(deps.sql, tenant, (tx) => heldPositions(tx));
      let account: Account;
      try {
        account = await this.#ctx.brokerFor(u.id).getAccount();
      } catch (e) {
        this.#ctx.log("warning", "No snapshot for a user: the venue did not give the account", {
          user: u.id,
          error: String(e),
        });
        continue;
      }
      const marks = held.length === 0
        ? {}
        : await deps.venue.marketData.latestTrades(held.map((h) => h.symbol))
          .catch(() => ({} as Record<string, { p: number }>));
      const rows: PositionSnapshotRow[] = held.map((h) => {
        const qty = Decimal.parse(h.qty);
        const mark = marks[h.symbol] ? Decimal.parse(String(marks[h.symbol]!.p)) : null;
        const value = mark ? qty.mul(mark) : null;
        return {
          symbol: h.symbol,
          qty: h.qty,
          avgEntryPrice: h.avg_entry_price,
          currentPrice: mark?.toString() ?? null,
          marketValue: value?.toString() ?? null,
          costBasis: h.cost_basis,
          unrealizedPl: value ? value.sub(Decimal.parse(h.cost_basis)).toString() : null,
        };
      });
      const written = await withTenant(deps.sql, tenant, (tx) =>
        writeSnapshots(tx, {
          userId: u.id,
          ts: now,
          positions: rows,
          account: {
            cash: account.cash.toString(),
            equity: account.equity.toString(),
            lastEquity: account.last_equity.toString(),
            longMarketValue: account.long_market_value.toString(),
            shortMarketValue: account.short_market_value.toString(),
            positionsValue: account.long_market_value.add(account.short_market_value).toString(),
            buyingPower: account.buying_power.toString(),
          },
        }));
      positions += written.positions;
      if (written.account) accounts++;
    }
    return { positions, accounts };
  }
}
