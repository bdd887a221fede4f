/**
 * {@link RestPoller}: live market data by polling Alpaca's REST "latest" endpoints, for an
 * engine without the market-data stream (brokers/alpaca/market_stream.ts is the real thing;
 * the venue uses this only when no stream is injected). One multi-symbol request per channel
 * per round (latest trades and quotes every `everyMs`, latest bars every `barsEveryMs`), so
 * its cost in the engine's 200-a-minute budget does not grow with the number of symbols.
 * An event is emitted only when its timestamp moved, so a listener sees each print once.
 *
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import type { MarketData, Unsubscribe } from "../broker.ts";
import type { Bar, MarketEvent, MarketSubscription, Quote, Trade } from "../../core/market.ts";

/** Options of {@link RestPoller}. */
export interface RestPollerOptions {
  clock: Clock;
  /** Trades and quotes every this many ms; default 5000. */
  everyMs?: number;
  /** Bars every this many ms; default 15000 (a minute bar is final about then). */
  barsEveryMs?: number;
  /** Told of a failed round (the next round tries again). */
  onError?: (error: unknown) => void;
}

interface Listener {
  sub: MarketSubscription;
  fn: (events: MarketEvent[]) => void;
}

const wants = (list: string[] | undefined, symbol: string) =>
  !!list && (list.includes("*") || list.includes(symbol));

/** Polls latest trades, quotes and bars for what listeners subscribed to. */
export class RestPoller {
  readonly #rest: Pick<MarketData, "latestTrades" | "latestQuotes"> & {
    latestBars(symbols: string[]): Promise<Record<string, Bar>>;
  };
  readonly #opts: RestPollerOptions;
  readonly #listeners = new Set<Listener>();
  readonly #seen = new Map<string, string>();
  #stops: (() => void)[] = [];

  constructor(
    rest: Pick<MarketData, "latestTrades" | "latestQuotes"> & {
      latestBars(symbols: string[]): Promise<Record<string, Bar>>;
    },
    options: RestPollerOptions,
  ) {
    this.#rest = rest;
    this.#opts = options;
  }

  /** Subscribes; polling runs while anyone listens. `*` polls nothing (no symbol list). */
  subscribe(sub: MarketSubscription, fn: (events: MarketEvent[]) => void): Unsubscribe {
    const listener = { sub, fn };
    this.#listeners.add(listener);
    if (this.#stops.length === 0) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  #symbols(channel: keyof MarketSubscription): string[] {
    const out = new Set<string>();
    for (const l of this.#listeners) {
      for (const s of l.sub[channel] ?? []) if (s !== "*") out.add(s.toUpperCase());
    }
    return [...out].sort();
  }

  #start(): void {
    const { clock } = this.#opts;
    const round = (fn: () => Promise<void>) => () => {
      fn().catch((e) => this.#opts.onError?.(e));
    };
    this.#stops = [
      clock.setRepeating(round(() => this.pollTicks()), this.#opts.everyMs ?? 5_000),
      clock.setRepeating(round(() => this.pollBars()), this.#opts.barsEveryMs ?? 15_000),
    ];
  }

  #stop(): void {
    for (const stop of this.#stops) stop();
    this.#stops = [];
  }

  #fresh(key: string, t: string): boolean {
    if (this.#seen.get(key) === t) return false;
    this.#seen.set(key, t);
    return true;
  }

  #emit(events: MarketEvent[]): void {
    if (events.length === 0) return;
    for (const l of [...this.#listeners]) {
      const mine = events.filter((e) =>
        wants(
          e.type === "trade" ? l.sub.trades : e.type === "quote" ? l.sub.quotes : l.sub.bars,
          e.symbol,
        )
      );
      if (mine.length > 0) l.fn(mine);
    }
  }

  /** One round of latest trades and quotes (also run by the timer). */
  async pollTicks(): Promise<void> {
    const trades = this.#symbols("trades");
    const quotes = this.#symbols("quotes");
    const [t, q] = await Promise.all([
      trades.length
        ? this.#rest.latestTrades(trades)
        : Promise.resolve({} as Record<string, Trade>),
      quotes.length
        ? this.#rest.latestQuotes(quotes)
        : Promise.resolve({} as Record<string, Quote>),
    ]);
    const events: MarketEvent[] = [];
    for (const [symbol, trade] of Object.entries(t)) {
      if (this.#fresh(`t:${symbol}`, trade.t)) events.push({ type: "trade", symbol, trade });
    }
    for (const [symbol, quote] of Object.entries(q)) {
      if (this.#fresh(`q:${symbol}`, quote.t)) events.push({ type: "quote", symbol, quote });
    }
    this.#emit(events);
  }

  /** One round of latest minute bars (also run by the timer). */
  async pollBars(): Promise<void> {
    const symbols = this.#symbols("bars");
    if (symbols.length === 0) return;
    const bars = await this.#rest.latestBars(symbols);
    const events: MarketEvent[] = [];
    for (const [symbol, bar] of Object.entries(bars)) {
      if (this.#fresh(`b:${symbol}`, bar.t)) events.push({ type: "bar", symbol, bar });
    }
    this.#emit(events);
  }
}
