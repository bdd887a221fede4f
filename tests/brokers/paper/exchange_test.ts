import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { orderRequest as req, testAsset as asset } from "../../_fixtures.ts";
import { dec, Decimal } from "../../../core/decimal.ts";
import { TRADE_ERRORS, TradeError, type TradeErrorCode } from "../../../core/errors.ts";
import { seededIdSource } from "../../../core/ids.ts";
import {
  type Order,
  type OrderClass,
  type OrderRequest,
  type OrderStatus,
  type OrderType,
  type TimeInForce,
  toAlpacaJson,
} from "../../../core/order.ts";
import { canTransition, INITIAL_STATUSES } from "../../../core/order_state.ts";
import { validateOrder } from "../../../core/order_rules.ts";
import type { Asset, Quote, Trade } from "../../../core/market.ts";
import {
  type PaperEvent,
  PaperExchange,
  type PaperExchangeOptions,
} from "../../../brokers/paper/exchange.ts";

// Monday 2026-11-23 (EST, UTC−5)
const START = Date.UTC(2026, 10, 23, 12, 0); // 07:00 ET
const PRE = Date.UTC(2026, 10, 23, 13, 0); // 08:00 ET
const T0 = Date.UTC(2026, 10, 23, 15, 0); // 10:00 ET
const CLOSE = Date.UTC(2026, 10, 23, 21, 0); // 16:00 ET
const POST = Date.UTC(2026, 10, 23, 22, 0); // 17:00 ET
const NIGHT = Date.UTC(2026, 10, 24, 2, 0); // 21:00 ET
const OPEN2 = Date.UTC(2026, 10, 24, 14, 30); // Tuesday 09:30 ET
const MIN = 60_000;
const FC = { seed: 20261123, numRuns: 150 } as const;
const A = "acct-1";
const B = "acct-2";

const ASSETS = [
  asset("AAPL"),
  asset("MSFT"),
  asset("GME", { fractionable: false, easy_to_borrow: false }),
  asset("NOMRG", { marginable: false }),
  asset("DEAD", { tradable: false }),
];
const BY_KEY = new Map<string, Asset>();
for (const a of ASSETS) {
  BY_KEY.set(a.symbol, a);
  BY_KEY.set(a.id, a);
}

function quote(bp: number, ap: number, bs = 100, as = 100): Quote {
  return { t: "", bx: "Q", bp, bs, ax: "Q", ap, as, c: ["R"], z: "C" };
}

function trade(p: number, s = 100): Trade {
  return { t: "", x: "Q", p, s, c: ["@"], i: 1, z: "C" };
}

function make(options: Partial<PaperExchangeOptions> = {}, seed = "exchange"): PaperExchange {
  const ex = new PaperExchange({
    ids: seededIdSource(seed),
    assets: (s) => BY_KEY.get(s),
    ...options,
  });
  for (const sym of ["AAPL", "MSFT", "GME", "NOMRG"]) {
    ex.onTrade(sym, trade(100), START);
    ex.onQuote(sym, quote(99.99, 100.01), START);
  }
  ex.drainEvents();
  return ex;
}

/** Event names, optionally only those of one order. */
function names(events: PaperEvent[], orderId?: string): string[] {
  return events.filter((e) => orderId === undefined || e.update.order.id === orderId)
    .map((e) => e.update.event);
}

function expectError(fn: () => unknown, code: TradeErrorCode, alpacaMessage?: string): TradeError {
  const err = assertThrows(fn, TradeError);
  assertEquals(err.code, code, err.message);
  assertEquals(err.status, TRADE_ERRORS[code].status);
  if (alpacaMessage !== undefined) assertEquals(err.alpacaMessage, alpacaMessage);
  assert(/^[A-Z]/.test(err.message) && !err.message.endsWith("."), err.message);
  return err;
}

const s = (d: Decimal | null | undefined) => d === null || d === undefined ? null : d.toString();

/** Checks every update against the transition table, in order. */
function checkStatuses(events: PaperEvent[], last = new Map<string, OrderStatus>()): void {
  for (const e of events) {
    const o = e.update.order;
    const prev = last.get(o.id);
    const to = o.status;
    if (prev === undefined) {
      assert(
        INITIAL_STATUSES.includes(to) || INITIAL_STATUSES.some((i) => canTransition(i, to)),
        `first status ${to} of ${o.id}`,
      );
    } else if (e.update.event === "restated") {
      // A trailing stop's moved hwm: the figures change, the status does not.
      assertEquals(to, prev, `restated changed the status of ${o.id}`);
      assertEquals(o.type, "trailing_stop", `restated ${o.type} order ${o.id}`);
    } else {
      assert(canTransition(prev, to), `illegal ${prev} → ${to} (${e.update.event}) for ${o.id}`);
    }
    last.set(o.id, to);
  }
}

// ---------------------------------------------------------------------------------------------
// Basic fills

Deno.test("a market buy goes pending_new → new → fill at the ask", () => {
  const ex = make();
  const o = ex.submit(A, req(), T0);
  assertEquals(o.status, "filled");
  const ev = ex.drainEvents();
  checkStatuses(ev);
  assertEquals(names(ev), ["pending_new", "new", "fill"]);
  const fill = ev[2]!.update;
  assertEquals([s(fill.price), s(fill.qty), s(fill.position_qty)], ["100.01", "10", "10"]);
  assert(fill.execution_id !== undefined && fill.execution_id.length === 36);
  assertEquals(fill.timestamp, T0);
  assertEquals(s(o.filled_avg_price), "100.01");
  assertEquals(o.filled_at, T0);
  const acct = ex.account(A);
  assertEquals(s(acct.cash), "98999.9");
  const pos = ex.position(A, "AAPL");
  assertEquals([s(pos.qty), s(pos.avg_entry_price), s(pos.cost_basis)], ["10", "100.01", "1000.1"]);
  assertEquals(pos.side, "long");
  assertEquals(ev[2]!.fill?.realized_pl.toString(), "0");
});

Deno.test("a market sell closes a long at the bid and reports realized P&L", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  ex.onQuote("AAPL", quote(101, 101.02), T0 + MIN);
  ex.drainEvents();
  const o = ex.submit(A, req({ side: "sell" }), T0 + 2 * MIN);
  assertEquals(o.status, "filled");
  const fill = ex.drainEvents().find((e) => e.fill !== null)!;
  assertEquals(s(fill.update.price), "101");
  assertEquals(s(fill.update.position_qty), "0");
  assertEquals(s(fill.fill!.realized_pl), "9.9");
  assertEquals(ex.positions(A), []);
  assertEquals(s(ex.account(A).cash), "100009.9");
});

Deno.test("limit orders rest until marketable and fill at the quote (price improvement)", () => {
  const ex = make();
  const buy = ex.submit(A, req({ type: "limit", limit_price: dec("99") }), T0);
  assertEquals(buy.status, "new");
  ex.onQuote("AAPL", quote(98.9, 99.01), T0 + MIN);
  assertEquals(ex.getOrder(A, buy.id).status, "new");
  ex.onQuote("AAPL", quote(98.5, 98.75), T0 + 2 * MIN);
  const filled = ex.getOrder(A, buy.id);
  assertEquals([filled.status, s(filled.filled_avg_price)], ["filled", "98.75"]);
  const sell = ex.submit(A, req({ side: "sell", type: "limit", limit_price: dec("99.5") }), T0);
  assertEquals(sell.status, "new");
  ex.onQuote("AAPL", quote(99.6, 99.7), T0 + 3 * MIN);
  const sold = ex.getOrder(A, sell.id);
  assertEquals([sold.status, s(sold.filled_avg_price)], ["filled", "99.6"]);
  checkStatuses(ex.drainEvents());
});

Deno.test("partial fills follow displayed size, and one quote's size is not filled twice", () => {
  const ex = make();
  ex.onQuote("AAPL", quote(99.99, 100.01, 100, 100), T0);
  const big = ex.submit(A, req({ qty: dec("250") }), T0);
  assertEquals([big.status, s(big.filled_qty)], ["partially_filled", "100"]);
  const second = ex.submit(A, req({ qty: dec("5") }), T0);
  assertEquals(second.status, "new", "the size was already taken");
  ex.onQuote("AAPL", quote(99.99, 100.02, 100, 120), T0 + MIN);
  assertEquals(s(ex.getOrder(A, big.id).filled_qty), "220");
  assertEquals(ex.getOrder(A, second.id).status, "new", "older order first, size exhausted");
  ex.onQuote("AAPL", quote(99.99, 100.03, 100, 100), T0 + 2 * MIN);
  const done = ex.getOrder(A, big.id);
  assertEquals([done.status, s(done.filled_qty)], ["filled", "250"]);
  assertEquals(ex.getOrder(A, second.id).status, "filled");
  // (100×100.01 + 120×100.02 + 30×100.03) / 250
  assertEquals(s(done.filled_avg_price), "100.0172");
  const ev = ex.drainEvents();
  checkStatuses(ev);
  assertEquals(names(ev, big.id), ["pending_new", "new", "partial_fill", "partial_fill", "fill"]);
  assertEquals(s(ex.position(A, "AAPL").qty), "255");
});

