import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { dec } from "../../core/decimal.ts";
import { TradeError } from "../../core/errors.ts";
import { seededIdSource } from "../../core/ids.ts";
import {
  createOrder,
  type Order,
  ORDER_STATUSES,
  type OrderStatus,
  TRADE_UPDATE_EVENTS,
} from "../../core/order.ts";
import {
  cancelError,
  canTransition,
  INITIAL_STATUSES,
  isOpen,
  isTerminal,
  OPEN_STATUSES,
  ORDER_TRANSITIONS,
  STATUS_EVENTS,
  TERMINAL_STATUSES,
  transition,
  transitionEvent,
} from "../../core/order_state.ts";

const FC = { seed: 20261123, numRuns: 1000 } as const;
const T0 = Date.UTC(2026, 10, 23, 15, 0, 0);

function order(status: OrderStatus = "accepted"): Order {
  const { order } = createOrder(
    {
      symbol: "AAPL",
      qty: dec("10"),
      side: "buy",
      type: "limit",
      time_in_force: "day",
      limit_price: dec("100"),
    },
    { ids: seededIdSource("state"), tsMs: T0, assetId: "a" },
  );
  return { ...order, status };
}

function walk(start: OrderStatus, path: OrderStatus[]): Order {
  let o = order(start);
  let t = T0;
  for (const to of path) o = transition(o, to, ++t);
  return o;
}

Deno.test("table: one row per status; terminal rows empty; open rows not", () => {
  assertEquals(Object.keys(ORDER_TRANSITIONS).sort(), [...ORDER_STATUSES].sort());
  for (const s of ORDER_STATUSES) {
    const exits = ORDER_TRANSITIONS[s];
    assertEquals(new Set(exits).size, exits.length, `no duplicates in ${s}`);
    assert(exits.every((t) => ORDER_STATUSES.includes(t)), s);
    if (isTerminal(s)) assertEquals(exits, [], `${s} is terminal`);
    else assert(exits.some(isTerminal), `${s} can reach a terminal status in one step`);
  }
  assertEquals([...TERMINAL_STATUSES].sort(), [
    "canceled",
    "expired",
    "filled",
    "rejected",
    "replaced",
  ]);
  assertEquals([...OPEN_STATUSES, ...TERMINAL_STATUSES].sort(), [...ORDER_STATUSES].sort());
  assert(OPEN_STATUSES.every((s) => isOpen(s) && !isTerminal(s)));
  assert(INITIAL_STATUSES.every(isOpen));
});

