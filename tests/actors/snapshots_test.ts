/**
 * Scheduled snapshots: every `snapshotEveryMs` on the clock's multiples of it, the engine
 * writes each user's open positions and account (the equity curve), stamped with one time,
 * and stops when the engine stops. TestClock, real PostgreSQL.
 */
import { assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, TEST_START_MS } from "../_helpers.ts";
import { Decimal } from "../../core/decimal.ts";
import { withTenant } from "../../db/database.ts";

const FIVE_MIN = 300_000;

interface AccountRow {
  user_id: string;
  ts: Date;
  cash: string;
  equity: string;
  long_market_value: string;
  short_market_value: string;
  positions_value: string;
}

Deno.test({
  name: "snapshots: positions and account equity every 5 minutes on the clock, until stop",
  ...DB_TEST,
}, async () => {
  // 15:00:30, so the first run falls at 15:05:00, not 5 minutes after start.
  const t = await createTestApp({
    trading: { snapshotEveryMs: FIVE_MIN, startMs: TEST_START_MS + 30_000 },
  });
  try {
    const engine = t.trading.engine;
    await engine.start();
    const placed = await t.as("sam", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "AAPL", qty: "3", side: "buy", type: "market", time_in_force: "day" },
    });
    assertEquals(placed.status, 201);
    await t.as("tia", "/api/v1/account"); // a user with no position still has an equity curve
    await t.trading.advance(60_000);
    const none = await t.db.owner`select count(*)::int as n from account_snapshots`;
    assertEquals(none[0]!.n, 0);

    await t.trading.advance(FIVE_MIN - 90_000); // 15:05:00
    const first = await t.db.owner<AccountRow[]>`
      select a.*, u.username from account_snapshots a join users u on u.id = a.user_id
      order by u.username`;
    assertEquals(first.map((r) => (r as unknown as { username: string }).username), [
      "sam",
      "tia",
    ]);
    const at = new Date(TEST_START_MS + FIVE_MIN);
    assertEquals(first.map((r) => r.ts.getTime()), [at.getTime(), at.getTime()]);
    // Sam's row is his account at that moment, exactly.
    const account = await (await t.as("sam", "/api/v1/account")).json();
    const sam = first[0]!;
    assertEquals([sam.cash, sam.equity, sam.long_market_value], [
      account.cash,
      account.equity,
      account.long_market_value,
    ]);
    assertEquals(
      Decimal.parse(sam.cash).add(Decimal.parse(sam.positions_value)).toString(),
      Decimal.parse(sam.equity).toString(),
    );
    assertEquals([first[1]!.equity, first[1]!.positions_value], ["100000", "0"]);
    const positions = await t.db.owner<{ symbol: string; qty: string; ts: Date }[]>`
      select symbol, qty, ts from position_snapshots`;
    assertEquals(positions.map((p) => [p.symbol, p.qty, p.ts.getTime()]), [
      ["AAPL", "3", at.getTime()],
    ]);
    // Row-level security: Tia reads only her own curve.
    const tiaId = first[1]!.user_id;
    const seen = await withTenant(
      t.db.sql,
      { userId: tiaId, role: "trader" },
      (tx) => tx<{ user_id: string }[]>`select user_id from account_snapshots`,
    );
    assertEquals(seen.map((r) => r.user_id), [tiaId]);

    await t.trading.advance(FIVE_MIN); // 15:10:00
    const count = async () =>
      (await t.db.owner`select count(*)::int as n from account_snapshots`)[0]!.n;
    assertEquals(await count(), 4);

    await engine.stop();
    await t.trading.advance(3 * FIVE_MIN);
    assertEquals(await count(), 4);
  } finally {
    await t.close();
  }
});