Deno.test("limits take the best price first, then the oldest", () => {
  const ex = make();
  ex.onQuote("AAPL", quote(97, 101, 100, 100), T0);
  const low = ex.submit(A, req({ type: "limit", limit_price: dec("99") }), T0);
  const high = ex.submit(B, req({ type: "limit", limit_price: dec("99.5") }), T0);
  const early = ex.submit(B, req({ type: "limit", limit_price: dec("99") }), T0);
  ex.onQuote("AAPL", quote(97, 98, 100, 15), T0 + MIN);
  assertEquals(s(ex.getOrder(B, high.id).filled_qty), "10");
  assertEquals(s(ex.getOrder(A, low.id).filled_qty), "5");
  assertEquals(s(ex.getOrder(B, early.id).filled_qty), "0");
});

// ---------------------------------------------------------------------------------------------
// Stops and trailing stops

Deno.test("a sell stop elects on a print at or through the stop, then fills as market", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  const stop = ex.submit(A, req({ side: "sell", type: "stop", stop_price: dec("95") }), T0);
  assertEquals(stop.status, "new");
  ex.onTrade("AAPL", trade(95.5), T0 + MIN);
  ex.onQuote("AAPL", quote(95.4, 95.6), T0 + MIN);
  assertEquals(ex.getOrder(A, stop.id).status, "new");
  ex.onQuote("AAPL", quote(94.9, 95.1), T0 + 2 * MIN);
  assertEquals(ex.getOrder(A, stop.id).status, "new", "quotes alone do not elect");
  ex.onTrade("AAPL", trade(95), T0 + 3 * MIN);
  const done = ex.getOrder(A, stop.id);
  assertEquals([done.status, s(done.filled_avg_price)], ["filled", "94.9"]);
});

Deno.test("a buy stop becomes Alpaca's stop-limit and elects on a print at or above", () => {
  const ex = make();
  const o = ex.submit(A, req({ type: "stop", stop_price: dec("40") }), T0);
  assertEquals([o.type, s(o.limit_price)], ["stop_limit", "41.6"]);
  const hi = ex.submit(A, req({ type: "stop", stop_price: dec("101") }), T0);
  assertEquals([hi.type, s(hi.limit_price)], ["stop_limit", "103.53"]);
  ex.onQuote("AAPL", quote(103.9, 104), T0 + MIN);
  ex.onTrade("AAPL", trade(101.5), T0 + MIN);
  assertEquals(ex.getOrder(A, hi.id).status, "new", "elected, but the ask is above the limit");
  ex.onQuote("AAPL", quote(103.4, 103.5), T0 + 2 * MIN);
  const done = ex.getOrder(A, hi.id);
  assertEquals([done.status, s(done.filled_avg_price)], ["filled", "103.5"]);
  assertEquals(ex.getOrder(A, o.id).status, "new");
});

Deno.test("a trailing stop tracks hwm from prints, shows it, and triggers in core hours only", () => {
  const ex = make();
  ex.submit(A, req({ qty: dec("20") }), T0);
  const t = ex.submit(
    A,
    req({
      side: "sell",
      type: "trailing_stop",
      trail_price: dec("2"),
      qty: dec("10"),
      time_in_force: "gtc",
    }),
    T0,
  );
  assertEquals([s(t.hwm), s(t.stop_price)], ["100", "98"]);
  const p = ex.submit(
    A,
    req({
      side: "sell",
      type: "trailing_stop",
      trail_percent: dec("5"),
      qty: dec("10"),
      time_in_force: "gtc",
    }),
    T0,
  );
  assertEquals([s(p.hwm), s(p.stop_price)], ["100", "95"]);
  ex.onTrade("AAPL", trade(105), T0 + MIN);
  assertEquals([s(ex.getOrder(A, t.id).hwm), s(ex.getOrder(A, t.id).stop_price)], ["105", "103"]);
  assertEquals(s(ex.getOrder(A, p.id).stop_price), "99.75");
  ex.onTrade("AAPL", trade(104), T0 + 2 * MIN);
  assertEquals(s(ex.getOrder(A, t.id).hwm), "105", "hwm only rises for a sell");
  // after hours: no update and no trigger
  ex.onTrade("AAPL", trade(90), POST);
  assertEquals([ex.getOrder(A, t.id).status, s(ex.getOrder(A, t.id).hwm)], ["new", "105"]);
  // next morning, a print through the stop triggers; the fill comes at the bid
  ex.onQuote("AAPL", quote(102.5, 102.6), OPEN2 + MIN);
  ex.onTrade("AAPL", trade(102.9), OPEN2 + MIN);
  const done = ex.getOrder(A, t.id);
  assertEquals([done.status, s(done.filled_avg_price)], ["filled", "102.5"]);
  assertEquals(ex.getOrder(A, p.id).status, "new");
  ex.onTrade("AAPL", trade(99.7), OPEN2 + 2 * MIN);
  assertEquals(ex.getOrder(A, p.id).status, "filled");
  checkStatuses(ex.drainEvents());
});

Deno.test("a buy trailing stop follows the lowest print", () => {
  const ex = make();
  const t = ex.submit(A, req({ type: "trailing_stop", trail_price: dec("1") }), T0);
  assertEquals([s(t.hwm), s(t.stop_price)], ["100", "101"]);
  ex.onTrade("AAPL", trade(97), T0 + MIN);
  assertEquals([s(ex.getOrder(A, t.id).hwm), s(ex.getOrder(A, t.id).stop_price)], ["97", "98"]);
  ex.onQuote("AAPL", quote(97.9, 98.1), T0 + 2 * MIN);
  ex.onTrade("AAPL", trade(98), T0 + 2 * MIN);
  const done = ex.getOrder(A, t.id);
  assertEquals([done.status, s(done.filled_avg_price)], ["filled", "98.1"]);
});

Deno.test("a trailing stop's moved hwm is announced as restated, at most once a second", () => {
  const ex = make();
  const t = ex.submit(A, req({ type: "trailing_stop", trail_price: dec("1") }), T0);
  const restated = () =>
    ex.drainEvents().filter((e) => e.update.event === "restated").map((e) => [
      e.update.timestamp - T0,
      e.update.order.status,
      s(e.update.order.hwm),
      s(e.update.order.stop_price),
    ]);
  // The mark taken at routing (the submit's answer shows it too).
  assertEquals(restated(), [[0, "new", "100", "101"]]);
  ex.onTrade("AAPL", trade(99), T0 + 200);
  ex.onTrade("AAPL", trade(98), T0 + 400);
  assertEquals(restated(), [], "held back within the second");
  ex.onTrade("AAPL", trade(98.5), T0 + 1_000);
  assertEquals(restated(), [[1_000, "new", "98", "99"]], "the latest mark, once");
  ex.onTrade("AAPL", trade(98.2), T0 + 1_500);
  assertEquals(restated(), [], "no move, nothing to say");
  ex.onTrade("AAPL", trade(97.5), T0 + 1_600);
  assertEquals(restated(), []);
  ex.advance(T0 + 2_000);
  assertEquals(restated(), [[2_000, "new", "97.5", "98.5"]], "a later drain announces it");
  assertEquals(ex.getOrder(A, t.id).hwm?.toString(), "97.5");
  // Elected: its fill carries the figures; no restated after.
  ex.onQuote("AAPL", quote(98.4, 98.6), T0 + 3_000);
  ex.onTrade("AAPL", trade(98.5), T0 + 3_000);
  ex.onTrade("AAPL", trade(96), T0 + 3_100);
  ex.advance(T0 + 5_000);
  assertEquals(restated(), []);
  assertEquals(ex.getOrder(A, t.id).status, "filled");
});

// ---------------------------------------------------------------------------------------------
// Bracket, oco, oto

function bracket(over: Partial<OrderRequest> = {}): OrderRequest {
  return req({
    order_class: "bracket",
    take_profit: { limit_price: dec("110") },
    stop_loss: { stop_price: dec("95") },
    ...over,
  });
}

Deno.test("bracket: legs held until the entry fills; the take-profit fill cancels the stop-loss", () => {
  const ex = make();
  const o = ex.submit(A, bracket({ type: "limit", limit_price: dec("99") }), T0);
  assertEquals(o.status, "new");
  assertEquals(o.legs?.map((l) => [l.type, l.side, l.status]), [
    ["limit", "sell", "held"],
    ["stop", "sell", "held"],
  ]);
  const [tp, sl] = o.legs!;
  ex.onQuote("AAPL", quote(98.9, 99, 100, 4), T0 + MIN);
  assertEquals(ex.getOrder(A, o.id).status, "partially_filled");
  assertEquals(ex.getOrder(A, tp!.id).status, "held", "not until completely filled");
  ex.onQuote("AAPL", quote(98.9, 99, 100, 100), T0 + 2 * MIN);
  assertEquals(ex.getOrder(A, o.id).status, "filled");
  assertEquals(ex.getOrder(A, tp!.id).status, "new");
  assertEquals(ex.getOrder(A, sl!.id).status, "held");
  ex.onQuote("AAPL", quote(110.5, 110.6), T0 + 3 * MIN);
  assertEquals(ex.getOrder(A, tp!.id).status, "filled");
  assertEquals(ex.getOrder(A, sl!.id).status, "canceled");
  const ev = ex.drainEvents();
  checkStatuses(ev);
  assertEquals(names(ev, sl!.id), ["canceled"]);
  assertEquals(names(ev, tp!.id), ["new", "fill"]);
  assertEquals(ex.positions(A), []);
  const nested = ex.getOrder(A, o.id, { nested: true });
  assertEquals(nested.legs?.map((l) => l.status), ["filled", "canceled"]);
});

