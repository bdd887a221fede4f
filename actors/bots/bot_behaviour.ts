/**
 * The bot actor's logic: runs one strategy instance per symbol on the bar updates of its
 * timeframe (from symbol actors, see symbol_behaviour.ts), and turns intents into orders.
 *
 * Every intent gives a `signal` effect; one that is not traded carries `suppressed: reason`.
 * Checks, in order (the first that fails names the reason):
 * - `paused`: the bot is paused (signals recorded, no orders);
 * - `market closed`: the market monitor said the core session is closed (intraday timeframes
 *   only: a `1Day` bar closes outside the session and its order queues for the open);
 * - `outside trading window`: the config has a `trading_window` and the decision time (the bar's
 *   end; for `1Day`, only the bar's day of week is checked) is not on one of its days within
 *   `[start, end)` ET (no window: the venue's hours alone, through `market closed`);
 * - `order pending`: an order of this bot for the symbol is still open;
 * - entries only: `already long|short` (holding a position), `max positions` (symbols held or
 *   with a pending entry reach `max_positions`), `cooldown after loss` (a losing exit filled less
 *   than `cooldown_after_loss` ago);
 * - `frequency`: less than `frequency` since the symbol's last order (entries and exits);
 * - sizing's own reasons (sizing.ts), e.g. `size rounds to zero`, `no long position to close`.
 *
 * Otherwise an `order` effect carries the request as a plain Alpaca-style body (decimal
 * strings; read it with `parseOrderRequest`) and a `client_order_id` `<bot>-<n>`. The engine
 * reports back with `order_filled` (signed position after the fill, realized P&L) and
 * `order_closed` (canceled, rejected, expired or denied). A strategy's belief and the bot's
 * position may differ after a suppressed exit; the bot trusts its fills.
 *
 * Warm-up: spawned with `warmup: true` (as the bot manager does), the bot holds each symbol's
 * live bars until its `warmup` message: history bars the strategy sees through `warmBar`
 * (`ctx.warmup`, intents dropped: nothing is traded on the past), then the held live bars run as
 * usual. `status.warm` says whether every indicator of the bot had a value on the last bar of
 * every symbol.
 *
 * The state is plain data (structured-clone safe). The strategies' logic comes from the lookup
 * given to {@link createBotBehaviour} (default: the built-ins' logic, builtin_logic.ts).
 *
 * Memory: this module and what it imports load no zod and build no schemas, because every bot
 * Worker loads them (tests/actors/bots/worker_graph_test.ts checks). The main thread validates a
 * config with `parseBotConfig` (strategy params included) and spawns the bot with the result;
 * `init` trusts it. Pass `parseConfig` to {@link createBotBehaviour} to give `init` raw configs
 * (tests, inline tools).
 *
 * @module
 */

import type { Timeframe } from "../../core/market.ts";
import { toEt } from "../../core/et.ts";
import { Decimal } from "../../core/decimal.ts";
import type { OrderSide } from "../../core/order_types.ts";
import { StrategyLogicSet } from "../../strategies/builtin_logic.ts";
import type { IndicatorSpec } from "../../strategies/indicator_keys.ts";
import { indicatorKey, specs as indicatorSpecs } from "../../strategies/indicator_keys.ts";
import {
  type Intent,
  startInstance,
  stepBar,
  stepFill,
  type StrategyInstance,
  type StrategyLookup,
  warmBar,
} from "../../strategies/strategy_logic.ts";
import type { ActorBehaviour, Transition } from "../runtime/behaviour.ts";
import type { BatchDelivery } from "../runtime/protocol.ts";
import type { BarUpdate } from "./bar_update.ts";
import { type BotConfig, minutesOf, timeframeMs, WEEKDAYS } from "./bot_config_data.ts";
import { type OrderBody, sizeIntent, toOrderBody } from "./sizing.ts";

/** Spawn arguments: the config and what the bot starts with. */
export interface BotArgs {
  /**
   * The {@link BotConfig} as `parseBotConfig` answers it, trusted as is; a raw config when the
   * behaviour was created with `parseConfig`.
   */
  config: unknown;
  /** Account equity, decimal text. */
  equity?: string;
  /** Signed positions already held by this bot, by symbol. */
  positions?: Record<string, string>;
  /** Start paused. */
  paused?: boolean;
  /** Whether the market is open (default true); see the `market` message. */
  marketOpen?: boolean;
  /**
   * Whether a `warmup` message comes for each symbol after the subscription (the bot manager
   * sends one). Until it does, live bars of that symbol are held, then run after the history.
   */
  warmup?: boolean;
}

