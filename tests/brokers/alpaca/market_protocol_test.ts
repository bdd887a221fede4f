import {
  type MarketEffect,
  MarketSession,
  wants,
} from "../../../brokers/alpaca/market_protocol.ts";
import type { Bar, MarketEvent } from "../../../core/market.ts";
import { assertEquals } from "../../_assert.ts";

const T0 = Date.parse("2026-11-23T15:00:20Z");
const MIN = 60_000;
const AUTH = { key: "AKTEST", secret: "stand-in-secret" };

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}
function barItem(symbol: string, ms: number, c = 100): Record<string, unknown> {
  return { T: "b", S: symbol, o: c, h: c + 1, l: c - 1, c, v: 100, n: 5, vw: c, t: iso(ms) };
}
function restBar(ms: number, c = 100): Bar {
  return { t: iso(ms), o: c, h: c + 1, l: c - 1, c, v: 100, n: 5, vw: c };
}
const sends = (fx: MarketEffect[]) => fx.flatMap((e) => e.kind === "send" ? [e.frame] : []);
const delivered = (fx: MarketEffect[]) => fx.flatMap((e) => e.kind === "deliver" ? e.events : []);
const barTimes = (events: MarketEvent[]) =>
  events.map((e) => e.type === "bar" ? `${e.symbol}@${e.bar.t.slice(11, 16)}` : e.type);

/** A session taken through connected + authenticated. */
function live(session: MarketSession, now = T0): MarketEffect[] {
  session.opened();
  const auth = session.received([{ T: "success", msg: "connected" }], now);
  assertEquals(sends(auth), [{ action: "auth", ...AUTH }]);
  return session.received([{ T: "success", msg: "authenticated" }], now);
}

Deno.test("MarketSession waits for connected, authenticates, then subscribes the listeners' union", () => {
  const s = new MarketSession(AUTH, { gapFill: false });
  s.addListener({ trades: ["aapl"], bars: ["AAPL"] }, T0);
  s.addListener({ trades: ["AAPL", "MSFT"], quotes: ["*"] }, T0);
  assertEquals(s.phase, "offline");
  const fx = live(s);
  assertEquals(fx[0], { kind: "live", reconnected: false });
  assertEquals(sends(fx), [{
    action: "subscribe",
    trades: ["AAPL", "MSFT"],
    quotes: ["*"],
    bars: ["AAPL"],
  }]);
});

Deno.test("MarketSession unsubscribes a symbol only when its last listener leaves", () => {
  const s = new MarketSession(AUTH, { gapFill: false });
  live(s);
  assertEquals(sends(s.addListener({ trades: ["AAPL"] }, T0)), [{
    action: "subscribe",
    trades: ["AAPL"],
  }]);
  assertEquals(sends(s.addListener({ trades: ["AAPL", "MSFT"] }, T0)), [{
    action: "subscribe",
    trades: ["MSFT"],
  }]);
  assertEquals(sends(s.removeListener({ trades: ["AAPL"] })), []);
  assertEquals(sends(s.removeListener({ trades: ["AAPL", "MSFT"] })), [{
    action: "unsubscribe",
    trades: ["AAPL", "MSFT"],
  }]);
  assertEquals(s.wanted, { trades: [], quotes: [], bars: [] });
});

Deno.test("MarketSession: a refused subscribe (405) is reported, left out of resubscribes, retried when asked again", () => {
  const s = new MarketSession(AUTH, { gapFill: false });
  live(s);
  s.addListener({ trades: ["AAPL"] }, T0);
  s.received([{ T: "subscription", trades: ["AAPL"], quotes: [], bars: [] }], T0);
  s.addListener({ quotes: ["MSFT", "TSLA"] }, T0);
  const fx = s.received([{ T: "error", code: 405, msg: "symbol limit exceeded" }], T0);
  assertEquals(fx, [{
    kind: "refused",
    code: 405,
    message: 'Alpaca market-data stream error 405 "symbol limit exceeded"',
    subscription: { trades: [], quotes: ["MSFT", "TSLA"], bars: [] },
  }]);
  assertEquals(s.wanted, { trades: ["AAPL"], quotes: [], bars: [] });
  assertEquals(s.confirmed, { trades: ["AAPL"], quotes: [], bars: [] });
  s.closed();
  assertEquals(sends(live(s)), [{ action: "subscribe", trades: ["AAPL"] }]);
  assertEquals(sends(s.addListener({ quotes: ["TSLA"] }, T0)), [{
    action: "subscribe",
    quotes: ["TSLA"],
  }]);
});