Deno.test("bracket: the stop-loss elects on a print, cancels the take-profit and fills", () => {
  const ex = make();
  const o = ex.submit(A, bracket(), T0);
  assertEquals(o.status, "filled");
  const [tp, sl] = o.legs!;
  assertEquals(ex.getOrder(A, tp!.id).status, "new");
  ex.onTrade("AAPL", trade(96), T0 + MIN);
  assertEquals(ex.getOrder(A, sl!.id).status, "held");
  ex.onQuote("AAPL", quote(94.8, 94.9), T0 + 2 * MIN);
  ex.onTrade("AAPL", trade(94.9), T0 + 2 * MIN);
  assertEquals(ex.getOrder(A, tp!.id).status, "canceled");
  const slDone = ex.getOrder(A, sl!.id);
  assertEquals([slDone.status, s(slDone.filled_avg_price)], ["filled", "94.8"]);
  const ev = ex.drainEvents();
  checkStatuses(ev);
  assertEquals(names(ev, sl!.id), ["new", "fill"]);
  assertEquals(ex.positions(A), []);
});

Deno.test("bracket: a partial take-profit fill shrinks the stop-loss", () => {
  const ex = make();
  const o = ex.submit(A, bracket(), T0);
  const [tp, sl] = o.legs!;
  ex.onQuote("AAPL", quote(110, 110.1, 4, 100), T0 + MIN);
  assertEquals(ex.getOrder(A, tp!.id).status, "partially_filled");
  assertEquals(s(ex.getOrder(A, sl!.id).qty), "6");
  assertEquals(s(ex.position(A, "AAPL").qty_available), "0");
  ex.onTrade("AAPL", trade(94), T0 + 2 * MIN);
  assertEquals(ex.getOrder(A, tp!.id).status, "canceled");
  assertEquals(ex.getOrder(A, sl!.id).status, "new", "elected; the bid size was used up");
  ex.onQuote("AAPL", quote(93.9, 94), T0 + 3 * MIN);
  const slDone = ex.getOrder(A, sl!.id);
  assertEquals([slDone.status, s(slDone.filled_qty)], ["filled", "6"]);
  assertEquals(ex.positions(A), []);
});

Deno.test("bracket: canceling the entry cancels the held legs; canceling a leg cancels its sibling", () => {
  const ex = make();
  const o = ex.submit(A, bracket({ type: "limit", limit_price: dec("98") }), T0);
  ex.drainEvents();
  ex.cancel(A, o.id, T0 + MIN);
  const ev = ex.drainEvents();
  checkStatuses(ev, new Map([[o.id, "new"], [o.legs![0]!.id, "held"], [o.legs![1]!.id, "held"]]));
  assertEquals(names(ev), ["pending_cancel", "canceled", "canceled", "canceled"]);
  const b2 = ex.submit(A, bracket(), T0 + 2 * MIN);
  ex.cancel(A, b2.legs![0]!.id, T0 + 3 * MIN);
  assertEquals(ex.getOrder(A, b2.legs![1]!.id).status, "canceled");
  assertEquals(s(ex.position(A, "AAPL").qty), "10");
});

Deno.test("oco: an exit-only pair; the stop-loss child elects and the take-profit is canceled", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  const o = ex.submit(A, {
    symbol: "AAPL",
    qty: dec("10"),
    side: "sell",
    type: "limit",
    time_in_force: "gtc",
    order_class: "oco",
    take_profit: { limit_price: dec("110") },
    stop_loss: { stop_price: dec("95") },
  }, T0 + MIN);
  assertEquals([o.status, s(o.limit_price), o.order_class], ["new", "110", "oco"]);
  const sl = o.legs![0]!;
  assertEquals([sl.type, sl.status, s(sl.stop_price)], ["stop", "held", "95"]);
  assertEquals(s(ex.position(A, "AAPL").qty_available), "0");
  ex.onTrade("AAPL", trade(94.5), T0 + 2 * MIN);
  assertEquals(ex.getOrder(A, o.id).status, "canceled");
  assertEquals(ex.getOrder(A, sl.id).status, "filled");
  assertEquals(ex.positions(A), []);
  checkStatuses(ex.drainEvents());
});

Deno.test("oco: the take-profit fill cancels the stop-loss", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  const o = ex.submit(A, {
    symbol: "AAPL",
    qty: dec("10"),
    side: "sell",
    type: "limit",
    time_in_force: "day",
    order_class: "oco",
    take_profit: { limit_price: dec("101") },
    stop_loss: { stop_price: dec("95"), limit_price: dec("94.5") },
  }, T0 + MIN);
  assertEquals(o.legs![0]!.type, "stop_limit");
  ex.onQuote("AAPL", quote(101.2, 101.3), T0 + 2 * MIN);
  assertEquals(ex.getOrder(A, o.id).status, "filled");
  assertEquals(ex.getOrder(A, o.legs![0]!.id).status, "canceled");
});

Deno.test("oto: an entry with one stop-loss exit", () => {
  const ex = make();
  const o = ex.submit(A, req({ order_class: "oto", stop_loss: { stop_price: dec("95") } }), T0);
  assertEquals(o.status, "filled");
  assertEquals(o.legs?.map((l) => [l.type, l.status]), [["stop", "held"]]);
  ex.onTrade("AAPL", trade(94), T0 + MIN);
  assertEquals(ex.getOrder(A, o.legs![0]!.id).status, "filled");
  const tpOnly = ex.submit(
    A,
    req({ order_class: "oto", take_profit: { limit_price: dec("120") } }),
    T0 + 2 * MIN,
  );
  assertEquals(ex.getOrder(A, tpOnly.legs![0]!.id).status, "new");
  expectError(
    () => ex.replace(A, tpOnly.id, { qty: dec("5") }, T0 + 3 * MIN),
    "ORDER_NOT_REPLACEABLE",
  );
});

// ---------------------------------------------------------------------------------------------
// Replace and cancel

Deno.test("replace: the old order is replaced, the new one starts new with the chain qty", () => {
  const ex = make();
  const o1 = ex.submit(A, req({ type: "limit", limit_price: dec("90"), time_in_force: "gtc" }), T0);
  ex.drainEvents();
  const o2 = ex.replace(A, o1.id, { limit_price: dec("95"), client_order_id: "r-1" }, T0 + MIN);
  assertEquals([o2.status, o2.replaces, s(o2.limit_price), o2.client_order_id], [
    "new",
    o1.id,
    "95",
    "r-1",
  ]);
  const old = ex.getOrder(A, o1.id);
  assertEquals([old.status, old.replaced_by, old.replaced_at], ["replaced", o2.id, T0 + MIN]);
  let ev = ex.drainEvents();
  assertEquals(ev.map((e) => [e.update.event, e.update.order.id]), [
    ["pending_replace", o1.id],
    ["replaced", o1.id],
    ["new", o2.id],
  ]);
  checkStatuses(ev, new Map([[o1.id, "new"]]));
  // partial fill, then a replace keeps filled_qty and takes the chain total
  ex.onQuote("AAPL", quote(94, 95, 100, 4), T0 + 2 * MIN);
  expectError(
    () => ex.replace(A, o2.id, { qty: dec("4") }, T0 + 3 * MIN),
    "ORDER_NOT_REPLACEABLE",
    "unable to replace order, qty must be > filled_qty",
  );
  const o3 = ex.replace(A, o2.id, { qty: dec("20") }, T0 + 3 * MIN);
  assertEquals([s(o3.qty), s(o3.filled_qty), o3.replaces], ["20", "4", o2.id]);
  ex.onQuote("AAPL", quote(94, 95, 100, 100), T0 + 4 * MIN);
  const done = ex.getOrder(A, o3.id);
  assertEquals([done.status, s(done.filled_qty)], ["filled", "20"]);
  assertEquals(s(ex.position(A, "AAPL").qty), "20");
  expectError(
    () => ex.replace(A, o3.id, { qty: dec("30") }, T0 + 5 * MIN),
    "ORDER_NOT_REPLACEABLE",
    "unable to replace order, order is not open",
  );
  expectError(
    () => ex.replace(A, o2.id, { limit_price: dec("96") }, T0 + 5 * MIN),
    "ORDER_NOT_REPLACEABLE",
  );
  ev = ex.drainEvents();
  assertEquals(names(ev, o3.id), ["new", "fill"]);
});

Deno.test("replace: a queued order is not yet sent; buying power is checked on the bigger order", () => {
  const ex = make({ defaultMultiplier: "1", startingCash: "10000" });
  const q = ex.submit(A, req({ type: "limit", limit_price: dec("90") }), PRE);
  assertEquals(q.status, "accepted");
  expectError(
    () => ex.replace(A, q.id, { limit_price: dec("91") }, PRE + MIN),
    "ORDER_NOT_REPLACEABLE",
    "unable to replace order, order isn't sent to exchange yet",
  );
  const o = ex.submit(A, req({ type: "limit", limit_price: dec("80"), qty: dec("10") }), T0);
  // cash 10000, reserved 900 (queued) + 800
  assertEquals(s(ex.account(A).buying_power), "8300");
  const err = expectError(
    () => ex.replace(A, o.id, { qty: dec("200") }, T0 + MIN),
    "INSUFFICIENT_BUYING_POWER",
    "insufficient buying power",
  );
  assertEquals(err.alpacaExtra.buying_power, "9100");
  assertEquals(err.alpacaExtra.cost_basis, "16000");
  const o2 = ex.replace(A, o.id, { qty: dec("100") }, T0 + MIN);
  assertEquals(s(ex.account(A).buying_power), "1100");
  ex.cancel(A, o2.id, T0 + 2 * MIN);
  assertEquals(s(ex.account(A).buying_power), "9100");
});