/** Live bars held per symbol while its warm-up is awaited; beyond, the oldest are dropped. */
const MAX_HELD = 1_000;

/** A fill of one of this bot's orders. */
export interface OrderFilledMsg {
  type: "order_filled";
  symbol: string;
  side: OrderSide;
  qty: string;
  price: string;
  /** The bot's signed position in the symbol after this fill. */
  positionQty: string;
  /** Realized P&L of this fill (negative: a loss), when it closed some position. */
  realizedPnl?: string;
  /** Epoch ms. */
  ts: number;
  clientOrderId?: string;
  /** More fills of the same order are to come. */
  partial?: boolean;
}

/** Messages a bot handles. */
export type BotMsg =
  | BatchDelivery<BarUpdate>
  | { type: "bar"; update: BarUpdate }
  | OrderFilledMsg
  | { type: "order_closed"; symbol: string; clientOrderId: string; status: string }
  | { type: "account"; equity: string }
  /**
   * The bot's book in `symbol` was moved by an order not its own (the trader closed the whole
   * position, which flattens every book): its signed position now. Nothing is traded.
   */
  | { type: "book"; symbol: string; positionQty: string }
  /**
   * History before the live bars, oldest first: the strategy learns from it with nothing traded
   * (`ctx.warmup`); bars at or before the last bar seen, or at or after the first live bar held,
   * are skipped. `error` says why there is none (the venue's history was unavailable).
   */
  | { type: "warmup"; symbol: string; updates: readonly BarUpdate[]; error?: string }
  /** The market monitor's news: the core session opened or closed. */
  | { type: "market"; open: boolean }
  | { type: "pause" }
  | { type: "resume" }
  | { type: "status" };

/** What a bot asks its owner to do. Plain data. */
export type BotEffect =
  | {
    type: "signal";
    symbol: string;
    intent: Intent;
    snapshot: Intent["snapshot"];
    suppressed?: string;
  }
  | { type: "order"; symbol: string; reason: string; intent: Intent["kind"]; request: OrderBody }
  | { type: "subscribe"; symbol: string; timeframe: Timeframe; specs: IndicatorSpec[] };

/** Per-symbol book-keeping. */
export interface SymbolBook {
  /** Signed position, decimal text. */
  position: string;
  pending: { clientOrderId: string; kind: Intent["kind"] } | null;
  lastOrderMs: number | null;
  cooldownUntilMs: number | null;
  lastBarT: string | null;
  lastClose: number | null;
  /** ATR values of the last bar by period, for legs sized by ATR. */
  atr: Record<number, number | null>;
  /** Every indicator of the bot had a value on the last bar (history or live). */
  warm: boolean;
  /** A `warmup` message is awaited; live bars meanwhile are in {@link held}. */
  awaitingWarmup: boolean;
  held: BarUpdate[];
}

/** A bot's state: plain data. */
export interface BotState {
  config: BotConfig;
  /** The indicator keys the bot reads on each symbol. */
  keys: string[];
  instances: Record<string, StrategyInstance>;
  books: Record<string, SymbolBook>;
  equity: string | null;
  paused: boolean;
  marketOpen: boolean;
  orderSeq: number;
  counts: { bars: number; signals: number; orders: number; suppressed: number };
  /** History bars the strategy learnt from at warm-up (nothing traded on them). */
  warmupBars: number;
}

/** A bot's `status` reply. */
export interface BotStatus {
  name: string;
  strategy: string;
  paused: boolean;
  marketOpen: boolean;
  equity: string | null;
  positions: Record<string, string>;
  pending: Record<string, string>;
  counts: BotState["counts"];
  /** Every indicator of the bot has its full window on every symbol. */
  warm: boolean;
  warmupBars: number;
}

/** The ATR keys a config's legs read (for sizing by ATR). */
function atrSpecs(config: BotConfig): IndicatorSpec[] {
  const out: IndicatorSpec[] = [];
  for (const leg of [config.stop_loss, config.take_profit]) {
    if (leg && "atr_multiple" in leg) out.push(indicatorSpecs.atr(leg.atr_period));
  }
  return out;
}

/**
 * The indicators a bot needs from each symbol actor on its timeframe: the strategy's, plus ATR
 * when a leg is sized by ATR.
 */
export function botIndicatorSpecs(config: BotConfig, registry: StrategyLookup): IndicatorSpec[] {
  const def = registry.get(config.strategy);
  return [...def.indicators(config.params), ...atrSpecs(config)];
}

/**
 * Whether `decisionMs` falls within the config's trading window; always true without one (the
 * venue's hours then decide, through the market status).
 */
