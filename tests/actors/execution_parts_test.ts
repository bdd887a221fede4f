/**
 * The execution engine's parts at their seams: a venue event the order state machine refuses
 * is recorded as ignored (never a silent drop, never applied), and a denial is an event on the
 * bus (`OrderDenied`) as well as a DENIED audit row.
 */
import { assertEquals } from "../_assert.ts";
import type { Broker, TradeUpdate, Venue } from "../../brokers/broker.ts";
import type { PaperVenue } from "../../brokers/paper/venue.ts";
import type { BusMessage } from "../../actors/bus.ts";
import { createTestApp, DB_TEST } from "../_helpers.ts";

/**
 * The real paper venue, with each user's trade updates also handed to the test, and a way to
 * deliver one more to the engine (a late or replayed event from the venue's stream).
 */
function tappedVenue(inner: PaperVenue): Venue & {
  seen: TradeUpdate[];
  deliver(userId: string, update: TradeUpdate): void;
} {
  const brokers = new Map<string, Broker>();
  const listeners = new Map<string, (u: TradeUpdate) => void>();
  const seen: TradeUpdate[] = [];
  return {
    name: inner.name,
    marketData: inner,
    session: (ts) => inner.session(ts),
    seen,
    deliver(userId, update) {
      listeners.get(userId)!(update);
    },
    brokerFor(userId: string): Broker {
      let b = brokers.get(userId);
      if (b) return b;
      const real = inner.brokerFor(userId);
      b = new Proxy(real, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (prop !== "onTradeUpdate") {
            return typeof value === "function" ? value.bind(target) : value;
          }
          return (listener: (u: TradeUpdate) => void) => {
            listeners.set(userId, listener);
            return target.onTradeUpdate((u) => {
              seen.push(u);
              listener(u);
            });
          };
        },
      });
      brokers.set(userId, b);
      return b;
    },
  };
}

Deno.test({
  name: "ledger: a stale venue event is recorded as ignored, and the order keeps its status",
  ...DB_TEST,
}, async () => {
  let venue: ReturnType<typeof tappedVenue> | null = null;
  const t = await createTestApp({ trading: { wrap: (v) => (venue = tappedVenue(v)) } });
  try {
    const placed = await t.as("ivy", "/api/v1/orders", {
      method: "POST",
      json: { symbol: "AAPL", qty: "3", side: "buy", type: "market", time_in_force: "day" },
    });
    const { id } = await placed.json();
    assertEquals(placed.status, 201);
    await t.trading.advance(1_000);
    const fill = venue!.seen.find((u) => u.event === "fill")!;
    assertEquals(fill.order.status, "filled");
    const [user] = await t.db.owner<{ id: string }[]>`
      select id from users where username = 'ivy'`;
    const orderEvents: BusMessage[] = [];
    const stop = t.trading.bus.subscribe("order", (m) => orderEvents.push(m));

    // The venue's stream delivers a cancel after the fill (a late, out-of-order event).
    venue!.deliver(user!.id, {
      event: "canceled",
      order: { ...fill.order, status: "canceled", canceled_at: t.trading.clock.now() },
      timestamp: t.trading.clock.now(),
    });
    await t.trading.engine.settle();
    stop();

    const [row] = await t.db.owner<{ status: string; canceled_at: Date | null }[]>`
      select status, canceled_at from orders where id = ${id}`;
    assertEquals([row!.status, row!.canceled_at], ["filled", null]);
    const [audit] = await t.db.owner<
      { action: string; status: string; reason: string | null; payload: Record<string, unknown> }[]
    >`select action, status, reason, payload from execution_logs
      where order_id = ${id} order by seq desc limit 1`;
    assertEquals(audit!.action, "CANCELED");
    assertEquals(audit!.status, "filled");
    assertEquals(
      audit!.reason,
      `Venue event "canceled" ignored: Cannot move order "${id}" from "filled" to "canceled"`,
    );
    assertEquals(audit!.payload.ignored, {
      status: "canceled",
      code: "ILLEGAL_TRANSITION",
      reason: `Cannot move order "${id}" from "filled" to "canceled"`,
    });
    // Positions are untouched: still the sum of the fills.
    const [pos] = await t.db.owner<{ qty: string }[]>`select qty::text from positions`;
    assertEquals(pos!.qty, "3");
    // The order's stream still sees the event, with the order as the ledger keeps it.
    assertEquals(orderEvents.length, 1);
    const m = orderEvents[0] as Extract<BusMessage, { topic: "order" }>;
    assertEquals([m.event, m.order.status], ["canceled", "filled"]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "ledger: a denial is published on the bus as OrderDenied after its audit row",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const denials: Extract<BusMessage, { topic: "denial" }>[] = [];
    t.trading.bus.subscribe("denial", (m) => denials.push(m));
    const res = await t.as("otto", "/api/v1/orders", {
      method: "POST",
      json: {
        symbol: "AAPL",
        qty: "100000000",
        side: "buy",
        type: "market",
        time_in_force: "day",
        client_order_id: "too-big-1",
      },
    });
    const body = await res.json();
    assertEquals(res.status >= 400 && res.status < 500, true, JSON.stringify(body));
    assertEquals(denials.length, 1);
    const d = denials[0]!;
    assertEquals(d.event, "OrderDenied");
    assertEquals(d.code, body.error.code);
    assertEquals(d.clientOrderId, "too-big-1");
    assertEquals(d.orderId, null);
    assertEquals(d.request.qty, "100000000");
    const [audit] = await t.db.owner<{ seq: string; status: string }[]>`
      select seq::text, status from execution_logs where action = 'DENIED'`;
    assertEquals([d.seq, d.code], [audit!.seq, audit!.status]);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "ledger: a burst of rate-limit refusals is one DENIED row and one OrderDenied each",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: { limits: { max_orders_per_minute: 1 } } });
  try {
    const denials: Extract<BusMessage, { topic: "denial" }>[] = [];
    t.trading.bus.subscribe("denial", (m) => denials.push(m));
    const order = { symbol: "AAPL", qty: "1", side: "buy", type: "market", time_in_force: "day" };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.as("rita", "/api/v1/orders", { method: "POST", json: order });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assertEquals(statuses, [201, 429, 429, 429]);
    assertEquals(denials.map((d) => d.code), ["RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
    const rows = await t.db.owner<{ seq: string }[]>`
      select seq::text from execution_logs where action = 'DENIED'`;
    assertEquals(rows.length, 1);
    // The first refusal is on record; the others within its window are counted, not written.
    assertEquals(denials.map((d) => d.seq), [rows[0]!.seq, null, null]);
  } finally {
    await t.close();
  }
});