Deno.test("replace: a bracket's held stop-loss keeps working with its new stop", () => {
  const ex = make();
  const o = ex.submit(A, bracket(), T0);
  const sl = o.legs![1]!;
  const sl2 = ex.replace(A, sl.id, { stop_price: dec("97") }, T0 + MIN);
  assertEquals([sl2.status, s(sl2.stop_price), sl2.parent_id], ["held", "97", o.id]);
  assertEquals(ex.getOrder(A, o.id, { nested: true }).legs?.map((l) => l.id), [
    o.legs![0]!.id,
    sl2.id,
  ]);
  ex.onTrade("AAPL", trade(96.9), T0 + 2 * MIN);
  assertEquals(ex.getOrder(A, sl2.id).status, "filled");
  assertEquals(ex.getOrder(A, o.legs![0]!.id).status, "canceled");
});

Deno.test("cancel: pending_cancel → canceled; a closed order cannot be canceled", () => {
  const ex = make();
  const o = ex.submit(A, req({ type: "limit", limit_price: dec("90") }), T0);
  ex.drainEvents();
  ex.cancel(A, o.id, T0 + MIN);
  const ev = ex.drainEvents();
  assertEquals(names(ev), ["pending_cancel", "canceled"]);
  assertEquals(ev[1]!.update.order.canceled_at, T0 + MIN);
  expectError(
    () => ex.cancel(A, o.id, T0 + 2 * MIN),
    "ORDER_NOT_CANCELABLE",
    'order is already in "canceled" state',
  );
  expectError(() => ex.cancel(B, o.id, T0), "ORDER_NOT_FOUND", "order not found");
  expectError(() => ex.cancel(A, "nope", T0), "ORDER_NOT_FOUND");
  const f = ex.submit(A, req(), T0 + 3 * MIN);
  expectError(
    () => ex.cancel(A, f.id, T0 + 4 * MIN),
    "ORDER_NOT_CANCELABLE",
    'order is already in "filled" state',
  );
});

Deno.test("cancelAll cancels every open order of the account only", () => {
  const ex = make();
  const a1 = ex.submit(A, req({ type: "limit", limit_price: dec("90") }), T0);
  const a2 = ex.submit(A, bracket({ type: "limit", limit_price: dec("96") }), T0);
  const b1 = ex.submit(B, req({ type: "limit", limit_price: dec("90") }), T0);
  const res = ex.cancelAll(A, T0 + MIN);
  assertEquals(res.map((r) => r.status), [200, 200, 200, 200]);
  assertEquals(res.map((r) => r.id), [a1.id, a2.id, a2.legs![0]!.id, a2.legs![1]!.id]);
  assertEquals(ex.listOrders(A), []);
  assertEquals(ex.getOrder(B, b1.id).status, "new");
});

// ---------------------------------------------------------------------------------------------
// Time in force

Deno.test("ioc fills what the quote shows and cancels the rest; fok is all or nothing", () => {
  const ex = make();
  ex.onQuote("AAPL", quote(99.99, 100.01, 100, 30), T0);
  const ioc = ex.submit(A, req({ qty: dec("50"), time_in_force: "ioc" }), T0);
  assertEquals([ioc.status, s(ioc.filled_qty)], ["canceled", "30"]);
  ex.onQuote("AAPL", quote(99.99, 100.01, 100, 30), T0 + MIN);
  const fok = ex.submit(A, req({ qty: dec("50"), time_in_force: "fok" }), T0 + MIN);
  assertEquals([fok.status, s(fok.filled_qty)], ["canceled", "0"]);
  const fok2 = ex.submit(A, req({ qty: dec("30"), time_in_force: "fok" }), T0 + MIN);
  assertEquals(fok2.status, "filled");
  const lim = ex.submit(
    A,
    req({ type: "limit", limit_price: dec("99"), time_in_force: "ioc" }),
    T0 + MIN,
  );
  assertEquals([lim.status, s(lim.filled_qty)], ["canceled", "0"]);
  const ev = ex.drainEvents();
  checkStatuses(ev);
  assertEquals(names(ev, ioc.id), ["pending_new", "new", "partial_fill", "canceled"]);
  assertEquals(names(ev, fok.id), ["pending_new", "new", "canceled"]);
});

Deno.test("day orders expire at the close; gtc orders rest", () => {
  const ex = make();
  const day = ex.submit(A, req({ type: "limit", limit_price: dec("90") }), T0);
  assertEquals(day.expires_at, CLOSE);
  const gtc = ex.submit(
    A,
    req({ type: "limit", limit_price: dec("90"), time_in_force: "gtc" }),
    T0,
  );
  assertEquals(gtc.expires_at, null);
  ex.drainEvents();
  ex.advance(CLOSE - 1);
  assertEquals(ex.getOrder(A, day.id).status, "new");
  ex.advance(POST);
  const expired = ex.getOrder(A, day.id);
  assertEquals([expired.status, expired.expired_at], ["expired", CLOSE]);
  assertEquals(ex.getOrder(A, gtc.id).status, "new");
  const ev = ex.drainEvents();
  assertEquals(ev.map((e) => [e.update.event, e.update.timestamp]), [["expired", CLOSE]]);
  assertEquals(s(ex.account(A).buying_power), "199100", "only the gtc reservation is left");
});

Deno.test("orders outside core hours queue as accepted; extended-hours limits work pre and post", () => {
  const ex = make();
  ex.onQuote("AAPL", quote(99, 99.1), PRE);
  const mkt = ex.submit(A, req(), PRE);
  assertEquals(mkt.status, "accepted");
  const ext = ex.submit(
    A,
    req({ type: "limit", limit_price: dec("99.5"), extended_hours: true }),
    PRE,
  );
  assertEquals([ext.status, s(ext.filled_avg_price)], ["filled", "99.1"]);
  const gtc = ex.submit(
    A,
    req({ type: "limit", limit_price: dec("98"), time_in_force: "gtc" }),
    PRE,
  );
  assertEquals(gtc.status, "accepted");
  let ev = ex.drainEvents();
  assertEquals(names(ev, mkt.id), []);
  ex.onQuote("AAPL", quote(97, 97.5), PRE + MIN);
  assertEquals(ex.getOrder(A, gtc.id).status, "accepted", "no fill before the open");
  ex.onQuote("AAPL", quote(100, 100.1), T0);
  assertEquals(ex.getOrder(A, mkt.id).status, "filled");
  assertEquals(ex.getOrder(A, gtc.id).status, "new");
  ev = ex.drainEvents();
  checkStatuses(ev, new Map([[mkt.id, "accepted"], [gtc.id, "accepted"]]));
  assertEquals(names(ev, mkt.id), ["pending_new", "new", "fill"]);
  // a resting regular gtc order does not fill after hours
  ex.onQuote("AAPL", quote(97, 97.2), POST);
  assertEquals(ex.getOrder(A, gtc.id).status, "new");
  const night = ex.submit(
    A,
    req({ type: "limit", limit_price: dec("97.5"), extended_hours: true, qty: dec("1") }),
    NIGHT,
  );
  assertEquals(night.status, "accepted");
  ex.onQuote("AAPL", quote(97, 97.2), Date.UTC(2026, 10, 24, 9, 1));
  assertEquals(ex.getOrder(A, night.id).status, "filled", "works from the pre-market");
});

Deno.test("opg fills at the first core quote; cls at the last quote before the close", () => {
  const ex = make();
  const opg = ex.submit(A, req({ time_in_force: "opg" }), PRE);
  assertEquals(opg.status, "accepted");
  const opgLimit = ex.submit(
    A,
    req({ type: "limit", limit_price: dec("50"), time_in_force: "opg" }),
    PRE,
  );
  expectError(
    () => ex.submit(A, req({ time_in_force: "opg" }), T0),
    "INVALID_TIME_IN_FORCE",
  );
  ex.advance(Date.UTC(2026, 10, 23, 14, 30));
  assertEquals(ex.getOrder(A, opg.id).status, "new");
  ex.onQuote("AAPL", quote(101, 101.1, 100, 1), Date.UTC(2026, 10, 23, 14, 30, 1));
  const filled = ex.getOrder(A, opg.id);
  assertEquals([filled.status, s(filled.filled_qty), s(filled.filled_avg_price)], [
    "filled",
    "10",
    "101.1",
  ]);
  assertEquals(ex.getOrder(A, opgLimit.id).status, "canceled", "not marketable at the open");
  const cls = ex.submit(A, req({ side: "sell", time_in_force: "cls" }), T0);
  assertEquals(cls.status, "new");
  ex.onQuote("AAPL", quote(102, 102.1), CLOSE - MIN);
  assertEquals(ex.getOrder(A, cls.id).status, "new");
  ex.onQuote("AAPL", quote(90, 90.1), CLOSE + MIN);
  const c = ex.getOrder(A, cls.id);
  assertEquals([c.status, s(c.filled_avg_price), c.filled_at], ["filled", "102", CLOSE]);
  checkStatuses(ex.drainEvents());
});

Deno.test("notional orders fill a fractional qty to 9 places", () => {
  const ex = make();
  const o = ex.submit(A, req({ qty: undefined, notional: dec("1000") }), T0);
  assertEquals([o.status, s(o.notional), o.qty], ["filled", "1000", null]);
  assertEquals(s(o.filled_qty), "9.999000099");
  const pos = ex.position(A, "AAPL");
  assertEquals(s(pos.qty), "9.999000099");
  const sell = ex.submit(A, req({ side: "sell", qty: undefined, notional: dec("500") }), T0);
  assertEquals(s(sell.filled_qty), "5.00050005");
  expectError(
    () => ex.submit(A, req({ symbol: "GME", qty: dec("1.5") }), T0),
    "ASSET_NOT_FRACTIONABLE",
  );
});