export function inTradingWindow(config: BotConfig, decisionMs: number, dayOnly = false): boolean {
  const w = config.trading_window;
  if (!w) return true;
  const et = toEt(decisionMs);
  if (!w.days.includes(WEEKDAYS[et.weekday]!)) return false;
  if (dayOnly) return true;
  const minute = et.hour * 60 + et.minute;
  return minute >= minutesOf(w.start) && minute < minutesOf(w.end);
}

function dec(text: string): Decimal {
  return Decimal.parse(text);
}

/** Options of {@link createBotBehaviour}. */
export interface BotBehaviourOptions {
  /**
   * Reads `BotArgs.config` in `init`, e.g. `(raw) => parseBotConfig(raw, registry)`. Default:
   * none, the config is already parsed.
   */
  parseConfig?: (raw: unknown) => BotConfig;
}

/**
 * A bot behaviour using `registry` (a `StrategyRegistry`, or logic only, e.g.
 * {@link StrategyLogicSet}) to find its strategy's logic. `init` throws what `parseConfig`
 * throws (`parseBotConfig`: `TradeError` `INVALID_REQUEST`) and `registry`'s error for an unknown
 * strategy; `receive` throws an Error on a message of unknown type.
 */
export function createBotBehaviour(
  registry: StrategyLookup = new StrategyLogicSet(),
  options: BotBehaviourOptions = {},
): ActorBehaviour<BotState, BotMsg, BotEffect, BotArgs> {
  function handleIntents(
    state: BotState,
    intents: readonly Intent[],
    decisionMs: number,
    dayOnly: boolean,
    effects: BotEffect[],
  ): BotState {
    const config = state.config;
    let s = state;
    for (const intent of intents) {
      const book = s.books[intent.symbol];
      if (!book) continue;
      const entry = intent.kind === "enter_long" || intent.kind === "enter_short";
      const position = dec(book.position);
      let suppressed: string | null = null;
      if (s.paused) suppressed = "paused";
      else if (!s.marketOpen && config.timeframe !== "1Day") suppressed = "market closed";
      else if (!inTradingWindow(config, decisionMs, dayOnly)) suppressed = "outside trading window";
      else if (book.pending) suppressed = "order pending";
      else if (entry && !position.isZero()) {
        suppressed = `already ${position.isPositive() ? "long" : "short"}`;
      } else if (entry && occupied(s) >= config.max_positions) suppressed = "max positions";
      else if (entry && book.cooldownUntilMs !== null && decisionMs < book.cooldownUntilMs) {
        suppressed = "cooldown after loss";
      } else if (
        config.frequency > 0 && book.lastOrderMs !== null &&
        decisionMs - book.lastOrderMs < config.frequency
      ) suppressed = "frequency";

      let request: OrderBody | null = null;
      if (suppressed === null) {
        const sized = sizeIntent(intent, config, {
          equity: s.equity,
          price: book.lastClose ?? NaN,
          atr: book.atr,
          position: book.position,
          clientOrderId: `${config.name}-${s.orderSeq + 1}`,
        });
        if (sized.ok) request = toOrderBody(sized.request);
        else suppressed = sized.reason;
      }

      const signal: BotEffect = {
        type: "signal",
        symbol: intent.symbol,
        intent,
        snapshot: intent.snapshot,
      };
      if (suppressed !== null) signal.suppressed = suppressed;
      effects.push(signal);
      s = {
        ...s,
        counts: {
          ...s.counts,
          signals: s.counts.signals + 1,
          suppressed: s.counts.suppressed + (suppressed === null ? 0 : 1),
          orders: s.counts.orders + (request ? 1 : 0),
        },
      };
      if (request) {
        const clientOrderId = String(request.client_order_id);
        effects.push({
          type: "order",
          symbol: intent.symbol,
          reason: intent.reason,
          intent: intent.kind,
          request,
        });
        s = {
          ...s,
          orderSeq: s.orderSeq + 1,
          books: {
            ...s.books,
            [intent.symbol]: {
              ...book,
              pending: { clientOrderId, kind: intent.kind },
              lastOrderMs: decisionMs,
            },
          },
        };
      }
    }
    return s;
  }

  function occupied(state: BotState): number {
    let n = 0;
    for (const book of Object.values(state.books)) {
      const entering = book.pending?.kind === "enter_long" || book.pending?.kind === "enter_short";
      if (!dec(book.position).isZero() || entering) n++;
    }
    return n;
  }

  function isWarm(keys: readonly string[], indicators: BarUpdate["indicators"]): boolean {
    return keys.every((key) => indicators[key] !== null && indicators[key] !== undefined);
  }

  function atrOf(config: BotConfig, update: BarUpdate): Record<number, number | null> {
    const atr: Record<number, number | null> = {};
    for (const spec of atrSpecs(config)) {
      const value = update.indicators[indicatorKey(spec)];
      atr[(spec.params as { period: number }).period] = typeof value === "number" ? value : null;
    }
    return atr;
  }

  /** The strategy learns from history, trading nothing; then the live bars held meanwhile run. */
  function onWarmup(
    state: BotState,
    msg: Extract<BotMsg, { type: "warmup" }>,
  ): Transition<BotState, BotEffect> {
    const instance = state.instances[msg.symbol];
    const book = state.books[msg.symbol];
    if (!instance || !book) return { state };
    const def = registry.get(state.config.strategy);
    const firstHeldMs = book.held.length > 0 ? Date.parse(book.held[0]!.bar.t) : Infinity;
    let next = { ...book, awaitingWarmup: false, held: [] as BarUpdate[] };
    let current = instance;
    let replayed = 0;
    for (const update of msg.updates) {
      if (update.timeframe !== state.config.timeframe || update.symbol !== msg.symbol) continue;
      const ms = Date.parse(update.bar.t);
      if (ms >= firstHeldMs) break;
      if (next.lastBarT !== null && ms <= Date.parse(next.lastBarT)) continue;
      current = warmBar(def, current, update.bar, update.indicators);
      next = {
        ...next,
        lastBarT: update.bar.t,
        lastClose: update.bar.c,
        atr: atrOf(state.config, update),
        warm: isWarm(state.keys, update.indicators),
      };
      replayed++;
    }
    let s: BotState = {
      ...state,
      instances: { ...state.instances, [msg.symbol]: current },
      books: { ...state.books, [msg.symbol]: next },
      warmupBars: state.warmupBars + replayed,
    };
    const effects: BotEffect[] = [];
    for (const update of book.held) {
      const t = onBar(s, update);
      s = t.state;
      if (t.effects) effects.push(...t.effects);
    }
    return effects.length ? { state: s, effects } : { state: s };
  }

  function onBar(state: BotState, update: BarUpdate): Transition<BotState, BotEffect> {
    const config = state.config;
    const instance = state.instances[update.symbol];
    const book = state.books[update.symbol];
    if (update.timeframe !== config.timeframe || !instance || !book) return { state };
    if (book.awaitingWarmup) {
      const held = [...book.held, update].slice(-MAX_HELD);
      return { state: { ...state, books: { ...state.books, [update.symbol]: { ...book, held } } } };
    }
    // A repeated or older bar (e.g. after a restart) is not run twice.
    if (book.lastBarT !== null && Date.parse(update.bar.t) <= Date.parse(book.lastBarT)) {
      return { state };
    }
    const def = registry.get(config.strategy);
    const step = stepBar(def, instance, update.bar, update.indicators);
    const atr = atrOf(config, update);
    let s: BotState = {
      ...state,
      instances: { ...state.instances, [update.symbol]: step.instance },
      books: {
        ...state.books,
        [update.symbol]: {
          ...book,
          lastBarT: update.bar.t,
          lastClose: update.bar.c,
          atr,
          warm: isWarm(state.keys, update.indicators),
        },
      },
      counts: { ...state.counts, bars: state.counts.bars + 1 },
    };
    const effects: BotEffect[] = [];
    const dayOnly = config.timeframe === "1Day";
    const decisionMs = Date.parse(update.bar.t) + (dayOnly ? 0 : timeframeMs(config.timeframe));
    s = handleIntents(s, step.intents, decisionMs, dayOnly, effects);
    return effects.length ? { state: s, effects } : { state: s };
  }

  function onFill(state: BotState, msg: OrderFilledMsg): Transition<BotState, BotEffect> {
    const book = state.books[msg.symbol];
    const instance = state.instances[msg.symbol];
    if (!book || !instance) return { state };
    const loss = msg.realizedPnl !== undefined && dec(msg.realizedPnl).isNegative();
    const pendingDone = !msg.partial &&
      (msg.clientOrderId === undefined || msg.clientOrderId === book.pending?.clientOrderId);
    const nextBook: SymbolBook = {
      ...book,
      position: dec(msg.positionQty).toString(),
      pending: pendingDone ? null : book.pending,
      cooldownUntilMs: loss && state.config.cooldown_after_loss > 0
        ? msg.ts + state.config.cooldown_after_loss
        : book.cooldownUntilMs,
    };
    const def = registry.get(state.config.strategy);
    const step = stepFill(def, instance, {
      symbol: msg.symbol,
      side: msg.side,
      qty: msg.qty,
      price: msg.price,
      positionQty: msg.positionQty,
      ts: msg.ts,
      ...(msg.clientOrderId ? { clientOrderId: msg.clientOrderId } : {}),
    });
    let s: BotState = {
      ...state,
      instances: { ...state.instances, [msg.symbol]: step.instance },
      books: { ...state.books, [msg.symbol]: nextBook },
    };
    const effects: BotEffect[] = [];
    s = handleIntents(s, step.intents, msg.ts, false, effects);
    return effects.length ? { state: s, effects } : { state: s };
  }

  function status(state: BotState): BotStatus {
    const positions: Record<string, string> = {};
    const pending: Record<string, string> = {};
    for (const [symbol, book] of Object.entries(state.books)) {
      positions[symbol] = book.position;
      if (book.pending) pending[symbol] = book.pending.clientOrderId;
    }
    return {
      name: state.config.name,
      strategy: state.config.strategy,
      paused: state.paused,
      marketOpen: state.marketOpen,
      equity: state.equity,
      positions,
      pending,
      counts: state.counts,
      warm: Object.values(state.books).every((book) => book.warm),
      warmupBars: state.warmupBars,
    };
  }

  return {
    init(args) {
      const config = options.parseConfig
        ? options.parseConfig(args.config)
        : args.config as BotConfig;
      const def = registry.get(config.strategy);
      const instances: Record<string, StrategyInstance> = {};
      const books: Record<string, SymbolBook> = {};
      for (const symbol of config.symbols) {
        instances[symbol] = startInstance(def, { symbol, params: config.params });
        books[symbol] = {
          position: dec(args.positions?.[symbol] ?? "0").toString(),
          pending: null,
          lastOrderMs: null,
          cooldownUntilMs: null,
          lastBarT: null,
          lastClose: null,
          atr: {},
          warm: false,
          awaitingWarmup: args.warmup ?? false,
          held: [],
        };
      }
      return {
        config,
        keys: [...new Set(botIndicatorSpecs(config, registry).map(indicatorKey))],
        instances,
        books,
        equity: args.equity ?? null,
        paused: args.paused ?? false,
        marketOpen: args.marketOpen ?? true,
        orderSeq: 0,
        counts: { bars: 0, signals: 0, orders: 0, suppressed: 0 },
        warmupBars: 0,
      };
    },
    start(state) {
      const specs = botIndicatorSpecs(state.config, registry);
      return {
        state,
        effects: state.config.symbols.map((symbol) => ({
          type: "subscribe" as const,
          symbol,
          timeframe: state.config.timeframe,
          specs,
        })),
      };
    },
    receive(state, msg) {
      switch (msg.type) {
        case "batch": {
          if (msg.batch.kind !== "rows") return { state };
          let s = state;
          const effects: BotEffect[] = [];
          for (const update of msg.batch.rows) {
            const t = onBar(s, update);
            s = t.state;
            if (t.effects) effects.push(...t.effects);
          }
          return effects.length ? { state: s, effects } : { state: s };
        }
        case "bar":
          return onBar(state, msg.update);
        case "warmup":
          return onWarmup(state, msg);
        case "order_filled":
          return onFill(state, msg);
        case "book": {
          const book = state.books[msg.symbol];
          if (!book) return { state };
          const position = dec(msg.positionQty).toString();
          return {
            state: { ...state, books: { ...state.books, [msg.symbol]: { ...book, position } } },
          };
        }
        case "order_closed": {
          const book = state.books[msg.symbol];
          if (!book || book.pending?.clientOrderId !== msg.clientOrderId) return { state };
          return {
            state: {
              ...state,
              books: { ...state.books, [msg.symbol]: { ...book, pending: null } },
            },
          };
        }
        case "account":
          return { state: { ...state, equity: dec(msg.equity).toString() } };
        case "market":
          return { state: { ...state, marketOpen: msg.open } };
        case "pause":
          return { state: { ...state, paused: true }, reply: { paused: true } };
        case "resume":
          return { state: { ...state, paused: false }, reply: { paused: false } };
        case "status":
          return { state, reply: status(state) };
        default:
          throw new Error(
            `Cannot handle bot message of type "${(msg as { type?: unknown }).type}"`,
          );
      }
    },
  };
}

/**
 * The bot behaviour with the built-in strategies' logic (the export a Worker loads): `init` takes
 * a config already parsed by `parseBotConfig`.
 */
export const botBehaviour: ActorBehaviour<BotState, BotMsg, BotEffect, BotArgs> =
  createBotBehaviour();