Deno.test("MarketSession error codes: 401/402 fatal, 404/406 reconnect, 409 on a subscribe refuses it, 409 at auth is fatal", () => {
  const fatal = new MarketSession(AUTH, { gapFill: false });
  fatal.opened();
  fatal.received([{ T: "success", msg: "connected" }], T0);
  assertEquals(
    fatal.received([{ T: "error", code: 402, msg: "auth failed" }], T0)[0]?.kind,
    "fatal",
  );
  assertEquals(fatal.phase, "failed");
  assertEquals(fatal.opened(), []);

  const s = new MarketSession(AUTH, { gapFill: false });
  live(s);
  assertEquals(
    s.received([{ T: "error", code: 401, msg: "not authenticated" }], T0)[0]?.kind,
    "fatal",
  );
  for (const code of [404, 406, 407, 500]) {
    const t = new MarketSession(AUTH, { gapFill: false });
    live(t);
    assertEquals(t.received([{ T: "error", code, msg: "x" }], T0)[0]?.kind, "drop");
  }
  const sub = new MarketSession(AUTH, { gapFill: false });
  live(sub);
  sub.addListener({ bars: ["SPY"] }, T0);
  assertEquals(
    sub.received([{ T: "error", code: 409, msg: "insufficient subscription" }], T0)[0]?.kind,
    "refused",
  );
  const plan = new MarketSession(AUTH, { gapFill: false });
  plan.opened();
  plan.received([{ T: "success", msg: "connected" }], T0);
  assertEquals(
    plan.received([{ T: "error", code: 409, msg: "insufficient subscription" }], T0)[0]?.kind,
    "fatal",
  );
  const syntax = new MarketSession(AUTH, { gapFill: false });
  live(syntax);
  assertEquals(
    syntax.received([{ T: "error", code: 400, msg: "invalid syntax" }], T0)[0]?.kind,
    "warn",
  );
});

Deno.test("MarketSession converts trades, quotes and bars, batching a frame's items in order", () => {
  const s = new MarketSession(AUTH, { gapFill: false });
  live(s);
  s.addListener({ trades: ["*"], quotes: ["*"], bars: ["*"] }, T0);
  const fx = s.received([
    {
      T: "t",
      S: "AAPL",
      i: 7,
      x: "V",
      p: 150.5,
      s: 10,
      c: ["@"],
      t: "2026-11-23T15:00:21.123456789Z",
      z: "C",
    },
    {
      T: "q",
      S: "AAPL",
      bx: "V",
      bp: 150.4,
      bs: 2,
      ax: "V",
      ap: 150.6,
      as: 3,
      c: ["R"],
      t: "2026-11-23T15:00:21.2Z",
      z: "C",
    },
    barItem("AAPL", T0 - 20_000 - MIN),
    { T: "d", S: "AAPL" },
  ], T0);
  assertEquals(delivered(fx), [
    {
      type: "trade",
      symbol: "AAPL",
      trade: {
        t: "2026-11-23T15:00:21.123456789Z",
        x: "V",
        p: 150.5,
        s: 10,
        c: ["@"],
        i: 7,
        z: "C",
      },
    },
    {
      type: "quote",
      symbol: "AAPL",
      quote: {
        t: "2026-11-23T15:00:21.2Z",
        bx: "V",
        bp: 150.4,
        bs: 2,
        ax: "V",
        ap: 150.6,
        as: 3,
        c: ["R"],
        z: "C",
      },
    },
    { type: "bar", symbol: "AAPL", bar: restBar(T0 - 20_000 - MIN) },
  ]);
  assertEquals(wants({ bars: ["AAPL"] }, delivered(fx)[2]!), true);
  assertEquals(wants({ bars: ["MSFT"] }, delivered(fx)[2]!), false);
});