// ---------------------------------------------------------------------------------------------
// Buying power, quantities, shorting, wash trades

Deno.test("buying power: cash accounts use cash, Reg-T margin doubles excess equity", () => {
  const cash = make({ defaultMultiplier: "1" });
  assertEquals(s(cash.account(A).buying_power), "100000");
  cash.submit(A, req({ type: "limit", limit_price: dec("90"), qty: dec("100") }), T0);
  assertEquals(s(cash.account(A).buying_power), "91000");
  const err = expectError(
    () => cash.submit(A, req({ qty: dec("1000") }), T0),
    "INSUFFICIENT_BUYING_POWER",
    "insufficient buying power",
  );
  assertEquals([err.alpacaExtra.buying_power, err.alpacaExtra.cost_basis], ["91000", "100010"]);
  assertEquals(err.toAlpacaBody().code, 40310000);
  const margin = make();
  margin.onQuote("AAPL", quote(99.99, 100.01, 5000, 5000), T0);
  const a = margin.account(A);
  assertEquals([s(a.buying_power), a.multiplier, a.shorting_enabled], ["200000", "2", true]);
  margin.submit(A, req({ qty: dec("1000") }), T0);
  const b = margin.account(A);
  // cash 100000 − 100010, long 1000 × 100 (last trade), equity 99990, initial margin 50000
  assertEquals([s(b.cash), s(b.equity), s(b.initial_margin)], ["-10", "99990", "50000"]);
  assertEquals(s(b.buying_power), "99980");
  const nm = make({ startingCash: "5000" });
  expectError(
    () => nm.submit(A, req({ symbol: "NOMRG", qty: dec("60") }), T0),
    "INSUFFICIENT_BUYING_POWER",
  );
  nm.submit(A, req({ symbol: "MSFT", qty: dec("60") }), T0);
});

Deno.test("quantities: no selling more than held, no flipping, shares held by open orders", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  const flip = expectError(
    () => ex.submit(A, req({ side: "sell", qty: dec("15") }), T0),
    "INSUFFICIENT_QTY",
    "insufficient qty available for order (requested: 15, available: 10)",
  );
  assertEquals(flip.alpacaExtra.held_for_orders, "0");
  const sell = ex.submit(A, req({ side: "sell", type: "limit", limit_price: dec("120") }), T0);
  assertEquals(s(ex.position(A, "AAPL").qty_available), "0");
  const held = expectError(
    () =>
      ex.submit(
        A,
        req({ side: "sell", type: "limit", limit_price: dec("120"), qty: dec("1") }),
        T0,
      ),
    "INSUFFICIENT_QTY",
    "insufficient qty available for order (requested: 1, available: 0)",
  );
  assertEquals([held.alpacaExtra.held_for_orders, held.alpacaExtra.symbol], ["10", "AAPL"]);
  ex.cancel(A, sell.id, T0 + MIN);
  assertEquals(s(ex.position(A, "AAPL").qty_available), "10");
});

Deno.test("shorting: margin accounts may short shortable assets; others may not", () => {
  const ex = make();
  const o = ex.submit(A, req({ side: "sell" }), T0);
  assertEquals(o.status, "filled");
  const pos = ex.position(A, "AAPL");
  assertEquals([s(pos.qty), pos.side, s(pos.cost_basis), s(pos.market_value)], [
    "-10",
    "short",
    "-999.9",
    "-1000",
  ]);
  assertEquals(s(ex.account(A).cash), "100999.9");
  assertEquals(s(ex.account(A).short_market_value), "-1000");
  // covering more than the short would flip it
  expectError(
    () => ex.submit(A, req({ qty: dec("11") }), T0),
    "INSUFFICIENT_QTY",
    "insufficient qty available for order (requested: 11, available: 10)",
  );
  expectError(
    () => ex.submit(A, req({ symbol: "GME", side: "sell" }), T0),
    "ASSET_NOT_SHORTABLE",
    'asset "GME" cannot be sold short',
  );
  expectError(
    () => ex.submit(A, req({ side: "sell", qty: dec("0.5") }), T0),
    "FRACTIONAL_NOT_ALLOWED",
    "fractional orders cannot be sold short",
  );
  const cash = make({ defaultMultiplier: "1" });
  expectError(
    () => cash.submit(A, req({ side: "sell" }), T0),
    "INSUFFICIENT_QTY",
    "insufficient qty available for order (requested: 10, available: 0)",
  );
  const small = make({ startingCash: "1500" });
  expectError(
    () => small.submit(A, req({ side: "sell", qty: dec("1") }), T0),
    "SHORTING_NOT_ALLOWED",
    "account is not allowed to short",
  );
  // short buying power: ask × 1.03
  const bp = make({ startingCash: "2000" });
  const err = expectError(
    () => bp.submit(A, req({ side: "sell", qty: dec("40") }), T0),
    "INSUFFICIENT_BUYING_POWER",
  );
  assertEquals(err.alpacaExtra.cost_basis, "4120.42");
});

Deno.test("wash trades: an open opposite-side market/stop order refuses the new order", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  const stop = ex.submit(A, req({ side: "sell", type: "stop", stop_price: dec("90") }), T0);
  const err = expectError(
    () => ex.submit(A, req({ type: "limit", limit_price: dec("95"), qty: dec("1") }), T0),
    "WASH_TRADE",
    "potential wash trade detected. use complex orders",
  );
  assertEquals(err.alpacaExtra, {
    existing_order_id: stop.id,
    reject_reason: "opposite side market/stop order exists",
  });
  ex.submit(B, req({ type: "limit", limit_price: dec("95"), qty: dec("1") }), T0);
  ex.cancel(A, stop.id, T0 + MIN);
  ex.submit(A, req({ type: "limit", limit_price: dec("95"), qty: dec("1") }), T0 + MIN);
});

Deno.test("client_order_id must be unique per account", () => {
  const ex = make();
  const o = ex.submit(A, req({ client_order_id: "mine" }), T0);
  const err = expectError(
    () => ex.submit(A, req({ client_order_id: "mine" }), T0),
    "DUPLICATE_CLIENT_ORDER_ID",
    "client_order_id must be unique",
  );
  assertEquals(err.alpacaCode, 40010001);
  assertEquals(err.details.existing_order_id, o.id);
  ex.submit(B, req({ client_order_id: "mine" }), T0);
  assertEquals(ex.getOrderByClientId(A, "mine").id, o.id);
  expectError(() => ex.getOrderByClientId(A, "other"), "ORDER_NOT_FOUND");
  expectError(
    () => ex.submit(A, req({ symbol: "NOPE" }), T0),
    "ASSET_NOT_FOUND",
    'asset "NOPE" not found',
  );
  expectError(
    () => ex.submit(A, req({ symbol: "DEAD" }), T0),
    "ASSET_NOT_TRADABLE",
  );
});

// ---------------------------------------------------------------------------------------------
// Closing positions

Deno.test("closePosition by qty, by percentage (whole shares unless fractional), and all", () => {
  const ex = make();
  ex.submit(A, req({ qty: dec("7") }), T0);
  const half = ex.closePosition(A, "AAPL", { percentage: dec("50") }, T0 + MIN);
  assertEquals([half.side, s(half.qty), half.type, half.time_in_force], [
    "sell",
    "3",
    "market",
    "day",
  ]);
  const one = ex.closePosition(A, "AAPL", { qty: dec("1") }, T0 + MIN);
  assertEquals(s(one.qty), "1");
  assertEquals(s(ex.position(A, "AAPL").qty), "3");
  ex.submit(A, req({ symbol: "MSFT", qty: dec("2.5") }), T0 + MIN);
  const frac = ex.closePosition(A, "MSFT", { percentage: dec("50") }, T0 + 2 * MIN);
  assertEquals(s(frac.qty), "1.25");
  expectError(() => ex.closePosition(A, "GME", {}, T0), "POSITION_NOT_FOUND");
  expectError(
    () => ex.closePosition(A, "AAPL", { percentage: dec("10") }, T0),
    "INVALID_ORDER",
  );
  const all = ex.closePosition(A, "AAPL", {}, T0 + 3 * MIN);
  assertEquals(s(all.qty), "3");
  assertEquals(ex.positions(A).map((p) => p.symbol), ["MSFT"]);
});

Deno.test("closeAll reports held shares, and succeeds after canceling orders", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  ex.submit(A, req({ symbol: "MSFT", side: "sell" }), T0);
  ex.submit(A, req({ side: "sell", type: "limit", limit_price: dec("150") }), T0);
  const res = ex.closeAll(A, {}, T0 + MIN);
  assertEquals(res.map((r) => [r.symbol, r.status]), [["AAPL", 403], ["MSFT", 200]]);
  assertEquals(res[0]!.error, {
    code: 40310000,
    message: "insufficient qty available for order (requested: 10, available: 0)",
    available: "0",
    held_for_orders: "10",
    symbol: "AAPL",
  });
  assertEquals(res[1]!.order?.side, "buy");
  const again = ex.closeAll(A, { cancelOrders: true }, T0 + 2 * MIN);
  assertEquals(again.map((r) => [r.symbol, r.status]), [["AAPL", 200]]);
  assertEquals(ex.positions(A), []);
});