Deno.test("table: every status is reachable from an initial status", () => {
  const seen = new Set<OrderStatus>(INITIAL_STATUSES);
  const queue = [...INITIAL_STATUSES];
  while (queue.length) {
    for (const next of ORDER_TRANSITIONS[queue.shift()!]) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  assertEquals([...seen].sort(), [...ORDER_STATUSES].sort());
});

Deno.test("lifecycles from ALPACA.md 3.4 and 3.7 are legal", () => {
  const paths: Array<[OrderStatus, OrderStatus[]]> = [
    ["accepted", ["pending_new", "new", "partially_filled", "partially_filled", "filled"]],
    ["accepted", ["new", "pending_cancel", "canceled"]],
    ["accepted", ["pending_new", "new", "pending_replace", "replaced"]],
    ["new", ["partially_filled", "pending_cancel", "pending_cancel", "filled"]],
    ["new", ["pending_cancel", "new", "filled"]],
    ["new", ["pending_replace", "partially_filled", "done_for_day", "calculated", "filled"]],
    ["new", ["expired"]],
    ["accepted", ["rejected"]],
    ["accepted", ["filled"]],
    ["held", ["new", "filled"]],
    ["held", ["canceled"]],
    ["held", ["filled"]],
    ["new", ["replaced"]],
    ["held", ["pending_replace", "replaced"]],
  ];
  for (const [start, path] of paths) {
    const o = walk(start, path);
    assertEquals(o.status, path.at(-1));
  }
});

Deno.test("impossible transitions throw ILLEGAL_TRANSITION", () => {
  const cases: Array<[OrderStatus, OrderStatus]> = [
    ["filled", "new"],
    ["canceled", "filled"],
    ["replaced", "new"],
    ["rejected", "accepted"],
    ["expired", "expired"],
    ["new", "accepted"],
    ["new", "new"],
    ["accepted", "pending_replace"],
    ["pending_new", "pending_replace"],
    ["new", "held"],
    ["partially_filled", "new"],
  ];
  for (const [from, to] of cases) {
    assert(!canTransition(from, to), `${from} -> ${to}`);
    const o = order(from);
    const err = assertThrows(() => transition(o, to, T0 + 1), TradeError);
    assertEquals(err.code, "ILLEGAL_TRANSITION");
    assertEquals(err.status, 500);
    assertEquals(err.message, `Cannot move order "${o.id}" from "${from}" to "${to}"`);
    assertEquals(err.details, { order_id: o.id, from, to });
    assertEquals(o.status, from, "the order is untouched");
  }
});

Deno.test("transition stamps the status time and nothing else", () => {
  const o = order("new");
  const filled = transition(o, "filled", T0 + 5);
  assertEquals({ ...filled, status: o.status, updated_at: o.updated_at, filled_at: null }, o);
  assertEquals([filled.status, filled.updated_at, filled.filled_at], ["filled", T0 + 5, T0 + 5]);
  assertEquals(transition(o, "canceled", T0 + 6).canceled_at, T0 + 6);
  assertEquals(transition(o, "expired", T0 + 7).expired_at, T0 + 7);
  assertEquals(transition(o, "rejected", T0 + 8).failed_at, T0 + 8);
  assertEquals(transition(o, "replaced", T0 + 9).replaced_at, T0 + 9);
  const unsent = { ...order("accepted"), submitted_at: null };
  assertEquals(transition(unsent, "new", T0 + 3).submitted_at, T0 + 3);
});

Deno.test("property: random attempted transitions only ever follow the table", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...INITIAL_STATUSES),
      fc.array(fc.constantFrom(...ORDER_STATUSES), { maxLength: 40 }),
      (start, attempts) => {
        let o = order(start);
        const path: OrderStatus[] = [start];
        let t = T0;
        for (const to of attempts) {
          const before = o;
          const legal = canTransition(o.status, to);
          try {
            o = transition(o, to, ++t);
            path.push(to);
          } catch (e) {
            assert(e instanceof TradeError && e.code === "ILLEGAL_TRANSITION", String(e));
            assert(!legal, `legal ${before.status} -> ${to} threw`);
            assert(o === before, "a refused transition leaves the order unchanged");
            continue;
          }
          assert(legal, `illegal ${before.status} -> ${to} succeeded`);
          assertEquals(o.status, to);
          assertEquals(o.updated_at, t);
        }
        for (let i = 1; i < path.length; i++) {
          assert(
            ORDER_TRANSITIONS[path[i - 1]!].includes(path[i]!),
            `${path[i - 1]} -> ${path[i]}`,
          );
        }
        const firstTerminal = path.findIndex(isTerminal);
        if (firstTerminal >= 0) {
          assertEquals(firstTerminal, path.length - 1, "nothing leaves a terminal");
        }
      },
    ),
    FC,
  );
});

Deno.test("events: status and transition to trade_updates event names", () => {
  assertEquals(Object.keys(STATUS_EVENTS).sort(), [...ORDER_STATUSES].sort());
  for (const e of Object.values(STATUS_EVENTS)) {
    assert(e === null || TRADE_UPDATE_EVENTS.includes(e));
  }
  const cases: Array<[OrderStatus, OrderStatus, string | null]> = [
    ["accepted", "pending_new", "pending_new"],
    ["pending_new", "new", "new"],
    ["new", "partially_filled", "partial_fill"],
    ["partially_filled", "partially_filled", "partial_fill"],
    ["partially_filled", "filled", "fill"],
    ["new", "pending_cancel", "pending_cancel"],
    ["pending_cancel", "canceled", "canceled"],
    ["pending_cancel", "pending_cancel", "partial_fill"],
    ["pending_cancel", "filled", "fill"],
    ["pending_cancel", "new", "order_cancel_rejected"],
    ["pending_cancel", "partially_filled", "order_cancel_rejected"],
    ["new", "pending_replace", "pending_replace"],
    ["pending_replace", "replaced", "replaced"],
    ["pending_replace", "new", "order_replace_rejected"],
    ["new", "expired", "expired"],
    ["new", "done_for_day", "done_for_day"],
    ["accepted", "rejected", "rejected"],
    ["held", "new", "new"],
    ["held", "canceled", "canceled"],
  ];
  for (const [from, to, event] of cases) {
    assert(canTransition(from, to), `${from} -> ${to}`);
    assertEquals(transitionEvent(from, to), event, `${from} -> ${to}`);
  }
  assertEquals(STATUS_EVENTS.accepted, null);
  assertEquals(STATUS_EVENTS.held, null);
});

Deno.test("cancelError: open orders cancel; closed and pending ones say their state", () => {
  for (const s of ["accepted", "new", "partially_filled", "held", "done_for_day"] as const) {
    assertEquals(cancelError(order(s)), null, s);
  }
  for (
    const s of [
      "filled",
      "canceled",
      "expired",
      "replaced",
      "rejected",
      "pending_cancel",
      "pending_replace",
    ] as const
  ) {
    const err = cancelError(order(s));
    assertEquals(err?.code, "ORDER_NOT_CANCELABLE");
    assertEquals(err?.toAlpacaBody(), {
      code: 42210000,
      message: `order is already in "${s}" state`,
    });
    assertEquals(err?.status, 422);
  }
});
