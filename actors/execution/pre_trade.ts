/**
 * Pre-trade checks: what an order is judged on (the market snapshot from the venue, the risk
 * snapshot from the ledger, the effective limits) and the judgement itself (validation,
 * buying power, risk, a bot's own book, the order rate). The same checks run for a new order,
 * `POST /orders/validate` and a replacement. Writes nothing.
 *
 * @module
 */
import type { TransactionSql } from "postgres";
import { Decimal } from "../../core/decimal.ts";
import { type BookRiskFacts, evaluateBookRisk } from "../../core/books.ts";
import { TradeError, tradeErrors } from "../../core/errors.ts";
import type { OrderRequest } from "../../core/order.ts";
import { orderCostBasis, validateOrder } from "../../core/order_rules.ts";
import { openRequest } from "../../core/replacement.ts";
import { SlidingWindowLimiter } from "../../core/rate_limiter.ts";
import { limitsFromStored, resolveLimits } from "../../core/risk_authority.ts";
import {
  evaluateRisk,
  type RiskLimits,
  type RiskPosition,
  validationAdvice,
} from "../../core/risk.ts";
import type { Account, Asset, Broker, Position } from "../../brokers/broker.ts";
import { type CacheStats, TtlCache } from "../../brokers/cache.ts";
import { type Tenant, withTenant } from "../../db/database.ts";
import { findOrder, type OrderRow, rowToOrder } from "../../db/ledger.ts";
import { readRiskSnapshot, type RiskSnapshot } from "../../db/risk_snapshot.ts";
import type { ExecutionDeps, MarketView, SubmitOrder } from "./types.ts";

export type { RiskSnapshot };

/**
 * The effective limits: the strictest value of each field over the engine's defaults, the
 * user's limit layers (an admin's and their own) and a bot's own limits; each layer can only
 * tighten the ones above it (`core/risk_authority.ts`).
 */
export function effectiveLimits(
  defaults: RiskLimits,
  user: { admin?: RiskLimits; user?: RiskLimits },
  bot: RiskLimits | null,
): RiskLimits {
  return resolveLimits({ default: defaults, ...user, bot }).limits;
}

/**
 * The limits an order is judged by, parsed once from its risk snapshot: `limits` for the
 * order (a bot's own included), `account` for the account as a whole (the owner's, without
 * the bot's: a bot's order is judged on both, core/books.ts).
 */
export interface OrderLimits {
  limits: RiskLimits;
  account: RiskLimits;
}

/** The verdict of {@link PreTrade.evaluate}. */
export interface Evaluation {
  asset: Asset;
  refPrice: Decimal;
  session: ReturnType<ExecutionDeps["venue"]["session"]>;
  /** The first denial (a halt or the rate first, then validation, then risk), or null. */
  denial: TradeError | null;
  allDenials: TradeError[];
  warnings: ReturnType<typeof evaluateRisk>["warnings"];
  recommendations: ReturnType<typeof validationAdvice>["recommendations"];
  exposure: ReturnType<typeof evaluateRisk>["exposure"];
}

/** Pre-trade checks; one per engine (it holds the rate budgets and the venue cache). */
export class PreTrade {
  readonly #deps: ExecutionDeps;
  readonly #cache: TtlCache;
  readonly #limiter = new SlidingWindowLimiter({ windowMs: 60_000 });
  /** `POST /orders/validate` calls: their own budget, as large as the orders one. */
  readonly #checks = new SlidingWindowLimiter({ windowMs: 60_000 });

  constructor(deps: ExecutionDeps) {
    this.#deps = deps;
    this.#cache = new TtlCache(deps.clock);
  }

  /** The one limits parser: {@link OrderLimits} of an order from its risk snapshot. */
  limitsOf(snap: RiskSnapshot): OrderLimits {
    const user = {
      admin: limitsFromStored(snap.user_limits?.admin),
      user: limitsFromStored(snap.user_limits?.user),
    };
    const defaults = this.#deps.defaultLimits;
    const account = effectiveLimits(defaults, user, null);
    return {
      limits: snap.bot_limits
        ? effectiveLimits(defaults, user, limitsFromStored(snap.bot_limits))
        : account,
      account,
    };
  }

