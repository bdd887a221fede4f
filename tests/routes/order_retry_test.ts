/**
 * A client order id whose order provably never reached the venue may be submitted again, and
 * the retry places the order: the 503 that says "it is safe to retry with the same
 * client_order_id" tells the truth. The earlier attempt stays in the ledger and its audit
 * trail, linked both ways (`retry_of`, `retried_by`). Every other reuse keeps its rule.
 */
import { assert, assertEquals } from "../_assert.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";
import { type Faults, faultyVenue } from "../_faults.ts";
import { ExecutionEngine } from "../../actors/execution_engine.ts";
import { MessageBus } from "../../actors/bus.ts";
import { seededIdSource } from "../../core/ids.ts";
import { createOrder, orderRequestSchema } from "../../core/order.ts";
import { orderFingerprint } from "../../core/order_identity.ts";
import { TradeError } from "../../core/errors.ts";
import { withTenant } from "../../db/database.ts";
import { insertOrder, markRetried } from "../../db/ledger.ts";
import type { ResilienceOptions } from "../../brokers/resilient.ts";

async function place(
  t: TestApp,
  user: string,
  body: Record<string, unknown>,
) {
  const res = await t.as(user, "/api/v1/orders", { method: "POST", json: body });
  return { status: res.status, body: await res.json() };
}

async function get(t: TestApp, user: string, path: string) {
  const res = await t.as(user, `/api/v1${path}`);
  assertEquals(res.status, 200, path);
  return await res.json();
}

async function userId(t: TestApp, name: string): Promise<string> {
  const [row] = await t.db.owner<{ id: string }[]>`
    select tradewind_ensure_user(${name}, 'trader') as id`;
  return row!.id;
}

function noFaults(): Faults {
  return {
    hangAfterSubmit: false,
    hangBeforeSubmit: false,
    dropEvents: false,
    down: false,
    rejectSubmit: null,
  };
}

const FAST: ResilienceOptions = {
  timeoutMs: 100,
  attempts: 2,
  initialDelayMs: 1,
  breakerThreshold: 50,
};

/** A second engine process on the same ledger and venue (its own breaker and memory). */
function secondEngine(t: TestApp, faults: Faults, resilience: ResilienceOptions = FAST) {
  return new ExecutionEngine({
    sql: t.db.sql,
    venue: faultyVenue(t.trading.venue, faults),
    clock: t.trading.clock,
    ids: seededIdSource(4242),
    bus: new MessageBus(),
    defaultLimits: {},
    reconcileEveryMs: 0,
    snapshotEveryMs: 0,
    resilience,
  });
}

interface Row {
  id: string;
  status: string;
  reject_reason: string | null;
  retry_of: string | null;
  retried_by: string | null;
}

async function rowsOf(t: TestApp, clientOrderId: string): Promise<Map<string, Row>> {
  const rows = await t.db.owner<Row[]>`
    select id, status, reject_reason, retry_of, retried_by from orders
    where client_order_id = ${clientOrderId}`;
  return new Map(rows.map((r) => [r.id, r]));
}

const BUY = {
  symbol: "AAPL",
  qty: "1",
  side: "buy",
  type: "market",
  time_in_force: "day",
};

