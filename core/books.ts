/**
 * Books: inside one account, a position per (owner, symbol), the owner a bot or manual (`null`).
 *
 * The venue nets one position per symbol (Alpaca does); the ledger keeps each owner's fills
 * apart, as NautilusTrader's hedging OMS keeps positions apart over a netting venue. A book
 * moves only by its own fills, with the average-cost rules of `core/money.ts` ({@link moveBook}),
 * so a bot's entry, exit and realized P&L never blend with the trader's shares. The account
 * position is the sum of the books' quantities.
 *
 * @module
 */
import { Decimal } from "./decimal.ts";
import { FLAT, moveBook, type PositionBook } from "./money.ts";
import type { OrderSide } from "./order.ts";
import { TradeError } from "./errors.ts";
import {
  evaluateRisk,
  type RiskContext,
  type RiskLimits,
  type RiskPosition,
  type RiskResult,
} from "./risk.ts";

/** The owner of a book: a bot's id, or null for the trader's manual book. */
export type BookOwner = string | null;

/** One fill as a book sees it. */
export interface BookFill {
  side: OrderSide;
  qty: Decimal;
  price: Decimal;
}

/** A book after a replay of its fills. */
export interface ReplayedBook {
  book: PositionBook;
  /** The sum of the realized P&L of every closing part. */
  realizedPl: Decimal;
}

/**
 * Replays fills, in order, into a book by average cost ({@link moveBook}). Pure; never throws
 * for positive quantities.
 */
export function replayBook(fills: Iterable<BookFill>, from: PositionBook = FLAT): ReplayedBook {
  let book = from;
  let realizedPl = Decimal.ZERO;
  for (const f of fills) {
    const moved = moveBook(book, f.side, f.qty, f.price);
    book = moved.book;
    realizedPl = realizedPl.add(moved.realizedPl);
  }
  return { book, realizedPl };
}

/** One book's part of an order that flattens the account in a symbol. */
export interface BookMoveShare {
  botId: BookOwner;
  side: OrderSide;
  qty: Decimal;
}

/**
 * What flattening an account position does to each open book: every book is closed by a move
 * of its own size in the other direction. The moves net to the closing order the venue sees
 * (`side`, `qty` = the absolute account position); books on the other side of the account are
 * closed by an internal cross at the same fill price. Flat books are left out. Pure.
 */
export function flattenMoves(books: Iterable<{ botId: BookOwner; qty: Decimal }>): BookMoveShare[] {
  const out: BookMoveShare[] = [];
  for (const b of books) {
    if (b.qty.isZero()) continue;
    out.push({ botId: b.botId, side: b.qty.isPositive() ? "sell" : "buy", qty: b.qty.abs() });
  }
  return out;
}

/**
 * Splits one fill of a flattening order among the books still to close (`remaining`, what
 * {@link flattenMoves} planned less what earlier fills of the order took). Moves on the fill's
 * side take the fill in plan order; the crosses (moves against the fill's side) are booked on
 * the fill that completes the order, with equal extra qty on the fill's side, so the shares
 * always net to the fill and the books always sum to the account. Pure.
 */
export function splitFlattenFill(
  remaining: readonly BookMoveShare[],
  side: OrderSide,
  qty: Decimal,
): BookMoveShare[] {
  const signed = (m: BookMoveShare) => m.side === "buy" ? m.qty : m.qty.neg();
  const fillSigned = side === "buy" ? qty : qty.neg();
  const rest = remaining.reduce((s, m) => s.add(signed(m)), Decimal.ZERO);
  if (rest.eq(fillSigned)) return remaining.filter((m) => m.qty.isPositive());
  const out: BookMoveShare[] = [];
  let left = qty;
  for (const m of remaining) {
    if (left.isZero()) break;
    if (m.side !== side || !m.qty.isPositive()) continue;
    const take = Decimal.min(left, m.qty);
    out.push({ botId: m.botId, side, qty: take });
    left = left.sub(take);
  }
  // More than the plan (the venue filled past it): the rest is the manual book's.
  if (left.isPositive()) out.push({ botId: null, side, qty: left });
  return out;
}

/** A bot's own book, as pre-trade risk reads it (see {@link evaluateBookRisk}). */
export interface BookRiskFacts {
  /** The bot placing the order. */
  botId: string;
  /** The bot's open books by symbol, marked at the last trade (`market_value` signed). */
  positions: Readonly<Record<string, RiskPosition>>;
  /** Signed qty not yet filled of the bot's own open orders, by symbol. */
  pendingQty: Readonly<Record<string, Decimal>>;
  /** The bot's orders that received a fill today. */
  tradesToday: number;
  /** The realized P&L of the bot's trades today. */
  realizedPlToday: Decimal;
  /** The unrealized P&L of the bot's open books (market value less cost). */
  unrealizedPl: Decimal;
}

/**
 * Pre-trade risk of a bot's order against its own book: the same rules as the account's
 * ({@link evaluateRisk}), with the bot's effective limits (`limits`: the whole chain, its own
 * layer last) over the bot's positions, pending orders, trades today and P&L today (its daily
 * loss is its own realized P&L today plus its book's unrealized P&L, not the account's equity).
 * The trading state and the rate are the account's and are not judged here. Each denial names
 * the book (`details.book`). Pure; never throws.
 */
export function evaluateBookRisk(
  account: RiskContext,
  book: BookRiskFacts,
  limits: RiskLimits,
): RiskResult {
  const dayPl = book.realizedPlToday.add(book.unrealizedPl);
  const result = evaluateRisk({
    request: account.request,
    asset: account.asset,
    refPrice: account.refPrice,
    account: {
      equity: account.account.last_equity.add(dayPl),
      last_equity: account.account.last_equity,
      buying_power: account.account.buying_power,
    },
    positions: book.positions,
    pendingQty: book.pendingQty,
    tradesToday: book.tradesToday,
    realizedPlToday: book.realizedPlToday,
    unrealizedPl: book.unrealizedPl,
    state: "active",
    limits,
  });
  const where = `, in the book of bot "${book.botId}"`;
  return {
    ...result,
    denials: result.denials.map((d) =>
      new TradeError(d.code, d.message + where, { details: { ...d.details, book: book.botId } })
    ),
  };
}