  /** Reads the risk snapshot within the caller's tenant transaction (see db/risk_snapshot.ts). */
  readSnapshot(
    tx: TransactionSql,
    clientOrderId: string,
    botId: string | null,
    now: number,
  ): Promise<RiskSnapshot> {
    return readRiskSnapshot(tx, { clientOrderId, botId, nowMs: now });
  }

  /** Reads the risk snapshot in its own transaction; `existing` read back as a proper row. */
  async snapshot(
    tenant: Tenant,
    clientOrderId: string,
    botId: string | null,
    now: number,
  ): Promise<RiskSnapshot> {
    const snap = await withTenant(
      this.#deps.sql,
      tenant,
      (tx, finish) => readRiskSnapshot(tx, { clientOrderId, botId, nowMs: now }, finish),
    );
    if (snap.existing) {
      // A replayed client order id (rare): read the row properly (exact numerics, Dates).
      const e = snap.existing as unknown as Record<string, unknown>;
      snap.existing = await withTenant(this.#deps.sql, tenant, (tx) => findOrder(tx, String(e.id)));
    }
    return snap;
  }

  /**
   * Takes a slot of a per-minute budget of `max_orders_per_minute`: the orders budget, or the
   * validations one (their own budget, beside the orders one). Answers the 429 `RATE_LIMITED`
   * error beyond it, else null. Writes nothing.
   */
  spend(
    what: "orders" | "validations",
    userId: string,
    limits: OrderLimits,
    now: number,
  ): TradeError | null {
    const perMinute = limits.limits.max_orders_per_minute ?? null;
    if (perMinute === null) return null;
    const limiter = what === "orders" ? this.#limiter : this.#checks;
    const d = limiter.tryAcquire(userId, perMinute, now);
    if (d.allowed) return null;
    const seconds = Math.max(1, Math.ceil(d.retryAfterMs / 1000));
    return new TradeError(
      "RATE_LIMITED",
      `Cannot ${
        what === "orders" ? "place" : "validate"
      } order: ${d.count} ${what} in the last minute reach limit ${d.limit}; retry in ${seconds} s`,
      {
        details: {
          rule: "max_orders_per_minute",
          limit: String(d.limit),
          actual: String(d.count),
          retry_after_seconds: String(seconds),
          retry_after_ms: String(d.retryAfterMs),
        },
      },
    );
  }

  /**
   * Judges an order: validation, buying power, risk (and a bot's own book), the order rate
   * (`consumeRate` takes a slot; otherwise the budget is only peeked at). Throws a
   * `TradeError` when the venue does not know the asset.
   */
  async evaluate(
    cmd: SubmitOrder,
    snap: RiskSnapshot,
    limits: OrderLimits,
    opts: { broker: Broker; now: number; consumeRate: boolean; market?: Promise<MarketView> },
  ): Promise<Evaluation> {
    const { request, tenant } = cmd;
    const { broker, now } = opts;
    const { asset, trade, quote, account } = await (opts.market ??
      this.market(broker, tenant.userId, request.symbol));
    const md = this.#deps.venue.marketData;
    const refPrice = Decimal.parse(String(trade.p));
    const session = this.#deps.venue.session(now);

    // Ledger positions, marked at the last trade, with sectors for concentration.
    const positions: Record<string, RiskPosition> = {};
    const held = [
      ...new Set([...snap.positions, ...snap.bot_book?.positions ?? []].map((p) => p.symbol)),
    ];
    const marks = held.length ? await md.latestTrades(held) : {};
    for (const p of snap.positions) {
      const qty = Decimal.parse(String(p.qty));
      const mark = marks[p.symbol] ? Decimal.parse(String(marks[p.symbol]!.p)) : Decimal.ZERO;
      const a = await this.asset(broker, p.symbol).catch(() => null);
      positions[p.symbol] = {
        qty,
        market_value: qty.mul(mark),
        ...(a ? { sector: a.sector } : {}),
      };
    }
    const pendingQty: Record<string, Decimal> = {};
    for (const [s, q] of Object.entries(snap.pending)) pendingQty[s] = Decimal.parse(String(q));
    const positionQty = positions[asset.symbol]?.qty ?? Decimal.ZERO;
    const orderQty = request.qty ?? null;
    const shortSale = request.side === "sell" && orderQty !== null &&
      positionQty.sub(orderQty).isNegative();

    const denials: TradeError[] = [];
    const validation = validateOrder(request, asset, {
      lastPrice: refPrice,
      session,
      shortSale,
    });
    if (validation) denials.push(validation);

    // Buying power for opening orders (buys that do not cover a short, and short sales).
    const opening = request.side === "buy" ? !positionQty.isNegative() : shortSale;
    if (!validation && opening) {
      const cost = orderCostBasis(request, refPrice, { shortSale });
      if (cost.gt(account.buying_power)) {
        denials.push(tradeErrors.insufficientBuyingPower(cost, account.buying_power));
      }
    }

    // A bot's order is judged twice: the account (the sum of its books) against the owner's
    // limits, and the bot's own book against the bot's (core/books.ts).
    const accountLimits = cmd.botId ? limits.account : limits.limits;
    const perMinute = limits.limits.max_orders_per_minute ?? null;
    // Every attempt counts, denied or not: a denial costs a ledger write too.
    const rate = perMinute === null
      ? undefined
      : opts.consumeRate
      ? this.#limiter.tryAcquire(tenant.userId, perMinute, now)
      : this.#limiter.peek(tenant.userId, perMinute, now);
    const accountContext = {
      request,
      asset,
      refPrice,
      account,
      positions,
      pendingQty,
      tradesToday: snap.trades_today,
      realizedPlToday: Decimal.parse(snap.realized_today),
      state: snap.state ?? "active",
      limits: accountLimits,
      ...(rate ? { rate } : {}),
    };
    const risk = evaluateRisk(accountContext);
    const book = cmd.botId && snap.bot_book
      ? evaluateBookRisk(
        accountContext,
        this.#bookFacts(cmd.botId, snap.bot_book, marks),
        limits.limits,
      )
      : null;
    // A halt or the rate outranks a rule; otherwise validation comes first.
    const severe = risk.denials.filter((d) => d.status !== 422);
    const ordered = [
      ...severe,
      ...denials,
      ...risk.denials.filter((d) => d.status === 422),
      ...(book?.denials ?? []),
    ];
    // The one list of warnings: what validate answers is what a placed order carries.
    const advice = validationAdvice({
      request,
      refPrice,
      positions,
      pendingQty,
      account,
      session,
      ...(quote
        ? { quote: { bid: Decimal.parse(String(quote.bp)), ask: Decimal.parse(String(quote.ap)) } }
        : {}),
      priceBandPct: limits.limits.price_band_pct ?? null,
    });
    return {
      asset,
      refPrice,
      session,
      denial: ordered[0] ?? null,
      allDenials: ordered,
      warnings: [...advice.warnings, ...risk.warnings, ...book?.warnings ?? []],
      recommendations: advice.recommendations,
      exposure: risk.exposure,
    };
  }

  /**
   * Validation and risk of a replacement (`next`, the request for the qty still to fill) as for
   * a new order, with the replaced order's own exposure taken out: its open qty leaves the
   * pending figures, and what it holds of buying power is available to its replacement (the
   * venue holds the larger of the two, not both). A client order id already in use is refused.
   */
  async evaluateReplace(
    tenant: Tenant,
    row: OrderRow,
    next: OrderRequest,
    correlationId: string,
    broker: Broker,
  ): Promise<Evaluation> {
    const now = this.#deps.clock.now();
    const current = rowToOrder(row);
    const snap = await this.snapshot(tenant, next.client_order_id ?? "", row.bot_id, now);
    if (snap.existing) {
      throw tradeErrors.duplicateClientOrderId(next.client_order_id!, snap.existing.id);
    }
    const old = openRequest(current);
    const oldQty = old.qty ?? Decimal.ZERO;
    if (current.parent_id === null) {
      const signed = current.side === "buy" ? oldQty : oldQty.neg();
      const pending = Decimal.parse(String(snap.pending[current.symbol] ?? "0"));
      snap.pending = { ...snap.pending, [current.symbol]: pending.sub(signed).toString() };
    }
    const market = await this.market(broker, tenant.userId, current.symbol);
    const held = snap.positions.find((p) => p.symbol === market.asset.symbol);
    const positionQty = held ? Decimal.parse(String(held.qty)) : Decimal.ZERO;
    const oldShort = current.side === "sell" && positionQty.sub(oldQty).isNegative();
    const oldOpening = current.side === "buy" ? !positionQty.isNegative() : oldShort;
    const holds = oldOpening
      ? orderCostBasis(old, Decimal.parse(String(market.trade.p)), { shortSale: oldShort })
      : Decimal.ZERO;
    const view: MarketView = {
      ...market,
      account: { ...market.account, buying_power: market.account.buying_power.add(holds) },
    };
    return await this.evaluate(
      { tenant, request: next, botId: row.bot_id, correlationId },
      snap,
      this.limitsOf(snap),
      { broker, now, consumeRate: true, market: Promise.resolve(view) },
    );
  }

  /** A bot's book as risk reads it: its positions marked at the last trade, its P&L today. */
  #bookFacts(
    botId: string,
    book: NonNullable<RiskSnapshot["bot_book"]>,
    marks: Record<string, { p: number }>,
  ): BookRiskFacts {
    const positions: Record<string, RiskPosition> = {};
    let unrealizedPl = Decimal.ZERO;
    for (const p of book.positions) {
      const qty = Decimal.parse(p.qty);
      const mark = marks[p.symbol] ? Decimal.parse(String(marks[p.symbol]!.p)) : null;
      const value = mark ? qty.mul(mark) : Decimal.ZERO;
      positions[p.symbol] = { qty, market_value: value };
      if (mark) unrealizedPl = unrealizedPl.add(value.sub(Decimal.parse(p.cost)));
    }
    const pendingQty: Record<string, Decimal> = {};
    for (const [s, q] of Object.entries(book.pending)) pendingQty[s] = Decimal.parse(String(q));
    return {
      botId,
      positions,
      pendingQty,
      tradesToday: book.trades_today,
      realizedPlToday: Decimal.parse(book.realized_today),
      unrealizedPl,
    };
  }