Deno.test({
  name:
    "order retry: a submit that timed out and was not found at the venue is retried with its client_order_id and placed",
  ...DB_TEST,
}, async () => {
  const faults = noFaults();
  const t = await createTestApp({
    trading: { wrap: (v) => faultyVenue(v, faults), resilience: FAST },
  });
  try {
    const body = { ...BUY, client_order_id: "lost-1" };
    faults.hangBeforeSubmit = true;
    const first = await place(t, "ana", body);
    assertEquals([first.status, first.body.error.code], [503, "BROKER_UNAVAILABLE"]);
    assert(
      first.body.error.message.endsWith(
        `has no order "lost-1": nothing was placed; it is safe to retry with the same client_order_id`,
      ),
      first.body.error.message,
    );
    const a = first.body.error.details.order_id as string;
    // The retry is lost too: a second attempt, linked to the first.
    const second = await place(t, "ana", body);
    assertEquals(second.status, 503, JSON.stringify(second.body));
    const b = second.body.error.details.order_id as string;
    assert(b !== a, "a second attempt is a new order");
    faults.hangBeforeSubmit = false;
    // The id holds nothing now: validation sees no conflict, whatever the request.
    const check = await t.as("ana", "/api/v1/orders/validate", {
      method: "POST",
      json: { ...body, qty: "2" },
    });
    assertEquals((await check.json()).errors, []);

    // Doing what the message said places the order.
    const retry = await place(t, "ana", body);
    assertEquals(retry.status, 201, JSON.stringify(retry.body));
    const c = retry.body.id as string;
    assert(c !== a && c !== b, "the retry is a new order");
    assertEquals([retry.body.client_order_id, retry.body.retry_of], ["lost-1", b]);

    // Once placed, the id is that order's: the same request answers it, another is refused.
    const again = await place(t, "ana", body);
    assertEquals([again.status, again.body.id], [200, c], JSON.stringify(again.body));
    assertEquals(again.body.retry_of, undefined);
    const other = await place(t, "ana", { ...body, qty: "2" });
    assertEquals([other.status, other.body.error?.code], [422, "CLIENT_ORDER_ID_CONFLICT"]);
    assertEquals(other.body.error.details.existing_order_id, c);

    await t.trading.advance(1_000);
    const rows = await rowsOf(t, "lost-1");
    assertEquals(rows.size, 3);
    assertEquals(rows.get(a), {
      id: a,
      status: "rejected",
      reject_reason: "BROKER_TIMEOUT",
      retry_of: null,
      retried_by: b,
    });
    assertEquals(rows.get(b), {
      id: b,
      status: "rejected",
      reject_reason: "BROKER_TIMEOUT",
      retry_of: a,
      retried_by: c,
    });
    assertEquals(rows.get(c), {
      id: c,
      status: "filled",
      reject_reason: null,
      retry_of: b,
      retried_by: null,
    });
    // One order reached the venue; one position.
    const uid = await userId(t, "ana");
    const venueOrders = await t.trading.venue.brokerFor(uid).listOrders({ status: "all" });
    assertEquals(venueOrders.map((o) => o.client_order_id), ["lost-1"]);
    const positions = await get(t, "ana", "/positions");
    assertEquals(positions.map((p: { qty: string }) => p.qty), ["1"]);

    // The client order id answers the live order; each attempt keeps its own, linked.
    const byKey = await get(t, "ana", "/orders/by-client-id/lost-1");
    assertEquals([byKey.id, byKey.status, byKey.retry_of, byKey.retried_by], [
      c,
      "filled",
      b,
      null,
    ]);
    const attempt = await get(t, "ana", `/orders/${a}`);
    assertEquals([attempt.status, attempt.retry_of, attempt.retried_by], ["rejected", null, b]);
    const listed = await get(t, "ana", "/orders?status=all");
    assertEquals(listed.map((o: { id: string }) => o.id).sort(), [a, b, c].sort());

    // Each attempt's trail ends with the order that took its id; the retry names its attempt.
    const trail = async (id: string) =>
      (await get(t, "ana", `/orders/${id}/audit`)) as {
        action: string;
        payload: Record<string, unknown>;
      }[];
    const trailA = await trail(a);
    // (The key's later denial, the conflict above, is on the live order's trail, not here.)
    assertEquals(trailA.map((r) => r.action), [
      "SUBMITTED",
      "VALIDATED",
      "SENT",
      "REJECTED",
      "RETRIED",
    ]);
    assertEquals(trailA.at(-1)!.payload.retried_by, b);
    assertEquals((await trail(b)).at(-1)!.payload.retried_by, c);
    const trailC = await trail(c);
    assertEquals(trailC[0]!.action, "SUBMITTED");
    assertEquals(trailC[0]!.payload.retry_of, b);
    assert(trailC.some((r) => r.action === "FILLED"));
    assert(trailC.some((r) => r.action === "DENIED"), "the conflict under its key");
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "order retry: racing retries of an attempt that never reached the venue place one order",
  ...DB_TEST,
}, async () => {
  const faults = noFaults();
  const t = await createTestApp({
    trading: { wrap: (v) => faultyVenue(v, faults), resilience: FAST },
  });
  try {
    const body = { ...BUY, client_order_id: "race-retry" };
    faults.hangBeforeSubmit = true;
    const lost = await place(t, "bea", body);
    assertEquals(lost.status, 503);
    faults.hangBeforeSubmit = false;

    const results = await Promise.all([1, 2, 3, 4].map(() => place(t, "bea", body)));
    assertEquals(results.map((r) => r.status).sort(), [200, 200, 200, 201]);
    const ids = new Set(results.map((r) => r.body.id));
    assertEquals(ids.size, 1);
    const rows = await rowsOf(t, "race-retry");
    assertEquals(rows.size, 2);
    const live = [...rows.values()].filter((r) => r.retried_by === null);
    assertEquals(live.map((r) => r.id), [...ids]);
    const uid = await userId(t, "bea");
    assertEquals((await t.trading.venue.brokerFor(uid).listOrders({ status: "all" })).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "order retry: two engine processes retrying one attempt at once place one order, and both answer it",
  ...DB_TEST,
}, async () => {
  const faults = noFaults();
  const t = await createTestApp({
    trading: { wrap: (v) => faultyVenue(v, faults), resilience: FAST },
  });
  const other = secondEngine(t, faults);
  try {
    const body = { ...BUY, client_order_id: "two-engines" };
    faults.hangBeforeSubmit = true;
    const lost = await place(t, "cy", body);
    assertEquals(lost.status, 503);
    faults.hangBeforeSubmit = false;

    const tenant = { userId: await userId(t, "cy"), role: "trader" as const };
    const request = orderRequestSchema.parse(body);
    const results = await Promise.all(
      [t.trading.engine, other].map((engine, i) =>
        engine.submit({ tenant, request, correlationId: crypto.randomUUID() }).then((r) => ({
          i,
          id: r.order.id,
          created: r.created,
        }))
      ),
    );
    assertEquals(results.filter((r) => r.created).length, 1, JSON.stringify(results));
    assertEquals(results[0]!.id, results[1]!.id);
    const rows = await rowsOf(t, "two-engines");
    assertEquals(rows.size, 2);
    assertEquals(rows.get(results[0]!.id)!.retry_of, lost.body.error.details.order_id);
    assertEquals(
      (await t.trading.venue.brokerFor(tenant.userId).listOrders({ status: "all" })).length,
      1,
    );
  } finally {
    await other.stop();
    await t.close();
  }
});

Deno.test({
  name:
    "order retry: an order refused before it left (circuit open) says it is safe to retry, and the retry places it",
  ...DB_TEST,
}, async () => {
  const faults = noFaults();
  const resilience = { ...FAST, attempts: 1, breakerThreshold: 1, halfOpenAfterMs: 600_000 };
  const t = await createTestApp({
    trading: { wrap: (v) => faultyVenue(v, faults), resilience },
  });
  // The engine after a restart: its breaker is closed.
  const restarted = secondEngine(t, faults);
  try {
    // A resting order (no fill): the engine keeps what it read of the asset and the account.
    const quote = await t.trading.venue.latestQuote("AAPL");
    const warm = await place(t, "dee", {
      ...BUY,
      type: "limit",
      limit_price: (quote.bp - 5).toFixed(2),
      client_order_id: "warm",
    });
    assertEquals(warm.status, 201, JSON.stringify(warm.body));
    const uid = await userId(t, "dee");
    // One failed call opens the breaker.
    faults.down = true;
    await t.trading.engine.brokerFor(uid).getAccount().then(
      () => assert(false, "the venue is down"),
      () => {},
    );
    faults.down = false;

    const body = { ...BUY, client_order_id: "cb-1" };
    const refused = await place(t, "dee", body);
    assertEquals([refused.status, refused.body.error.code], [503, "BROKER_UNAVAILABLE"]);
    assertEquals(
      refused.body.error.message,
      "The paper venue is unavailable (circuit open after repeated failures); nothing was sent; it is safe to retry with the same client_order_id",
    );
    const attempt = refused.body.error.details.order_id as string;
    assertEquals((await rowsOf(t, "cb-1")).get(attempt)!.reject_reason, "NOT_SENT");

    const retried = await restarted.submit({
      tenant: { userId: uid, role: "trader" },
      request: orderRequestSchema.parse(body),
      correlationId: crypto.randomUUID(),
    });
    assertEquals([retried.created, retried.retryOf], [true, attempt]);
    assert(retried.order.id !== attempt);
    assertEquals((await rowsOf(t, "cb-1")).get(attempt)!.retried_by, retried.order.id);
    const venueOrders = await t.trading.venue.brokerFor(uid).listOrders({ status: "all" });
    assertEquals(venueOrders.map((o) => o.client_order_id).sort(), ["cb-1", "warm"]);
  } finally {
    await restarted.stop();
    await t.close();
  }
});

Deno.test({
  name:
    "order retry: an order reconciliation found never sent (the engine stopped before sending) frees its client_order_id",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const uid = await userId(t, "eve");
    const tenant = { userId: uid, role: "trader" as const };
    const request = orderRequestSchema.parse({ ...BUY, client_order_id: "crashed-1" });
    // What a crash between the write-ahead SENT and the venue call leaves: an open order the
    // venue never saw.
    const { order } = createOrder(request, {
      ids: seededIdSource(5),
      tsMs: t.trading.clock.now(),
      assetId: "",
      status: "accepted",
    });
    await withTenant(t.db.sql, tenant, (tx) =>
      insertOrder(tx, order, {
        userId: uid,
        broker: "paper",
        correlationId: crypto.randomUUID(),
        request: orderFingerprint(request) as unknown as Record<string, unknown>,
      }));
    const before = await place(t, "eve", { ...BUY, client_order_id: "crashed-1" });
    assertEquals([before.status, before.body.id], [200, order.id], "still open: the same order");

    assertEquals((await t.trading.engine.reconcile([uid])).changes, 1);
    assertEquals((await rowsOf(t, "crashed-1")).get(order.id)!.reject_reason, "NOT_RECEIVED");

    // The id is free: the retry may be another request (here 2 shares, not 1).
    const retry = await place(t, "eve", { ...BUY, qty: "2", client_order_id: "crashed-1" });
    assertEquals(retry.status, 201, JSON.stringify(retry.body));
    assertEquals([retry.body.retry_of, retry.body.qty], [order.id, "2"]);
    await t.trading.advance(1_000);
    const byKey = await get(t, "eve", "/orders/by-client-id/crashed-1");
    assertEquals([byKey.id, byKey.status], [retry.body.id, "filled"]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "order retry: an order the venue rejected, or received before a timeout, keeps its client_order_id",
  ...DB_TEST,
}, async () => {
  const faults = noFaults();
  const t = await createTestApp({
    trading: { wrap: (v) => faultyVenue(v, faults), resilience: FAST },
  });
  try {
    // The venue's own refusal reached the venue: the same request answers the rejected order.
    faults.rejectSubmit = new TradeError(
      "INSUFFICIENT_BUYING_POWER",
      "Insufficient buying power at the venue",
    );
    const body = { ...BUY, client_order_id: "venue-no" };
    const refused = await place(t, "fay", body);
    assertEquals([refused.status, refused.body.error?.code], [403, "INSUFFICIENT_BUYING_POWER"]);
    faults.rejectSubmit = null;
    const same = await place(t, "fay", body);
    assertEquals([same.status, same.body.status], [200, "rejected"], JSON.stringify(same.body));
    const other = await place(t, "fay", { ...body, qty: "2" });
    assertEquals([other.status, other.body.error?.code], [422, "CLIENT_ORDER_ID_CONFLICT"]);
    assertEquals((await rowsOf(t, "venue-no")).size, 1);

    // A timeout after the venue took the order: recovered, and the id stays that order's.
    faults.hangAfterSubmit = true;
    const late = await place(t, "fay", { ...BUY, client_order_id: "late-1" });
    faults.hangAfterSubmit = false;
    assertEquals(late.status, 201, JSON.stringify(late.body));
    const lateAgain = await place(t, "fay", { ...BUY, client_order_id: "late-1" });
    assertEquals([lateAgain.status, lateAgain.body.id], [200, late.body.id]);
    const uid = await userId(t, "fay");
    const venueOrders = await t.trading.venue.brokerFor(uid).listOrders({ status: "all" });
    assertEquals(venueOrders.map((o) => o.client_order_id), ["late-1"]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "order retry: a denied order holds no client_order_id; the corrected order takes it and its trail shows the denial",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const denied = await place(t, "gus", { ...BUY, qty: "100000", client_order_id: "fix-me" });
    assertEquals([denied.status, denied.body.error?.code], [403, "INSUFFICIENT_BUYING_POWER"]);
    const placed = await place(t, "gus", { ...BUY, client_order_id: "fix-me" });
    assertEquals(placed.status, 201, JSON.stringify(placed.body));
    assertEquals(placed.body.retry_of, undefined);
    const trail = await get(t, "gus", `/orders/${placed.body.id}/audit`);
    assertEquals(trail.slice(0, 2).map((r: { action: string }) => r.action), [
      "DENIED",
      "SUBMITTED",
    ]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name:
    "order retry: a retry that finds its attempt taken while it waited answers the order that took it",
  ...DB_TEST,
}, async () => {
  const faults = noFaults();
  const t = await createTestApp({
    trading: { wrap: (v) => faultyVenue(v, faults), resilience: FAST },
  });
  try {
    const body = { ...BUY, client_order_id: "taken-1" };
    faults.hangBeforeSubmit = true;
    const lost = await place(t, "hal", body);
    assertEquals(lost.status, 503);
    faults.hangBeforeSubmit = false;
    const attempt = lost.body.error.details.order_id as string;
    const uid = await userId(t, "hal");
    const tenant = { userId: uid, role: "trader" as const };
    const request = orderRequestSchema.parse(body);

    // Another process's retry: it has taken the attempt and recorded its order, not committed.
    const other = await t.db.sql.reserve();
    const { order: theirs } = createOrder(request, {
      ids: seededIdSource(6),
      tsMs: t.trading.clock.now(),
      assetId: "",
      status: "accepted",
    });
    try {
      await other`begin`;
      await other`select set_config('tradewind.user_id', ${uid}, true),
                         set_config('tradewind.user_role', 'trader', true)`;
      assertEquals(await markRetried(other, attempt, theirs.id), true);
      await insertOrder(other, theirs, {
        userId: uid,
        broker: "paper",
        correlationId: crypto.randomUUID(),
        request: orderFingerprint(request) as unknown as Record<string, unknown>,
        retryOf: attempt,
      });
      // This engine's retry read the attempt as free and waits on its row.
      const mine = t.trading.engine.submit({ tenant, request, correlationId: crypto.randomUUID() });
      let waiting = 0;
      // (Polled on the server's own view of its waiters, not timed.)
      for (let i = 0; i < 10_000 && waiting === 0; i++) {
        const [row] = await t.db.owner<{ waiting: number }[]>`
          select count(*)::int as waiting from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'
            and query like '%set retried_by%'`;
        waiting = row!.waiting;
      }
      assertEquals(waiting, 1, "the retry waits on the attempt's row");
      await other`commit`;
      const result = await mine;
      assertEquals([result.order.id, result.created], [theirs.id, false]);
    } finally {
      other.release();
    }
    const rows = await rowsOf(t, "taken-1");
    assertEquals(rows.size, 2);
    assertEquals(rows.get(attempt)!.retried_by, theirs.id);
    assertEquals((await t.trading.venue.brokerFor(uid).listOrders({ status: "all" })).length, 0);
  } finally {
    await t.close();
  }
});