// ---------------------------------------------------------------------------------------------
// Queries

Deno.test("listOrders: status, limit, after/until, direction, nested, symbols, side", () => {
  const ex = make();
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    const o = ex.submit(
      A,
      req({ type: "limit", limit_price: dec("90"), symbol: i % 2 ? "MSFT" : "AAPL" }),
      T0 + i * MIN,
    );
    ids.push(o.id);
  }
  ex.cancel(A, ids[0]!, T0 + 10 * MIN);
  const br = ex.submit(A, bracket({ type: "limit", limit_price: dec("96") }), T0 + 11 * MIN);
  assertEquals(ex.listOrders(A).map((o) => o.id), [
    br.legs![1]!.id,
    br.legs![0]!.id,
    br.id,
    ids[5],
    ids[4],
    ids[3],
    ids[2],
    ids[1],
  ]);
  assertEquals(ex.listOrders(A, { status: "closed" }).map((o) => o.id), [ids[0]]);
  assertEquals(ex.listOrders(A, { status: "all" }).length, 9);
  assertEquals(ex.listOrders(A, { limit: 2, direction: "asc" }).map((o) => o.id), [ids[1], ids[2]]);
  assertEquals(
    ex.listOrders(A, { after: T0 + MIN, until: T0 + 4 * MIN, direction: "asc" }).map((o) => o.id),
    [ids[2], ids[3]],
  );
  const nested = ex.listOrders(A, { nested: true, symbols: ["AAPL"] });
  assertEquals(nested.map((o) => o.id), [br.id, ids[4], ids[2]]);
  assertEquals(nested[0]!.legs?.length, 2);
  assertEquals(ex.listOrders(A, { side: "sell" }).length, 2);
  assertEquals(ex.listOrders("nobody"), []);
  assertEquals(ex.getOrder(A, br.id).legs, null);
  expectError(() => ex.getOrder(B, br.id), "ORDER_NOT_FOUND");
});

// ---------------------------------------------------------------------------------------------
// Account figures over days

Deno.test("last_equity and lastday_price come from the previous close the exchange saw", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  ex.onTrade("AAPL", trade(105), CLOSE - MIN);
  ex.advance(POST);
  const a = ex.account(A);
  // cash 98999.9 + 10 × 105
  assertEquals([s(a.last_equity), s(a.equity), a.balance_asof], [
    "100049.9",
    "100049.9",
    "2026-11-23",
  ]);
  ex.onTrade("AAPL", trade(107), OPEN2 + MIN);
  const p = ex.position(A, "AAPL");
  assertEquals([s(p.lastday_price), s(p.current_price)], ["105", "107"]);
  assertEquals([s(p.unrealized_intraday_pl), s(p.change_today)], ["20", "0.019047619"]);
  assertEquals(s(p.unrealized_pl), "69.9");
});

// ---------------------------------------------------------------------------------------------
// Legacy PDT

Deno.test("legacy PDT: the exit that would be the 4th day trade in 5 days is refused", () => {
  const ex = make({ legacyPdt: true, startingCash: "20000" });
  for (let i = 0; i < 3; i++) {
    ex.submit(A, req(), T0 + i * MIN);
    ex.submit(A, req({ side: "sell" }), T0 + i * MIN + 1);
  }
  assertEquals(ex.account(A).daytrade_count, 3);
  assertEquals(ex.account(A).pattern_day_trader, false);
  ex.submit(A, req(), T0 + 10 * MIN);
  const err = expectError(
    () => ex.submit(A, req({ side: "sell" }), T0 + 11 * MIN),
    "PDT_PROTECTION",
    "trade denied due to pattern day trading protection",
  );
  assertEquals(err.alpacaCode, 40310100);
  assertEquals(err.status, 403);
  // the next day the position is no longer opened "today"
  ex.onQuote("AAPL", quote(99.99, 100.01), OPEN2);
  ex.submit(A, req({ side: "sell" }), OPEN2 + MIN);
  // without legacy mode nothing is refused
  const modern = make({ startingCash: "20000" });
  for (let i = 0; i < 5; i++) {
    modern.submit(A, req(), T0 + i * MIN);
    modern.submit(A, req({ side: "sell" }), T0 + i * MIN + 1);
  }
  assertEquals(modern.account(A).daytrade_count, undefined);
  // equity at or above 25000 is exempt
  const rich = make({ legacyPdt: true });
  for (let i = 0; i < 5; i++) {
    rich.submit(A, req(), T0 + i * MIN);
    rich.submit(A, req({ side: "sell" }), T0 + i * MIN + 1);
  }
  assertEquals(rich.account(A).daytrade_count, 5);
  assertEquals(rich.account(A).pattern_day_trader, true);
});

// ---------------------------------------------------------------------------------------------
// The matrix: type × time_in_force × class, against the rules

const TYPES: OrderType[] = ["market", "limit", "stop", "stop_limit", "trailing_stop"];
const TIFS: TimeInForce[] = ["day", "gtc", "opg", "cls", "ioc", "fok"];
const CLASSES: OrderClass[] = ["", "bracket", "oco", "oto"];

function matrixRequest(type: OrderType, tif: TimeInForce, cls: OrderClass): OrderRequest {
  const r: OrderRequest = {
    symbol: "AAPL",
    qty: dec("10"),
    side: cls === "oco" ? "sell" : "buy",
    type,
    time_in_force: tif,
    order_class: cls,
  };
  if (type === "limit" || type === "stop_limit") r.limit_price = dec(cls === "oco" ? "110" : "99");
  if (type === "stop" || type === "stop_limit") r.stop_price = dec("101");
  if (type === "trailing_stop") r.trail_percent = dec("2");
  if (cls === "bracket" || cls === "oco") {
    r.take_profit = { limit_price: dec("110") };
    r.stop_loss = { stop_price: dec("95") };
  }
  if (cls === "oto") r.stop_loss = { stop_price: dec("95") };
  return r;
}

Deno.test("matrix: every type × time_in_force × class is placed or refused as the rules say", () => {
  let placed = 0;
  let refused = 0;
  for (const type of TYPES) {
    for (const tif of TIFS) {
      for (const cls of CLASSES) {
        const label = `${type}/${tif}/${cls || "simple"}`;
        const ex = make();
        ex.submit(A, req(), T0 - MIN); // a long position for the oco exits
        const r = matrixRequest(type, tif, cls);
        const expected = validateOrder(r, { ...ASSETS[0]!, fractional_eh_enabled: false }, {
          lastPrice: dec("100"),
          session: "core",
          etMinutesOfDay: 10 * 60,
          shortSale: false,
        });
        if (expected !== null) {
          const err = assertThrows(() => ex.submit(A, r, T0), TradeError);
          assertEquals(
            [err.code, err.alpacaMessage],
            [expected.code, expected.alpacaMessage],
            label,
          );
          refused++;
          continue;
        }
        const o = ex.submit(A, r, T0);
        placed++;
        const ev = ex.drainEvents();
        checkStatuses(ev);
        assertEquals(names(ev, o.id).slice(0, 2), ["pending_new", "new"], label);
        const want: Record<string, OrderStatus> = { market: "filled", limit: "new" };
        if (tif === "ioc" || tif === "fok") {
          assertEquals(o.status, type === "market" ? "filled" : "canceled", label);
        } else if (tif === "opg" || tif === "cls") {
          assertEquals(o.status, "new", label);
        } else {
          assertEquals(o.status, want[type] ?? "new", label);
        }
        assertEquals(o.legs?.length ?? 0, cls === "" ? 0 : cls === "bracket" ? 2 : 1, label);
      }
    }
  }
  assert(placed > 20 && refused > 40, `placed ${placed}, refused ${refused}`);
});

// ---------------------------------------------------------------------------------------------
// Determinism

function scenario(seed: string): string[] {
  const ex = make({}, seed);
  const out: string[] = [];
  const o1 = ex.submit(A, bracket({ type: "limit", limit_price: dec("99.5") }), T0);
  ex.submit(B, req({ side: "sell", type: "trailing_stop", trail_price: dec("1") }), T0);
  ex.onQuote("AAPL", quote(99.4, 99.5, 100, 5), T0 + MIN);
  ex.onQuote("AAPL", quote(99.4, 99.5, 100, 50), T0 + 2 * MIN);
  ex.replace(A, o1.legs![0]!.id, { limit_price: dec("111") }, T0 + 3 * MIN);
  ex.onTrade("AAPL", trade(103), T0 + 4 * MIN);
  ex.onTrade("AAPL", trade(94), T0 + 5 * MIN);
  ex.submit(A, req({ type: "limit", limit_price: dec("80") }), T0 + 6 * MIN);
  ex.advance(NIGHT);
  for (const e of ex.drainEvents()) {
    out.push(JSON.stringify({
      account: e.accountId,
      ...e.update,
      order: toAlpacaJson(e.update.order),
      fill: e.fill,
    }));
  }
  return out;
}

Deno.test("the same seed and calls give byte-identical events", () => {
  const a = scenario("det");
  const b = scenario("det");
  assert(a.length > 15, `only ${a.length} events`);
  assertEquals(a, b);
  assert(a.join("\n") !== scenario("other").join("\n"), "ids come from the seed");
});

// ---------------------------------------------------------------------------------------------
// Properties

