import { assertEquals } from "../_assert.ts";
import fc from "fast-check";
import { Decimal } from "../../core/decimal.ts";
import { averagePrice, fillAmount, FLAT, moveBook, wideNotional } from "../../core/money.ts";

const d = (s: string) => Decimal.parse(s);
const show = (m: ReturnType<typeof moveBook>) => [
  m.book.qty.toString(),
  m.book.avg.toString(),
  m.book.cost.toString(),
  m.realizedPl.toString(),
];

Deno.test("fillAmount: qty × price rounded half-even to nine places", () => {
  assertEquals(fillAmount(d("0.066423869"), d("84.98")).toString(), "5.644700388");
  // exact ties at the tenth place go to the even neighbour
  assertEquals(fillAmount(d("0.000000005"), d("0.1")).toString(), "0"); // 0.0000000005
  assertEquals(fillAmount(d("0.000000015"), d("0.1")).toString(), "0.000000002"); // …15
  assertEquals(fillAmount(d("0.000000025"), d("0.1")).toString(), "0.000000002"); // …25
});

Deno.test("averages come from exact products: one fill at 84.98 averages 84.98", () => {
  const q = d("0.066423869");
  const p = d("84.98");
  assertEquals(averagePrice(wideNotional(q, p), q).toString(), "84.98");
  // the rounded amount would not: 5.644700388 / 0.066423869 = 84.980000006
  assertEquals(fillAmount(q, p).div(q).toString(), "84.980000006");
  const m = moveBook(FLAT, "buy", q, p);
  assertEquals(show(m), ["0.066423869", "84.98", "5.644700388", "0"]);
  // two fills average exactly: (0.3 × 10.01 + 0.7 × 10.02) / 1 = 10.017
  const two = moveBook(
    moveBook(FLAT, "buy", d("0.3"), d("10.01")).book,
    "buy",
    d("0.7"),
    d("10.02"),
  );
  assertEquals(show(two), ["1", "10.017", "10.017", "0"]);
});

Deno.test("moveBook: average cost, partial close, flip", () => {
  let m = moveBook(FLAT, "buy", d("10"), d("100"));
  assertEquals(show(m), ["10", "100", "1000", "0"]);
  m = moveBook(m.book, "buy", d("10"), d("110"));
  assertEquals(show(m), ["20", "105", "2100", "0"]);
  m = moveBook(m.book, "sell", d("5"), d("120"));
  assertEquals(show(m), ["15", "105", "1575", "75"]);
  assertEquals([m.closedQty.toString(), m.openedQty.toString()], ["5", "0"]);
  m = moveBook(m.book, "sell", d("20"), d("100"));
  assertEquals([...show(m), m.flipped], ["-5", "100", "-500", "-75", true]);
  m = moveBook(m.book, "buy", d("5"), d("90"));
  assertEquals(show(m), ["0", "0", "0", "50"]);
  assertEquals(m.book, FLAT);
});

Deno.test("moveBook: cash + cost − realized P&L is exactly conserved (property)", () => {
  const fillArb = fc.record({
    buy: fc.boolean(),
    qty: fc.integer({ min: 1, max: 5_000_000_000 }), // nano-shares, up to 5
    price: fc.integer({ min: 1, max: 50_000_00 }), // cents
  });
  fc.assert(
    fc.property(fc.array(fillArb, { minLength: 1, maxLength: 40 }), (fills) => {
      let book = FLAT;
      let cash = Decimal.ZERO;
      let realized = Decimal.ZERO;
      for (const f of fills) {
        const qty = Decimal.fromUnits(BigInt(f.qty));
        const price = Decimal.fromUnits(BigInt(f.price) * 10_000_000n);
        const m = moveBook(book, f.buy ? "buy" : "sell", qty, price);
        assertEquals(m.amount.toString(), qty.mul(price).toString());
        cash = f.buy ? cash.sub(m.amount) : cash.add(m.amount);
        realized = realized.add(m.realizedPl);
        book = m.book;
        assertEquals(book.cost.sign(), book.qty.sign());
      }
      // exact: no tolerance
      assertEquals(cash.add(book.cost).sub(realized).toString(), "0");
    }),
    { seed: 4242, numRuns: 300 },
  );
});
