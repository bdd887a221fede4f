/**
 * The money rules of a fill, shared by the paper venue and the ledger so that both compute the
 * same figures to the last nano-unit, before and after a restart.
 *
 * - **A fill's cash amount** is `qty × price` rounded half-even to nine places
 *   ({@link fillAmount}), computed once per fill. Cash moves by exactly that amount, the ledger
 *   stores it (`fills.amount`), and a restart restores cash as starting cash plus the sum of
 *   the stored amounts (sells add, buys subtract): a sum of nine-place values, exact.
 * - **Averages** (an order's `filled_avg_price`, a position's `avg_entry_price`) are computed
 *   from exact wide products (`qty.units × price.units`, eighteen places, in a `bigint`) and
 *   rounded once, half-even, to nine places: one fill of 0.066423869 at 84.98 averages exactly
 *   84.98.
 * - **A position** ({@link PositionBook}) is a signed quantity, its average entry price and its
 *   signed cost basis, the sum of the amounts that opened it less the cost its closing fills
 *   removed. A closing fill removes the proportional cost (all of it when it closes the whole
 *   position) and realizes `amount − cost removed`, so `cash + Σ cost − Σ realized P&L` never
 *   changes.
 *
 * @example
 * ```ts
 * fillAmount(dec("0.066423869"), dec("84.98")).toString(); // "5.644700388"
 * moveBook(FLAT, "buy", dec("0.066423869"), dec("84.98")).book.avg.toString(); // "84.98"
 * ```
 *
 * @module
 */
import { Decimal, divRound } from "./decimal.ts";
import type { OrderSide } from "./order.ts";

/**
 * The cash a fill moves: `qty × price` rounded half-even to nine places. The one rule for a
 * fill's amount, at the venue and in the ledger. Never throws.
 */
export function fillAmount(qty: Decimal, price: Decimal): Decimal {
  return qty.mul(price, "half_even");
}

/**
 * The exact notional of a fill in 10^-18 units (`qty × price`, unrounded), for exact sums
 * behind averages. Never throws.
 */
export function wideNotional(qty: Decimal, price: Decimal): bigint {
  return qty.units * price.units;
}

/**
 * The average price of an exact wide notional (see {@link wideNotional}) over `qty`, rounded
 * half-even to nine places. Throws `DecimalError` when `qty` is zero.
 */
export function averagePrice(notional: bigint, qty: Decimal): Decimal {
  return Decimal.fromUnits(divRound(notional, qty.units, "half_even"));
}

/** A position in one symbol: signed qty, average entry price, signed cost basis. */
export interface PositionBook {
  /** Signed: negative for a short. */
  readonly qty: Decimal;
  /** Average entry price, positive (zero when flat). */
  readonly avg: Decimal;
  /** Signed like `qty`: the amounts of the opening fills less the cost closing fills removed. */
  readonly cost: Decimal;
}

/** A flat position. */
export const FLAT: PositionBook = Object.freeze({
  qty: Decimal.ZERO,
  avg: Decimal.ZERO,
  cost: Decimal.ZERO,
});

/** What one fill did to a {@link PositionBook}. */
export interface BookMove {
  /** The position after the fill ({@link FLAT} values when it closed). */
  book: PositionBook;
  /** The fill's cash amount ({@link fillAmount}): cash moves by it, down for a buy. */
  amount: Decimal;
  /** Quantity that closed existing exposure. */
  closedQty: Decimal;
  /** Quantity that opened or grew exposure. */
  openedQty: Decimal;
  /** Realized P&L of the closing part: its amount less the cost it removed (signed). */
  realizedPl: Decimal;
  /** True when the fill went through zero and opened the other side. */
  flipped: boolean;
}

/**
 * Moves a position by one fill with average-cost accounting (see the module notes). Adding to
 * a position averages the entry from exact wide products; reducing it keeps the average and
 * realizes P&L against the proportional cost; going through zero closes it and opens the rest
 * at `price`. Pure; never throws for a positive `qty`.
 */
export function moveBook(
  book: PositionBook,
  side: OrderSide,
  qty: Decimal,
  price: Decimal,
): BookMove {
  const buy = side === "buy";
  const amount = fillAmount(qty, price);
  const held = book.qty;
  const absHeld = held.abs();
  if (held.isZero() || held.isPositive() === buy) {
    const total = absHeld.add(qty);
    return {
      book: {
        qty: buy ? held.add(qty) : held.sub(qty),
        avg: averagePrice(
          wideNotional(absHeld, book.avg) + wideNotional(qty, price),
          total,
        ),
        cost: buy ? book.cost.add(amount) : book.cost.sub(amount),
      },
      amount,
      closedQty: Decimal.ZERO,
      openedQty: qty,
      realizedPl: Decimal.ZERO,
      flipped: false,
    };
  }
  const closedQty = Decimal.min(qty, absHeld);
  const openedQty = qty.sub(closedQty);
  const closeAmount = openedQty.isZero() ? amount : fillAmount(closedQty, price);
  const costRemoved = closedQty.eq(absHeld)
    ? book.cost
    : Decimal.fromUnits(divRound(book.cost.units * closedQty.units, absHeld.units, "half_even"));
  // the closing part's cash (in for a sell, out for a buy) minus the (signed) cost it removes
  const realizedPl = (buy ? closeAmount.neg() : closeAmount).sub(costRemoved);
  let after: PositionBook;
  if (openedQty.isPositive()) {
    const openAmount = amount.sub(closeAmount);
    after = {
      qty: buy ? openedQty : openedQty.neg(),
      avg: price,
      cost: buy ? openAmount : openAmount.neg(),
    };
  } else if (closedQty.eq(absHeld)) {
    after = FLAT;
  } else {
    after = {
      qty: buy ? held.add(closedQty) : held.sub(closedQty),
      avg: book.avg,
      cost: book.cost.sub(costRemoved),
    };
  }
  return { book: after, amount, closedQty, openedQty, realizedPl, flipped: openedQty.isPositive() };
}
