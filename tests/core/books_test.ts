import { assertEquals } from "../_assert.ts";
import { Decimal } from "../../core/decimal.ts";
import { type BookMoveShare, flattenMoves, splitFlattenFill } from "../../core/books.ts";

const d = (s: string) => Decimal.parse(s);
const show = (ms: BookMoveShare[]) => ms.map((m) => [m.botId, m.side, m.qty.toString()]);

Deno.test("flattenMoves: every open book closes by its own size; flat books are left out", () => {
  const moves = flattenMoves([
    { botId: null, qty: d("10") },
    { botId: "a", qty: d("-3") },
    { botId: "b", qty: d("0") },
  ]);
  assertEquals(show(moves), [[null, "sell", "10"], ["a", "buy", "3"]]);
});

Deno.test("splitFlattenFill: partial fills take the closing side; the cross waits for the last", () => {
  // Manual +10 and bot -3: the venue sells 7.
  const plan = flattenMoves([{ botId: null, qty: d("10") }, { botId: "a", qty: d("-3") }]);
  const first = splitFlattenFill(plan, "sell", d("4"));
  assertEquals(show(first), [[null, "sell", "4"]]);
  const left: BookMoveShare[] = [
    { botId: null, side: "sell", qty: d("6") },
    { botId: "a", side: "buy", qty: d("3") },
  ];
  // The fill that completes the order books the rest, the cross included: net sell 3.
  assertEquals(show(splitFlattenFill(left, "sell", d("3"))), [
    [null, "sell", "6"],
    ["a", "buy", "3"],
  ]);
});

Deno.test("splitFlattenFill: the plan's order decides who closes first; overfills go to manual", () => {
  const plan = flattenMoves([{ botId: "a", qty: d("2") }, { botId: null, qty: d("5") }]);
  assertEquals(show(splitFlattenFill(plan, "sell", d("3"))), [["a", "sell", "2"], [
    null,
    "sell",
    "1",
  ]]);
  assertEquals(
    show(splitFlattenFill([{ botId: "a", side: "sell", qty: d("1") }], "sell", d("4"))),
    [
      ["a", "sell", "1"],
      [null, "sell", "3"],
    ],
  );
});