type Action =
  | { k: "quote"; bid: number; spread: number; bs: number; as: number }
  | { k: "trade"; price: number }
  | {
    k: "submit";
    acct: number;
    side: "buy" | "sell";
    type: OrderType;
    tif: TimeInForce;
    cls: OrderClass;
    qty: number;
    off: number;
    off2: number;
  }
  | { k: "cancel"; pick: number }
  | { k: "replace"; pick: number; off: number; qty: number }
  | { k: "advance"; minutes: number };

const cents = (c: number) => Decimal.fromUnits(BigInt(c) * 10_000_000n);

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    k: fc.constant("quote" as const),
    bid: fc.integer({ min: 9000, max: 11000 }),
    spread: fc.integer({ min: 1, max: 30 }),
    bs: fc.integer({ min: 0, max: 60 }),
    as: fc.integer({ min: 0, max: 60 }),
  }),
  fc.record({ k: fc.constant("trade" as const), price: fc.integer({ min: 9000, max: 11000 }) }),
  fc.record({
    k: fc.constant("submit" as const),
    acct: fc.integer({ min: 0, max: 1 }),
    side: fc.constantFrom("buy" as const, "sell" as const),
    type: fc.constantFrom(...TYPES),
    tif: fc.constantFrom<TimeInForce>("day", "gtc", "gtc", "ioc", "fok", "cls"),
    cls: fc.constantFrom<OrderClass>("", "", "", "bracket", "oco", "oto"),
    qty: fc.integer({ min: 1, max: 40 }),
    off: fc.integer({ min: -300, max: 300 }),
    off2: fc.integer({ min: 1, max: 500 }),
  }),
  fc.record({ k: fc.constant("cancel" as const), pick: fc.nat() }),
  fc.record({
    k: fc.constant("replace" as const),
    pick: fc.nat(),
    off: fc.integer({ min: -300, max: 300 }),
    qty: fc.integer({ min: 0, max: 60 }),
  }),
  fc.record({ k: fc.constant("advance" as const), minutes: fc.integer({ min: 1, max: 400 }) }),
);

interface Run {
  events: PaperEvent[];
  prints: Array<{ ts: number; price: Decimal }>;
  ex: PaperExchange;
}

function run(actions: Action[]): Run {
  const ex = make({ startingCash: "50000" }, "prop");
  const accts = [A, B];
  const events: PaperEvent[] = [];
  const prints: Array<{ ts: number; price: Decimal }> = [];
  const orderIds: Array<[string, string]> = [];
  let ts = T0;
  let last = 10000;
  for (const a of actions) {
    ts += 1000;
    try {
      switch (a.k) {
        case "quote":
          ex.onQuote("AAPL", quote(a.bid / 100, (a.bid + a.spread) / 100, a.bs, a.as), ts);
          break;
        case "trade":
          last = a.price;
          ex.onTrade("AAPL", trade(a.price / 100), ts);
          prints.push({ ts, price: cents(a.price) });
          break;
        case "advance":
          ts += a.minutes * MIN;
          ex.advance(ts);
          break;
        case "submit": {
          const r: OrderRequest = {
            symbol: "AAPL",
            side: a.side,
            type: a.type,
            time_in_force: a.tif,
            qty: Decimal.int(a.qty),
            order_class: a.cls,
          };
          const up = a.side === "buy" ? 1 : -1;
          if (a.type === "limit" || a.type === "stop_limit") r.limit_price = cents(last + a.off);
          if (a.type === "stop" || a.type === "stop_limit") {
            r.stop_price = cents(last - up * a.off2);
          }
          if (a.type === "trailing_stop") r.trail_price = cents(a.off2);
          if (a.cls !== "") {
            const exitUp = a.cls === "oco" ? -up : up;
            r.take_profit = { limit_price: cents(last + exitUp * a.off2) };
            r.stop_loss = { stop_price: cents(last - exitUp * a.off2) };
            if (a.cls === "oto") delete r.take_profit;
            if (a.cls === "oco") r.limit_price = r.take_profit!.limit_price;
          }
          const o = ex.submit(accts[a.acct]!, r, ts);
          orderIds.push([accts[a.acct]!, o.id]);
          for (const l of o.legs ?? []) orderIds.push([accts[a.acct]!, l.id]);
          break;
        }
        case "cancel": {
          if (orderIds.length === 0) break;
          const [acct, id] = orderIds[a.pick % orderIds.length]!;
          ex.cancel(acct, id, ts);
          break;
        }
        case "replace": {
          if (orderIds.length === 0) break;
          const [acct, id] = orderIds[a.pick % orderIds.length]!;
          const o = ex.getOrder(acct, id);
          const patch: { qty?: Decimal; limit_price?: Decimal; stop_price?: Decimal } = {};
          if (a.qty > 0) patch.qty = Decimal.int(a.qty);
          if (o.limit_price !== null) patch.limit_price = cents(last + a.off);
          else if (o.stop_price !== null && o.type !== "trailing_stop") {
            patch.stop_price = cents(last + a.off);
          }
          const n = ex.replace(acct, id, patch, ts);
          orderIds.push([acct, n.id]);
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof TradeError)) throw e;
      assert(e.code !== "ILLEGAL_TRANSITION" && e.code !== "INTERNAL", e.message);
    }
    events.push(...ex.drainEvents());
  }
  return { events, prints, ex };
}

Deno.test("property: no overfills, legal statuses, limit and stop prices respected", () => {
  fc.assert(
    fc.property(fc.array(actionArb, { minLength: 1, maxLength: 60 }), (actions) => {
      const { events, prints, ex } = run(actions);
      checkStatuses(events);
      const chainStart = new Map<string, number>();
      for (const e of events) {
        const o = e.update.order;
        if (!chainStart.has(o.id)) {
          chainStart.set(o.id, chainStart.get(o.replaces ?? "") ?? o.submitted_at ?? 0);
        }
        if (o.qty !== null) assert(o.filled_qty.lte(o.qty), `overfill of ${o.id}`);
        if (e.update.price === undefined) continue;
        const p = e.update.price;
        const buy = o.side === "buy";
        if (o.limit_price !== null && (o.type === "limit" || o.type === "stop_limit")) {
          assert(buy ? p.lte(o.limit_price) : p.gte(o.limit_price), `limit broken by ${o.id}`);
        }
        if (o.type === "stop" || o.type === "stop_limit" || o.type === "trailing_stop") {
          const stop = o.stop_price!;
          const elected = prints.some((t) =>
            t.ts >= chainStart.get(o.id)! && t.ts <= e.update.timestamp &&
            (buy ? t.price.gte(stop) : t.price.lte(stop))
          );
          assert(elected, `stop ${o.id} filled without a print through ${stop}`);
        }
      }
      for (const acct of [A, B]) {
        for (const o of ex.listOrders(acct, { status: "all", limit: 500 })) {
          if (o.qty !== null) assert(o.filled_qty.lte(o.qty), `overfill of ${o.id}`);
        }
      }
    }),
    FC,
  );
});

Deno.test("property: cash + position cost − realized P&L is conserved across fills", () => {
  fc.assert(
    fc.property(fc.array(actionArb, { minLength: 1, maxLength: 60 }), (actions) => {
      const { events, ex } = run(actions);
      for (const acct of [A, B]) {
        const realized = Decimal.sum(
          events.filter((e) => e.accountId === acct && e.fill).map((e) => e.fill!.realized_pl),
        );
        const cost = Decimal.sum(ex.positions(acct).map((p) => p.cost_basis));
        const total = ex.account(acct).cash.add(cost).sub(realized);
        assertEquals(total.toString(), "50000", acct);
      }
    }),
    FC,
  );
});

Deno.test("property: the two exits of an OCO pair never both fill", () => {
  fc.assert(
    fc.property(fc.array(actionArb, { minLength: 1, maxLength: 60 }), (actions) => {
      const { ex } = run(actions);
      for (const acct of [A, B]) {
        for (const o of ex.listOrders(acct, { status: "all", nested: true, limit: 500 })) {
          if (o.order_class === "oco") {
            const sl = o.legs?.[0];
            assert(!(o.filled_qty.isPositive() && sl?.filled_qty.isPositive()), `oco ${o.id}`);
          } else if (o.order_class === "bracket") {
            const [tp, sl] = o.legs ?? [];
            assert(
              !(tp?.filled_qty.isPositive() && sl?.filled_qty.isPositive()),
              `bracket ${o.id}`,
            );
          }
        }
      }
    }),
    FC,
  );
});

Deno.test("property: a position never exceeds what its fills add up to", () => {
  fc.assert(
    fc.property(fc.array(actionArb, { minLength: 1, maxLength: 60 }), (actions) => {
      const { events, ex } = run(actions);
      for (const acct of [A, B]) {
        let q = Decimal.ZERO;
        for (const e of events) {
          if (e.accountId !== acct || !e.fill) continue;
          q = e.fill.side === "buy" ? q.add(e.fill.qty) : q.sub(e.fill.qty);
          assertEquals(e.fill.position_qty.toString(), q.toString());
        }
        const pos = ex.positions(acct)[0];
        assertEquals(pos?.qty.toString() ?? "0", q.toString());
      }
    }),
    FC,
  );
});

Deno.test("orders outlive nothing: every event order belongs to its account", () => {
  const ex = make();
  ex.submit(A, req(), T0);
  ex.submit(B, req({ side: "sell" }), T0);
  for (const e of ex.drainEvents()) {
    const o: Order = ex.getOrder(e.accountId, e.update.order.id);
    assertEquals(o.id, e.update.order.id);
  }
});

