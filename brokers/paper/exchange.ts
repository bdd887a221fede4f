/**
 * The paper venue's matching engine: a pure, synchronous, deterministic state machine that takes
 * orders, quotes, trades and the passage of time, and answers Alpaca-shaped orders, accounts,
 * positions and `trade_updates` events (ALPACA.md §3, §5, §7.1).
 *
 * Nothing here reads a clock, does I/O or draws random numbers: every call carries its time
 * (`tsMs`), ids come from the injected {@link IdSource}, and the same calls with the same id seed
 * give byte-identical events.
 *
 * How orders work:
 * - Entry: `submit` checks the request ({@link assertValidOrder} with the asset, the last trade
 *   and the session), then duplicate `client_order_id`, wash trades, available qty (no flipping
 *   long↔short in one order), shorting, legacy PDT (when enabled) and buying power, in Alpaca's
 *   words. A buy `stop` is converted to the `stop_limit` Alpaca works ({@link convertBuyStop}).
 *   The order is created `accepted`; when the session allows it, it goes `pending_new` → `new`
 *   at once (events `pending_new`, `new`), otherwise it stays `accepted` (queued) until it does:
 *   regular orders need the core session, `extended_hours` limit orders also work pre and post.
 * - Matching is against the simulated NBBO, never between orders: a buy takes the ask, a sell the
 *   bid; a limit buy fills when ask <= limit (at the ask), a limit sell when bid >= limit (at the
 *   bid). Fill qty is min(remaining, displayed size left on that side); fills consume the
 *   displayed size until the next quote replaces it, so two orders never take the same shares.
 *   Within a symbol and side, resting market orders go first (oldest first), then limits by
 *   price then age: a deterministic price-time order.
 * - Notional orders (fractional, DAY) fill completely at the first marketable quote:
 *   qty = notional / price rounded down to 9 places (capped at the long position for sells).
 * - Stops elect on a trade print at or through the stop (sell: print <= stop, buy: print >=
 *   stop) during the core session, then work as market (`stop`, `trailing_stop`) or limit
 *   (`stop_limit`) orders. Trailing stops track `hwm` from prints in the core session (sell: the
 *   highest, buy: the lowest) and show `hwm` and `stop_price` on the order; a move is announced
 *   as a `restated` event (status unchanged) at most once per {@link TRAIL_RESTATE_MS}.
 * - Time in force: `day` expires at `dayOrderExpiry(submitted_at)` (event `expired`); `gtc`
 *   rests; `ioc` fills what the current quote offers and cancels the rest; `fok` fills all at once
 *   or is canceled without a fill. Auctions are approximated: `opg` fills its whole qty at the
 *   first core-session quote after the open (market, or limit if marketable; displayed size is
 *   ignored), `cls` fills its whole qty at the last quote seen before its close
 *   (`dayOrderExpiry` of its submission); whatever an auction cannot fill is canceled.
 * - Classes (§3.4): bracket and oto exits are `held` until the entry is completely filled; then
 *   the take-profit becomes `new` and the stop-loss stays `held` until its stop elects (event
 *   `new`), which cancels the take-profit. A take-profit fill cancels the stop-loss; a partial
 *   one shrinks the stop-loss to the take-profit's remaining qty. Canceling or expiring any order
 *   of a group cancels the group's other open orders. An oco is an exit-only take-profit limit
 *   (the parent, `new`) with a `held` stop-loss child.
 * - Replace: the old order goes `pending_replace` → `replaced` (with `replaced_by`), the new one
 *   (qty is the chain total) starts `new` (a bracket stop-loss stays `held`); buying power is
 *   checked for the larger of the old and new reservations.
 * - Every status change goes through {@link transition}; every change emits a `TradeUpdate`
 *   to the outbox read with {@link PaperExchange.drainEvents}.
 *
 * Restore after a restart ({@link PaperExchange.restoreAccounts}): the ledger outlives the
 * process, the exchange's memory does not. Restore puts accounts back as the ledger knows them,
 * emitting nothing, so reconciliation finds every open order under its venue id:
 * - Exact: cash; positions (signed qty, average entry price and cost basis, given or
 *   `qty × avgEntryPrice`); open
 *   orders with their ids, client order ids, fills, statuses, `hwm` and `stop_price`, DAY
 *   expiry and place in the book (price, then `created_at`, then the order given); groups by
 *   `parent_id` (legs of an open entry stay `held` and unbooked; legs whose entry is absent or
 *   filled work as after the fill; an oco stop-loss that elected works alone); held qty and
 *   wash-trade sets; reservations of limit and stop-limit orders; an order marketable at the
 *   current quote (whose displayed size must have run out) fills from the next quote. Skipped,
 *   with a reason: closed orders, `pending_cancel`/`pending_replace` (they complete at once
 *   here, so the order was closed), ioc/fok (they never rest), legs of a canceled entry.
 * - Approximate, because the ledger's rows do not say: reservations of market, stop and
 *   trailing-stop buys, of short sales below 103% of the quote, and the qty estimate of
 *   notional orders use the quote at restore, not at submission; whether an order opens
 *   exposure comes from its `position_intent`, else from the position now; whether a simple
 *   stop had elected is inferred (it has fills, or the last core print is at or through its
 *   stop), so an elected stop-limit whose price came back re-arms as a stop; the exact filled
 *   notional behind the next `filled_avg_price` is taken as `filled_qty × filled_avg_price`,
 *   off by less than half a nano-unit per share when that average was rounded; a stale saved
 *   `hwm` gives a lower stop until a print passes it.
 * - Not restored: intraday figures (`last_equity` defaults to the equity at restore;
 *   `lastday_price` only from `lastdayPrice`, else from the next day roll; a position without
 *   it counts as opened today); the running realized P&L; the legacy PDT day-trade history;
 *   the displayed size already taken at the current quote (assumed untouched unless a restored
 *   order is marketable); `created_at`, multiplier and shorting flag of the account (open it
 *   with its options first); closed orders (`getOrder` answers `ORDER_NOT_FOUND`, and their
 *   client order ids are no longer refused: the ledger's unique index still is).
 * - Ids: new order, client order and execution ids skip ids in use, restored ones included.
 *   A seeded {@link IdSource} restarted from its seed still regenerates the ids of the earlier
 *   run's closed orders and fills, which are not restored; production ids are random
 *   (`cryptoIdSource`), and restarted tests or backtests should continue the sequence or take
 *   a new seed.
 *
 * @example
 * ```ts
 * const ex = new PaperExchange({ ids: seededIdSource(1), assets: (s) => universe.get(s) });
 * ex.onQuote("AAPL", quote, t0);
 * const order = ex.submit("acct-1", { symbol: "AAPL", qty: dec("10"), side: "buy",
 *   type: "market", time_in_force: "day" }, t0 + 1);
 * for (const e of ex.drainEvents()) console.log(e.update.event); // pending_new, new, fill
 * ```
 *
 * @module
 */

import { sessionAt, sessionCloseMs, toEt } from "../../core/calendar.ts";
import { Decimal } from "../../core/decimal.ts";
import { TradeError, tradeErrors } from "../../core/errors.ts";
import { averagePrice, wideNotional } from "../../core/money.ts";
import type { IdSource } from "../../core/ids.ts";
import {
  createOrder,
  type Order,
  type OrderRequest,
  type OrderSide,
  type OrderStatus,
  replacementOrder,
  type ReplaceRequest,
  withLegs,
} from "../../core/order.ts";
import {
  assertValidOrder,
  type AssetInfo,
  convertBuyStop,
  orderCostBasis,
  roundPrice,
  validateReplace,
} from "../../core/order_rules.ts";
import { cancelError, isTerminal, transition, transitionEvent } from "../../core/order_state.ts";
import type { Asset, Quote, Session, Trade } from "../../core/market.ts";
import type {
  Account,
  CancelResult,
  ClosePositionResult,
  ListOrdersQuery,
  Position,
  TradeUpdate,
} from "../../core/account.ts";
import { type Keyed, OrderList, TimerHeap } from "./_book.ts";
import {
  type MarkSource,
  type Multiplier,
  PaperAccount,
  type PaperAccountOptions,
  PDT_MIN_EQUITY,
  type PositionAsset,
  type SymbolSlot,
} from "./account.ts";

/** Options of a {@link PaperExchange}. */
export interface PaperExchangeOptions {
  /** Source of order, client order and execution ids (seeded in tests and backtests). */
  ids: IdSource;
  /** Looks an asset up by symbol or by asset id; undefined when unknown. */
  assets: (symbolOrId: string) => Asset | undefined;
  /** The session at an instant; defaults to the NYSE calendar (`sessionAt`). */
  session?: (tsMs: number) => Session;
  /**
   * When a DAY order placed at `tsMs` expires; also the day-roll and `cls` auction instant.
   * Defaults to the NYSE calendar (`sessionCloseMs`: the next core close, or the next end of
   * after-hours for extended-hours orders). Must answer an instant after `tsMs`.
   */
  dayOrderExpiry?: (tsMs: number, options: { extendedHours: boolean }) => number;
  /**
   * Minutes since midnight ET, for the OPG/CLS submission windows; defaults to the NYSE
   * calendar's `toEt`. `null` turns the window checks off (for a 24x7 policy).
   */
  etMinutesOfDay?: ((tsMs: number) => number) | null;
  /** The legacy pattern-day-trader rule (ALPACA.md §5.3); off by default. */
  legacyPdt?: boolean;
  /** Cash of new accounts; default `"100000"`. */
  startingCash?: Decimal | string;
  /** Multiplier of new accounts: `"1"` cash, `"2"` Reg-T (default) or `"4"` legacy PDT. */
  defaultMultiplier?: Multiplier;
}

