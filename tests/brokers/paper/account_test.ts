import fc from "fast-check";
import { assert, assertEquals } from "../../_assert.ts";
import { dec, Decimal } from "../../../core/decimal.ts";
import {
  type MarkSource,
  PaperAccount,
  type PositionAsset,
  type SymbolSlot,
} from "../../../brokers/paper/account.ts";

const T0 = Date.UTC(2026, 10, 23, 15, 0);
const AAPL: PositionAsset = { id: "a-aapl", symbol: "AAPL", exchange: "NASDAQ", marginable: true };
const PENNY: PositionAsset = { id: "a-pny", symbol: "PNY", exchange: "NYSE", marginable: false };
const FC = { seed: 20261123, numRuns: 300 } as const;

function marks(current: Record<string, string>, lastday: Record<string, string> = {}): MarkSource {
  return {
    currentPrice: (s) => current[s] === undefined ? null : dec(current[s]!),
    lastdayPrice: (s) => lastday[s] === undefined ? null : dec(lastday[s]!),
  };
}

const s = (d: Decimal | null | undefined) => d === null || d === undefined ? null : d.toString();

function fill(
  acct: PaperAccount,
  slot: SymbolSlot,
  side: "buy" | "sell",
  qty: string,
  price: string,
  asset = AAPL,
) {
  return acct.applyFill(slot, asset, side, dec(qty), dec(price));
}

Deno.test("a new account starts with its cash, id-derived number and the default multiplier", () => {
  const acct = new PaperAccount("trader-1", {}, T0);
  const a = acct.snapshot(marks({}));
  assertEquals([s(a.cash), s(a.equity), s(a.last_equity), a.multiplier], [
    "100000",
    "100000",
    "100000",
    "2",
  ]);
  assertEquals([s(a.buying_power), s(a.regt_buying_power), s(a.non_marginable_buying_power)], [
    "200000",
    "200000",
    "100000",
  ]);
  assertEquals([a.status, a.currency, a.created_at, a.balance_asof], [
    "ACTIVE",
    "USD",
    T0,
    "2026-11-23",
  ]);
  assert(/^PA\d{10}$/.test(a.account_number), a.account_number);
  assertEquals(new PaperAccount("trader-1", {}, T0).accountNumber, a.account_number);
  assertEquals(a.daytrade_count, undefined);
  assertEquals(acct.snapshot(marks({}), { legacyPdt: true }).daytrade_count, 0);
});

Deno.test("fills average the entry price and realize P&L on the closing part", () => {
  const acct = new PaperAccount("a", {}, T0);
  const slot = acct.slot("AAPL");
  fill(acct, slot, "buy", "10", "100");
  fill(acct, slot, "buy", "30", "104");
  const p = acct.positionSnapshot(slot, marks({ AAPL: "105" }))!;
  assertEquals([s(p.qty), s(p.avg_entry_price), s(p.cost_basis), s(p.market_value)], [
    "40",
    "103",
    "4120",
    "4200",
  ]);
  assertEquals([s(p.unrealized_pl), s(p.unrealized_plpc)], ["80", "0.019417476"]);
  const out = fill(acct, slot, "sell", "15", "110");
  assertEquals([s(out.realizedPl), s(out.positionQty), s(out.closedQty), s(out.openedQty)], [
    "105",
    "25",
    "15",
    "0",
  ]);
  assertEquals(s(acct.positionSnapshot(slot, marks({ AAPL: "105" }))!.avg_entry_price), "103");
  assertEquals(s(acct.cash), String(100000 - 1000 - 3120 + 1650));
  const last = fill(acct, slot, "sell", "25", "90");
  assertEquals(s(last.realizedPl), "-325");
  assertEquals(slot.position, null);
  assertEquals(s(acct.realizedPl), "-220");
  assertEquals(s(acct.cash), "99780");
});

Deno.test("a fill through zero closes the position and opens the rest at the fill price", () => {
  const acct = new PaperAccount("a", {}, T0);
  const slot = acct.slot("AAPL");
  fill(acct, slot, "buy", "10", "100");
  const out = fill(acct, slot, "sell", "25", "102");
  assertEquals([s(out.realizedPl), s(out.positionQty), s(out.closedQty), s(out.openedQty)], [
    "20",
    "-15",
    "10",
    "15",
  ]);
  const p = acct.positionSnapshot(slot, marks({ AAPL: "101" }))!;
  assertEquals([p.side, s(p.avg_entry_price), s(p.cost_basis), s(p.market_value)], [
    "short",
    "102",
    "-1530",
    "-1515",
  ]);
  assertEquals([s(p.unrealized_pl), s(p.unrealized_plpc)], ["15", "0.009803922"]);
  const cover = fill(acct, slot, "buy", "15", "103");
  assertEquals(s(cover.realizedPl), "-15");
  assertEquals(s(acct.cash), "100005");
});