// ---------------------------------------------------------------------------------------------
// Every refusal the exchange itself makes, as a table

interface Refusal {
  label: string;
  options?: Partial<PaperExchangeOptions>;
  setup?: (ex: PaperExchange) => string | void;
  act: (ex: PaperExchange, id: string) => unknown;
  code: TradeErrorCode;
  alpaca: [number, number, string];
}

const REFUSALS: Refusal[] = [
  {
    label: "duplicate client_order_id",
    setup: (ex) => void ex.submit(A, req({ client_order_id: "x" }), T0),
    act: (ex) => ex.submit(A, req({ client_order_id: "x" }), T0),
    code: "DUPLICATE_CLIENT_ORDER_ID",
    alpaca: [422, 40010001, "client_order_id must be unique"],
  },
  {
    label: "wash trade against an open opposite stop",
    setup: (ex) => {
      ex.submit(A, req(), T0);
      ex.submit(A, req({ side: "sell", type: "stop", stop_price: dec("90") }), T0);
    },
    act: (ex) => ex.submit(A, req({ type: "limit", limit_price: dec("95") }), T0),
    code: "WASH_TRADE",
    alpaca: [403, 40310000, "potential wash trade detected. use complex orders"],
  },
  {
    label: "selling more than the long position (no flipping)",
    setup: (ex) => void ex.submit(A, req({ qty: dec("3") }), T0),
    act: (ex) => ex.submit(A, req({ side: "sell", qty: dec("4") }), T0),
    code: "INSUFFICIENT_QTY",
    alpaca: [403, 40310000, "insufficient qty available for order (requested: 4, available: 3)"],
  },
  {
    label: "covering more than the short position (no flipping)",
    setup: (ex) => void ex.submit(A, req({ side: "sell", qty: dec("3") }), T0),
    act: (ex) => ex.submit(A, req({ qty: dec("4") }), T0),
    code: "INSUFFICIENT_QTY",
    alpaca: [403, 40310000, "insufficient qty available for order (requested: 4, available: 3)"],
  },
  {
    label: "selling without a position in a cash account",
    options: { defaultMultiplier: "1" },
    act: (ex) => ex.submit(A, req({ side: "sell" }), T0),
    code: "INSUFFICIENT_QTY",
    alpaca: [403, 40310000, "insufficient qty available for order (requested: 10, available: 0)"],
  },
  {
    label: "shorting under $2,000 equity",
    options: { startingCash: "1999" },
    act: (ex) => ex.submit(A, req({ side: "sell", qty: dec("1") }), T0),
    code: "SHORTING_NOT_ALLOWED",
    alpaca: [403, 40310000, "account is not allowed to short"],
  },
  {
    label: "shorting in an account with shorting disabled",
    setup: (ex) => void ex.openAccount(A, { shortingEnabled: false }),
    act: (ex) => ex.submit(A, req({ side: "sell", qty: dec("1") }), T0),
    code: "SHORTING_NOT_ALLOWED",
    alpaca: [403, 40310000, "account is not allowed to short"],
  },
  {
    label: "shorting a hard-to-borrow asset",
    act: (ex) => ex.submit(A, req({ symbol: "GME", side: "sell" }), T0),
    code: "ASSET_NOT_SHORTABLE",
    alpaca: [422, 42210000, 'asset "GME" cannot be sold short'],
  },
  {
    label: "buying beyond buying power",
    options: { defaultMultiplier: "1", startingCash: "500" },
    act: (ex) => ex.submit(A, req({ type: "limit", limit_price: dec("60") }), T0),
    code: "INSUFFICIENT_BUYING_POWER",
    alpaca: [403, 40310000, "insufficient buying power"],
  },
  {
    label: "shorting beyond buying power",
    options: { startingCash: "2000" },
    act: (ex) => ex.submit(A, req({ side: "sell", qty: dec("50") }), T0),
    code: "INSUFFICIENT_BUYING_POWER",
    alpaca: [403, 40310000, "insufficient buying power"],
  },
  {
    label: "the 4th day trade under legacy PDT",
    options: { legacyPdt: true, startingCash: "10000" },
    setup: (ex) => {
      for (let i = 0; i < 3; i++) {
        ex.submit(A, req({ qty: dec("1") }), T0);
        ex.submit(A, req({ qty: dec("1"), side: "sell" }), T0);
      }
      ex.submit(A, req({ qty: dec("1") }), T0);
    },
    act: (ex) => ex.submit(A, req({ qty: dec("1"), side: "sell" }), T0),
    code: "PDT_PROTECTION",
    alpaca: [403, 40310100, "trade denied due to pattern day trading protection"],
  },
  {
    label: "canceling an unknown order",
    act: (ex) => ex.cancel(A, "00000000-0000-4000-8000-000000000000", T0),
    code: "ORDER_NOT_FOUND",
    alpaca: [404, 40410000, "order not found"],
  },
  {
    label: "canceling another account's order",
    setup: (ex) => ex.submit(B, req({ type: "limit", limit_price: dec("90") }), T0).id,
    act: (ex, id) => ex.cancel(A, id, T0),
    code: "ORDER_NOT_FOUND",
    alpaca: [404, 40410000, "order not found"],
  },
  {
    label: "canceling a filled order",
    setup: (ex) => ex.submit(A, req(), T0).id,
    act: (ex, id) => ex.cancel(A, id, T0),
    code: "ORDER_NOT_CANCELABLE",
    alpaca: [422, 42210000, 'order is already in "filled" state'],
  },
  {
    label: "replacing a queued order",
    setup: (ex) => ex.submit(A, req({ type: "limit", limit_price: dec("90") }), PRE).id,
    act: (ex, id) => ex.replace(A, id, { limit_price: dec("91") }, PRE),
    code: "ORDER_NOT_REPLACEABLE",
    alpaca: [422, 40010001, "unable to replace order, order isn't sent to exchange yet"],
  },
  {
    label: "replacing the trail of a triggered trailing stop",
    setup: (ex) => {
      ex.submit(A, req(), T0);
      const o = ex.submit(
        A,
        req({ side: "sell", type: "trailing_stop", trail_price: dec("1"), time_in_force: "gtc" }),
        T0,
      );
      ex.onQuote("AAPL", quote(98, 98.1, 0, 100), T0);
      ex.onTrade("AAPL", trade(98.5), T0);
      return o.id;
    },
    act: (ex, id) => ex.replace(A, id, { trail: dec("2") }, T0),
    code: "ORDER_NOT_REPLACEABLE",
    alpaca: [422, 40010001, "unable to replace order, trailing stop has already triggered"],
  },
  {
    label: "replacing with a used client_order_id",
    setup: (ex) => {
      ex.submit(A, req({ client_order_id: "used" }), T0);
      return ex.submit(A, req({ type: "limit", limit_price: dec("90") }), T0).id;
    },
    act: (ex, id) => ex.replace(A, id, { client_order_id: "used" }, T0),
    code: "DUPLICATE_CLIENT_ORDER_ID",
    alpaca: [422, 40010001, "client_order_id must be unique"],
  },
  {
    label: "closing a position that does not exist",
    act: (ex) => ex.closePosition(A, "AAPL", {}, T0),
    code: "POSITION_NOT_FOUND",
    alpaca: [404, 40410000, "position does not exist"],
  },
  {
    label: "closing by qty and percentage at once",
    setup: (ex) => void ex.submit(A, req(), T0),
    act: (ex) => ex.closePosition(A, "AAPL", { qty: dec("1"), percentage: dec("10") }, T0),
    code: "INVALID_REQUEST",
    alpaca: [400, 40010000, "only one of qty or percentage may be specified"],
  },
  {
    label: "closing a percentage that rounds to no shares",
    setup: (ex) => void ex.submit(A, req({ qty: dec("3") }), T0),
    act: (ex) => ex.closePosition(A, "AAPL", { percentage: dec("20") }, T0),
    code: "INVALID_ORDER",
    alpaca: [422, 42210000, "qty must be > 0"],
  },
  {
    label: "reading a flat position",
    act: (ex) => ex.position(A, "MSFT"),
    code: "POSITION_NOT_FOUND",
    alpaca: [404, 40410000, "position does not exist"],
  },
];

Deno.test("refusals: each error the exchange makes, with Alpaca's status, code and text", () => {
  for (const r of REFUSALS) {
    const ex = make(r.options);
    const id = r.setup?.(ex) ?? "";
    const err = expectError(() => r.act(ex, id), r.code);
    const body = err.toAlpacaBody();
    assertEquals([err.status, body.code, body.message], r.alpaca, r.label);
  }
});

Deno.test("replace: a bracket entry's held legs follow the new parent and qty", () => {
  const ex = make();
  const o = ex.submit(A, bracket({ type: "limit", limit_price: dec("98") }), T0);
  const n = ex.replace(A, o.id, { qty: dec("20"), limit_price: dec("99") }, T0 + MIN);
  const nested = ex.getOrder(A, n.id, { nested: true });
  assertEquals(nested.legs?.map((l) => [l.parent_id, s(l.qty), l.status]), [
    [n.id, "20", "held"],
    [n.id, "20", "held"],
  ]);
  ex.onQuote("AAPL", quote(98.9, 99, 100, 100), T0 + 2 * MIN);
  assertEquals(ex.getOrder(A, n.id).status, "filled");
  assertEquals(ex.getOrder(A, o.legs![0]!.id).status, "new");
  assertEquals(s(ex.position(A, "AAPL").qty_available), "0");
  checkStatuses(ex.drainEvents());
});
