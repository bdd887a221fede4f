import { assert, assertEquals } from "../../_assert.ts";
import type { Bar } from "../../../core/market.ts";
import { IndicatorSet } from "../../../strategies/indicator_spec.ts";
import { findStrategy, StrategyRegistry } from "../../../strategies/registry.ts";
import { createInstance, replayBars } from "../../../strategies/strategy.ts";
import { parseBotConfig } from "../../../actors/bots/bot_config.ts";
import {
  type BotEffect,
  type BotMsg,
  type BotState,
  type BotStatus,
  createBotBehaviour,
} from "../../../actors/bots/bot_behaviour.ts";
import { type BarUpdate, symbolBehaviour } from "../../../actors/bots/symbol_behaviour.ts";
import { walk } from "./_bars.ts";

const PARAMS = { fast: 3, slow: 8 };

const registry = new StrategyRegistry();
/** The built-in bot behaviour, given raw configs (a Worker gets them parsed). */
const botBehaviour = createBotBehaviour(registry, {
  parseConfig: (raw) => parseBotConfig(raw, registry),
});

/** Bar updates of `symbol` for 1Min bars, through a symbol actor with the bot's subscriptions. */
function updatesFor(symbol: string, bars: Bar[], bot: BotState): BarUpdate[] {
  let s = symbolBehaviour.init({ symbol });
  const start = botBehaviour.start!(bot);
  for (const e of start.effects ?? []) {
    if (e.type === "subscribe" && e.symbol === symbol) {
      s = symbolBehaviour.receive(s, { type: "subscribe", timeframe: e.timeframe, specs: e.specs })
        .state;
    }
  }
  const t = symbolBehaviour.receive(s, { type: "bars", bars });
  const p = t.publish?.find((x) => x.topic === "bars.1Min");
  return p && p.batch.kind === "rows" ? (p.batch.rows as BarUpdate[]) : [];
}

interface Run {
  state: BotState;
  effects: BotEffect[];
  /** Entry prices of open positions, by symbol. */
  entry: Record<string, number>;
}

/** Feeds updates (interleaved by time) to a bot; fills every order at once at the last close. */
function drive(
  state: BotState,
  updates: BarUpdate[],
  extra: (i: number) => BotMsg[] = () => [],
  entry: Record<string, number> = {},
): Run {
  const effects: BotEffect[] = [];
  const step = (msg: BotMsg) => {
    const t = botBehaviour.receive(state, msg);
    state = t.state;
    for (const e of t.effects ?? []) {
      effects.push(e);
      if (e.type !== "order") continue;
      const book = state.books[e.symbol]!;
      const qty = Number(e.request.qty);
      const price = book.lastClose!;
      const sign = e.request.side === "buy" ? 1 : -1;
      const position = Number(book.position) + sign * qty;
      let realizedPnl: string | undefined;
      if (e.intent.startsWith("enter")) entry[e.symbol] = price;
      else realizedPnl = String(((price - entry[e.symbol]!) * -sign * qty).toFixed(2));
      step({
        type: "order_filled",
        symbol: e.symbol,
        side: e.request.side as "buy" | "sell",
        qty: String(qty),
        price: String(price),
        positionQty: String(position),
        ts: Date.parse(book.lastBarT!) + 60_000,
        clientOrderId: String(e.request.client_order_id),
        ...(realizedPnl !== undefined ? { realizedPnl } : {}),
      });
    }
  };
  updates.forEach((u, i) => {
    for (const m of extra(i)) step(m);
    step({ type: "bar", update: u });
  });
  return { state, effects, entry: { ...entry } };
}

function bot(extra: Record<string, unknown> = {}, symbols = ["AAPL"]): BotState {
  return botBehaviour.init({
    config: { name: "t", strategy: "sma_cross", symbols, params: PARAMS, ...extra },
    equity: "100000",
  });
}

const signals = (r: Run) => r.effects.filter((e) => e.type === "signal");
const orders = (r: Run) => r.effects.filter((e) => e.type === "order");

Deno.test("bot: orders on a seeded walk match the sma_cross crosses", () => {
  const bars = walk(42, 200);
  const state = bot();
  const r = drive(state, updatesFor("AAPL", bars, state));
  const expected = replayBars(
    findStrategy("sma_cross"),
    createInstance(findStrategy("sma_cross"), { symbol: "AAPL", params: PARAMS }),
    bars,
    new IndicatorSet(),
  ).intents;
  assert(expected.length >= 6, `only ${expected.length} crosses`);
  assertEquals(
    signals(r).map((e) => e.type === "signal" && [e.intent.kind, e.intent.t, e.suppressed]),
    expected.map((i) => [i.kind, i.t, undefined]),
  );
  assertEquals(
    orders(r).map((e) =>
      e.type === "order" && [e.intent, e.request.side, e.request.qty, e.request.client_order_id]
    ),
    expected.map((i, n) => [i.kind, i.kind === "enter_long" ? "buy" : "sell", "1", `t-${n + 1}`]),
  );
  assertEquals(r.state.counts.orders, expected.length);
});