  /** The asset, its last trade and quote, and the account: what evaluation needs from the venue. */
  async market(broker: Broker, userId: string, symbol: string): Promise<MarketView> {
    const asset = await this.asset(broker, symbol);
    const md = this.#deps.venue.marketData;
    const [trade, quote, account] = await Promise.all([
      md.latestTrade(asset.symbol),
      md.latestQuote(asset.symbol).catch(() => null),
      this.account(userId, broker),
    ]);
    return { asset, trade, quote, account };
  }

  /** An asset from the venue, cached 5 minutes. */
  async asset(broker: Broker, symbol: string): Promise<Asset> {
    return await this.#cache.get(
      `asset:${symbol.toUpperCase()}`,
      300_000,
      () => broker.getAsset(symbol),
    );
  }

  /** The user's account from the venue, cached 5 s (dropped when a fill lands). */
  async account(userId: string, broker: Broker): Promise<Account> {
    return await this.#cache.get(`acct:${userId}:account`, 5_000, () => broker.getAccount());
  }

  /** The user's positions from the venue, cached 3 s (dropped when a fill lands). */
  positions(userId: string, broker: Broker): Promise<Position[]> {
    return this.#cache.get(`acct:${userId}:positions`, 3_000, () => broker.listPositions());
  }

  /** Drops the user's cached account and positions (a fill moved them). */
  invalidateAccount(userId: string): void {
    this.#cache.invalidate(`acct:${userId}:`);
  }

  /** Hits and misses of the venue cache (account, positions, assets). */
  get cacheStats(): Readonly<CacheStats> {
    return this.#cache.stats;
  }
}