/** Accounting details of one fill, for the ledger's trades rows. */
export interface FillRecord {
  execution_id: string;
  account_id: string;
  order_id: string;
  client_order_id: string;
  symbol: string;
  side: OrderSide;
  qty: Decimal;
  price: Decimal;
  /** The fill's cash amount (`qty × price`, half-even to nine places): what cash moved by. */
  amount: Decimal;
  /** P&L realized by the part of the fill that closed exposure (zero for an opening fill). */
  realized_pl: Decimal;
  /** Signed position after the fill. */
  position_qty: Decimal;
  /** Account cash after the fill. */
  cash: Decimal;
  timestamp: number;
}

/** One entry of the outbox: a trade update for an account, with the fill's accounting if any. */
export interface PaperEvent {
  accountId: string;
  update: TradeUpdate;
  fill: FillRecord | null;
}

/** Options of {@link PaperExchange.openAccount}. */
export interface OpenAccountOptions extends PaperAccountOptions {
  /** Creation time; defaults to the exchange's current time. */
  tsMs?: number;
}

/** Options of {@link PaperExchange.closePosition}: at most one of the two. */
export interface ClosePositionOptions {
  qty?: Decimal;
  /** 0 (exclusive) to 100. */
  percentage?: Decimal;
}

/** A position as the ledger knows it, for {@link PaperExchange.restoreAccounts}. */
export interface RestoredPosition {
  symbol: string;
  /** Signed: negative for a short. */
  qty: Decimal;
  avgEntryPrice: Decimal;
  /**
   * The exact cost basis (the ledger's `cost_basis`; its sign follows `qty`). Defaults to
   * `qty × avgEntryPrice`, which is off by rounding when the average was rounded to 9 places.
   */
  costBasis?: Decimal;
  /**
   * The symbol's previous close, for a position held over it: intraday figures then count from
   * it (and it becomes the symbol's `lastday_price` if the exchange has none). Without it the
   * position counts as opened today.
   */
  lastdayPrice?: Decimal;
}

/** What the ledger knows of one paper account, for {@link PaperExchange.restoreAccounts}. */
export interface PaperAccountState {
  cash: Decimal;
  positions: readonly RestoredPosition[];
  /**
   * The account's open orders with their venue ids, client order ids, fills, statuses and
   * `hwm`, bracket/oco/oto legs as their own orders linked by `parent_id` (nested `legs` are
   * read too). Closed orders may be included: they are skipped, but a filled or replaced entry
   * helps place its legs.
   */
  orders: readonly Order[];
  /** Alpaca's `last_equity`; defaults to the equity at restore. */
  lastEquity?: Decimal;
}

/** What {@link PaperExchange.restoreAccounts} did for one account. */
export interface RestoreResult {
  accountId: string;
  /** Ids of the restored orders, in book (time) order. */
  restored: string[];
  /** Orders left out, and why. */
  skipped: { id: string; status: OrderStatus; reason: string }[];
}

/** Thrown by {@link PaperExchange.restoreAccounts} for a state it cannot recreate. */
export class PaperRestoreError extends Error {
  override name = "PaperRestoreError";
}

/** Statuses a restored order may have (the others are closed, or never rest at this venue). */
const RESTORABLE = new Set<OrderStatus>([
  "accepted",
  "pending_new",
  "new",
  "partially_filled",
  "held",
]);

interface RestorePlan {
  accountId: string;
  cash: Decimal;
  lastEquity: Decimal | null;
  positions: {
    asset: Asset;
    qty: Decimal;
    avg: Decimal;
    cost: Decimal;
    lastday: Decimal | null;
  }[];
  /** Restorable orders in time order, with their asset and group key. */
  orders: { order: Order; asset: Asset; group: string | null }[];
  skipped: RestoreResult["skipped"];
}

type Where = "none" | "queued" | "market" | "limit" | "stop" | "trail" | "opg" | "cls";

interface AccountState {
  readonly acct: PaperAccount;
  /** Every order in submission order. */
  readonly all: Rec[];
  readonly open: Set<Rec>;
  readonly cids: Map<string, Rec>;
}

interface Group {
  readonly cls: "bracket" | "oco" | "oto";
  /**
   * The order `nested=true` rolls the others into: the entry, or an oco's take-profit; null for
   * legs restored without it (their entry had filled, or the oco's stop-loss had elected).
   */
  parent: Rec | null;
  entry: Rec | null;
  tp: Rec | null;
  sl: Rec | null;
}

interface Rec extends Keyed {
  order: Order;
  readonly st: AccountState;
  readonly slot: SymbolSlot;
  readonly book: SymbolBook;
  readonly posAsset: PositionAsset;
  list: OrderList<Rec> | null;
  where: Where;
  /** The stop has elected: the order now works as market or limit. */
  triggered: boolean;
  /** Notional orders: the qty estimate used for held qty. */
  estQty: Decimal;
  /** Exact `Σ qty × price` of the fills, in 10^-18 units (`core/money.ts`). */
  filledNotional: bigint;
  /** Opens or grows exposure (reserves buying power). */
  opening: boolean;
  reserved: Decimal;
  perUnit: Decimal;
  /** What this order adds to the slot's held qty now. */
  hold: Decimal;
  /** Whether this order is in the slot's wash-trade set. */
  wash: boolean;
  expiresAt: number | null;
  auctionAt: number | null;
  group: Group | null;
  dayTradeCounted: boolean;
}

class SymbolBook {
  readonly symbol: string;
  lastTrade: Decimal | null = null;
  bid: Decimal | null = null;
  ask: Decimal | null = null;
  /** Displayed size still available at the bid / ask of the current quote. */
  bidAvail: Decimal = Decimal.ZERO;
  askAvail: Decimal = Decimal.ZERO;
  prevClose: Decimal | null = null;
  readonly marketBuy = new OrderList<Rec>();
  readonly marketSell = new OrderList<Rec>();
  /** Keyed by −limit: highest limit first. */
  readonly limitBuy = new OrderList<Rec>();
  /** Keyed by limit: lowest first. */
  readonly limitSell = new OrderList<Rec>();
  /** Keyed by stop: lowest first (elect while stop <= print). */
  readonly stopBuy = new OrderList<Rec>();
  /** Keyed by −stop: highest first (elect while stop >= print). */
  readonly stopSell = new OrderList<Rec>();
  readonly trailing = new Set<Rec>();
  readonly opg = new Set<Rec>();

  constructor(symbol: string) {
    this.symbol = symbol;
  }

  mid(): Decimal | null {
    if (this.bid !== null && this.ask !== null) {
      return Decimal.fromUnits((this.bid.units + this.ask.units) / 2n);
    }
    return this.bid ?? this.ask;
  }
}

const ZERO = Decimal.ZERO;
/**
 * How often, at most, one trailing stop's moved `hwm` and `stop_price` are announced (a
 * `restated` event), in exchange time: prints can move them many times a second, and each
 * announcement is a ledger write.
 */
export const TRAIL_RESTATE_MS = 1_000;
const HUNDRED = Decimal.int(100);
const RANK_AUCTION = 0;
const RANK_EXPIRY = 1;
const WASH_TYPES = new Set(["market", "stop", "stop_limit", "trailing_stop"]);
const WASH_REASON = "opposite side market/stop order exists";

/** NYSE minutes since midnight ET (the default OPG/CLS window clock). */
function nyseMinutes(tsMs: number): number {
  const p = toEt(tsMs);
  return p.hour * 60 + p.minute;
}

function toDecimal(n: number): Decimal | null {
  return Number.isFinite(n) && n > 0 ? Decimal.parse(n, "half_even") : null;
}

function assetInfo(a: Asset): AssetInfo {
  return {
    symbol: a.symbol,
    tradable: a.tradable,
    fractionable: a.fractionable,
    shortable: a.shortable,
    easy_to_borrow: a.easy_to_borrow,
    marginable: a.marginable,
    fractional_eh_enabled: a.attributes.includes("fractional_eh_enabled"),
  };
}

function positionAsset(a: Asset): PositionAsset {
  return { id: a.id, symbol: a.symbol, exchange: a.exchange, marginable: a.marginable };
}

/** What makes a restored order unworkable (said after its id), or null. */
function restoreShapeError(o: Order): string | null {
  if (o.qty === null && o.notional === null) return "has neither qty nor notional";
  if (o.qty !== null && !o.qty.isPositive()) return `has qty "${o.qty}"`;
  if (o.filled_qty.isNegative() || (o.qty !== null && o.filled_qty.gt(o.qty))) {
    return `has filled_qty "${o.filled_qty}" outside 0..qty`;
  }
  if ((o.type === "limit" || o.type === "stop_limit") && o.limit_price === null) {
    return `is a ${o.type} order without limit_price`;
  }
  if ((o.type === "stop" || o.type === "stop_limit") && o.stop_price === null) {
    return `is a ${o.type} order without stop_price`;
  }
  if (o.type === "trailing_stop" && o.trail_price === null && o.trail_percent === null) {
    return "is a trailing_stop order without trail_price or trail_percent";
  }
  return null;
}

/** A stand-in market price when the exchange has seen no data for the symbol. */
function requestPrice(req: OrderRequest): Decimal {
  if (req.limit_price) return req.limit_price;
  if (req.stop_price) return req.stop_price;
  const tp = req.take_profit?.limit_price;
  const sl = req.stop_loss?.stop_price;
  if (tp && sl) return Decimal.fromUnits((tp.units + sl.units) / 2n);
  return tp ?? sl ?? Decimal.ONE;
}

function trailStop(o: Order, hwm: Decimal): Decimal {
  const buy = o.side === "buy";
  let stop: Decimal;
  if (o.trail_price !== null) stop = buy ? hwm.add(o.trail_price) : hwm.sub(o.trail_price);
  else {
    const f = (o.trail_percent ?? ZERO).div(HUNDRED);
    stop = hwm.mul(buy ? Decimal.ONE.add(f) : Decimal.ONE.sub(f));
  }
  return roundPrice(stop);
}

function remainingOf(o: Order): Decimal {
  return o.qty === null ? ZERO : o.qty.sub(o.filled_qty);
}

