/**
 * The market's value types, shared by every layer: instruments ({@link Asset}), market data
 * ({@link Bar}, {@link Trade}, {@link Quote}, {@link Snapshot}), the one live
 * {@link MarketEvent}, the trading {@link Session} and the venue's {@link MarketClock}.
 *
 * Field names follow Alpaca's APIs (see shared ALPACA.md). Market data uses plain numbers, as
 * Alpaca's market-data API does; money in the trading types is exact (core/account.ts). Plain
 * data, no I/O: the ports that produce these (`Broker`, `MarketData`, `Venue`) live in
 * brokers/broker.ts.
 *
 * @module
 */

/** A tradable instrument, with Alpaca's asset fields (plus `sector`, Tradewind's own). */
export interface Asset {
  id: string;
  class: "us_equity";
  exchange: string;
  symbol: string;
  name: string;
  status: "active" | "inactive";
  tradable: boolean;
  marginable: boolean;
  shortable: boolean;
  easy_to_borrow: boolean;
  fractionable: boolean;
  /** Not an Alpaca field: the asset's sector, for concentration limits. */
  sector: string;
  attributes: string[];
}

/**
 * Which US equity session an instant falls in (ET): pre 04:00–09:30, core 09:30–16:00 (13:00
 * on early closes), post until 20:00; `"closed"` covers nights, weekends and holidays.
 */
export type Session = "pre" | "core" | "post" | "closed";

/** The venue's clock: the answer of Alpaca's `GET /v2/clock`, field for field. */
export interface MarketClock {
  /** The instant asked about, RFC 3339 with the ET offset. */
  timestamp: string;
  /** True only during the core session. */
  is_open: boolean;
  /** The next core open strictly after the instant. */
  next_open: string;
  /** The next core close strictly after the instant. */
  next_close: string;
}

/** A bar, as Alpaca's market-data API (`t` RFC-3339, left-labelled). */
export interface Bar {
  t: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
  vw: number;
}

/** A trade print. */
export interface Trade {
  t: string;
  x: string;
  p: number;
  s: number;
  c: string[];
  i: number;
  z: string;
}

/** A quote (NBBO). */
export interface Quote {
  t: string;
  bx: string;
  bp: number;
  bs: number;
  ax: string;
  ap: number;
  as: number;
  c: string[];
  z: string;
}

/** A snapshot (note Alpaca's camelCase keys here). */
export interface Snapshot {
  latestTrade: Trade | null;
  latestQuote: Quote | null;
  minuteBar: Bar | null;
  dailyBar: Bar | null;
  prevDailyBar: Bar | null;
}

/** Bar timeframes Tradewind serves. */
export type Timeframe = "1Min" | "5Min" | "15Min" | "1Hour" | "1Day";

/** A bars query. Times are epoch ms, inclusive. */
export interface BarsQuery {
  timeframe: Timeframe;
  start?: number;
  end?: number;
  /** 1 to 10000; default 1000. */
  limit?: number;
  pageToken?: string;
  sort?: "asc" | "desc";
}

/** A page of bars. */
export interface BarsPage {
  bars: Bar[];
  next_page_token: string | null;
}

/** One item of live market data: a trade print, a quote, or a closed minute bar. */
export type MarketEvent =
  | { type: "trade"; symbol: string; trade: Trade }
  | { type: "quote"; symbol: string; quote: Quote }
  | { type: "bar"; symbol: string; bar: Bar };

/**
 * A {@link MarketEvent} stamped with the instant that orders a generated or replayed stream
 * (epoch ms): a quote at its tick's start, a trade at its print time, a minute bar at the end
 * of its minute (its `bar.t` is the minute's start).
 */
export type TimedMarketEvent = MarketEvent & { tsMs: number };

/** Live subscription channels, by symbol (`*` for all). */
export interface MarketSubscription {
  trades?: string[];
  quotes?: string[];
  bars?: string[];
}
