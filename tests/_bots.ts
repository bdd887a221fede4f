/**
 * Helpers for bot tests: a trend-following bot config, creating a bot over HTTP, and a second
 * bot manager on a test app's trading stack (a restarted engine, or Worker placement).
 *
 * @module
 */
import { assertEquals } from "./_assert.ts";
import { BotManager, type BotManagerOptions } from "../actors/bots/manager.ts";
import type { Tenant } from "../db/database.ts";
import type { TestApp } from "./_helpers.ts";

/** An sma_cross bot on AAPL minute bars with bracket exits at -2% / +4%. */
export const TREND = {
  name: "trend",
  strategy: "sma_cross",
  symbols: ["AAPL"],
  timeframe: "1Min",
  params: { fast: 2, slow: 5 },
  stop_loss: { percent: "2" },
  take_profit: { percent: "4" },
};

/** Creates a bot for `user` over HTTP; answers its id. */
export async function createBot(t: TestApp, user: string, config: unknown): Promise<string> {
  const res = await t.as(user, "/api/v1/bots", { method: "POST", json: config });
  assertEquals(res.status, 201, await res.clone().text());
  return (await res.json()).id;
}

/** The tenant of a user the test app has already seen. */
export async function tenantOf(t: TestApp, username: string): Promise<Tenant> {
  const [row] = await t.db.owner<{ id: string }[]>`
    select id from users where username = ${username}`;
  return { userId: row!.id, role: "trader" };
}

/** Another bot manager on the app's database, engine, venue, bus and clock (inline unless told). */
export function botManager(t: TestApp, options: Partial<BotManagerOptions> = {}): BotManager {
  const { engine, venue, bus, clock } = t.trading;
  return new BotManager({
    sql: t.db.sql,
    engine,
    venue: venue.marketData,
    bus,
    clock,
    placement: "inline",
    ...options,
  });
}