/**
 * The paper exchange. All methods are synchronous; those taking `tsMs` first let time pass to
 * `tsMs` ({@link PaperExchange.advance}); time never runs backwards (an earlier `tsMs` counts as
 * the latest one seen). Errors are {@link TradeError}s with Alpaca's codes and texts.
 */
export class PaperExchange {
  readonly #ids: IdSource;
  readonly #assets: (symbolOrId: string) => Asset | undefined;
  readonly #sessionOf: (tsMs: number) => Session;
  readonly #expiry: (tsMs: number, options: { extendedHours: boolean }) => number;
  readonly #etMinutes: ((tsMs: number) => number) | null;
  readonly #legacyPdt: boolean;
  readonly #startingCash: Decimal;
  readonly #multiplier: Multiplier;
  readonly #accounts = new Map<string, AccountState>();
  readonly #books = new Map<string, SymbolBook>();
  readonly #orders = new Map<string, Rec>();
  readonly #queued = new Set<Rec>();
  readonly #timers = new TimerHeap<Rec>();
  #events: PaperEvent[] = [];
  /** Trailing stops whose `hwm` moved since their last `restated` event. */
  readonly #moved = new Set<Rec>();
  /** When each trailing stop was last restated. */
  readonly #restatedAt = new WeakMap<Rec, number>();
  #now = Number.NEGATIVE_INFINITY;
  #seq = 0;
  #session: Session | null = null;
  #rollAt: number | null = null;
  #day = 0;
  #dirty = false;
  /** Client order ids of restored orders: fresh ids never reuse them. */
  readonly #taken = new Set<string>();
  /** Restored queued orders the session already allows: released at the next tick. */
  #releaseQueued = false;
  /** Ids for new orders and fills, skipping any id already in use (see the restore notes). */
  readonly #newId: IdSource = () => {
    for (let i = 0; i < 1000; i++) {
      const id = this.#ids();
      if (!this.#orders.has(id) && !this.#taken.has(id)) return id;
    }
    throw new RangeError("Cannot draw a fresh id: the id source gave 1000 ids already in use");
  };
  readonly #marks: MarkSource = {
    currentPrice: (symbol) => {
      const b = this.#books.get(symbol);
      return b === undefined ? null : b.lastTrade ?? b.mid();
    },
    lastdayPrice: (symbol) => this.#books.get(symbol)?.prevClose ?? null,
  };

  /** Builds an empty exchange. Throws `DecimalError` on an unreadable `startingCash`. */
  constructor(options: PaperExchangeOptions) {
    this.#ids = options.ids;
    this.#assets = options.assets;
    this.#sessionOf = options.session ?? sessionAt;
    this.#expiry = options.dayOrderExpiry ?? ((ts, o) => sessionCloseMs(ts, o));
    this.#etMinutes = options.etMinutesOfDay === undefined ? nyseMinutes : options.etMinutesOfDay;
    this.#legacyPdt = options.legacyPdt ?? false;
    this.#startingCash = Decimal.parse(options.startingCash ?? "100000");
    this.#multiplier = options.defaultMultiplier ?? "2";
  }

  // -------------------------------------------------------------------------------------------
  // Accounts

  /**
   * Opens an account (idempotent: an existing account is left as it is) and answers it.
   * Accounts are also opened with the defaults on first use by any other method.
   */
  openAccount(accountId: string, options: OpenAccountOptions = {}): Account {
    if (!this.#accounts.has(accountId)) {
      const ts = options.tsMs ?? (Number.isFinite(this.#now) ? this.#now : 0);
      const acct = new PaperAccount(accountId, {
        cash: options.cash ?? this.#startingCash,
        multiplier: options.multiplier ?? this.#multiplier,
        shortingEnabled: options.shortingEnabled ?? true,
      }, ts);
      this.#accounts.set(accountId, { acct, all: [], open: new Set(), cids: new Map() });
    }
    return this.account(accountId);
  }

  /** The account at the latest marks (Alpaca's `GET /v2/account`). Never throws. */
  account(accountId: string): Account {
    return this.#state(accountId).acct.snapshot(this.#marks, {
      legacyPdt: this.#legacyPdt,
      today: this.#day,
    });
  }

  /** Open positions, by symbol (Alpaca's `GET /v2/positions`). Never throws. */
  positions(accountId: string): Position[] {
    const acct = this.#state(accountId).acct;
    const out: Position[] = [];
    const symbols = [...acct.slots.keys()].sort();
    for (const s of symbols) {
      const p = acct.positionSnapshot(acct.slots.get(s)!, this.#marks);
      if (p !== null) out.push(p);
    }
    return out;
  }

  /** One position by symbol or asset id. Throws `POSITION_NOT_FOUND` (404) when flat. */
  position(accountId: string, symbol: string): Position {
    const acct = this.#state(accountId).acct;
    const sym = this.#assets(symbol)?.symbol ?? symbol;
    const slot = acct.slots.get(sym);
    const p = slot === undefined ? null : acct.positionSnapshot(slot, this.#marks);
    if (p === null) throw tradeErrors.positionNotFound(symbol);
    return p;
  }

  // -------------------------------------------------------------------------------------------
  // Restore after a restart

  /**
   * Recreates accounts from what the ledger knows after a restart (see "Restore" in the module
   * notes): cash, positions with their cost, the open orders with their ids, fills, statuses,
   * `hwm`, groups and reservations. Emits no events. Every state is checked before any account
   * is touched, so a refusal changes nothing. Time moves to `tsMs` first if it is later than
   * {@link PaperExchange.now} (call it at the exchange's time to let no time pass).
   * Throws {@link PaperRestoreError} when an account already has activity (orders, fills,
   * positions, an earlier restore) or a state is inconsistent (unknown symbol, an order id in
   * use, a duplicate client order id, a status this venue never leaves an order in), and
   * `RangeError` on a non-finite `tsMs`.
   *
   * @example
   * ```ts
   * const [r] = ex.restoreAccounts([["acct-1", { cash, positions, orders }]], ex.now);
   * r.skipped; // closed orders given, with the reason
   * ```
   */
  restoreAccounts(
    accounts: Iterable<readonly [accountId: string, state: PaperAccountState]>,
    tsMs: number,
  ): RestoreResult[] {
    if (!Number.isFinite(tsMs)) {
      throw new RangeError(`Cannot restore paper accounts at "${tsMs}": not a finite epoch ms`);
    }
    const plans: RestorePlan[] = [];
    const seen = new Set<string>();
    for (const [accountId, state] of accounts) {
      if (plans.some((p) => p.accountId === accountId)) {
        throw new PaperRestoreError(`Cannot restore paper account "${accountId}": given twice`);
      }
      plans.push(this.#planRestore(accountId, state, seen));
    }
    if (tsMs > this.#now) this.#tick(tsMs);
    return plans.map((p) => this.#applyRestore(p));
  }

  /** One account: {@link PaperExchange.restoreAccounts} with one entry; throws the same. */
  restoreAccount(accountId: string, state: PaperAccountState, tsMs: number): RestoreResult {
    return this.restoreAccounts([[accountId, state]], tsMs)[0]!;
  }

  // -------------------------------------------------------------------------------------------
  // Market data and time

  /**
   * A new NBBO for `symbol`: replaces the displayed sizes, runs a pending opening auction, and
   * fills every marketable working order it can. A non-positive price means no quote on that
   * side. Throws `RangeError` on a non-finite `tsMs`.
   */
  onQuote(symbol: string, quote: Quote, tsMs: number): void {
    const now = this.#tick(tsMs);
    const b = this.#book(symbol);
    b.bid = toDecimal(quote.bp);
    b.ask = toDecimal(quote.ap);
    b.bidAvail = toDecimal(quote.bs) ?? ZERO;
    b.askAvail = toDecimal(quote.as) ?? ZERO;
    if (this.#session === "core" && b.opg.size > 0) {
      for (const rec of [...b.opg]) this.#auction(rec, now);
    }
    this.#match(b, now);
  }

  /**
   * A trade print for `symbol`: updates the mark, and in the core session moves trailing stops
   * and elects stops at or through the print, then matches what elected.
   * Throws `RangeError` on a non-finite `tsMs`.
   */
  onTrade(symbol: string, trade: Trade, tsMs: number): void {
    const now = this.#tick(tsMs);
    const b = this.#book(symbol);
    const p = toDecimal(trade.p);
    if (p === null) return;
    b.lastTrade = p;
    if (this.#session !== "core") return;
    this.#dirty = false;
    this.#electWhile(b.stopSell, -p.units, now);
    this.#electWhile(b.stopBuy, p.units, now);
    for (const rec of b.trailing) this.#trail(rec, p, now);
    if (this.#dirty) this.#match(b, now);
  }

  /**
   * Lets time pass to `tsMs`: fires due `cls` auctions and DAY expiries (in time order), rolls the
   * day at each `dayOrderExpiry` boundary (`last_equity`, `lastday_price`, legacy PDT day), and
   * releases queued orders when the session starts allowing them. Queued orders then fill on
   * the next quote. Throws `RangeError` on a non-finite `tsMs`.
   */
  advance(tsMs: number): void {
    this.#tick(tsMs);
  }

  /**
   * Rolls the trading day now, as at a session close: every account's `last_equity` and
   * `last_maintenance_margin` take today's figures, every symbol's `lastday_price` the latest
   * trade. {@link PaperExchange.advance} does this by itself at each `dayOrderExpiry` boundary.
   */
  rollDay(tsMs: number): void {
    const now = this.#tick(tsMs);
    this.#roll(now);
    this.#rollAt = this.#expiry(now, { extendedHours: false });
  }

  /** The time the exchange has reached (negative infinity before the first call). */
  get now(): number {
    return this.#now;
  }

  /**
   * Answers and clears the outbox of events, oldest first. A working trailing stop whose `hwm`
   * moved gets a `restated` event (the order with its new `hwm` and `stop_price`) here, at most
   * once per {@link TRAIL_RESTATE_MS}; a later drain announces a move held back.
   */
  drainEvents(): PaperEvent[] {
    this.#restate();
    const out = this.#events;
    this.#events = [];
    return out;
  }

  #restate(): void {
    const now = this.#now;
    for (const rec of this.#moved) {
      if (rec.where !== "trail" || rec.triggered || isTerminal(rec.order.status)) {
        this.#moved.delete(rec); // elected or closed: its own events carry the figures
        continue;
      }
      if (now - (this.#restatedAt.get(rec) ?? Number.NEGATIVE_INFINITY) < TRAIL_RESTATE_MS) {
        continue;
      }
      this.#moved.delete(rec);
      this.#restatedAt.set(rec, now);
      this.#emit(rec, { event: "restated", order: rec.order, timestamp: now }, null);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Orders

  /**
   * Places an order (Alpaca's `POST /v2/orders`) and answers it as it stands after routing and
   * any immediate fill (nested with its legs for bracket/oco/oto).
   * Throws {@link TradeError}: the order-rule errors of `validateOrder`,
   * `DUPLICATE_CLIENT_ORDER_ID`, `WASH_TRADE`, `INSUFFICIENT_QTY`, `SHORTING_NOT_ALLOWED`,
   * `PDT_PROTECTION` (legacy mode), `INSUFFICIENT_BUYING_POWER`.
   */
  submit(accountId: string, request: OrderRequest, tsMs: number): Order {
    const now = this.#tick(tsMs);
    const st = this.#state(accountId);
    const acct = st.acct;
    if (request.client_order_id !== undefined) {
      const dup = st.cids.get(request.client_order_id);
      if (dup) throw tradeErrors.duplicateClientOrderId(request.client_order_id, dup.order.id);
    }
    const asset = this.#assets(request.symbol);
    if (asset === undefined) throw tradeErrors.assetNotFound(request.symbol);
    const symbol = asset.symbol;
    const req: OrderRequest = symbol === request.symbol ? request : { ...request, symbol };
    const book = this.#book(symbol);
    const slot = acct.slot(symbol);
    const pos = slot.position?.qty ?? ZERO;
    const session = this.#session!;
    const val = acct.valuation(this.#marks);
    const bp = acct.buyingPower(val);
    const wantsShort = req.side === "sell" && !pos.isPositive();
    const shortSale = wantsShort && bp.shortingEnabled;
    const last = book.lastTrade ?? book.mid() ?? requestPrice(req);
    assertValidOrder(req, assetInfo(asset), {
      lastPrice: last,
      session,
      etMinutesOfDay: this.#etMinutes === null ? undefined : this.#etMinutes(now),
      shortSale,
    });
    for (const id of req.side === "buy" ? slot.washSell : slot.washBuy) {
      throw tradeErrors.washTrade(id, WASH_REASON);
    }
    const ref = this.#refPrice(book, req.side, session) ?? last;
    const reqQty = req.qty ?? req.notional!.div(ref, "up");
    this.#checkQty(acct, slot, req, pos, reqQty, wantsShort, shortSale);
    if (this.#legacyPdt) this.#checkPdt(acct, slot, req.side, pos, val.equity);
    const opening = req.side === "buy" ? !pos.isNegative() : shortSale;
    let cost = ZERO;
    if (opening) {
      cost = orderCostBasis(req, ref, { shortSale });
      const avail = asset.marginable
        ? bp.buyingPower
        : Decimal.min(bp.buyingPower, bp.nonMarginableBuyingPower);
      if (cost.gt(avail)) {
        throw tradeErrors.insufficientBuyingPower(cost.round(2, "up"), avail.round(2, "down"));
      }
    }

    const created = createOrder(convertBuyStop(req), {
      ids: this.#newId,
      tsMs: now,
      assetId: asset.id,
    });
    const posAsset = positionAsset(asset);
    const mk = (order: Order): Rec => {
      const rec: Rec = {
        order,
        seq: ++this.#seq,
        bookKey: 0n,
        st,
        slot,
        book,
        posAsset,
        list: null,
        where: "none",
        triggered: false,
        estQty: order.qty ?? reqQty,
        filledNotional: 0n,
        opening: false,
        reserved: ZERO,
        perUnit: ZERO,
        hold: ZERO,
        wash: false,
        expiresAt: null,
        auctionAt: null,
        group: null,
        dayTradeCounted: false,
      };
      this.#register(rec, now);
      return rec;
    };
    const parent = mk(created.order);
    const legs = created.legs.map(mk);
    if (opening) {
      parent.opening = true;
      parent.reserved = cost;
      parent.perUnit = req.qty !== undefined ? cost.div(req.qty) : ZERO;
      acct.reserved = acct.reserved.add(cost);
    }
    if (legs.length > 0) {
      const cls = parent.order.order_class as "bracket" | "oco" | "oto";
      const tp = legs.find((l) => l.order.type === "limit") ?? null;
      const sl = legs.find((l) => l.order.type !== "limit") ?? null;
      const g: Group = cls === "oco"
        ? { cls, parent, entry: null, tp: parent, sl }
        : { cls, parent, entry: parent, tp, sl };
      for (const r of [parent, ...legs]) r.group = g;
    }
    for (const r of [parent, ...legs]) this.#sync(r);

    if (this.#routable(parent, session)) this.#goLive(parent, now);
    else {
      parent.where = "queued";
      this.#queued.add(parent);
    }
    return this.#view(parent);
  }

  /**
   * Replaces an open order (Alpaca's `PATCH /v2/orders/{id}`) and answers the new order.
   * Throws `ORDER_NOT_FOUND`, the errors of `validateReplace` (`ORDER_NOT_REPLACEABLE` …),
   * `DUPLICATE_CLIENT_ORDER_ID`, `INSUFFICIENT_BUYING_POWER`.
   */
  replace(accountId: string, orderId: string, request: ReplaceRequest, tsMs: number): Order {
    const now = this.#tick(tsMs);
    const old = this.#find(accountId, orderId);
    const err = validateReplace(old.order, request);
    if (err) throw err;
    if (request.trail !== undefined && old.triggered) {
      throw tradeErrors.orderNotReplaceable(old.order.id, "trailing stop has already triggered");
    }
    const st = old.st;
    if (request.client_order_id !== undefined) {
      const dup = st.cids.get(request.client_order_id);
      if (dup) throw tradeErrors.duplicateClientOrderId(request.client_order_id, dup.order.id);
    }
    const wasHeld = old.order.status === "held";
    let next = replacementOrder(old.order, request, { ids: this.#newId, tsMs: now, status: "new" });
    if (wasHeld) next = { ...next, status: "held" };
    let cost = ZERO;
    if (old.opening) {
      const ref = this.#refPrice(old.book, next.side, this.#session!) ??
        old.book.lastTrade ?? old.book.mid() ?? next.limit_price ?? next.stop_price ??
        Decimal.ONE;
      cost = this.#costOf(next, ref);
      const bp = st.acct.buyingPower(st.acct.valuation(this.#marks));
      const avail = bp.buyingPower.add(old.reserved);
      if (cost.gt(avail)) {
        throw tradeErrors.insufficientBuyingPower(cost.round(2, "up"), avail.round(2, "down"));
      }
    }
    const where = old.where;
    this.#unbook(old);
    this.#move(old, "pending_replace", now);
    this.#move(old, "replaced", now, { replaced_by: next.id });

    if (next.time_in_force === "day") {
      next = {
        ...next,
        expires_at: old.order.time_in_force === "day" && old.expiresAt !== null
          ? old.expiresAt
          : this.#expiry(now, { extendedHours: next.extended_hours }),
      };
    } else next = { ...next, expires_at: null };
    if (next.type === "trailing_stop" && next.hwm !== null) {
      next = { ...next, stop_price: trailStop(next, next.hwm) };
    }
    const rec: Rec = {
      ...old,
      order: next,
      seq: ++this.#seq,
      bookKey: 0n,
      list: null,
      where: "none",
      // a new stop price arms a fresh stop; anything else keeps an elected stop working
      triggered: old.triggered && request.stop_price === undefined,
      filledNotional: old.filledNotional,
      reserved: ZERO,
      perUnit: ZERO,
      hold: ZERO,
      wash: false,
      expiresAt: null,
      auctionAt: null,
      dayTradeCounted: old.dayTradeCounted,
    };
    this.#register(rec, now);
    if (old.opening) {
      const rem = remainingOf(next);
      rec.reserved = cost;
      rec.perUnit = rem.isPositive() ? cost.div(rem) : ZERO;
      st.acct.reserved = st.acct.reserved.add(cost);
    }
    const g = rec.group;
    if (g !== null) {
      if (g.parent === old) g.parent = rec;
      if (g.entry === old) g.entry = rec;
      if (g.tp === old) g.tp = rec;
      if (g.sl === old) g.sl = rec;
      if (g.parent === rec) {
        for (const leg of this.#legs(g)) {
          const qty = leg.order.status === "held" && g.entry === rec ? next.qty : leg.order.qty;
          leg.order = { ...leg.order, parent_id: rec.order.id, qty };
          this.#sync(leg);
        }
      }
    }
    this.#sync(rec);
    if (!wasHeld) {
      this.#emit(rec, { event: "new", order: rec.order, timestamp: now }, null);
    }
    if (where !== "none") {
      this.#route(rec, now);
      this.#afterRoute(rec, now);
    }
    return rec.order;
  }

  /**
   * Cancels an open order (Alpaca's `DELETE /v2/orders/{id}`): `pending_cancel` → `canceled`,
   * then the rest of its group. Throws `ORDER_NOT_FOUND` and `ORDER_NOT_CANCELABLE`
   * (`order is already in "<status>" state`).
   */
  cancel(accountId: string, orderId: string, tsMs: number): void {
    const now = this.#tick(tsMs);
    const rec = this.#find(accountId, orderId);
    const err = cancelError(rec.order);
    if (err) throw err;
    this.#cancel(rec, now);
  }

  /** Cancels every open order of the account (Alpaca's `DELETE /v2/orders`). Never throws. */
  cancelAll(accountId: string, tsMs: number): CancelResult[] {
    const now = this.#tick(tsMs);
    const st = this.#state(accountId);
    const out: CancelResult[] = [];
    for (const rec of [...st.open]) {
      if (!isTerminal(rec.order.status)) {
        const err = cancelError(rec.order);
        if (err) {
          out.push({ id: rec.order.id, status: err.status });
          continue;
        }
        this.#cancel(rec, now);
      }
      out.push({ id: rec.order.id, status: 200 });
    }
    return out;
  }

  /**
   * Closes all or part of a position with a market DAY order on the opposite side (Alpaca's
   * `DELETE /v2/positions/{symbol}`) and answers it. `percentage` of a whole-share position
   * rounds down to whole shares. Throws `POSITION_NOT_FOUND`, `INVALID_REQUEST` (both or bad
   * options), `INVALID_ORDER` (nothing to close), and the errors of {@link PaperExchange.submit}
   * (e.g. `INSUFFICIENT_QTY` with `held_for_orders` when open orders hold the shares).
   */
  closePosition(
    accountId: string,
    symbol: string,
    options: ClosePositionOptions,
    tsMs: number,
  ): Order {
    const now = this.#tick(tsMs);
    const acct = this.#state(accountId).acct;
    const sym = this.#assets(symbol)?.symbol ?? symbol;
    const pos = acct.slots.get(sym)?.position ?? null;
    if (pos === null) throw tradeErrors.positionNotFound(symbol);
    const action = `Cannot close position "${sym}"`;
    const abs = pos.qty.abs();
    let qty = abs;
    if (options.qty !== undefined && options.percentage !== undefined) {
      throw new TradeError("INVALID_REQUEST", `${action}: give qty or percentage, not both`, {
        alpacaMessage: "only one of qty or percentage may be specified",
      });
    }
    if (options.qty !== undefined) {
      if (!options.qty.isPositive()) {
        throw new TradeError("INVALID_REQUEST", `${action}: qty "${options.qty}" must be > 0`, {
          alpacaMessage: "qty must be > 0",
        });
      }
      qty = options.qty;
    } else if (options.percentage !== undefined) {
      const pct = options.percentage;
      if (!pct.isPositive() || pct.gt(HUNDRED)) {
        throw new TradeError(
          "INVALID_REQUEST",
          `${action}: percentage "${pct}" must be > 0 and <= 100`,
          { alpacaMessage: "percentage must be between 0 and 100" },
        );
      }
      qty = abs.mul(pct, "down").div(HUNDRED, "down");
      if (abs.isInteger()) qty = qty.round(0, "down");
      if (qty.isZero()) {
        throw new TradeError(
          "INVALID_ORDER",
          `${action}: ${pct}% of "${abs}" shares rounds down to "0"`,
          { alpacaMessage: "qty must be > 0" },
        );
      }
    }
    return this.submit(accountId, {
      symbol: sym,
      qty,
      side: pos.qty.isPositive() ? "sell" : "buy",
      type: "market",
      time_in_force: "day",
    }, now);
  }

  /**
   * Closes every position (Alpaca's `DELETE /v2/positions`), after canceling open orders when
   * `cancelOrders`. Failed items carry Alpaca's error body (`held_for_orders`, `available` …).
   * Never throws a {@link TradeError}.
   */
  closeAll(
    accountId: string,
    options: { cancelOrders?: boolean },
    tsMs: number,
  ): ClosePositionResult[] {
    const now = this.#tick(tsMs);
    if (options.cancelOrders) this.cancelAll(accountId, now);
    const acct = this.#state(accountId).acct;
    const out: ClosePositionResult[] = [];
    const symbols = [...acct.slots.keys()].sort();
    for (const symbol of symbols) {
      if (acct.slots.get(symbol)?.position == null) continue;
      try {
        out.push({ symbol, status: 200, order: this.closePosition(accountId, symbol, {}, now) });
      } catch (e) {
        if (!(e instanceof TradeError)) throw e;
        out.push({ symbol, status: e.status, error: e.toAlpacaBody() });
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  /**
   * One order of the account; `nested` rolls a group parent's legs into `legs`.
   * Throws `ORDER_NOT_FOUND` (404), also for another account's order.
   */
  getOrder(accountId: string, orderId: string, options: { nested?: boolean } = {}): Order {
    const rec = this.#find(accountId, orderId);
    return options.nested ? this.#view(rec) : rec.order;
  }

  /** One order by its client order id. Throws `ORDER_NOT_FOUND` (404). */
  getOrderByClientId(accountId: string, clientOrderId: string): Order {
    const rec = this.#accounts.get(accountId)?.cids.get(clientOrderId);
    if (rec === undefined) {
      throw new TradeError(
        "ORDER_NOT_FOUND",
        `Cannot find order with client_order_id "${clientOrderId}"`,
        { details: { client_order_id: clientOrderId } },
      );
    }
    return rec.order;
  }

  /**
   * Orders of the account with Alpaca's `GET /v2/orders` semantics: `status` open (default),
   * closed or all; `limit` 50 by default, at most 500; `after`/`until` exclusive bounds on
   * `submitted_at`; `direction` desc by default; `nested` rolls legs into their parents (legs are
   * then not listed by themselves); `symbols`; `side`. Never throws.
   */
  listOrders(accountId: string, query: ListOrdersQuery = {}): Order[] {
    const st = this.#accounts.get(accountId);
    if (st === undefined) return [];
    const status = query.status ?? "open";
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 500);
    const asc = query.direction === "asc";
    const symbols = query.symbols && query.symbols.length > 0 ? new Set(query.symbols) : null;
    const out: Order[] = [];
    const all = st.all;
    for (let k = 0; k < all.length && out.length < limit; k++) {
      const rec = all[asc ? k : all.length - 1 - k]!;
      const o = rec.order;
      if (query.nested && o.parent_id !== null) continue;
      const open = !isTerminal(o.status);
      if ((status === "open" && !open) || (status === "closed" && open)) continue;
      const at = o.submitted_at ?? o.created_at;
      if (query.after !== undefined && !(at > query.after)) continue;
      if (query.until !== undefined && !(at < query.until)) continue;
      if (symbols !== null && !symbols.has(o.symbol)) continue;
      if (query.side !== undefined && o.side !== query.side) continue;
      out.push(query.nested ? this.#view(rec) : o);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Internals: time

  #tick(tsMs: number): number {
    if (!Number.isFinite(tsMs)) {
      throw new RangeError(`Cannot move the paper exchange to "${tsMs}": not a finite epoch ms`);
    }
    const prev = this.#now;
    const now = tsMs > prev ? tsMs : prev;
    this.#now = now;
    for (let t = this.#timers.peek(); t !== undefined && t.at <= now; t = this.#timers.peek()) {
      this.#timers.pop();
      const rec = t.item;
      if (isTerminal(rec.order.status)) continue;
      const at = t.at > prev ? t.at : now;
      if (t.rank === RANK_AUCTION) {
        if (rec.auctionAt === t.at) this.#auction(rec, at);
      } else if (rec.expiresAt === t.at) {
        this.#unbook(rec);
        this.#move(rec, "expired", at);
        this.#cascade(rec, at);
      }
    }
    if (this.#rollAt === null) this.#rollAt = this.#expiry(now, { extendedHours: false });
    else if (now >= this.#rollAt) {
      this.#roll(now);
      this.#rollAt = this.#expiry(now, { extendedHours: false });
    }
    const s = this.#sessionOf(now);
    if (s !== this.#session || this.#releaseQueued) {
      this.#session = s;
      this.#releaseQueued = false;
      for (const rec of this.#queued) {
        if (this.#routable(rec, s)) {
          this.#queued.delete(rec);
          rec.where = "none";
          this.#goLive(rec, now, false);
        }
      }
    }
    return now;
  }

  #roll(now: number): void {
    for (const b of this.#books.values()) b.prevClose = b.lastTrade ?? b.mid() ?? b.prevClose;
    for (const st of this.#accounts.values()) st.acct.roll(this.#marks, now);
    this.#day++;
  }

  // -------------------------------------------------------------------------------------------
  // Internals: bookkeeping

  #state(accountId: string): AccountState {
    let st = this.#accounts.get(accountId);
    if (st === undefined) {
      this.openAccount(accountId);
      st = this.#accounts.get(accountId)!;
    }
    return st;
  }

  #book(symbol: string): SymbolBook {
    let b = this.#books.get(symbol);
    if (b === undefined) {
      b = new SymbolBook(symbol);
      this.#books.set(symbol, b);
    }
    return b;
  }

  #find(accountId: string, orderId: string): Rec {
    const rec = this.#orders.get(orderId);
    if (rec === undefined || rec.st.acct.id !== accountId) {
      throw tradeErrors.orderNotFound(orderId);
    }
    return rec;
  }

  #register(rec: Rec, now: number): void {
    const o = rec.order;
    this.#orders.set(o.id, rec);
    rec.st.all.push(rec);
    rec.st.open.add(rec);
    rec.st.cids.set(o.client_order_id, rec);
    if (o.time_in_force === "day" && rec.expiresAt === null) {
      const at = o.expires_at ?? this.#expiry(now, { extendedHours: o.extended_hours });
      rec.expiresAt = at;
      if (o.expires_at !== at) rec.order = { ...o, expires_at: at };
      this.#timers.push({ at, rank: RANK_EXPIRY, seq: rec.seq, item: rec });
    } else if (o.time_in_force === "cls") {
      const at = this.#expiry(now, { extendedHours: false });
      rec.auctionAt = at;
      this.#timers.push({ at, rank: RANK_AUCTION, seq: rec.seq, item: rec });
    }
  }

  /** Brings the slot's held qty, the wash-trade sets, reservations and the open set up to date. */
  #sync(rec: Rec): void {
    const o = rec.order;
    const open = !isTerminal(o.status);
    const active = open && o.status !== "held";
    const hold = active ? (o.qty !== null ? o.qty.sub(o.filled_qty) : rec.estQty) : ZERO;
    const slot = rec.slot;
    const buy = o.side === "buy";
    if (hold.units !== rec.hold.units) {
      const delta = hold.sub(rec.hold);
      if (buy) slot.heldBuy = slot.heldBuy.add(delta);
      else slot.heldSell = slot.heldSell.add(delta);
      rec.hold = hold;
    }
    const wash = active && WASH_TYPES.has(o.type);
    if (wash !== rec.wash) {
      const set = buy ? slot.washBuy : slot.washSell;
      if (wash) set.add(o.id);
      else set.delete(o.id);
      rec.wash = wash;
    }
    if (!open) {
      if (rec.reserved.units !== 0n) {
        rec.st.acct.reserved = rec.st.acct.reserved.sub(rec.reserved);
        rec.reserved = ZERO;
      }
      rec.st.open.delete(rec);
    }
  }

  #emit(rec: Rec, update: TradeUpdate, fill: FillRecord | null): void {
    this.#events.push({ accountId: rec.st.acct.id, update, fill });
  }

  /** Changes a status through the transition table and announces it. */
  #move(rec: Rec, to: OrderStatus, now: number, patch?: Partial<Order>): void {
    const from = rec.order.status;
    const o = transition(patch ? { ...rec.order, ...patch } : rec.order, to, now);
    rec.order = o;
    const event = transitionEvent(from, to);
    if (event !== null) this.#emit(rec, { event, order: o, timestamp: now }, null);
    this.#sync(rec);
  }

  #legs(g: Group): Rec[] {
    const out: Rec[] = [];
    if (g.cls !== "oco" && g.tp !== null) out.push(g.tp);
    if (g.sl !== null) out.push(g.sl);
    return out;
  }

  /** The order as Alpaca shows it with `nested=true`. */
  #view(rec: Rec): Order {
    const g = rec.group;
    if (g === null || g.parent !== rec) return rec.order;
    return withLegs(rec.order, this.#legs(g).map((l) => l.order));
  }

  // -------------------------------------------------------------------------------------------
  // Internals: restore

  /** Checks one account's state and puts its orders in time order; changes nothing. */
  #planRestore(accountId: string, state: PaperAccountState, seen: Set<string>): RestorePlan {
    const err = (why: string) =>
      new PaperRestoreError(`Cannot restore paper account "${accountId}": ${why}`);
    const st = this.#accounts.get(accountId);
    if (st !== undefined && (st.all.length > 0 || !st.acct.pristine)) {
      throw err("it already has activity (orders, fills, positions or an earlier restore)");
    }
    const positions: RestorePlan["positions"] = [];
    for (const p of state.positions) {
      const asset = this.#assets(p.symbol);
      if (asset === undefined || asset.symbol !== p.symbol) {
        throw err(`position symbol "${p.symbol}" is unknown`);
      }
      if (positions.some((q) => q.asset.symbol === p.symbol)) {
        throw err(`position "${p.symbol}" is given twice`);
      }
      if (p.qty.isZero()) throw err(`position "${p.symbol}" has qty "0"`);
      if (!p.avgEntryPrice.isPositive()) {
        throw err(`position "${p.symbol}" has avg entry price "${p.avgEntryPrice}"`);
      }
      const cost = (p.costBasis ?? p.qty.mul(p.avgEntryPrice)).abs();
      positions.push({
        asset,
        qty: p.qty,
        avg: p.avgEntryPrice,
        cost: p.qty.isNegative() ? cost.neg() : cost,
        lastday: p.lastdayPrice ?? null,
      });
    }

    // Orders, with nested legs read as orders of their own.
    const given: Order[] = [];
    const byId = new Map<string, Order>();
    const add = (o: Order) => {
      if (byId.has(o.id)) throw err(`order "${o.id}" is given twice`);
      byId.set(o.id, o);
      given.push(o);
    };
    for (const o of state.orders) add(o.legs === null ? o : { ...o, legs: null });
    for (const o of state.orders) {
      for (const leg of o.legs ?? []) {
        if (!byId.has(leg.id)) add({ ...leg, legs: null, parent_id: leg.parent_id ?? o.id });
      }
    }
    const skipped: RestoreResult["skipped"] = [];
    const skip = (o: Order, reason: string) => skipped.push({ id: o.id, status: o.status, reason });
    const open = new Set<string>();
    for (const o of given) {
      if (isTerminal(o.status)) skip(o, "closed");
      else if (o.status === "pending_cancel" || o.status === "pending_replace") {
        skip(o, `"${o.status}" completes at once at this venue: the order was already closed`);
      } else if (o.time_in_force === "ioc" || o.time_in_force === "fok") {
        skip(o, `"${o.time_in_force}" orders never rest at this venue`);
      } else if (!RESTORABLE.has(o.status)) {
        throw err(`order "${o.id}" has status "${o.status}", which this venue never uses`);
      } else open.add(o.id);
    }

    // Legs: grouped with their open parent (through replacements), or with a closed one.
    const kept: { order: Order; asset: Asset; group: string | null }[] = [];
    const cids = new Set<string>();
    for (const o of given) {
      if (!open.has(o.id)) continue;
      let group: string | null = null;
      if (o.parent_id !== null) {
        const cls = o.order_class;
        if (cls !== "bracket" && cls !== "oco" && cls !== "oto") {
          throw err(`leg "${o.id}" has order class "${cls}", not bracket, oco or oto`);
        }
        let p = byId.get(o.parent_id);
        for (let n = 0; p?.status === "replaced" && n <= byId.size; n++) {
          p = p.replaced_by === null ? undefined : byId.get(p.replaced_by);
        }
        const elected = o.status !== "held" || o.filled_qty.isPositive();
        if (p !== undefined && open.has(p.id)) {
          if (p.parent_id !== null) throw err(`leg "${o.id}" has a leg "${p.id}" as parent`);
          group = p.id;
        } else if (cls === "oco" ? elected : p === undefined || p.status === "filled") {
          // a bracket/oto entry that filled; an oco stop-loss that elected (and closed the tp)
          group = `closed:${o.parent_id}`;
        } else {
          skip(o, "its parent order is closed, which closed it at this venue");
          continue;
        }
      }
      if (o.status === "held" && o.parent_id === null) {
        throw err(`order "${o.id}" is "held" but is not a leg (no parent_id)`);
      }
      if (o.status === "accepted" && o.parent_id !== null) {
        throw err(`leg "${o.id}" is "accepted": legs are "held" until their entry fills`);
      }
      if (this.#orders.has(o.id) || seen.has(o.id)) {
        throw err(`order id "${o.id}" is already in use`);
      }
      seen.add(o.id);
      if (cids.has(o.client_order_id)) {
        throw err(`client_order_id "${o.client_order_id}" is given twice`);
      }
      cids.add(o.client_order_id);
      const asset = this.#assets(o.symbol);
      if (asset === undefined || asset.symbol !== o.symbol) {
        throw err(`order "${o.id}" has unknown symbol "${o.symbol}"`);
      }
      const why = restoreShapeError(o);
      if (why !== null) throw err(`order "${o.id}" ${why}`);
      kept.push({ order: o, asset, group });
    }
    kept.sort((a, b) => a.order.created_at - b.order.created_at); // stable: ties keep given order
    return {
      accountId,
      cash: state.cash,
      lastEquity: state.lastEquity ?? null,
      positions,
      orders: kept,
      skipped,
    };
  }

  /** Puts a checked plan into the exchange at its current time, without events. */
  #applyRestore(plan: RestorePlan): RestoreResult {
    const now = this.#now;
    const session = this.#session!;
    const st = this.#state(plan.accountId);
    const acct = st.acct;
    for (const p of plan.positions) {
      const b = this.#book(p.asset.symbol);
      if (p.lastday !== null) b.prevClose ??= p.lastday;
    }
    acct.restore(
      {
        cash: plan.cash,
        lastEquity: plan.lastEquity,
        positions: plan.positions.map((p) => ({
          asset: positionAsset(p.asset),
          qty: p.qty,
          avg: p.avg,
          cost: p.cost,
          carried: p.lastday !== null,
        })),
      },
      this.#marks,
      this.#day,
    );

    const recs: Rec[] = [];
    for (const { order, asset } of plan.orders) {
      const book = this.#book(asset.symbol);
      const rec: Rec = {
        order,
        seq: ++this.#seq,
        bookKey: 0n,
        st,
        slot: acct.slot(asset.symbol),
        book,
        posAsset: positionAsset(asset),
        list: null,
        where: "none",
        triggered: false,
        estQty: order.qty ?? order.notional!.div(this.#restoreRef(book, order), "up"),
        filledNotional: order.filled_avg_price === null
          ? 0n
          : wideNotional(order.filled_qty, order.filled_avg_price),
        opening: false,
        reserved: ZERO,
        perUnit: ZERO,
        hold: ZERO,
        wash: false,
        expiresAt: null,
        auctionAt: null,
        group: null,
        dayTradeCounted: false,
      };
      // DAY expiry and the cls auction count from the order's submission, as they did
      this.#register(rec, order.submitted_at ?? order.created_at);
      this.#taken.add(order.client_order_id);
      recs.push(rec);
    }

    // Groups: keyed by the open parent's id, or by the closed parent's.
    const byId = new Map(recs.map((r) => [r.order.id, r]));
    const groups = new Map<string, Group>();
    plan.orders.forEach(({ order, group }, i) => {
      if (group === null) return;
      const rec = recs[i]!;
      let g = groups.get(group);
      if (g === undefined) {
        const parent = byId.get(group) ?? null;
        const cls = order.order_class as Group["cls"];
        g = cls === "oco"
          ? { cls, parent, entry: null, tp: parent, sl: null }
          : { cls, parent, entry: parent, tp: null, sl: null };
        if (parent !== null) parent.group = g;
        groups.set(group, g);
      }
      if (g.cls !== "oco" && order.type === "limit") g.tp = rec;
      else g.sl = rec;
      rec.group = g;
    });

    // Reservations of opening orders, as submit and fills left them.
    for (const rec of recs) {
      const o = rec.order;
      if (o.parent_id === null && this.#restoredOpening(o, rec.slot)) {
        rec.opening = true;
        if (o.qty === null) rec.reserved = o.side === "buy" ? o.notional! : ZERO;
        else {
          const full = this.#costOf({ ...o, filled_qty: ZERO }, this.#restoreRef(rec.book, o));
          rec.perUnit = full.div(o.qty);
          rec.reserved = Decimal.max(full.sub(o.filled_qty.mul(rec.perUnit)), ZERO);
        }
        acct.reserved = acct.reserved.add(rec.reserved);
      }
      this.#sync(rec);
    }

    // Routing: queued, waiting (legs of an unfilled entry), or working in the book.
    for (const rec of recs) {
      const o = rec.order;
      const g = rec.group;
      if (o.status === "accepted") {
        rec.where = "queued";
        this.#queued.add(rec);
        if (this.#routable(rec, session)) this.#releaseQueued = true;
        continue;
      }
      if (g !== null && rec !== g.parent) {
        const live = g.cls === "oco"
          ? g.parent === null || g.parent.order.status !== "accepted"
          : g.entry === null;
        if (!live) continue;
      }
      rec.triggered = this.#restoredTrigger(rec);
      if (o.time_in_force === "opg") {
        const at = this.#expiry(now, { extendedHours: false });
        rec.expiresAt = at;
        this.#timers.push({ at, rank: RANK_EXPIRY, seq: rec.seq, item: rec });
      }
      this.#route(rec, now);
    }

    // A working order marketable at the current quote means the quote's size was used up
    // (matching would have filled it otherwise): it fills from the next quote, as it would have.
    for (const rec of recs) {
      if (rec.where !== "market" && rec.where !== "limit") continue;
      const b = rec.book;
      const buy = rec.order.side === "buy";
      const price = buy ? b.ask : b.bid;
      if (price === null || !this.#eligible(rec, session) || !this.#marketable(rec, price)) {
        continue;
      }
      if (buy) b.askAvail = ZERO;
      else b.bidAvail = ZERO;
    }
    return {
      accountId: plan.accountId,
      restored: recs.map((r) => r.order.id),
      skipped: plan.skipped,
    };
  }

  /** The reference price restore prices market-like reservations and notional qty at. */
  #restoreRef(b: SymbolBook, o: Order): Decimal {
    return this.#refPrice(b, o.side, this.#session!) ?? b.lastTrade ?? b.mid() ??
      o.limit_price ?? o.stop_price ?? Decimal.ONE;
  }

  /**
   * Whether a restored order opens or grows exposure: its `position_intent` if it has one, else
   * a buy unless short, a sell unless long (closing sells never exceed the long position).
   */
  #restoredOpening(o: Order, slot: SymbolSlot): boolean {
    if (o.position_intent !== null) return o.position_intent.endsWith("_to_open");
    const pos = slot.position?.qty ?? ZERO;
    return o.side === "buy" ? !pos.isNegative() : !pos.isPositive();
  }

  /**
   * Whether a restored stop had elected: it has fills; a leg is no longer `held`; or, for a
   * simple stop, the last core-session print is at or through its stop (an unelected stop
   * would have elected on it).
   */
  #restoredTrigger(rec: Rec): boolean {
    const o = rec.order;
    if (o.type !== "stop" && o.type !== "stop_limit" && o.type !== "trailing_stop") return false;
    if (o.filled_qty.isPositive()) return true;
    if (rec.group !== null && rec !== rec.group.parent) return o.status !== "held";
    const p = rec.book.lastTrade;
    const stop = o.stop_price;
    if (this.#session !== "core" || p === null || stop === null) return false;
    return o.side === "buy" ? p.gte(stop) : p.lte(stop);
  }

  // -------------------------------------------------------------------------------------------
  // Internals: entry checks

  #refPrice(b: SymbolBook, side: OrderSide, session: Session): Decimal | null {
    if (side === "sell") return b.ask ?? b.lastTrade ?? b.bid;
    if (session === "core") return b.ask ?? b.lastTrade;
    if (session === "pre" || session === "post") return b.mid() ?? b.lastTrade;
    return b.lastTrade ?? b.mid();
  }

  #checkQty(
    acct: PaperAccount,
    slot: SymbolSlot,
    req: OrderRequest,
    pos: Decimal,
    reqQty: Decimal,
    wantsShort: boolean,
    shortSale: boolean,
  ): void {
    if (req.side === "sell" && pos.isPositive()) {
      const available = Decimal.max(pos.sub(slot.heldSell), ZERO);
      if (reqQty.gt(available)) {
        throw tradeErrors.insufficientQty(req.symbol, {
          requested: reqQty,
          available,
          heldForOrders: slot.heldSell,
        });
      }
    } else if (wantsShort && !shortSale) {
      if (acct.multiplier !== "1") {
        throw new TradeError(
          "SHORTING_NOT_ALLOWED",
          `Cannot place order for "${req.symbol}": account "${acct.id}" is not allowed to short`,
          { details: { symbol: req.symbol } },
        );
      }
      throw tradeErrors.insufficientQty(req.symbol, {
        requested: reqQty,
        available: ZERO,
        heldForOrders: slot.heldSell,
      });
    } else if (req.side === "buy" && pos.isNegative()) {
      const available = Decimal.max(pos.abs().sub(slot.heldBuy), ZERO);
      if (reqQty.gt(available)) {
        throw tradeErrors.insufficientQty(req.symbol, {
          requested: reqQty,
          available,
          heldForOrders: slot.heldBuy,
        });
      }
    }
  }

  /**
   * Legacy PDT (ALPACA.md §5.3): an order that exits a position opened today (or while an
   * opposite open order would make a same-day round trip) is refused when it could be the 4th
   * day trade in 5 days and equity is under $25,000.
   */
  #checkPdt(
    acct: PaperAccount,
    slot: SymbolSlot,
    side: OrderSide,
    pos: Decimal,
    equity: Decimal,
  ): void {
    const exits = side === "sell" ? pos.isPositive() : pos.isNegative();
    if (!exits) return;
    const pendingPair = side === "sell" ? slot.heldBuy.isPositive() : slot.heldSell.isPositive();
    if (slot.openedDay !== this.#day && !pendingPair) return;
    const n = acct.dayTradeCount(this.#day);
    if (n >= 3 && equity.lt(PDT_MIN_EQUITY)) throw tradeErrors.pdtProtection(n);
  }

  #costOf(o: Order, ref: Decimal): Decimal {
    const req: OrderRequest = {
      symbol: o.symbol,
      side: o.side,
      type: o.type,
      time_in_force: o.time_in_force,
      qty: remainingOf(o),
    };
    if (o.limit_price !== null) req.limit_price = o.limit_price;
    if (o.stop_price !== null && o.type !== "trailing_stop") req.stop_price = o.stop_price;
    if (o.trail_price !== null) req.trail_price = o.trail_price;
    if (o.trail_percent !== null) req.trail_percent = o.trail_percent;
    return orderCostBasis(req, ref, { shortSale: o.side === "sell" });
  }

  // -------------------------------------------------------------------------------------------
  // Internals: routing

  #routable(rec: Rec, s: Session): boolean {
    if (rec.order.time_in_force === "opg") return s === "core";
    return s === "core" || (rec.order.extended_hours && (s === "pre" || s === "post"));
  }

  /** accepted → pending_new → new, into the book; then fills what it can at once. */
  #goLive(rec: Rec, now: number, matchNow = true): void {
    this.#move(rec, "pending_new", now);
    this.#move(rec, "new", now);
    const o = rec.order;
    if (o.time_in_force === "opg" && rec.expiresAt === null) {
      const at = this.#expiry(now, { extendedHours: false });
      rec.expiresAt = at;
      this.#timers.push({ at, rank: RANK_EXPIRY, seq: rec.seq, item: rec });
    }
    this.#route(rec, now);
    const g = rec.group;
    if (g !== null && g.cls === "oco" && g.sl !== null) this.#route(g.sl, now);
    if (matchNow) this.#afterRoute(rec, now);
  }

  #put(rec: Rec, list: OrderList<Rec>, key: bigint, where: Where): void {
    rec.bookKey = key;
    rec.list = list;
    rec.where = where;
    list.insert(rec);
  }

  /** Places a live order where it works: a market/limit/stop list, the trailing set, an auction. */
  #route(rec: Rec, now: number): void {
    const o = rec.order;
    const b = rec.book;
    const buy = o.side === "buy";
    const tif = o.time_in_force;
    if (tif === "opg") {
      rec.where = "opg";
      b.opg.add(rec);
      return;
    }
    if (tif === "cls") {
      rec.where = "cls";
      return;
    }
    if (tif === "ioc" || tif === "fok") return;
    const type = o.type;
    const asLimit = type === "limit" || (type === "stop_limit" && rec.triggered);
    if (type === "market" || (rec.triggered && !asLimit)) {
      this.#put(rec, buy ? b.marketBuy : b.marketSell, 0n, "market");
    } else if (asLimit) {
      const l = o.limit_price!.units;
      this.#put(rec, buy ? b.limitBuy : b.limitSell, buy ? -l : l, "limit");
    } else if (type === "stop" || type === "stop_limit") {
      const s = o.stop_price!.units;
      this.#put(rec, buy ? b.stopBuy : b.stopSell, buy ? s : -s, "stop");
    } else {
      rec.where = "trail";
      b.trailing.add(rec);
      if (o.hwm === null && b.lastTrade !== null) {
        rec.order = {
          ...o,
          hwm: b.lastTrade,
          stop_price: trailStop(o, b.lastTrade),
          updated_at: now,
        };
        this.#moved.add(rec);
      }
    }
  }

  /** Immediate handling after routing: ioc/fok, or a fill against the current quote. */
  #afterRoute(rec: Rec, now: number): void {
    const tif = rec.order.time_in_force;
    const b = rec.book;
    this.#dirty = false;
    if (tif === "ioc" || tif === "fok") {
      const buy = rec.order.side === "buy";
      const price = buy ? b.ask : b.bid;
      if (price !== null && this.#marketable(rec, price)) {
        const avail = buy ? b.askAvail : b.bidAvail;
        const rem = remainingOf(rec.order);
        if (tif === "ioc" || avail.gte(rem)) this.#take(rec, b, buy, now);
      }
      if (!isTerminal(rec.order.status)) this.#move(rec, "canceled", now);
    } else if (
      (rec.where === "market" || rec.where === "limit") && this.#eligible(rec, this.#session!)
    ) {
      const buy = rec.order.side === "buy";
      const price = buy ? b.ask : b.bid;
      if (price !== null && this.#marketable(rec, price)) this.#take(rec, b, buy, now);
    }
    if (this.#dirty) this.#match(b, now);
  }

  #unbook(rec: Rec): void {
    if (rec.list !== null) {
      rec.list.remove(rec);
      rec.list = null;
    }
    if (rec.where === "trail") rec.book.trailing.delete(rec);
    else if (rec.where === "opg") rec.book.opg.delete(rec);
    else if (rec.where === "queued") this.#queued.delete(rec);
    rec.where = "none";
  }

  #cancel(rec: Rec, now: number): void {
    this.#unbook(rec);
    this.#move(rec, "pending_cancel", now);
    this.#move(rec, "canceled", now);
    this.#cascade(rec, now);
  }

  /** Cancels the other open orders of `rec`'s group. */
  #cascade(rec: Rec, now: number): void {
    const g = rec.group;
    if (g === null) return;
    for (const m of [g.entry, g.tp, g.sl]) {
      if (m === null || m === rec || isTerminal(m.order.status)) continue;
      this.#unbook(m);
      this.#move(m, "canceled", now);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Internals: matching

  #eligible(rec: Rec, s: Session): boolean {
    return s === "core" || (rec.order.extended_hours && (s === "pre" || s === "post"));
  }

  #marketable(rec: Rec, price: Decimal): boolean {
    const o = rec.order;
    const limited = o.type === "limit" || o.type === "stop_limit";
    if (!limited || o.limit_price === null) return true;
    return o.side === "buy" ? price.lte(o.limit_price) : price.gte(o.limit_price);
  }

  /** Fills every marketable, eligible working order of the book against the current quote. */
  #match(b: SymbolBook, now: number): void {
    const s = this.#session!;
    if (s === "closed") return;
    for (let pass = 0; pass < 8; pass++) {
      this.#dirty = false;
      if (b.ask !== null) {
        this.#sweep(b.marketBuy, 0n, b, true, s, now);
        if (b.ask !== null) this.#sweep(b.limitBuy, -b.ask.units, b, true, s, now);
      }
      if (b.bid !== null) {
        this.#sweep(b.marketSell, 0n, b, false, s, now);
        if (b.bid !== null) this.#sweep(b.limitSell, b.bid.units, b, false, s, now);
      }
      if (!this.#dirty) return;
    }
  }

  /** Walks `list` in order while entries' keys are <= `threshold`, filling eligible ones. */
  #sweep(
    list: OrderList<Rec>,
    threshold: bigint,
    b: SymbolBook,
    buy: boolean,
    s: Session,
    now: number,
  ): void {
    const items = list.items;
    if (items.length === 0) return;
    let i = 0;
    for (;;) {
      if ((buy ? b.askAvail : b.bidAvail).units <= 0n) return;
      const rec = items[i];
      if (rec === undefined || rec.bookKey > threshold) return;
      const key = rec.bookKey;
      const seq = rec.seq;
      if (this.#eligible(rec, s)) this.#take(rec, b, buy, now);
      // the list may have changed under us: continue after the entry just seen
      i = items[i] === rec ? i + 1 : list.firstAfter(key, seq);
    }
  }

  /** Fills `rec` as far as the current quote allows. */
  #take(rec: Rec, b: SymbolBook, buy: boolean, now: number): void {
    const price = buy ? b.ask! : b.bid!;
    const avail = buy ? b.askAvail : b.bidAvail;
    const o = rec.order;
    let qty: Decimal;
    if (o.notional !== null) {
      qty = o.notional.div(price, "down");
      if (!buy) {
        const pos = rec.slot.position?.qty ?? ZERO;
        qty = Decimal.min(qty, Decimal.max(pos, ZERO));
      }
      if (!qty.isPositive()) {
        this.#unbook(rec);
        this.#move(rec, "canceled", now);
        return;
      }
    } else {
      const rem = remainingOf(o);
      qty = rem.lte(avail) ? rem : avail;
      if (!qty.isPositive()) return;
    }
    const left = avail.sub(qty);
    const rest = left.isNegative() ? ZERO : left;
    if (buy) b.askAvail = rest;
    else b.bidAvail = rest;
    this.#fill(rec, qty, price, now);
  }

  #fill(rec: Rec, qty: Decimal, price: Decimal, now: number): void {
    const o = rec.order;
    const acct = rec.st.acct;
    const filled = o.filled_qty.add(qty);
    rec.filledNotional += wideNotional(qty, price);
    const done = o.qty === null || filled.gte(o.qty);
    const res = acct.applyFill(rec.slot, rec.posAsset, o.side, qty, price);
    const slot = rec.slot;
    if (res.closedQty.isPositive() && slot.openedDay === this.#day && !rec.dayTradeCounted) {
      acct.dayTrades.push(this.#day);
      rec.dayTradeCounted = true;
    }
    if (res.openedQty.isPositive()) slot.openedDay = this.#day;
    if (rec.reserved.units !== 0n) {
      const rel = done ? rec.reserved : Decimal.min(rec.reserved, qty.mul(rec.perUnit));
      rec.reserved = rec.reserved.sub(rel);
      acct.reserved = acct.reserved.sub(rel);
    }
    const to: OrderStatus = done ? "filled" : "partially_filled";
    const from = o.status;
    const next = transition(
      { ...o, filled_qty: filled, filled_avg_price: averagePrice(rec.filledNotional, filled) },
      to,
      now,
    );
    rec.order = next;
    const executionId = this.#newId();
    this.#emit(rec, {
      event: transitionEvent(from, to) ?? "fill",
      order: next,
      timestamp: now,
      price,
      qty,
      amount: res.amount,
      position_qty: res.positionQty,
      execution_id: executionId,
    }, {
      execution_id: executionId,
      account_id: acct.id,
      order_id: next.id,
      client_order_id: next.client_order_id,
      symbol: next.symbol,
      side: next.side,
      qty,
      price,
      amount: res.amount,
      realized_pl: res.realizedPl,
      position_qty: res.positionQty,
      cash: acct.cash,
      timestamp: now,
    });
    if (done) this.#unbook(rec);
    this.#sync(rec);
    if (rec.group !== null) this.#afterGroupFill(rec, done, now);
  }

  #afterGroupFill(rec: Rec, done: boolean, now: number): void {
    const g = rec.group!;
    if (rec === g.entry) {
      if (!done) return;
      const tp = g.tp;
      if (tp !== null && tp.order.status === "held") {
        this.#move(tp, "new", now);
        this.#route(tp, now);
        this.#dirty = true;
      }
      const sl = g.sl;
      if (sl !== null && sl.order.status === "held" && sl.where === "none") this.#route(sl, now);
      return;
    }
    const other = rec === g.tp ? g.sl : g.tp;
    if (other === null || isTerminal(other.order.status)) return;
    if (done) {
      this.#unbook(other);
      this.#move(other, "canceled", now);
    } else if (rec === g.tp) {
      const rem = remainingOf(rec.order);
      other.order = { ...other.order, qty: rem.add(other.order.filled_qty), updated_at: now };
      this.#sync(other);
    }
  }

  /** Elects stops from the head of `list` while their key is <= `threshold`. */
  #electWhile(list: OrderList<Rec>, threshold: bigint, now: number): void {
    for (;;) {
      const rec = list.items[0];
      if (rec === undefined || rec.bookKey > threshold) return;
      this.#elect(rec, now);
    }
  }

  #elect(rec: Rec, now: number): void {
    this.#unbook(rec);
    rec.triggered = true;
    if (rec.order.status === "held") this.#move(rec, "new", now);
    const g = rec.group;
    if (g !== null && g.tp !== null && g.tp !== rec && !isTerminal(g.tp.order.status)) {
      this.#unbook(g.tp);
      this.#move(g.tp, "canceled", now);
    }
    this.#route(rec, now);
    this.#dirty = true;
  }

  #trail(rec: Rec, price: Decimal, now: number): void {
    let o = rec.order;
    const buy = o.side === "buy";
    if (o.hwm === null || (buy ? price.lt(o.hwm) : price.gt(o.hwm))) {
      o = { ...o, hwm: price, stop_price: trailStop(o, price), updated_at: now };
      rec.order = o;
      this.#moved.add(rec);
    }
    const stop = o.stop_price!;
    if (buy ? price.gte(stop) : price.lte(stop)) this.#elect(rec, now);
  }

  /** The opening or closing auction of an opg/cls order: all or nothing at the quote. */
  #auction(rec: Rec, now: number): void {
    if (rec.order.status === "accepted") {
      this.#unbook(rec);
      this.#move(rec, "pending_new", now);
      this.#move(rec, "new", now);
    }
    this.#unbook(rec);
    const b = rec.book;
    const buy = rec.order.side === "buy";
    const price = buy ? b.ask : b.bid;
    if (price !== null && this.#marketable(rec, price)) {
      const rem = remainingOf(rec.order);
      if (rem.isPositive()) this.#fill(rec, rem, price, now);
    }
    if (!isTerminal(rec.order.status)) this.#move(rec, "canceled", now);
  }
}
