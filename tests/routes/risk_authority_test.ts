/**
 * The chain of authority over risk limits and the trading state: engine defaults → an admin's
 * limits for a user → the user's own → a bot's own; each layer only tightens the ones above,
 * and a halt an admin set is lifted only by an admin.
 */
import { assert, assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";
import { dec } from "../../core/decimal.ts";
import { parseOrderRequest } from "../../core/order.ts";
import { isTradeError } from "../../core/errors.ts";
import { withTenant } from "../../db/database.ts";

async function put(t: TestApp, user: string, json: unknown, as?: { admin: string }) {
  const res = as
    ? await t.as(as.admin, `/api/v1/risk/limits?username=${user}`, {
      method: "PUT",
      role: "admin",
      json,
    })
    : await t.as(user, "/api/v1/risk/limits", { method: "PUT", json });
  return { status: res.status, body: await res.json() };
}

async function state(t: TestApp, user: string, action: string, admin?: string, reason?: string) {
  const res = admin
    ? await t.as(admin, `/api/v1/risk/${action}`, {
      method: "POST",
      role: "admin",
      json: { username: user, ...(reason ? { reason } : {}) },
    })
    : await t.as(user, `/api/v1/risk/${action}`, {
      method: "POST",
      json: reason ? { reason } : {},
    });
  return { status: res.status, body: await res.json() };
}

async function order(t: TestApp, user: string, body: Record<string, unknown>) {
  const res = await t.as(user, "/api/v1/orders", {
    method: "POST",
    json: { side: "buy", type: "market", time_in_force: "day", symbol: "AAPL", ...body },
  });
  return { status: res.status, body: await res.json() };
}

async function auditRows(t: TestApp, user: string) {
  return await t.db.owner<
    { action: string; status: string; payload: Record<string, unknown> }[]
  >`select action, status, payload from execution_logs
    where user_id = (select id from users where username = ${user})
      and (action like 'RISK%' or action like 'TRADING%')
    order by seq`;
}

Deno.test({
  name: "risk authority: a trader cannot loosen past the engine default or an admin's limit, " +
    "nor clear an admin's",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({
    trading: { limits: { max_orders_per_minute: 100, max_position_value: dec("25000") } },
  });
  try {
    // Above the engine default: refused, naming the field and the ceiling; nothing stored.
    const raise = await put(t, "ann", { max_orders_per_minute: 1000000 });
    assertEquals([raise.status, raise.body.error.code], [403, "RISK_LIMIT_ABOVE_CEILING"]);
    assertEquals(
      raise.body.error.message,
      'Cannot set risk limits: max_orders_per_minute "1000000" exceeds the engine default "100" (a limit may only tighten the limits above it)',
    );
    assertEquals(raise.body.error.details.violations, [{
      field: "max_orders_per_minute",
      requested: "1000000",
      ceiling: "100",
      ceiling_source: "default",
    }]);
    assertEquals(
      (await t.db.owner`select 1 from risk_limits`).length + (await auditRows(t, "ann")).length,
      0,
    );

    // Tightening is fine, and the view says where each effective value comes from.
    const own = await put(t, "ann", { max_orders_per_minute: 50 });
    assertEquals(own.status, 200);
    assertEquals(own.body.effective.max_orders_per_minute, 50);
    assertEquals(own.body.sources.max_orders_per_minute, "user");
    assertEquals(own.body.sources.max_position_value, "default");
    assertEquals(own.body.sources.max_order_notional, null);

    // An admin's layer for ann: its own row, tighter than the defaults.
    const admin = await put(t, "ann", { max_order_notional: "1000", max_orders_per_minute: 20 }, {
      admin: "root",
    });
    assertEquals(admin.status, 200, JSON.stringify(admin.body));
    assertEquals(admin.body.admin_limits.max_order_notional, "1000");
    assertEquals(admin.body.limits.max_orders_per_minute, 50);
    assertEquals(admin.body.effective.max_orders_per_minute, 20);
    assertEquals(admin.body.sources.max_orders_per_minute, "admin");
    // Even an admin cannot exceed the engine defaults (the operator sets those).
    const adminRaise = await put(t, "ann", { max_position_value: "30000" }, { admin: "root" });
    assertEquals([adminRaise.status, adminRaise.body.error.code], [
      403,
      "RISK_LIMIT_ABOVE_CEILING",
    ]);
    assert(adminRaise.body.error.message.includes('for "ann"'), adminRaise.body.error.message);

    // ann cannot loosen past the admin's limit...
    const past = await put(t, "ann", { max_order_notional: "5000" });
    assertEquals([past.status, past.body.error.code], [403, "RISK_LIMIT_ABOVE_CEILING"]);
    assertEquals(past.body.error.details.violations[0].ceiling, "1000");
    assertEquals(past.body.error.details.violations[0].ceiling_source, "admin");
    // ...and her null clears only her own layer: the admin's limits still apply.
    const cleared = await put(t, "ann", { max_order_notional: null, max_orders_per_minute: null });
    assertEquals(cleared.status, 200);
    assertEquals(cleared.body.limits.max_orders_per_minute, null);
    assertEquals(cleared.body.effective.max_order_notional, "1000");
    assertEquals(cleared.body.effective.max_orders_per_minute, 20);
    assertEquals(cleared.body.sources.max_order_notional, "admin");

    // The engine enforces the admin's layer and the user's tighter one.
    const big = await order(t, "ann", { qty: "50" });
    assertEquals([big.status, big.body.error?.code], [422, "RISK_MAX_ORDER_NOTIONAL"]);
    assertEquals(big.body.error.details.limit, "1000");
    assertEquals((await put(t, "ann", { max_order_notional: "1" })).status, 200);
    const small = await order(t, "ann", { qty: "1" });
    assertEquals([small.status, small.body.error?.details.limit], [422, "1"]);

    // Every change is an audit row naming who made it, with their role and the layer.
    const rows = await auditRows(t, "ann");
    const ids = await t.db.owner<{ id: string }[]>`
      select id from users where username in ('ann', 'root') order by username`;
    const [annId, rootId] = ids.map((r) => r.id);
    assertEquals(
      rows.map((r) => [r.action, r.payload.by_user_id, r.payload.by_role, r.payload.layer]),
      [
        ["RISK_LIMITS_SET", annId, "trader", "user"],
        ["RISK_LIMITS_SET", rootId, "admin", "admin"],
        ["RISK_LIMITS_SET", annId, "trader", "user"],
        ["RISK_LIMITS_SET", annId, "trader", "user"],
      ],
    );
    // An admin who trades reads only their own limits and state (RLS lets them see everyone's).
    assertEquals((await put(t, "dan", { max_order_notional: "5" })).status, 200);
    await state(t, "dan", "halt");
    const adminOrder = await t.as("root", "/api/v1/orders", {
      method: "POST",
      role: "admin",
      json: { symbol: "AAPL", qty: "1", side: "buy", type: "market", time_in_force: "day" },
    });
    assertEquals(adminOrder.status, 201, await adminOrder.clone().text());
    const rootView = await (await t.as("root", "/api/v1/risk/limits", { role: "admin" })).json();
    assertEquals([rootView.state, rootView.effective.max_order_notional], ["active", null]);

    assertEquals((rows[2]!.payload.before as Record<string, unknown>).max_orders_per_minute, 50);
    assertEquals((rows[2]!.payload.limits as Record<string, unknown>).max_orders_per_minute, null);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "risk authority: an admin's halt is lifted only by an admin; a trader lifts only their own",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    // Her own kill switch, on and off.
    const self = await state(t, "bea", "halt", undefined, "lunch");
    assertEquals([self.body.state, self.body.state_set_by], ["halted", "user"]);
    assertEquals((await state(t, "bea", "resume")).body.state, "active");

    // An admin's halt: bea can neither resume nor reduce out of it.
    const halted = await state(t, "bea", "halt", "root", "review");
    assertEquals([halted.body.state, halted.body.state_set_by], ["halted", "admin"]);
    const resume = await state(t, "bea", "resume");
    assertEquals([resume.status, resume.body.error.code], [403, "TRADING_STATE_SET_BY_ADMIN"]);
    assertEquals(
      resume.body.error.message,
      'Cannot resume trading: an admin halted it ("review"); only an admin can lift it',
    );
    const reduce = await state(t, "bea", "reduce");
    assertEquals([reduce.status, reduce.body.error.code], [403, "TRADING_STATE_SET_BY_ADMIN"]);
    const denied = await order(t, "bea", { qty: "1" });
    assertEquals([denied.status, denied.body.error.code], [403, "TRADING_HALTED"]);
    // Tightening her own layer under the admin's halt is allowed.
    assertEquals((await state(t, "bea", "halt", undefined, "me too")).status, 200);

    // The admin sets her state outright: reducing, her stricter own halt lifted to it.
    const reducing = await state(t, "bea", "reduce", "root");
    assertEquals([reducing.body.state, reducing.body.state_set_by], ["reducing", "admin"]);
    assertEquals(reducing.body.states.user.state, "reducing");
    assertEquals((await state(t, "bea", "resume")).status, 403);
    // Her own halt over the admin's reduce is hers to lift back down to it.
    assertEquals((await state(t, "bea", "halt")).body.state_set_by, "user");
    assertEquals((await state(t, "bea", "reduce")).body.state, "reducing");

    const lifted = await state(t, "bea", "resume", "root");
    assertEquals([lifted.body.state, lifted.body.state_set_by], ["active", null]);
    assertEquals((await order(t, "bea", { qty: "1" })).status, 201);

    // The database itself refuses a trader's write to the admin's layer.
    const [bea] = await t.db.owner<{ id: string }[]>`select id from users where username = 'bea'`;
    await state(t, "bea", "halt", "root");
    const touched = await withTenant(
      t.db.sql,
      { userId: bea!.id, role: "trader" },
      (tx) => tx`update trading_states set state = 'active' where layer = 'admin' returning 1`,
    );
    assertEquals(touched.length, 0);
    let refused = "";
    try {
      await withTenant(
        t.db.sql,
        { userId: bea!.id, role: "trader" },
        (tx) =>
          tx`insert into risk_limits (user_id, layer, max_order_notional)
           values (${bea!.id}, 'admin', 1000000)`,
      );
    } catch (e) {
      refused = (e as Error).message;
    }
    assert(refused.includes("row-level security"), refused);

    // Every change is on bea's trail with who made it; refusals changed nothing.
    const rows = await auditRows(t, "bea");
    assertEquals(
      rows.map((r) => [r.action, r.status, r.payload.by, r.payload.by_role, r.payload.layer]),
      [
        ["TRADING_HALTED", "halted", "bea", "trader", "user"],
        ["TRADING_RESUMED", "active", "bea", "trader", "user"],
        ["TRADING_HALTED", "halted", "root", "admin", "admin"],
        ["TRADING_HALTED", "halted", "bea", "trader", "user"],
        ["TRADING_REDUCING", "reducing", "root", "admin", "admin"],
        ["TRADING_HALTED", "halted", "bea", "trader", "user"],
        ["TRADING_REDUCING", "reducing", "bea", "trader", "user"],
        ["TRADING_RESUMED", "active", "root", "admin", "admin"],
        ["TRADING_HALTED", "halted", "root", "admin", "admin"],
      ],
    );
    assertEquals(rows[4]!.payload.before, { state: "halted", set_by: "admin" });
    assertEquals(rows[4]!.payload.after, { state: "reducing", set_by: "admin" });
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "risk authority: a bot's own limits cannot exceed its owner's, and they apply to its orders",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: { limits: { max_orders_per_minute: 100 } } });
  const bot = (risk: Record<string, unknown>, name = "b1") =>
    t.as("cal", "/api/v1/bots", {
      method: "POST",
      json: { name, strategy: "sma_cross", symbols: ["AAPL"], risk },
    });
  try {
    assertEquals((await put(t, "cal", { max_order_notional: "1000" })).status, 200);
    const loose = await bot({ max_order_notional: "5000", max_orders_per_minute: 1000 });
    const body = await loose.json();
    assertEquals([loose.status, body.error.code], [403, "RISK_LIMIT_ABOVE_CEILING"]);
    assertEquals(
      body.error.details.violations.map((v: Record<string, string>) => [
        v.field,
        v.ceiling,
        v.ceiling_source,
      ]),
      [["risk.max_order_notional", "1000", "user"], [
        "risk.max_orders_per_minute",
        "100",
        "default",
      ]],
    );
    assert(body.error.message.startsWith('Cannot configure bot "b1": '), body.error.message);
    assertEquals((await t.db.owner`select 1 from bots`).length, 0);

    const ok = await bot({ max_order_notional: "10" });
    assertEquals(ok.status, 201);
    const { id } = await ok.json();
    const patched = await t.as("cal", `/api/v1/bots/${id}`, {
      method: "PATCH",
      json: { risk: { max_order_notional: "2000" } },
    });
    assertEquals([patched.status, (await patched.json()).error.code], [
      403,
      "RISK_LIMIT_ABOVE_CEILING",
    ]);

    // Setting a bot's limits is on the audit trail too; a change without them writes none.
    const renamed = await t.as("cal", `/api/v1/bots/${id}`, {
      method: "PATCH",
      json: { name: "b2", risk: { max_order_notional: "10.0" } },
    });
    assertEquals(renamed.status, 200);
    const botRows = await t.db.owner<{ bot_id: string; payload: Record<string, unknown> }[]>`
      select bot_id, payload from execution_logs
      where action = 'RISK_LIMITS_SET' and bot_id is not null`;
    assertEquals(botRows.map((r) => [r.bot_id, r.payload.by, r.payload.by_role, r.payload.layer]), [
      [id, "cal", "trader", "bot"],
    ]);
    assertEquals((botRows[0]!.payload.limits as Record<string, unknown>).max_order_notional, "10");

    // The bot's own limit applies to the orders it places (and not to its owner's).
    const [cal] = await t.db.owner<{ id: string }[]>`select id from users where username = 'cal'`;
    const request = parseOrderRequest({
      symbol: "AAPL",
      qty: "1",
      side: "buy",
      type: "market",
      time_in_force: "day",
    });
    let code = "";
    let limit = "";
    try {
      await t.trading.engine.submit({
        tenant: { userId: cal!.id, role: "trader" },
        request,
        botId: id,
        correlationId: crypto.randomUUID(),
      });
    } catch (e) {
      if (!isTradeError(e)) throw e;
      code = e.code;
      limit = String(e.details.limit);
    }
    assertEquals([code, limit], ["RISK_MAX_ORDER_NOTIONAL", "10"]);
    assertEquals((await order(t, "cal", { qty: "1" })).status, 201);
  } finally {
    await t.close();
  }
});