Deno.test("bot: trading window, frequency and cooldown suppress orders with a reason", () => {
  const bars = walk(42, 200);
  const open = bot();
  const all = signals(drive(open, updatesFor("AAPL", bars, open)));

  const windowed = bot({ trading_window: { start: "10:00", end: "11:00" } });
  const w = drive(windowed, updatesFor("AAPL", bars, windowed));
  for (const e of signals(w)) {
    if (e.type !== "signal") continue;
    const end = Date.parse(e.intent.t) + 60_000;
    const inWindow = end >= Date.parse("2024-01-09T15:00:00Z") &&
      end < Date.parse("2024-01-09T16:00:00Z");
    if (!inWindow) assertEquals(e.suppressed, "outside trading window");
  }
  assert(signals(w).some((e) => e.type === "signal" && e.suppressed === "outside trading window"));

  const freq = bot({ frequency: "20m" });
  const f = drive(freq, updatesFor("AAPL", bars, freq));
  assert(orders(f).length > 0);
  assert(signals(f).some((e) => e.type === "signal" && e.suppressed === "frequency"));
  assertEquals(signals(f).length, all.length);

  const cool = bot({ cooldown_after_loss: "2h" });
  const c = drive(cool, updatesFor("AAPL", bars, cool));
  const suppressed = signals(c).filter((e) => e.type === "signal" && e.suppressed);
  assert(suppressed.some((e) => e.type === "signal" && e.suppressed === "cooldown after loss"));
  assert(orders(c).length < orders(drive(open, updatesFor("AAPL", bars, open))).length);
});

Deno.test("bot: with no trading window the venue's hours decide: a weekend in the 24x7 market trades", () => {
  // Saturday 2024-01-13, 20:00 ET: outside the old Mon–Fri 09:30–16:00 default.
  const bars = walk(42, 200, 100, Date.UTC(2024, 0, 14, 1, 0));
  const open = bot();
  const r = drive(open, updatesFor("AAPL", bars, open));
  assert(orders(r).length > 0, "the 24x7 market is open on a Saturday evening");
  assert(signals(r).every((e) => e.type === "signal" && e.suppressed === undefined));
  // Under NYSE hours the market monitor says closed, and that alone suppresses.
  const closed = botBehaviour.init({
    config: { name: "t", strategy: "sma_cross", symbols: ["AAPL"], params: PARAMS },
    equity: "100000",
    marketOpen: false,
  });
  const c = drive(closed, updatesFor("AAPL", bars, closed));
  assertEquals(orders(c).length, 0);
  assert(signals(c).length > 0);
  assert(signals(c).every((e) => e.type === "signal" && e.suppressed === "market closed"));
});

Deno.test("bot: max positions across symbols, and pause/resume", () => {
  const a = walk(42, 200);
  const b = walk(43, 200);
  const state = bot({ max_positions: 1 }, ["AAPL", "MSFT"]);
  const ua = updatesFor("AAPL", a, state);
  const ub = updatesFor("MSFT", b, state);
  const merged = ua.flatMap((u, i) => [u, ub[i]!]);
  const r = drive(state, merged);
  assert(signals(r).some((e) => e.type === "signal" && e.suppressed === "max positions"));
  // Never more than one symbol held.
  let held = 0;
  for (const e of orders(r)) {
    if (e.type !== "order") continue;
    held += e.intent.startsWith("enter") ? 1 : -1;
    assert(held <= 1 && held >= 0);
  }

  // Paused for the first 100 bars: signals recorded, no orders; then trading resumes.
  const p = bot();
  const up = updatesFor("AAPL", a, p);
  const paused = drive(
    p,
    up,
    (i) => i === 0 ? [{ type: "pause" }] : i === 100 ? [{ type: "resume" }] : [],
  );
  const early = signals(paused).filter((e) =>
    e.type === "signal" && Date.parse(e.intent.t) < Date.parse(up[100]!.bar.t)
  );
  assert(early.length > 0 && early.every((e) => e.type === "signal" && e.suppressed === "paused"));
  assert(orders(paused).length > 0);
  const st = botBehaviour.receive(paused.state, { type: "status" }).reply as BotStatus;
  assertEquals([st.paused, st.counts.signals], [false, signals(paused).length]);
});

