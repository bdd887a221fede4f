/**
 * The read models the routes call (db/read_models/, db/bots.ts, db/users.ts): each reads as
 * the caller, so another trader's rows read as absent, and each answers what its route shows.
 * The routes' own tests (tests/routes) cover the same reads through HTTP.
 */
import { assertEquals } from "../_assert.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import { appendAudit } from "../../db/audit.ts";
import { findBot, insertBot, listBots, markBotDeleted, updateBotConfig } from "../../db/bots.ts";
import { readAuditRows } from "../../db/read_models/audit.ts";
import {
  currentOrderIdByClientId,
  listOrderRows,
  orderAuditRows,
  orderBookId,
  orderDetailRows,
} from "../../db/read_models/orders.ts";
import { dayFigures, findTrade, listTrades } from "../../db/read_models/trades.ts";
import { ensureUser, userIdByName } from "../../db/users.ts";
import { createTestDb, DB_TEST, type TestDb } from "../_helpers.ts";

interface OrderSeed {
  symbol?: string;
  status?: string;
  parentId?: string | null;
  botId?: string | null;
  createdAt: string;
}

async function insertOrder(db: TestDb, tenant: Tenant, seed: OrderSeed): Promise<string> {
  const id = crypto.randomUUID();
  await withTenant(
    db.sql,
    tenant,
    (tx) =>
      tx`insert into orders (id, user_id, client_order_id, created_at, updated_at, symbol, qty,
         type, side, time_in_force, status, parent_id, bot_id)
       values (${id}, ${tenant.userId}, ${"c-" + id}, ${seed.createdAt}, ${seed.createdAt},
         ${seed.symbol ?? "AAPL"}, '1', 'market', 'buy', 'day', ${seed.status ?? "new"},
         ${seed.parentId ?? null}, ${seed.botId ?? null})`,
  );
  return id;
}

Deno.test({ name: "read models: orders, as the caller only", ...DB_TEST }, async () => {
  const db = await createTestDb();
  try {
    const ann: Tenant = { userId: await ensureUser(db.sql, "ann", "trader"), role: "trader" };
    const bob: Tenant = { userId: await ensureUser(db.sql, "bob", "trader"), role: "trader" };
    const parent = await insertOrder(db, ann, {
      status: "filled",
      createdAt: "2026-11-23T15:00:00Z",
    });
    const leg = await insertOrder(db, ann, {
      status: "new",
      parentId: parent,
      createdAt: "2026-11-23T15:00:01Z",
    });
    const msft = await insertOrder(db, ann, {
      symbol: "MSFT",
      status: "canceled",
      createdAt: "2026-11-23T15:00:02Z",
    });
    const bobs = await insertOrder(db, bob, { createdAt: "2026-11-23T15:00:03Z" });

    const all = { statuses: null, limit: 50, direction: "asc" as const, nested: false };
    const listed = await listOrderRows(db.sql, ann, all);
    assertEquals(listed.orders.map((o) => o.id), [parent, leg, msft], "bob's order is not ann's");
    assertEquals(listed.legs, []);
    const desc = await listOrderRows(db.sql, ann, { ...all, direction: "desc", limit: 2 });
    assertEquals(desc.orders.map((o) => o.id), [msft, leg]);
    const none = await listOrderRows(db.sql, ann, { ...all, symbols: [] });
    assertEquals(none.orders.length, 0, "an empty symbol list matches none");
    const open = await listOrderRows(db.sql, ann, {
      ...all,
      statuses: ["new", "accepted"],
      nested: true,
    });
    assertEquals(open.orders.map((o) => o.id), [parent], "a filled parent with an open leg");
    assertEquals(open.legs.map((o) => o.id), [leg]);
    const manual = await listOrderRows(db.sql, ann, {
      ...all,
      botId: null,
      afterMs: Date.parse("2026-11-23T15:00:00Z"),
    });
    assertEquals(manual.orders.map((o) => o.id), [leg, msft], "after is exclusive");

    const detail = await orderDetailRows(db.sql, ann, parent);
    assertEquals({ ...detail, fills: detail.fills.length }, {
      fills: 0,
      botId: null,
      retryOf: null,
      retriedBy: null,
    });
    assertEquals(await orderBookId(db.sql, ann, parent), null);
    assertEquals(await currentOrderIdByClientId(db.sql, ann, "c-" + parent), parent);
    assertEquals(await currentOrderIdByClientId(db.sql, ann, "c-" + bobs), null);
    assertEquals(await orderAuditRows(db.sql, ann, bobs), null, "another trader's order");
    assertEquals((await orderAuditRows(db.sql, ann, parent))?.length, 0);
    assertEquals((await orderAuditRows(db.sql, bob, bobs))?.length, 0);
  } finally {
    await db.close();
  }
});