Deno.test("equity, margins and buying power follow the multiplier", () => {
  const acct = new PaperAccount("a", { multiplier: "2" }, T0);
  const slot = acct.slot("AAPL");
  fill(acct, slot, "buy", "100", "100");
  const short = acct.slot("PNY");
  fill(acct, short, "sell", "1000", "4", PENNY);
  const m = marks({ AAPL: "110", PNY: "3" });
  const a = acct.snapshot(m);
  // cash 100000 − 10000 + 4000; long 11000; short −3000
  assertEquals([s(a.cash), s(a.long_market_value), s(a.short_market_value), s(a.equity)], [
    "94000",
    "11000",
    "-3000",
    "102000",
  ]);
  // initial: 50% of 11000 + 100% of 3000 (not marginable)
  assertEquals(s(a.initial_margin), "8500");
  // maintenance: 30% of 11000; short under $5: max(2.5 × 1000, 3000)
  assertEquals(s(a.maintenance_margin), "6300");
  assertEquals(s(a.buying_power), "187000");
  acct.reserved = dec("1000");
  assertEquals(s(acct.snapshot(m).buying_power), "186000");
  assertEquals(s(acct.snapshot(m).non_marginable_buying_power), "93000");
  const cash = new PaperAccount("c", { multiplier: "1", cash: "5000" }, T0);
  cash.reserved = dec("1200");
  const c = cash.snapshot(m);
  assertEquals([s(c.buying_power), c.multiplier, c.shorting_enabled], ["3800", "1", false]);
  const small = new PaperAccount("s", { cash: "1999.99" }, T0);
  const sm = small.snapshot(m);
  assertEquals([sm.multiplier, s(sm.buying_power), sm.shorting_enabled], ["1", "1999.99", false]);
  const noShort = new PaperAccount("n", { shortingEnabled: false }, T0);
  assertEquals(noShort.snapshot(m).shorting_enabled, false);
  const pdt = new PaperAccount("p", { multiplier: "4", cash: "30000" }, T0);
  assertEquals(s(pdt.snapshot(m).buying_power), "120000");
});

Deno.test("the day roll sets last_equity and carries positions into intraday figures", () => {
  const acct = new PaperAccount("a", {}, T0);
  const slot = acct.slot("AAPL");
  fill(acct, slot, "buy", "10", "100");
  let p = acct.positionSnapshot(slot, marks({ AAPL: "104" }))!;
  assertEquals([s(p.lastday_price), s(p.unrealized_intraday_pl), s(p.change_today)], [
    "100",
    "40",
    "0.04",
  ]);
  acct.roll(marks({ AAPL: "104" }), T0 + 86_400_000);
  assertEquals([s(acct.lastEquity), acct.balanceAsof], ["100040", "2026-11-24"]);
  p = acct.positionSnapshot(slot, marks({ AAPL: "103" }, { AAPL: "104" }))!;
  assertEquals([s(p.lastday_price), s(p.unrealized_intraday_pl)], ["104", "-10"]);
  assertEquals([s(p.unrealized_intraday_plpc), s(p.change_today)], [
    "-0.009615385",
    "-0.009615385",
  ]);
  assertEquals(s(p.unrealized_pl), "30");
});

Deno.test("qty_available subtracts what open orders hold, signed like qty", () => {
  const acct = new PaperAccount("a", {}, T0);
  const slot = acct.slot("AAPL");
  fill(acct, slot, "buy", "10", "100");
  slot.heldSell = dec("4");
  assertEquals(s(acct.positionSnapshot(slot, marks({}))!.qty_available), "6");
  assertEquals(s(acct.positionSnapshot(slot, marks({}))!.current_price), "100", "entry as mark");
  const short = acct.slot("MSFT");
  fill(acct, short, "sell", "5", "50");
  short.heldBuy = dec("2");
  assertEquals(s(acct.positionSnapshot(short, marks({}))!.qty_available), "-3");
  assertEquals(acct.positionSnapshot(acct.slot("NONE"), marks({})), null);
});

Deno.test("legacy PDT counts day trades over the last five days", () => {
  const acct = new PaperAccount("a", {}, T0);
  acct.dayTrades.push(0, 1, 1, 4, 6);
  assertEquals(acct.dayTradeCount(4), 4);
  assertEquals(acct.dayTradeCount(5), 3);
  assertEquals(acct.dayTradeCount(6), 2);
  assertEquals(acct.snapshot(marks({}), { legacyPdt: true, today: 4 }).pattern_day_trader, true);
});

Deno.test("property: cash + cost − realized P&L never changes, whatever the fills", () => {
  const fillArb = fc.record({
    side: fc.constantFrom("buy" as const, "sell" as const),
    qty: fc.integer({ min: 1, max: 5_000_000_000 }),
    price: fc.integer({ min: 1, max: 50_000_00 }),
    symbol: fc.constantFrom("AAPL", "MSFT"),
  });
  fc.assert(
    fc.property(fc.array(fillArb, { maxLength: 40 }), (fills) => {
      const acct = new PaperAccount("a", { cash: "1000" }, T0);
      let realized = Decimal.ZERO;
      const qty = new Map<string, Decimal>();
      for (const f of fills) {
        const q = Decimal.fromUnits(BigInt(f.qty) * 1000n); // up to 5000, 6 places
        const p = Decimal.fromUnits(BigInt(f.price) * 10_000_000n); // cents
        const out = acct.applyFill(
          acct.slot(f.symbol),
          { ...AAPL, symbol: f.symbol },
          f.side,
          q,
          p,
        );
        realized = realized.add(out.realizedPl);
        const before = qty.get(f.symbol) ?? Decimal.ZERO;
        const after = f.side === "buy" ? before.add(q) : before.sub(q);
        qty.set(f.symbol, after);
        assertEquals(s(out.positionQty), s(after));
        assertEquals(s(out.closedQty.add(out.openedQty)), s(q));
      }
      let cost = Decimal.ZERO;
      for (const slot of acct.slots.values()) {
        if (slot.position) {
          cost = cost.add(slot.position.cost);
          assert(!slot.position.qty.isZero());
          assertEquals(slot.position.cost.sign(), slot.position.qty.sign());
        }
      }
      assertEquals(s(acct.cash.add(cost).sub(realized)), "1000");
      assertEquals(s(acct.realizedPl), s(realized));
    }),
    FC,
  );
});