Deno.test("bot: while the market is closed an intraday bot signals but places nothing", () => {
  const a = walk(42, 200);
  const p = bot();
  const up = updatesFor("AAPL", a, p);
  const closed = drive(
    p,
    up,
    (i) =>
      i === 0
        ? [{ type: "market", open: false }]
        : i === 100
        ? [{ type: "market", open: true }]
        : [],
  );
  const early = signals(closed).filter((e) =>
    e.type === "signal" && Date.parse(e.intent.t) < Date.parse(up[100]!.bar.t)
  );
  assert(
    early.length > 0 &&
      early.every((e) => e.type === "signal" && e.suppressed === "market closed"),
  );
  assert(orders(closed).length > 0);
  const st = botBehaviour.receive(closed.state, { type: "status" }).reply as BotStatus;
  assertEquals(st.marketOpen, true);
  // A bot started while the market is closed starts with the flag down.
  const daily = botBehaviour.init({
    config: { name: "d", strategy: "sma_cross", symbols: ["AAPL"], timeframe: "1Day" },
    marketOpen: false,
  });
  assertEquals(daily.marketOpen, false);
});

Deno.test("bot: deterministic, and its state survives a structured clone mid-run", () => {
  const bars = walk(9, 240);
  const s0 = bot({ stop_loss: { atr_multiple: "2" }, sizing: { method: "risk", percent: "1" } });
  const updates = updatesFor("AAPL", bars, s0);
  const one = drive(s0, updates);
  const two = drive(s0, updates);
  assertEquals(one.effects, two.effects);
  assert(orders(one).some((e) => e.type === "order" && e.request.order_class === "oto"));

  const half = drive(s0, updates.slice(0, 120));
  const cloned = structuredClone(half.state);
  assertEquals(cloned, half.state);
  const rest = drive(cloned, updates.slice(120), undefined, half.entry);
  assertEquals([...half.effects, ...rest.effects], one.effects);
  assertEquals(rest.state, one.state);
});

Deno.test("bot: awaiting warm-up it holds live bars, learns from history trading nothing, then runs them", () => {
  const bars = walk(42, 200);
  const base = bot();
  const all = updatesFor("AAPL", bars, base);
  const crosses = signals(drive(base, all)).map((e) => e.type === "signal" && e.intent.t);
  assert(crosses.length >= 6);
  // Split after the third cross's bar: history before, live from there (two bars already held).
  const cut = all.findIndex((u) => u.bar.t === crosses[2]) + 1;
  let state = botBehaviour.init({
    config: { name: "t", strategy: "sma_cross", symbols: ["AAPL"], params: PARAMS },
    equity: "100000",
    warmup: true,
  });
  const effects: BotEffect[] = [];
  const step = (msg: BotMsg) => {
    const t = botBehaviour.receive(state, msg);
    state = t.state;
    effects.push(...(t.effects ?? []));
  };
  step({ type: "bar", update: all[cut]! });
  step({ type: "bar", update: all[cut + 1]! });
  assertEquals([state.counts.bars, effects.length], [0, 0]);
  let status = botBehaviour.receive(state, { type: "status" }).reply as BotStatus;
  assertEquals(status.warm, false);
  // The history overlaps the held bars: those run live, once.
  step({ type: "warmup", symbol: "AAPL", updates: all.slice(0, cut + 2) });
  assertEquals([state.warmupBars, state.counts.bars], [cut, 2]);
  status = botBehaviour.receive(state, { type: "status" }).reply as BotStatus;
  assertEquals(status.warm, true);
  assertEquals(status.positions, { AAPL: "0" });
  // From here on it signals exactly where the strategy crosses live, none from history.
  for (const u of all.slice(cut + 2)) step({ type: "bar", update: u });
  const live = effects.filter((e) => e.type === "signal").map((e) =>
    e.type === "signal" && e.intent.t
  );
  assert(live.length > 0);
  assert(live.every((t) => Date.parse(String(t)) > Date.parse(crosses[2] as string)), live.join());
  // Where the full run crossed (the history left it flat, so an exit there is no signal now).
  assert(live.every((t) => crosses.includes(t)), live.join());
  const kinds = effects.filter((e) => e.type === "signal").map((e) =>
    e.type === "signal" && e.intent.kind
  );
  assertEquals(kinds[0], "enter_long");
});