Deno.test({ name: "read models: bots, trades, audit and users", ...DB_TEST }, async () => {
  const db = await createTestDb();
  try {
    const annId = await ensureUser(db.sql, "ann", "trader");
    assertEquals(await ensureUser(db.sql, "ann", "trader"), annId, "one user per name");
    assertEquals(await userIdByName(db.sql, "ann"), annId);
    assertEquals(await userIdByName(db.sql, "nobody"), null);
    const ann: Tenant = { userId: annId, role: "trader" };
    const bob: Tenant = { userId: await ensureUser(db.sql, "bob", "trader"), role: "trader" };

    const config = { name: "x", strategy: "sma_cross", symbols: ["AAPL"] };
    const bot = await withTenant(
      db.sql,
      ann,
      (tx) => insertBot(tx, annId, { name: "x", strategy: "sma_cross", config }),
    );
    assertEquals([bot.name, bot.status, bot.config], ["x", "stopped", config]);
    assertEquals((await findBot(db.sql, ann, bot.id))?.id, bot.id);
    assertEquals(await findBot(db.sql, bob, bot.id), null, "another trader's bot");
    assertEquals((await listBots(db.sql, bob)).length, 0);
    const renamed = await withTenant(
      db.sql,
      ann,
      (tx) => updateBotConfig(tx, bot.id, { name: "y", strategy: "sma_cross", config }),
    );
    assertEquals(renamed?.name, "y");
    assertEquals(
      await withTenant(
        db.sql,
        bob,
        (tx) => updateBotConfig(tx, bot.id, { name: "z", strategy: "sma_cross", config }),
      ),
      null,
    );
    await withTenant(db.sql, ann, (tx) => markBotDeleted(tx, bot.id));
    assertEquals(await findBot(db.sql, ann, bot.id), null, "deleted");
    assertEquals((await listBots(db.sql, ann)).length, 0);

    const filter = { fromMs: null, toMs: null };
    const page = { sort: "closed_at" as const, order: "desc" as const, page: 1, pageSize: 10 };
    const trades = await listTrades(db.sql, ann, { filter, page });
    assertEquals([trades.items.length, trades.total], [0, 0]);
    assertEquals(await findTrade(db.sql, ann, crypto.randomUUID()), null);
    assertEquals(await dayFigures(db.sql, ann, 0), {
      trades: 0,
      realizedPl: "0",
      runningBots: 0,
    });

    await withTenant(db.sql, ann, (tx) =>
      appendAudit(tx, {
        userId: annId,
        botId: bot.id,
        action: "BOT_DELETED",
        status: "ok",
        payload: { name: "y" },
        correlationId: null,
      }));
    const read = (tenant: Tenant, filter = {}) =>
      readAuditRows(db.sql, tenant, { filter, afterSeq: "0", limit: 10 });
    const mine = await read(ann, { action: "BOT_DELETED" });
    assertEquals(mine.map((r) => [r.username, r.bot_id, r.payload]), [["ann", bot.id, {
      name: "y",
    }]]);
    assertEquals((await read(ann, { action: "ORDER_FILLED" })).length, 0);
    assertEquals((await read(bob)).length, 0, "ann's audit rows are not bob's");
  } finally {
    await db.close();
  }
});