Deno.test("MarketSession after a reconnect fills the missed minutes over REST, holds live bars meanwhile, no duplicates", () => {
  const s = new MarketSession(AUTH, { gapFill: true });
  const m = (k: number) => Date.parse("2026-11-23T15:00:00Z") + k * MIN;
  s.addListener({ bars: ["AAPL"] }, m(0) + 5000);
  live(s, m(0) + 5000);
  const seen: MarketEvent[] = [];
  seen.push(...delivered(s.received([barItem("AAPL", m(0))], m(1) + 1000)));
  seen.push(...delivered(s.received([barItem("AAPL", m(1))], m(2) + 1000)));
  s.closed();
  const fx = live(s, m(5) + 30_000);
  assertEquals(fx.filter((e) => e.kind === "fill_gap"), [
    { kind: "fill_gap", symbol: "AAPL", fromMs: m(2), toMs: m(4) },
  ]);
  // Live bars arrive before REST answers: held.
  assertEquals(delivered(s.received([barItem("AAPL", m(4)), barItem("AAPL", m(5))], m(6))), []);
  // REST answers with an overlap (m(1) again, m(4) again).
  const filled = s.gapFilled(
    "AAPL",
    [restBar(m(3)), restBar(m(1)), restBar(m(2)), restBar(m(4))],
    m(6),
  );
  seen.push(...delivered(filled));
  seen.push(...delivered(s.received([barItem("AAPL", m(5)), barItem("AAPL", m(6))], m(7))));
  assertEquals(barTimes(seen), [
    "AAPL@15:00",
    "AAPL@15:01",
    "AAPL@15:02",
    "AAPL@15:03",
    "AAPL@15:04",
    "AAPL@15:05",
    "AAPL@15:06",
  ]);
});

Deno.test("MarketSession: a failed gap fill releases the held bars; a drop during a fill fills again", () => {
  const m = (k: number) => Date.parse("2026-11-23T15:00:00Z") + k * MIN;
  const s = new MarketSession(AUTH, { gapFill: true });
  s.addListener({ bars: ["SPY"] }, m(0));
  live(s, m(0));
  s.received([barItem("SPY", m(0))], m(1));
  s.closed();
  assertEquals(live(s, m(4)).filter((e) => e.kind === "fill_gap").length, 1);
  s.closed();
  assertEquals(live(s, m(8)).filter((e) => e.kind === "fill_gap").length, 0);
  const first = s.gapFilled("SPY", [restBar(m(1)), restBar(m(2))], m(8));
  assertEquals(barTimes(delivered(first)), ["SPY@15:01", "SPY@15:02"]);
  assertEquals(first.filter((e) => e.kind === "fill_gap"), [
    { kind: "fill_gap", symbol: "SPY", fromMs: m(3), toMs: m(7) },
  ]);
  s.received([barItem("SPY", m(8))], m(9));
  assertEquals(barTimes(delivered(s.gapFailed("SPY"))), ["SPY@15:08"]);
});

Deno.test("MarketSession never drops a live bar because the local clock runs ahead, yet fills from the subscription minute", () => {
  const m = (k: number) => Date.parse("2026-11-23T15:00:00Z") + k * MIN;
  const s = new MarketSession(AUTH, { gapFill: true });
  // Subscribed at 15:10 by a clock five minutes fast; Alpaca's bars say 15:04 and 15:05.
  s.addListener({ bars: ["AAPL"] }, m(10));
  live(s, m(10));
  assertEquals(barTimes(delivered(s.received([barItem("AAPL", m(4))], m(10)))), ["AAPL@15:04"]);
  // Dropped before any bar: the fill starts at the subscription minute.
  const t = new MarketSession(AUTH, { gapFill: true });
  t.addListener({ bars: ["SPY"] }, m(0) + 30_000);
  live(t, m(0) + 30_000);
  t.closed();
  assertEquals(live(t, m(3) + 5000).filter((e) => e.kind === "fill_gap"), [
    { kind: "fill_gap", symbol: "SPY", fromMs: m(0), toMs: m(2) },
  ]);
  const filled = t.gapFilled(
    "SPY",
    [restBar(m(-2)), restBar(m(-1)), restBar(m(0)), restBar(m(1))],
    m(3),
  );
  assertEquals(barTimes(delivered(filled)), ["SPY@15:00", "SPY@15:01"]);
});

Deno.test("MarketSession fills gaps only for symbols subscribed by name, and says how many it skipped", () => {
  const m = (k: number) => Date.parse("2026-11-23T15:00:00Z") + k * MIN;
  const s = new MarketSession(AUTH, { gapFill: true });
  s.addListener({ bars: ["*"] }, m(0));
  s.addListener({ bars: ["AAPL"] }, m(0));
  live(s, m(0));
  s.received([barItem("AAPL", m(0)), barItem("MSFT", m(0)), barItem("TSLA", m(0))], m(1));
  s.closed();
  const fx = live(s, m(4));
  assertEquals(fx.filter((e) => e.kind === "fill_gap"), [
    { kind: "fill_gap", symbol: "AAPL", fromMs: m(1), toMs: m(3) },
  ]);
  assertEquals(
    fx.filter((e) => e.kind === "warn").map((e) => e.kind === "warn" && e.message.slice(0, 45)),
    ["Not filling the bars missed by 2 symbols stre"],
  );
});
